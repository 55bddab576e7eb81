package e2e

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ssmProxy is a reverse proxy in front of kumo (the upstream) that behaves
// like the real SSM service where kumo does not: it can speak HTTPS (with
// the rig's certificate, pki_test.go), a new connection's set-up and a
// round trip take time, a shared quota answers ThrottlingException,
// MaxResults above 10 and more than 10 Names are rejected with
// ValidationException, and faults can be injected. It speaks SSM's JSON
// protocol (POST, X-Amz-Target: AmazonSSM.<Op>) and records every request,
// so a test can count calls per operation, measure the longest chain of
// dependent round trips, and count the connections, TLS handshakes and
// requests per connection a client used.
type ssmProxy struct {
	srv      *httptest.Server
	upstream string
	opts     proxyOptions
	client   *http.Client
	closing  chan struct{} // closed when the test ends: releases hung requests

	mu        sync.Mutex
	seen      map[string]int // requests per op, whatever their answer (Fault's n)
	calls     map[string]int // requests per op answered by the upstream
	throttled int
	log       []*proxyRequest
	tokens    float64        // the quota's bucket
	refilled  time.Time      // when tokens was last brought up to date
	emptySeq  int            // numbers the tokens of faultEmptyPageWithToken
	conns     int            // connections accepted
	hellos    int            // TLS handshakes begun (ClientHellos)
	carried   map[string]int // requests by connection (the client's address)
	inFlight  int            // requests being answered now
	maxFlight int            // the most at once
	open      int            // connections not yet closed (not reset)
}

// proxyOptions configures startProxy.
type proxyOptions struct {
	// Latency is the round trip to a far region: every answer, forwarded
	// or injected, leaves Latency after its request arrived (later only if
	// kumo took longer), so the proxy's and kumo's own time are part of it
	// rather than added to it. A hang hangs at once. Over TLS, 0 means
	// tlsLatency.
	Latency time.Duration
	TPS     float64 // a shared quota across GetParameter, GetParameters and GetParametersByPath (token bucket), taken on arrival; 0 = none.
	Burst   int     // bucket size (default: ceil(TPS))
	// Handshake (beyond the contract) is the set-up of every new
	// connection to a real, HTTPS endpoint: TCP then TLS 1.3, two round
	// trips, which loopback does not cost. Over plain HTTP the first
	// request of a connection waits for it. Over TLS the server's first
	// flight (ServerHello...) leaves no sooner than Handshake after the
	// connection was accepted, nor than half of it after the ClientHello
	// arrived: a client that sends its ClientHello late pays the TLS round
	// trip from then. 0: none.
	Handshake time.Duration
	// TLS serves HTTPS with the rig's certificate (pki.server), offering
	// HTTP/1.1 only, as SSM's service model declares; HTTP2 offers h2
	// first. Cert, if set, is served instead (pki.untrusted, say).
	TLS   bool
	HTTP2 bool
	Cert  *tls.Certificate
	// Fault, when set, is asked for every request (op = "GetParametersByPath" | "GetParameters" | ...,
	// n = the 1-based count of that op so far) and may return a fault to inject instead of forwarding.
	Fault func(op string, n int) fault
}

// fault is what the proxy answers instead of forwarding a request.
type fault int

const (
	faultNone               fault = iota
	fault500                      // 500 InternalServerError
	faultThrottle                 // 400 ThrottlingException
	faultHang                     // accept, never answer (until the client gives up or the test ends)
	faultReset                    // close the connection without a response (TCP RST where possible)
	faultEmptyPageWithToken       // GetParametersByPath: 200 with no parameters and a NextToken that leads on to the real first page
	faultRepeatToken              // GetParametersByPath: 200 with the same NextToken as the request asked with (or a fixed one forever)
	faultAccessDenied             // 400 AccessDeniedException naming ssm:GetParametersByPath / ssm:GetParameters
	faultKMSDenied                // 400 AccessDeniedException as SSM returns it when kms:Decrypt is denied
)

func (f fault) String() string {
	names := [...]string{"none", "500", "throttle", "hang", "reset", "empty page", "repeat token", "access denied", "kms denied"}
	if f < 0 || int(f) >= len(names) {
		return fmt.Sprintf("fault(%d)", int(f))
	}
	return names[f]
}

// proxyRequest is one request the proxy received and what it did with it.
type proxyRequest struct {
	Op string
	// GetParametersByPath: the path, and the token as the upstream saw it
	// (the proxy's own empty-page tokens decoded).
	Path, NextToken string
	MaxResults      *int
	Recursive       *bool
	// GetParameters: the names, in the order sent.
	Names          []string
	WithDecryption *bool
	// Outcome: "upstream" (forwarded and answered), "throttled" (the
	// quota), "invalid" (ValidationException), "canceled" (the client went
	// away first), "error" (the upstream could not be reached), or the
	// fault injected ("fault: hang", ...).
	Outcome    string
	Start, End time.Time // arrival, and the end of the answer; End is zero while unanswered
}

