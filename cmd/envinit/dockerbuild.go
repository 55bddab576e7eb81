package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/envinit/envinit/internal/dockerbuild"
	"github.com/envinit/envinit/internal/execve"
	"github.com/envinit/envinit/internal/resolve"
)

var cmdDockerBuild = &command{
	Name:      "docker-build",
	UsageLine: "docker-build [flags] [SERVICE] -- [docker build args...]",
	Short:     "docker build with the secrets as build args and build secrets",
	Long: `Resolves SERVICE's secrets (default: --service, or ENVINIT_SERVICE; its own
and imported keys, references resolved) and runs docker build with them:
each non-sensitive KEY as --build-arg KEY, each sensitive KEY as a
BuildKit build secret, --secret id=KEY,env=KEY. Values travel in docker's
environment, never on its command line (which ps shows to everyone).
Everything after -- is passed to docker build as it is, after envinit's own
arguments, so a --build-arg KEY=VALUE of yours wins.

The Dockerfile uses them as

  ARG LOG_LEVEL
  RUN --mount=type=secret,id=NPM_TOKEN  NPM_TOKEN=$(cat /run/secrets/NPM_TOKEN) npm ci

A build arg's value is kept in the image's history wherever a RUN uses it:
only sensitive keys stay out of the image, through --mount=type=secret.
BuildKit is required for build secrets: DOCKER_BUILDKIT=1 is set for
docker (docker 20.10's own builder does it; newer CLIs need the buildx
plugin). Keys docker itself reads from its environment (PATH, HOME,
DOCKER_*, BUILDX_*, BUILDKIT_*) are left out, with a warning.

docker is exec'd: its output and exit code are the command's own.

examples:
  envinit docker-build api -- -t api:1.4 .
  envinit docker-build --service api --dry-run -- -t api:1.4 .`,
	Settings: uses("service", "prefix", "timeout", "store", "log"),
	Flags: []flagSpec{
		{Name: "docker", Arg: "PATH", Default: "docker", Usage: "the docker CLI to run: a name looked up in PATH, or a path"},
		{Name: "dry-run", Usage: "print the docker command line (it holds no value) instead of running it"},
	},
	MaxArgs:  1,
	FlagHint: "docker build's own flags go after --",
	Run:      runDockerBuild,
}

// runDockerBuild returns only on failure, or after --dry-run: success
// replaces envinit with docker.
func runDockerBuild(ctx context.Context, inv *invocation) error {
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
	// The build has no container environment: only the store's keys.
	g, err := resolve.Gather(rctx, src, service, nil)
	if err != nil {
		return timedOut(rctx, err)
	}
	res, err := resolve.Resolve(g, service, nil)
	if err != nil {
		return err
	}
	docker := inv.flag("docker")
	b, err := dockerbuild.Command(docker, res.Secrets, inv.environ, inv.rest)
	if err != nil {
		return err
	}
	for _, k := range b.Skipped {
		log.Warn("envinit: key left out of the build: docker itself reads a variable of that name", "key", k)
	}
	if inv.on("dry-run") {
		_, err := fmt.Fprintln(inv.stdout, dockerbuild.ShellJoin(b.Argv))
		return err
	}
	log.Info("envinit: running docker build", "service", service,
		"build_args", strings.Join(b.BuildArgs, ","), "secrets", strings.Join(b.Secrets, ","))
	path, err := execve.LookPath(docker, b.Env)
	if err != nil {
		return fmt.Errorf("docker-build: %w (install the Docker CLI, or give its path with --docker)", err)
	}
	return inv.exec(path, b.Argv, b.Env)
}
