package fetch

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// connsAhead is how many connections Load opens to the SSM endpoint before
// the first request: one for it, and two for the requests that start
// together once its answer is in (a service's next page and a batch of
// globals; then its imports beside a batch), which would otherwise wait
// for a TCP and TLS set-up, two round trips, on the start's critical path.
// Wider waves open more on demand.
const connsAhead = 3

// Timeouts of a connection's set-up, as the SDK's transport has them.
const (
	dialTimeout      = 30 * time.Second
	handshakeTimeout = 10 * time.Second
)

// connector opens the TLS connections of the AWS clients Load builds (the
// SSM client, and the credential chain's STS and SSO clients), in place
// of net/http's own TLS dial:
//
//   - directly, or tunnelled through the HTTP CONNECT proxy that
//     HTTPS_PROXY names (http:// or https://), chosen for each host by
//     http.ProxyFromEnvironment (NO_PROXY included) exactly as the SDK's
//     own transport chooses;
//   - verified against the trust store (trust.go);
//   - offering HTTP/2 as the SDK's transport does (ALPN h2, then
//     http/1.1): where the endpoint speaks it, one connection carries
//     every request;
//   - the first ones to the SSM endpoint opened ahead of the first
//     request (openAhead), while the credentials are fetched.
type connector struct {
	trust *trust // set by Load before anything dials
	net   *net.Dialer
	proxy func(*http.Request) (*url.URL, error)

	mu    sync.Mutex
	ahead map[string][]*pending // by host:port, oldest first
}

func newConnector() *connector {
	return &connector{
		net:   &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second},
		proxy: http.ProxyFromEnvironment,
		ahead: map[string][]*pending{},
	}
}

// install makes tr open its TLS connections through c. A request for an
// https URL that the environment sends through an http:// or https://
// proxy is tunnelled by c, so tr sees no proxy for it; any other (a plain
// http URL, a socks5 proxy) stays tr's, as the SDK would have it.
func (c *connector) install(tr *http.Transport) {
	tr.DialTLSContext = c.dialTLS
	tr.Proxy = func(req *http.Request) (*url.URL, error) {
		u, err := c.proxy(req)
		if err == nil && u != nil && req.URL.Scheme == "https" && tunnels(u) {
			return nil, nil
		}
		return u, err
	}
}

// tunnels reports whether c tunnels through proxy itself.
func tunnels(proxy *url.URL) bool { return proxy.Scheme == "http" || proxy.Scheme == "https" }

// dialTLS opens a verified TLS connection to addr (host:port), or hands
// over one opened ahead.
func (c *connector) dialTLS(ctx context.Context, network, addr string) (net.Conn, error) {
	if conn, err, ok := c.takeAhead(ctx, addr); ok {
		return conn, err
	}
	raw, err := c.connect(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return c.handshake(ctx, raw, addr, true)
}

// connect opens the TCP connection that TLS to addr runs over: to addr,
// or a tunnel through the proxy.
func (c *connector) connect(ctx context.Context, network, addr string) (net.Conn, error) {
	proxy, err := c.proxy(&http.Request{URL: &url.URL{Scheme: "https", Host: addr}})
	if err != nil {
		return nil, err
	}
	if proxy == nil || !tunnels(proxy) {
		return c.net.DialContext(ctx, network, addr)
	}
	return c.tunnel(ctx, proxy, addr)
}

// handshake runs TLS over raw to addr, verified against the trust store,
// and closes raw if it fails. http2 offers HTTP/2 (ALPN h2) before
// HTTP/1.1; a proxy is offered neither: it is asked to CONNECT in
// HTTP/1.1, whatever it would speak.
func (c *connector) handshake(ctx context.Context, raw net.Conn, addr string, http2 bool) (*tls.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		raw.Close()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	cfg := c.trust.config(host)
	if !http2 {
		cfg.NextProtos = nil
	}
	conn := tls.Client(raw, cfg)
	if err := conn.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, err
	}
	return conn, nil
}

