package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// fixture is one test's slice of the emulator: its own prefix, its own
// secrets dir on tmpfs and a marker file the probe creates when it runs.
// envinit reaches the emulator over HTTPS, as it reaches SSM: through the
// proxy (no latency, no fault) serving the rig's certificate, with the
// machine's CA bundle and the rig's root as its trust store.
type fixture struct {
	e       *emulator
	front   *ssmProxy // TLS in front of e
	prefix  string
	secrets string
	marker  string
	seeded  []string // every value seeded, to look for canaries
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	e := startSSM(t)
	return &fixture{
		e:       e,
		front:   startProxy(t, e.URL, proxyOptions{TLS: true}),
		prefix:  e.prefix(t),
		secrets: shmDir(t),
		marker:  filepath.Join(t.TempDir(), "probe-started"),
	}
}

func (f *fixture) seed(t *testing.T, kv map[string]string) {
	t.Helper()
	f.e.seed(t, f.prefix, kv)
	for _, v := range kv {
		f.seeded = append(f.seeded, v)
	}
}

// env is envinit's whole environment: AWS settings for the emulator (over
// HTTPS, SSL_CERT_FILE the trust store), a PATH, the prefix, the secrets
// dir, the service (if not empty), then extra ("K=V"; an extra K replaces
// the one set before, "K" alone removes it).
func (f *fixture) env(service string, extra ...string) []string {
	env := append(f.front.awsEnv(),
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"ENVINIT_PREFIX="+f.prefix,
		"ENVINIT_SECRETS_DIR="+f.secrets,
	)
	if service != "" {
		env = append(env, "ENVINIT_SERVICE="+service)
	}
	return withEnv(env, extra...)
}

// withEnv returns env with each "K=V" of kv set (replacing K) and each
// bare "K" removed.
func withEnv(env []string, kv ...string) []string {
	out := slices.Clone(env)
	for _, s := range kv {
		k, _, hasValue := strings.Cut(s, "=")
		out = slices.DeleteFunc(out, func(e string) bool { return strings.HasPrefix(e, k+"=") })
		if hasValue {
			out = append(out, s)
		}
	}
	return out
}

// probe is the argument list "-- PROBE report --marker M extra...".
func (f *fixture) probe(extra ...string) []string {
	return append([]string{"--", probeBin, "report", "--marker", f.marker}, extra...)
}

// canaries returns every canary in the values seeded so far.
func (f *fixture) canaries() []string {
	return canariesIn(f.seeded...)
}

var canaryRE = regexp.MustCompile(`CANARY-[0-9a-f]{16}`)

func canariesIn(values ...string) []string {
	var out []string
	for _, v := range values {
		for _, c := range canaryRE.FindAllString(v, -1) {
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}

// runOK runs envinit, expects the probe to have run and exited 0, checks
// that stderr holds no seeded value, and returns the probe's report.
func (f *fixture) runOK(t *testing.T, env []string, args ...string) probeReport {
	t.Helper()
	r := runEnvinit(t, env, args...)
	assertCode(t, r, 0)
	assertStderrClean(t, r, f.canaries()...)
	if r.Code != 0 {
		t.FailNow()
	}
	return parseProbe(t, r.Stdout)
}

// runFail runs envinit, expects exit code want, and checks that it failed
// closed: no seeded value on stdout or stderr, nothing in the secrets dir,
// COMMAND not started. It returns the result for further checks.
func (f *fixture) runFail(t *testing.T, want int, env []string, args ...string) result {
	t.Helper()
	r := runEnvinit(t, env, args...)
	t.Logf("envinit exited %d; stderr: %s", r.Code, redact(r.Stderr))
	assertCode(t, r, want)
	assertNoLeak(t, r, f.canaries()...)
	assertEmptyDir(t, f.secrets)
	assertNotStarted(t, f.marker)
	if r.Stdout != "" {
		t.Errorf("stdout: got %q; want nothing", redact(r.Stdout))
	}
	return r
}

// assertEnv checks that the probe saw key=want.
func assertEnv(t *testing.T, p probeReport, key, want string) {
	t.Helper()
	got, ok := p.Env[key]
	if !ok {
		t.Errorf("env %s: not set; want %q", key, redact(want))
		return
	}
	if got != want {
		t.Errorf("env %s: got %q; want %q", key, redact(got), redact(want))
	}
}

// assertUnset checks that the probe did not see key at all.
func assertUnset(t *testing.T, p probeReport, key string) {
	t.Helper()
	if got, ok := p.Env[key]; ok {
		t.Errorf("env %s: got %q; want unset", key, redact(got))
	}
}

// assertSecretFile checks that key is not in the environment, that
// KEY_FILE names {dir}/{key}, and that the file is a regular file of mode
// 0400 owned by the probe's user with exactly want as content.
func assertSecretFile(t *testing.T, p probeReport, dir, key, want string) {
	t.Helper()
	assertUnset(t, p, key)
	path := filepath.Join(dir, key)
	assertEnv(t, p, key+"_FILE", path)
	pf, ok := p.Files[path]
	if !ok {
		t.Errorf("file %s: not reported by the probe; want it", path)
		return
	}
	if pf.Error != "" {
		t.Errorf("file %s: %s; want a readable file", path, pf.Error)
		return
	}
	if pf.Type != "file" {
		t.Errorf("file %s: type %s; want a regular file", path, pf.Type)
	}
	if pf.Mode != "0400" {
		t.Errorf("file %s: mode %s; want 0400", path, pf.Mode)
	}
	if pf.UID != p.UID || pf.GID != p.GID {
		t.Errorf("file %s: owner %d:%d; want %d:%d (the user COMMAND runs as)", path, pf.UID, pf.GID, p.UID, p.GID)
	}
	if pf.Content != want {
		t.Errorf("file %s: content %q; want %q", path, redact(pf.Content), redact(want))
	}
}

// assertDirHolds checks that dir holds exactly names (no temp files left).
func assertDirHolds(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read secrets dir: %v", err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := slices.Clone(names)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("secrets dir: got %v; want %v", got, want)
	}
}

// assertNoEnvinitVars checks that no ENVINIT_* variable reached COMMAND.
func assertNoEnvinitVars(t *testing.T, p probeReport) {
	t.Helper()
	for _, kv := range p.Environ {
		if strings.HasPrefix(kv, "ENVINIT_") {
			k, _, _ := strings.Cut(kv, "=")
			t.Errorf("env %s reached COMMAND; want no ENVINIT_* variable", k)
		}
	}
}

// assertNoDupes checks that every variable appears once in the environment.
func assertNoDupes(t *testing.T, p probeReport) {
	t.Helper()
	seen := map[string]int{}
	for _, kv := range p.Environ {
		k, _, _ := strings.Cut(kv, "=")
		seen[k]++
	}
	for k, n := range seen {
		if n > 1 {
			t.Errorf("env %s: appears %d times; want once", k, n)
		}
	}
}
