// Package dockerbuild is what envinit docker-build runs: the docker build
// command line and environment that pass a service's resolved secrets to a
// build, each non-sensitive key as a build arg and each sensitive one as a
// BuildKit build secret, values in docker's environment only, never on its
// command line (which ps shows to everyone).
//
// The README's "docker-build: secrets for image builds" is the manual.
package dockerbuild

import (
	"errors"
	"strings"

	"github.com/envinit/envinit/internal/resolve"
)

// ErrConfig is matched by a build docker's own environment makes
// impossible (exit 78).
var ErrConfig = errors.New("docker build configuration")

// BuildKitOffError is DOCKER_BUILDKIT=0 when there are build secrets to
// pass: only BuildKit takes them.
type BuildKitOffError struct{}

func (*BuildKitOffError) Error() string {
	return "DOCKER_BUILDKIT=0 turns BuildKit off, and only BuildKit takes build secrets, which this service's sensitive keys need"
}
func (*BuildKitOffError) Hints() []string      { return []string{"unset DOCKER_BUILDKIT"} }
func (*BuildKitOffError) Is(target error) bool { return target == ErrConfig }

// Build is one docker build.
type Build struct {
	Argv []string // docker build, envinit's flags, then the user's arguments
	Env  []string // the environment less ENVINIT_*, with DOCKER_BUILDKIT and every secret's value
	// BuildArgs and Secrets are the keys passed each way; Skipped are
	// keys left out because docker itself reads a variable of that name.
	BuildArgs, Secrets, Skipped []string
}

// Command returns the build of secrets with docker (a name or a path),
// from environ, the caller's environment, with userArgs after envinit's
// own arguments, so that a --build-arg KEY=VALUE of the user's wins.
func Command(docker string, secrets []resolve.Secret, environ, userArgs []string) (*Build, error) {
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

	b := &Build{Argv: []string{docker, "build"}}
	for _, s := range secrets {
		if dockerReads(s.Key) {
			b.Skipped = append(b.Skipped, s.Key)
			continue
		}
		if s.Sensitive {
			b.Secrets = append(b.Secrets, s.Key)
			b.Argv = append(b.Argv, "--secret", "id="+s.Key+",env="+s.Key)
		} else {
			b.BuildArgs = append(b.BuildArgs, s.Key)
			b.Argv = append(b.Argv, "--build-arg", s.Key)
		}
		set(s.Key, s.Value.Reveal())
	}
	sensitive := len(b.Secrets) > 0
	if v, ok := vars["DOCKER_BUILDKIT"]; ok && sensitive && (v == "0" || strings.EqualFold(v, "false")) {
		return nil, &BuildKitOffError{}
	}
	if _, ok := vars["DOCKER_BUILDKIT"]; !ok || sensitive {
		set("DOCKER_BUILDKIT", "1")
	}
	b.Argv = append(b.Argv, userArgs...)
	for _, k := range order {
		b.Env = append(b.Env, k+"="+vars[k])
	}
	return b, nil
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

// ShellJoin quotes argv for a POSIX shell, for --dry-run.
func ShellJoin(argv []string) string {
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
