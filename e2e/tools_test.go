package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// The operator tools (render, check, secrets) through the real binary,
// against kumo. docker-build is in tools_docker_test.go.

// toolRun runs envinit with exactly env, args and stdin (the harness's
// runEnvinit gives none), and checks that no canary reached stderr.
func toolRun(t *testing.T, f *fixture, env []string, stdin string, args ...string) result {
	t.Helper()
	r := toolExec(t, env, stdin, args...)
	assertStderrClean(t, r, f.canaries()...)
	return r
}

// toolExec is toolRun without the check on stderr.
func toolExec(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, envinitBin, args...)
	cmd.Env = env
	cmd.Dir = t.TempDir()
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("run envinit %s: %v", args[0], err)
	}
	return result{Stdout: stdout.String(), Stderr: stderr.String(), Code: cmd.ProcessState.ExitCode()}
}

// toolOK is toolRun that expects exit 0.
func toolOK(t *testing.T, f *fixture, env []string, stdin string, args ...string) result {
	t.Helper()
	r := toolRun(t, f, env, stdin, args...)
	if r.Code != 0 {
		t.Fatalf("envinit %s: exit %d\nstderr: %s\nstdout: %s", strings.Join(args, " "), r.Code, redact(r.Stderr), redact(r.Stdout))
	}
	return r
}

// toolParam reads a parameter straight from kumo: its value and type, or
// ok false when it does not exist.
func toolParam(t *testing.T, f *fixture, rel string) (value string, typ types.ParameterType, ok bool) {
	t.Helper()
	out, err := f.e.Client.GetParameter(context.Background(), &ssm.GetParameterInput{
		Name: aws.String(f.prefix + "/" + rel), WithDecryption: aws.Bool(true),
	})
	var nf *types.ParameterNotFound
	if errors.As(err, &nf) {
		return "", "", false
	}
	if err != nil {
		t.Fatalf("GetParameter %s: %v", rel, err)
	}
	return aws.ToString(out.Parameter.Value), out.Parameter.Type, true
}

// renderSeed is a service with its own keys, an import, a global
// reference, a sensitive key and one it taints, and a value dotenv
// parsers trip on.
func renderSeed(t *testing.T, f *fixture) (host, pw, odd, shared string) {
	host = newCanary("global/DB_HOST")
	pw = newCanary("api/DB_PASSWORD")
	odd = "it's \"quoted\"\n$HOME ${X} #not-a-comment \\ " + newCanary("api/ODD")
	shared = newCanary("shared/LOG_LEVEL")
	f.seed(t, map[string]string{
		"global/DB_HOST":            host,
		"services/api/DATABASE_URL": "postgres://#{$/DB_HOST}/app",
		"services/api/DB_PASSWORD":  pw,
		"services/api/DSN":          "user:#{$api/DB_PASSWORD}@#{$/DB_HOST}",
		"services/api/ODD":          odd,
		"services/api/__sensitive":  "DB_PASSWORD",
		"services/api/__import_svc": "$shared",
		"services/shared/LOG_LEVEL": shared,
	})
	return host, pw, odd, shared
}

