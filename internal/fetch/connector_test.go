package fetch

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tlsSSM is a fake SSM endpoint over TLS that counts what a client's
// connections did.
type tlsSSM struct {
	*httptest.Server
	hellos   atomic.Int32 // TLS handshakes begun (ClientHellos)
	mu       sync.Mutex
	requests map[string]int // by connection (remote address)
	protos   map[string]bool
}

// startTLSSSM serves respond over TLS with a certificate that ca issued
// for hosts, and points the SDK at it, with ca's certificate as
// AWS_CA_BUNDLE unless bundle says otherwise.
func startTLSSSM(t *testing.T, ca *testCA, h2 bool, respond func(n int, w http.ResponseWriter, r *http.Request)) *tlsSSM {
	t.Helper()
	s := &tlsSSM{requests: map[string]int{}, protos: map[string]bool{}}
	var n atomic.Int32
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests[r.RemoteAddr]++
		s.protos[r.Proto] = true
		s.mu.Unlock()
		respond(int(n.Add(1)), w, r)
	}))
	s.EnableHTTP2 = h2
	// Handshakes a client abandons on purpose are no news.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	cert := ca.leaf(t, "127.0.0.1")
	s.TLS = &tls.Config{
		Certificates: []tls.Certificate{cert},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			s.hellos.Add(1)
			return nil, nil
		},
	}
	s.StartTLS()
	t.Cleanup(s.Close)
	awsEnv(t, s.URL)
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bundle, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CA_BUNDLE", bundle)
	return s
}

func (s *tlsSSM) connections() (conns, requests int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.requests {
		conns++
		requests += n
	}
	return conns, requests
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// Load opens connsAhead connections to an HTTP/1.1 endpoint before the
// first request, and the requests then need no other.
func TestLoadOpensConnectionsAhead(t *testing.T) {
	s := startTLSSSM(t, newTestCA(t, "ca"), false, func(n int, w http.ResponseWriter, _ *http.Request) { page(w, n) })
	src := load(t, fastRetry)
	waitFor(t, "the connections opened ahead", func() bool { return s.hellos.Load() == connsAhead })

	ctx := withTimeout(t, 10*time.Second)
	var wg sync.WaitGroup
	for range connsAhead {
		wg.Go(func() {
			if got, err := readService(ctx, src); err != nil || got["API_KEY"] != canary {
				t.Errorf("Service = %v; want the value", err)
			}
		})
	}
	wg.Wait()
	if got := s.hellos.Load(); got != connsAhead {
		t.Errorf("TLS handshakes: got %d; want %d (those opened ahead, no other)", got, connsAhead)
	}
	if conns, requests := s.connections(); requests != connsAhead || conns > connsAhead {
		t.Errorf("%d requests on %d connections; want %d on at most %d", requests, conns, connsAhead, connsAhead)
	}
}

// Where the endpoint speaks HTTP/2 one connection carries every request:
// the others opened ahead are closed before their TLS handshake.
func TestLoadHTTP2OneConnection(t *testing.T) {
	s := startTLSSSM(t, newTestCA(t, "ca"), true, func(n int, w http.ResponseWriter, _ *http.Request) { page(w, n) })
	src := load(t, fastRetry)
	ctx := withTimeout(t, 10*time.Second)
	// A start's first request is alone; the ones its answer makes run
	// together. (Requests that race for the first connection each dial
	// one, as they would with net/http's own dial.)
	if _, err := readService(ctx, src); err != nil {
		t.Fatalf("Service = %v", err)
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if _, err := readService(ctx, src); err != nil {
				t.Errorf("Service = %v", err)
			}
		})
	}
	wg.Wait()
	if got := s.hellos.Load(); got != 1 {
		t.Errorf("TLS handshakes: got %d; want 1", got)
	}
	conns, requests := s.connections()
	if conns != 1 || requests != 4 || !s.protos["HTTP/2.0"] || len(s.protos) != 1 {
		t.Errorf("%d requests on %d connections with %v; want 4 on 1, HTTP/2.0", requests, conns, s.protos)
	}
}