const (
	// emptyTokenPrefix marks the tokens of faultEmptyPageWithToken:
	// "envinit-proxy-empty-SEQ:" followed by the token the next request
	// is forwarded with (empty: the first page). SEQ keeps them unique, so
	// several empty pages in a row are not a repeated token.
	emptyTokenPrefix = "envinit-proxy-empty-"
	// repeatToken is what faultRepeatToken answers a request with no token.
	repeatToken = "envinit-proxy-repeat"
)

// quotaOps are the operations the TPS quota is shared by, as SSM's
// GetParameter* quota is.
var quotaOps = map[string]bool{"GetParameter": true, "GetParameters": true, "GetParametersByPath": true}

// tlsLatency is the round trip of a TLS proxy given none. An endpoint that
// answers at once over TLS exposes a race of the client's transport: it
// may close a connection whose request it is still finishing after the
// answer came, and the SDK, reading "use of closed network connection",
// retries (aws-sdk-go-v2 issues 1825 and 2737). The retry is a second
// request for the same page, which the tests that count requests would
// take for a defect. Seen about once in ten runs of the fault tests with
// other tests in parallel on a busy machine, never with a round trip of
// 20 ms or more (TestScaleDeployShape's is 30 ms); no HTTPS endpoint
// answers sooner.
const tlsLatency = 20 * time.Millisecond

// startProxy starts a proxy in front of upstream (kumo's URL) on 127.0.0.1,
// closed when the test (or benchmark) ends.
func startProxy(tb testing.TB, upstream string, opts proxyOptions) *ssmProxy {
	tb.Helper()
	if opts.Burst <= 0 {
		opts.Burst = max(1, int(math.Ceil(opts.TPS)))
	}
	if opts.TLS && opts.Latency == 0 {
		opts.Latency = tlsLatency
	}
	p := &ssmProxy{
		upstream: strings.TrimSuffix(upstream, "/"),
		opts:     opts,
		client:   &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		closing:  make(chan struct{}),
	}
	p.Reset()
	p.srv = httptest.NewUnstartedServer(p)
	p.srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		p.mu.Lock()
		defer p.mu.Unlock()
		switch state {
		case http.StateNew:
			p.conns++
			p.open++
		case http.StateClosed, http.StateHijacked:
			p.open--
		}
	}
	if opts.Handshake > 0 {
		p.srv.Listener = handshakeListener{p.srv.Listener, opts.Handshake, opts.TLS, p.closing}
	}
	if opts.TLS {
		cert := pki.server
		if opts.Cert != nil {
			cert = *opts.Cert
		}
		p.srv.TLS = &tls.Config{
			Certificates: []tls.Certificate{cert},
			GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
				p.mu.Lock()
				p.hellos++
				p.mu.Unlock()
				return nil, nil
			},
		}
		if opts.HTTP2 {
			p.srv.EnableHTTP2 = true
			p.srv.TLS.NextProtos = []string{"h2", "http/1.1"}
		}
		// A client abandons handshakes on purpose (a certificate it
		// rejects, a connection it does not need): no news.
		p.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
		p.srv.StartTLS()
	} else {
		p.srv.Start()
	}
	tb.Cleanup(func() {
		close(p.closing)
		p.srv.Close()
		p.client.CloseIdleConnections()
	})
	return p
}

// URL is the proxy's base URL, for AWS_ENDPOINT_URL_SSM (awsEnvFor(p.URL())).
func (p *ssmProxy) URL() string { return p.srv.URL }

// awsEnv is the AWS part of envinit's environment for p: awsEnvFor(p.URL())
// and, over TLS, a trust store of realistic size: SSL_CERT_FILE names the
// machine's CA bundle with the rig's root after it.
func (p *ssmProxy) awsEnv() []string {
	env := awsEnvFor(p.URL())
	if p.opts.TLS {
		env = append(env, "SSL_CERT_FILE="+pki.bundle)
	}
	return env
}

// Calls returns how many requests of op were answered by the upstream: not
// faults, not throttled, not rejected.
func (p *ssmProxy) Calls(op string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[op]
}

// Throttled returns how many requests the quota answered ThrottlingException
// (faultThrottle answers are not counted).
func (p *ssmProxy) Throttled() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.throttled
}

