package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/envinit/envinit/internal/execve"
	"github.com/envinit/envinit/internal/fetch"
	"github.com/envinit/envinit/internal/resolve"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

const usage = `usage:
  envinit [flags] -- COMMAND [ARG...]   resolve the service's secrets, then exec COMMAND
  envinit render [--format F] [flags]   print the environment the service would get
  envinit check [flags] [SERVICE...]    report every problem of the service's data (CI)
  envinit secrets ACTION ...            set, get, list, unset, import, import-from secrets
  envinit docker-build [flags] -- ARGS  docker build with the secrets as build args and secrets
  envinit version                       print the version
  envinit install DIR                   copy this binary to DIR/envinit (Kubernetes init container)

'envinit SUBCOMMAND --help' shows a subcommand's flags and examples.

flags (each also an ENVINIT_* variable; a flag wins):
`

// run dispatches a command line. The exec form returns only on failure.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		printUsage(stderr)
		return &usageError{"no command: envinit [flags] -- COMMAND [ARG...]"}
	}
	switch args[0] {
	case "version":
		fmt.Fprintf(stdout, "envinit %s\n", version)
		return nil
	case "install":
		return runInstall(args[1:], stdout, stderr)
	case "render":
		return runRender(ctx, args[1:], environ, stdout, stderr)
	case "check":
		return runCheck(ctx, args[1:], stdout, stderr)
	case "secrets":
		return runSecrets(ctx, args[1:], environ, os.Stdin, stdout, stderr)
	case "docker-build":
		return runDockerBuild(ctx, args[1:], environ, stdout, stderr)
	case "help", "-h", "-help", "--help":
		printUsage(stdout)
		return nil
	}
	if !strings.HasPrefix(args[0], "-") {
		return &usageError{fmt.Sprintf("unknown subcommand %q; to start a command: envinit [flags] -- COMMAND", args[0])}
	}
	return runExec(ctx, args, environ, stderr)
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, usage)
	var c config
	fs := flag.NewFlagSet("envinit", flag.ContinueOnError)
	fs.SetOutput(w)
	c.flags(fs)
	fs.PrintDefaults()
}

// runExec is the entrypoint form: resolve everything, write the sensitive
// files, exec COMMAND. Every step that can fail runs before the first file
// is written, so a failure leaves nothing behind.
func runExec(ctx context.Context, args, environ []string, stderr io.Writer) error {
	c, err := loadConfig()
	if err != nil {
		return err
	}
	argv, err := c.parseFlags("envinit", args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stderr)
		return nil
	}
	if err != nil {
		return err
	}
	if n := len(args) - len(argv); n == 0 || args[n-1] != "--" {
		return &usageError{"COMMAND must follow --: envinit [flags] -- COMMAND [ARG...]"}
	}
	if len(argv) == 0 {
		return &usageError{"no COMMAND after --"}
	}
	if err := c.validate(); err != nil {
		return err
	}
	log := c.logger(stderr)
	start := time.Now()

	// As PID 1 no signal has a default action, so SIGTERM would be
	// ignored by the kernel if Go did not catch it: stop at once instead,
	// with the exit code a default action would have given.
	sigCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	go func() {
		select {
		case sig := <-sigs:
			cancel(&interrupted{sig})
		case <-sigCtx.Done():
		}
	}()
	// signalled returns the interruption, if a signal came.
	signalled := func() *interrupted {
		var intr *interrupted
		if errors.As(context.Cause(sigCtx), &intr) {
			return intr
		}
		return nil
	}
	stopped := func(err error) error {
		if intr := signalled(); intr != nil {
			return intr
		}
		return err
	}

	// The deadline bounds the waiting on the store: once everything is
	// resolved, only a signal stops the exec.
	ctx, cancelTimeout := context.WithTimeoutCause(sigCtx, c.Timeout,
		fmt.Errorf("ENVINIT_TIMEOUT (%s) ran out before the command could start: %w", c.Timeout, context.DeadlineExceeded))
	defer cancelTimeout()

	var user *execve.User
	if c.User != "" {
		u, err := execve.ParseUser(c.User)
		if err != nil {
			return err
		}
		user = &u
	}

	src, err := openStore(ctx, &c)
	if err != nil {
		return stopped(err)
	}
	g, err := resolve.Gather(ctx, src, c.Service, environ)
	if err != nil {
		return stopped(throttledOut(src, timedOut(ctx, err)))
	}
	res, err := resolve.Resolve(g, c.Service, environ)
	if err != nil {
		return err
	}

	dir, err := secretsDir(&c, res, user)
	if err != nil {
		return err
	}
	env, files, err := execve.BuildEnv(execve.Env{Container: environ, Refs: res.Env, Secrets: res.Secrets, Override: c.Override, Dir: dir.Path()})
	if err != nil {
		return err
	}
	if user != nil {
		env = userHome(env, *user, res)
	}
	path, err := execve.LookPath(argv[0], env)
	if err != nil {
		return err
	}
	uid, gid := -1, -1
	if user != nil {
		uid, gid = user.UID, user.GID
	}
	batch, err := dir.Stage(files, uid, gid)
	if err != nil {
		return err
	}
	if err := batch.Commit(); err != nil {
		return err
	}
	logResult(log, &c, g, res, files, dir.Path(), path, time.Since(start))

	// The last moment a signal can still be honoured: after this, it is
	// COMMAND's to handle.
	if intr := signalled(); intr != nil {
		_ = batch.Discard()
		return intr
	}
	if user != nil {
		if err := execve.DropPrivileges(*user); err != nil {
			_ = batch.Discard()
			return err
		}
	}
	signal.Stop(sigs)
	err = execve.Exec(path, argv, env)
	_ = batch.Discard() // best effort: after a drop, the directory may refuse
	return err
}

