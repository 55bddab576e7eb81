package main

import (
	"context"
	"fmt"
	"strings"

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
	argv, env, skipped, err := dockerBuildCommand(docker, res.Secrets, inv.environ, inv.rest)
	if err != nil {
		return err
	}
	for _, k := range skipped {
		log.Warn("envinit: key left out of the build: docker itself reads a variable of that name", "key", k)
	}
	if inv.on("dry-run") {
		_, err := fmt.Fprintln(inv.stdout, shellJoin(argv))
		return err
	}
	var buildArgs, secrets []string
	for _, s := range res.Secrets {
		if s.Sensitive {
			secrets = append(secrets, s.Key)
		} else {
			buildArgs = append(buildArgs, s.Key)
		}
	}
	log.Info("envinit: running docker build", "service", service,
		"build_args", strings.Join(buildArgs, ","), "secrets", strings.Join(secrets, ","))
	path, err := execve.LookPath(docker, env)
	if err != nil {
		return fmt.Errorf("docker-build: %w (install the Docker CLI, or give its path with --docker)", err)
	}
	return inv.exec(path, argv, env)
}

// dockerBuildCommand returns docker's argv and environment: environ less
// ENVINIT_*, with DOCKER_BUILDKIT=1 and every secret's value, and the
// flags that name them. skipped are keys docker would read itself.
func dockerBuildCommand(docker string, secrets []resolve.Secret, environ, userArgs []string) (argv, env, skipped []string, err error) {
	vars := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vars[k]; !ok {
			order = append(order, k)
		}
		vars[k] = v
	}
	for _, v := range resolve.ContainerEnv(environ) {
		set(v.Name, v.Value)
	}

	argv = []string{docker, "build"}
	sensitive := false
	for _, s := range secrets {
		if dockerReads(s.Key) {
			skipped = append(skipped, s.Key)
			continue
		}
		if s.Sensitive {
			sensitive = true
			argv = append(argv, "--secret", "id="+s.Key+",env="+s.Key)
		} else {
			argv = append(argv, "--build-arg", s.Key)
		}
		set(s.Key, s.Value.Reveal())
	}
	if v, ok := vars["DOCKER_BUILDKIT"]; ok && sensitive && (v == "0" || strings.EqualFold(v, "false")) {
		return nil, nil, nil, &configError{msg: "DOCKER_BUILDKIT=0 turns BuildKit off, and only BuildKit takes build secrets, which this service's sensitive keys need",
			hints: []string{"unset DOCKER_BUILDKIT"}}
	}
	if _, ok := vars["DOCKER_BUILDKIT"]; !ok || sensitive {
		set("DOCKER_BUILDKIT", "1")
	}
	argv = append(argv, userArgs...)
	for _, k := range order {
		env = append(env, k+"="+vars[k])
	}
	return argv, env, skipped, nil
}

// dockerReads reports whether the docker CLI (or buildx) reads k from its
// own environment: a build arg of that name would change docker itself.
func dockerReads(k string) bool {
	switch {
	case k == "PATH", k == "HOME":
		return true
	case strings.HasPrefix(k, "DOCKER_"), strings.HasPrefix(k, "BUILDX_"), strings.HasPrefix(k, "BUILDKIT_"):
		return true
	}
	return false
}

// shellJoin quotes argv for a POSIX shell, for --dry-run.
func shellJoin(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.Trim(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.,/:=@%+") == "" {
			out[i] = a
		} else {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}
