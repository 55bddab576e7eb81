package admin_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/envinit/envinit/internal/admin"
	"github.com/envinit/envinit/internal/impact"
	"github.com/envinit/envinit/internal/resolve"
)

const canary = "CANARY-s3cr3t-v4lue"

var api = admin.Target{Alias: "api"}

func noCanary(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), canary) {
		t.Errorf("%s: the error holds the value: %q", what, strings.ReplaceAll(err.Error(), canary, "<CANARY>"))
	}
}

// set keeps __sensitive right, and writes it before a value that becomes
// sensitive and after one that stops being: never a sensitive value that
// is not listed.
func TestSetMaintainsSensitive(t *testing.T) {
	for _, tt := range []struct {
		name     string
		before   map[string]string
		sens     admin.Sensitivity
		wantOps  []string
		wantList string // "" absent
		wantOut  string
	}{
		{"new key", nil, admin.Keep, []string{"put api/K"}, "", "set $api/K"},
		{"new sensitive key", nil, admin.MakeSensitive,
			[]string{"put api/__sensitive", "put api/K"}, "K", "set $api/K (now sensitive: the container gets K_FILE)"},
		{"becomes sensitive", map[string]string{"api/K": "old", "api/A": "a", "api/B": "b", "api/__sensitive": "A, B"}, admin.MakeSensitive,
			[]string{"put api/__sensitive", "put api/K"}, "A,B,K", ""},
		{"stops being sensitive", map[string]string{"api/K": "old", "api/A": "a", "api/B": "b", "api/__sensitive": "A,K,B"}, admin.NotSensitive,
			[]string{"put api/K", "put api/__sensitive"}, "A,B", "set $api/K (no longer sensitive: the container gets K)"},
		{"last sensitive key", map[string]string{"api/K": "old", "api/__sensitive": "K"}, admin.NotSensitive,
			[]string{"put api/K", "delete api/__sensitive"}, "", ""},
		{"keeps its sensitivity", map[string]string{"api/K": "old", "api/__sensitive": "K"}, admin.Keep,
			[]string{"put api/K"}, "K", "set $api/K (sensitive: the container gets K_FILE)"},
		{"unchanged", map[string]string{"api/K": "v", "api/__sensitive": "K"}, admin.MakeSensitive,
			nil, "K", "unchanged: $api/K (sensitive: the container gets K_FILE)"},
		{"same value, now sensitive", map[string]string{"api/K": "v"}, admin.MakeSensitive,
			[]string{"put api/__sensitive"}, "K", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := newFakeStore(tt.before)
			r, err := admin.Set(context.Background(), st, admin.SetRequest{Target: api, Key: "K", Sensitive: tt.sens, Value: func() (string, error) { return "v", nil }})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(st.ops, tt.wantOps) {
				t.Errorf("writes %q; want %q", st.ops, tt.wantOps)
			}
			if got := st.params["api/__sensitive"]; got != tt.wantList {
				t.Errorf("__sensitive = %q; want %q", got, tt.wantList)
			}
			if got := st.params["api/K"]; got != "v" {
				t.Errorf("K = %q; want v", got)
			}
			if tt.wantOut != "" && r.Lines[0] != tt.wantOut {
				t.Errorf("result %q; want %q", r.Lines[0], tt.wantOut)
			}
		})
	}
}