// Chain returns the longest chain of dependent round trips among the
// requests answered so far, whatever the answer: a request depends on
// every request that ended before it started. Requests that overlap ran at
// the same time; a client that waits for an answer before asking again
// makes a chain. The latency must dwarf the scheduling noise of the
// machine for the measure to be exact.
func (p *ssmProxy) Chain() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var spans []span
	for _, r := range p.log {
		if !r.End.IsZero() {
			spans = append(spans, span{r.Start, r.End})
		}
	}
	return chainOf(spans)
}

// span returns when the first request since the last Reset arrived and
// when the last answer ended (zero times if there was none).
func (p *ssmProxy) span() (first, last time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.log {
		if first.IsZero() || r.Start.Before(first) {
			first = r.Start
		}
		if r.End.After(last) {
			last = r.End
		}
	}
	return first, last
}

// Conns returns how many connections the client opened since the last
// Reset.
func (p *ssmProxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns
}

// Handshakes returns how many TLS handshakes clients began since the last
// Reset.
func (p *ssmProxy) Handshakes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hellos
}

// Idle returns how many of the connections opened since the last Reset
// carried no request.
func (p *ssmProxy) Idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns - len(p.carried)
}

// MaxInFlight returns the most requests the proxy was answering at once
// since the last Reset.
func (p *ssmProxy) MaxInFlight() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.maxFlight
}

// settle waits until every connection is closed, so that the counts are
// final: a process that exited closed its connections, but the server
// hears of it a moment later.
func (p *ssmProxy) settle(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p.mu.Lock()
		open := p.open
		p.mu.Unlock()
		if open == 0 {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("proxy: %d connections still open 10s after the client went away", open)
		}
		time.Sleep(time.Millisecond)
	}
}

// Requests returns a copy of every request received since the last Reset,
// in order of arrival.
func (p *ssmProxy) Requests() []proxyRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]proxyRequest, len(p.log))
	for i, r := range p.log {
		out[i] = *r
		out[i].Names = slices.Clone(r.Names)
	}
	return out
}

// Reset zeroes the counters (Fault's n included), forgets the requests and
// fills the quota's bucket.
func (p *ssmProxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = map[string]int{}
	p.calls = map[string]int{}
	p.throttled = 0
	p.conns = 0
	p.hellos = 0
	p.carried = map[string]int{}
	p.maxFlight = 0
	p.log = nil
	p.tokens = float64(p.opts.Burst)
	p.refilled = time.Now()
}

// handshakeListener delays each connection as its set-up to a far
// endpoint would (proxyOptions.Handshake): over plain HTTP its first read,
// over TLS (under the TLS layer) its first write.
type handshakeListener struct {
	net.Listener
	delay   time.Duration
	tls     bool
	closing <-chan struct{}
}

func (l handshakeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &handshakeConn{Conn: c, delay: l.delay, tls: l.tls, accepted: time.Now(), closing: l.closing}, nil
}

type handshakeConn struct {
	net.Conn
	delay     time.Duration
	tls       bool
	accepted  time.Time
	closing   <-chan struct{}
	once      sync.Once // the delay
	heard     sync.Once
	firstRead time.Time // when the client's first bytes (its ClientHello) arrived
}

func (c *handshakeConn) Read(b []byte) (int, error) {
	if !c.tls {
		c.once.Do(func() { waitUntil(time.Now().Add(c.delay), c.closing, nil) })
	}
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.heard.Do(func() { c.firstRead = time.Now() })
	}
	return n, err
}

func (c *handshakeConn) Write(b []byte) (int, error) {
	if c.tls {
		// TCP's round trip from the accept, TLS's from the ClientHello.
		c.once.Do(func() {
			due := c.accepted.Add(c.delay)
			c.heard.Do(func() { c.firstRead = time.Now() })
			if tlsDue := c.firstRead.Add(c.delay / 2); tlsDue.After(due) {
				due = tlsDue
			}
			waitUntil(due, c.closing, nil)
		})
	}
	return c.Conn.Write(b)
}

func (c *handshakeConn) NetConn() net.Conn { return c.Conn }

// waitUntil returns true at due, or false as soon as stop or alsoStop
// closes (a nil channel never does). The runtime wakes an idle process for
// a timer at millisecond granularity (its netpoller's epoll timeout is in
// whole milliseconds), which made every round trip ≈ 0.6 ms longer than
// asked: the last stretch is slept with nanosleep(2), a high-resolution
// timer, and is not interrupted by stop.
func waitUntil(due time.Time, stop, alsoStop <-chan struct{}) bool {
	const fine = 2 * time.Millisecond
	if d := time.Until(due) - fine; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-stop:
			return false
		case <-alsoStop:
			return false
		}
	}
	// Go's preemption signals interrupt the sleep (EINTR): sleep again for
	// what is left.
	for d := time.Until(due); d > 0; d = time.Until(due) {
		ts := syscall.NsecToTimespec(int64(d))
		_ = syscall.Nanosleep(&ts, nil)
	}
	select {
	case <-stop:
		return false
	case <-alsoStop:
		return false
	default:
		return true
	}
}