// A certificate that does not verify fails the call at once, with hints,
// instead of being retried until the deadline.
func TestLoadCertificateNotRetried(t *testing.T) {
	for _, tc := range []struct {
		name, host, want string
	}{
		{"unknown authority", "127.0.0.1", "certificate signed by unknown authority"},
		{"hostname mismatch", "localhost", "wanted to match localhost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca := newTestCA(t, "ca")
			s := startTLSSSM(t, ca, false, func(n int, w http.ResponseWriter, _ *http.Request) { page(w, n) })
			if tc.host == "127.0.0.1" {
				// The client trusts another CA.
				bundle := filepath.Join(t.TempDir(), "other.pem")
				if err := os.WriteFile(bundle, newTestCA(t, "other").pem, 0o600); err != nil {
					t.Fatal(err)
				}
				t.Setenv("AWS_CA_BUNDLE", bundle)
			} else {
				u, _ := url.Parse(s.URL)
				t.Setenv("AWS_ENDPOINT_URL_SSM", "https://"+tc.host+":"+u.Port())
			}
			start := time.Now()
			_, err := readService(withTimeout(t, 20*time.Second), load(t, fastRetry))
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("failed after %v; want at once, not at the 20s deadline", elapsed)
			}
			var ce *certError
			if !errors.Is(err, ErrUnavailable) || !errors.As(err, &ce) {
				t.Fatalf("Service = %v; want ErrUnavailable from a *certError", err)
			}
			msg := err.Error()
			for _, want := range []string{"/envinit/services/svc", "TLS to " + tc.host + " failed, not retried", tc.want, "AWS_CA_BUNDLE ("} {
				if !strings.Contains(msg, want) || strings.Contains(msg, "\n") {
					t.Errorf("error %q; want one line holding %q", msg, want)
				}
			}
			var fe *Error
			errors.As(err, &fe)
			hints := strings.Join(fe.Hints(), "\n")
			for _, want := range []string{"envinit verified it against AWS_CA_BUNDLE (", "behind a TLS-intercepting proxy", "SSL_CERT_FILE"} {
				if !strings.Contains(hints, want) {
					t.Errorf("hints %q; want them to hold %q", hints, want)
				}
			}
			if s.hellos.Load() != 1 {
				t.Errorf("TLS handshakes: got %d; want 1 (no retry, none more opened ahead)", s.hellos.Load())
			}
			if _, requests := s.connections(); requests != 0 {
				t.Errorf("requests: got %d; want none", requests)
			}
		})
	}
}

