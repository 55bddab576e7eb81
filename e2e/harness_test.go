// Package e2e runs the real, static envinit binary as a subprocess against
// an independent SSM emulator (github.com/sivchari/kumo, in process, seeded
// through the real AWS SDK) and, in the docker*_test.go files, in real
// containers. It is a separate Go module so that kumo and the test-only
// dependencies stay out of the binary's go.mod; it never imports envinit's
// packages.
//
// Run it from the repository root with:
//
//	cd e2e && go test ./...
//
// TestMain makes the rig's certificates (pki_test.go), then builds envinit
// (CGO_ENABLED=0, -trimpath, stripped, with the rig's root in place of the
// Amazon roots) from ../cmd/envinit and the probe (./internal/probe), the
// COMMAND the tests hand to envinit, which reports its pid, argv,
// environment and the files named by *_FILE variables as JSON. If either
// does not build, every test fails with the build output.
//
// kumo keeps one parameter store per process, shared by every server it
// starts, so each test seeds under its own prefix (see emulator.prefix).
// Every seeded value is a canary (newCanary) that the tests look for in
// envinit's stderr; the secrets directories are fresh directories under
// /dev/shm (tmpfs), removed when the test ends.
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/envinit/envinit/e2e/internal/report"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/sivchari/kumo"
)

var (
	envinitBin string // static envinit binary built once in TestMain
	probeBin   string // static probe binary built once in TestMain
)

// runTimeout bounds every envinit run: a hang fails the test instead of the
// whole package.
const runTimeout = 60 * time.Second

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "envinit-e2e-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	// Readable by every user: tests run COMMAND as another user, and
	// containers mount the binaries.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}

	if pki, err = newTestPKI(dir); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: FAIL: cannot make the test certificates: %v\n", err)
		return 1
	}

	envinitBin = filepath.Join(dir, "envinit")
	probeBin = filepath.Join(dir, "probe")
	builds := []struct{ what, dir, pkg, out, ldflags string }{
		{"envinit", "..", "./cmd/envinit", envinitBin, envinitLDFlags()},
		{"probe", ".", "./internal/probe", probeBin, "-s -w"},
	}
	for _, b := range builds {
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags="+b.ldflags, "-o", b.out, b.pkg)
		cmd.Dir = b.dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: FAIL: cannot build %s (%s in %s): %v\n%s\n", b.what, b.pkg, b.dir, err, out)
			return 1
		}
	}
	return m.Run()
}

// envinitLDFlags are the e2e build's: stripped, as the Dockerfile builds,
// with the rig's root in place of the Amazon roots (this build only).
func envinitLDFlags() string {
	return "-s -w -X 'github.com/envinit/envinit/internal/fetch.testRoots=" + pki.rootPEM + "'"
}

// emulator is a kumo server and an SDK client pointed at it.
type emulator struct {
	URL    string      // base URL of kumo's in-process server (http://127.0.0.1:PORT)
	Client *ssm.Client // real SDK client pointed at it
}

// startSSM starts an in-process kumo server, closed when the test ends.
// kumo's parameters are shared by all its servers in this process: seed
// under emulator.prefix.
func startSSM(t testing.TB) *emulator {
	t.Helper()
	srv := kumo.NewServer()
	t.Cleanup(srv.Close)
	client := ssm.New(ssm.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(srv.URL),
	})
	return &emulator{URL: srv.URL, Client: client}
}

// prefix returns an SSM path unique to this run of this test, to use as
// ENVINIT_PREFIX.
func (e *emulator) prefix(t *testing.T) string {
	t.Helper()
	name := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "-")
	return "/e2e/" + name + "-" + randHex(4)
}