// render prints what the service would get, in each format, sensitive
// values as <sensitive> unless --reveal, and writes no file.
func TestRenderFormats(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	host, pw, odd, shared := renderSeed(t, f)
	env := f.env("api", "CONTAINER_REF=at #{$/DB_HOST}", "UNRELATED=x")

	r := toolOK(t, f, env, "", "render")
	assertNoLeak(t, result{Stdout: r.Stdout}, pw)
	for _, want := range []string{
		"DATABASE_URL=postgres://" + host + "/app\n",
		"DB_PASSWORD=<sensitive>\n",
		"DB_PASSWORD_FILE=" + f.secrets + "/DB_PASSWORD\n",
		"DSN=<sensitive>\n", // it interpolates a sensitive value
		"DSN_FILE=" + f.secrets + "/DSN\n",
		"LOG_LEVEL=" + shared + "\n",
		"CONTAINER_REF=at " + host + "\n",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("render: want the line %q in:\n%s", redact(want), redact(r.Stdout))
		}
	}
	if strings.Contains(r.Stdout, "UNRELATED") || strings.Contains(r.Stdout, "PATH=") {
		t.Errorf("render without --all lists the container's own variables:\n%s", redact(r.Stdout))
	}
	if all := toolOK(t, f, env, "", "render", "--all"); !strings.Contains(all.Stdout, "UNRELATED=x\n") {
		t.Errorf("render --all: want the whole environment:\n%s", redact(all.Stdout))
	}

	// json: annotated, redacted, then revealed.
	r = toolOK(t, f, env, "", "render", "--format", "json")
	assertNoLeak(t, result{Stdout: r.Stdout}, pw)
	var doc struct {
		Service    string `json:"service"`
		SecretsDir string `json:"secrets_dir"`
		Revealed   bool   `json:"revealed"`
		Variables  []struct {
			Name, Value, Origin, Service, File string
			FileVariable                       string `json:"file_variable"`
			Sensitive                          bool
			Refs                               []string
		}
	}
	if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil {
		t.Fatalf("render --format json: %v\n%s", err, redact(r.Stdout))
	}
	if doc.Service != "api" || doc.SecretsDir != f.secrets || doc.Revealed {
		t.Errorf("json header: service %q, secrets_dir %q, revealed %v", doc.Service, doc.SecretsDir, doc.Revealed)
	}
	byName := map[string]int{}
	for i, v := range doc.Variables {
		byName[v.Name] = i
	}
	for _, want := range []struct {
		name, value, origin, service, refs string
		sensitive                          bool
	}{
		{"DATABASE_URL", "postgres://" + host + "/app", "own", "api", "$/DB_HOST", false},
		{"DB_PASSWORD", "<sensitive>", "own", "api", "", true},
		{"DSN", "<sensitive>", "own", "api", "$api/DB_PASSWORD $/DB_HOST", true},
		{"LOG_LEVEL", shared, "import", "shared", "", false},
		{"CONTAINER_REF", "at " + host, "env", "", "$/DB_HOST", false},
		{"ODD", odd, "own", "api", "", false},
	} {
		i, ok := byName[want.name]
		if !ok {
			t.Errorf("json: no variable %s", want.name)
			continue
		}
		v := doc.Variables[i]
		if v.Value != want.value || v.Origin != want.origin || v.Service != want.service || strings.Join(v.Refs, " ") != want.refs || v.Sensitive != want.sensitive {
			t.Errorf("json %s: value %q origin %s service %q refs %q sensitive %v; want %q %s %q %q %v", want.name,
				redact(v.Value), v.Origin, v.Service, v.Refs, v.Sensitive, redact(want.value), want.origin, want.service, want.refs, want.sensitive)
		}
		if want.sensitive && (v.File != f.secrets+"/"+want.name || v.FileVariable != want.name+"_FILE") {
			t.Errorf("json %s: file %q (%s); want %s/%s in %s_FILE", want.name, v.File, v.FileVariable, f.secrets, want.name, want.name)
		}
	}
	r = toolOK(t, f, env, "", "render", "--format", "json", "--reveal")
	if !strings.Contains(r.Stdout, `"value": "`+pw+`"`) || !strings.Contains(r.Stdout, `"revealed": true`) {
		t.Errorf("render --reveal: want the sensitive value")
	}

	// dotenv: loads back exactly, through envinit's own import.
	r = toolOK(t, f, env, "", "render", "--format", "dotenv")
	assertNoLeak(t, result{Stdout: r.Stdout}, pw)
	if !strings.Contains(r.Stdout, "# DB_PASSWORD=<sensitive>") {
		t.Errorf("render --format dotenv: want DB_PASSWORD as a comment:\n%s", redact(r.Stdout))
	}
	// dotenv --reveal loads back byte for byte (envinit's own import
	// reads it, once told that render's KEY_FILE lines are meant); as a
	// copy of a service it is refused: it is a resolved, flattened
	// environment (secrets export and copy are the copies).
	r = toolOK(t, f, env, "", "render", "--format", "dotenv", "--reveal")
	refused := toolRun(t, f, f.env(""), r.Stdout, "secrets", "import", "copy", "-")
	if refused.Code != 65 || !strings.Contains(refused.Stderr, "DB_PASSWORD_FILE: the path of a sensitive value's file") || !strings.Contains(refused.Stderr, "envinit secrets export") {
		t.Errorf("render --reveal | secrets import: exit %d, %s; want 65 saying it is render's output", refused.Code, redact(refused.Stderr))
	}
	if _, _, ok := toolParam(t, f, "services/copy/ODD"); ok {
		t.Errorf("render --reveal | secrets import wrote services/copy/ODD; want nothing written")
	}
	toolOK(t, f, f.env(""), r.Stdout, "secrets", "import", "copy", "-", "--allow-markers", "--literal")
	for key, want := range map[string]string{"ODD": odd, "DB_PASSWORD": pw, "LOG_LEVEL": shared, "DATABASE_URL": "postgres://" + host + "/app"} {
		if got, _, _ := toolParam(t, f, "services/copy/"+key); got != want {
			t.Errorf("render --format dotenv --reveal | secrets import --allow-markers: %s = %q; want %q", key, redact(got), redact(want))
		}
	}

	assertEmptyDir(t, f.secrets)
}

func TestRenderErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	renderSeed(t, f)
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		code int
		want string
	}{
		{"bad format", []string{"render", "--format", "yaml"}, f.env("api"), 64, "env, dotenv or json"},
		{"no service", []string{"render"}, f.env(""), 78, "ENVINIT_SERVICE is not set"},
		{"no such service", []string{"render", "--service", "nope"}, f.env(""), 65, "service nope has no secrets"},
		{"bad reference", []string{"render"}, f.env("api", "X=#{$/MISSING_G}"), 65, "no global MISSING_G"},
	} {
		r := toolRun(t, f, tc.env, "", tc.args...)
		if r.Code != tc.code || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want %d saying %q", tc.name, r.Code, redact(r.Stderr), tc.code, tc.want)
		}
		assertNoLeak(t, r, f.canaries()...)
	}
	assertEmptyDir(t, f.secrets)
}

// check reports all five problems of a store, one line each, and exits 65.
func TestCheckReportsAllProblems(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t, map[string]string{
		"services/api/TOKEN":        newCanary("api/TOKEN"),
		"services/api/__sensitive":  "TOKEN",
		"services/api/MISSING_REF":  newCanary("api/MISSING_REF") + "#{$/NO_SUCH_GLOBAL}",
		"services/api/MALFORMED":    newCanary("api/MALFORMED") + "#{$/unterminated",
		"services/api/LD_PRELOAD":   "/tmp/" + newCanary("api/LD_PRELOAD") + ".so",
		"services/api/__import_svc": "$ghost",
		"services/api/CYCLE_A":      newCanary("api/CYCLE_A") + "#{$api/CYCLE_B}",
		"services/api/CYCLE_B":      "#{$api/CYCLE_A}",
	})
	r := toolRun(t, f, f.env("api"), "", "check")
	assertCode(t, r, 65)
	assertNoLeak(t, r, f.canaries()...)
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	want := []string{"NO_SUCH_GLOBAL", "$api/MALFORMED: malformed reference", "LD_PRELOAD", "ghost", "cycle: $api/CYCLE_A -> $api/CYCLE_B -> $api/CYCLE_A"}
	if len(lines) != len(want) {
		t.Errorf("check printed %d lines; want %d, one per problem:\n%s", len(lines), len(want), redact(r.Stdout))
	}
	for _, w := range want {
		n := 0
		for _, l := range lines {
			if strings.Contains(l, w) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d lines name %q; want exactly one:\n%s", n, w, redact(r.Stdout))
		}
	}
	if !strings.Contains(r.Stderr, "5 problems") || !strings.Contains(r.Stderr, "run envinit check again") {
		t.Errorf("stderr %q; want a summary of 5 problems saying what to do", redact(r.Stderr))
	}

	// A clean service passes; a store that cannot be reached is not a data
	// problem.
	f.seed(t, map[string]string{"services/good/K": "#{$/G}", "global/G": newCanary("global/G")})
	r = toolOK(t, f, f.env(""), "", "check", "good")
	if r.Stdout != "ok: good: 1 variable (0 sensitive, to files), resolved from 1 service\n" {
		t.Errorf("check good: stdout %q", redact(r.Stdout))
	}
	r = toolRun(t, f, f.env("good", "AWS_ENDPOINT_URL_SSM=http://"+closedAddr(t), "ENVINIT_TIMEOUT=2s"), "", "check")
	assertCode(t, r, 69)
}