// span is one request's time on the proxy.
type span struct{ start, end time.Time }

// chainOf is the longest sequence of spans each of which started after the
// previous one ended.
func chainOf(spans []span) int {
	s := slices.Clone(spans)
	slices.SortFunc(s, func(a, b span) int { return a.start.Compare(b.start) })
	depth := make([]int, len(s))
	longest := 0
	for j := range s {
		depth[j] = 1
		for i := range j {
			if s[i].end.Before(s[j].start) {
				depth[j] = max(depth[j], depth[i]+1)
			}
		}
		longest = max(longest, depth[j])
	}
	return longest
}

// take takes a token from the quota's bucket, if there is one. mu is held.
func (p *ssmProxy) take(now time.Time) bool {
	if p.opts.TPS <= 0 {
		return true
	}
	p.tokens = min(float64(p.opts.Burst), p.tokens+now.Sub(p.refilled).Seconds()*p.opts.TPS)
	p.refilled = now
	if p.tokens < 1 {
		return false
	}
	p.tokens--
	return true
}

// ssmInput holds the fields of the requests the proxy looks into.
type ssmInput struct {
	Path           string
	Recursive      *bool
	MaxResults     *int
	NextToken      *string
	Names          []string
	WithDecryption *bool
}

func (p *ssmProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &proxyRequest{Start: time.Now(), Op: strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonSSM.")}
	outcome := "canceled"
	p.mu.Lock()
	p.carried[r.RemoteAddr]++
	p.inFlight++
	p.maxFlight = max(p.maxFlight, p.inFlight)
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		rec.Outcome, rec.End = outcome, time.Now()
		p.inFlight--
		p.mu.Unlock()
	}()

	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	var in ssmInput
	if err := json.Unmarshal(body, &in); err != nil {
		outcome = "invalid"
		writeAPIError(w, http.StatusBadRequest, "SerializationException", "cannot parse the request body")
		return
	}
	// The proxy's own empty-page tokens lead on to a real one.
	if tok := in.NextToken; tok != nil && strings.HasPrefix(*tok, emptyTokenPrefix) {
		_, real, _ := strings.Cut(*tok, ":")
		in.NextToken = &real
		body = withNextToken(body, real)
	}
	rec.Path, rec.MaxResults, rec.Recursive = in.Path, in.MaxResults, in.Recursive
	rec.Names, rec.WithDecryption = in.Names, in.WithDecryption
	if in.NextToken != nil {
		rec.NextToken = *in.NextToken
	}

	p.mu.Lock()
	p.seen[rec.Op]++
	n := p.seen[rec.Op]
	p.log = append(p.log, rec)
	p.mu.Unlock()

	// Whatever the answer, it leaves no sooner than Latency after the
	// request arrived: the round trip of a far region, the service's own
	// time included, so that the proxy's work does not count against the
	// client.
	due := rec.Start.Add(p.opts.Latency)
	hold := func() bool { return waitUntil(due, r.Context().Done(), p.closing) }

	f := faultNone
	if p.opts.Fault != nil {
		f = p.opts.Fault(rec.Op, n)
	}
	if f != faultNone {
		if f == faultHang || hold() {
			outcome = "fault: " + f.String()
			p.inject(w, r, rec, f)
		}
		return
	}

	p.mu.Lock()
	ok := !quotaOps[rec.Op] || p.take(time.Now())
	if !ok {
		p.throttled++
	}
	p.mu.Unlock()
	if !ok {
		if hold() {
			outcome = "throttled"
			writeAPIError(w, http.StatusBadRequest, "ThrottlingException", "Rate exceeded")
		}
		return
	}

	if msg := validate(rec.Op, in); msg != "" {
		if hold() {
			outcome = "invalid"
			writeAPIError(w, http.StatusBadRequest, "ValidationException", msg)
		}
		return
	}

	resp, err := p.forward(r, body)
	if !hold() {
		return
	}
	if err != nil {
		outcome = "error"
		writeAPIError(w, http.StatusBadGateway, "InternalServerError", "proxy: "+err.Error())
		return
	}
	for k, v := range resp.header {
		if k != "Content-Length" && k != "Connection" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(resp.status)
	if _, err := w.Write(resp.body); err != nil {
		return
	}
	outcome = "upstream"
	p.mu.Lock()
	p.calls[rec.Op]++
	p.mu.Unlock()
}

// validate returns the ValidationException message SSM would answer in,
// or "".
func validate(op string, in ssmInput) string {
	switch {
	case op == "GetParametersByPath" && in.MaxResults != nil && *in.MaxResults > 10:
		return fmt.Sprintf("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 10", *in.MaxResults)
	case op == "GetParameters" && len(in.Names) > 10:
		return "1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length less than or equal to 10"
	}
	return ""
}

// inject answers r with fault f.
func (p *ssmProxy) inject(w http.ResponseWriter, r *http.Request, rec *proxyRequest, f fault) {
	switch f {
	case fault500:
		writeAPIError(w, http.StatusInternalServerError, "InternalServerError", "Internal Server Error")
	case faultThrottle:
		writeAPIError(w, http.StatusBadRequest, "ThrottlingException", "Rate exceeded")
	case faultHang:
		select {
		case <-r.Context().Done():
		case <-p.closing:
		}
	case faultReset:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(fmt.Sprintf("proxy: hijack for a reset: %v", err))
		}
		// Under TLS and the handshake delay, the TCP connection.
		for {
			inner, ok := conn.(interface{ NetConn() net.Conn })
			if !ok {
				break
			}
			conn = inner.NetConn()
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close sends RST, not FIN
		}
		conn.Close()
	case faultEmptyPageWithToken:
		p.mu.Lock()
		p.emptySeq++
		tok := fmt.Sprintf("%s%d:%s", emptyTokenPrefix, p.emptySeq, rec.NextToken)
		p.mu.Unlock()
		writeJSON(w, map[string]any{"Parameters": []any{}, "NextToken": tok})
	case faultRepeatToken:
		tok := repeatToken
		if rec.NextToken != "" {
			tok = rec.NextToken
		}
		writeJSON(w, map[string]any{"Parameters": []any{}, "NextToken": tok})
	case faultAccessDenied:
		action := "ssm:" + rec.Op
		resource := "arn:aws:ssm:us-east-1:123456789012:parameter" + rec.Path
		if rec.Path == "" && len(rec.Names) > 0 {
			resource = "arn:aws:ssm:us-east-1:123456789012:parameter" + rec.Names[0]
		}
		writeAPIError(w, http.StatusBadRequest, "AccessDeniedException", fmt.Sprintf(
			"User: arn:aws:sts::123456789012:assumed-role/app-task/4f2c is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action",
			action, resource, action))
	case faultKMSDenied:
		// SSM passes on KMS's refusal; its classic form does not even
		// name kms:Decrypt, so telling it apart is envinit's job.
		writeAPIError(w, http.StatusBadRequest, "AccessDeniedException",
			"The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access. "+
				"(Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException; Request ID: 0f6c1d2e-6f1a-4c1e-9d0b-3b7f6c9a2e11; Proxy: null)")
	default:
		panic(fmt.Sprintf("proxy: unknown fault %v", f))
	}
}