// userHome points HOME at ENVINIT_USER's home directory, as gosu and
// `docker run --user` do: the container's HOME belongs to the user envinit
// started as (/root, most often). A HOME from the store wins.
func userHome(env []string, u execve.User, res *resolve.Result) []string {
	if u.Home == "" {
		return env
	}
	for _, s := range res.Secrets {
		if s.Key == "HOME" {
			return env
		}
	}
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, "HOME=") {
			out = append(out, kv)
		}
	}
	out = append(out, "HOME="+u.Home)
	slices.Sort(out)
	return out
}

// openStore opens the store ENVINIT_STORE names.
func openStore(ctx context.Context, c *config) (resolve.Source, error) {
	if path, ok := strings.CutPrefix(c.Store, "file:"); ok {
		return fetch.OpenFile(path, c.Prefix)
	}
	return fetch.Load(ctx, c.Prefix, fetch.Retry{})
}

// secretsDir opens the secrets directory when it is needed: there is a
// sensitive value to write, or ENVINIT_SECRETS_DIR is set (a directory an
// operator configured must be right whether or not this release has a
// sensitive key). Otherwise it returns an empty directory that writes
// nothing.
func secretsDir(c *config, res *resolve.Result, user *execve.User) (*execve.Dir, error) {
	sensitive := false
	for _, s := range append(res.Secrets, res.Env...) {
		sensitive = sensitive || s.Sensitive
	}
	if !sensitive && c.SecretsDir == "" {
		return &execve.Dir{}, nil
	}
	owner := -1
	if user != nil {
		owner = user.UID
	}
	return execve.OpenSecretsDir(c.SecretsDir, owner)
}

// timedOut turns a deadline into the error that says which deadline.
func timedOut(ctx context.Context, err error) error {
	if errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, fetch.ErrThrottled) && !errors.Is(err, fetch.ErrUnavailable) {
		return context.Cause(ctx)
	}
	return err
}

// throttledOut reports a deadline that ran out between store calls (waiting
// for a turn, between pages) as throttling when the store was throttling
// this start: a herd, which a restart later gets through, not an outage.
func throttledOut(src resolve.Source, err error) error {
	t, ok := src.(interface{ Throttled() bool })
	if ok && t.Throttled() && errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, fetch.ErrUnavailable) && !errors.Is(err, fetch.ErrThrottled) {
		return fmt.Errorf("SSM was throttling this start when %w (%w: a temporary failure; restart later, stagger the deploy, or raise the SSM throughput)", err, fetch.ErrThrottled)
	}
	return err
}

// logResult says what COMMAND gets: names and counts at info, one line per
// secret at debug. Never a value.
func logResult(log *slog.Logger, c *config, g *resolve.Graph, res *resolve.Result, files []execve.File, dir, path string, took time.Duration) {
	vars, sensitive := res.Exported()
	calls := g.Calls()
	log.Info("envinit: starting command",
		"service", c.Service, "variables", len(vars), "sensitive", len(sensitive), "files", len(files), "dir", dir,
		"env_resolved", len(res.Env), "services_read", calls.Services, "globals_calls", calls.Globals,
		"took", took.Round(time.Millisecond), "command", path)
	for _, s := range append(res.Secrets, res.Env...) {
		log.Debug("envinit: secret", "key", s.Key, "origin", s.Origin, "refs", strings.Join(s.Refs, " "), "sensitive", s.Sensitive)
	}
}
