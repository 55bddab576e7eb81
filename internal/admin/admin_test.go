package admin_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/envinit/envinit/internal/admin"
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
		{"becomes sensitive", map[string]string{"api/K": "old", "api/__sensitive": "A, B"}, admin.MakeSensitive,
			[]string{"put api/__sensitive", "put api/K"}, "A,B,K", ""},
		{"stops being sensitive", map[string]string{"api/K": "old", "api/__sensitive": "A,K,B"}, admin.NotSensitive,
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
			c, err := admin.Set(context.Background(), st, admin.SetRequest{Target: api, Key: "K", Sensitive: tt.sens, Value: func() (string, error) { return "v", nil }})
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
			if tt.wantOut != "" && c.String() != tt.wantOut {
				t.Errorf("result %q; want %q", c, tt.wantOut)
			}
		})
	}
}

func TestSetGlobal(t *testing.T) {
	st := newFakeStore(nil)
	_, err := admin.Set(context.Background(), st, admin.SetRequest{Target: admin.Target{Global: true}, Key: "DB_HOST", Sensitive: admin.MakeSensitive, Value: func() (string, error) { return canary, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if st.params["global/DB_HOST"] != canary || st.params["global/__sensitive"] != "DB_HOST" {
		t.Errorf("store = %d params; want global/DB_HOST and global/__sensitive", len(st.params))
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
		{"forbidden key", "LD_PRELOAD", admin.Keep, canary, false, "dynamic loader"},
		{"special key", "__sensitive", admin.Keep, canary, false, "special"},
		{"invalid key", "1BAD", admin.Keep, canary, false, "not a valid name"},
		{"ENVINIT key", "ENVINIT_SERVICE", admin.Keep, canary, false, "configures envinit"},
		{"sensitive next to KEY_FILE", "PW", admin.MakeSensitive, canary, false, "PW_FILE is a key too"},
		{"KEY_FILE of a sensitive key", "S_FILE", admin.Keep, canary, false, "holds its file's path"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := newFakeStore(map[string]string{"api/PW_FILE": "/x", "api/S": "s", "api/__sensitive": "S"})
			asked := false
			_, err := admin.Set(context.Background(), st, admin.SetRequest{Target: api, Key: tt.key, Sensitive: tt.sens,
				Value: func() (string, error) { asked = true; return tt.value, nil }})
			if !errors.Is(err, resolve.ErrData) || !strings.Contains(fmt.Sprint(err), tt.reason) {
				t.Errorf("got %v; want a data error saying %q", err, tt.reason)
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

func TestCheckKeyArg(t *testing.T) {
	for _, key := range []string{"K=" + canary, "K/" + canary, ""} {
		err := admin.CheckKeyArg(key)
		if !errors.Is(err, admin.ErrUsage) {
			t.Errorf("admin.CheckKeyArg(%q) = %v; want a usage error", key, err)
		}
		noCanary(t, "admin.CheckKeyArg", err)
	}
	if err := admin.CheckKeyArg("lower_ok"); err != nil {
		t.Errorf("admin.CheckKeyArg(lower_ok) = %v; want nil", err)
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
		{"the imports", map[string]string{"api/K": "v", "api/__import_svc": "$a"}, "__import_svc", []string{"delete api/__import_svc"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := newFakeStore(tt.before)
			if _, err := admin.Unset(context.Background(), st, api, tt.key); err != nil {
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
	_, err := admin.Unset(context.Background(), st, api, "NOPE")
	if !errors.Is(err, resolve.ErrData) || !strings.Contains(fmt.Sprint(err), "envinit secrets list api") {
		t.Errorf("unset of a missing key = %v; want a data error pointing at list", err)
	}
	_, err = admin.Unset(context.Background(), st, api, "__sensitive")
	if !errors.Is(err, admin.ErrUsage) || !strings.Contains(fmt.Sprint(err), "--no-sensitive") {
		t.Errorf("unset __sensitive = %v; want a usage error pointing at --no-sensitive", err)
	}
	if len(st.ops) > 0 {
		t.Errorf("wrote %q; want nothing", st.ops)
	}
}

func TestGetAndList(t *testing.T) {
	st := newFakeStore(map[string]string{
		"api/PLAIN":        canary + "-plain",
		"api/PW":           canary + "\n",
		"api/__sensitive":  "PW,IMPORTED",
		"api/__import_svc": "$shared, $db",
		"api/__typo":       canary,
	})
	if v, err := admin.Get(context.Background(), st, api, "PW"); err != nil || v.Reveal() != canary+"\n" {
		t.Errorf("get = %v; want the value byte for byte", err)
	}
	l, err := admin.List(context.Background(), st, api)
	if err != nil {
		t.Fatal(err)
	}
	out := l.String()
	if strings.Contains(out, canary) {
		t.Errorf("list printed a value")
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{"PLAIN -", "PW sensitive", "__typo unknown special key", "IMPORTED sensitive, not a key of $api", "imports: $shared, $db"}
	if len(lines) != len(want) {
		t.Fatalf("list printed %d lines; want %d:\n%s", len(lines), len(want), out)
	}
	for i := range want {
		if got := strings.Join(strings.Fields(lines[i]), " "); !strings.HasPrefix(got, want[i]) {
			t.Errorf("line %d = %q; want it to start %q", i+1, got, want[i])
		}
	}

	st.params["api/__import_svc"] = canary
	if l, _ := admin.List(context.Background(), st, api); !strings.Contains(l.String(), "imports: malformed") || strings.Contains(l.String(), canary) {
		t.Errorf("a malformed import list: got %q; want it called malformed, not printed", l)
	}
	if _, err := admin.List(context.Background(), st, admin.Target{Alias: "nope"}); !errors.Is(err, resolve.ErrData) || !strings.Contains(fmt.Sprint(err), "has no secrets") {
		t.Errorf("list of an unknown service = %v; want a data error, no secrets", err)
	}
	if l, err := admin.List(context.Background(), st, admin.Target{Global: true}); err != nil || len(l.Keys) != 0 {
		t.Errorf("list of no globals = %v, %v; want an empty listing", l, err)
	}
}

func TestImportRefusesEveryProblem(t *testing.T) {
	st := newFakeStore(nil)
	bad := "A=1\nLD_PRELOAD=/x.so\nB\n" + canary + "\nA=2\nC='unterminated\nD=\n"
	_, err := admin.Import(context.Background(), st, admin.ImportRequest{Target: api, Name: "-", Data: []byte(bad), Sensitive: []string{"Z"}})
	if !errors.Is(err, resolve.ErrData) {
		t.Fatalf("got %v; want a data error", err)
	}
	for _, want := range []string{"line 2: LD_PRELOAD", "line 3: not a KEY=VALUE line", "line 4: not a KEY=VALUE line", "line 5: A: also on line 1", "line 6: unterminated", "line 7: empty value", "--sensitive: key \"Z\": not a key of -", "nothing was written"} {
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
}

// A write that fails half-way says what was written and what to do.
func TestImportFailsHalfWay(t *testing.T) {
	st := newFakeStore(map[string]string{"api/X": "x"})
	st.failPut = "B"
	_, err := admin.Import(context.Background(), st, admin.ImportRequest{Target: api, Name: "-", Data: []byte("A=1\nB=2\nC=3\n")})
	if err == nil || !strings.Contains(err.Error(), "1 of the values were written") || !strings.Contains(err.Error(), "run the same command again") {
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
		_, err := admin.ImportFrom(context.Background(), st, tt.target, tt.aliases)
		if !errors.Is(err, admin.ErrUsage) || !strings.Contains(fmt.Sprint(err), tt.want) {
			t.Errorf("%v: got %v; want a usage error saying %q", tt.aliases, err, tt.want)
		}
	}
	if len(st.ops) > 0 {
		t.Errorf("wrote %q; want nothing", st.ops)
	}
}