// upstreamAnswer is what the upstream answered.
type upstreamAnswer struct {
	status int
	header http.Header
	body   []byte
}

// forward sends body to the upstream as r's request and reads the answer.
func (p *ssmProxy) forward(r *http.Request, body []byte) (*upstreamAnswer, error) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, p.upstream+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = r.Header.Clone()
	req.Header.Del("Connection")
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &upstreamAnswer{status: resp.StatusCode, header: resp.Header, body: answer}, nil
}

// withNextToken returns the JSON object body with NextToken set to tok, or
// removed if tok is empty.
func withNextToken(body []byte, tok string) []byte {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return body
	}
	if tok == "" {
		delete(m, "NextToken")
	} else {
		m["NextToken"], _ = json.Marshal(tok)
	}
	out, err := json.Marshal(m)
	if err != nil {
		return body
	}
	return out
}

// writeAPIError answers as SSM does: an awsJson1_1 error document.
func writeAPIError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", "proxy-"+randHex(8))
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", "proxy-"+randHex(8))
	_ = json.NewEncoder(w).Encode(v)
}

// proxyCall posts one SSM JSON request for op to url, without retries, and
// returns the status and the decoded answer.
func proxyCall(t *testing.T, client *http.Client, url, op string, in map[string]any) (int, map[string]any, error) {
	t.Helper()
	body, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AmazonSSM."+op)
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s answer %q: %v", op, raw, err)
	}
	return resp.StatusCode, doc, nil
}