// put stores one SecureString parameter, overwriting it if it exists.
func (e *emulator) put(t testing.TB, name, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := e.Client.PutParameter(ctx, &ssm.PutParameterInput{
		Name:      aws.String(name),
		Value:     aws.String(value),
		Type:      types.ParameterTypeSecureString,
		Overwrite: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("PutParameter %s: %v", name, err)
	}
}

// seed stores kv under prefix; the keys are relative to it, e.g.
// "global/DB_HOST" or "services/api/__sensitive".
func (e *emulator) seed(t testing.TB, prefix string, kv map[string]string) {
	t.Helper()
	names := make([]string, 0, len(kv))
	for k := range kv {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		e.put(t, strings.TrimSuffix(prefix, "/")+"/"+strings.TrimPrefix(k, "/"), kv[k])
	}
}

// awsEnv is the AWS part of envinit's environment: static test credentials,
// a region, the emulator as the SSM endpoint, no IMDS, and no shared config
// file of the machine running the tests.
func (e *emulator) awsEnv() []string {
	return awsEnvFor(e.URL)
}

func awsEnvFor(endpoint string) []string {
	return []string{
		"AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_ENDPOINT_URL_SSM=" + endpoint,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/nonexistent/envinit-e2e/aws-config",
		"AWS_SHARED_CREDENTIALS_FILE=/nonexistent/envinit-e2e/aws-credentials",
	}
}

// result is what one envinit run did.
type result struct {
	Stdout, Stderr string
	Code           int // exit code; -1 if killed by a signal
	Elapsed        time.Duration
	PID            int // pid of the envinit process started
}

// runEnvinit runs envinitBin with exactly env (nothing inherited) and args,
// and waits for it, at most runTimeout.
func runEnvinit(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return startEnvinit(t, env, args...).wait(t)
}

// running is an envinit process that was started and not yet waited for.
type running struct {
	cmd            *exec.Cmd
	ctx            context.Context
	cancel         context.CancelFunc
	stdout, stderr *bytes.Buffer
	start          time.Time
	done           chan struct{} // closed when the process has exited
	err            error         // from cmd.Wait, once done is closed
	end            time.Time
}

// startEnvinit starts envinitBin with exactly env and args; wait for it
// with wait. It is killed after runTimeout.
func startEnvinit(t *testing.T, env []string, args ...string) *running {
	t.Helper()
	return startVia(t, nil, env, args...)
}

// startVia is startEnvinit through a launcher: via is a command line that
// ends by exec'ing envinitBin, which follows it.
func startVia(t *testing.T, via []string, env []string, args ...string) *running {
	t.Helper()
	if env == nil {
		env = []string{} // a nil Env would inherit the test's environment
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	argv := append(append(slices.Clone(via), envinitBin), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = t.TempDir()
	cmd.WaitDelay = 5 * time.Second
	r := &running{cmd: cmd, ctx: ctx, cancel: cancel, stdout: new(bytes.Buffer), stderr: new(bytes.Buffer), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = r.stdout, r.stderr
	r.start = time.Now()
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start envinit: %v", err)
	}
	go func() {
		r.err = cmd.Wait()
		r.end = time.Now()
		close(r.done)
	}()
	return r
}

func (r *running) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := r.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("send %v to envinit: %v", sig, err)
	}
}

func (r *running) wait(t *testing.T) result {
	t.Helper()
	defer r.cancel()
	<-r.done
	err := r.err
	res := result{
		Stdout:  r.stdout.String(),
		Stderr:  r.stderr.String(),
		Elapsed: r.end.Sub(r.start),
		PID:     r.cmd.Process.Pid,
		Code:    r.cmd.ProcessState.ExitCode(),
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
	default:
		t.Errorf("wait for envinit: %v", err)
	}
	if errors.Is(r.ctx.Err(), context.DeadlineExceeded) {
		t.Errorf("envinit did not finish within %v; killed", runTimeout)
	}
	return res
}

// canaries maps every canary made by newCanary to its label, so failure
// messages can name a canary without printing it.
var canaries sync.Map

// newCanary returns a distinctive random value to seed, remembered under
// label.
func newCanary(label string) string {
	c := "CANARY-" + randHex(8)
	canaries.Store(c, label)
	return c
}

func canaryLabel(c string) string {
	if l, ok := canaries.Load(c); ok {
		return l.(string)
	}
	return "unlabelled canary"
}

// redact replaces every known canary in s by its label, for messages.
func redact(s string) string {
	canaries.Range(func(k, v any) bool {
		s = strings.ReplaceAll(s, k.(string), "<canary:"+v.(string)+">")
		return true
	})
	return s
}

// assertNoLeak fails if any canary appears in r.Stdout or r.Stderr. The
// message names the canary's label, never the canary itself.
func assertNoLeak(t *testing.T, r result, canaries ...string) {
	t.Helper()
	for _, c := range canaries {
		if strings.Contains(r.Stdout, c) {
			t.Errorf("stdout holds the secret value labelled %q; want no secret value", canaryLabel(c))
		}
		if strings.Contains(r.Stderr, c) {
			t.Errorf("stderr holds the secret value labelled %q; want no secret value", canaryLabel(c))
		}
	}
}

// assertStderrClean is assertNoLeak for runs whose stdout is the probe's
// report, which holds the values on purpose.
func assertStderrClean(t *testing.T, r result, canaries ...string) {
	t.Helper()
	assertNoLeak(t, result{Stderr: r.Stderr}, canaries...)
}

// assertCode fails unless envinit exited with want; the message shows
// stderr with the canaries masked.
func assertCode(t *testing.T, r result, want int) {
	t.Helper()
	if r.Code != want {
		t.Errorf("exit code: got %d; want %d\nstderr: %s\nstdout: %.2000s", r.Code, want, redact(r.Stderr), redact(r.Stdout))
	}
}

// probeReport is what `probe report` prints.
type probeReport = report.Report

type probeFile = report.File

// parseProbe decodes the report `probe report` printed on stdout.
func parseProbe(t *testing.T, stdout string) probeReport {
	t.Helper()
	var p probeReport
	if err := json.Unmarshal([]byte(strings.TrimSpace(stdout)), &p); err != nil {
		t.Fatalf("probe report: %v\nstdout: %.2000s", err, redact(stdout))
	}
	return p
}

// shmDir returns a fresh, empty directory on tmpfs (/dev/shm) for
// ENVINIT_SECRETS_DIR, removed when the test ends.
func shmDir(t *testing.T) string {
	t.Helper()
	if !isMemFS("/dev/shm") {
		t.Skip("/dev/shm is not memory-backed here")
	}
	dir, err := os.MkdirTemp("/dev/shm", "envinit-e2e-")
	if err != nil {
		t.Fatalf("make secrets dir: %v", err)
	}
	t.Cleanup(func() {
		// Secret files are 0400 and may be owned by another user; root
		// or the directory's owner can still unlink them.
		os.RemoveAll(dir)
	})
	return dir
}

// isMemFS reports whether path is on tmpfs or ramfs.
func isMemFS(path string) bool {
	const tmpfsMagic, ramfsMagic = 0x01021994, 0x858458f6
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return false
	}
	return st.Type == tmpfsMagic || st.Type == ramfsMagic
}

// assertEmptyDir fails if dir holds anything (a missing dir is empty).
func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	if len(entries) > 0 {
		names := make([]string, len(entries))
		for i, e := range entries {
			names[i] = e.Name()
		}
		t.Errorf("secrets dir holds %v; want nothing written", names)
	}
}

// assertNotStarted fails if the probe created its marker file.
func assertNotStarted(t *testing.T, marker string) {
	t.Helper()
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("COMMAND ran (marker %s exists); want it not started", filepath.Base(marker))
	} else if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stat marker: %v", err)
	}
}

// closedAddr returns a local TCP address that nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// blackhole listens on a local port, accepts connections and never answers.
// accepted receives one value per accepted connection.
func blackhole(t *testing.T) (url string, accepted <-chan struct{}) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ch := make(chan struct{}, 64)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + l.Addr().String(), ch
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
