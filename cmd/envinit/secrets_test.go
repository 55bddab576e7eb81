package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/envinit/envinit/internal/resolve"
)

const valueCanary = "CANARY-s3cr3t-v4lue"

// fakeStore is a store in a map, keyed "api/KEY" or "global/KEY", that
// records every write.
type fakeStore struct {
	params  map[string]string
	ops     []string // "put api/KEY", "delete api/KEY"
	failPut string   // a key whose Put fails
}

func newFakeStore(params map[string]string) *fakeStore {
	if params == nil {
		params = map[string]string{}
	}
	return &fakeStore{params: maps.Clone(params)}
}

func (f *fakeStore) ServiceDir(alias string) string { return alias }
func (f *fakeStore) GlobalDir() string              { return "global" }

func (f *fakeStore) Read(_ context.Context, dir string) (map[string]resolve.Value, error) {
	kv := map[string]resolve.Value{}
	for name, v := range f.params {
		if k, ok := strings.CutPrefix(name, dir+"/"); ok {
			kv[k] = resolve.NewValue(v)
		}
	}
	return kv, nil
}

func (f *fakeStore) Put(_ context.Context, dir, key string, v resolve.Value, _ string) error {
	if key == f.failPut {
		return errors.New("put failed")
	}
	f.ops = append(f.ops, "put "+dir+"/"+key)
	f.params[dir+"/"+key] = v.Reveal()
	return nil
}

func (f *fakeStore) Delete(_ context.Context, dir, key string) error {
	f.ops = append(f.ops, "delete "+dir+"/"+key)
	delete(f.params, dir+"/"+key)
	return nil
}

type secretsRun struct {
	stdout, stderr string
	err            error
}

// runSecretsWith runs `envinit secrets args...` against store with stdin.
func runSecretsWith(t *testing.T, store *fakeStore, stdin string, args ...string) secretsRun {
	t.Helper()
	var stdout, stderr bytes.Buffer
	s := &secretsCmd{store: store, stdin: strings.NewReader(stdin), stdout: &stdout, stderr: &stderr}
	err := s.run(context.Background(), args)
	r := secretsRun{stdout: stdout.String(), stderr: stderr.String(), err: err}
	for _, out := range []string{r.stdout, r.stderr, fmt.Sprint(err)} {
		if strings.Contains(out, valueCanary) && args[0] != "get" {
			t.Errorf("secrets %s printed a value: %q", args[0], strings.ReplaceAll(out, valueCanary, "<CANARY>"))
		}
	}
	return r
}

func TestEditList(t *testing.T) {
	for _, tt := range []struct {
		list        string
		add, remove []string
		want        string
		changed     bool
	}{
		{"", []string{"A"}, nil, "A", true},
		{"A,B", []string{"C"}, nil, "A,B,C", true},
		{"A, B\tC", []string{"B"}, nil, "A,B,C", false},
		{"A,B,A", nil, nil, "A,B", false},
		{"A,B,C", nil, []string{"B"}, "A,C", true},
		{"A", nil, []string{"A"}, "", true},
		{"A", nil, []string{"Z"}, "A", false},
		{"A,B", []string{"B", "C", "C"}, []string{"A"}, "B,C", true},
		{"typo-key,A", []string{"B"}, nil, "typo-key,A,B", true},
	} {
		got, changed := editList(tt.list, tt.add, tt.remove)
		if got != tt.want || changed != tt.changed {
			t.Errorf("editList(%q, +%v, -%v) = %q, %v; want %q, %v", tt.list, tt.add, tt.remove, got, changed, tt.want, tt.changed)
		}
	}
}

