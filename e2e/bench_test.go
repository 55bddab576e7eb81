package e2e

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkStart measures the real binary starting a command on the
// deploy-shaped store (see deployShape: 10 calls, 6 dependent round trips)
// through the proxy. A start is timed from just before the fork to the
// first byte the probe writes (the command is running); every figure is a
// median over the iterations, not a mean (ns/op, a mean, is hidden).
//
//   - rtt=20ms: plain HTTP, static credentials, every round trip 20 ms,
//     as to a far region. ms/start is the median start; cmd-ms the median
//     of the probe started alone, run alternately with envinit.
//     envinit-ms, envinit's own wall time, is ms/start minus cmd-ms: what
//     the command costs to start is the command's, with or without
//     envinit. x-floor is envinit-ms over the 6 × 20 ms floor (target ≤
//     1.10); x-floor-cmd is ms/start over it. before-ms, fetch-ms and
//     after-ms split ms/start: fork to the first request at the proxy,
//     first request to last answer, last answer to the probe's output.
//     calls/start, chain and conns/start are the proxy's counts per start;
//     rtt-ms is the round trip the proxy actually gave.
//
//   - rtt=20ms,handshake=40ms: the same, but each new connection's first
//     request waits two round trips more, a stand-in for TLS.
//
//   - prod,rtt=R,...: a start as production meets it. Each new connection
//     costs TCP's round trip, and TLS's over https; the credentials come
//     from a container credentials endpoint that answers in 3 round trips
//     (a stand-in for IRSA's STS call). http is plain HTTP, for
//     comparison; tls is HTTPS with the rig's certificate, HTTP/1.1 as
//     SSM's model declares (h2: the endpoint offers HTTP/2 too);
//     trust=builtin is envinit's default trust store (no SSL_CERT_*, no
//     AWS_CA_BUNDLE: the built-in roots, the rig's in this build),
//     trust=SSL_CERT_FILE the machine's CA bundle plus the rig's root.
//     The production floor is the slower of the credentials and the first
//     connection's set-up, plus the 6 dependent round trips: 9 round
//     trips. x-prod-floor is envinit-ms over it. cpu-ms is the user and
//     system CPU time of the child (envinit, then the probe it became);
//     envinit-cpu-ms that minus the probe's own, started alone;
//     cpu-x-http is cpu-ms over the http case's at the same round trip.
//     handshakes/start counts TLS handshakes, idle-conns/start the
//     connections that carried no request, in-flight the most requests
//     the proxy answered at once.
//
//   - rtt=0: overhead-ms is the median start of `envinit -- probe report`
//     minus that of `probe report` alone, run alternately (target ≤ 3 ms);
//     the 10 calls to the in-process kumo remain, through the proxy, and
//     rtt-ms is what one of them takes there (6 are on the chain).
//     direct-ms is the same with envinit talking to kumo directly.
//
//     cd e2e && go test -run '^$' -bench BenchmarkStart -benchtime 40x ./
//
// E2E_BENCH_ENVINIT=/path/to/envinit times that build instead;
// E2E_BENCH_SRC=/path/to/checkout builds that checkout the way TestMain
// builds this one (the rig's root embedded, where the checkout has
// fetch.testRoots) and times it.
func BenchmarkStart(b *testing.B) {
	upstream := startSSM(b)
	prefix := "/bench/" + randHex(4)
	kv, want := deployShape()
	upstream.seed(b, prefix, kv)
	// Exactly this environment: nothing inherited (no AWS_CA_BUNDLE, no
	// SSL_CERT_FILE).
	envinitEnv := func(endpoint string) []string {
		return append(awsEnvFor(endpoint), "PATH=/usr/bin:/bin", "ENVINIT_SERVICE=api", "ENVINIT_PREFIX="+prefix)
	}
	bin := envinitBin
	// Another build to compare with (a different SDK, a patch).
	if alt := os.Getenv("E2E_BENCH_ENVINIT"); alt != "" {
		bin = alt
	}
	if src := os.Getenv("E2E_BENCH_SRC"); src != "" {
		bin = filepath.Join(b.TempDir(), "envinit")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags="+envinitLDFlags(), "-o", bin, "./cmd/envinit")
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("build %s: %v\n%s", src, err, out)
		}
	}
	envinit := []string{bin, "--", probeBin, "report"}

	// The probe alone gets the environment envinit would give it.
	alone := awsEnvFor(upstream.URL)
	for k, v := range want {
		alone = append(alone, k+"="+v)
	}

	farRegion := func(b *testing.B, opts proxyOptions) {
		floor := deployChain * opts.Latency
		p := startProxy(b, upstream.URL, opts)
		env := envinitEnv(p.URL())
		var starts, bare, before, during, after []time.Duration
		var calls, chains, conns []float64
		var rtts []time.Duration
		for b.Loop() {
			bare = append(bare, timeRun(b, alone, probeBin, "report").started())
			p.Reset()
			r := timeRun(b, env, envinit...)
			for _, req := range p.Requests() {
				rtts = append(rtts, req.End.Sub(req.Start))
			}
			first, last := p.span()
			starts = append(starts, r.started())
			before = append(before, first.Sub(r.fork))
			during = append(during, last.Sub(first))
			after = append(after, r.output.Sub(last))
			calls = append(calls, float64(p.Calls("GetParametersByPath")+p.Calls("GetParameters")))
			chains = append(chains, float64(p.Chain()))
			conns = append(conns, float64(p.Conns()))
		}
		med, cmd := median(starts), median(bare)
		b.ReportMetric(0, "ns/op")
		b.ReportMetric(ms(med), "ms/start")
		b.ReportMetric(ms(cmd), "cmd-ms")
		b.ReportMetric(ms(med-cmd), "envinit-ms")
		b.ReportMetric(float64(med-cmd)/float64(floor), "x-floor")
		b.ReportMetric(float64(med)/float64(floor), "x-floor-cmd")
		b.ReportMetric(ms(median(before)), "before-ms")
		b.ReportMetric(ms(median(during)), "fetch-ms")
		b.ReportMetric(ms(median(after)), "after-ms")
		b.ReportMetric(median(calls), "calls/start")
		b.ReportMetric(median(chains), "chain")
		b.ReportMetric(median(conns), "conns/start")
		b.ReportMetric(ms(median(rtts)), "rtt-ms")
	}
	b.Run("rtt=20ms", func(b *testing.B) {
		farRegion(b, proxyOptions{Latency: 20 * time.Millisecond})
	})
	b.Run("rtt=20ms,handshake=40ms", func(b *testing.B) {
		farRegion(b, proxyOptions{Latency: 20 * time.Millisecond, Handshake: 40 * time.Millisecond})
	})

	// The production-shaped starts. httpCPU holds the http case's CPU per
	// start by round trip, for the others' cpu-x-http.
	httpCPU := map[time.Duration]time.Duration{}
	production := func(b *testing.B, rtt time.Duration, tls, h2 bool, trust []string) {
		opts := proxyOptions{Latency: rtt, Handshake: rtt, TLS: tls, HTTP2: h2}
		if tls {
			opts.Handshake = 2 * rtt
		}
		credsLatency := 3 * rtt
		floor := max(credsLatency, opts.Handshake) + deployChain*rtt
		p := startProxy(b, upstream.URL, opts)
		creds := startSlowCreds(b, credsLatency)
		env := append(creds.env(envinitEnv(p.URL())), trust...)
		var starts, bare, cpu, bareCPU, before, during []time.Duration
		var calls, chains, hellos, conns, idle, inFlight []float64
		for b.Loop() {
			probe := timeRun(b, alone, probeBin, "report")
			bare, bareCPU = append(bare, probe.started()), append(bareCPU, probe.cpu)
			p.Reset()
			r := timeRun(b, env, envinit...)
			p.settle(b)
			first, last := p.span()
			starts, cpu = append(starts, r.started()), append(cpu, r.cpu)
			before = append(before, first.Sub(r.fork))
			during = append(during, last.Sub(first))
			calls = append(calls, float64(p.Calls("GetParametersByPath")+p.Calls("GetParameters")))
			chains = append(chains, float64(p.Chain()))
			hellos = append(hellos, float64(p.Handshakes()))
			conns = append(conns, float64(p.Conns()))
			idle = append(idle, float64(p.Idle()))
			inFlight = append(inFlight, float64(p.MaxInFlight()))
		}
		med, cmd, medCPU := median(starts), median(bare), median(cpu)
		if !tls {
			httpCPU[rtt] = medCPU
		}
		b.ReportMetric(0, "ns/op")
		b.ReportMetric(ms(med), "ms/start")
		b.ReportMetric(ms(cmd), "cmd-ms")
		b.ReportMetric(ms(med-cmd), "envinit-ms")
		b.ReportMetric(ms(floor), "floor-ms")
		b.ReportMetric(float64(med-cmd)/float64(floor), "x-prod-floor")
		b.ReportMetric(ms(medCPU), "cpu-ms")
		b.ReportMetric(ms(medCPU-median(bareCPU)), "envinit-cpu-ms")
		if base, ok := httpCPU[rtt]; ok && tls {
			b.ReportMetric(float64(medCPU)/float64(base), "cpu-x-http")
		}
		b.ReportMetric(ms(median(before)), "before-ms")
		b.ReportMetric(ms(median(during)), "fetch-ms")
		b.ReportMetric(median(calls), "calls/start")
		b.ReportMetric(median(chains), "chain")
		b.ReportMetric(median(hellos), "handshakes/start")
		b.ReportMetric(median(conns), "conns/start")
		b.ReportMetric(median(idle), "idle-conns/start")
		b.ReportMetric(median(inFlight), "in-flight")
	}
	sslCertFile := []string{"SSL_CERT_FILE=" + pki.bundle}
	for _, rtt := range []time.Duration{20 * time.Millisecond, 2 * time.Millisecond} {
		name := func(s string) string { return fmt.Sprintf("prod,rtt=%v,%s", rtt, s) }
		b.Run(name("http"), func(b *testing.B) { production(b, rtt, false, false, nil) })
		b.Run(name("tls,trust=builtin"), func(b *testing.B) { production(b, rtt, true, false, nil) })
		b.Run(name("tls,trust=SSL_CERT_FILE"), func(b *testing.B) { production(b, rtt, true, false, sslCertFile) })
		if rtt == 20*time.Millisecond {
			b.Run(name("tls,h2,trust=builtin"), func(b *testing.B) { production(b, rtt, true, true, nil) })
		}
	}

	b.Run("rtt=0", func(b *testing.B) {
		p := startProxy(b, upstream.URL, proxyOptions{})
		viaProxy, direct := envinitEnv(p.URL()), envinitEnv(upstream.URL)
		var bare, wrapped, wrappedDirect, rtts []time.Duration
		var calls []float64
		for b.Loop() {
			p.Reset()
			bare = append(bare, timeRun(b, alone, probeBin, "report").started())
			wrapped = append(wrapped, timeRun(b, viaProxy, envinit...).started())
			calls = append(calls, float64(p.Calls("GetParametersByPath")+p.Calls("GetParameters")))
			for _, req := range p.Requests() {
				rtts = append(rtts, req.End.Sub(req.Start))
			}
			wrappedDirect = append(wrappedDirect, timeRun(b, direct, envinit...).started())
		}
		b.ReportMetric(0, "ns/op")
		b.ReportMetric(ms(median(bare)), "probe-ms")
		b.ReportMetric(ms(median(wrapped)), "ms/start")
		b.ReportMetric(ms(median(wrapped)-median(bare)), "overhead-ms")
		b.ReportMetric(ms(median(wrappedDirect)-median(bare)), "direct-ms")
		b.ReportMetric(median(calls), "calls/start")
		b.ReportMetric(ms(median(rtts)), "rtt-ms")
	})
}

