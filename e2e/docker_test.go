package e2e

// The Docker tests run envinit in real containers on the local engine:
// TestDocker builds three images once, then runs each case as a subtest.
//
//   - final: the shipped image, built by ../scripts/image around envinitBin
//     as a user without network builds it: the Dockerfile's `final` stage,
//     verbatim, after a FROM scratch stage named `binary` that holds the
//     host-built binary (the seam the Dockerfile documents, which BuildKit
//     users can also fill with --build-context binary=DIR).
//   - app: adoption (a) of the README's "Deploying" section, FROM scratch with
//     COPY --from=<final> /envinit and the probe,
//     ENTRYPOINT ["/envinit", "--"], CMD ["/probe", "report"].
//   - probe: the probe alone, for the Kubernetes init-container pattern.
//
// The containers use the host network, so envinit reaches kumo on
// 127.0.0.1. Every name carries dockerTestID, and everything is removed when
// the test ends. If `docker info` fails the tests skip, loudly.

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// dockerTestID prefixes every image, container and volume of this test run.
var dockerTestID = "envinit-e2e-" + randHex(4)

const (
	dockerTimeout = 2 * time.Minute // one docker command, a build included
	// stopGrace is far below docker stop's 10 s before SIGKILL: a
	// container that exits within it exited on SIGTERM.
	stopGrace = 5 * time.Second
)

// dockerImages are the images TestDocker builds for its subtests.
type dockerImages struct {
	final string // the shipped Dockerfile's final stage
	app   string // FROM scratch, /envinit copied from final, the probe
	probe string // the probe without envinit
}

func TestDocker(t *testing.T) {
	requireDocker(t)
	imgs := buildDockerImages(t)

	cases := []struct {
		name string
		test func(*testing.T, dockerImages)
	}{
		{"FinalImage", testDockerFinalImage},
		{"TmpfsRunSecrets", testDockerTmpfsRunSecrets},
		{"DevShmFallback", testDockerDevShmFallback},
		{"SecretsDirOnDisk", testDockerSecretsDirOnDisk},
		{"ReadOnlyRoot", testDockerReadOnlyRoot},
		{"UserFlag", testDockerUserFlag},
		{"EnvinitUser", testDockerEnvinitUser},
		{"PID1AndStop", testDockerPID1AndStop},
		{"UnhandledSIGTERM", testDockerUnhandledSIGTERM},
		{"ExitCode", testDockerExitCode},
		{"SIGTERMWhileFetching", testDockerSIGTERMWhileFetching},
		{"NoNewPrivs", testDockerNoNewPrivs},
		{"SymlinkedSecretsDirParent", testDockerSymlinkedSecretsDirParent},
		{"NoCABundle", testDockerNoCABundle},
		{"KubernetesPod", testDockerKubernetesPod},
		{"ECSTask", testDockerECSTask},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.test(t, imgs)
		})
	}
}