// byPath is a GetParametersByPath request as envinit sends it.
func byPath(path, token string) map[string]any {
	in := map[string]any{"Path": path, "Recursive": false, "MaxResults": 10, "WithDecryption": true}
	if token != "" {
		in["NextToken"] = token
	}
	return in
}

func paramCount(doc map[string]any) int {
	ps, _ := doc["Parameters"].([]any)
	return len(ps)
}

func TestProxyThrottlesOverQuota(t *testing.T) {
	e := startSSM(t)
	prefix := e.prefix(t)
	e.seed(t, prefix, map[string]string{"global/A": "a"})
	// One token every 100 s: the burst is all there is for the test.
	p := startProxy(t, e.URL, proxyOptions{TPS: 0.01, Burst: 2})
	names := map[string]any{"Names": []string{prefix + "/global/A"}, "WithDecryption": true}

	for i := range 2 {
		if status, doc, err := proxyCall(t, nil, p.URL(), "GetParameters", names); err != nil || status != 200 || paramCount(doc) != 1 {
			t.Fatalf("call %d within the burst: got %d %v (err %v); want 200 with one parameter", i+1, status, doc, err)
		}
	}
	// The quota is shared by the operations.
	status, doc, err := proxyCall(t, nil, p.URL(), "GetParametersByPath", byPath(prefix+"/global", ""))
	if err != nil {
		t.Fatal(err)
	}
	if status != 400 || doc["__type"] != "ThrottlingException" || doc["message"] != "Rate exceeded" {
		t.Errorf("call past the burst: got %d %v; want 400 ThrottlingException \"Rate exceeded\"", status, doc)
	}
	if got := p.Throttled(); got != 1 {
		t.Errorf("Throttled(): got %d; want 1", got)
	}
	if got := p.Calls("GetParameters"); got != 2 {
		t.Errorf("Calls(GetParameters): got %d; want 2", got)
	}
	if got := p.Calls("GetParametersByPath"); got != 0 {
		t.Errorf("Calls(GetParametersByPath): got %d; want 0 (throttled)", got)
	}
	p.Reset()
	if got := p.Throttled(); got != 0 {
		t.Errorf("Throttled() after Reset: got %d; want 0", got)
	}
	if status, _, _ := proxyCall(t, nil, p.URL(), "GetParameters", names); status != 200 {
		t.Errorf("call after Reset: got %d; want 200 (a full bucket)", status)
	}
}

func TestProxyBucketRefills(t *testing.T) {
	p := &ssmProxy{opts: proxyOptions{TPS: 4, Burst: 2}}
	p.Reset()
	t0 := p.refilled
	steps := []struct {
		at   time.Duration
		want bool
	}{
		{0, true}, {0, true}, {0, false}, // the burst, then empty
		{250 * time.Millisecond, true}, // 4 TPS: one token per 250 ms
		{300 * time.Millisecond, false},
		{10 * time.Second, true}, {10 * time.Second, true}, {10 * time.Second, false}, // never more than the burst
	}
	for i, s := range steps {
		if got := p.take(t0.Add(s.at)); got != s.want {
			t.Errorf("step %d at %v: take got %v; want %v", i, s.at, got, s.want)
		}
	}
}