// set keeps __sensitive right, and writes it before a value that becomes
// sensitive and after one that stops being: never a sensitive value that
// is not listed.
func TestSetMaintainsSensitive(t *testing.T) {
	for _, tt := range []struct {
		name     string
		before   map[string]string
		flags    []string
		stdin    string
		wantOps  []string
		wantList string // "" absent
		wantOut  string
	}{
		{"new key", nil, nil, "v", []string{"put api/K"}, "", "set $api/K\n"},
		{"new sensitive key", nil, []string{"--sensitive"}, "v",
			[]string{"put api/__sensitive", "put api/K"}, "K", "set $api/K (now sensitive: the container gets K_FILE)\n"},
		{"becomes sensitive", map[string]string{"api/K": "old", "api/__sensitive": "A, B"}, []string{"--sensitive"}, "v",
			[]string{"put api/__sensitive", "put api/K"}, "A,B,K", ""},
		{"stops being sensitive", map[string]string{"api/K": "old", "api/__sensitive": "A,K,B"}, []string{"--no-sensitive"}, "v",
			[]string{"put api/K", "put api/__sensitive"}, "A,B", "set $api/K (no longer sensitive: the container gets K)\n"},
		{"last sensitive key", map[string]string{"api/K": "old", "api/__sensitive": "K"}, []string{"--no-sensitive"}, "v",
			[]string{"put api/K", "delete api/__sensitive"}, "", ""},
		{"keeps its sensitivity", map[string]string{"api/K": "old", "api/__sensitive": "K"}, nil, "v",
			[]string{"put api/K"}, "K", "set $api/K (sensitive: the container gets K_FILE)\n"},
		{"unchanged", map[string]string{"api/K": "v", "api/__sensitive": "K"}, []string{"--sensitive"}, "v\n",
			nil, "K", "unchanged: $api/K (sensitive: the container gets K_FILE)\n"},
		{"same value, now sensitive", map[string]string{"api/K": "v"}, []string{"--sensitive"}, "v",
			[]string{"put api/__sensitive"}, "K", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := newFakeStore(tt.before)
			r := runSecretsWith(t, store, tt.stdin, append([]string{"set", "api", "K"}, tt.flags...)...)
			if r.err != nil {
				t.Fatal(r.err)
			}
			if !slices.Equal(store.ops, tt.wantOps) {
				t.Errorf("writes %q; want %q", store.ops, tt.wantOps)
			}
			if got := store.params["api/__sensitive"]; got != tt.wantList {
				t.Errorf("__sensitive = %q; want %q", got, tt.wantList)
			}
			if got := store.params["api/K"]; got != "v" {
				t.Errorf("K = %q; want v", got)
			}
			if tt.wantOut != "" && r.stdout != tt.wantOut {
				t.Errorf("stdout %q; want %q", r.stdout, tt.wantOut)
			}
		})
	}
}

func TestSetGlobal(t *testing.T) {
	store := newFakeStore(nil)
	if r := runSecretsWith(t, store, valueCanary, "set", "--global", "DB_HOST", "--sensitive"); r.err != nil {
		t.Fatal(r.err)
	}
	if store.params["global/DB_HOST"] != valueCanary || store.params["global/__sensitive"] != "DB_HOST" {
		t.Errorf("store = %d params; want global/DB_HOST and global/__sensitive", len(store.params))
	}
}

// The value comes from stdin, byte for byte but for one trailing newline,
// never from the command line.
func TestSetValueFromStdin(t *testing.T) {
	for _, tt := range []struct {
		stdin string
		flags []string
		want  string
	}{
		{"v", nil, "v"},
		{"v\n", nil, "v"},
		{"v\r\n", nil, "v"},
		{"v\n\n", nil, "v\n"},
		{"v\n", []string{"--raw"}, "v\n"},
		{"-----BEGIN KEY-----\nabc\n-----END KEY-----\n", nil, "-----BEGIN KEY-----\nabc\n-----END KEY-----"},
		{"  spaces kept  \n", nil, "  spaces kept  "},
	} {
		store := newFakeStore(nil)
		if r := runSecretsWith(t, store, tt.stdin, append([]string{"set", "api", "K"}, tt.flags...)...); r.err != nil {
			t.Errorf("stdin %q: %v", tt.stdin, r.err)
			continue
		}
		if got := store.params["api/K"]; got != tt.want {
			t.Errorf("stdin %q %v: stored %q; want %q", tt.stdin, tt.flags, got, tt.want)
		}
	}
}

