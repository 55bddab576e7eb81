package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/envinit/envinit/internal/dotenv"
	"github.com/envinit/envinit/internal/execve"
	"github.com/envinit/envinit/internal/resolve"
)

const (
	secretCanary = "CANARY-render-secret"
	plainCanary  = "CANARY-render-plain"
)

// testResult is a service api with its own keys, an import, a sensitive
// key, a value tainted by it, and a container variable with a reference.
func testResult() *resolve.Result {
	return &resolve.Result{
		Secrets: []resolve.Secret{
			{Key: "DATABASE_URL", Value: resolve.NewValue("postgres://u:" + secretCanary + "@db/app"), Sensitive: true, Origin: "api", Refs: []string{"$/DB_PASSWORD"}},
			{Key: "DB_PASSWORD", Value: resolve.NewValue(secretCanary), Sensitive: true, Origin: "shared"},
			{Key: "GREETING", Value: resolve.NewValue(plainCanary + ` "hi" $x #y`), Origin: "api"},
			{Key: "LOG_LEVEL", Value: resolve.NewValue("info"), Origin: "shared", Refs: []string{}},
		},
		Env: []resolve.Secret{
			{Key: "FROM_ENV", Value: resolve.NewValue("db:5432"), Origin: resolve.OriginEnv, Refs: []string{"$/DB_HOST"}},
		},
	}
}

func render(t *testing.T, container []string, override, all bool) []Var {
	t.Helper()
	res := testResult()
	env, files, err := execve.BuildEnv(execve.Env{Container: container, Refs: res.Env, Secrets: res.Secrets, Override: override, Dir: "/run/secrets"})
	if err != nil {
		t.Fatal(err)
	}
	return Vars(env, files, res, "api", all)
}

func TestRenderAnnotations(t *testing.T) {
	vars := render(t, []string{"PATH=/bin", "FROM_ENV=#{$/DB_HOST}"}, true, false)
	var buf bytes.Buffer
	if err := WriteJSON(&buf, "api", "/run/secrets", vars, false); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), secretCanary) {
		t.Fatalf("json without --reveal holds a sensitive value:\n%s", buf.String())
	}
	var doc Doc
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Service != "api" || doc.SecretsDir != "/run/secrets" || doc.Revealed {
		t.Errorf("header = %q, %q, revealed %v", doc.Service, doc.SecretsDir, doc.Revealed)
	}
	got := map[string]JSONVar{}
	var names []string
	for _, v := range doc.Variables {
		got[v.Name] = v
		names = append(names, v.Name)
	}
	if want := "DATABASE_URL DB_PASSWORD FROM_ENV GREETING LOG_LEVEL"; strings.Join(names, " ") != want {
		t.Errorf("variables %q; want %q (sorted; no PATH without --all; no *_FILE of its own)", names, want)
	}
	for _, tt := range []struct {
		name, value, origin, service, file, refs string
		sensitive                                bool
	}{
		{"DATABASE_URL", SensitiveMark, "own", "api", "/run/secrets/DATABASE_URL", "$/DB_PASSWORD", true},
		{"DB_PASSWORD", SensitiveMark, "import", "shared", "/run/secrets/DB_PASSWORD", "", true},
		{"FROM_ENV", "db:5432", "env", "", "", "$/DB_HOST", false},
		{"GREETING", plainCanary + ` "hi" $x #y`, "own", "api", "", "", false},
		{"LOG_LEVEL", "info", "import", "shared", "", "", false},
	} {
		v := got[tt.name]
		if v.Value != tt.value || v.Origin != tt.origin || v.Service != tt.service || v.File != tt.file ||
			strings.Join(v.Refs, " ") != tt.refs || v.Sensitive != tt.sensitive || v.Refs == nil {
			t.Errorf("%s: got %+v; want value %q origin %s service %q file %q refs [%s] sensitive %v",
				tt.name, v, tt.value, tt.origin, tt.service, tt.file, tt.refs, tt.sensitive)
		}
		if tt.sensitive && v.FileVar != tt.name+"_FILE" {
			t.Errorf("%s: file_variable %q; want %s_FILE", tt.name, v.FileVar, tt.name)
		}
	}

	buf.Reset()
	if err := WriteJSON(&buf, "api", "/run/secrets", vars, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"value": "`+secretCanary+`"`) || !strings.Contains(buf.String(), `"revealed": true`) {
		t.Errorf("json with --reveal: want the sensitive value and revealed: true")
	}
}

// Without --reveal no format prints a sensitive value; with it, each does.
func TestRenderRedactsUnlessRevealed(t *testing.T) {
	vars := render(t, nil, true, true)
	if s := fmt.Sprintf("%v %+v %#v", vars, vars, vars); strings.Contains(s, secretCanary) || strings.Contains(s, plainCanary) {
		t.Errorf("render's variables print their values under fmt")
	}
	for _, f := range []struct {
		name  string
		write func(*bytes.Buffer, bool) error
	}{
		{"env", func(b *bytes.Buffer, r bool) error { return WriteEnv(b, vars, r) }},
		{"dotenv", func(b *bytes.Buffer, r bool) error { return WriteDotenv(b, vars, r) }},
		{"json", func(b *bytes.Buffer, r bool) error { return WriteJSON(b, "api", "/run/secrets", vars, r) }},
	} {
		var hidden, shown bytes.Buffer
		if err := f.write(&hidden, false); err != nil {
			t.Fatal(err)
		}
		if err := f.write(&shown, true); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(hidden.String(), secretCanary) {
			t.Errorf("%s without --reveal holds a sensitive value:\n%s", f.name, hidden.String())
		}
		if !strings.Contains(hidden.String(), SensitiveMark) || !strings.Contains(hidden.String(), "/run/secrets/DB_PASSWORD") {
			t.Errorf("%s without --reveal: want %s and the file path:\n%s", f.name, SensitiveMark, hidden.String())
		}
		if !strings.Contains(shown.String(), secretCanary) {
			t.Errorf("%s with --reveal: want the sensitive value", f.name)
		}
		if !strings.Contains(hidden.String(), plainCanary) {
			t.Errorf("%s: want non-sensitive values printed", f.name)
		}
	}
}

func TestRenderEnvAndDotenv(t *testing.T) {
	vars := render(t, nil, true, false)
	var b bytes.Buffer
	if err := WriteEnv(&b, vars, false); err != nil {
		t.Fatal(err)
	}
	wantEnv := "DATABASE_URL=<sensitive>\nDATABASE_URL_FILE=/run/secrets/DATABASE_URL\n" +
		"DB_PASSWORD=<sensitive>\nDB_PASSWORD_FILE=/run/secrets/DB_PASSWORD\n" +
		"FROM_ENV=db:5432\nGREETING=" + plainCanary + " \"hi\" $x #y\nLOG_LEVEL=info\n"
	if b.String() != wantEnv {
		t.Errorf("env:\n%s\nwant:\n%s", b.String(), wantEnv)
	}

	b.Reset()
	if err := WriteDotenv(&b, vars, false); err != nil {
		t.Fatal(err)
	}
	pairs, errs := dotenv.Parse(b.Bytes())
	if len(errs) > 0 {
		t.Fatalf("dotenv output does not parse: %v\n%s", errs, b.String())
	}
	got := map[string]string{}
	for _, p := range pairs {
		got[p.Key] = p.Value
	}
	want := map[string]string{
		"DATABASE_URL_FILE": "/run/secrets/DATABASE_URL",
		"DB_PASSWORD_FILE":  "/run/secrets/DB_PASSWORD",
		"FROM_ENV":          "db:5432",
		"GREETING":          plainCanary + ` "hi" $x #y`,
		"LOG_LEVEL":         "info",
	}
	if len(got) != len(want) {
		t.Errorf("dotenv loads %v; want %v (a sensitive key only as a comment)", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("dotenv %s = %q; want %q", k, got[k], v)
		}
	}
}

