package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/envinit/envinit/internal/admin"
	"github.com/envinit/envinit/internal/cli"
	"github.com/envinit/envinit/internal/dockerbuild"
	"github.com/envinit/envinit/internal/execve"
	"github.com/envinit/envinit/internal/fetch"
	"github.com/envinit/envinit/internal/install"
	"github.com/envinit/envinit/internal/resolve"
	"github.com/envinit/envinit/internal/term"
)

const canary = "CANARY-c0nf1g"

type runResult struct {
	stdout, stderr string
	err            error
	execed         []string // the argv exec was given, if it was called
}

// memStore is a store in a map, keyed by the name under the prefix:
// "services/api/KEY", "global/KEY".
type memStore map[string]string

// memAt is a memStore under a prefix, as the tools see it.
type memAt struct {
	m      memStore
	prefix string
}

func (s memAt) Environment(_ context.Context, _ func(fetch.Progress)) (*fetch.Environment, error) {
	var params []fetch.Parameter
	for rel, v := range s.m {
		params = append(params, fetch.Parameter{Name: s.prefix + "/" + rel, Version: 1, Value: resolve.NewValue(v)})
	}
	return fetch.EnvironmentOf(s.prefix, params), nil
}

func (s memAt) Put(_ context.Context, name string, v resolve.Value, _ string) error {
	s.m[strings.TrimPrefix(name, s.prefix+"/")] = v.Reveal()
	return nil
}

func (s memAt) Delete(_ context.Context, name string) error {
	delete(s.m, strings.TrimPrefix(name, s.prefix+"/"))
	return nil
}

// runApp runs envinit in process with stdin's content, the secrets tool
// writing to a map and the exec recorded instead of made; stderr is what
// main would print.
func runApp(t *testing.T, store memStore, args ...string) runResult {
	return runAppStdin(t, store, "", args...)
}

func runAppStdin(t *testing.T, store memStore, stdin string, args ...string) runResult {
	t.Helper()
	in, err := os.CreateTemp(t.TempDir(), "stdin")
	if err != nil {
		t.Fatal(err)
	}
	in.WriteString(stdin)
	in.Seek(0, 0)
	defer in.Close()
	var stdout, stderr bytes.Buffer
	var r runResult
	a := &app{stdin: in, stdout: &stdout, stderr: &stderr, environ: os.Environ(),
		exec: func(path string, argv, env []string) error { r.execed = argv; return nil },
		reader: func(ctx context.Context, c *config) (admin.Reader, error) {
			if strings.HasPrefix(c.Store, "file:") {
				return openReader(ctx, c)
			}
			if store == nil {
				return nil, errors.New("no store in this test")
			}
			return memAt{store, c.Prefix}, nil
		},
		writer: func(_ context.Context, c *config) (admin.Store, error) {
			if store == nil {
				return nil, errors.New("no store in this test")
			}
			return memAt{store, c.Prefix}, nil
		},
	}
	r.err = a.run(context.Background(), args)
	if r.err != nil {
		cli.PrintError(&stderr, r.err)
	}
	r.stdout, r.stderr = stdout.String(), stderr.String()
	return r
}

// errorText is err as main prints it.
func errorText(err error) string {
	var b strings.Builder
	cli.PrintError(&b, err)
	return b.String()
}

// contract is one subcommand's line in TestContract: a command line that
// succeeds, and a flag of it that takes a typed value.
type contract struct {
	name    string
	args    []string // succeeds as it is
	stdin   string
	typed   string // a flag whose value must parse; "" when it has none
	wantOut string
}