func TestProxyValidation(t *testing.T) {
	e := startSSM(t)
	prefix := e.prefix(t)
	e.seed(t, prefix, map[string]string{"global/A": "a"})
	p := startProxy(t, e.URL, proxyOptions{})

	eleven := make([]string, 11)
	for i := range eleven {
		eleven[i] = fmt.Sprintf("%s/global/N%d", prefix, i)
	}
	tooMany := byPath(prefix+"/global", "")
	tooMany["MaxResults"] = 11
	for _, tc := range []struct {
		name, op string
		in       map[string]any
		want     int
	}{
		{"MaxResults 11", "GetParametersByPath", tooMany, 400},
		{"MaxResults 10", "GetParametersByPath", byPath(prefix+"/global", ""), 200},
		{"11 names", "GetParameters", map[string]any{"Names": eleven}, 400},
		{"10 names", "GetParameters", map[string]any{"Names": eleven[:10]}, 200},
	} {
		status, doc, err := proxyCall(t, nil, p.URL(), tc.op, tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if status != tc.want {
			t.Errorf("%s: got %d %v; want %d", tc.name, status, doc, tc.want)
		}
		if tc.want == 400 && doc["__type"] != "ValidationException" {
			t.Errorf("%s: got __type %v; want ValidationException", tc.name, doc["__type"])
		}
	}
	for _, op := range []string{"GetParametersByPath", "GetParameters"} {
		if got := p.Calls(op); got != 1 {
			t.Errorf("Calls(%s): got %d; want 1 (the rejected one not forwarded)", op, got)
		}
	}
}

func TestProxyFaults(t *testing.T) {
	e := startSSM(t)
	prefix := e.prefix(t)
	svc := prefix + "/services/api"
	e.seed(t, prefix, map[string]string{"services/api/A": "a", "services/api/B": "b", "services/api/C": "c"})
	var next fault
	var ns []int
	p := startProxy(t, e.URL, proxyOptions{Fault: func(op string, n int) fault {
		ns = append(ns, n) // requests are sequential here
		return next
	}})

	t.Run("empty page", func(t *testing.T) {
		next = faultEmptyPageWithToken
		status, doc, err := proxyCall(t, nil, p.URL(), "GetParametersByPath", byPath(svc, ""))
		tok, _ := doc["NextToken"].(string)
		if err != nil || status != 200 || paramCount(doc) != 0 || tok == "" {
			t.Fatalf("got %d %v (err %v); want 200, no parameters and a token", status, doc, err)
		}
		next = faultNone
		status, doc, err = proxyCall(t, nil, p.URL(), "GetParametersByPath", byPath(svc, tok))
		if err != nil || status != 200 || paramCount(doc) != 3 || doc["NextToken"] != nil {
			t.Errorf("after the empty page: got %d %v (err %v); want the real first page: 3 parameters, no token", status, doc, err)
		}
	})
	t.Run("repeat token", func(t *testing.T) {
		next = faultRepeatToken
		for _, asked := range []string{"", "tok-1"} {
			want := asked
			if want == "" {
				want = repeatToken
			}
			status, doc, err := proxyCall(t, nil, p.URL(), "GetParametersByPath", byPath(svc, asked))
			if err != nil || status != 200 || doc["NextToken"] != want {
				t.Errorf("asked with %q: got %d %v (err %v); want 200 with NextToken %q", asked, status, doc, err, want)
			}
		}
	})
	for _, tc := range []struct {
		f          fault
		op         string
		status     int
		code, text string
	}{
		{fault500, "GetParametersByPath", 500, "InternalServerError", ""},
		{faultThrottle, "GetParameters", 400, "ThrottlingException", "Rate exceeded"},
		{faultAccessDenied, "GetParametersByPath", 400, "AccessDeniedException", "ssm:GetParametersByPath on resource: arn:aws:ssm:us-east-1:123456789012:parameter" + svc},
		{faultAccessDenied, "GetParameters", 400, "AccessDeniedException", "ssm:GetParameters on resource"},
		{faultKMSDenied, "GetParametersByPath", 400, "AccessDeniedException", "Service: AWSKMS"},
	} {
		t.Run(tc.f.String()+" "+tc.op, func(t *testing.T) {
			next = tc.f
			in := byPath(svc, "")
			if tc.op == "GetParameters" {
				in = map[string]any{"Names": []string{prefix + "/global/A"}}
			}
			status, doc, err := proxyCall(t, nil, p.URL(), tc.op, in)
			if err != nil {
				t.Fatal(err)
			}
			msg, _ := doc["message"].(string)
			if status != tc.status || doc["__type"] != tc.code || !strings.Contains(msg, tc.text) {
				t.Errorf("got %d %v; want %d %s with a message holding %q", status, doc, tc.status, tc.code, tc.text)
			}
		})
	}
	t.Run("reset", func(t *testing.T) {
		next = faultReset
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		status, doc, err := proxyCall(t, c, p.URL(), "GetParametersByPath", byPath(svc, ""))
		if err == nil {
			t.Errorf("got %d %v; want the connection closed without an answer", status, doc)
		}
	})
	t.Run("hang", func(t *testing.T) {
		next = faultHang
		c := &http.Client{Timeout: 300 * time.Millisecond}
		start := time.Now()
		status, doc, err := proxyCall(t, c, p.URL(), "GetParametersByPath", byPath(svc, ""))
		if err == nil {
			t.Errorf("got %d %v; want no answer", status, doc)
		}
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Errorf("gave up after %v; want the client's 300ms timeout", d)
		}
	})

	// Only the request after the empty page was answered by kumo.
	if got := p.Calls("GetParametersByPath"); got != 1 {
		t.Errorf("Calls(GetParametersByPath): got %d; want 1 (faults are not upstream answers)", got)
	}
	if got, want := ns, []int{1, 2, 3, 4, 5, 1, 6, 2, 7, 8, 9}; !slices.Equal(got, want) {
		t.Errorf("Fault's n: got %v; want %v (1-based, per operation)", got, want)
	}
}

