package dockerbuild

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/envinit/envinit/internal/resolve"
)

const canary = "CANARY-d0cker"

func TestDockerBuildCommand(t *testing.T) {
	secrets := []resolve.Secret{
		{Key: "LOG_LEVEL", Value: resolve.NewValue("info " + canary)},
		{Key: "NPM_TOKEN", Value: resolve.NewValue(canary), Sensitive: true},
		{Key: "PATH", Value: resolve.NewValue("/evil")},
		{Key: "DOCKER_HOST", Value: resolve.NewValue("tcp://evil:2375")},
		{Key: "HOME_DIR", Value: resolve.NewValue("/h")},
	}
	environ := []string{"PATH=/usr/bin", "ENVINIT_SERVICE=api", "LOG_LEVEL=from the shell", "HOME=/root", "PATH=/second"}
	b, err := Command("docker", secrets, environ, []string{"-t", "app:1", "--build-arg", "LOG_LEVEL=mine", "."})
	if err != nil {
		t.Fatal(err)
	}
	argv, env, skipped := b.Argv, b.Env, b.Skipped
	want := []string{"docker", "build",
		"--build-arg", "LOG_LEVEL", "--secret", "id=NPM_TOKEN,env=NPM_TOKEN", "--build-arg", "HOME_DIR",
		"-t", "app:1", "--build-arg", "LOG_LEVEL=mine", "."}
	if !slices.Equal(argv, want) {
		t.Errorf("argv %q;\nwant %q", argv, want)
	}
	if strings.Contains(strings.Join(argv, " "), canary) {
		t.Error("a value is on docker's command line")
	}
	wantEnv := []string{"PATH=/usr/bin", "LOG_LEVEL=info " + canary, "HOME=/root", "NPM_TOKEN=" + canary, "HOME_DIR=/h", "DOCKER_BUILDKIT=1"}
	if !slices.Equal(env, wantEnv) {
		t.Errorf("env %q;\nwant %q", env, wantEnv)
	}
	if !slices.Equal(skipped, []string{"PATH", "DOCKER_HOST"}) {
		t.Errorf("skipped %q; want PATH and DOCKER_HOST", skipped)
	}
	if !slices.Equal(b.BuildArgs, []string{"LOG_LEVEL", "HOME_DIR"}) || !slices.Equal(b.Secrets, []string{"NPM_TOKEN"}) {
		t.Errorf("build args %q, secrets %q; want LOG_LEVEL, HOME_DIR and NPM_TOKEN, the keys passed", b.BuildArgs, b.Secrets)
	}
}

func TestDockerBuildKit(t *testing.T) {
	plain := []resolve.Secret{{Key: "A", Value: resolve.NewValue("a")}}
	sensitive := append(plain, resolve.Secret{Key: "S", Value: resolve.NewValue("s"), Sensitive: true})
	for _, tt := range []struct {
		name    string
		secrets []resolve.Secret
		environ []string
		want    string // DOCKER_BUILDKIT in docker's env; "error" for a refusal
	}{
		{"unset", plain, nil, "1"},
		{"operator's choice without secrets", plain, []string{"DOCKER_BUILDKIT=0"}, "0"},
		{"forced on for secrets", sensitive, []string{"DOCKER_BUILDKIT=1"}, "1"},
		{"refused off with secrets", sensitive, []string{"DOCKER_BUILDKIT=0"}, "error"},
	} {
		b, err := Command("docker", tt.secrets, tt.environ, nil)
		var off *BuildKitOffError
		switch {
		case tt.want == "error":
			if !errors.Is(err, ErrConfig) || !errors.As(err, &off) || !slices.Contains(off.Hints(), "unset DOCKER_BUILDKIT") {
				t.Errorf("%s: got %v; want ErrConfig (exit 78) saying to unset DOCKER_BUILDKIT", tt.name, err)
			}
		case err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case !slices.Contains(b.Env, "DOCKER_BUILDKIT="+tt.want):
			t.Errorf("%s: env %q; want DOCKER_BUILDKIT=%s", tt.name, b.Env, tt.want)
		}
	}
}

func TestShellJoin(t *testing.T) {
	got := ShellJoin([]string{"docker", "build", "--secret", "id=A,env=A", "-t", "a b", "it's", ""})
	if want := `docker build --secret id=A,env=A -t 'a b' 'it'\''s' ''`; got != want {
		t.Errorf("got %s; want %s", got, want)
	}
}
