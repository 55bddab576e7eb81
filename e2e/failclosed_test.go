package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Every data error of the README's Failing closed exits 65 before COMMAND starts, writes no
// file, names what is wrong and holds no value. Each case also seeds a
// sensitive key, so a run that failed open would leave a file behind.
func TestDataErrorsFailClosed(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		service string            // default "api"
		kv      map[string]string // seeded under the prefix, with the canaries below
		mention []string          // stderr must name each
	}{
		// Malformed references.
		{name: "unterminated", kv: map[string]string{"services/api/REF_VALUE": "{C}#{$/G"}, mention: []string{"REF_VALUE"}},
		{name: "unterminated at end", kv: map[string]string{"services/api/REF_VALUE": "{C}#{"}, mention: []string{"REF_VALUE"}},
		{name: "empty", kv: map[string]string{"services/api/REF_VALUE": "{C}#{}"}, mention: []string{"REF_VALUE"}},
		{name: "no dollar global", kv: map[string]string{"services/api/REF_VALUE": "{C}#{/G}"}, mention: []string{"REF_VALUE"}},
		{name: "no dollar bare key", kv: map[string]string{"services/api/REF_VALUE": "{C}#{G}"}, mention: []string{"REF_VALUE"}},
		{name: "no slash", kv: map[string]string{"services/api/REF_VALUE": "{C}#{$G}"}, mention: []string{"REF_VALUE"}},
		{name: "bad alias char", kv: map[string]string{"services/api/REF_VALUE": "{C}#{$bad alias/K}"}, mention: []string{"REF_VALUE"}},
		{name: "bad alias start", kv: map[string]string{"services/api/REF_VALUE": "{C}#{$-bad/K}"}, mention: []string{"REF_VALUE"}},
		{name: "bad key start", kv: map[string]string{"services/api/REF_VALUE": "{C}#{$/1KEY}"}, mention: []string{"REF_VALUE"}},
		{name: "bad key char", kv: map[string]string{"services/api/REF_VALUE": "{C}#{$/KE-Y}"}, mention: []string{"REF_VALUE"}},
		{name: "empty key", kv: map[string]string{"services/api/REF_VALUE": "{C}#{$/}"}, mention: []string{"REF_VALUE"}},
		{name: "empty key of alias", kv: map[string]string{"services/api/REF_VALUE": "{C}#{$other/}"}, mention: []string{"REF_VALUE"}},
		{name: "malformed in a global", kv: map[string]string{"global/MAL_G": "{C}#{$/", "services/api/REF_VALUE": "#{$/MAL_G}"}, mention: []string{"MAL_G"}},
		{name: "malformed import list", kv: map[string]string{"services/base/B": "{C}", "services/api/__import_svc": "base"}, mention: []string{"__import_svc"}},

		// Missing keys and services.
		{name: "missing global", kv: map[string]string{"services/api/REF_VALUE": "{C}#{$/NOPE_G}"}, mention: []string{"NOPE_G"}},
		{name: "missing key of a service", kv: map[string]string{"services/other/X": "{C}", "services/api/REF_VALUE": "#{$other/NOPE_K}"}, mention: []string{"other", "NOPE_K"}},
		{name: "missing key of the service itself", kv: map[string]string{"services/api/REF_VALUE": "#{$api/NOPE_K}"}, mention: []string{"NOPE_K"}},
		{name: "reference to a service with no secrets", kv: map[string]string{"services/api/REF_VALUE": "{C}#{$ghost-svc/K}"}, mention: []string{"ghost-svc"}},
		{name: "the service has no secrets", service: "nosuch-svc", kv: map[string]string{"services/api/REF_VALUE": "{C}"}, mention: []string{"nosuch-svc"}},
		{name: "import of a service with no secrets", kv: map[string]string{"services/api/__import_svc": "$ghost-imp"}, mention: []string{"ghost-imp"}},
		{name: "transitive import of a service with no secrets", kv: map[string]string{"services/api/__import_svc": "$mid", "services/mid/__import_svc": "$ghost-deep", "services/mid/M": "{C}"}, mention: []string{"ghost-deep"}},

		// Cycles, with the chain.
		{name: "reference cycle", kv: map[string]string{"services/api/REF_A": "{C}#{$api/REF_B}", "services/api/REF_B": "#{$api/REF_A}"}, mention: []string{"cycle", "REF_A", "REF_B"}},
		{name: "self reference", kv: map[string]string{"services/api/SELF_R": "{C}#{$api/SELF_R}"}, mention: []string{"cycle", "SELF_R"}},
		{name: "reference cycle through globals", kv: map[string]string{"services/api/REF_VALUE": "#{$/GLOB_1}", "global/GLOB_1": "{C}#{$/GLOB_2}", "global/GLOB_2": "#{$/GLOB_1}"}, mention: []string{"cycle", "GLOB_1", "GLOB_2"}},
		{name: "reference cycle through services", kv: map[string]string{"services/api/REF_VALUE": "#{$svc-x/X_KEY}", "services/svc-x/X_KEY": "{C}#{$svc-y/Y_KEY}", "services/svc-y/Y_KEY": "#{$svc-x/X_KEY}"}, mention: []string{"cycle", "X_KEY", "Y_KEY"}},
		{name: "import cycle", kv: map[string]string{"services/api/__import_svc": "$cyc-a", "services/cyc-a/__import_svc": "$cyc-b", "services/cyc-a/A": "{C}", "services/cyc-b/__import_svc": "$cyc-a", "services/cyc-b/B": "b"}, mention: []string{"cycle", "cyc-a", "cyc-b"}},
		{name: "import of itself", kv: map[string]string{"services/api/__import_svc": "$api"}, mention: []string{"cycle", "api"}},

		// Invalid and forbidden keys, bad values.
		{name: "key starts with a digit", kv: map[string]string{"services/api/1BAD": "{C}"}, mention: []string{"1BAD"}},
		{name: "key with a dash", kv: map[string]string{"services/api/BAD-KEY": "{C}"}, mention: []string{"BAD-KEY"}},
		{name: "key with a dot", kv: map[string]string{"services/api/BAD.KEY": "{C}"}, mention: []string{"BAD.KEY"}},
		{name: "LD_PRELOAD", kv: map[string]string{"services/api/LD_PRELOAD": "/tmp/{C}.so"}, mention: []string{"LD_PRELOAD"}},
		{name: "LD_LIBRARY_PATH", kv: map[string]string{"services/api/LD_LIBRARY_PATH": "/tmp/{C}"}, mention: []string{"LD_LIBRARY_PATH"}},
		{name: "ENVINIT_X", kv: map[string]string{"services/api/ENVINIT_X": "{C}"}, mention: []string{"ENVINIT_X"}},
		{name: "ENVINIT_SECRETS_DIR", kv: map[string]string{"services/api/ENVINIT_SECRETS_DIR": "/tmp/{C}"}, mention: []string{"ENVINIT_SECRETS_DIR"}},
		{name: "BASH_ENV", kv: map[string]string{"services/api/BASH_ENV": "/tmp/{C}"}, mention: []string{"BASH_ENV"}},
		{name: "ENV", kv: map[string]string{"services/api/ENV": "/tmp/{C}"}, mention: []string{"ENV"}},
		{name: "IFS", kv: map[string]string{"services/api/IFS": "{C}"}, mention: []string{"IFS"}},
		{name: "GLIBC_TUNABLES", kv: map[string]string{"services/api/GLIBC_TUNABLES": "glibc.{C}=1"}, mention: []string{"GLIBC_TUNABLES"}},
		{name: "GCONV_PATH", kv: map[string]string{"services/api/GCONV_PATH": "/tmp/{C}"}, mention: []string{"GCONV_PATH"}},
		{name: "TMPDIR", kv: map[string]string{"services/api/TMPDIR": "/tmp/{C}"}, mention: []string{"TMPDIR"}},
		{name: "forbidden key in an import", kv: map[string]string{"services/api/__import_svc": "$base", "services/base/LD_PRELOAD": "/tmp/{C}.so"}, mention: []string{"LD_PRELOAD"}},
		{name: "exported shell function", kv: map[string]string{"services/api/FUNC": "() { echo {C}; }"}, mention: []string{"FUNC"}},
		{name: "exported shell function via reference", kv: map[string]string{"global/G_FN": "() { :; }; echo {C}", "services/api/FUNC": "#{$/G_FN}"}, mention: []string{"FUNC"}},
		{name: "sensitive key and its _FILE both set", kv: map[string]string{"services/api/__sensitive": "TOKEN,PW", "services/api/PW": "{C}", "services/api/PW_FILE": "/etc/{C}"}, mention: []string{"PW_FILE"}},
		{name: "reference to a special key", kv: map[string]string{"services/api/REF_VALUE": "{C}#{$api/__sensitive}"}, mention: []string{"REF_VALUE"}},
		{name: "NUL byte", kv: map[string]string{"services/api/NUL": "a\x00{C}"}, mention: []string{"NUL"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			kv := map[string]string{
				"services/api/__sensitive": "TOKEN",
				"services/api/TOKEN":       newCanary(tc.name + ": api/TOKEN"),
				"services/api/PLAIN":       newCanary(tc.name + ": api/PLAIN"),
			}
			for k, v := range tc.kv {
				kv[k] = strings.ReplaceAll(v, "{C}", newCanary(tc.name+": "+k))
			}
			f.seed(t, kv)
			service := tc.service
			if service == "" {
				service = "api"
			}
			r := f.runFail(t, 65, f.env(service), f.probe()...)
			for _, m := range tc.mention {
				if !strings.Contains(r.Stderr, m) {
					t.Errorf("stderr: got %q; want it to name %q", redact(r.Stderr), m)
				}
			}
		})
	}
}