// testDockerFinalImage checks the shipped image itself: what it holds, how
// it starts, and that the binary in it is the one the other tests ran.
func testDockerFinalImage(t *testing.T, imgs dockerImages) {
	var config struct {
		Entrypoint []string
		Cmd        []string
		User       string
		Labels     map[string]string
	}
	out := mustDocker(t, "image", "inspect", "--format", "{{json .Config}}", imgs.final)
	if err := json.Unmarshal([]byte(out), &config); err != nil {
		t.Fatalf("image config: %v\n%s", err, out)
	}
	if !slices.Equal(config.Entrypoint, []string{"/envinit"}) {
		t.Errorf("ENTRYPOINT: got %q; want [\"/envinit\"]", config.Entrypoint)
	}
	if config.Cmd != nil {
		t.Errorf("CMD: got %q; want none", config.Cmd)
	}
	if config.User != "65532:65532" {
		t.Errorf("USER: got %q; want 65532:65532 (non-root, for runAsNonRoot pods)", config.User)
	}
	// What dockerBuildFinal gave scripts/image, and where the source is.
	for k, want := range map[string]string{
		"org.opencontainers.image.source":   "https://github.com/envinit/envinit",
		"org.opencontainers.image.version":  "e2e",
		"org.opencontainers.image.revision": "0123456789abcdef",
		"org.opencontainers.image.title":    "envinit",
		"org.opencontainers.image.licenses": "Apache-2.0",
	} {
		if got := config.Labels[k]; got != want {
			t.Errorf("label %s: got %q; want %q", k, got, want)
		}
	}

	files := imageFiles(t, imgs.final)
	var names []string
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	// The CA bundle where Go reads it once: not in /etc/ssl/certs, a
	// directory it scans besides the file it finds first.
	want := []string{"envinit", "etc/ssl/cert.pem"}
	if !slices.Equal(names, want) {
		t.Errorf("regular files in the image: got %q; want %q", names, want)
	}
	if f, ok := files["envinit"]; ok {
		if f.mode != 0o755 {
			t.Errorf("/envinit mode: got %#o; want 0755", f.mode)
		}
		bin, err := os.ReadFile(envinitBin)
		if err != nil {
			t.Fatal(err)
		}
		if f.sum != sha256.Sum256(bin) {
			t.Errorf("/envinit in the image differs from the binary the e2e tests built")
		}
	}

	r := docker(t, dockerTimeout, "run", "--rm", imgs.final, "version")
	if r.Code != 0 || strings.TrimSpace(r.Stdout) == "" {
		t.Errorf("docker run IMAGE version: exit %d, stdout %q; want 0 and a version\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	// An init container whose volume is not mounted where its args say.
	r = docker(t, dockerTimeout, "run", "--rm", imgs.final, "install", "/not-mounted")
	if r.Code != 73 || !strings.Contains(r.Stderr, "/not-mounted") {
		t.Errorf("docker run IMAGE install /not-mounted: exit %d, stderr %q; want 73 (EX_CANTCREAT) naming the directory", r.Code, r.Stderr)
	}
}

// testDockerNoCABundle: the application image holds no CA bundle at all
// (FROM scratch, /envinit copied in, as the README's adoption (a)), and
// envinit reaches SSM over HTTPS: its built-in roots verify the endpoint.
// The e2e build has the rig's root in place of the Amazon roots
// (pki_test.go), through the same code.
func testDockerNoCABundle(t *testing.T, imgs dockerImages) {
	for name := range imageFiles(t, imgs.app) {
		if strings.HasPrefix(name, "etc/ssl/") || strings.HasPrefix(name, "etc/pki/") || strings.HasSuffix(name, ".pem") || strings.HasSuffix(name, ".crt") {
			t.Fatalf("the application image holds %s; want no CA bundle in it", name)
		}
	}
	f := newDockerFixture(t)
	front := startProxy(t, f.ssm.URL, proxyOptions{TLS: true})
	f.env["AWS_ENDPOINT_URL_SSM"] = front.URL()
	r := docker(t, runTimeout, f.run(containerName(t), "--tmpfs", "/run/secrets", imgs.app)...)
	f.assertReport(t, r, "/run/secrets", 0, 0)
	if front.Handshakes() == 0 {
		t.Errorf("TLS handshakes at the endpoint: got 0; want envinit to have used TLS")
	}
}

func testDockerTmpfsRunSecrets(t *testing.T, imgs dockerImages) {
	f := newDockerFixture(t)
	name := containerName(t)
	r := docker(t, runTimeout, f.run(name, "--tmpfs", "/run/secrets", imgs.app)...)
	f.assertReport(t, r, "/run/secrets", 0, 0)

	// docker inspect shows the container's configuration and state: the
	// environment it was given, never what envinit resolved.
	inspect := mustDocker(t, "inspect", name)
	for _, c := range f.canaries() {
		if strings.Contains(inspect, c) {
			t.Errorf("docker inspect holds the secret value labelled %q; want no secret value", canaryLabel(c))
		}
	}
}

// testDockerDevShmFallback: with no tmpfs at /run/secrets (a scratch image
// has no /run at all), envinit uses the tmpfs docker mounts at /dev/shm in
// every container.
func testDockerDevShmFallback(t *testing.T, imgs dockerImages) {
	f := newDockerFixture(t)
	r := docker(t, runTimeout, f.run(containerName(t), imgs.app)...)
	f.assertReport(t, r, "/dev/shm/envinit", 0, 0)
}

// testDockerSecretsDirOnDisk: an explicit ENVINIT_SECRETS_DIR on the
// container's disk is refused before anything is written or run.
func testDockerSecretsDirOnDisk(t *testing.T, imgs dockerImages) {
	f := newDockerFixture(t)
	name := containerName(t)
	r := docker(t, runTimeout, f.run(name, "-e", "ENVINIT_SECRETS_DIR=/srv/secrets", imgs.app)...)
	assertCode(t, r, 73)
	assertNoLeak(t, r, f.canaries()...)
	if r.Stdout != "" {
		t.Errorf("stdout: got %q; want nothing (the app must not start)", redact(r.Stdout))
	}
	if !strings.Contains(r.Stderr, "/srv/secrets") {
		t.Errorf("stderr: got %q; want it to name /srv/secrets", redact(r.Stderr))
	}
	// docker diff lists what the container changed on its filesystem.
	for _, line := range strings.Split(strings.TrimSpace(mustDocker(t, "diff", name)), "\n") {
		if strings.Contains(line, "/srv/secrets/") {
			t.Errorf("docker diff: %q; want nothing written under /srv/secrets", line)
		}
	}
}

func testDockerReadOnlyRoot(t *testing.T, imgs dockerImages) {
	t.Run("Tmpfs", func(t *testing.T) {
		t.Parallel()
		f := newDockerFixture(t)
		r := docker(t, runTimeout, f.run(containerName(t), "--read-only", "--tmpfs", "/run/secrets", imgs.app)...)
		f.assertReport(t, r, "/run/secrets", 0, 0)
	})
	t.Run("DevShm", func(t *testing.T) {
		t.Parallel()
		f := newDockerFixture(t)
		r := docker(t, runTimeout, f.run(containerName(t), "--read-only", imgs.app)...)
		f.assertReport(t, r, "/dev/shm/envinit", 0, 0)
	})
}

// testDockerUserFlag: envinit runs as the container's non-root user and
// writes files that user owns.
func testDockerUserFlag(t *testing.T, imgs dockerImages) {
	t.Run("Tmpfs", func(t *testing.T) {
		t.Parallel()
		f := newDockerFixture(t)
		r := docker(t, runTimeout, f.run(containerName(t), "--user", "1000:1000", "--tmpfs", "/run/secrets", imgs.app)...)
		f.assertReport(t, r, "/run/secrets", 1000, 1000)
	})
	t.Run("ReadOnlyDevShm", func(t *testing.T) {
		t.Parallel()
		f := newDockerFixture(t)
		r := docker(t, runTimeout, f.run(containerName(t), "--user", "1000:1000", "--read-only", imgs.app)...)
		f.assertReport(t, r, "/dev/shm/envinit", 1000, 1000)
	})
}

// testDockerNoNewPrivs: after ENVINIT_USER's drop, a setuid-root binary in
// the image still gives root back; with ENVINIT_NO_NEW_PRIVS=true it runs
// with the user's ids.
func testDockerNoNewPrivs(t *testing.T, imgs dockerImages) {
	// The classic builder's COPY drops the setuid bit; ADD of a tar keeps it.
	ctx := t.TempDir()
	var tarball bytes.Buffer
	tw := tar.NewWriter(&tarball)
	probe, err := os.ReadFile(probeBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.WriteHeader(&tar.Header{Name: "probe-suid", Mode: 0o4755, Size: int64(len(probe)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(probe); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ctx, "suid.tar"), tarball.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	dockerfile := filepath.Join(ctx, "Dockerfile")
	if err := os.WriteFile(dockerfile, []byte("FROM "+imgs.app+"\nADD suid.tar /\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	image := dockerTestID + "-suid:test"
	t.Cleanup(func() { dockerQuiet("rmi", "--force", image) })
	dockerBuild(t, ctx, dockerfile, image)

	for _, tc := range []struct {
		name       string
		env        []string
		euid       int
		noNewPrivs string
	}{
		{"Default", nil, 0, "0"},
		{"On", []string{"-e", "ENVINIT_NO_NEW_PRIVS=true"}, 1000, "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newDockerFixture(t)
			args := append(append([]string{"-e", "ENVINIT_USER=1000:1000", "--tmpfs", "/run/secrets"}, tc.env...), image, "/probe-suid", "report")
			r := docker(t, runTimeout, f.run(containerName(t), args...)...)
			p := f.assertReport(t, r, "/run/secrets", 1000, 1000)
			if p.EUID != tc.euid || p.NoNewPrivs != tc.noNewPrivs {
				t.Errorf("setuid-root /probe-suid: got euid %d, NoNewPrivs %q; want %d, %q", p.EUID, p.NoNewPrivs, tc.euid, tc.noNewPrivs)
			}
		})
	}
}

// testDockerSymlinkedSecretsDirParent: a symlink above ENVINIT_SECRETS_DIR
// is refused (73, naming it) under Docker's default seccomp profile and
// under profiles that refuse openat2 as an older engine or kernel would
// (EPERM, ENOSYS), where envinit opens the path one component at a time;
// a path without a symlink still works there.
func testDockerSymlinkedSecretsDirParent(t *testing.T, imgs dockerImages) {
	for _, tc := range []struct {
		name  string
		errno int // what openat2 returns; 0: Docker's default profile
	}{{"DefaultSeccomp", 0}, {"Openat2EPERM", 1}, {"Openat2ENOSYS", 38}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var opts []string
			if tc.errno != 0 {
				profile := filepath.Join(t.TempDir(), "seccomp.json")
				rule := fmt.Sprintf(`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["openat2"], "action": "SCMP_ACT_ERRNO", "errnoRet": %d}]}`, tc.errno)
				if err := os.WriteFile(profile, []byte(rule), 0o644); err != nil {
					t.Fatal(err)
				}
				opts = []string{"--security-opt", "seccomp=" + profile}
			}
			f := newDockerFixture(t)
			// /dev/shm is a tmpfs in every container: only the link is wrong.
			args := append(append(slices.Clone(opts), "-e", "ENVINIT_SECRETS_DIR=/dev-link/shm"), imgs.app)
			r := docker(t, runTimeout, f.run(containerName(t), args...)...)
			assertCode(t, r, 73)
			assertNoLeak(t, r, f.canaries()...)
			if r.Stdout != "" {
				t.Errorf("stdout: got %q; want nothing (the app must not start)", redact(r.Stdout))
			}
			if !strings.Contains(r.Stderr, "/dev-link: is a symlink") {
				t.Errorf("stderr: got %q; want it to name /dev-link as a symlink", redact(r.Stderr))
			}
			args = append(append(slices.Clone(opts), "--tmpfs", "/run/secrets", "-e", "ENVINIT_SECRETS_DIR=/run/secrets"), imgs.app)
			r = docker(t, runTimeout, f.run(containerName(t), args...)...)
			f.assertReport(t, r, "/run/secrets", 0, 0)
		})
	}
}

// testDockerEnvinitUser: envinit starts as root, writes the files for
// ENVINIT_USER, and drops to it before the exec.
func testDockerEnvinitUser(t *testing.T, imgs dockerImages) {
	t.Run("Numeric", func(t *testing.T) {
		t.Parallel()
		f := newDockerFixture(t)
		r := docker(t, runTimeout, f.run(containerName(t), "-e", "ENVINIT_USER=1000:1000", "--tmpfs", "/run/secrets", imgs.app)...)
		p := f.assertReport(t, r, "/run/secrets", 1000, 1000)
		if slices.Contains(p.Groups, 0) {
			t.Errorf("supplementary groups: got %v; want root's group 0 dropped", p.Groups)
		}
	})
	t.Run("ByName", func(t *testing.T) {
		t.Parallel()
		f := newDockerFixture(t)
		r := docker(t, runTimeout, f.run(containerName(t), "-e", "ENVINIT_USER=app", "--tmpfs", "/run/secrets", imgs.app)...)
		p := f.assertReport(t, r, "/run/secrets", 1000, 1000)
		// The image's /etc/group lists app in audit (2000), as
		// initgroups would find it.
		groups := slices.Sorted(slices.Values(p.Groups))
		if !slices.Equal(groups, []int{1000, 2000}) {
			t.Errorf("supplementary groups: got %v; want [1000 2000] (app's own and audit, root's dropped)", p.Groups)
		}
	})
	t.Run("NoWayBack", func(t *testing.T) {
		// A setuid(0) by the app must fail. The kernel allows it only to a
		// process with CAP_SETUID or with 0 among its real, effective and
		// saved uids; dropping from root to 1000 without keep-caps clears
		// the capabilities, so all of them being 1000 proves it. ps, run
		// by docker top on the host, shows them without the app's help.
		t.Parallel()
		f := newDockerFixture(t)
		name := containerName(t)
		mustDocker(t, f.run(name, "-d", "-e", "ENVINIT_USER=1000:1000", "--tmpfs", "/run/secrets", imgs.app, "/probe", "sleep")...)
		waitForProbe(t, name, "/probe sleep")
		rows := dockerTop(t, name, "pid,ruid,euid,suid,fsuid,rgid,egid,sgid,fsgid,supgid,args")
		if len(rows) != 1 {
			t.Fatalf("docker top: got %d processes; want 1: %q", len(rows), rows)
		}
		row := rows[0]
		t.Logf("docker top: %q", row)
		for i, col := range []string{"RUID", "EUID", "SUID", "FSUID", "RGID", "EGID", "SGID", "FSGID"} {
			if row[i+1] != "1000" {
				t.Errorf("%s: got %s; want 1000", col, row[i+1])
			}
		}
		if slices.Contains(strings.Split(row[9], ","), "0") {
			t.Errorf("supplementary groups: got %s; want no group 0", row[9])
		}
	})
	t.Run("UnknownUser", func(t *testing.T) {
		t.Parallel()
		f := newDockerFixture(t)
		r := docker(t, runTimeout, f.run(containerName(t), "-e", "ENVINIT_USER=nosuchuser", "--tmpfs", "/run/secrets", imgs.app)...)
		assertCode(t, r, 78)
		assertNoLeak(t, r, f.canaries()...)
		if !strings.Contains(r.Stderr, "nosuchuser") {
			t.Errorf("stderr: got %q; want it to name the user", redact(r.Stderr))
		}
	})
	t.Run("NotRoot", func(t *testing.T) {
		t.Parallel()
		f := newDockerFixture(t)
		r := docker(t, runTimeout, f.run(containerName(t), "--user", "1000:1000", "-e", "ENVINIT_USER=65534:65534", "--tmpfs", "/run/secrets", imgs.app)...)
		assertCode(t, r, 78)
		assertNoLeak(t, r, f.canaries()...)
		if r.Stdout != "" {
			t.Errorf("stdout: got %q; want nothing (the app must not start)", redact(r.Stdout))
		}
	})
}

// testDockerPID1AndStop: envinit is gone once the app runs, the app is PID
// 1, and docker stop's SIGTERM reaches it (the probe handles it and exits 0,
// long before docker would send SIGKILL).
func testDockerPID1AndStop(t *testing.T, imgs dockerImages) {
	f := newDockerFixture(t)
	name := containerName(t)
	mustDocker(t, f.run(name, "-d", "--tmpfs", "/run/secrets", imgs.app, "/probe", "sleep")...)
	waitForProbe(t, name, "/probe sleep")
	if rows := dockerTop(t, name, "pid,args"); len(rows) != 1 {
		t.Errorf("docker top: got %d processes %q; want only the app", len(rows), rows)
	}

	stop := docker(t, dockerTimeout, "stop", name)
	if stop.Code != 0 {
		t.Fatalf("docker stop: exit %d: %s", stop.Code, stop.Stderr)
	}
	if stop.Elapsed > stopGrace {
		t.Errorf("docker stop took %v; want well under its 10s timeout (SIGTERM must reach the app)", stop.Elapsed.Round(time.Millisecond))
	}
	if code := containerExitCode(t, name); code != 0 {
		t.Errorf("exit code after docker stop: got %d; want 0 (the probe exits 0 on SIGTERM; 137 means SIGKILL)", code)
	}
	logs := docker(t, dockerTimeout, "logs", name)
	if !strings.Contains(logs.Stdout, "got SIGTERM") {
		t.Errorf("app output: got %q; want \"got SIGTERM\"", redact(logs.Stdout))
	}
	assertStderrClean(t, logs, f.canaries()...)
}

// testDockerUnhandledSIGTERM: as PID 1 the app gets no default action for
// SIGTERM; the kernel drops a signal PID 1 does not handle. The probe's
// `report --sleep` installs no handler, so it is stopped by the Go
// runtime's own fallback (re-raise, then exit 2) rather than by the
// signal: exit 2, not 143. Behind docker run --init (tini as PID 1,
// forwarding the signal) the same app is killed by SIGTERM: 143.
func testDockerUnhandledSIGTERM(t *testing.T, imgs dockerImages) {
	for _, c := range []struct {
		name string
		init bool
		want int
	}{
		{"AsPID1", false, 2},
		{"BehindDockerInit", true, 143},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newDockerFixture(t)
			name := containerName(t)
			opts := []string{"-d", "--tmpfs", "/run/secrets"}
			if c.init {
				opts = append(opts, "--init")
			}
			mustDocker(t, f.run(name, append(opts, imgs.app, "/probe", "report", "--sleep", "1h")...)...)
			p := waitForReport(t, name)
			if c.init && (p.PID == 1 || p.PPID != 1) {
				t.Errorf("behind --init: app pid %d, ppid %d; want tini as PID 1 and the app its child", p.PID, p.PPID)
			}
			stop := docker(t, dockerTimeout, "stop", name)
			if stop.Code != 0 {
				t.Fatalf("docker stop: exit %d: %s", stop.Code, stop.Stderr)
			}
			if stop.Elapsed > stopGrace {
				t.Errorf("docker stop took %v; want well under its 10s timeout", stop.Elapsed.Round(time.Millisecond))
			}
			if code := containerExitCode(t, name); code != c.want {
				t.Errorf("exit code after docker stop: got %d; want %d", code, c.want)
			}
		})
	}
}

// waitForReport waits for the report of a detached `probe report --sleep`.
func waitForReport(t *testing.T, name string) probeReport {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := docker(t, dockerTimeout, "logs", name)
		if strings.HasSuffix(r.Stdout, "\n") {
			return parseProbe(t, r.Stdout)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no report from %s\n%s", name, dockerLogs(t, name))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func testDockerExitCode(t *testing.T, imgs dockerImages) {
	f := newDockerFixture(t)
	r := docker(t, runTimeout, f.run(containerName(t), "--tmpfs", "/run/secrets", imgs.app, "/probe", "report", "--exit", "7")...)
	assertCode(t, r, 7)
	parseProbe(t, r.Stdout)
}

// testDockerSIGTERMWhileFetching: envinit, as PID 1 where SIGTERM has no
// default action, stops at once on SIGTERM while a request to SSM hangs.
func testDockerSIGTERMWhileFetching(t *testing.T, imgs dockerImages) {
	for _, how := range []string{"kill", "stop"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			f := newDockerFixture(t)
			url, accepted := blackhole(t)
			name := containerName(t)
			args := f.run(name, "-d", "--tmpfs", "/run/secrets", "-e", "AWS_ENDPOINT_URL_SSM="+url, imgs.app)
			mustDocker(t, args...)
			select {
			case <-accepted:
			case <-time.After(30 * time.Second):
				t.Fatalf("envinit never connected to the endpoint\n%s", dockerLogs(t, name))
			}
			start := time.Now()
			if how == "kill" {
				mustDocker(t, "kill", "--signal", "TERM", name)
			} else {
				mustDocker(t, "stop", name)
			}
			code, err := strconv.Atoi(strings.TrimSpace(mustDocker(t, "wait", name)))
			elapsed := time.Since(start)
			if err != nil {
				t.Fatalf("docker wait: %v", err)
			}
			if code != 143 {
				t.Errorf("exit code: got %d; want 143 (SIGTERM before the exec)\n%s", code, dockerLogs(t, name))
			}
			if elapsed > stopGrace {
				t.Errorf("container stopped %v after SIGTERM; want at once", elapsed.Round(time.Millisecond))
			}
			logs := docker(t, dockerTimeout, "logs", name)
			if logs.Stdout != "" {
				t.Errorf("app output: got %q; want none (it must not start)", redact(logs.Stdout))
			}
			assertStderrClean(t, logs, f.canaries()...)
		})
	}
}

// dockerFixture is a seeded emulator and the environment that points a
// container's envinit at it.
type dockerFixture struct {
	ssm     *emulator
	prefix  string
	service string
	secrets map[string]string // sensitive KEY -> value (a canary)
	env     map[string]string // the container's ENVINIT_* and AWS_*
}

func newDockerFixture(t *testing.T) *dockerFixture {
	t.Helper()
	return newDockerFixtureFor(t, "api")
}

func newDockerFixtureFor(t *testing.T, service string) *dockerFixture {
	t.Helper()
	e := startSSM(t)
	f := &dockerFixture{
		ssm:     e,
		prefix:  e.prefix(t),
		service: service,
		secrets: map[string]string{
			"API_KEY":     newCanary("API_KEY"),
			"DB_PASSWORD": newCanary("DB_PASSWORD"),
		},
		env: map[string]string{"ENVINIT_SERVICE": service},
	}
	svc := "services/" + service + "/"
	e.seed(t, f.prefix, map[string]string{
		"global/DB_HOST":    "db.internal",
		svc + "API_KEY":     f.secrets["API_KEY"],
		svc + "DB_PASSWORD": f.secrets["DB_PASSWORD"],
		svc + "__sensitive": "API_KEY,DB_PASSWORD",
		svc + "DB_HOST":     "#{$/DB_HOST}",
		svc + "LOG_LEVEL":   "debug",
	})
	f.env["ENVINIT_PREFIX"] = f.prefix
	for _, kv := range e.awsEnv() {
		k, v, _ := strings.Cut(kv, "=")
		f.env[k] = v
	}
	return f
}

func (f *dockerFixture) canaries() []string {
	var cs []string
	for _, v := range f.secrets {
		cs = append(cs, v)
	}
	return cs
}

// rotate gives the sensitive key a new value in the store.
func (f *dockerFixture) rotate(t *testing.T, key string) {
	t.Helper()
	f.secrets[key] = newCanary(key + " rotated")
	f.ssm.put(t, f.prefix+"/services/"+f.service+"/"+key, f.secrets[key])
}

// run is `docker run` on the host network with the fixture's environment;
// rest is docker run's own options, the image and its arguments.
func (f *dockerFixture) run(name string, rest ...string) []string {
	args := []string{"run", "--name", name, "--network", "host", "--label", dockerTestID}
	for _, k := range slices.Sorted(maps.Keys(f.env)) {
		args = append(args, "-e", k+"="+f.env[k])
	}
	return append(args, rest...)
}

// assertReport checks what `probe report` saw as PID 1 of a container run
// by envinit: the sensitive values only in 0400 files in dir owned by
// uid:gid, their paths in KEY_FILE, the rest in the environment, no
// ENVINIT_* and no secret value in the environment (the probe reports its
// initial environment: /proc/1/environ), nor in envinit's stderr.
func (f *dockerFixture) assertReport(t *testing.T, r result, dir string, uid, gid int) probeReport {
	t.Helper()
	assertCode(t, r, 0)
	assertStderrClean(t, r, f.canaries()...)
	if r.Code != 0 {
		t.FailNow()
	}
	p := parseProbe(t, r.Stdout)
	if p.PID != 1 {
		t.Errorf("app pid: got %d; want 1 (envinit must exec the app, not fork it)", p.PID)
	}
	if p.UID != uid || p.GID != gid {
		t.Errorf("app uid:gid: got %d:%d; want %d:%d", p.UID, p.GID, uid, gid)
	}
	for _, key := range slices.Sorted(maps.Keys(f.secrets)) {
		path := dir + "/" + key
		if got := p.Env[key+"_FILE"]; got != path {
			t.Errorf("%s_FILE: got %q; want %q", key, got, path)
		}
		if _, ok := p.Env[key]; ok {
			t.Errorf("%s is in the environment; want only %s_FILE", key, key)
		}
		file, ok := p.Files[path]
		switch {
		case !ok:
			t.Errorf("%s: not reported by the probe", path)
		case file.Error != "":
			t.Errorf("%s: %s", path, file.Error)
		default:
			if file.Type != "file" || file.Mode != "0400" {
				t.Errorf("%s: got a %s with mode %s; want a file with mode 0400", path, file.Type, file.Mode)
			}
			if file.UID != uid || file.GID != gid {
				t.Errorf("%s owner: got %d:%d; want %d:%d", path, file.UID, file.GID, uid, gid)
			}
			if file.Content != f.secrets[key] {
				t.Errorf("%s: content (%d bytes) is not the value of %s in the store (%d bytes)", path, len(file.Content), key, len(f.secrets[key]))
			}
		}
	}
	for k, want := range map[string]string{"LOG_LEVEL": "debug", "DB_HOST": "db.internal"} {
		if got := p.Env[k]; got != want {
			t.Errorf("%s: got %q; want %q", k, got, want)
		}
	}
	for _, kv := range p.Environ {
		if strings.HasPrefix(kv, "ENVINIT_") {
			k, _, _ := strings.Cut(kv, "=")
			t.Errorf("%s reached the app; want every ENVINIT_* variable dropped", k)
		}
		for _, c := range f.canaries() {
			if strings.Contains(kv, c) {
				t.Errorf("the app's environment holds the secret value labelled %q; want it only in its file", canaryLabel(c))
			}
		}
	}
	return p
}

// containerName returns a name for a container of this test, removed with
// its anonymous volumes when the test ends.
func containerName(t *testing.T) string {
	t.Helper()
	name := dockerTestID + "-" + regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-") + "-" + randHex(2)
	t.Cleanup(func() { dockerQuiet("rm", "--force", "--volumes", name) })
	return name
}

// requireDocker skips the test, loudly, when there is no Docker engine.
func requireDocker(t *testing.T) {
	t.Helper()
	out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput()
	if err != nil {
		t.Skipf("\n\n*** SKIPPING THE DOCKER TESTS: `docker info` failed: %v\n%s\n*** envinit is NOT tested in containers on this machine.\n", err, out)
	}
}

// dockerEnv is the docker CLI's environment. Without the buildx plugin
// the CLI cannot use BuildKit, so it is told to use the classic builder
// rather than fail; with it, the CLI's own default stands.
var dockerEnv = sync.OnceValue(func() []string {
	env := os.Environ()
	if exec.Command("docker", "buildx", "version").Run() != nil {
		env = append(env, "DOCKER_BUILDKIT=0")
	}
	return env
})

// docker runs the docker CLI. It fails the test only when docker cannot be
// run or does not answer within timeout: the exit code is the caller's.
func docker(t *testing.T, timeout time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = dockerEnv()
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{Stdout: stdout.String(), Stderr: stderr.String(), Elapsed: time.Since(start), Code: -1}
	if cmd.ProcessState != nil {
		r.Code = cmd.ProcessState.ExitCode()
	}
	if ctx.Err() != nil {
		t.Fatalf("docker %s: no answer within %v\nstdout: %s\nstderr: %s", redact(strings.Join(args, " ")), timeout, redact(r.Stdout), redact(r.Stderr))
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("docker %s: %v", redact(strings.Join(args, " ")), err)
	}
	return r
}

// mustDocker runs a docker command that must succeed and returns its
// stdout; on failure the test stops with docker's output.
func mustDocker(t *testing.T, args ...string) string {
	t.Helper()
	r := docker(t, dockerTimeout, args...)
	if r.Code != 0 {
		t.Fatalf("docker %s: exit %d\nstdout: %s\nstderr: %s", redact(strings.Join(args, " ")), r.Code, redact(r.Stdout), redact(r.Stderr))
	}
	return r.Stdout
}

// dockerQuiet runs a cleanup command whose failure is no test's concern.
func dockerQuiet(args ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), dockerTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = dockerEnv()
	cmd.Run()
}