func TestProxyLatency(t *testing.T) {
	e := startSSM(t)
	prefix := e.prefix(t)
	e.seed(t, prefix, map[string]string{"global/A": "a"})
	const latency = 50 * time.Millisecond
	p := startProxy(t, e.URL, proxyOptions{Latency: latency})
	start := time.Now()
	if status, _, err := proxyCall(t, nil, p.URL(), "GetParametersByPath", byPath(prefix+"/global", "")); err != nil || status != 200 {
		t.Fatalf("got %d (err %v); want 200", status, err)
	}
	if d := time.Since(start); d < latency {
		t.Errorf("round trip: got %v; want at least the latency %v", d, latency)
	}
}

func TestProxyChain(t *testing.T) {
	t0 := time.Now()
	at := func(from, to int) span { // milliseconds after t0
		return span{t0.Add(time.Duration(from) * time.Millisecond), t0.Add(time.Duration(to) * time.Millisecond)}
	}
	for _, tc := range []struct {
		name  string
		spans []span
		want  int
	}{
		{"none", nil, 0},
		{"one", []span{at(0, 20)}, 1},
		{"in sequence", []span{at(0, 20), at(21, 41), at(42, 62)}, 3},
		{"in parallel", []span{at(0, 20), at(1, 21), at(2, 22)}, 1},
		{"touching is not after", []span{at(0, 20), at(20, 40)}, 1},
		{"any order", []span{at(42, 62), at(0, 20), at(21, 41)}, 3},
		{"a long request spans a short chain", []span{at(0, 100), at(1, 21), at(22, 42), at(101, 120)}, 3},
		// The deploy shape: api's pages, the first globals batch beside
		// page 2, the imports and the second batch after page 3, the
		// billing-only global after billing's last page.
		{"deploy shape", []span{
			at(0, 25), at(26, 51), at(26, 51), at(52, 77),
			at(78, 103), at(78, 103), at(79, 104),
			at(104, 129), at(105, 130), at(131, 156),
		}, 6},
	} {
		if got := chainOf(tc.spans); got != tc.want {
			t.Errorf("%s: chainOf got %d; want %d", tc.name, got, tc.want)
		}
	}
}

// The live measure: two requests in sequence, then two at once, then one.
func TestProxyChainLive(t *testing.T) {
	e := startSSM(t)
	prefix := e.prefix(t)
	e.seed(t, prefix, map[string]string{"global/A": "a"})
	p := startProxy(t, e.URL, proxyOptions{Latency: 30 * time.Millisecond})
	call := func() {
		if status, _, err := proxyCall(t, nil, p.URL(), "GetParameters", map[string]any{"Names": []string{prefix + "/global/A"}}); err != nil || status != 200 {
			t.Errorf("got %d (err %v); want 200", status, err)
		}
	}
	call()
	call()
	var wg sync.WaitGroup
	wg.Go(call)
	wg.Go(call)
	wg.Wait()
	call()
	if got := p.Chain(); got != 4 {
		t.Errorf("Chain(): got %d; want 4", got)
	}
	if got := p.Calls("GetParameters"); got != 5 {
		t.Errorf("Calls(GetParameters): got %d; want 5", got)
	}
}

func TestProxyHandshake(t *testing.T) {
	e := startSSM(t)
	prefix := e.prefix(t)
	e.seed(t, prefix, map[string]string{"global/A": "a"})
	const handshake = 100 * time.Millisecond
	p := startProxy(t, e.URL, proxyOptions{Handshake: handshake})
	names := map[string]any{"Names": []string{prefix + "/global/A"}}
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()

	start := time.Now()
	if status, _, err := proxyCall(t, client, p.URL(), "GetParameters", names); err != nil || status != 200 {
		t.Fatalf("got %d (err %v); want 200", status, err)
	}
	if d := time.Since(start); d < handshake {
		t.Errorf("first request on a new connection: got %v; want at least the handshake %v", d, handshake)
	}
	if status, _, err := proxyCall(t, client, p.URL(), "GetParameters", names); err != nil || status != 200 {
		t.Fatalf("got %d (err %v); want 200", status, err)
	}
	if got := p.Conns(); got != 1 {
		t.Errorf("Conns() after two requests on one kept-alive connection: got %d; want 1", got)
	}
	other := &http.Client{Transport: &http.Transport{}}
	defer other.CloseIdleConnections()
	if status, _, err := proxyCall(t, other, p.URL(), "GetParameters", names); err != nil || status != 200 {
		t.Fatalf("got %d (err %v); want 200", status, err)
	}
	if got := p.Conns(); got != 2 {
		t.Errorf("Conns() after a second client: got %d; want 2", got)
	}
}

// overTLS is opts with TLS on.
func overTLS(opts proxyOptions) proxyOptions {
	opts.TLS = true
	return opts
}