// What `secrets` writes, the entrypoint reads back; a change of
// sensitivity moves a key between the environment and a file.
func TestSecretsRoundTrip(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t, map[string]string{"services/shared/SHARED_KEY": newCanary("shared/SHARED_KEY")})
	pw := newCanary("set api/DB_PASSWORD")
	greeting := "hello \"world\"\n$HOME # " + newCanary("set api/GREETING")
	host := newCanary("set global/DB_HOST")
	f.seeded = append(f.seeded, pw, greeting, host) // canaries not to leak
	env := f.env("")

	r := toolOK(t, f, env, pw+"\n", "secrets", "set", "api", "DB_PASSWORD", "--sensitive")
	if r.Stdout != "set $api/DB_PASSWORD (now sensitive: the container gets DB_PASSWORD_FILE)\n" {
		t.Errorf("set: stdout %q", redact(r.Stdout))
	}
	toolOK(t, f, env, greeting, "secrets", "set", "api", "GREETING", "--raw")
	toolOK(t, f, env, host, "secrets", "set", "--global", "DB_HOST")
	toolOK(t, f, env, "postgres://#{$/DB_HOST}/app", "secrets", "set", "api", "DATABASE_URL")
	toolOK(t, f, env, "", "secrets", "import-from", "api", "shared")

	for _, rel := range []string{"services/api/DB_PASSWORD", "services/api/GREETING", "services/api/__sensitive", "services/api/__import_svc", "global/DB_HOST"} {
		if _, typ, ok := toolParam(t, f, rel); !ok || typ != types.ParameterTypeSecureString {
			t.Errorf("%s: exists %v, type %q; want a SecureString", rel, ok, typ)
		}
	}
	if v, _, _ := toolParam(t, f, "services/api/__import_svc"); v != "$shared" {
		t.Errorf("__import_svc = %q; want $shared", v)
	}

	p := f.runOK(t, f.env("api"), f.probe()...)
	assertSecretFile(t, p, f.secrets, "DB_PASSWORD", pw)
	assertEnv(t, p, "GREETING", greeting)
	assertEnv(t, p, "DATABASE_URL", "postgres://"+host+"/app")
	assertEnv(t, p, "SHARED_KEY", canariesIn(f.seeded[0])[0])

	// get prints the stored value byte for byte; list prints no value.
	if r := toolOK(t, f, env, "", "secrets", "get", "api", "GREETING"); r.Stdout != greeting {
		t.Errorf("get GREETING = %q; want %q", redact(r.Stdout), redact(greeting))
	}
	if r := toolOK(t, f, env, "", "secrets", "get", "api", "DATABASE_URL"); r.Stdout != "postgres://#{$/DB_HOST}/app" {
		t.Errorf("get DATABASE_URL = %q; want the stored value, references unresolved", redact(r.Stdout))
	}
	r = toolOK(t, f, env, "", "secrets", "list", "api")
	assertNoLeak(t, r, f.canaries()...)
	want := `KEY APP GETS FROM VERSION MODIFIED NOTE
DATABASE_URL DATABASE_URL own 1 T
DB_PASSWORD DB_PASSWORD_FILE own 1 T sensitive: listed in __sensitive
GREETING GREETING own 1 T
SHARED_KEY SHARED_KEY $shared 1 T
__import_svc - own 1 T imports $shared
__sensitive - own 1 T lists DB_PASSWORD`
	if got := listed(r.Stdout); got != want {
		t.Errorf("list:\n%s\nwant:\n%s", got, want)
	}

	// No longer sensitive: from the file to the environment, and back.
	toolOK(t, f, env, pw, "secrets", "set", "api", "DB_PASSWORD", "--no-sensitive")
	if _, _, ok := toolParam(t, f, "services/api/__sensitive"); ok {
		t.Errorf("__sensitive still exists with no sensitive key left; want it deleted")
	}
	p = f.runOK(t, f.env("api"), f.probe()...)
	assertEnv(t, p, "DB_PASSWORD", pw)
	assertUnset(t, p, "DB_PASSWORD_FILE")
	toolOK(t, f, env, pw, "secrets", "set", "api", "DB_PASSWORD", "--sensitive")
	p = f.runOK(t, f.env("api"), f.probe()...)
	assertSecretFile(t, p, f.secrets, "DB_PASSWORD", pw)

	// unset removes the key and its sensitivity; the service still starts.
	r = toolOK(t, f, env, "", "secrets", "unset", "api", "DB_PASSWORD")
	if r.Stdout != "unset $api/DB_PASSWORD (and from __sensitive)\n" {
		t.Errorf("unset: stdout %q", r.Stdout)
	}
	toolOK(t, f, env, "", "secrets", "unset", "api", "__import_svc")
	p = f.runOK(t, f.env("api"), f.probe()...)
	assertUnset(t, p, "DB_PASSWORD")
	assertUnset(t, p, "DB_PASSWORD_FILE")
	assertUnset(t, p, "SHARED_KEY")
	assertEnv(t, p, "GREETING", greeting)
}