// dockerLogs is a container's output for a failure message.
func dockerLogs(t *testing.T, name string) string {
	t.Helper()
	r := docker(t, dockerTimeout, "logs", name)
	return fmt.Sprintf("container stdout: %s\ncontainer stderr: %s", redact(r.Stdout), redact(r.Stderr))
}

func containerExitCode(t *testing.T, name string) int {
	t.Helper()
	out := strings.TrimSpace(mustDocker(t, "inspect", "--format", "{{.State.ExitCode}}", name))
	code, err := strconv.Atoi(out)
	if err != nil {
		t.Fatalf("exit code of %s: %q: %v", name, out, err)
	}
	return code
}

// dockerTop lists a container's processes with ps -o columns (pid first,
// args last), one row of fields each.
func dockerTop(t *testing.T, name, columns string) [][]string {
	t.Helper()
	n := len(strings.Split(columns, ","))
	lines := strings.Split(strings.TrimSpace(mustDocker(t, "top", name, "-o", columns)), "\n")
	var rows [][]string
	for _, line := range lines[1:] { // the first is the header
		fields := strings.Fields(line)
		if len(fields) < n {
			t.Fatalf("docker top: %q: want %d columns", line, n)
		}
		rows = append(rows, append(fields[:n-1:n-1], strings.Join(fields[n-1:], " ")))
	}
	return rows
}

