package e2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// The secrets tool's impact check through the real binary against kumo:
// every write that would make a service's next start fail is refused
// (65), nothing written, each service named; --force writes it.

// storeState is every parameter under f's prefix as kumo holds it: its
// value and version, by name.
func storeState(t *testing.T, f *fixture) map[string]string {
	t.Helper()
	out := map[string]string{}
	in := &ssm.GetParametersByPathInput{Path: aws.String(f.prefix), Recursive: aws.Bool(true), WithDecryption: aws.Bool(true)}
	for {
		page, err := f.e.Client.GetParametersByPath(context.Background(), in)
		if err != nil {
			t.Fatalf("GetParametersByPath %s: %v", f.prefix, err)
		}
		for _, p := range page.Parameters {
			out[strings.TrimPrefix(aws.ToString(p.Name), f.prefix+"/")] = fmt.Sprintf("v%d %s", p.Version, aws.ToString(p.Value))
		}
		if page.NextToken == nil {
			return out
		}
		in.NextToken = page.NextToken
	}
}

// diffState names the parameters whose value or version differ.
func diffState(a, b map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(a)) {
		if a[k] != b[k] {
			out = append(out, k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(b)) {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

// TestSecretsRefusals: each kind of write that breaks a start, on its
// own prefix: refused with 65, the services it breaks named one line
// each, nothing written, no seeded or typed value on stdout or stderr;
// then the same write with --force: written, and what it broke said.
func TestSecretsRefusals(t *testing.T) {
	t.Parallel()
	c := func(label string) string { return newCanary(label) }
	for _, tc := range []struct {
		name  string
		seed  map[string]string
		args  []string
		stdin string
		// breaks are the services named, "start of X: ..." lines; want
		// other text of the refusal.
		breaks []string
		want   []string
		// forced is a parameter the forced write changes or removes.
		forced string
	}{
		{
			name:   "set: a malformed reference",
			seed:   map[string]string{"services/api/K": c("api/K")},
			args:   []string{"secrets", "set", "api", "PW"},
			stdin:  "pw#{" + c("typed PW"),
			breaks: []string{"api"}, want: []string{`$api/PW: malformed reference at byte 2: unterminated "#{"`, "--literal"},
			forced: "services/api/PW",
		},
		{
			name:   "set: a dangling reference",
			seed:   map[string]string{"services/api/K": c("api/K")},
			args:   []string{"secrets", "set", "api", "URL"},
			stdin:  "#{$/NOPE}" + c("typed URL"),
			breaks: []string{"api"}, want: []string{"$api/URL: reference #{$/NOPE}: no global NOPE"},
			forced: "services/api/URL",
		},
		{
			name:   "set: a new reference cycle",
			seed:   map[string]string{"services/api/A": "#{$api/B}" + c("api/A"), "services/api/B": c("api/B")},
			args:   []string{"secrets", "set", "api", "B"},
			stdin:  "#{$api/A}",
			breaks: []string{"api"}, want: []string{"reference cycle"},
			forced: "services/api/B",
		},
		{
			name:  "set: a forbidden key",
			seed:  map[string]string{"services/api/K": c("api/K")},
			args:  []string{"secrets", "set", "api", "LD_PRELOAD"},
			stdin: "/tmp/" + c("typed LD_PRELOAD") + ".so",
			want:  []string{"dynamic loader", "--force"},
			// Forced, the start refuses it.
			forced: "services/api/LD_PRELOAD",
		},
		{
			name:   "set: a sensitive value with nowhere to go",
			seed:   map[string]string{"services/api/PW": c("api/PW"), "services/api/PW_FILE": "/etc/" + c("api/PW_FILE")},
			args:   []string{"secrets", "set", "api", "PW", "--sensitive"},
			stdin:  c("typed PW"),
			breaks: []string{"api"}, want: []string{"$api/PW is sensitive, so PW_FILE must hold its file's path"},
			forced: "services/api/__sensitive",
		},
		{
			name: "unset: a global three services reference",
			seed: map[string]string{"global/DB_HOST": c("global/DB_HOST"), "services/api/U": "#{$/DB_HOST}", "services/web/U": "x#{$/DB_HOST}",
				"services/worker/U": "#{$/DB_HOST}y", "services/other/K": c("other/K")},
			args:   []string{"secrets", "unset", "--global", "DB_HOST"},
			breaks: []string{"api", "web", "worker"}, want: []string{"no global DB_HOST", "next start of 3 services fail (api, web, worker)"},
			forced: "global/DB_HOST",
		},
		{
			name:   "unset: a key another service references",
			seed:   map[string]string{"services/api/TOKEN": c("api/TOKEN"), "services/api/K": c("api/K"), "services/web/U": "#{$api/TOKEN}"},
			args:   []string{"secrets", "unset", "api", "TOKEN"},
			breaks: []string{"web"}, want: []string{"service api has no key TOKEN"},
			forced: "services/api/TOKEN",
		},
		{
			name:   "unset: the last key of an imported service",
			seed:   map[string]string{"services/shared/K": c("shared/K"), "services/api/__import_svc": "$shared", "services/api/X": c("api/X")},
			args:   []string{"secrets", "unset", "shared", "K"},
			breaks: []string{"api"}, want: []string{"service shared, imported by $api, has no secrets", "it removes 1 service (shared)"},
			forced: "services/shared/K",
		},
		{
			name:   "unset: a service's last key",
			seed:   map[string]string{"services/solo/K": c("solo/K")},
			args:   []string{"secrets", "unset", "solo", "K"},
			want:   []string{"it removes 1 service (solo)", "its next start fails", "retire a service"},
			forced: "services/solo/K",
		},
		{
			name:   "import: a dangling reference",
			seed:   map[string]string{"services/api/K": c("api/K")},
			args:   []string{"secrets", "import", "api", "-"},
			stdin:  "A=" + c("typed A") + "\nB='#{$shared/NOPE}'\n",
			breaks: []string{"api"}, want: []string{"service shared, referenced by $api/B, has no secrets"},
			forced: "services/api/B",
		},
		{
			name:   "import: a malformed reference",
			seed:   map[string]string{"services/api/K": c("api/K")},
			args:   []string{"secrets", "import", "api", "-"},
			stdin:  "PW='p#{" + c("typed PW") + "'\n",
			breaks: []string{"api"}, want: []string{"--literal"},
			forced: "services/api/PW",
		},
		{
			name:   "import-from: a service with no secrets",
			seed:   map[string]string{"services/api/K": c("api/K")},
			args:   []string{"secrets", "import-from", "api", "ghost"},
			breaks: []string{"api"}, want: []string{"service ghost, imported by $api, has no secrets"},
			forced: "services/api/__import_svc",
		},
		{
			name:   "import-from: a new import cycle",
			seed:   map[string]string{"services/api/K": c("api/K"), "services/api/__import_svc": "$shared", "services/shared/S": c("shared/S")},
			args:   []string{"secrets", "import-from", "shared", "api"},
			breaks: []string{"api", "shared"}, want: []string{"import cycle"},
			forced: "services/shared/__import_svc",
		},
		{
			name: "import-from: a sensitive variable would reach the environment",
			seed: map[string]string{"services/a/K": c("a/K"), "services/a/__sensitive": "K", "services/b/K": c("b/K"),
				"services/api/__import_svc": "$a", "services/api/X": c("api/X")},
			args:   []string{"secrets", "import-from", "api", "b"},
			want:   []string{"it moves 1 sensitive variable from a file to the environment", "$api: K would reach the environment (K_FILE -> K)", "--no-sensitive"},
			forced: "services/api/__import_svc",
		},
		{
			name: "copy --replace: a key another service references goes",
			seed: map[string]string{"services/src/K": c("src/K"), "services/dst/K2": c("dst/K2"), "services/web/U": "#{$dst/K2}"},
			args: []string{"secrets", "copy", "src", "dst", "--replace"},
			// dst itself starts; web does not.
			breaks: []string{"web"}, want: []string{"service dst has no key K2"},
			forced: "services/dst/K2",
		},
		{
			name:   "copy: of a service that fails to start",
			seed:   map[string]string{"services/src/K": "#{$/NOPE}" + c("src/K")},
			args:   []string{"secrets", "copy", "src", "dst"},
			breaks: []string{"dst"}, want: []string{"no global NOPE"},
			forced: "services/dst/K",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.seed(t, tc.seed)
			f.seeded = append(f.seeded, tc.stdin) // typed values are secrets too
			env := f.env("")
			before := storeState(t, f)

			r := toolRun(t, f, env, tc.stdin, tc.args...)
			assertCode(t, r, 65)
			assertNoLeak(t, r, f.canaries()...)
			if r.Stdout != "" {
				t.Errorf("stdout %q; want nothing: nothing was written", redact(r.Stdout))
			}
			if !strings.Contains(r.Stderr, "nothing was written") {
				t.Errorf("stderr %s; want it to say nothing was written", redact(r.Stderr))
			}
			for _, alias := range tc.breaks {
				if !strings.Contains(r.Stderr, "envinit:   start of "+alias+": ") {
					t.Errorf("stderr %s; want a line naming the start of %s", redact(r.Stderr), alias)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(r.Stderr, w) {
					t.Errorf("stderr %s; want %q", redact(r.Stderr), w)
				}
			}
			if d := diffState(before, storeState(t, f)); len(d) > 0 {
				t.Errorf("a refused write changed %q; want nothing written", d)
			}

			forced := toolRun(t, f, env, tc.stdin, append(tc.args, "--force")...)
			assertCode(t, forced, 0)
			assertNoLeak(t, forced, f.canaries()...)
			after := storeState(t, f)
			if before[tc.forced] == after[tc.forced] {
				t.Errorf("--force did not write %s", tc.forced)
			}
			for _, alias := range tc.breaks {
				if !strings.Contains(forced.Stderr, "--force: written, although it breaks") || !strings.Contains(forced.Stderr, "envinit:   start of "+alias+": ") {
					t.Errorf("forced stderr %s; want it to say it broke the start of %s", redact(forced.Stderr), alias)
				}
			}
		})
	}
}

// A change of sensitivity is reported for every service it reaches, by
// __sensitive or by a reference, and the app gets KEY_FILE.
func TestSecretsSensitivityReported(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	pw := newCanary("api/PW")
	f.seed(t, map[string]string{
		"services/api/PW":           pw,
		"services/api/DSN":          "user:#{$api/PW}@db",
		"services/web/__import_svc": "$api",
		"services/web/OWN":          "x",
	})
	env := f.env("")
	r := toolOK(t, f, env, pw, "secrets", "set", "api", "PW", "--sensitive")
	assertNoLeak(t, r, f.canaries()...)
	for _, want := range []string{
		"set $api/PW (now sensitive: the container gets PW_FILE)\n",
		"$api: DSN becomes sensitive: DSN -> DSN_FILE\n",
		"$web: DSN becomes sensitive: DSN -> DSN_FILE\n",
		"$web: PW becomes sensitive: PW -> PW_FILE\n",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("set --sensitive: stdout %q; want %q", r.Stdout, want)
		}
	}
	p := f.runOK(t, f.env("web"), f.probe()...)
	assertSecretFile(t, p, f.secrets, "PW", pw)
	assertSecretFile(t, p, f.secrets, "DSN", "user:"+pw+"@db")

	r = toolOK(t, f, env, pw, "secrets", "set", "api", "PW", "--no-sensitive")
	if !strings.Contains(r.Stdout, "$web: DSN is no longer sensitive: DSN_FILE -> DSN\n") {
		t.Errorf("set --no-sensitive: stdout %q; want web's DSN reported", r.Stdout)
	}
}

// A key another tool wrote under a name no start accepts, and a
// parameter no start reads: list shows them, check names the fix, get
// and unset take them.
func TestSecretsAnyStoredName(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	bad := newCanary("api/MY-KEY")
	f.seed(t, map[string]string{
		"services/api/GOOD":      newCanary("api/GOOD"),
		"services/api/MY-KEY":    bad,
		"services/api/old/TOKEN": newCanary("api/old/TOKEN"),
		"global/DB_HOST":         newCanary("global/DB_HOST"),
		"services/web/URL":       "#{$/DB_HOST}",
	})
	env := f.env("")

	r := toolRun(t, f, env, "", "check", "api")
	assertCode(t, r, 65)
	if !strings.Contains(r.Stdout, `key "MY-KEY": not a valid name`) || !strings.Contains(r.Stderr, "envinit: hint: $api/MY-KEY: envinit secrets unset api MY-KEY removes it") {
		t.Errorf("check: stdout %q, stderr %q; want MY-KEY and the command that removes it", redact(r.Stdout), redact(r.Stderr))
	}
	r = toolOK(t, f, env, "", "secrets", "list", "api")
	assertNoLeak(t, r, f.canaries()...)
	if !strings.Contains(listed(r.Stdout), "MY-KEY - own 1 T no start takes it: not a valid name") || !strings.Contains(r.Stdout, "the start of $api fails") {
		t.Errorf("list api:\n%s\nwant MY-KEY flagged and the start said to fail", r.Stdout)
	}
	r = toolOK(t, f, env, "", "secrets", "list")
	if !strings.Contains(r.Stdout, f.prefix+"/services/api/old/TOKEN") || !strings.Contains(listed(r.Stdout), "api 2 - - fails: 1 problem") {
		t.Errorf("list:\n%s\nwant the stray by name and api failing", r.Stdout)
	}
	if r := toolOK(t, f, env, "", "secrets", "get", "api", "MY-KEY"); r.Stdout != bad {
		t.Errorf("get MY-KEY: %q; want its value", redact(r.Stdout))
	}
	r = toolOK(t, f, env, "", "secrets", "find", "DB_HOST")
	if !strings.Contains(listed(r.Stdout), "$/DB_HOST 1 T") || !strings.Contains(listed(r.Stdout), "$web/URL #{$/DB_HOST}") || !strings.Contains(listed(r.Stdout), "$web DB_HOST") && !strings.Contains(r.Stdout, "REFERENCED BY") {
		t.Errorf("find DB_HOST:\n%s", redact(r.Stdout))
	}

	r = toolOK(t, f, env, "", "secrets", "unset", "api", "MY-KEY")
	if !strings.Contains(r.Stdout, "unset $api/MY-KEY\n$api: fixes") {
		t.Errorf("unset MY-KEY: %q; want it removed, fixing api", r.Stdout)
	}
	toolOK(t, f, env, "", "check", "api")
	if r := toolRun(t, f, env, "", "secrets", "get", "--name", f.prefix+"/services/api/old/TOKEN"); r.Code != 65 || !strings.Contains(r.Stderr, "no start reads it") {
		t.Errorf("get --name of a stray: exit %d, %s; want 65: envinit does not read it", r.Code, redact(r.Stderr))
	}
	toolOK(t, f, env, "", "secrets", "unset", "--name", f.prefix+"/services/api/old/TOKEN")
	if _, _, ok := toolParam(t, f, "services/api/old/TOKEN"); ok {
		t.Error("unset --name left the stray")
	}
}