func TestSetRefuses(t *testing.T) {
	for _, tt := range []struct {
		name  string
		args  []string
		stdin string
		code  int
		want  string
	}{
		{"value on the command line", []string{"set", "api", "K", valueCanary}, "v", exitUsage, "never taken from the command line"},
		{"KEY=VALUE", []string{"set", "api", "K=" + valueCanary}, "v", exitUsage, "never taken from the command line"},
		{"not a name", []string{"get", "api", "K/" + valueCanary}, "v", exitUsage, "not a valid name"},
		{"value after flags", []string{"set", "api", "K", "--sensitive", valueCanary}, "v", exitUsage, "never taken from the command line"},
		{"empty value", []string{"set", "api", "K"}, "", exitData, "empty value"},
		{"only a newline", []string{"set", "api", "K"}, "\n", exitData, "empty value"},
		{"NUL byte", []string{"set", "api", "K"}, valueCanary + "\x00", exitData, "NUL"},
		{"shell function", []string{"set", "api", "K"}, "() { " + valueCanary + "; }", exitData, "exported shell function"},
		{"forbidden key", []string{"set", "api", "LD_PRELOAD"}, valueCanary, exitData, "dynamic loader"},
		{"special key", []string{"set", "api", "__sensitive"}, valueCanary, exitData, "special"},
		{"invalid key", []string{"set", "api", "1BAD"}, valueCanary, exitData, "not a valid name"},
		{"lower-case key", []string{"set", "api", "lower_ok"}, "", exitData, "empty value"},
		{"ENVINIT key", []string{"set", "api", "ENVINIT_SERVICE"}, valueCanary, exitData, "configures envinit"},
		{"both flags", []string{"set", "api", "K", "--sensitive", "--no-sensitive"}, valueCanary, exitUsage, "give one"},
		{"bad alias", []string{"set", "$api", "K"}, valueCanary, exitUsage, "no $"},
		{"no key", []string{"set", "api"}, valueCanary, exitUsage, "want SERVICE KEY"},
		{"global import-from", []string{"import-from", "--global", "a"}, "", exitUsage, "--global does not apply"},
		{"unknown action", []string{"put", "api", "K"}, "", exitUsage, "unknown action"},
		{"sensitive next to KEY_FILE", []string{"set", "api", "PW", "--sensitive"}, valueCanary, exitData, "PW_FILE is a key too"},
		{"KEY_FILE of a sensitive key", []string{"set", "api", "S_FILE"}, valueCanary, exitData, "holds its file's path"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := newFakeStore(map[string]string{"api/PW_FILE": "/x", "api/S": "s", "api/__sensitive": "S"})
			r := runSecretsWith(t, store, tt.stdin, tt.args...)
			if r.err == nil {
				t.Fatal("no error; want one")
			}
			if got := exitCode(r.err); got != tt.code {
				t.Errorf("exit code %d; want %d (%v)", got, tt.code, r.err)
			}
			if !strings.Contains(r.err.Error(), tt.want) {
				t.Errorf("error %q; want it to say %q", strings.ReplaceAll(r.err.Error(), valueCanary, "<CANARY>"), tt.want)
			}
			if len(store.ops) > 0 {
				t.Errorf("wrote %q; want nothing written", store.ops)
			}
		})
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
			store := newFakeStore(tt.before)
			if r := runSecretsWith(t, store, "", "unset", "api", tt.key); r.err != nil {
				t.Fatal(r.err)
			}
			if !slices.Equal(store.ops, tt.wantOps) {
				t.Errorf("writes %q; want %q", store.ops, tt.wantOps)
			}
			if got := store.params["api/__sensitive"]; got != tt.wantList {
				t.Errorf("__sensitive = %q; want %q", got, tt.wantList)
			}
		})
	}
	store := newFakeStore(map[string]string{"api/K": "v", "api/__sensitive": "K"})
	r := runSecretsWith(t, store, "", "unset", "api", "NOPE")
	if exitCode(r.err) != exitData || !strings.Contains(fmt.Sprint(r.err), "envinit secrets list api") {
		t.Errorf("unset of a missing key = %v; want exit 65 pointing at list", r.err)
	}
	r = runSecretsWith(t, store, "", "unset", "api", "__sensitive")
	if exitCode(r.err) != exitUsage || !strings.Contains(fmt.Sprint(r.err), "--no-sensitive") {
		t.Errorf("unset __sensitive = %v; want exit 64 pointing at --no-sensitive", r.err)
	}
	if len(store.ops) > 0 {
		t.Errorf("wrote %q; want nothing", store.ops)
	}
}