// tunnel asks proxy to CONNECT to addr, as net/http's transport does:
// Proxy-Authorization from the proxy URL's user, if any; TLS to the proxy
// itself for an https:// one.
func (c *connector) tunnel(ctx context.Context, proxy *url.URL, addr string) (net.Conn, error) {
	proxyAddr := proxy.Host
	if proxy.Port() == "" {
		port := "80"
		if proxy.Scheme == "https" {
			port = "443"
		}
		proxyAddr = net.JoinHostPort(proxy.Hostname(), port)
	}
	conn, err := c.net.DialContext(ctx, "tcp", proxyAddr)
	if err != nil {
		return nil, err
	}
	if proxy.Scheme == "https" {
		tc, err := c.handshake(ctx, conn, proxyAddr, false)
		if err != nil {
			return nil, err
		}
		conn = tc
	}

	// The exchange is bounded by ctx: a proxy that never answers is cut
	// off when the request is.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	req := &http.Request{Method: http.MethodConnect, URL: &url.URL{Opaque: addr}, Host: addr, Header: make(http.Header)}
	if u := proxy.User; u != nil {
		password, _ := u.Password()
		req.Header.Set("Proxy-Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+password)))
	}
	err = req.Write(conn)
	var resp *http.Response
	br := bufio.NewReader(conn)
	if err == nil {
		resp, err = http.ReadResponse(br, req)
	}
	if !stop() {
		err = fmt.Errorf("CONNECT to %s through proxy %s: %w", addr, proxyAddr, ctx.Err())
	}
	switch {
	case err != nil:
	case resp.StatusCode != http.StatusOK:
		// The proxy's answer names no secret: only the endpoint's address.
		err = fmt.Errorf("proxy %s refused to CONNECT to %s: %s", proxyAddr, addr, resp.Status)
	case br.Buffered() > 0:
		err = fmt.Errorf("proxy %s sent data before the TLS handshake to %s", proxyAddr, addr)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// pending is a connection opened ahead of the request that will take it.
type pending struct {
	done   chan struct{} // closed once conn or err is set, or unused
	conn   *tls.Conn
	err    error
	unused bool // not set up: the first connection speaks HTTP/2 or failed, or time ran out
}

// openAhead starts opening n connections to the https endpoint u, bounded
// by ctx and timeout each, for dialTLS to hand to the first requests. The
// first is set up at once; the others' TCP (or tunnel) too, but their TLS
// handshake only once the first's has said whether the endpoint speaks
// HTTP/2, in which case one connection carries every request and they are
// closed without one. Their handshakes then end one round trip after the
// first's, which is when the first answer makes its requests.
func (c *connector) openAhead(ctx context.Context, u *url.URL, n int, timeout time.Duration) {
	// The address net/http will dial: the host as it is, the port always.
	port := u.Port()
	if port == "" {
		port = "443"
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	var first *pending
	for range n {
		p := &pending{done: make(chan struct{})}
		c.mu.Lock()
		c.ahead[addr] = append(c.ahead[addr], p)
		c.mu.Unlock()
		go c.open(ctx, p, addr, first, timeout)
		if first == nil {
			first = p
		}
	}
}

func (c *connector) open(ctx context.Context, p *pending, addr string, first *pending, timeout time.Duration) {
	defer close(p.done)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// A set-up that ran out of time (its own, or Load's caller's) says
	// nothing of the endpoint: the request dials on its own.
	defer func() {
		if p.err != nil && ctx.Err() != nil {
			p.err, p.unused = nil, true
		}
	}()
	raw, err := c.connect(ctx, "tcp", addr)
	if err != nil {
		p.err = err
		return
	}
	if first != nil {
		select {
		case <-first.done:
		case <-ctx.Done():
		}
		if ctx.Err() != nil || first.conn == nil || first.conn.ConnectionState().NegotiatedProtocol == "h2" {
			raw.Close()
			p.unused = true
			return
		}
	}
	p.conn, p.err = c.handshake(ctx, raw, addr, true)
}

// takeAhead hands over the oldest connection opened ahead to addr, once
// it is set up; ok is false when there is none left.
func (c *connector) takeAhead(ctx context.Context, addr string) (conn net.Conn, err error, ok bool) {
	for {
		c.mu.Lock()
		queue := c.ahead[addr]
		if len(queue) == 0 {
			c.mu.Unlock()
			return nil, nil, false
		}
		p := queue[0]
		c.ahead[addr] = queue[1:]
		c.mu.Unlock()

		select {
		case <-p.done:
		case <-ctx.Done():
			// The request went away: the connection stays for the next.
			c.mu.Lock()
			c.ahead[addr] = append([]*pending{p}, c.ahead[addr]...)
			c.mu.Unlock()
			return nil, ctx.Err(), true
		}
		switch {
		case p.unused:
			continue
		case p.err != nil:
			return nil, p.err, true
		}
		return p.conn, nil, true
	}
}
