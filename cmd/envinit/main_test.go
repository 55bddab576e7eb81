package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/envinit/envinit/internal/execve"
	"github.com/envinit/envinit/internal/fetch"
	"github.com/envinit/envinit/internal/resolve"
)

const canary = "CANARY-c0nf1g"

func TestConfigParseErrorsNameTheVariableNotTheValue(t *testing.T) {
	for _, tt := range []struct{ name, want string }{
		{"ENVINIT_TIMEOUT", "ENVINIT_TIMEOUT: not a valid duration"},
		{"ENVINIT_OVERRIDE", "ENVINIT_OVERRIDE: not a valid boolean"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(tt.name, canary)
			t.Setenv("ENVINIT_SERVICE", "svc")
			c, err := loadConfig()
			if err != nil {
				t.Fatal(err)
			}
			err = c.validate()
			if err == nil {
				t.Fatal("got no error; want one")
			}
			if strings.Contains(err.Error(), canary) {
				t.Errorf("error echoes the value: %q", strings.ReplaceAll(err.Error(), canary, "<CANARY>"))
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q; want it to contain %q", err, tt.want)
			}
			if got := exitCode(err); got != exitConfig {
				t.Errorf("exit code %d; want %d", got, exitConfig)
			}
		})
	}
}

func TestFlagsWinOverInvalidVariables(t *testing.T) {
	t.Setenv("ENVINIT_SERVICE", "svc")
	t.Setenv("ENVINIT_TIMEOUT", "soon")
	t.Setenv("ENVINIT_OVERRIDE", "maybe")
	c, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.parseFlags("envinit", []string{"--timeout=40s", "--override", "--", "app"}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if err := c.validate(); err != nil {
		t.Fatalf("got %v; want the flags to replace the invalid variables", err)
	}
	if c.Timeout.String() != "40s" || !c.Override {
		t.Errorf("got timeout %v override %v; want 40s true", c.Timeout, c.Override)
	}
}

func TestFlagsWinOverVariables(t *testing.T) {
	t.Setenv("ENVINIT_SERVICE", "from-env")
	t.Setenv("ENVINIT_PREFIX", "/env")
	t.Setenv("ENVINIT_OVERRIDE", "false")
	c, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	rest, err := c.parseFlags("envinit", []string{"--service", "from-flag", "--override=true", "--timeout=5s", "--", "app", "--service"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Service != "from-flag" || c.Prefix != "/env" || !c.Override || c.Timeout.String() != "5s" {
		t.Errorf("got %+v; want the flags over the environment", c)
	}
	if strings.Join(rest, " ") != "app --service" {
		t.Errorf("got COMMAND %q; want %q", rest, "app --service")
	}
}

func TestDefaults(t *testing.T) {
	c, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if c.Prefix != "/envinit" || c.Timeout.String() != "30s" || !c.Override || c.Log != "info" || c.Store != "ssm" || c.SecretsDir != "" || c.User != "" {
		t.Errorf("got %+v; want SPEC §2's defaults", c)
	}
}

func TestValidate(t *testing.T) {
	ok := config{Service: "svc-abc", Prefix: "/envinit/", Timeout: 1, Log: "info", Store: "ssm"}
	for _, tt := range []struct {
		name   string
		change func(*config)
		want   string
	}{
		{"valid", func(*config) {}, ""},
		{"file store", func(c *config) { c.Store = "file:x.json" }, ""},
		{"no service", func(c *config) { c.Service = "" }, "ENVINIT_SERVICE is not set"},
		{"service with $", func(c *config) { c.Service = "$svc" }, "without the $"},
		{"bad alias", func(c *config) { c.Service = "a/b" }, "not a valid alias"},
		{"relative prefix", func(c *config) { c.Prefix = "envinit" }, "ENVINIT_PREFIX"},
		{"zero timeout", func(c *config) { c.Timeout = 0 }, "ENVINIT_TIMEOUT"},
		{"relative secrets dir", func(c *config) { c.SecretsDir = "secrets" }, "ENVINIT_SECRETS_DIR"},
		{"bad store", func(c *config) { c.Store = "s3" }, "ENVINIT_STORE"},
		{"empty file store", func(c *config) { c.Store = "file:" }, "ENVINIT_STORE"},
		{"bad log", func(c *config) { c.Log = "verbose" }, "ENVINIT_LOG"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.change(&c)
			err := c.validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v; want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v; want an error containing %q", err, tt.want)
			case tt.want != "" && exitCode(err) != exitConfig:
				t.Errorf("exit code %d; want %d", exitCode(err), exitConfig)
			}
		})
	}
	c := ok
	if err := c.validate(); err != nil || c.Prefix != "/envinit" {
		t.Errorf("got prefix %q, %v; want the trailing / trimmed", c.Prefix, err)
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
		{[]string{"serve"}, exitUsage, `unknown subcommand "serve"`},
		{[]string{"--service", "x"}, exitUsage, "must follow --"},
		{[]string{"--service", "x", "app"}, exitUsage, "must follow --"},
		{[]string{"--"}, exitUsage, "no COMMAND"},
		{[]string{"--bogus", "--", "app"}, exitUsage, "bogus"},
		{[]string{"--log=loud", "--", "app"}, exitConfig, "ENVINIT_LOG"},
	} {
		var stderr bytes.Buffer
		err := run(context.Background(), tt.args, nil, &bytes.Buffer{}, &stderr)
		if got := exitCode(err); got != tt.code || !strings.Contains(fmt.Sprint(err), tt.want) {
			t.Errorf("envinit %q: got %d %v; want %d and %q", tt.args, got, err, tt.code, tt.want)
		}
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, nil, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "envinit ") {
		t.Errorf("got %q; want the version", out.String())
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
		{&usageError{"x"}, 64},
		{&resolve.CycleError{Kind: "reference"}, 65},
		{errors.Join(&resolve.MissingError{}, &resolve.KeyError{}), 65},
		{&execve.ConflictError{}, 65},
		{fmt.Errorf("x: %w", fetch.ErrUnavailable), 69},
		{fmt.Errorf("deadline: %w", context.DeadlineExceeded), 69},
		{fmt.Errorf("x: %w", execve.ErrFiles), 73},
		{fmt.Errorf("x: %w", errInstall), 73},
		{fmt.Errorf("x: %w", fetch.ErrThrottled), 75},
		{fmt.Errorf("x: %w", fetch.ErrAccessDenied), 77},
		{&configError{"x"}, 78},
		{fmt.Errorf("x: %w", fetch.ErrConfig), 78},
		{fmt.Errorf("x: %w", execve.ErrUser), 78},
		{fmt.Errorf("x: %w", execve.ErrNotExecutable), 126},
		{fmt.Errorf("x: %w", execve.ErrNotFound), 127},
		{errors.New("a bug"), 70},
	} {
		if got := exitCode(tt.err); got != tt.code {
			t.Errorf("exitCode(%v) = %d; want %d", tt.err, got, tt.code)
		}
	}
}

func TestUserHome(t *testing.T) {
	u := execve.User{UID: 1000, Home: "/home/app"}
	env := []string{"A=1", "HOME=/root", "Z=2"}
	if got := strings.Join(userHome(env, u, &resolve.Result{}), " "); got != "A=1 HOME=/home/app Z=2" {
		t.Errorf("got %q; want HOME replaced by the user's", got)
	}
	fromStore := &resolve.Result{Secrets: []resolve.Secret{{Key: "HOME", Value: resolve.NewValue("/srv")}}}
	if got := strings.Join(userHome([]string{"HOME=/srv"}, u, fromStore), " "); got != "HOME=/srv" {
		t.Errorf("got %q; want the store's HOME kept", got)
	}
	if got := strings.Join(userHome(env, execve.User{UID: 1000}, &resolve.Result{}), " "); got != strings.Join(env, " ") {
		t.Errorf("got %q; want env unchanged for a user without a home", got)
	}
}

func TestFlagErrorsDoNotEchoValues(t *testing.T) {
	t.Setenv("ENVINIT_SERVICE", "svc")
	for _, args := range [][]string{
		{"--timeout=" + canary, "--", "app"},
		{"--override=" + canary, "--", "app"},
		{"--timeout", canary, "--", "app"},
		{"---" + canary, "--", "app"},
	} {
		var stderr bytes.Buffer
		err := run(context.Background(), args, nil, &bytes.Buffer{}, &stderr)
		if exitCode(err) != exitUsage {
			t.Errorf("%q: got %v (exit %d); want a usage error", args, err, exitCode(err))
		}
		if out := fmt.Sprint(err) + stderr.String(); strings.Contains(out, canary) {
			t.Errorf("%q: the value is echoed: %q", args, strings.ReplaceAll(out, canary, "<CANARY>"))
		}
	}
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"--timeout=x", "--"}, nil, &bytes.Buffer{}, &stderr)
	if want := "--timeout: not a valid duration"; !strings.Contains(fmt.Sprint(err), want) {
		t.Errorf("got %v; want it to contain %q", err, want)
	}
}

type throttledSource struct {
	resolve.Source
	throttled bool
}

func (s throttledSource) Throttled() bool { return s.throttled }

func TestThrottledOut(t *testing.T) {
	deadline := fmt.Errorf("ENVINIT_TIMEOUT (3s) ran out: %w", context.DeadlineExceeded)
	for _, tt := range []struct {
		src  resolve.Source
		err  error
		code int
	}{
		{throttledSource{throttled: true}, deadline, exitTempFail},
		{throttledSource{throttled: false}, deadline, exitUnavailable},
		{throttledSource{throttled: true}, fmt.Errorf("x: %w", fetch.ErrUnavailable), exitUnavailable},
		{throttledSource{throttled: true}, &resolve.CycleError{}, exitData},
	} {
		if got := exitCode(throttledOut(tt.src, tt.err)); got != tt.code {
			t.Errorf("throttled %v, %v: got exit %d; want %d", tt.src.(throttledSource).throttled, tt.err, got, tt.code)
		}
	}
}
