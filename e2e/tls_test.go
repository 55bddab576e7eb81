package e2e

import (
	"bufio"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// defaultTrust is env with no trust store of its own (no SSL_CERT_FILE,
// SSL_CERT_DIR or AWS_CA_BUNDLE): envinit verifies against its built-in
// roots, which this build replaced by the rig's (pki_test.go).
func defaultTrust(env []string) []string {
	return withEnv(env, "SSL_CERT_FILE", "SSL_CERT_DIR", "AWS_CA_BUNDLE")
}

// On the default path envinit needs no CA bundle: the rig's root is not in
// the system's (SSL_CERT_FILE unset, the machine's bundle does not hold
// it), so only the built-in roots can have verified the endpoint. The
// Docker test testDockerNoCABundle runs the same in an image with no CA
// bundle at all.
func TestTLSDefaultTrust(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	token := newCanary("api/TOKEN")
	f.seed(t, map[string]string{
		"global/HOST":              newCanary("global/HOST"),
		"services/api/URL":         "https://#{$/HOST}/",
		"services/api/__sensitive": "TOKEN",
		"services/api/TOKEN":       token,
	})
	env := defaultTrust(f.env("api"))
	p := f.runOK(t, env, f.probe()...)
	assertSecretFile(t, p, f.secrets, "TOKEN", token)
	if !strings.HasPrefix(p.Env["URL"], "https://CANARY-") {
		t.Errorf("URL: got %q; want the global resolved", redact(p.Env["URL"]))
	}
	if f.front.Handshakes() == 0 {
		t.Errorf("TLS handshakes at the endpoint: got 0; want the start to have used TLS")
	}
}

// A certificate that waiting cannot fix (an unknown authority, a name it
// is not for) ends the start at once: 69, long before the deadline,
// nothing written, COMMAND not started, one handshake and no request, and
// hint lines that name the trust store and how to change it.
func TestTLSCertificateFailsFast(t *testing.T) {
	t.Parallel()
	const deadline = 30 * time.Second
	for _, tc := range []struct {
		name  string
		serve func(*testPKI) proxyOptions
		trust func([]string) []string
		say   []string
	}{
		{
			name:  "unknown authority, built-in roots",
			serve: func(k *testPKI) proxyOptions { return proxyOptions{TLS: true, Cert: &k.untrusted} },
			trust: defaultTrust,
			say:   []string{"certificate signed by unknown authority", "hint: envinit verified it against the Amazon Trust Services roots built into envinit, then the system trust store"},
		},
		{
			name:  "unknown authority, SSL_CERT_FILE",
			serve: func(k *testPKI) proxyOptions { return proxyOptions{TLS: true, Cert: &k.untrusted} },
			trust: func(env []string) []string { return env },
			say:   []string{"certificate signed by unknown authority", "hint: envinit verified it against the system trust store of SSL_CERT_FILE (" + pki.bundle + ")"},
		},
		{
			name:  "hostname mismatch",
			serve: func(k *testPKI) proxyOptions { return proxyOptions{TLS: true, Cert: &k.wrongHost} },
			trust: defaultTrust,
			say:   []string{"cannot validate certificate for 127.0.0.1", "hint: the certificate is not for 127.0.0.1: check AWS_ENDPOINT_URL_SSM"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			faultService(t, f)
			p := startProxy(t, f.e.URL, tc.serve(pki))
			env := tc.trust(withEnv(f.env("api", "ENVINIT_TIMEOUT="+deadline.String()), p.awsEnv()...))
			r := f.runFail(t, 69, env, f.probe()...)
			if r.Elapsed > 5*time.Second {
				t.Errorf("elapsed: got %v; want at once, far from the %v deadline", r.Elapsed, deadline)
			}
			say := append(tc.say, "TLS to 127.0.0.1 failed, not retried", "hint: behind a TLS-intercepting proxy", "AWS_CA_BUNDLE", "SSL_CERT_FILE")
			for _, want := range say {
				if !strings.Contains(r.Stderr, want) {
					t.Errorf("stderr: got %q; want it to hold %q", redact(r.Stderr), want)
				}
			}
			if lines := strings.Split(strings.TrimSpace(r.Stderr), "\n"); len(lines) < 3 || !strings.HasPrefix(lines[1], "envinit: hint: ") {
				t.Errorf("stderr: got %q; want the error on one line, then hint: lines", redact(r.Stderr))
			}
			p.settle(t)
			if got := p.Handshakes(); got != 1 {
				t.Errorf("TLS handshakes: got %d; want 1 (no retry)", got)
			}
			if got := len(p.Requests()); got != 0 {
				t.Errorf("requests: got %d; want none", got)
			}
		})
	}
}

// With HTTPS_PROXY set, envinit reaches SSM through that CONNECT proxy, as
// the SDK would: rigHost resolves nowhere, so the start succeeds only
// through the proxy, and TLS verifies rigHost. NO_PROXY sends the same
// endpoint around the proxy.
func TestTLSThroughConnectProxy(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	plain, token := faultService(t, f)
	_, port, err := net.SplitHostPort(strings.TrimPrefix(f.front.URL(), "https://"))
	if err != nil {
		t.Fatal(err)
	}
	proxy := startConnectProxy(t)

	t.Run("HTTPS_PROXY", func(t *testing.T) {
		f.front.Reset()
		env := withEnv(f.env("api"), "AWS_ENDPOINT_URL_SSM=https://"+rigHost+":"+port, "HTTPS_PROXY="+proxy.URL)
		p := f.runOK(t, env, f.probe()...)
		for k, v := range plain {
			assertEnv(t, p, k, v)
		}
		assertSecretFile(t, p, f.secrets, "TOKEN", token)
		f.front.settle(t)
		asked := proxy.Asked()
		if len(asked) == 0 || len(asked) != f.front.Conns() {
			t.Errorf("CONNECTs %q for %d connections at the endpoint; want one per connection", asked, f.front.Conns())
		}
		for _, a := range asked {
			if a != rigHost+":"+port {
				t.Errorf("CONNECT %s; want %s:%s", a, rigHost, port)
			}
		}
	})
	t.Run("NO_PROXY", func(t *testing.T) {
		// A name that is not loopback to net/http's proxy rules, but
		// resolves to it: this machine's, if /etc/hosts says so.
		name, ok := loopbackHostname()
		if !ok {
			t.Skip("this machine's name is not a loopback alias in /etc/hosts")
		}
		before := len(proxy.Asked())
		env := withEnv(f.env("api"), "AWS_ENDPOINT_URL_SSM=https://"+name+":"+port, "HTTPS_PROXY="+proxy.URL, "NO_PROXY=example.com,"+name)
		f.runOK(t, env, f.probe()...)
		if got := proxy.Asked()[before:]; len(got) != 0 {
			t.Errorf("CONNECTs %q; want none (NO_PROXY names the endpoint)", got)
		}
	})
}

// loopbackHostname returns this machine's name if /etc/hosts maps it to a
// loopback address (Debian maps it to 127.0.1.1), so that it resolves
// without DNS.
func loopbackHostname() (string, bool) {
	name, err := os.Hostname()
	if err != nil || name == "" {
		return "", false
	}
	hosts, err := os.Open("/etc/hosts")
	if err != nil {
		return "", false
	}
	defer hosts.Close()
	sc := bufio.NewScanner(hosts)
	for sc.Scan() {
		fields := strings.Fields(strings.SplitN(sc.Text(), "#", 2)[0])
		if len(fields) < 2 {
			continue
		}
		if ip := net.ParseIP(fields[0]); ip == nil || !ip.IsLoopback() {
			continue
		}
		for _, alias := range fields[1:] {
			if alias == name {
				return name, true
			}
		}
	}
	return "", false
}
