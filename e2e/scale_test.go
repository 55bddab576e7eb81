package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// deployShape is the store of a real deploy (issue 3), laid out as
// internal/resolve's TestGatherDeployShape lays it out: service api has 25
// keys, K00..K23 and __import_svc=$auth, $billing; K00..K11 reference the
// globals G0..G11; auth and billing have 15 keys each, auth's A00
// referencing G0 (asked for already) and billing's B00 the global
// ONLY_BILLING, which api does not reference. Uppercase keys sort before
// __import_svc, so the imports are found on api's last page.
//
// It returns the parameters to seed (relative to the prefix; every value
// a canary) and the variables COMMAND must get.
func deployShape() (kv, want map[string]string) {
	kv = map[string]string{"services/api/__import_svc": "$auth, $billing"}
	want = map[string]string{}
	for i := range 12 {
		kv[fmt.Sprintf("global/G%d", i)] = newCanary(fmt.Sprintf("global G%d", i))
	}
	kv["global/ONLY_BILLING"] = newCanary("global ONLY_BILLING")
	for i := range 24 {
		key := fmt.Sprintf("K%02d", i)
		if i < 12 {
			kv["services/api/"+key] = fmt.Sprintf("x://#{$/G%d}", i)
			want[key] = "x://" + kv[fmt.Sprintf("global/G%d", i)]
		} else {
			kv["services/api/"+key] = newCanary("api " + key)
			want[key] = kv["services/api/"+key]
		}
	}
	for _, svc := range []string{"auth", "billing"} {
		for i := range 15 {
			key := fmt.Sprintf("%s%02d", strings.ToUpper(svc[:1]), i)
			kv["services/"+svc+"/"+key] = newCanary(svc + " " + key)
			want[key] = kv["services/"+svc+"/"+key]
		}
	}
	kv["services/auth/A00"] = "#{$/G0}"
	want["A00"] = kv["global/G0"]
	kv["services/billing/B00"] = "#{$/ONLY_BILLING}"
	want["B00"] = kv["global/ONLY_BILLING"]
	return kv, want
}

// Expected cost of the deploy shape (the README's Security and cost): api's 3 pages then auth's
// and billing's 2 each; the 12 globals and the globals' __sensitive in
// batches of 10 and 3, and ONLY_BILLING alone once billing's pages are in.
// The chain: api's 3 pages, the imports' 2, ONLY_BILLING.
const (
	deployPages       = 7
	deployGlobalCalls = 3
	deployChain       = 6
)

// ssmEnv is f.env pointed at the proxy instead of kumo.
func ssmEnv(f *fixture, p *ssmProxy, service string, extra ...string) []string {
	return withEnv(f.env(service, extra...), p.awsEnv()...)
}

// The real binary on a deploy-shaped store behind a far-away SSM: 10 calls
// and 6 dependent round trips, each page and name asked for once, the way
// the README's Security and cost asks.
//
// Not parallel: the chain is measured from wall-clock intervals, and a
// machine running the parallel tests at the same time could delay a
// request past the 30 ms that tells "at once" from "after".
func TestScaleDeployShape(t *testing.T) {
	f := newFixture(t)
	kv, want := deployShape()
	f.seed(t, kv)
	p := startProxy(t, f.e.URL, proxyOptions{Latency: 30 * time.Millisecond, TLS: true})
	env := ssmEnv(f, p, "api")

	rep := f.runOK(t, env, f.probe()...)
	for k, v := range want {
		assertEnv(t, rep, k, v)
	}
	assertDeployCalls(t, p, f.prefix)
	chain := p.Chain()
	if chain > deployChain {
		// Two requests sent together look dependent if the machine
		// delays one of them by more than the latency: a longer chain
		// that comes from the code comes back every time.
		t.Logf("chain of %d on the first run; measuring again:\n%s", chain, describeRequests(p))
		p.Reset()
		f.runOK(t, env, f.probe()...)
		chain = p.Chain()
	}
	if chain != deployChain {
		t.Errorf("chain of dependent round trips: got %d; want %d\n%s", chain, deployChain, describeRequests(p))
	}
	t.Logf("requests (start .. end after the first; op; path or names; token; outcome):\n%s", describeRequests(p))
}