func TestGetAndList(t *testing.T) {
	store := newFakeStore(map[string]string{
		"api/PLAIN":        valueCanary + "-plain",
		"api/PW":           valueCanary + "\n",
		"api/__sensitive":  "PW,IMPORTED",
		"api/__import_svc": "$shared, $db",
		"api/__typo":       valueCanary,
		"other/X":          "x",
	})
	r := runSecretsWith(t, store, "", "get", "api", "PW")
	if r.err != nil || r.stdout != valueCanary+"\n" {
		t.Errorf("get = %q, %v; want the value byte for byte", r.stdout, r.err)
	}
	r = runSecretsWith(t, store, "", "list", "api")
	if r.err != nil {
		t.Fatal(r.err)
	}
	want := []string{
		"PLAIN", "-",
		"PW", "sensitive",
		"__typo", "unknown special key",
		"IMPORTED", "sensitive, not a key of $api",
		"imports: $shared, $db",
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 5 {
		t.Fatalf("list printed %d lines; want 5:\n%s", len(lines), r.stdout)
	}
	for i := range 4 {
		if f := strings.Fields(lines[i]); f[0] != want[2*i] || !strings.HasPrefix(strings.Join(f[1:], " "), want[2*i+1]) {
			t.Errorf("line %d = %q; want %s then %s", i+1, lines[i], want[2*i], want[2*i+1])
		}
	}
	if lines[4] != want[8] {
		t.Errorf("last line %q; want %q", lines[4], want[8])
	}

	store.params["api/__import_svc"] = valueCanary
	r = runSecretsWith(t, store, "", "list", "api")
	if !strings.Contains(r.stdout, "imports: malformed") {
		t.Errorf("a malformed import list: got %q; want it called malformed, not printed", r.stdout)
	}
	r = runSecretsWith(t, store, "", "list", "nope")
	if exitCode(r.err) != exitData || !strings.Contains(fmt.Sprint(r.err), "has no secrets") {
		t.Errorf("list of an unknown service = %v; want exit 65, no secrets", r.err)
	}
	r = runSecretsWith(t, store, "", "get", "api", "NOPE")
	if exitCode(r.err) != exitData {
		t.Errorf("get of a missing key = %v; want exit 65", r.err)
	}
}

func TestImport(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, ".env")
	content := "# a comment\nexport A=" + valueCanary + "\nB='unchanged'\nPW=\"p\\\"w\"\n"
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	store := newFakeStore(map[string]string{"api/B": "unchanged", "api/OLD": "x", "api/__sensitive": "OLD"})
	r := runSecretsWith(t, store, "", "import", "api", file, "--sensitive", "PW")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if want := []string{"put api/__sensitive", "put api/A", "put api/PW"}; !slices.Equal(store.ops, want) {
		t.Errorf("writes %q; want %q (list first, unchanged B skipped)", store.ops, want)
	}
	if store.params["api/A"] != valueCanary || store.params["api/PW"] != `p"w` || store.params["api/__sensitive"] != "OLD,PW" {
		t.Errorf("store after import: A ok %v, PW %q, __sensitive %q", store.params["api/A"] == valueCanary, store.params["api/PW"], store.params["api/__sensitive"])
	}
	if !strings.Contains(r.stdout, "imported 3 keys into $api: 2 set, 1 unchanged, 1 sensitive") {
		t.Errorf("stdout %q", r.stdout)
	}

	// stdin, and a file with problems: all reported, nothing written.
	store = newFakeStore(nil)
	bad := "A=1\nLD_PRELOAD=/x.so\nB\n" + valueCanary + "\nA=2\nC='unterminated\n"
	r = runSecretsWith(t, store, bad, "import", "api", "-", "--sensitive", "Z")
	if exitCode(r.err) != exitData {
		t.Fatalf("exit code %d; want 65 (%v)", exitCode(r.err), r.err)
	}
	for _, want := range []string{"line 2: LD_PRELOAD", "line 3: not a KEY=VALUE line", "line 4: not a KEY=VALUE line", "line 5: A: also on line 1", "line 6: unterminated", "--sensitive: key \"Z\": not a key of -", "nothing was written"} {
		if !strings.Contains(r.err.Error(), want) {
			t.Errorf("error %q; want it to say %q", strings.ReplaceAll(r.err.Error(), valueCanary, "<CANARY>"), want)
		}
	}
	if len(store.ops) > 0 {
		t.Errorf("wrote %q; want nothing", store.ops)
	}
}

