package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// fingerprints runs envinit fingerprint --all --format json and returns
// each service's digest.
func fingerprints(t *testing.T, f *fixture) map[string]string {
	t.Helper()
	r := toolOK(t, f, f.env(""), "", "fingerprint", "--all", "--format", "json")
	assertNoLeak(t, r, f.canaries()...)
	var doc struct {
		Prefix   string
		Services []struct {
			Service, Fingerprint string
			Parameters           int
			Starts               bool
		}
	}
	if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil {
		t.Fatalf("fingerprint --format json: %v\n%s", err, r.Stdout)
	}
	out := map[string]string{}
	for _, s := range doc.Services {
		if len(s.Fingerprint) != 64 || !s.Starts || s.Parameters == 0 {
			t.Errorf("%s: fingerprint %q, %d parameters, starts %v; want a SHA-256 of a service that starts", s.Service, s.Fingerprint, s.Parameters, s.Starts)
		}
		out[s.Service] = s.Fingerprint
	}
	if doc.Prefix != f.prefix {
		t.Errorf("prefix %q; want %q", doc.Prefix, f.prefix)
	}
	return out
}

// A fingerprint changes when, and only when, something its service's start
// reads changes: a value (kumo, like SSM, gives it a new version), a
// parameter created or deleted, a sensitivity; not a change elsewhere.
func TestFingerprint(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t, map[string]string{
		"global/G":                  newCanary("global/G"),
		"global/H":                  newCanary("global/H"),
		"services/api/K":            "#{$/G}" + newCanary("api/K"),
		"services/api/__import_svc": "$shared",
		"services/shared/S":         newCanary("shared/S"),
		"services/web/W":            "#{$/H}",
		"services/other/O":          newCanary("other/O"),
	})
	env := f.env("")
	fp := fingerprints(t, f)
	if len(fp) != 4 {
		t.Fatalf("fingerprint --all: %d services; want 4", len(fp))
	}
	for _, step := range []struct {
		name    string
		change  func()
		changed []string
	}{
		{"a change to a service nobody reads", func() { toolOK(t, f, env, newCanary("new other/O"), "secrets", "set", "other", "O") }, []string{"other"}},
		{"a new key of a service nobody reads", func() { toolOK(t, f, env, newCanary("new other/P"), "secrets", "set", "other", "P") }, []string{"other"}},
		{"a global one service references", func() { toolOK(t, f, env, newCanary("new global/G"), "secrets", "set", "--global", "G") }, []string{"api"}},
		{"a global nobody references", func() { toolOK(t, f, env, newCanary("new global/Z"), "secrets", "set", "--global", "Z") }, nil},
		{"an imported key", func() { toolOK(t, f, env, newCanary("new shared/S"), "secrets", "set", "shared", "S") }, []string{"api", "shared"}},
		{"a sensitivity", func() {
			v, _, _ := toolParam(t, f, "services/shared/S")
			toolOK(t, f, env, v, "secrets", "set", "shared", "S", "--sensitive", "--raw")
		}, []string{"api", "shared"}},
		{"a value written again by another tool", func() { f.e.put(t, f.prefix+"/services/web/W", "#{$/H}") }, []string{"web"}},
		{"the same value through envinit, which does not write it", func() {
			r := toolOK(t, f, env, "#{$/H}", "secrets", "set", "web", "W")
			if !strings.HasPrefix(r.Stdout, "unchanged: $web/W") {
				t.Errorf("set of the same value: %q; want unchanged", r.Stdout)
			}
		}, nil},
		{"a key deleted", func() { toolOK(t, f, env, "", "secrets", "unset", "other", "P") }, []string{"other"}},
	} {
		before := fp
		step.change()
		fp = fingerprints(t, f)
		var changed []string
		for alias, d := range fp {
			if before[alias] != d {
				changed = append(changed, alias)
			}
		}
		slices.Sort(changed)
		if !slices.Equal(changed, step.changed) {
			t.Errorf("%s: changed the fingerprints of %v; want exactly %v", step.name, changed, step.changed)
		}
	}

	// The deploy recipes put it in the container's environment as
	// ENVINIT_FINGERPRINT: envinit ignores it, and the app never sees it.
	p := f.runOK(t, f.env("api", "ENVINIT_FINGERPRINT="+fp["api"]), f.probe()...)
	assertUnset(t, p, "ENVINIT_FINGERPRINT")

	// The text form, one service; a misspelt one is an error.
	r := toolOK(t, f, env, "", "fingerprint", "api", "web")
	if r.Stdout != "api "+fp["api"]+"\nweb "+fp["web"]+"\n" {
		t.Errorf("fingerprint api web: %q; want SERVICE DIGEST lines", r.Stdout)
	}
	if r := toolRun(t, f, env, "", "fingerprint", "apj"); r.Code != 65 || !strings.Contains(r.Stderr, "service apj has no secrets") {
		t.Errorf("fingerprint of a misspelt service: exit %d, %s; want 65", r.Code, r.Stderr)
	}
}
