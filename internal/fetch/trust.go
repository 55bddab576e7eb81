package fetch

import (
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// amazonRootsPEM holds the Amazon Trust Services roots (Amazon Root CA 1
// to 4, Starfield Services Root CA G2): every AWS service endpoint's
// certificate chains to one of them. Five roots instead of a system bundle
// of 150 parse in a fraction of the time (the bundle is most of a start's
// CPU over HTTPS), and need no bundle on disk: envinit runs in a scratch
// image, or in an app image an init container copied it into.
//
//go:embed amazon-roots.pem
var amazonRootsPEM []byte

// testRoots, when set, replaces amazonRootsPEM: the e2e tests' build sets
// it, and only it, with
//
//	-ldflags "-X 'github.com/envinit/envinit/internal/fetch.testRoots=PEM'"
//
// so that the default trust path runs against the CA the tests generate.
// The shipped build never sets it.
var testRoots string

// embeddedRoots is the pool of amazonRootsPEM (or testRoots), parsed once.
var embeddedRoots = sync.OnceValues(func() (*x509.CertPool, error) {
	pem := amazonRootsPEM
	if testRoots != "" {
		pem = []byte(testRoots)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("no certificate in envinit's built-in roots")
	}
	return pool, nil
})

// systemRoots is the system's pool, as Go loads it (SSL_CERT_FILE,
// SSL_CERT_DIR, or the usual bundle and directories), loaded once.
var systemRoots = sync.OnceValues(x509.SystemCertPool)

// trust is how envinit verifies the certificates of the connections it
// opens to AWS (connector.go), chosen as the SDK and Go would choose, with
// one difference:
//
//   - AWS_CA_BUNDLE (or ca_bundle in the profile): its roots only, as
//     the SDK uses it.
//   - SSL_CERT_FILE or SSL_CERT_DIR: the system pool they make, as Go
//     loads it.
//   - neither (the default): the Amazon roots built in, and if a
//     certificate does not verify against them, the system pool. A
//     TLS-intercepting proxy whose CA is in the system bundle keeps
//     working; AWS's own endpoints never need the bundle.
//
// The host name is verified whichever pool a chain ends in.
type trust struct {
	roots    func() (*x509.CertPool, error) // tried first
	fallback func() (*x509.CertPool, error) // then this one (the system's), if set
	name     string                         // the store, for errors
}

// chooseTrust picks the trust store. bundle is the pool the SDK made of
// AWS_CA_BUNDLE, nil if there is none; lookup reads the environment.
func chooseTrust(bundle *x509.CertPool, lookup func(string) (string, bool)) *trust {
	if bundle != nil {
		name := "the CA bundle of the AWS profile (ca_bundle)"
		if path, ok := lookup("AWS_CA_BUNDLE"); ok && path != "" {
			name = "AWS_CA_BUNDLE (" + path + ")"
		}
		return &trust{roots: func() (*x509.CertPool, error) { return bundle, nil }, name: name}
	}
	var set []string
	for _, v := range []string{"SSL_CERT_FILE", "SSL_CERT_DIR"} {
		if path, ok := lookup(v); ok && path != "" {
			set = append(set, v+" ("+path+")")
		}
	}
	if len(set) > 0 {
		return &trust{roots: systemRoots, name: "the system trust store of " + strings.Join(set, " and ")}
	}
	return &trust{
		roots:    embeddedRoots,
		fallback: systemRoots,
		name:     "the Amazon Trust Services roots built into envinit, then the system trust store",
	}
}

// warm starts loading the pool tried first, when it is the system's: a
// bundle of 150 roots takes milliseconds to parse, better spent while the
// credentials and the first connection are on their way than after the
// first handshake.
func (t *trust) warm() {
	if t.fallback == nil {
		go t.roots()
	}
}

// config is the TLS configuration of one connection to host. The handshake
// itself checks nothing (InsecureSkipVerify): VerifyConnection verifies
// the chain and the host name, as crypto/tls would, against t's pools.
func (t *trust) config(host string) *tls.Config {
	return &tls.Config{
		ServerName:         host,
		NextProtos:         []string{"h2", "http/1.1"},
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true,
		VerifyConnection:   func(cs tls.ConnectionState) error { return t.verify(host, cs.PeerCertificates) },
	}
}

// verify checks that certs (leaf first) chain to one of t's roots and are
// for host. host is the name the connection was opened to: crypto/tls
// reports no server name for an IP address, which must be verified too.
func (t *trust) verify(host string, certs []*x509.Certificate) error {
	if len(certs) == 0 {
		return &certError{host: host, store: t.name, err: errors.New("the server sent no certificate")}
	}
	opts := x509.VerifyOptions{DNSName: host, Intermediates: x509.NewCertPool()}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	roots, err := t.roots()
	if err == nil {
		opts.Roots = roots
		if _, err = certs[0].Verify(opts); err == nil {
			return nil
		}
	}
	var hostErr x509.HostnameError
	if t.fallback != nil && !errors.As(err, &hostErr) {
		if sys, serr := t.fallback(); serr == nil {
			opts.Roots = sys
			if _, serr = certs[0].Verify(opts); serr == nil {
				return nil
			}
		}
	}
	return &certError{host: host, store: t.name, err: err}
}

// certError is a certificate that did not verify. Waiting cannot fix it:
// it is not retried (RetryableError), and the run fails at once.
type certError struct {
	host, store string
	err         error
}

func (e *certError) Error() string {
	return fmt.Sprintf("the certificate of %s does not verify against %s: %v", e.host, e.store, e.err)
}

func (e *certError) Unwrap() error        { return e.err }
func (e *certError) RetryableError() bool { return false }

// hints say what fixes e, for an operator.
func (e *certError) hints() []string {
	hints := []string{"envinit verified it against " + e.store}
	var hostErr x509.HostnameError
	if errors.As(e.err, &hostErr) {
		hints = append(hints, "the certificate is not for "+e.host+
			": check AWS_ENDPOINT_URL_SSM, AWS_ENDPOINT_URL and AWS_REGION")
	}
	hints = append(hints, "behind a TLS-intercepting proxy, or for an endpoint with a private CA, set AWS_CA_BUNDLE "+
		"(AWS only) or SSL_CERT_FILE to a PEM bundle that holds its CA")
	return hints
}
