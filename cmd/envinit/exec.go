package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/envinit/envinit/internal/execve"
	"github.com/envinit/envinit/internal/fetch"
	"github.com/envinit/envinit/internal/resolve"
)

// The exec form: no tool code lives in this file, nor calls into it but
// for openStore and secretsDir, which render shares to preview a start.

var execCommand = &command{
	UsageLine: "[flags] -- COMMAND [ARG...]",
	Short:     "resolve the service's secrets, then exec COMMAND",
	Long: `Resolves the service's secrets, writes the sensitive ones to files in a
memory-backed directory, and replaces envinit with COMMAND, looked up in
the PATH of its final environment. -- is required before COMMAND.

examples:
  ENVINIT_SERVICE=api envinit -- /app serve
  ENTRYPOINT ["/envinit", "--"]  with  CMD ["/app", "serve"]`,
	Settings: uses("service", "prefix", "secrets-dir", "timeout", "override", "user", "log", "store", "no-new-privs"),
	MaxArgs:  -1,
	Run:      runExec,
}

// runExec reads as gosu's main: configuration, then everything that can
// fail (prepare), then the files (commit), then the privilege drop, then
// the exec. A failure before the commit leaves nothing behind; after it,
// the files are removed again.
func runExec(ctx context.Context, inv *invocation) error {
	switch {
	case len(inv.args) > 0 || !inv.dash:
		return usagef(inv.cmd, "COMMAND must follow --: envinit [flags] -- COMMAND [ARG...]")
	case len(inv.rest) == 0:
		return usagef(inv.cmd, "no COMMAND after --")
	}
	service, err := inv.service()
	if err != nil {
		return err
	}
	c := inv.cfg
	log := logger(inv.stderr, c.Log)
	began := time.Now()

	ctx, stop := contextWithExitSignalWatch(ctx)
	defer stop()
	s, err := prepare(ctx, inv, service)
	if err != nil {
		if intr := interruption(ctx); intr != nil {
			return intr
		}
		return err
	}
	batch, err := s.dir.Stage(s.files, s.uid(), s.gid())
	if err != nil {
		return err
	}
	if err := batch.Commit(); err != nil {
		return err
	}
	s.log(log, service, time.Since(began))

	if intr := interruption(ctx); intr != nil {
		_ = batch.Discard()
		return intr
	}
	if s.user != nil {
		if err := execve.DropPrivileges(*s.user); err != nil {
			_ = batch.Discard()
			return err
		}
	}
	if c.NoNewPrivs {
		if err := execve.NoNewPrivs(); err != nil {
			_ = batch.Discard()
			return err
		}
	}
	// The last moment a signal can still be honoured: once the watch
	// stops, a signal is COMMAND's to handle, and one that came before
	// is seen here.
	lastMoment(ctx)
	stop()
	if intr := interruption(ctx); intr != nil {
		_ = batch.Discard()
		return intr
	}
	err = inv.exec(s.path, s.argv, s.env)
	_ = batch.Discard() // best effort: after a drop, the directory may refuse
	return err
}

// lastMoment runs right before the signal watch stops, after every earlier
// look for a signal: a test raises one there.
var lastMoment = func(ctx context.Context) {}

// start is everything the exec needs, prepared before any file is
// written.
type start struct {
	user  *execve.User
	graph *resolve.Graph
	res   *resolve.Result
	dir   *execve.Dir
	env   []string
	files []execve.File
	path  string
	argv  []string
}

func (s *start) uid() int {
	if s.user == nil {
		return -1
	}
	return s.user.UID
}

func (s *start) gid() int {
	if s.user == nil {
		return -1
	}
	return s.user.GID
}

// prepare does everything that can fail before a file is written: the
// user, the store, the resolution, the secrets directory, the environment
// and COMMAND's path. ENVINIT_TIMEOUT bounds the waiting on the store;
// once everything is resolved, only a signal stops the exec.
func prepare(ctx context.Context, inv *invocation, service string) (*start, error) {
	c := inv.cfg
	s := &start{argv: inv.rest}
	if c.User != "" {
		u, err := execve.ParseUser(c.User)
		if err != nil {
			return nil, err
		}
		s.user = &u
	}
	rctx, cancel := context.WithTimeoutCause(ctx, c.Timeout,
		fmt.Errorf("%s (%s) ran out before the command could start: %w", c.source("timeout"), c.Timeout, context.DeadlineExceeded))
	defer cancel()
	src, err := openStore(rctx, &c)
	if err != nil {
		return nil, timedOut(rctx, err)
	}
	if s.graph, err = resolve.Gather(rctx, src, service, inv.environ); err != nil {
		return nil, timedOut(rctx, err)
	}
	if s.res, err = resolve.Resolve(s.graph, service, inv.environ); err != nil {
		return nil, err
	}
	if s.dir, err = secretsDir(&c, s.res, s.user); err != nil {
		return nil, err
	}
	home := ""
	if s.user != nil {
		home = s.user.Home
	}
	s.env, s.files, err = execve.BuildEnv(execve.Env{Container: inv.environ, Refs: s.res.Env, Secrets: s.res.Secrets,
		Override: c.Override, Dir: s.dir.Path(), Home: home})
	if err != nil {
		return nil, err
	}
	if s.path, err = execve.Prepare(s.argv, s.env, s.user); err != nil {
		return nil, err
	}
	return s, nil
}

// log says what COMMAND gets: names and counts at info, one line per
// secret at debug. Never a value.
func (s *start) log(log *slog.Logger, service string, took time.Duration) {
	vars, sensitive := s.res.Exported()
	calls := s.graph.Calls()
	log.Info("envinit: starting command",
		"service", service, "variables", len(vars), "sensitive", len(sensitive), "files", len(s.files), "dir", s.dir.Path(),
		"env_resolved", len(s.res.Env), "services_read", calls.Services, "globals_calls", calls.Globals,
		"took", took.Round(time.Millisecond), "command", s.path)
	for _, sec := range append(s.res.Secrets, s.res.Env...) {
		log.Debug("envinit: secret", "key", sec.Key, "origin", sec.Origin, "refs", strings.Join(sec.Refs, " "), "sensitive", sec.Sensitive)
	}
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
// sensitive key). Otherwise it returns the zero Dir, which writes nothing.
func secretsDir(c *config, res *resolve.Result, user *execve.User) (*execve.Dir, error) {
	sensitive := false
	for _, s := range append(res.Secrets, res.Env...) {
		sensitive = sensitive || s.Sensitive
	}
	if !sensitive && c.SecretsDir == "" {
		return &execve.Dir{}, nil
	}
	return execve.OpenSecretsDir(c.SecretsDir, user)
}
