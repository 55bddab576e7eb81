package main

import (
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
