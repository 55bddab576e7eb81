package fetch

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// The built-in roots are exactly Amazon Trust Services' five, as AWS
// publishes them (https://www.amazontrust.com/repository/): a changed or
// added certificate fails here.
func TestAmazonRoots(t *testing.T) {
	want := map[string]string{
		"Amazon Root CA 1": "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e",
		"Amazon Root CA 2": "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4",
		"Amazon Root CA 3": "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4",
		"Amazon Root CA 4": "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092",
		"Starfield Services Root Certificate Authority - G2": "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5",
	}
	got := map[string]string{}
	rest := amazonRootsPEM
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(cert.Raw)
		got[cert.Subject.CommonName] = hex.EncodeToString(sum[:])
		if !cert.IsCA || !slices.Equal(cert.RawSubject, cert.RawIssuer) {
			t.Errorf("%s: not a self-signed CA", cert.Subject.CommonName)
		}
	}
	if len(got) != len(want) {
		t.Errorf("amazon-roots.pem holds %d certificates; want %d", len(got), len(want))
	}
	for name, fp := range want {
		if got[name] != fp {
			t.Errorf("%s: SHA-256 %q; want %q", name, got[name], fp)
		}
	}
	if testRoots != "" {
		t.Errorf("testRoots is set in this build; only the e2e build sets it")
	}
	if _, err := embeddedRoots(); err != nil {
		t.Errorf("embeddedRoots: %v", err)
	}
}

// testCA is a certificate authority made for a test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t testing.TB, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// leaf issues a server certificate for hosts (names or IP addresses).
func (ca *testCA) leaf(t testing.TB, hosts ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func pools(cas ...*testCA) func() (*x509.CertPool, error) {
	return func() (*x509.CertPool, error) {
		p := x509.NewCertPool()
		for _, ca := range cas {
			p.AddCert(ca.cert)
		}
		return p, nil
	}
}

func TestTrustVerify(t *testing.T) {
	amazon, system, other := newTestCA(t, "built-in"), newTestCA(t, "system"), newTestCA(t, "other")
	byAmazon := amazon.leaf(t, "ssm.test", "127.0.0.1")
	bySystem := system.leaf(t, "ssm.test")
	byOther := other.leaf(t, "ssm.test")
	chain := func(c tls.Certificate) []*x509.Certificate {
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return []*x509.Certificate{leaf}
	}
	var fallbacks int
	countingSystem := func() (*x509.CertPool, error) { fallbacks++; return pools(system)() }
	withFallback := &trust{roots: pools(amazon), fallback: countingSystem, name: "built-in, then system"}
	bundleOnly := &trust{roots: pools(amazon), name: "AWS_CA_BUNDLE (x.pem)"}

	for _, tc := range []struct {
		name          string
		trust         *trust
		host          string
		cert          tls.Certificate
		ok            bool
		fallbacks     int
		hostnameError bool
	}{
		{"built-in root", withFallback, "ssm.test", byAmazon, true, 0, false},
		{"an IP address is verified too", withFallback, "127.0.0.1", byAmazon, true, 0, false},
		{"system root, after the built-in ones", withFallback, "ssm.test", bySystem, true, 1, false},
		{"unknown authority", withFallback, "ssm.test", byOther, false, 1, false},
		{"hostname mismatch: no fallback", withFallback, "other.test", byAmazon, false, 0, true},
		{"IP mismatch", withFallback, "127.0.0.2", byAmazon, false, 0, true},
		{"a bundle has no fallback", bundleOnly, "ssm.test", bySystem, false, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fallbacks = 0
			err := tc.trust.verify(tc.host, chain(tc.cert))
			if (err == nil) != tc.ok {
				t.Fatalf("verify: got %v; want ok %v", err, tc.ok)
			}
			if fallbacks != tc.fallbacks {
				t.Errorf("system pool consulted %d times; want %d", fallbacks, tc.fallbacks)
			}
			if tc.ok {
				return
			}
			var ce *certError
			if !errors.As(err, &ce) || ce.RetryableError() {
				t.Fatalf("verify: got %T %v; want a *certError that is not retryable", err, err)
			}
			var hostErr x509.HostnameError
			var authErr x509.UnknownAuthorityError
			if got := errors.As(err, &hostErr); got != tc.hostnameError {
				t.Errorf("hostname error: got %v; want %v (%v)", got, tc.hostnameError, err)
			}
			if got := errors.As(err, &authErr); got == tc.hostnameError {
				t.Errorf("unknown authority: got %v; want %v (%v)", got, !tc.hostnameError, err)
			}
			hints := strings.Join(ce.hints(), "\n")
			for _, want := range []string{tc.trust.name, "AWS_CA_BUNDLE", "SSL_CERT_FILE"} {
				if !strings.Contains(hints, want) {
					t.Errorf("hints %q; want them to name %q", hints, want)
				}
			}
			if got := strings.Contains(hints, "AWS_ENDPOINT_URL_SSM"); got != tc.hostnameError {
				t.Errorf("hints %q name AWS_ENDPOINT_URL_SSM: %v; want %v", hints, got, tc.hostnameError)
			}
		})
	}
	if err := withFallback.verify("ssm.test", nil); err == nil {
		t.Errorf("verify with no certificate: got nil; want an error")
	}
}

func TestChooseTrust(t *testing.T) {
	env := func(kv ...string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1], true
				}
			}
			return "", false
		}
	}
	bundle := newTestCA(t, "bundle").pool()
	for _, tc := range []struct {
		name     string
		bundle   *x509.CertPool
		env      func(string) (string, bool)
		store    string
		fallback bool
	}{
		{"default", nil, env(), "the Amazon Trust Services roots built into envinit, then the system trust store", true},
		{"empty variables are unset", nil, env("SSL_CERT_FILE", "", "SSL_CERT_DIR", ""), "Amazon Trust Services", true},
		{"SSL_CERT_FILE", nil, env("SSL_CERT_FILE", "/etc/ca.pem"), "the system trust store of SSL_CERT_FILE (/etc/ca.pem)", false},
		{"SSL_CERT_DIR", nil, env("SSL_CERT_DIR", "/etc/certs"), "SSL_CERT_DIR (/etc/certs)", false},
		{"AWS_CA_BUNDLE", bundle, env("AWS_CA_BUNDLE", "/x.pem", "SSL_CERT_FILE", "/y.pem"), "AWS_CA_BUNDLE (/x.pem)", false},
		{"ca_bundle in the profile", bundle, env(), "ca_bundle", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := chooseTrust(tc.bundle, tc.env)
			if !strings.Contains(got.name, tc.store) {
				t.Errorf("store: got %q; want %q", got.name, tc.store)
			}
			if (got.fallback != nil) != tc.fallback {
				t.Errorf("fallback: got %v; want %v", got.fallback != nil, tc.fallback)
			}
			if tc.bundle != nil {
				if p, _ := got.roots(); p != tc.bundle {
					t.Errorf("roots: not the bundle's pool")
				}
			}
		})
	}
}