// A reference bomb (each level doubles the one below) fails with 65 once
// the expansion passes 128 KiB, without expanding it all.
func TestReferenceBomb(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	kv := map[string]string{
		"global/BOMB_00":           strings.Repeat("x", 64) + newCanary("global/BOMB_00"),
		"services/api/__sensitive": "TOKEN",
		"services/api/TOKEN":       newCanary("api/TOKEN"),
		"services/api/BOOM":        "#{$/BOMB_24}",
	}
	for i := 1; i <= 24; i++ { // 87 bytes * 2^24: over a gigabyte if expanded
		kv[fmt.Sprintf("global/BOMB_%02d", i)] = fmt.Sprintf("#{$/BOMB_%02d}#{$/BOMB_%02d}", i-1, i-1)
	}
	f.seed(t, kv)
	r := f.runFail(t, 65, f.env("api"), f.probe()...)
	t.Logf("bomb rejected in %v", r.Elapsed)
	// The chain from the service's key to the global that passes 128 KiB
	// (87 bytes * 2^11): the key is what the operator looks for.
	for _, want := range []string{"$api/BOOM -> $/BOMB_24 -> $/BOMB_23 -> ", " -> $/BOMB_12 -> $/BOMB_11: expands past 128 KiB"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("stderr: got %q; want it to hold %q", redact(r.Stderr), want)
		}
	}
	if len(r.Stderr) > 64<<10 {
		t.Errorf("stderr: got %d bytes; want a short message", len(r.Stderr))
	}
}