// Every subcommand keeps the README's promises about flags, variables and
// errors: a flag's value that does not parse is a usage error that does
// not echo it; a valid flag wins over an invalid variable; an invalid
// variable the command does not use is ignored; --help goes to stdout;
// an unknown flag is a usage error with a suggestion.
func TestContract(t *testing.T) {
	shm, err := os.MkdirTemp("/dev/shm", "envinit-test-")
	if err != nil {
		t.Skipf("no /dev/shm: %v", err)
	}
	defer os.RemoveAll(shm)
	install := t.TempDir()
	seeded := memStore{"services/api/K": "v", "services/api/S": "s", "services/db/D": "d", "global/G": "g"}
	cases := []contract{
		{"exec", []string{"--", "/bin/true"}, "", "timeout", ""},
		{"render", []string{"render", "demo"}, "", "timeout", "DATABASE_URL="},
		{"check", []string{"check", "demo"}, "", "timeout", "ok: demo"},
		{"docker-build", []string{"docker-build", "demo", "--dry-run", "--", "."}, "", "timeout", "docker build"},
		{"secrets set", []string{"secrets", "set", "api", "K"}, "v2", "timeout", "set $api/K"},
		{"secrets get", []string{"secrets", "get", "api", "K"}, "", "timeout", "v"},
		{"secrets list", []string{"secrets", "list", "api"}, "", "timeout", "K"},
		{"secrets unset", []string{"secrets", "unset", "api", "S"}, "", "timeout", "unset $api/S"},
		{"secrets import", []string{"secrets", "import", "api", "-"}, "A=1\n", "timeout", "imported 1 key into"},
		{"secrets import-from", []string{"secrets", "import-from", "api", "db"}, "", "timeout", "$api imports $db"},
		{"secrets find", []string{"secrets", "find", "K"}, "", "timeout", "$api/K"},
		{"secrets export", []string{"secrets", "export", "api", "--format", "json"}, "", "timeout", `"K": "v"`},
		{"secrets copy", []string{"secrets", "copy", "api", "api2"}, "", "timeout", "copied $api to $api2"},
		{"fingerprint", []string{"fingerprint", "demo"}, "", "timeout", "demo "},
		{"install", []string{"install", install}, "", "", "installed"},
		{"completion", []string{"completion", "bash"}, "", "", "complete -o default -F _envinit envinit"},
		{"check --all", []string{"check", "--all"}, "", "timeout", "ok: demo"},
		{"version", []string{"version"}, "", "", "envinit "},
		{"help", []string{"help"}, "", "", "usage:"},
	}
	bad := map[string]string{ // an invalid value of each setting's variable
		"ENVINIT_SERVICE": "$" + canary, "ENVINIT_PREFIX": canary, "ENVINIT_SECRETS_DIR": canary, "ENVINIT_TIMEOUT": canary,
		"ENVINIT_OVERRIDE": canary, "ENVINIT_LOG": canary, "ENVINIT_STORE": canary,
	}
	baseEnv := func(t *testing.T) {
		for name := range bad {
			t.Setenv(name, "") // an empty variable is an unset one
		}
		t.Setenv("ENVINIT_STORE", "file:../../examples/store.json")
		t.Setenv("ENVINIT_SERVICE", "demo")
		t.Setenv("ENVINIT_SECRETS_DIR", shm)
	}
	for _, tc := range cases {
		cmd := commandOf(tc.args)
		t.Run(tc.name, func(t *testing.T) {
			reset := func() {
				baseEnv(t)
				if strings.HasPrefix(tc.name, "secrets") {
					t.Setenv("ENVINIT_STORE", "") // secrets writes to SSM (here, a map)
				}
			}
			reset()
			run := func(extra ...string) runResult {
				args := slices.Clone(tc.args)
				// Flags go before -- (and before the exec form's --).
				i := slices.Index(args, "--")
				if i < 0 {
					i = len(args)
				}
				args = slices.Insert(args, i, extra...)
				return runAppStdin(t, maps.Clone(seeded), tc.stdin, args...)
			}
			if r := run(); r.err != nil || !strings.Contains(r.stdout, tc.wantOut) {
				t.Fatalf("baseline: %v, stdout %q; want success printing %q\n%s", r.err, r.stdout, tc.wantOut, r.stderr)
			}

			// A flag given a value that does not parse: 64, not echoed.
			flagName := tc.typed
			if flagName == "" {
				flagName = "timeout" // not a flag of it: unknown, still not echoed
			}
			r := run("--" + flagName + "=" + canary)
			if exitCode(r.err) != exitUsage || strings.Contains(r.stderr+r.stdout, canary) {
				t.Errorf("--%s=<canary>: exit %d, stderr %q; want 64 without the value", flagName, exitCode(r.err), strings.ReplaceAll(r.stderr, canary, "<CANARY>"))
			}

			// A valid flag over an invalid variable: the flag wins.
			if tc.typed != "" {
				t.Setenv(settingNamed(tc.typed).Var, canary)
				if r := run("--" + tc.typed + "=10s"); r.err != nil {
					t.Errorf("--%s over an invalid %s: %v; want the flag to win", tc.typed, settingNamed(tc.typed).Var, r.err)
				}
				reset()
			}

			// Invalid variables the command does not use: ignored.
			for name, v := range bad {
				if !slices.ContainsFunc(cmd.Settings, func(s *cli.Flag) bool { return s.Var == name }) {
					t.Setenv(name, v)
				}
			}
			if r := run(); r.err != nil {
				t.Errorf("with invalid variables it does not use: %v; want them ignored", r.err)
			}
			reset()

			// --help: stdout, exit 0.
			if r := run("--help"); r.err != nil || !strings.HasPrefix(r.stdout, "usage:") || r.stderr != "" {
				t.Errorf("--help: %v, stdout %.40q, stderr %q; want the usage on stdout", r.err, r.stdout, r.stderr)
			}

			// An unknown flag: 64, with the closest one suggested.
			typo, want := "--hepl", "--help"
			if names := cmd.AllNames(); len(names) > 0 {
				typo, want = "--"+names[0]+"x", "--"+names[0]
			}
			r = run(typo)
			if exitCode(r.err) != exitUsage || !strings.Contains(r.stderr, "did you mean "+want) && want != "--help" {
				t.Errorf("%s: exit %d, stderr %q; want 64 suggesting %s", typo, exitCode(r.err), r.stderr, want)
			}
		})
	}
	if entries, _ := os.ReadDir(shm); len(entries) > 0 {
		t.Errorf("%s holds %d files after the runs; want the exec form's files removed", shm, len(entries))
	}
}

