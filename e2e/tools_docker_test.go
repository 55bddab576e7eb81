package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// envinit docker-build on this machine's Docker Engine: a build arg
// arrives in the image, a build secret reaches its RUN step, and no
// sensitive value is in the image's history, config or any layer.
//
// The engine has no registry to pull from: the example Dockerfile
// (examples/docker-build) is built FROM a base made here, a static busybox
// (Debian's busybox-static, installed if missing) in a FROM scratch image.

const toolDockerTimeout = 5 * time.Minute

func TestDockerBuild(t *testing.T) {
	cli := toolDockerCLI(t)
	base := toolBusyboxImage(t, cli)

	f := newFixture(t)
	appEnv := newCanary("web/APP_ENV")
	token := newCanary("web/NPM_TOKEN")
	f.seed(t, map[string]string{
		"global/STAGE":             appEnv,
		"services/web/APP_ENV":     "#{$/STAGE}",
		"services/web/NPM_TOKEN":   token,
		"services/web/__sensitive": "NPM_TOKEN",
	})
	example, err := filepath.Abs("../examples/docker-build")
	if err != nil {
		t.Fatal(err)
	}
	tag := "envinit-e2e-docker-build-" + randHex(4) + ":test"
	t.Cleanup(func() { toolDockerQuiet(cli, "rmi", "--force", tag) })
	env := f.env("web", "HOME="+t.TempDir())
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		env = append(env, "DOCKER_HOST="+h)
	}
	dockerArgs := []string{"--no-cache", "--build-arg", "BASE=" + base, "-t", tag, example}

	// The command line docker gets names the keys, never a value.
	r := toolRun(t, f, env, "", append([]string{"docker-build", "--docker", cli, "--dry-run", "--"}, dockerArgs...)...)
	assertCode(t, r, 0)
	assertNoLeak(t, r, f.canaries()...)
	if want := cli + " build --build-arg APP_ENV --secret id=NPM_TOKEN,env=NPM_TOKEN --no-cache"; !strings.HasPrefix(r.Stdout, want) {
		t.Errorf("--dry-run: %q; want it to start %q", r.Stdout, want)
	}

	// docker's own output may show a build arg: only the secret must not
	// show.
	r = toolExec(t, env, "", append([]string{"docker-build", "--docker", cli, "--"}, dockerArgs...)...)
	if r.Code != 0 {
		t.Fatalf("docker-build: exit %d\nstdout: %s\nstderr: %s", r.Code, redact(r.Stdout), redact(r.Stderr))
	}
	assertNoLeak(t, r, token)
	if !strings.Contains(r.Stderr, "envinit: running docker build") || !strings.Contains(r.Stderr, "secrets=NPM_TOKEN") {
		t.Errorf("stderr: want envinit's line naming the keys:\n%s", redact(r.Stderr))
	}

	// The build arg arrived; the secret reached its step.
	got := toolDocker(t, cli, "run", "--rm", "--entrypoint", "/bin/cat", tag, "/etc/app/build.conf", "/etc/app/token-length")
	if want := "environment=" + appEnv + "\n" + strconv.Itoa(len(token)) + "\n"; got != want {
		t.Errorf("image files: %q; want %q", redact(got), redact(want))
	}

	// The secret is nowhere in the image.
	history := toolDocker(t, cli, "history", "--no-trunc", tag)
	if strings.Contains(history, token) {
		t.Errorf("docker history holds the sensitive value")
	}
	if !strings.Contains(history, "APP_ENV="+appEnv) {
		t.Logf("docker history does not show the build arg (it does with BuildKit 0.8); fine either way")
	}
	if strings.Contains(toolDocker(t, cli, "inspect", tag), token) {
		t.Errorf("docker inspect holds the sensitive value")
	}
	saved := toolDockerSave(t, cli, tag)
	if n := toolSearchArchive(t, saved, []byte(token)); n > 0 {
		t.Errorf("docker save: the sensitive value is in %d files of the image", n)
	}
	if n := toolSearchArchive(t, saved, []byte(appEnv)); n == 0 {
		t.Errorf("docker save: the build arg's value is in no file; the search finds nothing?")
	}
}