// A value the kernel could not pass to COMMAND (an environment string is
// at most 128 KiB, "KEY=" and the final NUL included) is a bad value: 65,
// before any file is written, not a failed exec (126) after. The same
// value is fine when it is sensitive: it goes to a file.
func TestValueTooLongForExec(t *testing.T) {
	t.Parallel()
	kv := map[string]string{
		"global/__sensitive": "BIG_SECRET",
		"global/CHUNK_0":     strings.Repeat("x", 4096-len("CANARY-0123456789abcdef")) + newCanary("global/CHUNK_0"),
		"global/BIG_SECRET":  "#{$/CHUNK_5}",
		// 4 KiB * 2^5: exactly 128 KiB, the most the README's Failing closed allows.
		"services/api/__sensitive": "TOKEN",
		"services/api/TOKEN":       newCanary("api/TOKEN"),
	}
	for i := 1; i <= 5; i++ {
		kv[fmt.Sprintf("global/CHUNK_%d", i)] = fmt.Sprintf("#{$/CHUNK_%d}#{$/CHUNK_%d}", i-1, i-1)
	}
	t.Run("sensitive", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.seed(t, kv)
		f.seed(t, map[string]string{"services/api/BIG": "#{$/BIG_SECRET}"})
		p := f.runOK(t, f.env("api"), f.probe()...)
		if pf := p.Files[filepath.Join(f.secrets, "BIG")]; len(pf.Content) != 128<<10 {
			t.Errorf("BIG file: got %d bytes; want %d", len(pf.Content), 128<<10)
		}
	})
	t.Run("in the environment", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.seed(t, kv)
		f.seed(t, map[string]string{"services/api/BIG": "#{$/CHUNK_5}"})
		r := f.runFail(t, 65, f.env("api"), f.probe()...)
		if !strings.Contains(r.Stderr, "BIG") {
			t.Errorf("stderr: got %q; want it to name BIG", redact(r.Stderr))
		}
	})
}