// commandOf is the command args run.
func commandOf(args []string) *command {
	if strings.HasPrefix(args[0], "-") {
		return execCommand
	}
	cmd, _, err := lookup(args)
	if err != nil {
		panic(err)
	}
	return cmd
}

// Every setting reaches its command through the one path: its variable,
// or its flag over it.
func TestEverySettingHasItsVariable(t *testing.T) {
	for _, s := range settings {
		t.Run(s.Var, func(t *testing.T) {
			valid := map[string]string{"service": "svc", "prefix": "/p", "secrets-dir": "/run/x", "timeout": "7s",
				"override": "false", "user": "app", "log": "debug", "store": "file:/x.json", "kms-key-id": "alias/k",
				"no-new-privs": "true"}[s.Flag]
			cmd := &command{Name: "t", Settings: uses(s.Flag)}
			t.Setenv(s.Var, valid)
			c, err := loadConfig(cmd, nil)
			if err != nil || c.from[s.Flag] != s.Var {
				t.Fatalf("%s=%s: %v, from %q; want it read", s.Var, valid, err, c.from[s.Flag])
			}
			c, err = loadConfig(cmd, map[string]string{s.Flag: valid})
			if err != nil || c.from[s.Flag] != "--"+s.Flag {
				t.Errorf("--%s: %v, from %q; want the flag", s.Flag, err, c.from[s.Flag])
			}
		})
	}
}

