package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// The herd: a mass deploy starts many containers of the same service at
// once against one account's SSM quota. GetParameter, GetParameters and
// GetParametersByPath share 40 TPS by default; AWS does not publish the
// bucket size, so the proxy's bucket holds one second of quota (burst 40),
// the usual token-bucket shape and the smallest that lets a single caller
// reach the full rate.
const (
	herdSize  = 200
	herdTPS   = 40
	herdBurst = 40
	// herdLatency is an in-region round trip: the quota, not the latency,
	// bounds a herd.
	herdLatency = 10 * time.Millisecond
)

// herdService seeds the service every member of the herd resolves: 25
// keys (so 26 parameters with __sensitive: three pages of ten), eight of
// which reference five globals (one GetParameters call), three sensitive,
// one of those a global's. Each start costs four calls, one after the
// other: the three pages, then the globals.
type herdService struct {
	alias     string
	plain     map[string]string // KEY → final value in the environment
	sensitive map[string]string // KEY → final value in its file
}

func seedHerd(t *testing.T, f *fixture) herdService {
	t.Helper()
	h := herdService{alias: "herd-api", plain: map[string]string{}, sensitive: map[string]string{}}
	g := map[string]string{
		"DB_HOST":      "db-" + newCanary("global/DB_HOST") + ".internal",
		"DB_USER":      "app",
		"REGION_NAME":  "eu-west-1",
		"LOG_ENDPOINT": "https://logs.internal/" + newCanary("global/LOG_ENDPOINT"),
		"DB_PASS":      newCanary("global/DB_PASS"),
	}
	kv := map[string]string{"global/__sensitive": "DB_PASS"}
	for k, v := range g {
		kv["global/"+k] = v
	}
	svc := "services/" + h.alias + "/"
	kv[svc+"__sensitive"] = "API_TOKEN,SIGNING_KEY"
	for i := range 17 {
		k := fmt.Sprintf("SETTING_%02d", i)
		v := fmt.Sprintf("v%02d-", i) + newCanary("herd/"+k)
		kv[svc+k], h.plain[k] = v, v
	}
	refs := []struct{ key, raw, final string }{
		{"DATABASE_HOST", "#{$/DB_HOST}", g["DB_HOST"]},
		{"DATABASE_USER", "#{$/DB_USER}", g["DB_USER"]},
		{"AWS_REGION_NAME", "#{$/REGION_NAME}", g["REGION_NAME"]},
		{"LOG_URL", "#{$/LOG_ENDPOINT}/herd", g["LOG_ENDPOINT"] + "/herd"},
		{"DB_ADDR", "#{$/DB_USER}@#{$/DB_HOST}:5432", g["DB_USER"] + "@" + g["DB_HOST"] + ":5432"},
	}
	for _, r := range refs {
		kv[svc+r.key], h.plain[r.key] = r.raw, r.final
	}
	token, signing := newCanary("herd/API_TOKEN"), newCanary("herd/SIGNING_KEY")
	kv[svc+"API_TOKEN"], h.sensitive["API_TOKEN"] = token, token
	kv[svc+"SIGNING_KEY"], h.sensitive["SIGNING_KEY"] = signing, signing
	// Interpolates a sensitive global: sensitive too.
	kv[svc+"DATABASE_URL"] = "postgres://#{$/DB_USER}:#{$/DB_PASS}@#{$/DB_HOST}/app"
	h.sensitive["DATABASE_URL"] = "postgres://app:" + g["DB_PASS"] + "@" + g["DB_HOST"] + "/app"
	if n := len(h.plain) + len(h.sensitive); n != 25 {
		t.Fatalf("herd service has %d keys; want 25", n)
	}
	f.seed(t, kv)
	return h
}

// herdMember is one process of the herd.
type herdMember struct {
	run     *running
	secrets string // its own secrets dir
	marker  string // the probe creates it when it starts
}

// startHerd starts n envinit processes at once, each with its own secrets
// dir and marker, against the SSM endpoint url. It returns when all are
// started.
func startHerd(t *testing.T, f *fixture, h herdService, url string, n int, timeout time.Duration) []herdMember {
	t.Helper()
	markers := t.TempDir()
	members := make([]herdMember, n)
	envs := make([][]string, n)
	for i := range members {
		m := &members[i]
		m.secrets = shmDir(t)
		m.marker = filepath.Join(markers, fmt.Sprintf("started-%03d", i))
		envs[i] = withEnv(f.env(h.alias, "ENVINIT_SECRETS_DIR="+m.secrets, "ENVINIT_TIMEOUT="+timeout.String()), awsEnvFor(url)...)
	}
	for i := range members {
		members[i].run = startEnvinit(t, envs[i], "--", probeBin, "report", "--marker", members[i].marker)
	}
	return members
}

