package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/envinit/envinit/internal/execve"
	"github.com/envinit/envinit/internal/render"
	"github.com/envinit/envinit/internal/resolve"
)

var cmdRender = &command{
	Name:      "render",
	UsageLine: "render [flags] [SERVICE]",
	Short:     "print the environment the service would get",
	Long: `Prints the environment SERVICE (default: --service, or ENVINIT_SERVICE)
would get, resolved exactly as the entrypoint resolves it, without running
anything or writing any file.

By default only what envinit adds or changes is printed: the service's
secrets (its own and imported) and the container variables whose
references it resolves. --all prints the whole final environment. The
environment envinit resolves against is the one render runs in: run it in
the image to see what the app gets there:

  docker run --rm --entrypoint /envinit IMAGE render

A sensitive KEY is printed as KEY=<sensitive> next to KEY_FILE, the path of
the file the value would be written to; --reveal prints the value instead.

formats:
  env     KEY=value lines, as env(1) prints them (for people)
  dotenv  quoted for Docker Compose env_file and the dotenv libraries;
          without --reveal a sensitive KEY is a comment line
  json    {"service", "secrets_dir", "revealed", "variables": [{"name",
          "value", "sensitive", "file", "file_variable", "origin" (own,
          import, env or container), "service", "refs"}]}

examples:
  ENVINIT_SERVICE=api envinit render
  envinit render api --format json | jq '.variables[] | select(.sensitive)'
  envinit render api --format dotenv --reveal > .env   # local development only`,
	Settings: uses("service", "prefix", "secrets-dir", "timeout", "override", "user", "log", "store"),
	Flags: []flagSpec{
		{Name: "format", Arg: "FORMAT", Values: []string{"env", "dotenv", "json"}, Default: "env", Usage: "output format: env, dotenv or json"},
		{Name: "reveal", Usage: "print sensitive values instead of " + render.SensitiveMark},
		{Name: "all", Usage: "print the whole final environment, not only what envinit adds or changes"},
	},
	MaxArgs: 1,
	Run:     runRender,
}

func runRender(ctx context.Context, inv *invocation) error {
	service, err := inv.service()
	if err != nil {
		return err
	}
	c := inv.cfg
	log := logger(inv.stderr, c.Log)
	rctx, cancel := withTimeout(ctx, &c)
	defer cancel()
	src, err := openStore(rctx, &c)
	if err != nil {
		return timedOut(rctx, err)
	}
	g, err := resolve.Gather(rctx, src, service, inv.environ)
	if err != nil {
		return timedOut(rctx, err)
	}
	res, err := resolve.Resolve(g, service, inv.environ)
	if err != nil {
		return err
	}
	dir, home := renderDir(&c, res, log)
	env, files, err := execve.BuildEnv(execve.Env{Container: inv.environ, Refs: res.Env, Secrets: res.Secrets,
		Override: c.Override, Dir: dir, Home: home})
	if err != nil {
		return err
	}
	out := render.Vars(env, files, res, service, inv.on("all"))
	reveal := inv.on("reveal")
	switch inv.flag("format") {
	case "env":
		return render.WriteEnv(inv.stdout, out, reveal)
	case "dotenv":
		return render.WriteDotenv(inv.stdout, out, reveal)
	}
	return render.WriteJSON(inv.stdout, service, dir, out, reveal)
}

// withTimeout bounds a tool's work by ENVINIT_TIMEOUT, with the error that
// names it.
func withTimeout(ctx context.Context, c *config) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, c.Timeout,
		fmt.Errorf("%s (%s) ran out: raise it with --timeout: %w", c.source("timeout"), c.Timeout, context.DeadlineExceeded))
}

// renderDir is the secrets directory the exec would use here, found the
// way it finds it, without creating anything, and ENVINIT_USER's home.
// Where the exec would fail (no memory filesystem, a directory it
// refuses, a user it cannot switch to) render still shows the path it
// would try, and says why on stderr: the exec's error is for the start,
// not for a preview on a workstation.
func renderDir(c *config, res *resolve.Result, log *slog.Logger) (dir, home string) {
	var user *execve.User
	if c.User != "" {
		if u, err := execve.ParseUser(c.User); err == nil {
			user, home = &u, u.Home
		}
	}
	d, err := secretsDir(c, res, user)
	if err == nil {
		defer d.Close()
		return d.Path(), home
	}
	path := c.SecretsDir
	if path == "" {
		path = "/dev/shm/envinit" // the default's fallback, where the exec fails last
	}
	log.Warn("envinit: the command could not start here: its secret files have nowhere safe to go", "dir", path, "error", err.Error())
	return path, home
}