// import sets every key of a dotenv file, exactly, or nothing at all.
func TestSecretsImport(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	token := newCanary("import api/API_TOKEN")
	multi := "-----BEGIN KEY-----\n" + newCanary("import api/PEM") + "\n-----END KEY-----"
	quoted := `it's "both" $NOT_EXPANDED #{$/LITERAL} \ ` + newCanary("import api/QUOTED")
	f.seeded = append(f.seeded, token, multi, quoted)
	file := filepath.Join(t.TempDir(), "app.env")
	content := "# exported from the old system\n" +
		"export API_TOKEN=" + token + "\n" +
		"PEM=\"" + strings.ReplaceAll(multi, "\n", `\n`) + "\"\n" +
		"QUOTED=\"" + strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`).Replace(strings.ReplaceAll(quoted, "#{$/LITERAL}", "##{$/LITERAL}")) + "\" # comment\n" +
		"PLAIN = just text  \n"
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	env := f.env("")
	r := toolOK(t, f, env, "", "secrets", "import", "api", file, "--sensitive", "API_TOKEN,PEM")
	if !strings.Contains(r.Stdout, "imported 4 keys into $api: 4 set, 0 unchanged, 2 sensitive") {
		t.Errorf("import: stdout %q", redact(r.Stdout))
	}
	p := f.runOK(t, f.env("api"), f.probe()...)
	assertSecretFile(t, p, f.secrets, "API_TOKEN", token)
	assertSecretFile(t, p, f.secrets, "PEM", multi)
	assertEnv(t, p, "QUOTED", strings.ReplaceAll(quoted, "#{$/LITERAL}", "#{$/LITERAL}"))
	assertEnv(t, p, "PLAIN", "just text")

	// Again: nothing changes, nothing is written.
	r = toolOK(t, f, env, "", "secrets", "import", "api", file)
	if !strings.Contains(r.Stdout, "0 set, 4 unchanged, 2 sensitive") {
		t.Errorf("second import: stdout %q", redact(r.Stdout))
	}

	// A file with problems: every one reported by line, nothing written.
	bad := "NEW_KEY=" + newCanary("import bad/NEW_KEY") + "\nLD_PRELOAD=/x.so\n" + newCanary("import bad/stray line") + "\nQ='unterminated\n"
	r = toolRun(t, f, env, bad, "secrets", "import", "api", "-")
	assertCode(t, r, 65)
	assertNoLeak(t, r, f.canaries()...)
	for _, want := range []string{"line 2: LD_PRELOAD", "line 3: not a KEY=VALUE line", "line 4: unterminated", "nothing was written"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("stderr %q; want %q", redact(r.Stderr), want)
		}
	}
	if _, _, ok := toolParam(t, f, "services/api/NEW_KEY"); ok {
		t.Errorf("NEW_KEY was written from a file with problems")
	}
}

// Every failure of `secrets` says what to do, exits per the README's Exit codes and prints
// no value; a value is never taken from the command line.
func TestSecretsFailures(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	existing := newCanary("api/EXISTING")
	f.seed(t, map[string]string{"services/api/EXISTING": existing, "services/api/PW_FILE": "/x"})
	onArgv := newCanary("typed on the command line")
	f.seeded = append(f.seeded, onArgv)
	env := f.env("")
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		code  int
		want  string
	}{
		{"value as an argument", []string{"secrets", "set", "api", "K", onArgv}, "", 64, "never taken from the command line"},
		{"KEY=VALUE", []string{"secrets", "set", "api", "K=" + onArgv}, "", 64, "never taken from the command line"},
		{"empty stdin", []string{"secrets", "set", "api", "K"}, "", 65, "empty value"},
		{"forbidden key", []string{"secrets", "set", "api", "LD_PRELOAD"}, onArgv, 65, "dynamic loader"},
		{"sensitive next to its _FILE", []string{"secrets", "set", "api", "PW", "--sensitive"}, onArgv, 65, "PW_FILE must hold its file's path"},
		{"get a missing key", []string{"secrets", "get", "api", "NOPE"}, "", 65, "envinit secrets list api"},
		{"list a missing service", []string{"secrets", "list", "nope"}, "", 65, "service nope has no secrets"},
		{"import from a missing service", []string{"secrets", "import-from", "api", "ghost"}, "", 65, "ghost"},
		{"unknown action", []string{"secrets", "show", "api"}, "", 64, "unknown action"},
		{"write to a file store", []string{"secrets", "set", "api", "K", "--store", "file:/x.json"}, onArgv, 78, "--store ssm"},
		{"import of a missing file", []string{"secrets", "import", "api", "/nonexistent/app.env"}, "", 66, "cannot read /nonexistent/app.env"},
		{"unreachable SSM", []string{"secrets", "set", "api", "K", "--timeout", "2s"}, onArgv, 69, "SSM"},
		{"no region", []string{"secrets", "list", "api"}, "", 78, "AWS_REGION"},
	} {
		env := env
		switch tc.name {
		case "unreachable SSM":
			env = withEnv(env, "AWS_ENDPOINT_URL_SSM=http://"+closedAddr(t))
		case "no region":
			env = withEnv(env, "AWS_REGION")
		}
		r := toolRun(t, f, env, tc.stdin, tc.args...)
		if r.Code != tc.code || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want %d saying %q", tc.name, r.Code, redact(r.Stderr), tc.code, tc.want)
		}
		assertNoLeak(t, r, f.canaries()...)
	}
	if _, _, ok := toolParam(t, f, "services/api/K"); ok {
		t.Errorf("a failed set wrote services/api/K")
	}
	if v, _, _ := toolParam(t, f, "services/api/EXISTING"); v != existing {
		t.Errorf("EXISTING changed")
	}
}

// listed is a table as secrets list prints it, columns single-spaced,
// each modification time (RFC 3339, UTC) written T.
func listed(out string) string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		lines = append(lines, modifiedRE.ReplaceAllString(strings.Join(strings.Fields(l), " "), "T"))
	}
	return strings.Join(lines, "\n")
}

var modifiedRE = regexp.MustCompile(`\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\b`)

// --help of every subcommand and action shows an example and exits 0.
func TestToolHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"render", "--help"}, {"check", "--help"}, {"docker-build", "--help"}, {"secrets", "--help"},
		{"secrets", "set", "--help"}, {"secrets", "get", "--help"}, {"secrets", "list", "--help"},
		{"secrets", "unset", "--help"}, {"secrets", "import", "--help"}, {"secrets", "import-from", "--help"},
		{"secrets", "find", "--help"}, {"secrets", "export", "--help"}, {"secrets", "copy", "--help"}, {"fingerprint", "--help"},
	} {
		r := runEnvinit(t, nil, args...)
		if r.Code != 0 || !strings.Contains(r.Stdout, "example") || !strings.HasPrefix(r.Stdout, "usage: envinit "+args[0]) {
			t.Errorf("envinit %s: exit %d; want 0 and a usage with an example:\n%s", strings.Join(args, " "), r.Code, r.Stdout)
		}
	}
	r := runEnvinit(t, nil, "help")
	for _, sub := range []string{"render", "check", "fingerprint", "secrets", "docker-build"} {
		if !strings.Contains(r.Stdout, "envinit "+sub) {
			t.Errorf("envinit help does not list %s", sub)
		}
	}
	if !slices.Contains(strings.Fields(r.Stdout), "--help'") && !strings.Contains(r.Stdout, "--help") {
		t.Errorf("envinit help does not point at SUBCOMMAND --help")
	}
}
