package impact

import (
	"context"
	"strings"
	"testing"

	"github.com/envinit/envinit/internal/resolve"
)

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
		t.Errorf("Conflicts = %v; want A's and B's", errs)
	}
}

// checkSource is a store in a map of full names, "services/api/K" or
// "global/G".
type checkSource map[string]string

func (m checkSource) Service(_ context.Context, alias string, page func(map[string]resolve.Value)) error {
	kv := map[string]resolve.Value{}
	for name, v := range m {
		if k, ok := strings.CutPrefix(name, "services/"+alias+"/"); ok {
			kv[k] = resolve.NewValue(v)
		}
	}
	if len(kv) > 0 {
		page(kv)
	}
	return nil
}

func (m checkSource) Globals(_ context.Context, names []string) (map[string]resolve.Value, error) {
	got := map[string]resolve.Value{}
	for _, n := range names {
		if v, ok := m["global/"+n]; ok {
			got[n] = resolve.NewValue(v)
		}
	}
	return got, nil
}

func TestStartOverASource(t *testing.T) {
	src := checkSource{
		"global/G":                   "g",
		"services/ok/K":              "#{$/G}",
		"services/bad/A":             "#{$/NOPE}",
		"services/bad/B":             "#{$bad/C}",
		"services/bad/C":             "#{$bad/B}",
		"services/clash/PW":          "p",
		"services/clash/PW_FILE":     "/x",
		"services/clash/__sensitive": "PW",
	}
	for _, tt := range []struct {
		alias    string
		problems []string
	}{
		{"ok", nil},
		{"bad", []string{"no global NOPE", "reference cycle"}},
		{"clash", []string{"PW is sensitive"}},
		{"ghost", []string{"service ghost has no secrets"}},
	} {
		r, err := Start(context.Background(), src, tt.alias)
		if err != nil {
			t.Fatalf("%s: %v", tt.alias, err)
		}
		if len(r.Problems) != len(tt.problems) {
			t.Errorf("%s: problems %v; want %d", tt.alias, r.Problems, len(tt.problems))
			continue
		}
		for i, want := range tt.problems {
			if !strings.Contains(r.Problems[i].Error(), want) {
				t.Errorf("%s: problem %d %q; want it to say %q", tt.alias, i, r.Problems[i], want)
			}
		}
		if len(tt.problems) == 0 && r.Result == nil {
			t.Errorf("%s: no result for a service that resolves", tt.alias)
		}
	}
}
