package e2e

// TestDockerfileBuilds runs `docker build` on the repository's own
// Dockerfile, whole, with the classic builder and with BuildKit, with no
// build argument but the image to build in. Nothing can be pulled here, so
// that image is made first: a static busybox, the Go release these tests
// run with, and a Go module proxy in a directory holding exactly the
// modules go.mod needs (from this machine's module cache), its build cache
// warmed once so that the two builds take seconds. Both images' /envinit
// must be the bytes scripts/build gives on the host for the same version
// and commit: the Dockerfile builds what a release builds.

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Not parallel: the Go builds in containers would starve the
// timing-sensitive tests.
func TestDockerfileBuilds(t *testing.T) {
	requireDocker(t)
	goImage := goBuildImage(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	const version, revision = "v0.0.0-e2e", "0123456789abcdef0123456789abcdef01234567"

	hostBin := filepath.Join(t.TempDir(), "envinit")
	r := runScript(t, releaseTimeout, root, []string{"GOARCH=" + runtime.GOARCH, "VERSION=" + version, "COMMIT=" + revision}, "scripts/build", hostBin)
	r.mustSucceed(t)
	want, err := os.ReadFile(hostBin)
	if err != nil {
		t.Fatal(err)
	}

	for _, b := range []struct {
		name string
		cli  func(*testing.T) string
		env  string
	}{
		{"Classic", func(*testing.T) string { return "docker" }, "DOCKER_BUILDKIT=0"},
		// Docker 20.10's CLI has BuildKit built in; a newer one needs
		// the buildx plugin.
		{"BuildKit", toolDockerCLI, "DOCKER_BUILDKIT=1"},
	} {
		t.Run(b.name, func(t *testing.T) {
			cli := b.cli(t)
			tag := dockerTestID + "-dockerfile-" + strings.ToLower(b.name) + ":test"
			t.Cleanup(func() { dockerQuiet("rmi", "--force", tag) })
			args := []string{"build", "--tag", tag, "--label", dockerTestID,
				"--build-arg", "GO_IMAGE=" + goImage,
				"--build-arg", "VERSION=" + version, "--build-arg", "REVISION=" + revision}
			if b.name == "Classic" && runtime.GOARCH != "amd64" {
				// The documented fallback is linux/amd64.
				args = append(args, "--build-arg", "BUILDPLATFORM=linux/"+runtime.GOARCH)
			}
			start := time.Now()
			r := runScript(t, toolDockerTimeout, root, []string{b.env}, cli, append(args, ".")...)
			if r.Code != 0 {
				t.Fatalf("%s build .: exit %d\nstdout: %s\nstderr: %s", cli, r.Code, r.Stdout, r.Stderr)
			}
			t.Logf("docker build . (%s) in %v", b.name, time.Since(start).Round(time.Millisecond))

			files := imageFiles(t, tag)
			if len(files) != 2 {
				t.Errorf("regular files in the image: got %d; want /envinit and the CA bundle", len(files))
			}
			if f, ok := files["envinit"]; !ok || f.sum != sha256.Sum256(want) {
				t.Errorf("/envinit in the image: present %v; want the bytes scripts/build gives on the host for %s (%.12s)", ok, version, revision)
			}
			out := mustDocker(t, "run", "--rm", tag, "version")
			if want := fmt.Sprintf("envinit %s (%s)\n", version, revision); out != want {
				t.Errorf("docker run IMAGE version: got %q; want %q", out, want)
			}
			labels := mustDocker(t, "image", "inspect", "--format", `{{index .Config.Labels "org.opencontainers.image.version"}} {{index .Config.Labels "org.opencontainers.image.revision"}} {{index .Config.Labels "org.opencontainers.image.licenses"}}`, tag)
			if want := version + " " + revision + " Apache-2.0\n"; labels != want {
				t.Errorf("version, revision and licenses labels: got %q; want %q", labels, want)
			}
		})
	}
}

// goBuildImage builds, once per test, an image that stands in for
// golang:1.26 with no network: busybox as the shell, this machine's Go
// release, and GOPROXY pointing at a directory that holds the modules
// go.mod needs. Everything built from it carries dockerTestID's label, so
// the classic builder's leftover `binary` stage is pruned at the end.
func goBuildImage(t *testing.T) string {
	t.Helper()
	busybox := toolStaticBusybox(t)
	ctx := t.TempDir()
	rootfs := filepath.Join(ctx, "rootfs")
	copyTestFile(t, busybox, filepath.Join(ctx, "busybox"), 0o755)

	goroot := strings.TrimSpace(goEnv(t, "GOROOT"))
	entries, err := os.ReadDir(goroot)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(rootfs, "usr/local/go"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		switch e.Name() {
		case "test", "api", "doc": // not needed to build
			continue
		}
		if out, err := exec.Command("cp", "-a", filepath.Join(goroot, e.Name()), filepath.Join(rootfs, "usr/local/go")).CombinedOutput(); err != nil {
			t.Fatalf("cp %s: %v\n%s", e.Name(), err, out)
		}
	}

	// The module proxy protocol's layout is the module cache's download
	// directory: copy the files of every module in go.mod's graph.
	cache := filepath.Join(strings.TrimSpace(goEnv(t, "GOMODCACHE")), "cache", "download")
	cmd := exec.Command("go", "mod", "download", "-json", "all")
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod download all: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var m struct{ Path, Version, Info, GoMod, Zip, Error string }
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if m.Error != "" {
			t.Fatalf("go mod download %s@%s: %s", m.Path, m.Version, m.Error)
		}
		for _, f := range []string{m.Info, m.GoMod, m.Zip} {
			rel, err := filepath.Rel(cache, f)
			if err != nil || strings.HasPrefix(rel, "..") {
				t.Fatalf("%s is not under %s", f, cache)
			}
			copyTestFile(t, f, filepath.Join(rootfs, "goproxy", rel), 0o644)
		}
	}
	ca := "/etc/ssl/certs/ca-certificates.crt"
	if _, err := os.Stat(ca); err == nil {
		copyTestFile(t, ca, filepath.Join(rootfs, "etc/ssl/certs/ca-certificates.crt"), 0o644)
	} else if err := os.MkdirAll(filepath.Join(rootfs, "etc/ssl/certs"), 0o755); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(filepath.Join(rootfs, "etc/ssl/certs/ca-certificates.crt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}

	// The source the Dockerfile builds, to warm the build cache with once.
	for _, f := range []string{"go.mod", "go.sum", "scripts/build"} {
		copyTestFile(t, filepath.Join("..", f), filepath.Join(ctx, "warm", f), 0o755)
	}
	for _, dir := range []string{"cmd", "internal"} {
		if out, err := exec.Command("cp", "-a", filepath.Join("..", dir), filepath.Join(ctx, "warm")).CombinedOutput(); err != nil {
			t.Fatalf("cp %s: %v\n%s", dir, err, out)
		}
	}

	dockerfile := `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY rootfs/ /
ENV PATH=/usr/local/go/bin:/bin HOME=/root GOPATH=/go GOPROXY=file:///goproxy GOSUMDB=off GOTOOLCHAIN=local
COPY warm/ /src/
RUN mkdir -p -m 1777 /tmp && cd /src && go mod download && VERSION=warm ./scripts/build /tmp/envinit && rm -rf /src /tmp/envinit
`
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	tag := dockerTestID + "-go:test"
	t.Cleanup(func() {
		dockerQuiet("image", "prune", "--force", "--filter", "label="+dockerTestID)
		dockerQuiet("rmi", "--force", tag)
		dockerQuiet("image", "prune", "--force", "--filter", "label="+dockerTestID)
	})
	start := time.Now()
	r := runScript(t, toolDockerTimeout, ctx, []string{"DOCKER_BUILDKIT=0"}, "docker", "build", "--tag", tag, "--label", dockerTestID, ".")
	if r.Code != 0 {
		t.Fatalf("docker build (the Go image): exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	t.Logf("built %s in %v", tag, time.Since(start).Round(time.Millisecond))
	return tag
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return string(out)
}
