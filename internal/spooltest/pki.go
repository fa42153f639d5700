package spooltest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	cryptotls "crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// PKI is a certificate authority made by a test, and one certificate for
// localhost and 127.0.0.1 (server and client use) that every node of a
// test cluster can share, written as PEM files for Kafka's
// ssl.keystore.type=PEM / ssl.truststore.type=PEM.
type PKI struct {
	CAFile       string // the CA certificate (a PEM truststore)
	KeystoreFile string // the private key and its certificate (a PEM keystore)
	Pool         *x509.CertPool
	Cert         cryptotls.Certificate

	dir    string
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	serial int64
}

// NewPKI makes a CA and a leaf certificate valid for a day.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "spool-test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	must(err)
	ca, err := x509.ParseCertificate(caDER)
	must(err)
	p := &PKI{CAFile: filepath.Join(dir, "ca.pem"), KeystoreFile: filepath.Join(dir, "node.pem"), Pool: x509.NewCertPool(),
		dir: dir, ca: ca, caKey: caKey, serial: 1}
	p.Pool.AddCert(ca)
	must(os.WriteFile(p.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600))
	p.Cert, err = p.issue(p.KeystoreFile, "localhost")
	must(err)
	return p
}

// IssueKeystore writes another PEM keystore: a new key and a certificate
// for localhost and 127.0.0.1 from the same CA, with common name cn. It
// returns the file and the certificate.
func (p *PKI) IssueKeystore(t testing.TB, cn string) (string, *x509.Certificate) {
	t.Helper()
	p.serial++
	path := filepath.Join(p.dir, fmt.Sprintf("%s-%d.pem", cn, p.serial))
	c, err := p.issue(path, cn)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return path, leaf
}

func (p *PKI) issue(path, cn string) (cryptotls.Certificate, error) {
	ca, caKey := p.ca, p.caKey
	p.serial++
	serial := p.serial
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return cryptotls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn, Organization: []string{"Spool"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return cryptotls.Certificate{}, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return cryptotls.Certificate{}, err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(path, append(keyPEM, certPEM...), 0o600); err != nil {
		return cryptotls.Certificate{}, err
	}
	return cryptotls.X509KeyPair(certPEM, keyPEM)
}

// ClientTLS is a Go client TLS config that trusts the CA.
func (p *PKI) ClientTLS() *cryptotls.Config {
	return &cryptotls.Config{RootCAs: p.Pool, ServerName: "localhost", MinVersion: cryptotls.VersionTLS12}
}