// waitForProbe waits until envinit has exec'd the probe: every process of
// the container runs args (before the exec it is "/envinit -- args").
func waitForProbe(t *testing.T, name, args string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := docker(t, dockerTimeout, "top", name, "-o", "pid,args")
		if r.Code == 0 {
			lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")[1:]
			done := len(lines) > 0
			for _, line := range lines {
				fields := strings.Fields(line)
				done = done && len(fields) > 1 && strings.Join(fields[1:], " ") == args
			}
			if done {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the app %q never ran alone in %s: docker top: %s %s\n%s", args, name, r.Stdout, r.Stderr, dockerLogs(t, name))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// imageFile is a regular file of an image.
type imageFile struct {
	mode int64
	sum  [sha256.Size]byte
}

// imageFiles lists the regular files of an image, from `docker save`:
// exactly what the image ships, with none of the files docker adds to a
// container.
func imageFiles(t *testing.T, image string) map[string]imageFile {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), dockerTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", "save", image)
	cmd.Env = dockerEnv()
	saved, err := cmd.Output()
	if err != nil {
		t.Fatalf("docker save %s: %v", image, err)
	}
	blobs := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(saved))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("docker save %s: %v", image, err)
		}
		if blobs[h.Name], err = io.ReadAll(tr); err != nil {
			t.Fatalf("docker save %s: %v", image, err)
		}
	}
	var manifest []struct{ Layers []string }
	if err := json.Unmarshal(blobs["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("docker save %s: manifest.json: %v (%d images)", image, err, len(manifest))
	}
	files := map[string]imageFile{}
	for _, layer := range manifest[0].Layers {
		lr := tar.NewReader(bytes.NewReader(blobs[layer]))
		for {
			h, err := lr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("docker save %s: layer %s: %v", image, layer, err)
			}
			if h.Typeflag != tar.TypeReg {
				continue
			}
			content, err := io.ReadAll(lr)
			if err != nil {
				t.Fatal(err)
			}
			files[strings.TrimPrefix(h.Name, "./")] = imageFile{mode: h.Mode & 0o7777, sum: sha256.Sum256(content)}
		}
	}
	return files
}