func TestConfigErrorsNameTheVariableNotTheValue(t *testing.T) {
	for _, name := range []string{"ENVINIT_TIMEOUT", "ENVINIT_OVERRIDE", "ENVINIT_LOG", "ENVINIT_PREFIX", "ENVINIT_STORE", "ENVINIT_SECRETS_DIR", "ENVINIT_SERVICE"} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("ENVINIT_SERVICE", "svc")
			t.Setenv(name, "$"+canary)
			r := runApp(t, nil, "--", "/bin/true")
			if exitCode(r.err) != exitConfig || !strings.Contains(r.stderr, "envinit: "+name+": ") || strings.Contains(r.stderr, canary) {
				t.Errorf("got exit %d, %q; want 78 naming %s without its value", exitCode(r.err), strings.ReplaceAll(r.stderr, canary, "<CANARY>"), name)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c, err := loadConfig(execCommand, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Prefix != "/envinit" || c.Timeout.String() != "30s" || !c.Override || c.Log != logLevels["info"] || c.Store != "ssm" || c.SecretsDir != "" || c.User != "" {
		t.Errorf("got %+v; want the README's defaults", c)
	}
}

func TestCommandLine(t *testing.T) {
	t.Setenv("ENVINIT_SERVICE", "svc")
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{nil, exitUsage, "no command"},
		{[]string{"serve"}, exitUsage, `unknown command "serve"`},
		{[]string{"--service", "x"}, exitUsage, "must follow --"},
		{[]string{"--service", "x", "app"}, exitUsage, "must follow --"},
		{[]string{"--"}, exitUsage, "no COMMAND"},
		{[]string{"--bogus", "--", "app"}, exitUsage, "unknown flag --bogus"},
		{[]string{"--log=loud", "--", "app"}, exitUsage, "--log: must be quiet, info or debug"},
		{[]string{"--override", "false", "--", "app"}, exitUsage, "write --override=false"},
		{[]string{"--service"}, exitUsage, "--service needs a value"},
		{[]string{"render", "a", "--service", "b"}, exitUsage, "given twice"},
		{[]string{"render", "--format", "yaml"}, exitUsage, "--format must be env, dotenv or json"},
		{[]string{"secrets"}, exitUsage, "no action"},
		{[]string{"secrets", "put"}, exitUsage, `unknown action "put"`},
		{[]string{"secrets", "list", "--override"}, exitUsage, "unknown flag --override"},
		{[]string{"install"}, exitUsage, "got 0 arguments"},
		{[]string{"help", "nope"}, exitUsage, `unknown command "nope"`},
	} {
		r := runApp(t, nil, tt.args...)
		if got := exitCode(r.err); got != tt.code || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("envinit %q: got %d %q; want %d and %q", tt.args, got, r.stderr, tt.code, tt.want)
		}
	}
}

// help and --help print to stdout; an alias prints the version.
func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}, {"help", "render"}, {"help", "secrets", "set"}, {"secrets", "help"}, {"secrets", "set", "-h"}} {
		r := runApp(t, nil, args...)
		if r.err != nil || !strings.HasPrefix(r.stdout, "usage:") || r.stderr != "" {
			t.Errorf("envinit %q: %v, stdout %.30q, stderr %q; want the usage on stdout", args, r.err, r.stdout, r.stderr)
		}
	}
	for _, args := range [][]string{{"version"}, {"--version"}, {"-v"}} {
		if r := runApp(t, nil, args...); r.err != nil || !strings.HasPrefix(r.stdout, "envinit ") {
			t.Errorf("envinit %q: %v %q; want the version", args, r.err, r.stdout)
		}
	}
	if v := versionString(); v == "" {
		t.Error("versionString is empty")
	}
}

