package e2e

import (
	"strings"
	"testing"
	"time"
)

// Store failures through the proxy, on the deploy-shaped store with a
// sensitive key: each must exit with its code (the README's Exit codes) within the
// deadline, write no file, start nothing and print no value — including
// the values of the pages that did arrive before the failure.

// failureStore seeds the deploy shape with api's K23 sensitive, so that a
// run that got as far as writing files would leave one.
func failureStore(t *testing.T, f *fixture) {
	t.Helper()
	kv, _ := deployShape()
	kv["services/api/__sensitive"] = "K23"
	f.seed(t, kv)
}

// faultAlways injects f into every request of op ("" for every op).
func faultAlways(op string, f fault) func(string, int) fault {
	return func(o string, _ int) fault {
		if op == "" || o == op {
			return f
		}
		return faultNone
	}
}

// countOutcome counts the requests the proxy answered with outcome.
func countOutcome(p *ssmProxy, outcome string) int {
	n := 0
	for _, r := range p.Requests() {
		if r.Outcome == outcome {
			n++
		}
	}
	return n
}

// assertNotRetried checks that at least one request ended with outcome and
// that none of those was sent again: a denial is not retried. More than one
// may be denied: the deploy shape's 12 globals go out as two GetParameters
// calls at once when api's pages end together, and both can be under way
// before the first denial cancels the rest.
func assertNotRetried(t *testing.T, p *ssmProxy, outcome string) {
	t.Helper()
	seen := map[string]int{}
	for _, r := range p.Requests() {
		if r.Outcome == outcome {
			seen[r.Op+" "+r.Path+" "+r.NextToken+" "+strings.Join(r.Names, ",")]++
		}
	}
	if len(seen) == 0 {
		t.Errorf("requests that ended %q: got none; want at least one", outcome)
	}
	for req, n := range seen {
		if n > 1 {
			t.Errorf("request %s ended %q %d times; want once (a denial is not retried)", req, outcome, n)
		}
	}
}

// deadlineSlack is how long after ENVINIT_TIMEOUT a failing run may end:
// generous, for a busy machine.
const deadlineSlack = 5 * time.Second

// assertNearDeadline checks that a run ended after retrying until about the
// deadline, not before, and not long after.
func assertNearDeadline(t *testing.T, r result, deadline time.Duration) {
	t.Helper()
	if r.Elapsed > deadline+deadlineSlack {
		t.Errorf("elapsed: got %v; want within the %v deadline + %v", r.Elapsed.Round(time.Millisecond), deadline, deadlineSlack)
	}
	if r.Elapsed < deadline*3/4 {
		t.Errorf("elapsed: got %v; want retries until about the %v deadline", r.Elapsed.Round(time.Millisecond), deadline)
	}
}

// Throttled until the deadline: 75, a temporary failure, after retrying
// past the SDK's 3 attempts.
func TestSSMThrottledPastDeadline(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts proxyOptions
	}{
		// One token every 1000 s: api's first page, then throttled.
		{"quota", proxyOptions{TPS: 0.001, Burst: 1}},
		{"every request", proxyOptions{Fault: faultAlways("", faultThrottle)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			failureStore(t, f)
			p := startProxy(t, f.e.URL, overTLS(tc.opts))
			r := f.runFail(t, 75, ssmEnv(f, p, "api", "ENVINIT_TIMEOUT=3s"), f.probe()...)
			assertNearDeadline(t, r, 3*time.Second)
			if !strings.Contains(r.Stderr, "throttled") {
				t.Errorf("stderr: got %q; want it to say throttled", redact(r.Stderr))
			}
			throttled := p.Throttled() + countOutcome(p, "fault: "+faultThrottle.String())
			if throttled <= 3 {
				t.Errorf("throttled answers: got %d; want more than the SDK's 3 attempts (retry until the deadline)", throttled)
			}
		})
	}
}

// SSM accepts the connection and never answers: 69 at the deadline.
func TestSSMHangPastDeadline(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		op   string
	}{
		{"every request", ""},
		// api's pages arrive (values in memory), the globals never do.
		{"globals", "GetParameters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			failureStore(t, f)
			p := startProxy(t, f.e.URL, proxyOptions{TLS: true, Fault: faultAlways(tc.op, faultHang)})
			r := f.runFail(t, 69, ssmEnv(f, p, "api", "ENVINIT_TIMEOUT=3s"), f.probe()...)
			assertNearDeadline(t, r, 3*time.Second)
			if tc.op == "GetParameters" && p.Calls("GetParametersByPath") == 0 {
				t.Errorf("GetParametersByPath calls: got 0; want api's pages read before the hang")
			}
		})
	}
}