// timing is one timed run.
type timing struct {
	fork   time.Time     // just before the fork
	output time.Time     // the first byte on stdout arrived
	exit   time.Time     // the process was reaped
	cpu    time.Duration // the process's user and system CPU time
}

// started is the time from the fork to the command running (its first
// output).
func (t timing) started() time.Duration { return t.output.Sub(t.fork) }

// timeRun runs argv with exactly env and times it. A run that fails, or
// prints nothing, stops the benchmark with its stderr.
func timeRun(tb testing.TB, env []string, argv ...string) timing {
	tb.Helper()
	stderr, err := os.Create(filepath.Join(tb.TempDir(), "stderr"))
	if err != nil {
		tb.Fatal(err)
	}
	defer stderr.Close()
	stdout, w, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	defer stdout.Close()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = slices.Clip(env)
	// Files, not buffers: no copying goroutine of exec's between the
	// child and the clock.
	cmd.Stdout, cmd.Stderr = w, stderr

	var t timing
	got := make(chan time.Time, 1)
	go func() {
		buf := make([]byte, 64<<10)
		n, _ := stdout.Read(buf)
		at := time.Now()
		io.Copy(io.Discard, stdout)
		if n == 0 {
			at = time.Time{}
		}
		got <- at
	}()
	t.fork = time.Now()
	err = cmd.Start()
	w.Close()
	if err == nil {
		err = cmd.Wait()
	}
	t.exit = time.Now()
	t.output = <-got
	if cmd.ProcessState != nil {
		t.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil || t.output.IsZero() {
		out, _ := os.ReadFile(stderr.Name())
		tb.Fatalf("%s: %v (output: %v)\nstderr: %s", strings.Join(argv, " "), err, !t.output.IsZero(), redact(string(out)))
	}
	return t
}

// median of xs; xs is sorted in place.
func median[T time.Duration | float64](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	if n := len(xs); n%2 == 0 {
		return (xs[n/2-1] + xs[n/2]) / 2
	}
	return xs[len(xs)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkInit reports what the binary's package initialisers cost at
// every start, before main: GODEBUG=inittrace=1 on `envinit version`.
// init-bytes and init-allocs are the same on a busy machine; init-ms (the
// initialisers' clock time, summed) is not. The AWS SDK's schema-based
// serialisation (service/ssm ≥ v1.80.0, service/sts ≥ v1.52.0) builds the
// model of every operation here: docs/BENCHMARKS.md keeps the figure per
// SDK release, so that an upgrade's cost is known, not a reason to hold
// the SDK back.
//
//	cd e2e && go test -run '^$' -bench BenchmarkInit -benchtime 200x ./
func BenchmarkInit(b *testing.B) {
	bin := envinitBin
	if alt := os.Getenv("E2E_BENCH_ENVINIT"); alt != "" {
		bin = alt
	}
	var clock, bytes, allocs []float64
	var largest []initCost
	for b.Loop() {
		cmd := exec.Command(bin, "version")
		cmd.Env = []string{"GODEBUG=inittrace=1"}
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("envinit version: %v\n%s", err, out)
		}
		tr := parseInitTrace(string(out))
		if len(tr.pkgs) < 10 {
			b.Fatalf("GODEBUG=inittrace=1 printed %d package initialisers; want the whole binary's:\n%s", len(tr.pkgs), out)
		}
		clock = append(clock, tr.ms)
		bytes = append(bytes, float64(tr.bytes))
		allocs = append(allocs, float64(tr.allocs))
		largest = tr.pkgs
	}
	slices.SortFunc(largest, func(a, b initCost) int { return b.bytes - a.bytes })
	b.Logf("the largest initialisers: %v", largest[:5])
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(median(clock), "init-ms")
	b.ReportMetric(median(bytes), "init-bytes")
	b.ReportMetric(median(allocs), "init-allocs")
}

func TestParseInitTrace(t *testing.T) {
	out := "init internal/bytealg @0.008 ms, 0 ms clock, 0 bytes, 0 allocs\n" +
		"envinit 1.2.3\n" +
		"init github.com/aws/aws-sdk-go-v2/service/ssm/schemas @2.1 ms, 1.4 ms clock, 1431176 bytes, 7882 allocs\n" +
		"init unicode @0.1 ms, 0.015 ms clock, 24 bytes, 1 allocs\n"
	got := parseInitTrace(out)
	if got.bytes != 1431200 || got.allocs != 7883 || len(got.pkgs) != 3 || math.Abs(got.ms-1.415) > 1e-9 {
		t.Errorf("parseInitTrace: got %d bytes, %d allocs, %v ms, %d packages; want 1431200, 7883, 1.415, 3", got.bytes, got.allocs, got.ms, len(got.pkgs))
	}
}

type initCost struct {
	pkg   string
	bytes int
}

func (c initCost) String() string { return fmt.Sprintf("%s %d B", c.pkg, c.bytes) }

// initTrace is what GODEBUG=inittrace=1 printed, summed.
type initTrace struct {
	ms            float64 // clock time
	bytes, allocs int
	pkgs          []initCost
}

// parseInitTrace sums the lines of GODEBUG=inittrace=1:
//
//	init internal/bytealg @0.008 ms, 0 ms clock, 0 bytes, 0 allocs
func parseInitTrace(out string) initTrace {
	var tr initTrace
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) < 11 || f[0] != "init" || f[6] != "clock," || f[8] != "bytes," || f[10] != "allocs" {
			continue
		}
		ms, err1 := strconv.ParseFloat(f[4], 64)
		n, err2 := strconv.Atoi(f[7])
		a, err3 := strconv.Atoi(f[9])
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		tr.ms += ms
		tr.bytes += n
		tr.allocs += a
		tr.pkgs = append(tr.pkgs, initCost{f[1], n})
	}
	return tr
}
