package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// ENVINIT_STORE=file:PATH runs the whole flow offline: no AWS setting at
// all, a resolved reference, an import, an escape and a _FILE.
func TestFileStore(t *testing.T) {
	t.Parallel()
	const pass = "s3cr=t-CANARY-f11e5704e0000001\n" // as in testdata
	canaries.Store("CANARY-f11e5704e0000001", "testdata base/DB_PASS")
	for _, name := range []string{"store.json", "store-parameters.json"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			store, err := filepath.Abs(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			secrets := shmDir(t)
			env := []string{
				"PATH=/usr/bin:/bin",
				"ENVINIT_STORE=file:" + store,
				"ENVINIT_SERVICE=api",
				"ENVINIT_SECRETS_DIR=" + secrets,
			}
			r := runEnvinit(t, env, "--", probeBin, "report")
			assertCode(t, r, 0)
			assertStderrClean(t, r, "CANARY-f11e5704e0000001")
			if r.Code != 0 {
				return
			}
			p := parseProbe(t, r.Stdout)
			assertEnv(t, p, "DATABASE_URL", "postgres://app@db.internal/app")
			assertEnv(t, p, "GREETING", "hello #{world}")
			assertSecretFile(t, p, secrets, "DB_PASS", pass)
			assertNoEnvinitVars(t, p)
		})
	}
}

// The tools that only read work on a store file, with no AWS setting; the
// writes say they need SSM.
func TestFileStoreTools(t *testing.T) {
	t.Parallel()
	store, err := filepath.Abs(filepath.Join("testdata", "store.json"))
	if err != nil {
		t.Fatal(err)
	}
	const pass = "CANARY-f11e5704e0000001"
	canaries.Store(pass, "testdata base/DB_PASS")
	env := []string{"PATH=/usr/bin:/bin", "ENVINIT_STORE=file:" + store}
	for _, tc := range []struct {
		args []string
		want string
		// reveals: the action prints a value because it was asked to.
		reveals bool
	}{
		{[]string{"secrets", "list"}, "api      2     3 (1 as files)  $base    ok", false},
		{[]string{"secrets", "list", "api"}, "DB_PASS       DB_PASS_FILE  $base  -        -         sensitive: listed by $base", false},
		{[]string{"secrets", "list", "--global"}, "DB_HOST  -        -         api", false},
		{[]string{"secrets", "find", "DB_USER"}, "$api/DATABASE_URL  #{$/DB_USER}", false},
		{[]string{"secrets", "get", "api", "GREETING"}, "hello ##{world}", false},
		{[]string{"secrets", "export", "base"}, "DB_PASS='s3cr=t-" + pass + "\n'", true},
		{[]string{"fingerprint", "--all", "--format", "json"}, `"service": "base"`, false},
		{[]string{"check", "api"}, "ok: api", false},
	} {
		r := runEnvinit(t, env, tc.args...)
		if r.Code != 0 || !strings.Contains(r.Stdout, tc.want) {
			t.Errorf("envinit %s on a store file: exit %d, stdout %q, stderr %q; want %q", strings.Join(tc.args, " "), r.Code, redact(r.Stdout), r.Stderr, redact(tc.want))
		}
		if !tc.reveals {
			assertNoLeak(t, r, pass)
		}
		assertStderrClean(t, r, pass)
	}
	r := runEnvinit(t, env, "secrets", "unset", "api", "GREETING")
	if r.Code != 78 || !strings.Contains(r.Stderr, "writes to SSM Parameter Store only") {
		t.Errorf("a write on a store file: exit %d, %s; want 78 saying it needs SSM", r.Code, r.Stderr)
	}
}