// A write that fails half-way says what was written and what to do.
func TestImportFailsHalfWay(t *testing.T) {
	store := newFakeStore(map[string]string{"api/X": "x"})
	store.failPut = "B"
	r := runSecretsWith(t, store, "A=1\nB=2\nC=3\n", "import", "api", "-")
	if r.err == nil || !strings.Contains(r.err.Error(), "1 of the values were written") || !strings.Contains(r.err.Error(), "run the same command again") {
		t.Errorf("got %v; want it to say what was written and to run again", r.err)
	}
}

func TestImportFrom(t *testing.T) {
	store := newFakeStore(map[string]string{"api/K": "v", "shared/S": "s", "db/D": "d"})
	r := runSecretsWith(t, store, "", "import-from", "api", "shared", "$db")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if got := store.params["api/__import_svc"]; got != "$shared, $db" {
		t.Errorf("__import_svc = %q; want %q", got, "$shared, $db")
	}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"import-from", "api", "shared", "nope"}, exitData, "service nope, to be imported by $api, has no secrets"},
		{[]string{"import-from", "api", "api"}, exitUsage, "cannot import itself"},
		{[]string{"import-from", "api", "db", "db"}, exitUsage, "given twice"},
		{[]string{"import-from", "api"}, exitUsage, "want SERVICE ALIAS..."},
	} {
		store.ops = nil
		r := runSecretsWith(t, store, "", tt.args...)
		if exitCode(r.err) != tt.code || !strings.Contains(fmt.Sprint(r.err), tt.want) {
			t.Errorf("%v: got %v (exit %d); want exit %d saying %q", tt.args, r.err, exitCode(r.err), tt.code, tt.want)
		}
		if len(store.ops) > 0 {
			t.Errorf("%v: wrote %q; want nothing", tt.args, store.ops)
		}
	}
}

func TestSecretsHelp(t *testing.T) {
	for _, action := range []string{"set", "get", "list", "unset", "import", "import-from"} {
		var stdout bytes.Buffer
		s := &secretsCmd{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stdout}
		if err := s.run(context.Background(), []string{action, "--help"}); err != nil {
			t.Errorf("%s --help: %v", action, err)
		}
		if !strings.Contains(stdout.String(), "examples:") || !strings.Contains(stdout.String(), "-prefix") {
			t.Errorf("%s --help: want examples and the flags:\n%s", action, stdout.String())
		}
	}
}

// The file store cannot be written: the error says what to do.
func TestSecretsNeedSSM(t *testing.T) {
	t.Setenv("ENVINIT_STORE", "file:/tmp/store.json")
	r := runSecretsWith(t, newFakeStore(nil), "", "list", "api")
	if exitCode(r.err) != exitConfig || !strings.Contains(fmt.Sprint(r.err), "--store ssm") {
		t.Errorf("got %v; want exit 78 saying how to use SSM", r.err)
	}
}