// An explicit secrets dir that is not memory-backed (t.TempDir() is on disk)
// fails with 73 when there is a sensitive value, and writes nothing there.
func TestSecretsDirOnDisk(t *testing.T) {
	t.Parallel()
	disk := t.TempDir()
	if isMemFS(disk) {
		t.Skipf("%s is memory-backed here", disk)
	}
	f := newFixture(t)
	f.seed(t, map[string]string{
		"services/api/__sensitive": "TOKEN",
		"services/api/TOKEN":       newCanary("api/TOKEN"),
		"services/api/PLAIN":       newCanary("api/PLAIN"),
	})
	for _, how := range []string{"variable", "flag"} {
		t.Run(how, func(t *testing.T) {
			env, args := f.env("api", "ENVINIT_SECRETS_DIR="+disk), f.probe()
			if how == "flag" {
				args = append([]string{"--secrets-dir", disk}, args...)
				env = f.env("api") // the tmpfs dir in the variable loses to the flag
			}
			r := f.runFail(t, 73, env, args...)
			assertEmptyDir(t, disk)
			if !strings.Contains(r.Stderr, disk) {
				t.Errorf("stderr: got %q; want it to name the directory %s", redact(r.Stderr), disk)
			}
		})
	}
}

// Bad configuration exits 78 and names the variable.
func TestBadConfiguration(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		extra   []string
		mention string
	}{
		{"missing ENVINIT_SERVICE", []string{"ENVINIT_SERVICE"}, "ENVINIT_SERVICE"},
		{"empty ENVINIT_SERVICE", []string{"ENVINIT_SERVICE="}, "ENVINIT_SERVICE"},
		{"invalid ENVINIT_SERVICE", []string{"ENVINIT_SERVICE=bad alias!"}, "ENVINIT_SERVICE"},
		{"ENVINIT_SERVICE with $", []string{"ENVINIT_SERVICE=$api"}, "ENVINIT_SERVICE"},
		{"invalid ENVINIT_TIMEOUT", []string{"ENVINIT_TIMEOUT=soon"}, "ENVINIT_TIMEOUT"},
		{"invalid ENVINIT_OVERRIDE", []string{"ENVINIT_OVERRIDE=maybe"}, "ENVINIT_OVERRIDE"},
		{"invalid ENVINIT_LOG", []string{"ENVINIT_LOG=loud"}, "ENVINIT_LOG"},
		{"invalid ENVINIT_STORE", []string{"ENVINIT_STORE=consul"}, "ENVINIT_STORE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.seed(t, map[string]string{
				"services/api/__sensitive": "TOKEN",
				"services/api/TOKEN":       newCanary("api/TOKEN"),
			})
			r := f.runFail(t, 78, f.env("api", tc.extra...), f.probe()...)
			if !strings.Contains(r.Stderr, tc.mention) {
				t.Errorf("stderr: got %q; want it to name %s", redact(r.Stderr), tc.mention)
			}
		})
	}
}