// The secrets tool's command line: values never taken from it, nor
// echoed.
func TestSecretsCommandLine(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"secrets", "set", "api", "K", canary}, "never taken from the command line"},
		{[]string{"secrets", "set", "api", "K=" + canary}, "never taken from the command line"},
		{[]string{"secrets", "set", "api", "K", "--sensitive", canary}, "never taken from the command line"},
		{[]string{"secrets", "get", "api", "K/" + canary}, "not a valid name"},
		{[]string{"secrets", "set", "api", "K", "--sensitive", "--no-sensitive"}, "give one"},
		{[]string{"secrets", "set", "$api", "K"}, "no $"},
		{[]string{"secrets", "set", "api"}, "SERVICE KEY"},
		{[]string{"secrets", "import-from", "--global", "a"}, "--global does not apply"},
		{[]string{"secrets", "import-from", "api"}, "SERVICE ALIAS..."},
	} {
		store := memStore{"services/api/K": "v"}
		r := runAppStdin(t, store, "v", tt.args...)
		if exitCode(r.err) != exitUsage || !strings.Contains(r.stderr, tt.want) || strings.Contains(r.stderr, canary) {
			t.Errorf("%q: exit %d, %q; want 64 saying %q, no value", tt.args, exitCode(r.err), strings.ReplaceAll(r.stderr, canary, "<CANARY>"), tt.want)
		}
		if store["services/api/K"] != "v" || len(store) != 1 {
			t.Errorf("%q: the store changed", tt.args)
		}
	}
	t.Setenv("ENVINIT_STORE", "file:/x.json")
	if r := runAppStdin(t, memStore{}, "v", "secrets", "set", "api", "K"); exitCode(r.err) != exitConfig || !strings.Contains(r.stderr, "--store ssm") {
		t.Errorf("a write to a file store: %v; want 78 saying how to use SSM", r.err)
	}
}

// set reads stdin byte for byte but for one trailing newline.
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
		{"  spaces kept  \n", nil, "  spaces kept  "},
	} {
		store := memStore{}
		if r := runAppStdin(t, store, tt.stdin, append([]string{"secrets", "set", "api", "K"}, tt.flags...)...); r.err != nil {
			t.Errorf("stdin %q: %v", tt.stdin, r.err)
			continue
		}
		if got := store["services/api/K"]; got != tt.want {
			t.Errorf("stdin %q %v: stored %q; want %q", tt.stdin, tt.flags, got, tt.want)
		}
	}
}

func TestExitCodes(t *testing.T) {
	for _, tt := range []struct {
		err  error
		code int
	}{
		{&interrupted{syscall.SIGTERM}, 143},
		{&interrupted{syscall.SIGINT}, 130},
		{fmt.Errorf("fetching: %w", &interrupted{syscall.SIGTERM}), 143},
		{&term.InterruptedError{Signal: syscall.SIGINT}, 130},
		{cli.Usagef("", "x"), 64},
		{&admin.UsageError{Reason: "x"}, 64},
		{&resolve.CycleError{Kind: "reference"}, 65},
		{errors.Join(&resolve.MissingError{}, &resolve.KeyError{}), 65},
		{&execve.ConflictError{}, 65},
		{fmt.Errorf("x: %w", fetch.ErrUnavailable), 69},
		{fmt.Errorf("deadline: %w", context.DeadlineExceeded), 69},
		{fmt.Errorf("x: %w", execve.ErrFiles), 73},
		{fmt.Errorf("x: %w", install.Err), 73},
		{fmt.Errorf("x: %w", fetch.ErrThrottled), 75},
		{fmt.Errorf("x: %w", fetch.ErrAccessDenied), 77},
		{&configError{msg: "x"}, 78},
		{&noInputError{file: "x.env", err: os.ErrNotExist}, 66},
		{&resolve.ValueError{Where: "$api/K", Reason: "the two entries differ"}, 65},
		{&admin.RefusedError{Op: "secrets set"}, 65},
		{fmt.Errorf("x: %w", fetch.ErrConfig), 78},
		{fmt.Errorf("x: %w", execve.ErrUser), 78},
		{&dockerbuild.BuildKitOffError{}, 78},
		{fmt.Errorf("x: %w", execve.ErrNotExecutable), 126},
		{fmt.Errorf("x: %w", execve.ErrNotFound), 127},
		{errors.New("a bug"), 70},
	} {
		if got := exitCode(tt.err); got != tt.code {
			t.Errorf("exitCode(%v) = %d; want %d", tt.err, got, tt.code)
		}
	}
}