// The deploy shape as a start in production meets it: over HTTPS, each
// new connection costing two round trips (TCP, TLS), the credentials
// three (a container credentials endpoint standing in for IRSA's STS
// call), envinit's built-in trust store. envinit opens its connections
// while the credentials come: three, one per request of the widest wave,
// each of which carries requests, and no other. Over HTTP/2 one
// connection carries all ten.
//
// Not parallel, for the reason TestScaleDeployShape gives: how many
// requests run at once is measured from wall-clock intervals.
func TestScaleConnections(t *testing.T) {
	const rtt = 30 * time.Millisecond
	for _, tc := range []struct {
		name                    string
		http2                   bool
		handshakes, maxInFlight int
		carrying                int // connections that carried requests
	}{
		{"HTTP/1.1", false, 3, 3, 3},
		{"HTTP/2", true, 1, 3, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			kv, want := deployShape()
			f.seed(t, kv)
			p := startProxy(t, f.e.URL, proxyOptions{Latency: rtt, Handshake: 2 * rtt, TLS: true, HTTP2: tc.http2})
			creds := startSlowCreds(t, 3*rtt)
			env := defaultTrust(creds.env(ssmEnv(f, p, "api")))
			runs := 0
			check := func() []string {
				runs++
				p.Reset()
				rep := f.runOK(t, env, f.probe()...)
				for k, v := range want {
					assertEnv(t, rep, k, v)
				}
				p.settle(t)
				var bad []string
				if got := p.Handshakes(); got != tc.handshakes {
					bad = append(bad, fmt.Sprintf("TLS handshakes: got %d; want %d", got, tc.handshakes))
				}
				if got := p.MaxInFlight(); got != tc.maxInFlight {
					bad = append(bad, fmt.Sprintf("requests at once: got %d; want %d", got, tc.maxInFlight))
				}
				if got := p.Conns() - p.Idle(); got != tc.carrying {
					bad = append(bad, fmt.Sprintf("connections that carried requests: got %d; want %d", got, tc.carrying))
				}
				if !tc.http2 && p.Idle() != 0 {
					bad = append(bad, fmt.Sprintf("connections that carried no request: got %d; want 0", p.Idle()))
				}
				return bad
			}
			bad := check()
			if len(bad) > 0 {
				// As in TestScaleDeployShape: a machine that delays one of
				// a wave's requests past the round trip makes the wave
				// look narrower; a defect comes back every time.
				t.Logf("first run: %s; measuring again:\n%s", strings.Join(bad, "; "), describeRequests(p))
				bad = check()
			}
			for _, b := range bad {
				t.Error(b)
			}
			if n := int(creds.requests.Load()); n != runs {
				t.Errorf("credentials fetched %d times in %d starts; want once a start", n, runs)
			}
			t.Logf("%d connections, %d TLS handshakes, %d requests at most at once:\n%s", p.Conns(), p.Handshakes(), p.MaxInFlight(), describeRequests(p))
		})
	}
}

// assertDeployCalls checks the requests envinit made for the deploy shape:
// only GetParametersByPath and GetParameters, the right number of each,
// every page and name once, and each request in the form the README's Security and cost gives.
func assertDeployCalls(t *testing.T, p *ssmProxy, prefix string) {
	t.Helper()
	if got := p.Calls("GetParametersByPath"); got != deployPages {
		t.Errorf("GetParametersByPath calls: got %d; want %d (api 3 pages, auth 2, billing 2)", got, deployPages)
	}
	if got := p.Calls("GetParameters"); got != deployGlobalCalls {
		t.Errorf("GetParameters calls: got %d; want %d (10 + 3 names, then ONLY_BILLING)", got, deployGlobalCalls)
	}
	pages := map[string]int{}
	asked := map[string]bool{}     // path + token
	namesSeen := map[string]bool{} // every global name asked for
	var batches []int
	for _, r := range p.Requests() {
		if r.Outcome != "upstream" {
			continue
		}
		switch r.Op {
		case "GetParametersByPath":
			pages[r.Path]++
			if at := r.Path + " @" + r.NextToken; asked[at] {
				t.Errorf("GetParametersByPath %s token %q asked twice; want each page once", r.Path, r.NextToken)
			} else {
				asked[at] = true
			}
			if r.MaxResults == nil || *r.MaxResults != 10 {
				t.Errorf("GetParametersByPath %s: MaxResults %v; want 10", r.Path, showPtr(r.MaxResults))
			}
			if r.Recursive == nil || *r.Recursive {
				t.Errorf("GetParametersByPath %s: Recursive %v; want false", r.Path, showPtr(r.Recursive))
			}
			if r.WithDecryption == nil || !*r.WithDecryption {
				t.Errorf("GetParametersByPath %s: WithDecryption %v; want true", r.Path, showPtr(r.WithDecryption))
			}
		case "GetParameters":
			batches = append(batches, len(r.Names))
			for _, n := range r.Names {
				if namesSeen[n] {
					t.Errorf("global %s asked for twice; want once", n)
				}
				namesSeen[n] = true
			}
			if r.WithDecryption == nil || !*r.WithDecryption {
				t.Errorf("GetParameters %v: WithDecryption %v; want true", r.Names, showPtr(r.WithDecryption))
			}
			if slices.Contains(r.Names, prefix+"/global/ONLY_BILLING") && len(r.Names) != 1 {
				t.Errorf("ONLY_BILLING asked with %v; want alone, after billing's pages", r.Names)
			}
		default:
			t.Errorf("envinit called %s; want only GetParametersByPath and GetParameters", r.Op)
		}
	}
	for _, op := range []string{"GetParameter", "DescribeParameters"} {
		if got := p.Calls(op); got != 0 {
			t.Errorf("%s calls: got %d; want none", op, got)
		}
	}
	wantPages := map[string]int{prefix + "/services/api": 3, prefix + "/services/auth": 2, prefix + "/services/billing": 2}
	for path, n := range wantPages {
		if pages[path] != n {
			t.Errorf("pages of %s: got %d; want %d", path, pages[path], n)
		}
	}
	if len(pages) != len(wantPages) {
		t.Errorf("paths read: got %v; want %v", pages, wantPages)
	}
	slices.Sort(batches)
	if want := []int{1, 3, 10}; !slices.Equal(batches, want) {
		t.Errorf("GetParameters batch sizes: got %v; want %v", batches, want)
	}
	wantNames := []string{prefix + "/global/__sensitive", prefix + "/global/ONLY_BILLING"}
	for i := range 12 {
		wantNames = append(wantNames, fmt.Sprintf("%s/global/G%d", prefix, i))
	}
	var gotNames []string
	for n := range namesSeen {
		gotNames = append(gotNames, n)
	}
	slices.Sort(gotNames)
	slices.Sort(wantNames)
	if !slices.Equal(gotNames, wantNames) {
		t.Errorf("globals asked for: got %v; want %v", gotNames, wantNames)
	}
}