// buildDockerImages builds the three images and removes them when t ends.
func buildDockerImages(t *testing.T) dockerImages {
	t.Helper()
	imgs := dockerImages{
		final: dockerTestID + "-envinit:test",
		app:   dockerTestID + "-app:test",
		probe: dockerTestID + "-probe:test",
	}
	t.Cleanup(func() {
		dockerQuiet("rmi", "--force", imgs.app, imgs.probe, imgs.final)
		// The classic builder keeps the `binary` stage as an untagged image.
		dockerQuiet("image", "prune", "--force", "--filter", "label="+dockerTestID)
	})
	dockerBuildFinal(t, imgs.final)

	// One context, rootfs/ copied to / by both Dockerfiles: each
	// instruction costs the classic builder a commit.
	ctx := t.TempDir()
	rootfs := filepath.Join(ctx, "rootfs")
	copyTestFile(t, probeBin, filepath.Join(rootfs, "probe"), 0o755)
	// A symlink to /dev, for SymlinkedSecretsDirParent.
	if err := os.Symlink("/dev", filepath.Join(rootfs, "dev-link")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"etc/passwd", "etc/group"} {
		copyTestFile(t, filepath.Join("testdata/docker/rootfs", f), filepath.Join(rootfs, f), 0o644)
	}
	// Git keeps no empty directory: this one is made here.
	if err := os.MkdirAll(filepath.Join(rootfs, "srv/secrets"), 0o755); err != nil {
		t.Fatal(err)
	}
	dockerBuild(t, ctx, "testdata/docker/app.Dockerfile", imgs.app, "--build-arg", "ENVINIT_IMAGE="+imgs.final)
	dockerBuild(t, ctx, "testdata/docker/probe.Dockerfile", imgs.probe)
	return imgs
}