// One hung connection does not eat the deadline: the attempt times out
// (5 s) and the retry succeeds well within the default 30 s.
func TestSSMHungAttemptRetried(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	failureStore(t, f)
	p := startProxy(t, f.e.URL, proxyOptions{TLS: true, Fault: func(op string, n int) fault {
		if op == "GetParametersByPath" && n == 1 {
			return faultHang
		}
		return faultNone
	}})
	r := runEnvinit(t, ssmEnv(f, p, "api"), f.probe()...)
	assertCode(t, r, 0)
	assertStderrClean(t, r, f.canaries()...)
	if r.Elapsed > 25*time.Second {
		t.Errorf("elapsed: got %v; want the hung attempt dropped after about 5 s and retried", r.Elapsed.Round(time.Millisecond))
	}
	if got := p.Calls("GetParametersByPath"); got != deployPages {
		t.Errorf("GetParametersByPath calls: got %d; want %d", got, deployPages)
	}
}

// Access denied by IAM: 77, naming the action, the path and the policy to
// grant; not retried.
func TestSSMAccessDenied(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		op, path string
	}{
		{"GetParametersByPath", "/services/api"},
		{"GetParameters", "/global/{"},
	} {
		t.Run(tc.op, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			failureStore(t, f)
			p := startProxy(t, f.e.URL, proxyOptions{TLS: true, Fault: faultAlways(tc.op, faultAccessDenied)})
			r := f.runFail(t, 77, ssmEnv(f, p, "api"), f.probe()...)
			for _, want := range []string{
				"ssm:" + tc.op + " denied",
				f.prefix + tc.path,
				// The account comes from the ARN in AWS's message.
				"arn:aws:ssm:us-east-1:123456789012:parameter" + f.prefix + "/*",
			} {
				if !strings.Contains(r.Stderr, want) {
					t.Errorf("stderr: got %q; want it to hold %q", redact(r.Stderr), want)
				}
			}
			if strings.Contains(r.Stderr, "kms:Decrypt failed") {
				t.Errorf("stderr: got %q; want an IAM denial, not a KMS one", redact(r.Stderr))
			}
			assertNotRetried(t, p, "fault: "+faultAccessDenied.String())
		})
	}
}

// kms:Decrypt denied, as SSM passes on KMS's refusal (a message that does
// not name the action): 77, told apart from an IAM denial on SSM.
func TestSSMKMSDenied(t *testing.T) {
	t.Parallel()
	for _, op := range []string{"GetParametersByPath", "GetParameters"} {
		t.Run(op, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			failureStore(t, f)
			p := startProxy(t, f.e.URL, proxyOptions{TLS: true, Fault: faultAlways(op, faultKMSDenied)})
			r := f.runFail(t, 77, ssmEnv(f, p, "api"), f.probe()...)
			if !strings.Contains(r.Stderr, "kms:Decrypt") {
				t.Errorf("stderr: got %q; want it to name kms:Decrypt", redact(r.Stderr))
			}
			if strings.Contains(r.Stderr, "ssm:"+op+" denied") {
				t.Errorf("stderr: got %q; want a KMS denial, not an IAM one on SSM", redact(r.Stderr))
			}
			assertNotRetried(t, p, "fault: "+faultKMSDenied.String())
		})
	}
}

// Bursts of transient failures, then success: envinit retries and starts
// with every value, each page and name read once.
func TestSSMTransientFaultsThenStart(t *testing.T) {
	t.Parallel()
	burst := func(f fault, k int) proxyOptions {
		return proxyOptions{Fault: func(_ string, n int) fault {
			if n <= k {
				return f
			}
			return faultNone
		}}
	}
	for _, tc := range []struct {
		name string
		opts proxyOptions
	}{
		{"500s", burst(fault500, 3)},
		{"resets", burst(faultReset, 2)},
		{"throttled", burst(faultThrottle, 3)},
		// 10 calls against 5 a second with a burst of 2.
		{"quota", proxyOptions{TPS: 5, Burst: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			kv, want := deployShape()
			kv["services/api/__sensitive"] = "K23"
			f.seed(t, kv)
			p := startProxy(t, f.e.URL, overTLS(tc.opts))
			rep := f.runOK(t, ssmEnv(f, p, "api"), f.probe()...)
			k23 := want["K23"]
			delete(want, "K23")
			for k, v := range want {
				assertEnv(t, rep, k, v)
			}
			assertSecretFile(t, rep, f.secrets, "K23", k23)
			assertDeployCalls(t, p, f.prefix)
			if t.Failed() {
				t.Logf("requests:\n%s", describeRequests(p))
			}
			failed := 0
			for _, r := range p.Requests() {
				if r.Outcome != "upstream" {
					failed++
				}
			}
			if failed == 0 {
				t.Errorf("no request failed; want the %s to have been retried", tc.name)
			}
		})
	}
}