// A service whose secrets cannot be resolved builds nothing: docker is
// not run, and no value is printed.
func TestDockerBuildFailsClosed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t, map[string]string{
		"services/web/NPM_TOKEN":   newCanary("web/NPM_TOKEN") + "#{$/MISSING}",
		"services/web/__sensitive": "NPM_TOKEN",
	})
	marker := filepath.Join(t.TempDir(), "docker-ran")
	fakeDocker := filepath.Join(t.TempDir(), "docker")
	if err := os.WriteFile(fakeDocker, []byte("#!/bin/sh\ntouch "+marker+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := toolRun(t, f, f.env("web"), "", "docker-build", "--docker", fakeDocker, "--", ".")
	assertCode(t, r, 65)
	assertNoLeak(t, r, f.canaries()...)
	if _, err := os.Stat(marker); err == nil {
		t.Error("docker ran although the secrets did not resolve")
	}
	r = toolRun(t, f, f.env("web"), "", "docker-build", "-t", "x", ".")
	if r.Code != 64 || !strings.Contains(r.Stderr, "docker build's own flags go after --") {
		t.Errorf("docker flags before --: exit %d, stderr %q; want 64 saying to put them after --", r.Code, redact(r.Stderr))
	}
}

// toolDockerCLI returns a docker CLI that builds with BuildKit here, or
// skips the test loudly. The CLI in PATH may lack the buildx plugin that
// newer CLIs need for BuildKit; Debian's docker.io CLI (20.10) has it
// built in.
func toolDockerCLI(t *testing.T) string {
	t.Helper()
	var tried []string
	for _, cli := range []string{"docker", "/usr/bin/docker", "/usr/local/bin/docker"} {
		path, err := exec.LookPath(cli)
		if err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), toolDockerTimeout)
		cmd := exec.CommandContext(ctx, path, "build", "-q", "-")
		cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=1")
		cmd.Stdin = strings.NewReader("FROM scratch\nLABEL envinit-e2e=buildkit-probe\n")
		out, err := cmd.CombinedOutput()
		cancel()
		if err == nil {
			if id := strings.TrimSpace(string(out)); id != "" {
				toolDockerQuiet(path, "rmi", id)
			}
			return path
		}
		tried = append(tried, path+": "+strings.TrimSpace(string(out)))
	}
	t.Skipf("\n\n*** SKIPPING THE docker-build TESTS: no docker CLI here builds with BuildKit:\n%s\n*** envinit docker-build is NOT tested on this machine.\n", strings.Join(tried, "\n"))
	return ""
}

// toolBusyboxImage builds a base image holding a static busybox as
// /bin/sh and the usual tools, removed when the test ends.
func toolBusyboxImage(t *testing.T, cli string) string {
	t.Helper()
	busybox := toolStaticBusybox(t)
	ctx := t.TempDir()
	copyFile := func(src, dst string) {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(busybox, filepath.Join(ctx, "busybox"))
	dockerfile := "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n"
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	tag := "envinit-e2e-busybox-" + randHex(4) + ":test"
	t.Cleanup(func() { toolDockerQuiet(cli, "rmi", "--force", tag) })
	toolDocker(t, cli, "build", "-q", "-t", tag, ctx)
	return tag
}

// toolStaticBusybox returns a statically linked busybox, installing
// Debian's busybox-static when there is none and apt-get can.
func toolStaticBusybox(t *testing.T) string {
	t.Helper()
	const path = "/bin/busybox"
	if isStatic(path) {
		return path
	}
	if _, err := exec.LookPath("apt-get"); err == nil && os.Geteuid() == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), toolDockerTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "apt-get", "install", "-y", "--no-install-recommends", "busybox-static")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err == nil && isStatic(path) {
			return path
		}
		t.Logf("apt-get install busybox-static: %v\n%s", err, out)
	}
	t.Skipf("\n\n*** SKIPPING THE docker-build TESTS: no static busybox at %s to build a base image from (apt-get install busybox-static).\n*** envinit docker-build is NOT tested on this machine.\n", path)
	return ""
}

// isStatic reports whether path is an ELF executable with no interpreter.
func isStatic(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

// toolDocker runs a docker command that must succeed and returns its
// stdout.
func toolDocker(t *testing.T, cli string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), toolDockerTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, cli, args...)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("docker %s: %v\nstdout: %s\nstderr: %s", redact(strings.Join(args, " ")), err, redact(stdout.String()), redact(stderr.String()))
	}
	return stdout.String()
}

func toolDockerSave(t *testing.T, cli, image string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), toolDockerTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, cli, "save", image).Output()
	if err != nil {
		t.Fatalf("docker save %s: %v", image, err)
	}
	return out
}

func toolDockerQuiet(cli string, args ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), toolDockerTimeout)
	defer cancel()
	exec.CommandContext(ctx, cli, args...).Run()
}

// toolSearchArchive counts the files of a tar archive, and of the
// archives (tar or gzipped tar, such as image layers) inside it, whose
// content holds needle.
func toolSearchArchive(t *testing.T, archive, needle []byte) int {
	t.Helper()
	n := 0
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			t.Fatalf("read archive: %v", err)
		}
		content, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("read %s: %v", h.Name, err)
		}
		if bytes.HasPrefix(content, []byte{0x1f, 0x8b}) {
			if z, err := gzip.NewReader(bytes.NewReader(content)); err == nil {
				if unzipped, err := io.ReadAll(z); err == nil {
					content = unzipped
				}
			}
		}
		if bytes.Contains(content, needle) {
			n++
			continue
		}
		if len(content) >= 512 && tar.NewReader(bytes.NewReader(content)) != nil {
			if _, err := tar.NewReader(bytes.NewReader(content)).Next(); err == nil {
				n += toolSearchArchive(t, content, needle)
			}
		}
	}
}