func TestSetGlobal(t *testing.T) {
	st := newFakeStore(map[string]string{"api/URL": "#{$/DB_HOST}"})
	r, err := admin.Set(context.Background(), st, admin.SetRequest{Target: admin.Target{Global: true}, Key: "DB_HOST", Sensitive: admin.MakeSensitive, Value: func() (string, error) { return canary, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if st.params["global/DB_HOST"] != canary || st.params["global/__sensitive"] != "DB_HOST" {
		t.Errorf("store = %d params; want global/DB_HOST and global/__sensitive", len(st.params))
	}
	// The global was missing: api did not start, and now does.
	if out := r.String(); !strings.Contains(out, "$api: fixes") || !strings.Contains(out, "set $/DB_HOST (now sensitive") {
		t.Errorf("result %q; want the global set and api fixed", out)
	}
}

// set refuses what a start would refuse, before anything is written and,
// for the checks that need no value, before the value is asked for.
func TestSetRefuses(t *testing.T) {
	for _, tt := range []struct {
		name   string
		key    string
		sens   admin.Sensitivity
		value  string
		asked  bool // the value was asked for before the refusal
		reason string
	}{
		{"empty value", "K", admin.Keep, "", true, "empty value"},
		{"NUL byte", "K", admin.Keep, canary + "\x00", true, "NUL"},
		{"shell function", "K", admin.Keep, "() { " + canary + "; }", true, "exported shell function"},
		{"malformed reference", "K", admin.Keep, "pw#{" + canary, true, "--literal"},
		{"dangling reference", "K", admin.Keep, "#{$/NOPE}" + canary, true, "no global NOPE"},
		{"forbidden key", "LD_PRELOAD", admin.Keep, canary, false, "dynamic loader"},
		{"special key", "__sensitive", admin.Keep, canary, false, "special"},
		{"invalid key", "1BAD", admin.Keep, canary, false, "not a valid name"},
		{"ENVINIT key", "ENVINIT_SERVICE", admin.Keep, canary, false, "configures envinit"},
		{"sensitive next to KEY_FILE", "PW", admin.MakeSensitive, canary, false, "PW_FILE must hold its file's path"},
		{"KEY_FILE of a sensitive key", "S_FILE", admin.Keep, canary, false, "S_FILE must hold its file's path"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := newFakeStore(map[string]string{"api/PW_FILE": "/x", "api/S": "s", "api/__sensitive": "S"})
			asked := false
			_, err := admin.Set(context.Background(), st, admin.SetRequest{Target: api, Key: tt.key, Sensitive: tt.sens,
				Value: func() (string, error) { asked = true; return tt.value, nil }})
			if !errors.Is(err, resolve.ErrData) || !strings.Contains(errText(err), tt.reason) {
				t.Errorf("got %v; want a data error saying %q", errText(err), tt.reason)
			}
			if asked != tt.asked {
				t.Errorf("value asked for: %v; want %v", asked, tt.asked)
			}
			if len(st.ops) > 0 {
				t.Errorf("wrote %q; want nothing written", st.ops)
			}
			noCanary(t, tt.name, err)
		})
	}
}

// errText is an error and its hints, as main prints them.
func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	s := err.Error()
	var h interface{ Hints() []string }
	if errors.As(err, &h) {
		s += "\nhint: " + strings.Join(h.Hints(), "\nhint: ")
	}
	return s
}

// --force writes what the check refuses, and says what it broke.
func TestForce(t *testing.T) {
	st := newFakeStore(map[string]string{"api/K": "v"})
	r, err := admin.Set(context.Background(), st, admin.SetRequest{Target: api, Key: "K", Value: func() (string, error) { return "#{$/NOPE}", nil },
		Options: admin.Options{Force: true}})
	if err != nil || st.params["api/K"] != "#{$/NOPE}" {
		t.Fatalf("forced set: %v, stored %q; want it written", err, st.params["api/K"])
	}
	if broke := r.Broke(); len(broke) != 1 || !strings.Contains(broke[0], "start of api: $api/K: reference #{$/NOPE}: no global NOPE") {
		t.Errorf("Broke() = %q; want api's new problem", broke)
	}
}

func TestNameArgs(t *testing.T) {
	for _, key := range []string{"K=" + canary, "K/" + canary, "", "a b"} {
		err := admin.CheckNameArg(key)
		if !errors.Is(err, admin.ErrUsage) {
			t.Errorf("admin.CheckNameArg(%q) = %v; want a usage error", key, err)
		}
		noCanary(t, "admin.CheckNameArg", err)
	}
	for _, key := range []string{"lower_ok", "MY-KEY", "my.key"} {
		if err := admin.CheckNameArg(key); err != nil {
			t.Errorf("admin.CheckNameArg(%s) = %v; want nil: another tool may have written it", key, err)
		}
	}
	if err := admin.CheckKeyArg("MY-KEY"); !errors.Is(err, admin.ErrUsage) {
		t.Errorf("admin.CheckKeyArg(MY-KEY) = %v; want a usage error: set writes valid names only", err)
	}
}

func TestUnset(t *testing.T) {
	for _, tt := range []struct {
		name     string
		before   map[string]string
		key      string
		wantOps  []string
		wantList string
	}{
		{"plain key", map[string]string{"api/K": "v", "api/__sensitive": "S", "api/S": "s"}, "K", []string{"delete api/K"}, "S"},
		{"sensitive key", map[string]string{"api/K": "v", "api/__sensitive": "S,K", "api/S": "s"}, "K", []string{"delete api/K", "put api/__sensitive"}, "S"},
		{"last sensitive key", map[string]string{"api/K": "v", "api/__sensitive": "K", "api/S": "s"}, "K", []string{"delete api/K", "delete api/__sensitive"}, ""},
		{"the imports", map[string]string{"api/K": "v", "api/__import_svc": "$a", "a/X": "x"}, "__import_svc", []string{"delete api/__import_svc"}, ""},
		// The name still reaches api from its import: the listing stays,
		// or the imported value would go to the environment.
		{"a listed key it also imports", map[string]string{"api/K": "v", "api/__sensitive": "K", "api/__import_svc": "$a", "a/K": "a"}, "K", []string{"delete api/K"}, "K"},
		{"a name no start accepts", map[string]string{"api/MY-KEY": "v", "api/S": "s"}, "MY-KEY", []string{"delete api/MY-KEY"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := newFakeStore(tt.before)
			if _, err := admin.Unset(context.Background(), st, api, tt.key, admin.Options{}); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(st.ops, tt.wantOps) {
				t.Errorf("writes %q; want %q", st.ops, tt.wantOps)
			}
			if got := st.params["api/__sensitive"]; got != tt.wantList {
				t.Errorf("__sensitive = %q; want %q", got, tt.wantList)
			}
		})
	}
	st := newFakeStore(map[string]string{"api/K": "v", "api/__sensitive": "K"})
	_, err := admin.Unset(context.Background(), st, api, "NOPE", admin.Options{})
	if !errors.Is(err, resolve.ErrData) || !strings.Contains(fmt.Sprint(err), "envinit secrets list api") {
		t.Errorf("unset of a missing key = %v; want a data error pointing at list", err)
	}
	_, err = admin.Unset(context.Background(), st, api, "__sensitive", admin.Options{})
	if !errors.Is(err, admin.ErrUsage) || !strings.Contains(fmt.Sprint(err), "--no-sensitive") {
		t.Errorf("unset __sensitive = %v; want a usage error pointing at --no-sensitive", err)
	}
	// The last key of a service: its start fails for want of secrets.
	_, err = admin.Unset(context.Background(), st, api, "K", admin.Options{})
	if !errors.Is(err, resolve.ErrData) || !strings.Contains(errText(err), "it removes 1 service (api)") || !strings.Contains(errText(err), "--force") {
		t.Errorf("unset of the last key = %v; want it refused as removing api, pointing at --force", errText(err))
	}
	if len(st.ops) > 0 {
		t.Errorf("wrote %q; want nothing", st.ops)
	}
}

// A parameter no start reads is listed by its name and removed by it.
func TestUnsetName(t *testing.T) {
	st := newFakeStore(map[string]string{"api/K": "v", "api/old/K": "nested", "global/G": "g"})
	r, err := admin.UnsetName(context.Background(), st, prefix+"/services/api/old/K", admin.Options{})
	if err != nil || !strings.Contains(r.String(), "no start read it") || !slices.Equal(st.ops, []string{"delete api/old/K"}) {
		t.Errorf("UnsetName of a stray = %v, %v, %q; want it deleted", r, err, st.ops)
	}
	if _, err := admin.UnsetName(context.Background(), st, prefix+"/global/G", admin.Options{}); err != nil || st.params["global/G"] != "" {
		t.Errorf("UnsetName of a global = %v; want it deleted", err)
	}
	if _, err := admin.UnsetName(context.Background(), st, "/elsewhere/K", admin.Options{}); !errors.Is(err, admin.ErrUsage) {
		t.Errorf("UnsetName outside the prefix = %v; want a usage error", err)
	}
	if _, err := admin.GetName(context.Background(), st, prefix+"/services/api/K"); err != nil {
		t.Errorf("GetName of a key = %v", err)
	}
}

func TestGetAndList(t *testing.T) {
	st := newFakeStore(map[string]string{
		"api/PLAIN":        canary + "-plain",
		"api/PW":           canary + "\n",
		"api/MY-KEY":       canary,
		"api/__sensitive":  "PW,TYPO",
		"api/__import_svc": "$shared",
		"api/__typo":       canary,
		"shared/S":         canary,
	})
	if v, err := admin.Get(context.Background(), st, api, "PW"); err != nil || v.Reveal() != canary+"\n" {
		t.Errorf("get = %v; want the value byte for byte", err)
	}
	if v, err := admin.Get(context.Background(), st, api, "MY-KEY"); err != nil || v.Reveal() != canary {
		t.Errorf("get MY-KEY = %v; want any stored name", err)
	}
	l, err := admin.List(context.Background(), st, api)
	if err != nil {
		t.Fatal(err)
	}
	out := l.String()
	if strings.Contains(out, canary) {
		t.Errorf("list printed a value")
	}
	for _, want := range []string{
		`MY-KEY  -  own  1`, "envinit secrets unset api MY-KEY removes it",
		"__typo  -  own", "keys starting with __ are special",
		"TYPO  -  -", "listed in __sensitive, but no key of that name reaches $api",
		"__import_svc  -  own  1  2026-01-02T03:04:05Z  imports $shared",
		"the start of $api fails",
	} {
		if !strings.Contains(squash(out), squash(want)) {
			t.Errorf("list: want %q in:\n%s", want, out)
		}
	}
	st.params["api/__import_svc"] = canary
	if l, _ := admin.List(context.Background(), st, api); !strings.Contains(l.String(), "malformed") || strings.Contains(l.String(), canary) {
		t.Errorf("a malformed import list: got %q; want it called malformed, not printed", l)
	}
	if _, err := admin.List(context.Background(), st, admin.Target{Alias: "nope"}); !errors.Is(err, resolve.ErrData) || !strings.Contains(fmt.Sprint(err), "has no secrets") {
		t.Errorf("list of an unknown service = %v; want a data error, no secrets", err)
	}
	if l, err := admin.List(context.Background(), st, admin.Target{Global: true}); err != nil || len(l.Keys) != 0 {
		t.Errorf("list of no globals = %v, %v; want an empty listing", l, err)
	}
}

// squash collapses runs of spaces, for tables.
func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestListGlobals(t *testing.T) {
	st := newFakeStore(map[string]string{"global/G": "g", "global/S": "s", "global/__sensitive": "S", "api/U": "#{$/G}#{$/S}", "web/U": "#{$/G}"})
	l, err := admin.List(context.Background(), st, admin.Target{Global: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"G 1 2026-01-02T03:04:05Z api,web", "S 1 2026-01-02T03:04:05Z api sensitive: listed in __sensitive"} {
		if !strings.Contains(squash(l.String()), want) {
			t.Errorf("list --global: want %q in:\n%s", want, l)
		}
	}
}

func TestImportRefusesEveryProblem(t *testing.T) {
	st := newFakeStore(nil)
	bad := "A=1\nLD_PRELOAD=/x.so\nB\n" + canary + "\nA=2\nC='unterminated\nD=\n__other=x\n"
	_, err := admin.Import(context.Background(), st, admin.ImportRequest{Target: api, Name: "-", Data: []byte(bad), Sensitive: []string{"Z"}})
	if !errors.Is(err, resolve.ErrData) {
		t.Fatalf("got %v; want a data error", err)
	}
	for _, want := range []string{"line 2: LD_PRELOAD", "line 3: not a KEY=VALUE line", "line 4: not a KEY=VALUE line", "line 5: A: also on line 1", "line 6: unterminated", "line 7: D: empty value", "line 8: __other: keys starting with __ are special", "--sensitive: key \"Z\": not a key of -", "nothing was written"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q; want it to say %q", strings.ReplaceAll(err.Error(), canary, "<CANARY>"), want)
		}
	}
	if i, j := strings.Index(err.Error(), "line 2:"), strings.Index(err.Error(), "line 5:"); i > j {
		t.Errorf("problems out of line order:\n%s", err)
	}
	noCanary(t, "import", err)
	if len(st.ops) > 0 {
		t.Errorf("wrote %q; want nothing", st.ops)
	}
	if _, err := admin.Import(context.Background(), st, admin.ImportRequest{Target: admin.Target{Global: true}, Name: "-", Data: []byte("__import_svc=$a\n")}); !strings.Contains(fmt.Sprint(err), "the globals import nothing") {
		t.Errorf("imports into the globals = %v; want them refused", err)
	}
}

// Markers of render's output are refused unless allowed; a value whose
// "#{" is not a reference is refused unless --literal.
func TestImportMarkersAndLiterals(t *testing.T) {
	st := newFakeStore(nil)
	rendered := []byte("PW_FILE=/run/secrets/PW\nX=1\n")
	if _, err := admin.Import(context.Background(), st, admin.ImportRequest{Target: api, Name: "-", Data: rendered}); !strings.Contains(errText(err), "--allow-markers") {
		t.Errorf("render's KEY_FILE: %v; want it refused, naming --allow-markers", errText(err))
	}
	if _, err := admin.Import(context.Background(), st, admin.ImportRequest{Target: api, Name: "-", Data: rendered, AllowMarkers: true}); err != nil || st.params["api/PW_FILE"] != "/run/secrets/PW" {
		t.Errorf("--allow-markers: %v; want it imported", err)
	}
	lit := []byte("T='pw#{x'\nU='##{y}'\n")
	if _, err := admin.Import(context.Background(), st, admin.ImportRequest{Target: api, Name: "-", Data: lit}); !strings.Contains(errText(err), "--literal") {
		t.Errorf("a malformed reference: %v; want it refused, naming --literal", errText(err))
	}
	if _, err := admin.Import(context.Background(), st, admin.ImportRequest{Target: api, Name: "-", Data: lit, Literal: true}); err != nil || st.params["api/T"] != "pw##{x" || st.params["api/U"] != "###{y}" {
		t.Errorf("--literal: %v, T %q, U %q; want every #{ escaped", err, st.params["api/T"], st.params["api/U"])
	}
}

// A write that fails half-way says what was written and what to do.
func TestImportFailsHalfWay(t *testing.T) {
	st := newFakeStore(map[string]string{"api/X": "x"})
	st.failPut = "B"
	_, err := admin.Import(context.Background(), st, admin.ImportRequest{Target: api, Name: "-", Data: []byte("A=1\nB=2\nC=3\n")})
	if err == nil || !strings.Contains(err.Error(), "1 of 3 writes were made") || !strings.Contains(err.Error(), "run the same command again") {
		t.Errorf("got %v; want it to say what was written and to run again", err)
	}
}

func TestImportFromRefuses(t *testing.T) {
	st := newFakeStore(map[string]string{"api/K": "v", "db/D": "d"})
	for _, tt := range []struct {
		target  admin.Target
		aliases []string
		want    string
	}{
		{api, []string{"api"}, "cannot import itself"},
		{api, []string{"db", "db"}, "given twice"},
		{api, []string{"a/b"}, "not a service alias"},
		{admin.Target{Global: true}, []string{"db"}, "--global does not apply"},
	} {
		_, err := admin.ImportFrom(context.Background(), st, tt.target, tt.aliases, admin.Options{})
		if !errors.Is(err, admin.ErrUsage) || !strings.Contains(fmt.Sprint(err), tt.want) {
			t.Errorf("%v: got %v; want a usage error saying %q", tt.aliases, err, tt.want)
		}
	}
	_, err := admin.ImportFrom(context.Background(), st, api, []string{"ghost"}, admin.Options{})
	if !errors.Is(err, resolve.ErrData) || !strings.Contains(fmt.Sprint(err), "start of api: service ghost, imported by $api, has no secrets") {
		t.Errorf("import of a missing service = %v; want it refused, naming it", err)
	}
	if len(st.ops) > 0 {
		t.Errorf("wrote %q; want nothing", st.ops)
	}
}

func TestExportRefusesNamesItCannotCarry(t *testing.T) {
	st := newFakeStore(map[string]string{"api/K": canary, "api/MY-KEY": canary})
	_, err := admin.Export(context.Background(), st, api)
	if !errors.Is(err, resolve.ErrData) || !strings.Contains(errText(err), `key "MY-KEY"`) || !strings.Contains(errText(err), "envinit secrets unset api MY-KEY") {
		t.Errorf("export with MY-KEY = %v; want it refused, naming the fix", errText(err))
	}
	noCanary(t, "export", err)
}

// The JSON export imports back too, and a key given twice in it is
// refused rather than silently dropped.
func TestImportJSON(t *testing.T) {
	st := newFakeStore(map[string]string{"api/K": "a\nb 'c' \"d\" #{$/G}", "global/G": "g", "api/__sensitive": "K"})
	x, err := admin.Export(context.Background(), st, api)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := x.JSON()
	if _, err := admin.Import(context.Background(), st, admin.ImportRequest{Target: admin.Target{Alias: "copy"}, Name: "-", Data: doc}); err != nil {
		t.Fatal(err)
	}
	if st.params["copy/K"] != st.params["api/K"] || st.params["copy/__sensitive"] != "K" {
		t.Errorf("JSON import: %q %q; want api's", st.params["copy/K"], st.params["copy/__sensitive"])
	}
	for _, bad := range []string{`{"values": {"A": "1", "A": "2"}}`, `{"values": {"A": 1}}`, `{"values": {"A": "` + canary + `"}, "x": 1}`, `{"values": ` + canary} {
		_, err := admin.Import(context.Background(), st, admin.ImportRequest{Target: api, Name: "-", Data: []byte(bad)})
		if !errors.Is(err, resolve.ErrData) {
			t.Errorf("import of %q = %v; want a data error", strings.ReplaceAll(bad, canary, "<CANARY>"), err)
		}
		noCanary(t, "import JSON", err)
	}
}

// keysOf is the fake store's parameters, for comparisons.
func keysOf(st *fakeStore) []string { return slices.Sorted(maps.Keys(st.params)) }

// snapshot is the environment of a fake store, as the engine sees it.
func snapshot(t *testing.T, st *fakeStore) *impact.Env {
	t.Helper()
	env, err := st.Environment(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return impact.FromStore(env)
}

// Without --sensitive or --no-sensitive, a key keeps what the app gets:
// one it gets as a file (by an import's listing, or tainted by a
// reference) is listed when set, so it stays a file.
func TestSetKeepsWhatTheAppGets(t *testing.T) {
	for _, tt := range []struct {
		name   string
		before map[string]string
		target admin.Target
		key    string
	}{
		{"listed by the service it imports", map[string]string{"web/__import_svc": "$api", "api/PW": "p", "api/__sensitive": "PW"}, admin.Target{Alias: "web"}, "PW"},
		{"tainted by a reference", map[string]string{"api/PW": "p", "api/__sensitive": "PW", "api/DSN": "#{$api/PW}"}, api, "DSN"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := newFakeStore(tt.before)
			r, err := admin.Set(context.Background(), st, admin.SetRequest{Target: tt.target, Key: tt.key, Value: func() (string, error) { return "plain", nil }})
			if err != nil {
				t.Fatal(err)
			}
			if got := st.params[tt.target.Alias+"/__sensitive"]; !strings.Contains(got, tt.key) {
				t.Errorf("__sensitive = %q; want %s listed", got, tt.key)
			}
			if want := "set " + tt.target.Ref(tt.key) + " (sensitive: the container gets " + tt.key + "_FILE)\n"; r.String() != want {
				t.Errorf("result %q; want %q", r, want)
			}
		})
	}
}
