package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// machineBundle is the machine's CA bundle (Debian's ca-certificates), the
// trust store of realistic size the rig's clients use with SSL_CERT_FILE.
const machineBundle = "/etc/ssl/certs/ca-certificates.crt"

// rigHost is a name the rig's certificates hold that resolves nowhere: a
// client reaches it only through the CONNECT proxy, which knows where it
// is.
const rigHost = "ssm.envinit.test"

// testPKI is the rig's certificate authority, made by TestMain for this
// run, shaped as AWS's: a root, an intermediate, and server certificates,
// RSA 2048 all. The e2e build of envinit embeds the root in place of the
// Amazon roots (internal/fetch.testRoots), so that envinit's default trust
// path verifies the rig's endpoints.
type testPKI struct {
	rootPEM string
	// server is the rig's certificate (with the intermediate) for
	// 127.0.0.1, ::1, localhost, rigHost and this machine's name.
	server tls.Certificate
	// wrongHost is issued by the same CA for another name only.
	wrongHost tls.Certificate
	// untrusted is server's twin from a root nobody trusts.
	untrusted tls.Certificate
	// bundle is a file: the machine's CA bundle, then the root, for
	// SSL_CERT_FILE.
	bundle string
}

// pki is made once, in TestMain.
var pki *testPKI

// newTestPKI makes the rig's certificates and writes its files into dir.
func newTestPKI(dir string) (*testPKI, error) {
	hosts := []string{"127.0.0.1", "::1", "localhost", rigHost}
	if name, err := os.Hostname(); err == nil && name != "" {
		hosts = append(hosts, name)
	}
	ca, err := newIssuer()
	if err != nil {
		return nil, err
	}
	other, err := newIssuer()
	if err != nil {
		return nil, err
	}
	p := &testPKI{rootPEM: string(ca.rootPEM)}
	if p.server, err = ca.issue(hosts...); err != nil {
		return nil, err
	}
	if p.wrongHost, err = ca.issue("other." + rigHost); err != nil {
		return nil, err
	}
	if p.untrusted, err = other.issue(hosts...); err != nil {
		return nil, err
	}
	machine, err := os.ReadFile(machineBundle)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	p.bundle = filepath.Join(dir, "ca-bundle.pem")
	if err := os.WriteFile(p.bundle, append(machine, ca.rootPEM...), 0o644); err != nil {
		return nil, err
	}
	return p, nil
}

// issuer is a root and the intermediate that issues server certificates.
type issuer struct {
	rootPEM []byte
	mid     *x509.Certificate
	midKey  *rsa.PrivateKey
}

func newIssuer() (*issuer, error) {
	now := time.Now()
	rootKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{Organization: []string{"envinit e2e"}, CommonName: "envinit e2e root " + randHex(4)},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		return nil, err
	}
	root, err := x509.ParseCertificate(rootDER)
	if err != nil {
		return nil, err
	}
	midKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	midTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{Organization: []string{"envinit e2e"}, CommonName: "envinit e2e intermediate"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	midDER, err := x509.CreateCertificate(rand.Reader, midTmpl, root, &midKey.PublicKey, rootKey)
	if err != nil {
		return nil, err
	}
	mid, err := x509.ParseCertificate(midDER)
	if err != nil {
		return nil, err
	}
	return &issuer{rootPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER}), mid: mid, midKey: midKey}, nil
}

// issue makes a server certificate for hosts (names or IP addresses),
// with the intermediate after it.
func (ca *issuer) issue(hosts ...string) (tls.Certificate, error) {
	now := time.Now()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: hosts[len(hosts)-1]},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.mid, &key.PublicKey, ca.midKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.mid.Raw}, PrivateKey: key}, nil
}
