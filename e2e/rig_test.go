package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// slowCreds is a container credentials endpoint
// (AWS_CONTAINER_CREDENTIALS_FULL_URI, as ECS and EKS Pod Identity serve
// it, on loopback) that answers good credentials after a latency: a
// stand-in for IRSA's call to STS, or a busy agent.
type slowCreds struct {
	URL      string // http://127.0.0.1:PORT/creds
	requests atomic.Int32
}

func startSlowCreds(tb testing.TB, latency time.Duration) *slowCreds {
	tb.Helper()
	c := &slowCreds{}
	closing := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.requests.Add(1)
		if !waitUntil(time.Now().Add(latency), r.Context().Done(), closing) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"AccessKeyId":"ASIAENVINITRIG","SecretAccessKey":"rig-secret","Token":"rig-token","Expiration":%q}`,
			time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	}))
	tb.Cleanup(srv.Close)
	tb.Cleanup(func() { close(closing) }) // runs first
	c.URL = srv.URL + "/creds"
	return c
}

// env turns env's static keys into this endpoint.
func (c *slowCreds) env(env []string) []string {
	return withEnv(env, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI="+c.URL)
}

// connectProxy is an HTTP CONNECT proxy (HTTPS_PROXY) on loopback. It
// tunnels to any address on loopback, and rigHost's port to the same port
// on 127.0.0.1: rigHost resolves nowhere, so a client that reaches it went
// through the proxy.
type connectProxy struct {
	URL   string // http://127.0.0.1:PORT
	mu    sync.Mutex
	asked []string // CONNECT targets, in order
}

func startConnectProxy(t *testing.T) *connectProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &connectProxy{URL: "http://" + l.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			track(c)
			wg.Go(func() { p.tunnel(c, track) })
		}
	})
	return p
}

func (p *connectProxy) tunnel(c net.Conn, track func(net.Conn)) {
	defer c.Close()
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil || req.Method != http.MethodConnect {
		io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
		return
	}
	p.mu.Lock()
	p.asked = append(p.asked, req.Host)
	p.mu.Unlock()
	host, port, err := net.SplitHostPort(req.Host)
	ip := net.ParseIP(host)
	switch {
	case err != nil:
	case host == rigHost:
		host = "127.0.0.1"
	case host == "localhost" || ip != nil && ip.IsLoopback():
	default:
		// Nothing but loopback, ever.
		err = fmt.Errorf("not on loopback")
	}
	var up net.Conn
	if err == nil {
		up, err = net.Dial("tcp", net.JoinHostPort(host, port))
	}
	if err != nil {
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return
	}
	track(up)
	defer up.Close()
	io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
}

// Asked returns the CONNECT targets so far.
func (p *connectProxy) Asked() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.asked...)
}