// The credentials are fetched as soon as Load returns, not in the first
// request, and only once.
func TestLoadPrefetchesCredentials(t *testing.T) {
	var credCalls atomic.Int32
	creds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		credCalls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"AccessKeyId":"ASIAPREFETCH","SecretAccessKey":"s","Token":"t","Expiration":%q}`, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	}))
	t.Cleanup(creds.Close)
	var auth atomic.Value
	startTLSSSM(t, newTestCA(t, "ca"), false, func(n int, w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		page(w, n)
	})
	os.Unsetenv("AWS_ACCESS_KEY_ID") // restored by awsEnv's t.Setenv
	os.Unsetenv("AWS_SECRET_ACCESS_KEY")
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", creds.URL+"/creds")

	src := load(t, fastRetry)
	waitFor(t, "the credentials to be fetched", func() bool { return credCalls.Load() == 1 })
	for range 2 {
		if _, err := readService(withTimeout(t, 10*time.Second), src); err != nil {
			t.Fatalf("Service = %v", err)
		}
	}
	if n := credCalls.Load(); n != 1 {
		t.Errorf("credentials fetched %d times; want 1", n)
	}
	if a, _ := auth.Load().(string); !strings.Contains(a, "Credential=ASIAPREFETCH/") {
		t.Errorf("Authorization %q; want it signed with the fetched credentials", a)
	}
}

// connectProxy is an HTTP CONNECT proxy that sends every tunnel to
// target, whatever address was asked for, and records what it was asked.
type connectProxy struct {
	URL    *url.URL
	mu     sync.Mutex
	asked  []string // the CONNECT targets
	auth   []string // their Proxy-Authorization
	refuse bool     // answer 407
}

// startConnectProxy starts the proxy on loopback; over TLS (an https://
// proxy) if tlsConf is not nil.
func startConnectProxy(t *testing.T, target string, tlsConf *tls.Config) *connectProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &connectProxy{URL: &url.URL{Scheme: "http", Host: l.Addr().String()}}
	if tlsConf != nil {
		l = tls.NewListener(l, tlsConf)
		p.URL.Scheme = "https"
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { p.serve(c, target) })
		}
	})
	return p
}

func (p *connectProxy) serve(c net.Conn, target string) {
	defer c.Close()
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil || req.Method != http.MethodConnect {
		return
	}
	p.mu.Lock()
	p.asked = append(p.asked, req.Host)
	p.auth = append(p.auth, req.Header.Get("Proxy-Authorization"))
	refuse := p.refuse
	p.mu.Unlock()
	if refuse {
		io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
		return
	}
	up, err := net.Dial("tcp", target)
	if err != nil {
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return
	}
	defer up.Close()
	io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
}

// Through an HTTP CONNECT proxy: the tunnel asks for the endpoint's name,
// with the proxy URL's credentials, and TLS verifies that name.
func TestConnectorTunnel(t *testing.T) {
	ca := newTestCA(t, "ca")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.leaf(t, "ssm.envinit.test")}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	proxy := startConnectProxy(t, srv.Listener.Addr().String(), nil)
	proxy.URL.User = url.UserPassword("user", "pass word")

	c := newConnector()
	c.trust = &trust{roots: pools(ca), name: "test"}
	c.proxy = func(*http.Request) (*url.URL, error) { return proxy.URL, nil }
	ctx := withTimeout(t, 10*time.Second)

	conn, err := c.dialTLS(ctx, "tcp", "ssm.envinit.test:443")
	if err != nil {
		t.Fatalf("dialTLS through the proxy: %v", err)
	}
	conn.Close()
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("user:pass word"))
	if len(proxy.asked) != 1 || proxy.asked[0] != "ssm.envinit.test:443" || proxy.auth[0] != wantAuth {
		t.Errorf("CONNECT %q with %q; want one to ssm.envinit.test:443 with %q", proxy.asked, proxy.auth, wantAuth)
	}

	proxy.refuse = true
	_, err = c.dialTLS(ctx, "tcp", "ssm.envinit.test:443")
	if err == nil || !strings.Contains(err.Error(), "407 Proxy Authentication Required") || strings.Contains(err.Error(), "pass word") {
		t.Errorf("dialTLS through a proxy that refuses: got %v; want the 407, without the password", err)
	}

	// An https:// proxy: TLS to the proxy, verified, offering no HTTP/2
	// (CONNECT is HTTP/1.1), then TLS to the endpoint inside, offering it.
	var proxyALPN atomic.Value
	secure := startConnectProxy(t, srv.Listener.Addr().String(), &tls.Config{
		Certificates: []tls.Certificate{ca.leaf(t, "127.0.0.1")},
		NextProtos:   []string{"h2", "http/1.1"},
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			proxyALPN.Store(hello.SupportedProtos)
			return nil, nil
		},
	})
	c.proxy = func(*http.Request) (*url.URL, error) { return secure.URL, nil }
	conn, err = c.dialTLS(ctx, "tcp", "ssm.envinit.test:443")
	if err != nil {
		t.Fatalf("dialTLS through an https:// proxy: %v", err)
	}
	defer conn.Close()
	if got, _ := proxyALPN.Load().([]string); len(got) != 0 {
		t.Errorf("ALPN offered to the proxy: got %q; want none", got)
	}
	if got := conn.(*tls.Conn).ConnectionState().ServerName; got != "ssm.envinit.test" {
		t.Errorf("TLS inside the tunnel to %q; want ssm.envinit.test", got)
	}
}

// A hung first attempt is dropped at the attempt timeout and retried on a
// connection opened ahead, which still works then.
func TestLoadHungAttemptRetriedOverTLS(t *testing.T) {
	release := make(chan struct{})
	s := startTLSSSM(t, newTestCA(t, "ca"), false, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		page(w, n)
	})
	t.Cleanup(func() { close(release) }) // before the server's: cleanups run last first
	r := fastRetry
	r.AttemptTimeout = 200 * time.Millisecond
	got, err := readService(withTimeout(t, 10*time.Second), load(t, r))
	if err != nil || got["API_KEY"] != canary {
		t.Fatalf("Service = %v; want the value from the second attempt", err)
	}
	if _, requests := s.connections(); requests != 2 {
		t.Errorf("requests: got %d; want 2 (the hung one, then its retry)", requests)
	}
}

// The context Load is given may end when Load returns (the secrets tools
// open the store under one): the credentials and the connections it
// started are fetched and opened again, with the caller's.
func TestLoadContextEndsAfterLoad(t *testing.T) {
	var credCalls atomic.Int32
	creds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		credCalls.Add(1)
		time.Sleep(20 * time.Millisecond) // still under way when Load's context ends
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"AccessKeyId":"ASIALATE","SecretAccessKey":"s","Token":"t","Expiration":%q}`, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	}))
	t.Cleanup(creds.Close)
	startTLSSSM(t, newTestCA(t, "ca"), false, func(n int, w http.ResponseWriter, _ *http.Request) { page(w, n) })
	os.Unsetenv("AWS_ACCESS_KEY_ID") // restored by awsEnv's t.Setenv
	os.Unsetenv("AWS_SECRET_ACCESS_KEY")
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", creds.URL+"/creds")

	ctx, cancel := context.WithCancel(context.Background())
	src, err := Load(ctx, "", fastRetry)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	got, err := readService(withTimeout(t, 10*time.Second), src)
	if err != nil || got["API_KEY"] != canary {
		t.Fatalf("Service = %v; want the value, with credentials fetched again", err)
	}
}