// A bad command line exits 64.
func TestBadCommandLine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args []string
	}{
		{"no arguments", nil},
		{"nothing after --", []string{"--"}},
		{"no --", []string{"/bin/true"}},
		{"unknown flag", []string{"--no-such-flag", "--", "/bin/true"}},
		{"flag missing its value", []string{"--service"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.seed(t, map[string]string{
				"services/api/__sensitive": "TOKEN",
				"services/api/TOKEN":       newCanary("api/TOKEN"),
			})
			f.runFail(t, 64, f.env("api"), tc.args...)
		})
	}
}

// COMMAND not found exits 127, not executable 126; either way no secret
// file is left behind.
func TestCommandNotRunnable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notExec := filepath.Join(dir, "not-exec")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\necho ran\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		command string
		want    int
	}{
		{"absent path", filepath.Join(dir, "absent"), 127},
		{"absent in PATH", "no-such-command-" + randHex(4), 127},
		{"not executable", notExec, 126},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.seed(t, map[string]string{
				"services/api/__sensitive": "TOKEN",
				"services/api/TOKEN":       newCanary("api/TOKEN"),
				"services/api/PLAIN":       newCanary("api/PLAIN"),
			})
			f.runFail(t, tc.want, f.env("api"), "--", tc.command, "arg")
		})
	}
}

// An unreachable SSM endpoint exits 69 within the deadline.
func TestStoreUnreachable(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	env := withEnv(f.env("api", "ENVINIT_TIMEOUT=3s"), awsEnvFor("http://"+closedAddr(t))...)
	r := f.runFail(t, 69, env, f.probe()...)
	if r.Elapsed > 30*time.Second {
		t.Errorf("elapsed: got %v; want about the 3s deadline", r.Elapsed)
	}
}

// A store that never answers hits ENVINIT_TIMEOUT: 69.
func TestStoreDeadline(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	url, _ := blackhole(t)
	env := withEnv(f.env("api", "ENVINIT_TIMEOUT=2s"), awsEnvFor(url)...)
	r := f.runFail(t, 69, env, f.probe()...)
	if r.Elapsed > 30*time.Second {
		t.Errorf("elapsed: got %v; want about the 2s deadline", r.Elapsed)
	}
}

// awaitStore waits until run has connected to the blackhole store (accepted
// is blackhole's), and fails the test if it exits or does not connect.
func awaitStore(t *testing.T, run *running, accepted <-chan struct{}) {
	t.Helper()
	select {
	case <-accepted:
	case <-run.done:
		r := run.wait(t)
		t.Fatalf("envinit exited (code %d) before it connected to the store\nstderr: %s", r.Code, redact(r.Stderr))
	case <-time.After(30 * time.Second):
		run.signal(t, syscall.SIGKILL)
		run.wait(t)
		t.Fatal("envinit did not connect to the store within 30s")
	}
}

// SIGTERM or SIGINT while envinit waits for the store: it stops at once
// with 143 / 130 and leaves nothing behind.
func TestSignalWhileFetching(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		sig  syscall.Signal
		want int
	}{
		{"SIGTERM", syscall.SIGTERM, 143},
		{"SIGINT", syscall.SIGINT, 130},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			url, accepted := blackhole(t)
			env := withEnv(f.env("api", "ENVINIT_TIMEOUT=50s"), awsEnvFor(url)...)
			run := startEnvinit(t, env, f.probe()...)
			awaitStore(t, run, accepted)
			time.Sleep(300 * time.Millisecond)
			sent := time.Now()
			run.signal(t, tc.sig)
			r := run.wait(t)
			if r.Code == -1 {
				t.Errorf("envinit was killed by %s; want it to handle it and exit %d", tc.name, tc.want)
			}
			assertCode(t, r, tc.want)
			if d := r.Elapsed - sent.Sub(run.start); d > 10*time.Second {
				t.Errorf("exit after %s: got %v; want at once", tc.name, d)
			}
			assertEmptyDir(t, f.secrets)
			assertNotStarted(t, f.marker)
		})
	}
}