// A store file that is not valid is a data error (65), one that cannot be
// read makes the store unavailable (69).
func TestFileStoreErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	canary := newCanary("bad store file")
	if err := os.WriteFile(bad, []byte(`{"/envinit/services/api/K": "`+canary+`", oops}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, store string
		want        int
	}{
		{"malformed", bad, 65},
		{"missing", filepath.Join(dir, "absent.json"), 69},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			secrets := shmDir(t)
			marker := filepath.Join(t.TempDir(), "started")
			env := []string{"ENVINIT_STORE=file:" + tc.store, "ENVINIT_SERVICE=api", "ENVINIT_SECRETS_DIR=" + secrets}
			r := runEnvinit(t, env, "--", probeBin, "report", "--marker", marker)
			assertCode(t, r, tc.want)
			assertNoLeak(t, r, canary)
			assertEmptyDir(t, secrets)
			assertNotStarted(t, marker)
		})
	}
}

// The README's demo store, examples/store.json, works for every service it
// holds, and shows at least one resolved reference and one _FILE.
func TestExampleStore(t *testing.T) {
	t.Parallel()
	store, err := filepath.Abs(filepath.Join("..", "examples", "store.json"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(store)
	if os.IsNotExist(err) {
		t.Skip("examples/store.json does not exist yet")
	}
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]string{}
	var listed struct {
		Parameters []struct{ Name, Value string }
	}
	if err := json.Unmarshal(data, &listed); err == nil && listed.Parameters != nil {
		for _, p := range listed.Parameters {
			params[p.Name] = p.Value
		}
	} else if err := json.Unmarshal(data, &params); err != nil {
		t.Fatalf("examples/store.json: %v", err)
	}

	// Services under the default prefix, and which of their own keys hold
	// a reference.
	const dir = "/envinit/services/"
	refs := map[string][]string{}
	for name, value := range params {
		rest, ok := strings.CutPrefix(name, dir)
		if !ok {
			continue
		}
		alias, key, ok := strings.Cut(rest, "/")
		if !ok || strings.Contains(key, "/") {
			continue
		}
		if _, seen := refs[alias]; !seen {
			refs[alias] = nil
		}
		if !strings.HasPrefix(key, "__") && strings.Contains(strings.ReplaceAll(value, "##{", ""), "#{") {
			refs[alias] = append(refs[alias], key)
		}
	}
	if len(refs) == 0 {
		t.Fatalf("examples/store.json: no service under %s; want at least one", dir)
	}
	aliases := make([]string, 0, len(refs))
	for a := range refs {
		aliases = append(aliases, a)
	}
	sort.Strings(aliases)

	var sawRef, sawFile bool
	for _, alias := range aliases {
		secrets := shmDir(t)
		env := []string{
			"PATH=/usr/bin:/bin",
			"ENVINIT_STORE=file:" + store,
			"ENVINIT_SERVICE=" + alias,
			"ENVINIT_SECRETS_DIR=" + secrets,
		}
		r := runEnvinit(t, env, "--", probeBin, "report")
		if r.Code != 0 {
			t.Errorf("service %s: exit code: got %d; want 0\nstderr: %s", alias, r.Code, r.Stderr)
			continue
		}
		p := parseProbe(t, r.Stdout)
		for _, key := range refs[alias] {
			v, inEnv := p.Env[key]
			switch {
			case inEnv && strings.Contains(strings.ReplaceAll(v, "##{", ""), "#{$"):
				t.Errorf("service %s: env %s still holds a reference; want it resolved", alias, key)
			case inEnv:
				sawRef = true
			case p.Env[key+"_FILE"] != "":
				sawRef = true // a tainted reference: resolved into its file
			}
		}
		for k, path := range p.Env {
			if !strings.HasSuffix(k, "_FILE") || !strings.HasPrefix(path, secrets+"/") {
				continue
			}
			if pf := p.Files[path]; pf.Type == "file" && pf.Mode == "0400" {
				sawFile = true
			} else {
				t.Errorf("service %s: %s: got type %q mode %q; want a 0400 file", alias, k, pf.Type, pf.Mode)
			}
		}
	}
	if !sawRef {
		t.Errorf("examples/store.json: no resolved reference in any service; want the demo to show one")
	}
	if !sawFile {
		t.Errorf("examples/store.json: no _FILE in any service; want the demo to show one")
	}
}