// dockerBuildFinal builds the shipped image around envinitBin with
// scripts/image, the path the README documents for a machine without
// network.
func dockerBuildFinal(t *testing.T, tag string) {
	t.Helper()
	// The host's bundle when it has one: the tests talk plain HTTP to
	// kumo, so any file serves, but a real one keeps the image realistic.
	ca := "/etc/ssl/certs/ca-certificates.crt"
	if _, err := os.Stat(ca); err != nil {
		ca = filepath.Join(t.TempDir(), "ca-certificates.crt")
		if err := os.WriteFile(ca, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	r := runScript(t, 2*dockerTimeout, "..", nil, "scripts/image", envinitBin,
		"--tag", tag, "--ca-bundle", ca, "--version", "e2e", "--revision", "0123456789abcdef",
		"--", "--label", dockerTestID)
	if r.Code != 0 {
		t.Fatalf("scripts/image: exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	t.Logf("built %s in %v", tag, time.Since(start).Round(time.Millisecond))
}

func dockerBuild(t *testing.T, ctx, dockerfile, tag string, args ...string) {
	t.Helper()
	args = append([]string{"build", "--file", dockerfile, "--tag", tag, "--label", dockerTestID}, args...)
	start := time.Now()
	mustDocker(t, append(args, ctx)...)
	t.Logf("built %s in %v", tag, time.Since(start).Round(time.Millisecond))
}

func copyTestFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		t.Fatal(err)
	}
}

// TestDockerfileFinalStage checks, without an engine, what scripts/image
// builds: the shipped Dockerfile's final stage verbatim after the `binary`
// stage, and a refusal of what cannot be built on scratch from the two
// files of that stage. It also checks the Dockerfile's Go build is
// scripts/build, the one the releases use.
func TestDockerfileFinalStage(t *testing.T) {
	src, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	printed := func(dockerfile string) scriptResult {
		return runScript(t, dockerTimeout, "..", nil, "scripts/image", envinitBin, "--print", "--dockerfile", dockerfile)
	}
	r := printed("Dockerfile")
	final := string(src[bytes.Index(src, []byte("\nFROM scratch AS final\n"))+1:])
	if r.Code != 0 || !strings.HasSuffix(r.Stdout, final) || !strings.Contains(r.Stdout, "\nFROM scratch AS binary\n") {
		t.Errorf("scripts/image --print: exit %d, stdout %q, stderr %q; want a `binary` stage, then the Dockerfile's final stage verbatim:\n%s", r.Code, r.Stdout, r.Stderr, final)
	}

	for _, want := range []*regexp.Regexp{
		// No default: BuildKit would take it over its own (docker/buildx#510).
		regexp.MustCompile(`(?m)^ARG BUILDPLATFORM$`),
		// The classic builder leaves it empty, which FROM cannot parse.
		regexp.MustCompile(`(?m)^FROM --platform=\$\{BUILDPLATFORM:-linux/amd64\} \S+ AS binary$`),
		regexp.MustCompile(`(?m)^RUN GOARCH=\$TARGETARCH VERSION=\$VERSION COMMIT=\$REVISION \./scripts/build /envinit$`),
		regexp.MustCompile(`(?m)^!scripts/build$`),
		// The SPDX identifier of LICENSE, checked below.
		regexp.MustCompile(`(?m)^\s+org\.opencontainers\.image\.licenses="Apache-2\.0" \\$`),
	} {
		file := "../Dockerfile"
		content := src
		if strings.Contains(want.String(), "!scripts") {
			file = "../.dockerignore"
			if content, err = os.ReadFile(file); err != nil {
				t.Fatal(err)
			}
		}
		if !want.Match(content) {
			t.Errorf("%s: no line matching %s", file, want)
		}
	}
	// The built-in roots are the Amazon ones: only the e2e build replaces
	// them.
	if bytes.Contains(src, []byte("testRoots")) {
		t.Errorf("../Dockerfile sets fetch.testRoots; want the shipped build to keep the Amazon roots")
	}

	if license, err := os.ReadFile("../LICENSE"); err != nil || !regexp.MustCompile(`^\s*Apache License\s+Version 2\.0, January 2004\s`).Match(license) {
		t.Errorf("LICENSE: %v; want the Apache License 2.0, which the licenses label names", err)
	}

	dir := t.TempDir()
	for _, bad := range []string{
		"FROM scratch AS final\nRUN true\n",
		"FROM scratch AS final\nCOPY envinit /envinit\n",
		"FROM scratch AS final\nCOPY --from=build /envinit /envinit\n",
		"FROM scratch AS final\nADD https://example.com/x /x\n",
		"FROM scratch AS final\nLABEL a=b \\\n  c=d\nrun true\n",
		"FROM scratch AS other\n",
	} {
		path := filepath.Join(dir, "Dockerfile")
		if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if r := printed(path); r.Code == 0 {
			t.Errorf("scripts/image --print with a Dockerfile %q: exit 0, stdout %q; want a refusal", bad, r.Stdout)
		}
	}
	path := filepath.Join(dir, "Dockerfile")
	good := "FROM x AS binary\nRUN go build\nFROM scratch AS final\nCOPY --from=binary \\\n  /a /a\nENTRYPOINT [\"/a\"]\nFROM scratch AS later\nRUN x\n"
	if err := os.WriteFile(path, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := printed(path); r.Code != 0 || !strings.HasSuffix(r.Stdout, "\nFROM scratch AS final\nCOPY --from=binary \\\n  /a /a\nENTRYPOINT [\"/a\"]\n") {
		t.Errorf("scripts/image --print: exit %d, stdout %q, stderr %q; want the final stage up to the next FROM", r.Code, r.Stdout, r.Stderr)
	}
}

// TestImageScriptOtherArchitecture: scripts/image refuses a binary that is
// not for the engine's architecture, which the classic builder would wrap
// in an image that cannot start. Only the ELF header is read.
func TestImageScriptOtherArchitecture(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	engine := strings.TrimSpace(mustDocker(t, "version", "--format", "{{.Server.Arch}}"))
	other, machine := "arm64", byte(183) // EM_AARCH64
	if engine == "arm64" {
		other, machine = "amd64", 62 // EM_X86_64
	}
	header := make([]byte, 64)
	copy(header, "\x7fELF\x02\x01\x01")
	header[18] = machine
	bin := filepath.Join(t.TempDir(), "envinit")
	if err := os.WriteFile(bin, header, 0o755); err != nil {
		t.Fatal(err)
	}
	r := runScript(t, dockerTimeout, "..", nil, "scripts/image", bin, "--tag", dockerTestID+"-other-arch:test")
	if want := "is for " + other + ", the engine for " + engine; r.Code == 0 || !strings.Contains(r.Stderr, want) {
		t.Errorf("scripts/image with a %s binary: exit %d, stderr %q; want a refusal saying %q", other, r.Code, r.Stderr, want)
	}
}