// describeRequests lists what the proxy saw, for a failure message: op,
// path or names, outcome and timing relative to the first request.
func describeRequests(p *ssmProxy) string {
	rs := p.Requests()
	if len(rs) == 0 {
		return "no requests"
	}
	var b strings.Builder
	t0 := rs[0].Start
	for _, r := range rs {
		what := r.Path
		if r.Op == "GetParameters" {
			what = strings.Join(r.Names, ",")
		}
		end := "-"
		if !r.End.IsZero() {
			end = r.End.Sub(t0).Round(100 * time.Microsecond).String()
		}
		fmt.Fprintf(&b, "  %8s .. %8s  %-20s %s %q  %s\n", r.Start.Sub(t0).Round(100*time.Microsecond), end, r.Op, what, r.NextToken, r.Outcome)
	}
	return b.String()
}

// SSM may answer a page with no parameters and a token: envinit follows the
// token and reads the real pages, each once.
func TestScaleEmptyPagesWithTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	kv, want := deployShape()
	f.seed(t, kv)
	p := startProxy(t, f.e.URL, proxyOptions{TLS: true, Fault: func(op string, n int) fault {
		// The first request (api's first page), two in a row, and one
		// among the imports' pages.
		if op == "GetParametersByPath" && (n == 1 || n == 3 || n == 4 || n == 7) {
			return faultEmptyPageWithToken
		}
		return faultNone
	}})

	rep := f.runOK(t, ssmEnv(f, p, "api"), f.probe()...)
	for k, v := range want {
		assertEnv(t, rep, k, v)
	}
	empty := 0
	for _, r := range p.Requests() {
		if r.Outcome == "fault: "+faultEmptyPageWithToken.String() {
			empty++
		}
	}
	if empty != 4 {
		t.Errorf("empty pages served: got %d; want 4\n%s", empty, describeRequests(p))
	}
	assertDeployCalls(t, p, f.prefix)
}

// A pagination token that repeats would loop forever: envinit stops, exit
// 69, nothing written.
func TestScaleRepeatedToken(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		from int // the first GetParametersByPath answered with a repeated token
	}{
		{"from the first page", 1},
		{"on a later page", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			kv, _ := deployShape()
			kv["services/api/__sensitive"] = "K23"
			f.seed(t, kv)
			p := startProxy(t, f.e.URL, proxyOptions{TLS: true, Fault: func(op string, n int) fault {
				if op == "GetParametersByPath" && n >= tc.from {
					return faultRepeatToken
				}
				return faultNone
			}})
			r := f.runFail(t, 69, ssmEnv(f, p, "api"), f.probe()...)
			if !strings.Contains(r.Stderr, "repeated a pagination token") || !strings.Contains(r.Stderr, f.prefix+"/services/api") {
				t.Errorf("stderr: got %q; want the repeated token and the path %s/services/api named", redact(r.Stderr), f.prefix)
			}
			// Either way the second answer repeats a token envinit has
			// already followed (the proxy's, or page 1's): it stops there.
			var pages int
			for _, r := range p.Requests() {
				if r.Op == "GetParametersByPath" {
					pages++
				}
			}
			if want := 2; pages != want {
				t.Errorf("GetParametersByPath requests: got %d; want %d (stop at the first repeat)\n%s", pages, want, describeRequests(p))
			}
		})
	}
}

// showPtr prints an optional request field.
func showPtr[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}