// With ENVINIT_OVERRIDE=false the container's own value wins; render
// shows it as the container's, and --all adds the rest of the environment.
func TestRenderOverrideFalseAndAll(t *testing.T) {
	vars := render(t, []string{"GREETING=from the container", "DB_PASSWORD_FILE=/mnt/pw", "HOME=/root"}, false, true)
	got := map[string]Var{}
	for _, v := range vars {
		got[v.Name] = v
	}
	if v := got["GREETING"]; v.Value.Reveal() != "from the container" || v.Origin != OriginContainer || !strings.Contains(v.Note, "ENVINIT_OVERRIDE=false") {
		t.Errorf("GREETING = %+v; want the container's value, noted", v)
	}
	if v := got["DB_PASSWORD_FILE"]; v.Value.Reveal() != "/mnt/pw" || v.Origin != OriginContainer || v.Note == "" {
		t.Errorf("DB_PASSWORD_FILE = %+v; want the container's own file, noted", v)
	}
	if _, ok := got["DB_PASSWORD"]; ok {
		t.Errorf("DB_PASSWORD listed; want only the container's DB_PASSWORD_FILE")
	}
	if v := got["HOME"]; v.Value.Reveal() != "/root" || v.Origin != OriginContainer || v.Note != "" {
		t.Errorf("HOME = %+v; want it with --all, as the container's", v)
	}
	if v := got["DATABASE_URL"]; !v.Sensitive || v.File != "/run/secrets/DATABASE_URL" {
		t.Errorf("DATABASE_URL = %+v; want it still written to its file", v)
	}
	if _, ok := got["DATABASE_URL_FILE"]; ok {
		t.Errorf("DATABASE_URL_FILE listed on its own; want it as DATABASE_URL's file only")
	}
}
