package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// leakCase is one way for envinit to fail before the exec. setup seeds
// the store (values carry canaries: newCanary, or "{C}" in kv) and returns
// envinit's environment and arguments.
type leakCase struct {
	name string
	code int
	kv   map[string]string // seeded under the prefix; "{C}" becomes a canary
	// setup, when set, adjusts the environment and arguments; default:
	// f.env("api") and f.probe().
	setup func(t *testing.T, f *fixture) (env, args []string)
	// signal, when set, is sent once envinit has connected to a store
	// that never answers.
	signal syscall.Signal
}

// leakCases are the README's Failing closed's failures and every other exit before the exec:
// one or more per exit code. Every case also seeds a sensitive and a plain
// canary (see runLeakCase), and most put a canary right where the failure
// is, so an error that quoted the value it failed on would show it.
func leakCases() []leakCase {
	proxied := func(fault func(string, int) fault, timeout string) func(t *testing.T, f *fixture) ([]string, []string) {
		return func(t *testing.T, f *fixture) ([]string, []string) {
			p := startProxy(t, f.e.URL, proxyOptions{Fault: fault})
			return withEnv(f.env("api", "ENVINIT_TIMEOUT="+timeout), awsEnvFor(p.URL())...), f.probe()
		}
	}
	always := func(x fault) func(string, int) fault { return func(string, int) fault { return x } }
	withVars := func(vars ...string) func(t *testing.T, f *fixture) ([]string, []string) {
		return func(t *testing.T, f *fixture) ([]string, []string) {
			set := make([]string, len(vars))
			for i, v := range vars {
				set[i] = strings.ReplaceAll(v, "{C}", newCanary(t.Name()+": "+v))
				f.seeded = append(f.seeded, set[i])
			}
			return f.env("api", set...), f.probe()
		}
	}
	return []leakCase{
		// 65: data errors, each with the canary next to the fault.
		{name: "unterminated reference", code: 65, kv: map[string]string{"services/api/V": "{C}#{$/G{C}"}},
		{name: "unterminated at the end", code: 65, kv: map[string]string{"services/api/V": "{C}#{"}},
		{name: "empty reference", code: 65, kv: map[string]string{"services/api/V": "{C}#{}{C}"}},
		{name: "reference without $", code: 65, kv: map[string]string{"services/api/V": "#{{C}}"}},
		{name: "reference without a key", code: 65, kv: map[string]string{"services/api/V": "#{$G{C}}"}},
		{name: "bad alias in a reference", code: 65, kv: map[string]string{"services/api/V": "#{$b@d{C}/K}"}},
		{name: "bad key in a reference", code: 65, kv: map[string]string{"services/api/V": "#{$/K-{C}}"}},
		{name: "malformed in a global", code: 65, kv: map[string]string{"global/G": "{C}#{$", "services/api/V": "#{$/G}"}},
		{name: "missing global", code: 65, kv: map[string]string{"services/api/V": "{C}#{$/NOPE}"}},
		{name: "missing key of another service", code: 65, kv: map[string]string{"services/other/X": "{C}", "services/api/V": "{C}#{$other/NOPE}"}},
		{name: "reference to a service with no secrets", code: 65, kv: map[string]string{"services/api/V": "{C}#{$ghost/K}"}},
		{name: "service with no secrets", code: 65, setup: func(t *testing.T, f *fixture) ([]string, []string) {
			return f.env("nosuch"), f.probe()
		}},
		{name: "import of a service with no secrets", code: 65, kv: map[string]string{"services/api/__import_svc": "$ghost"}},
		{name: "reference cycle", code: 65, kv: map[string]string{"services/api/A": "{C}#{$api/B}", "services/api/B": "{C}#{$/G}", "global/G": "{C}#{$api/A}"}},
		{name: "import cycle", code: 65, kv: map[string]string{"services/api/__import_svc": "$cyc", "services/cyc/__import_svc": "$api", "services/cyc/C": "{C}"}},
		{name: "invalid key", code: 65, kv: map[string]string{"services/api/BAD-KEY": "{C}"}},
		{name: "unknown special key", code: 65, kv: map[string]string{"services/api/__secret": "{C}"}},
		{name: "__sensitive names a missing key", code: 65, kv: map[string]string{"services/api/__sensitive": "TOKEN,NOPE"}},
		{name: "LD_PRELOAD", code: 65, kv: map[string]string{"services/api/LD_PRELOAD": "/tmp/{C}.so"}},
		{name: "ENVINIT_ key", code: 65, kv: map[string]string{"services/api/ENVINIT_USER": "{C}"}},
		{name: "GLIBC_TUNABLES", code: 65, kv: map[string]string{"services/api/GLIBC_TUNABLES": "glibc.{C}=1"}},
		{name: "BASH_ENV", code: 65, kv: map[string]string{"services/api/BASH_ENV": "/tmp/{C}"}},
		{name: "exported shell function", code: 65, kv: map[string]string{"services/api/F": "() { {C}; }"}},
		{name: "NUL byte", code: 65, kv: map[string]string{"services/api/N": "{C}\x00{C}"}},
		{name: "expansion over 128 KiB", code: 65, kv: bombKV(12)},
		{name: "sensitive key named ENVINIT", code: 65, kv: map[string]string{"services/api/__sensitive": "TOKEN,ENVINIT", "services/api/ENVINIT": "{C}"}},
		{name: "sensitive KEY with a KEY_FILE secret", code: 65, kv: map[string]string{"services/api/TOKEN_FILE": "/x/{C}"}},
		{name: "container variable with a bad reference", code: 65, setup: withVars("DB_PASSWORD={C}#{x{C}")},
		{name: "container variable with a missing reference", code: 65, setup: withVars("DB_URL=pg://{C}@#{$/NOPE}")},
		{name: "several errors at once", code: 65, kv: map[string]string{"services/api/A": "{C}#{", "services/api/B": "{C}#{$/NOPE}", "services/api/LD_AUDIT": "{C}"}},

		// 69: the store unavailable.
		{name: "store unreachable", code: 69, setup: func(t *testing.T, f *fixture) ([]string, []string) {
			return withEnv(f.env("api", "ENVINIT_TIMEOUT=2s"), awsEnvFor("http://"+closedAddr(t))...), f.probe()
		}},
		{name: "store hangs", code: 69, setup: proxied(always(faultHang), "2s")},
		{name: "store answers 5xx", code: 69, setup: proxied(always(fault500), "2s")},
		{name: "store resets", code: 69, setup: proxied(always(faultReset), "2s")},
		{name: "store repeats a token", code: 69, setup: proxied(func(op string, _ int) fault {
			if op == "GetParametersByPath" {
				return faultRepeatToken
			}
			return faultNone
		}, "10s")},
		{name: "5xx on the globals after the pages", code: 69, kv: map[string]string{"services/api/V": "{C}#{$/G}", "global/G": "{C}"},
			setup: proxied(func(op string, _ int) fault {
				if op == "GetParameters" {
					return fault500
				}
				return faultNone
			}, "2s")},
		{name: "credentials endpoint fails", code: 69, setup: func(t *testing.T, f *fixture) ([]string, []string) {
			ep := startCredsEndpoint(t, func(w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
				w.WriteHeader(http.StatusInternalServerError)
			})
			return credsEnv(f, ep.URL), f.probe()
		}},

		// 73: nowhere safe for the files.
		{name: "secrets dir on disk", code: 73, setup: func(t *testing.T, f *fixture) ([]string, []string) {
			return f.env("api", "ENVINIT_SECRETS_DIR="+t.TempDir()), f.probe()
		}},
		{name: "secrets dir is a symlink", code: 73, setup: func(t *testing.T, f *fixture) ([]string, []string) {
			link := filepath.Join(shmDir(t), "link")
			if err := os.Symlink(f.secrets, link); err != nil {
				t.Fatal(err)
			}
			return f.env("api", "ENVINIT_SECRETS_DIR="+link), f.probe()
		}},
		{name: "secrets dir owned by another user", code: 73, setup: func(t *testing.T, f *fixture) ([]string, []string) {
			if os.Geteuid() != 0 {
				t.Skip("needs root to chown")
			}
			if err := os.Chown(f.secrets, 12345, 12345); err != nil {
				t.Fatal(err)
			}
			return f.env("api"), f.probe()
		}},
		{name: "a directory where the file goes", code: 73, setup: func(t *testing.T, f *fixture) ([]string, []string) {
			if err := os.MkdirAll(filepath.Join(f.secrets, "TOKEN", "inside"), 0o700); err != nil {
				t.Fatal(err)
			}
			return f.env("api"), f.probe()
		}},

		// 75, 77: throttled, denied.
		{name: "throttled to the deadline", code: 75, setup: proxied(always(faultThrottle), "2s")},
		{name: "access denied", code: 77, setup: proxied(always(faultAccessDenied), "10s")},
		{name: "kms:Decrypt denied", code: 77, setup: proxied(always(faultKMSDenied), "10s")},

		// 78: configuration. envconfig's own error would quote the value.
		{name: "ENVINIT_TIMEOUT is a secret", code: 78, setup: withVars("ENVINIT_TIMEOUT={C}")},
		{name: "ENVINIT_OVERRIDE is a secret", code: 78, setup: withVars("ENVINIT_OVERRIDE={C}")},
		{name: "ENVINIT_LOG is a secret", code: 78, setup: withVars("ENVINIT_LOG={C}")},
		{name: "ENVINIT_STORE is a secret", code: 78, setup: withVars("ENVINIT_STORE={C}")},
		{name: "ENVINIT_SERVICE is a secret", code: 78, setup: withVars("ENVINIT_SERVICE=${C}!")},
		{name: "ENVINIT_PREFIX is a secret", code: 78, setup: withVars("ENVINIT_PREFIX={C}")},
		{name: "ENVINIT_SECRETS_DIR is a secret", code: 78, setup: withVars("ENVINIT_SECRETS_DIR={C}")},
		{name: "no region", code: 78, setup: func(t *testing.T, f *fixture) ([]string, []string) {
			return withEnv(f.env("api"), "AWS_REGION"), f.probe()
		}},

		// 64: the command line.
		{name: "no --", code: 64, setup: func(t *testing.T, f *fixture) ([]string, []string) {
			return f.env("api"), []string{probeBin, "report", newCanary(t.Name() + ": argv")}
		}},

		// 126, 127: COMMAND cannot run. Its arguments, and the PATH it was
		// looked up in, may come from the store.
		{name: "command not found in the store's PATH", code: 127, kv: map[string]string{"services/api/PATH": "/nonexistent/{C}"},
			setup: func(t *testing.T, f *fixture) ([]string, []string) {
				return f.env("api"), []string{"--", "no-such-command-" + randHex(4), newCanary(t.Name() + ": argv")}
			}},
		{name: "command not executable", code: 126, setup: func(t *testing.T, f *fixture) ([]string, []string) {
			script := filepath.Join(t.TempDir(), "not-exec")
			if err := os.WriteFile(script, []byte("#!/bin/sh\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			return f.env("api"), []string{"--", script, newCanary(t.Name() + ": argv")}
		}},

		// 143, 130: interrupted while waiting for the store.
		{name: "SIGTERM while fetching", code: 143, signal: syscall.SIGTERM},
		{name: "SIGINT while fetching", code: 130, signal: syscall.SIGINT},
	}
}

// bombKV is a reference bomb of the given depth: each level doubles the one
// below, a canary at the bottom.
func bombKV(depth int) map[string]string {
	kv := map[string]string{
		"global/B00":     strings.Repeat("{C}", 16),
		"services/api/V": "#{$/B" + twoDigits(depth) + "}",
	}
	for i := 1; i <= depth; i++ {
		kv["global/B"+twoDigits(i)] = "#{$/B" + twoDigits(i-1) + "}#{$/B" + twoDigits(i-1) + "}"
	}
	return kv
}

func twoDigits(i int) string { return string([]byte{byte('0' + i/10), byte('0' + i%10)}) }

// Every way envinit fails before the exec, at ENVINIT_LOG=info and debug:
// the exit code is the one the README's Exit codes gives, COMMAND did not start, and not
// one seeded value, not even a fragment of one, reached stdout or stderr.
func TestLeakFailurePaths(t *testing.T) {
	t.Parallel()
	for _, tc := range leakCases() {
		for _, level := range []string{"info", "debug"} {
			t.Run(tc.name+"/"+level, func(t *testing.T) {
				t.Parallel()
				runLeakCase(t, tc, level)
			})
		}
	}
}

func runLeakCase(t *testing.T, tc leakCase, level string) {
	f := newFixture(t)
	kv := map[string]string{
		"services/api/__sensitive": "TOKEN",
		"services/api/TOKEN":       "tok-" + newCanary("api/TOKEN"),
		"services/api/PLAIN":       "plain-" + newCanary("api/PLAIN"),
		"global/GLOBAL":            newCanary("global/GLOBAL"),
	}
	for k, v := range tc.kv {
		for strings.Contains(v, "{C}") {
			v = strings.Replace(v, "{C}", newCanary(tc.name+": "+k), 1)
		}
		kv[k] = v
	}
	f.seed(t, kv)

	env, args := f.env("api"), f.probe()
	var r result
	switch {
	case tc.signal != 0:
		url, accepted := blackhole(t)
		env = withEnv(f.env("api", "ENVINIT_TIMEOUT=50s"), awsEnvFor(url)...)
		run := startEnvinit(t, withEnv(env, "ENVINIT_LOG="+level), args...)
		select {
		case <-accepted:
		case <-time.After(30 * time.Second):
			t.Error("envinit did not connect to the store within 30s")
		}
		time.Sleep(200 * time.Millisecond)
		run.signal(t, tc.signal)
		r = run.wait(t)
	default:
		if tc.setup != nil {
			env, args = tc.setup(t, f)
		}
		// A level set by the case (ENVINIT_LOG={C}) stays.
		if !strings.Contains(strings.Join(env, "\n"), "ENVINIT_LOG=") {
			env = withEnv(env, "ENVINIT_LOG="+level)
		}
		r = runEnvinit(t, env, args...)
	}
	assertCode(t, r, tc.code)
	assertNoLeak(t, r, f.canaries()...)
	assertNoFragment(t, r, f.canaries()...)
	assertNotStarted(t, f.marker)
	if r.Code != 64 && !strings.Contains(r.Stderr, "envinit: ") {
		t.Errorf("stderr: got %q; want envinit's error line", redact(r.Stderr))
	}
}

// assertNoFragment fails if 8 or more consecutive characters of a canary's
// random part appear on stdout or stderr: a value cut short or quoted in
// part is still a leak.
func assertNoFragment(t *testing.T, r result, canaries ...string) {
	t.Helper()
	const window = 8
	for _, c := range canaries {
		hexPart := strings.TrimPrefix(c, "CANARY-")
		for i := 0; i+window <= len(hexPart); i++ {
			frag := hexPart[i : i+window]
			for stream, out := range map[string]string{"stdout": r.Stdout, "stderr": r.Stderr} {
				if strings.Contains(out, frag) {
					t.Errorf("%s holds part of the secret value labelled %q; want none of it", stream, canaryLabel(c))
					return
				}
			}
		}
	}
}

// A successful run at ENVINIT_LOG=debug, with every kind of value
// (sensitive, imported, a global, a container variable that references a
// sensitive value, an escape): envinit itself prints no value. COMMAND
// prints nothing here, so stdout must stay empty too.
func TestLeakSuccessAtDebug(t *testing.T) {
	t.Parallel()
	truePath := "/bin/true"
	if _, err := os.Stat(truePath); err != nil {
		t.Skipf("no %s: %v", truePath, err)
	}
	for _, level := range []string{"info", "debug"} {
		t.Run(level, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.seed(t, map[string]string{
				"global/__sensitive":        "G_PASS",
				"global/G_PASS":             newCanary("global/G_PASS"),
				"global/G_HOST":             newCanary("global/G_HOST"),
				"services/base/__sensitive": "B_KEY",
				"services/base/B_KEY":       newCanary("base/B_KEY"),
				"services/base/B_PLAIN":     newCanary("base/B_PLAIN"),
				"services/api/__import_svc": "$base",
				"services/api/__sensitive":  "TOKEN",
				"services/api/TOKEN":        newCanary("api/TOKEN"),
				"services/api/PLAIN":        newCanary("api/PLAIN"),
				"services/api/DSN":          "pg://u:#{$/G_PASS}@#{$/G_HOST}/" + newCanary("api/DSN"),
				"services/api/ESCAPED":      "##{" + newCanary("api/ESCAPED") + "}",
				"services/api/PATH":         "/usr/bin:/bin",
			})
			pw := newCanary("container DB_PASSWORD")
			f.seeded = append(f.seeded, pw)
			env := f.env("api", "ENVINIT_LOG="+level, "FROM_ENV=#{$/G_HOST}", "AUTH=Bearer #{$api/TOKEN}", "DB_PASSWORD="+pw)
			r := runEnvinit(t, env, "--", truePath)
			assertCode(t, r, 0)
			assertNoLeak(t, r, f.canaries()...)
			assertNoFragment(t, r, f.canaries()...)
			if r.Stdout != "" {
				t.Errorf("stdout: got %q; want nothing (COMMAND printed nothing)", redact(r.Stdout))
			}
			lines := strings.Count(r.Stderr, "\n")
			if level == "debug" && lines < 5 {
				t.Errorf("stderr at debug: got %d lines; want one per secret", lines)
			}
			if level == "info" && lines != 1 {
				t.Errorf("stderr at info: got %d lines; want 1\n%s", lines, redact(r.Stderr))
			}
		})
	}
}

// A flag's parse error must not quote its value either: the flag package's
// own message does ("invalid value %q for flag"), and a value can be
// pasted into the wrong flag.
func TestLeakFlagParseError(t *testing.T) {
	t.Parallel()
	for _, flagName := range []string{"timeout", "override"} {
		t.Run(flagName, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.seed(t, map[string]string{"services/api/K": "v"})
			c := newCanary("--" + flagName + " value")
			r := runEnvinit(t, f.env("api"), append([]string{"--" + flagName + "=" + c}, f.probe()...)...)
			assertCode(t, r, 64)
			assertNoLeak(t, r, c)
			assertNotStarted(t, f.marker)
		})
	}
}
