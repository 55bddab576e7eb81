package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// check reports every problem of the data, one line each, and exits 65.
func TestCheckReportsEveryProblem(t *testing.T) {
	store := filepath.Join(t.TempDir(), "store.json")
	err := os.WriteFile(store, []byte(`{
		"/e/global/G": "g",
		"/e/services/api/BAD_REF": "#{$/NOPE}",
		"/e/services/api/MALFORMED": "x #{$/unterminated",
		"/e/services/api/LD_PRELOAD": "`+canary+`",
		"/e/services/api/__import_svc": "$ghost",
		"/e/services/api/A": "#{$api/B}",
		"/e/services/api/B": "#{$api/A}",
		"/e/services/clash/PW": "`+canary+`",
		"/e/services/clash/PW_FILE": "/x",
		"/e/services/clash/__sensitive": "PW",
		"/e/services/ok/K": "#{$/G}"
	}`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("ENVINIT_STORE", "file:"+store)
	t.Setenv("ENVINIT_PREFIX", "/e")
	r := runApp(t, nil, "check", "api", "clash", "ok")
	if code := exitCode(r.err); code != exitData {
		t.Fatalf("exit code %d; want 65 (%v)", code, r.err)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	want := []string{
		"$api/BAD_REF: reference #{$/NOPE}: no global NOPE",
		"$api/MALFORMED: malformed reference",
		`$api: key "LD_PRELOAD"`,
		"service ghost, imported by $api, has no secrets",
		"reference cycle: $api/A -> $api/B -> $api/A",
		"clash/PW is sensitive, so PW_FILE must hold its file's path",
		"ok: ok: 1 variable (0 sensitive, to files), resolved from 1 service",
	}
	for _, w := range want {
		found := false
		for _, l := range lines {
			found = found || strings.Contains(l, w)
		}
		if !found {
			t.Errorf("no line says %q:\n%s", w, r.stdout)
		}
	}
	if len(lines) != len(want) {
		t.Errorf("%d lines; want %d, one per problem:\n%s", len(lines), len(want), r.stdout)
	}
	if text := errorText(r.err); !strings.Contains(text, "6 problems in 3 services") || !strings.Contains(text, "run envinit check again") {
		t.Errorf("summary %q", text)
	}
}

func TestCheckOK(t *testing.T) {
	t.Setenv("ENVINIT_STORE", "file:../../examples/store.json")
	t.Setenv("ENVINIT_SERVICE", "demo")
	r := runApp(t, nil, "check")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !strings.HasPrefix(r.stdout, "ok: demo: 6 variables (1 sensitive, to files), resolved from 2 services\n") {
		t.Errorf("got %q", r.stdout)
	}
}

// check --all checks every service of the store from one read, warns of
// what no start reads without failing, and prints JSON for pipelines, with
// the exit code of the text.
func TestCheckAll(t *testing.T) {
	store := filepath.Join(t.TempDir(), "store.json")
	err := os.WriteFile(store, []byte(`{
		"/e/global/G": "`+canary+`",
		"/e/global/OLD": "`+canary+`",
		"/e/services/api/K": "#{$/G}",
		"/e/services/api/__import_svc": "$base",
		"/e/services/base/B": "`+canary+`",
		"/e/services/web/W": "#{$/NOPE}",
		"/e/services/web/deep/X": "`+canary+`"
	}`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("ENVINIT_STORE", "file:"+store)
	t.Setenv("ENVINIT_PREFIX", "/e")
	t.Setenv("ENVINIT_SERVICE", "api") // --all ignores it
	r := runApp(t, nil, "check", "--all")
	if code := exitCode(r.err); code != exitData {
		t.Fatalf("exit code %d; want 65 (%v)", code, r.err)
	}
	want := "ok: api: 2 variables (0 sensitive, to files), resolved from 2 services\n" +
		"ok: base: 1 variable (0 sensitive, to files), resolved from 1 service\n" +
		"$web/W: reference #{$/NOPE}: no global NOPE\n" +
		"warning: 2 services no other service imports or references: api, web (each is read only by the containers that name it; one that none names is unused)\n" +
		"warning: 1 global no service references: OLD (no start reads them, unless a container's own variable references one, which the store cannot show)\n" +
		"warning: /e/services/web/deep/X: no start reads it: nested below services/web/: not one of its keys (a start reads one level); envinit secrets unset --name /e/services/web/deep/X removes it\n"
	if r.stdout != want {
		t.Errorf("check --all:\n%s\nwant:\n%s", r.stdout, want)
	}
	if !strings.Contains(r.stderr, "envinit: check: 1 problem in 3 services (listed above)") || strings.Contains(r.stdout+r.stderr, canary) {
		t.Errorf("stderr %q; want the summary, and no value anywhere", r.stderr)
	}

	r = runApp(t, nil, "check", "--all", "--format", "json")
	var doc struct {
		OK       bool
		Services []struct{ Service string }
		Warnings []struct{ Kind string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("check --all --format json: %v\n%s", err, r.stdout)
	}
	if exitCode(r.err) != exitData || doc.OK || len(doc.Services) != 3 || len(doc.Warnings) != 4 ||
		!strings.Contains(r.stderr, "(in the JSON on stdout)") || strings.Contains(r.stdout+r.stderr, canary) {
		t.Errorf("check --all --format json: exit %d, %+v, stderr %q; want 65, 3 services, 4 warnings, no value", exitCode(r.err), doc, r.stderr)
	}

	// An environment with no service fails; one with warnings alone passes.
	r = runApp(t, nil, "check", "--all", "--prefix", "/e", "--store", "file:../../examples/store.json")
	if r.err == nil || !strings.Contains(errorText(r.err), "no services under /e/services/") {
		t.Errorf("check --all of an empty prefix: %v; want an error naming it", r.err)
	}
	t.Setenv("ENVINIT_STORE", "file:../../examples/store.json")
	t.Setenv("ENVINIT_PREFIX", "/envinit")
	if r := runApp(t, nil, "check", "--all"); r.err != nil || !strings.Contains(r.stdout, "ok: demo") || !strings.Contains(r.stdout, "warning: ") {
		t.Errorf("check --all of the demo store: %v, %q; want it to pass, with its warnings", r.err, r.stdout)
	}

	for _, args := range [][]string{{"check", "--all", "api"}, {"check", "--format", "yaml"}} {
		if r := runApp(t, nil, args...); exitCode(r.err) != exitUsage {
			t.Errorf("%q: %v; want 64", args, r.err)
		}
	}
}
