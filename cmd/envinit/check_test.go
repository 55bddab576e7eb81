package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/envinit/envinit/internal/resolve"
)

// check reports every problem of the data, one line each, and exits 65.
func TestCheckReportsEveryProblem(t *testing.T) {
	store := filepath.Join(t.TempDir(), "store.json")
	err := os.WriteFile(store, []byte(`{
		"/e/global/G": "g",
		"/e/services/api/BAD_REF": "#{$/NOPE}",
		"/e/services/api/MALFORMED": "x #{$/unterminated",
		"/e/services/api/LD_PRELOAD": "`+valueCanary+`",
		"/e/services/api/__import_svc": "$ghost",
		"/e/services/api/A": "#{$api/B}",
		"/e/services/api/B": "#{$api/A}",
		"/e/services/clash/PW": "`+valueCanary+`",
		"/e/services/clash/PW_FILE": "/x",
		"/e/services/clash/__sensitive": "PW",
		"/e/services/ok/K": "#{$/G}"
	}`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("ENVINIT_STORE", "file:"+store)
	t.Setenv("ENVINIT_PREFIX", "/e")
	var stdout, stderr bytes.Buffer
	err = runCheck(context.Background(), []string{"api", "clash", "ok"}, &stdout, &stderr)
	if code := exitCode(err); code != exitData {
		t.Fatalf("exit code %d; want 65 (%v)", code, err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
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
			t.Errorf("no line says %q:\n%s", w, stdout.String())
		}
	}
	if len(lines) != len(want) {
		t.Errorf("%d lines; want %d, one per problem:\n%s", len(lines), len(want), stdout.String())
	}
	if !strings.Contains(err.Error(), "6 problems in 3 services") || !strings.Contains(err.Error(), "run envinit check again") {
		t.Errorf("summary %q", err)
	}
	if strings.Contains(stdout.String()+stderr.String()+err.Error(), valueCanary) {
		t.Error("check printed a value")
	}
}

func TestCheckOK(t *testing.T) {
	t.Setenv("ENVINIT_STORE", "file:../../examples/store.json")
	t.Setenv("ENVINIT_SERVICE", "demo")
	var stdout bytes.Buffer
	if err := runCheck(context.Background(), nil, &stdout, &stdout); err != nil {
		t.Fatal(err)
	}
	if got := stdout.String(); !strings.HasPrefix(got, "ok: demo: 6 variables (1 sensitive, to files), resolved from 2 services\n") {
		t.Errorf("got %q", got)
	}
}

func TestConflictsAllReported(t *testing.T) {
	res := &resolve.Result{Secrets: []resolve.Secret{
		{Key: "A", Value: resolve.NewValue("a"), Sensitive: true, Origin: "api"},
		{Key: "A_FILE", Value: resolve.NewValue("x"), Origin: "api"},
		{Key: "B", Value: resolve.NewValue("b"), Sensitive: true, Origin: "api"},
		{Key: "B_FILE", Value: resolve.NewValue("y"), Origin: "api"},
		{Key: "C", Value: resolve.NewValue("c"), Sensitive: true, Origin: "api"},
	}}
	errs := conflicts(res)
	if len(errs) != 2 || !strings.Contains(errs[0].Error(), "api/A is sensitive") || !strings.Contains(errs[1].Error(), "api/B is sensitive") {
		t.Errorf("conflicts = %v; want A's and B's", errs)
	}
}
