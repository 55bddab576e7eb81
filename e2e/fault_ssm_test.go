package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// faultService seeds a service whose resolution needs both operations:
// twelve keys (13 parameters with __sensitive: two pages of ten) of which
// two reference globals, and one sensitive key, so a run that failed open
// would leave a file. It returns the final environment wanted.
func faultService(t *testing.T, f *fixture) (plain map[string]string, token string) {
	t.Helper()
	host := newCanary("global/DB_HOST")
	token = newCanary("api/TOKEN")
	kv := map[string]string{
		"global/DB_HOST":           host,
		"global/DB_USER":           "app",
		"services/api/__sensitive": "TOKEN",
		"services/api/TOKEN":       token,
		"services/api/DB_ADDR":     "#{$/DB_USER}@#{$/DB_HOST}",
	}
	plain = map[string]string{"DB_ADDR": "app@" + host}
	for i := range 10 {
		k := fmt.Sprintf("K%02d", i)
		v := newCanary("api/" + k)
		kv["services/api/"+k], plain[k] = v, v
	}
	f.seed(t, kv)
	return plain, token
}

// SSM misbehaving behind the proxy. Transient faults (a burst of 5xx, a
// few resets, one hung request, empty pages that carry a token) are
// absorbed: the probe starts with the whole environment. Lasting ones end
// in the exit code the README's Exit codes gives them, within a bound, with COMMAND not
// started, no file written and no value on stdout or stderr.
func TestFaultSSM(t *testing.T) {
	t.Parallel()
	only := func(op string, f fault, first int) func(string, int) fault {
		return func(o string, n int) fault {
			if (op == "" || o == op) && (first == 0 || n <= first) {
				return f
			}
			return faultNone
		}
	}
	cases := []struct {
		name     string
		fault    func(op string, n int) fault
		timeout  time.Duration // ENVINIT_TIMEOUT
		want     int
		min, max time.Duration // bounds on the elapsed time
		say      string        // stderr holds it, on failure
		upstream int           // GetParametersByPath answered by kumo, on success; 0: not checked
	}{
		// Transient: absorbed by the retries.
		{name: "burst of 5xx", fault: only("", fault500, 5), timeout: 30 * time.Second, max: 25 * time.Second, upstream: 2},
		{name: "burst of resets", fault: only("", faultReset, 3), timeout: 30 * time.Second, max: 25 * time.Second, upstream: 2},
		{
			// The per-attempt timeout (5 s) drops the hung request and
			// retries, instead of waiting for the deadline.
			name: "first request hangs", fault: only("GetParametersByPath", faultHang, 1), timeout: 30 * time.Second,
			min: 4 * time.Second, max: 25 * time.Second, upstream: 2,
		},
		{
			// Every page is preceded by an empty one that carries a token.
			name: "empty pages with tokens",
			fault: func(op string, n int) fault {
				if op == "GetParametersByPath" && n%2 == 1 {
					return faultEmptyPageWithToken
				}
				return faultNone
			},
			timeout: 30 * time.Second, max: 25 * time.Second, upstream: 2,
		},
		{name: "five empty pages in a row", fault: only("GetParametersByPath", faultEmptyPageWithToken, 5), timeout: 30 * time.Second, max: 25 * time.Second, upstream: 2},

		// Lasting: fail closed.
		{name: "hangs", fault: only("", faultHang, 0), timeout: 3 * time.Second, want: 69, min: 2 * time.Second, max: 20 * time.Second, say: "deadline"},
		{name: "resets", fault: only("", faultReset, 0), timeout: 3 * time.Second, want: 69, min: 2 * time.Second, max: 20 * time.Second, say: "deadline"},
		{name: "5xx", fault: only("", fault500, 0), timeout: 3 * time.Second, want: 69, min: 2 * time.Second, max: 20 * time.Second, say: "deadline"},
		{name: "5xx on the globals", fault: only("GetParameters", fault500, 0), timeout: 3 * time.Second, want: 69, min: 2 * time.Second, max: 20 * time.Second, say: "GetParameters"},
		{
			// Not a wait for the deadline: a token seen twice ends it at once.
			name: "repeating token", fault: only("GetParametersByPath", faultRepeatToken, 0), timeout: 30 * time.Second,
			want: 69, max: 10 * time.Second, say: "repeated a pagination token",
		},
		{
			name: "repeating token after a real page", fault: func(op string, n int) fault {
				if op == "GetParametersByPath" && n > 1 {
					return faultRepeatToken
				}
				return faultNone
			},
			timeout: 30 * time.Second, want: 69, max: 10 * time.Second, say: "repeated a pagination token",
		},
		{name: "throttled", fault: only("", faultThrottle, 0), timeout: 3 * time.Second, want: 75, min: 2 * time.Second, max: 20 * time.Second, say: "throttled"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			plain, token := faultService(t, f)
			proxy := startProxy(t, f.e.URL, proxyOptions{Fault: tc.fault, TLS: true})
			env := withEnv(f.env("api", "ENVINIT_TIMEOUT="+tc.timeout.String()), proxy.awsEnv()...)

			var r result
			if tc.want == 0 {
				r = runEnvinit(t, env, f.probe()...)
				assertCode(t, r, 0)
				assertStderrClean(t, r, f.canaries()...)
				if r.Code != 0 {
					t.FailNow()
				}
				p := parseProbe(t, r.Stdout)
				for k, v := range plain {
					assertEnv(t, p, k, v)
				}
				assertSecretFile(t, p, f.secrets, "TOKEN", token)
				assertDirHolds(t, f.secrets, "TOKEN")
				if got := proxy.Calls("GetParametersByPath"); tc.upstream > 0 && got != tc.upstream {
					t.Errorf("GetParametersByPath answered by the store: got %d; want %d (every page once)", got, tc.upstream)
				}
			} else {
				r = f.runFail(t, tc.want, env, f.probe()...)
				if !strings.Contains(r.Stderr, tc.say) {
					t.Errorf("stderr: got %q; want it to say %q", redact(r.Stderr), tc.say)
				}
			}
			if r.Elapsed < tc.min || r.Elapsed > tc.max {
				t.Errorf("elapsed: got %v; want between %v and %v", r.Elapsed, tc.min, tc.max)
			}
			t.Logf("exit %d after %v; %d requests to the proxy", r.Code, r.Elapsed.Round(time.Millisecond), len(proxy.Requests()))
			if t.Failed() {
				t.Logf("requests:\n%s", describeRequests(proxy))
			}
		})
	}
}