// checkStarted checks that a member that exited 0 started the probe with
// the whole service resolved: every plain key in the environment, every
// sensitive one in its file, nothing half-resolved.
func checkStarted(t *testing.T, i int, m herdMember, r result, h herdService, canaries []string) {
	t.Helper()
	assertStderrClean(t, r, canaries...)
	p := parseProbe(t, r.Stdout)
	for k, v := range h.plain {
		if p.Env[k] != v {
			t.Errorf("member %d: env %s: got %q; want %q", i, k, redact(p.Env[k]), redact(v))
		}
	}
	for k, v := range h.sensitive {
		assertSecretFile(t, p, m.secrets, k, v)
	}
	for _, kv := range p.Environ {
		if strings.Contains(kv, "#{") {
			t.Errorf("member %d: env %s holds an unresolved reference", i, strings.SplitN(kv, "=", 2)[0])
		}
	}
}

// A herd of 200 starts of a 25-key service against a shared 40 TPS quota:
// every one starts its command, with its whole environment, within the
// deadline. The figures are logged: time to all started against the
// quota's floor (calls ÷ TPS), and throttled calls per start.
func TestHerdAllStart(t *testing.T) {
	// Not parallel: the herd needs the machine to itself to measure.
	f := newFixture(t)
	h := seedHerd(t, f)
	proxy := startProxy(t, f.e.URL, proxyOptions{Latency: herdLatency, TPS: herdTPS, Burst: herdBurst})
	const deadline = 50 * time.Second // under runTimeout: a miss is an exit, not a kill

	launch := time.Now()
	members := startHerd(t, f, h, proxy.URL(), herdSize, deadline)
	launched := time.Since(launch)
	var last time.Time
	var failed int
	for i, m := range members {
		r := m.run.wait(t)
		if r.Code != 0 {
			failed++
			if failed <= 5 {
				t.Errorf("member %d: exit %d after %v; want the probe started (0)\nstderr: %s", i, r.Code, r.Elapsed, redact(r.Stderr))
			}
			continue
		}
		checkStarted(t, i, m, r, h, f.canaries())
		st, err := os.Stat(m.marker)
		if err != nil {
			t.Errorf("member %d: exit 0 but no marker: %v", i, err)
			continue
		}
		if st.ModTime().After(last) {
			last = st.ModTime()
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d members did not start; want all", failed, herdSize)
	}

	byPath, params := proxy.Calls("GetParametersByPath"), proxy.Calls("GetParameters")
	calls := byPath + params
	if want := herdSize * 4; calls != want {
		t.Errorf("calls answered: got %d (%d GetParametersByPath, %d GetParameters); want %d, four per start", calls, byPath, params, want)
	}
	took := last.Sub(launch)
	floor := time.Duration(float64(calls) / herdTPS * float64(time.Second))
	throttled := proxy.Throttled()
	ratio := took.Seconds() / floor.Seconds()
	perStart := float64(throttled) / herdSize
	t.Logf("herd: %d starts, %d calls, launched in %v; all started after %v; quota floor %v (calls/%d TPS); ratio %.2f (target <= 1.15); "+
		"throttled %d = %.2f per start (target <= 0.5); longest chain %d",
		herdSize, calls, launched.Round(time.Millisecond), took.Round(time.Millisecond), floor, herdTPS, ratio, throttled, perStart, proxy.Chain())
	if took > deadline {
		t.Errorf("time to all started: got %v; want within the %v deadline", took, deadline)
	}
	// The targets are logged, not asserted. 0.5 throttled calls per start
	// is out of reach of clients that learn of the herd only by being
	// throttled: with 200 starts in a few seconds against a bucket of 40,
	// most first requests find it empty. These bounds catch a regression:
	// a retry policy that leaves the quota idle, or one that hammers it.
	if ratio > 1.5 {
		t.Errorf("time to all started: got %.2f× the quota floor; want at most 1.5× (1.15 is the target)", ratio)
	}
	if perStart > 15 {
		t.Errorf("throttled calls per start: got %.2f; want at most 15 (today about 9)", perStart)
	}
}

// The same herd with a deadline far too short for the quota: no process
// may start half-resolved. Each either started with the whole environment
// (the first few through the quota can) or exited 75, throttled (or 69,
// below), without starting COMMAND and without leaving a file; none
// outlives the deadline by more than the slack; and no more started than
// the quota let through. How many exit 69 rather than 75 depends on how
// the machine schedules 200 processes, so it is logged, not bounded.
func TestHerdDeadlineTooShort(t *testing.T) {
	f := newFixture(t)
	h := seedHerd(t, f)
	proxy := startProxy(t, f.e.URL, proxyOptions{Latency: herdLatency, TPS: herdTPS, Burst: herdBurst})
	// 800 calls need 19 s at 40 TPS after the burst; in 3 s at most
	// (40 + 3·40)/4 = 40 starts fit.
	const deadline = 3 * time.Second
	const slack = 10 * time.Second // 200 processes starting on a busy 2-core machine

	launch := time.Now()
	members := startHerd(t, f, h, proxy.URL(), herdSize, deadline)
	codes := map[int]int{}
	var slowest time.Duration
	var lastExit time.Time
	for i, m := range members {
		r := m.run.wait(t)
		codes[r.Code]++
		slowest = max(slowest, r.Elapsed)
		if end := m.run.start.Add(r.Elapsed); end.After(lastExit) {
			lastExit = end
		}
		if r.Elapsed > deadline+slack {
			t.Errorf("member %d: exit %d after %v; want within %v of the %v deadline", i, r.Code, r.Elapsed, slack, deadline)
		}
		switch r.Code {
		case 0:
			checkStarted(t, i, m, r, h, f.canaries())
		case 69:
			// A member whose very first request the deadline cut off (or
			// never let out) never heard from SSM at all, so it cannot know
			// it was throttled:
			// "unavailable" is the truth from where it stands. It happens
			// when 200 processes starting on 2 cores leave one unscheduled
			// for most of its deadline; it must stay rare, and it must still
			// fail closed.
			if !strings.Contains(r.Stderr, "no answer from SSM before the deadline (1 attempt)") &&
				!strings.Contains(r.Stderr, "before the first request to SSM went out") {
				t.Errorf("member %d: exit 69 after %v; want 0, 75, or 69 only for a first request cut off\nstderr: %s", i, r.Elapsed, redact(r.Stderr))
			}
			fallthrough
		case 75:
			assertNoLeak(t, r, f.canaries()...)
			if r.Stdout != "" {
				t.Errorf("member %d: stdout: got %q; want nothing", i, redact(r.Stdout))
			}
			if _, err := os.Stat(m.marker); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("member %d: exit 75 but the probe ran (marker: %v); want it not started", i, err)
			}
			assertEmptyDir(t, m.secrets)
			if r.Code == 75 && !strings.Contains(r.Stderr, "throttled") {
				t.Errorf("member %d: stderr: got %q; want it to say SSM throttled", i, redact(r.Stderr))
			}
		default:
			t.Errorf("member %d: exit %d after %v; want 0 (started) or 75 (throttled)\nstderr: %s", i, r.Code, r.Elapsed, redact(r.Stderr))
		}
	}
	keys := make([]int, 0, len(codes))
	for c := range codes {
		keys = append(keys, c)
	}
	sort.Ints(keys)
	var summary []string
	for _, c := range keys {
		summary = append(summary, fmt.Sprintf("exit %d: %d", c, codes[c]))
	}
	t.Logf("herd with a %v deadline: %s; slowest exit after %v; %d calls answered, %d throttled",
		deadline, strings.Join(summary, ", "), slowest.Round(time.Millisecond),
		proxy.Calls("GetParametersByPath")+proxy.Calls("GetParameters"), proxy.Throttled())
	// The quota decided: a start takes 4 calls (TestHerdAllStart), and
	// between the launch and the last exit the bucket let through at most
	// its burst and its rate over that time, whatever the schedule.
	window := lastExit.Sub(launch)
	if most := int((herdBurst + herdTPS*window.Seconds()) / 4); codes[0] > most {
		t.Errorf("started: got %d of %d in %v; want at most %d, what the quota lets through", codes[0], herdSize, window.Round(time.Millisecond), most)
	}
}