// An error prints on one line, its hints on lines of their own; each
// line starts "envinit: ".
func TestPrintError(t *testing.T) {
	err := &configError{msg: "ENVINIT_SERVICE is not set", hints: []string{"set it"}}
	if got, want := errorText(fmt.Errorf("wrapped: %w", err)), "envinit: wrapped: ENVINIT_SERVICE is not set\nenvinit: hint: set it\n"; got != want {
		t.Errorf("got %q; want %q", got, want)
	}
	err = &configError{msg: "2 problems:\n  one\n  two"}
	if got, want := errorText(err), "envinit: 2 problems:\nenvinit:   one\nenvinit:   two\n"; got != want {
		t.Errorf("got %q; want %q", got, want)
	}
}

// The read-only actions work on a file store; the writes do not.
func TestReadOnlyActionsOnAFileStore(t *testing.T) {
	t.Setenv("ENVINIT_STORE", "file:../../examples/store.json")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"secrets", "list"}, "demo"},
		{[]string{"secrets", "list", "demo"}, "DB_PASSWORD_FILE"},
		{[]string{"secrets", "list", "--global"}, "DB_HOST"},
		{[]string{"secrets", "get", "demo", "GREETING"}, "hello from envinit"},
		{[]string{"secrets", "find", "DB_HOST"}, "$demo/DATABASE_URL"},
		{[]string{"secrets", "export", "demo"}, "__import_svc='$shared'"},
		{[]string{"fingerprint", "--all"}, "shared "},
		{[]string{"check", "demo"}, "ok: demo"},
		{[]string{"render", "demo"}, "GREETING="},
	} {
		r := runApp(t, nil, tt.args...)
		if r.err != nil || !strings.Contains(r.stdout, tt.want) {
			t.Errorf("%q on a file store: %v, stdout %q; want %q", tt.args, r.err, r.stdout, tt.want)
		}
	}
}

// An input file that cannot be read is 66, EX_NOINPUT, whatever the store.
func TestImportOfAMissingFile(t *testing.T) {
	r := runApp(t, memStore{}, "secrets", "import", "api", "/nonexistent/app.env")
	if exitCode(r.err) != exitNoInput || !strings.Contains(r.stderr, "cannot read /nonexistent/app.env: no such file or directory") {
		t.Errorf("import of a missing file: exit %d, %q; want 66 naming it", exitCode(r.err), r.stderr)
	}
}

// A long read of the environment says how far it has got (term.Status
// decides when).
func TestProgress(t *testing.T) {
	var b strings.Builder
	for _, p := range []fetch.Progress{{Listed: 50, Listing: true, ToRead: 50}, {Listed: 120, Read: 120, ToRead: 120}} {
		progress(term.NewStatus(&b, 0), "/envinit")(p) // a first line shows at once
	}
	want := "envinit: reading the environment under /envinit/: 50 names listed so far, 0 of 50 values read\n" +
		"envinit: reading the environment under /envinit/: 120 names listed, 120 of 120 values read\n"
	if b.String() != want {
		t.Errorf("progress: %q; want %q", b.String(), want)
	}
}

// A signal that arrives before the watch stops is seen after it stops,
// whichever way it was delivered.
func TestSignalWatch(t *testing.T) {
	for range 20 {
		ctx, stop := contextWithExitSignalWatch(context.Background())
		if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		<-ctx.Done() // the watch or stop sees it; wait for the watch
		stop()
		var intr *interrupted
		if err := interruption(ctx); !errors.As(err, &intr) || intr.sig != syscall.SIGTERM {
			t.Fatalf("interruption = %v; want SIGTERM", err)
		}
	}
	ctx, stop := contextWithExitSignalWatch(context.Background())
	stop()
	stop() // twice is fine
	if err := interruption(ctx); err != nil {
		t.Errorf("interruption after a stop with no signal = %v; want nil", err)
	}
}
