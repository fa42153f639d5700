package tls

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Certificates for tests, made two ways: with crypto/x509, and with
// openssl and keytool as Kafka's documentation shows (security_ssl).

type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func newTestCA(t *testing.T, cn string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &testCA{cert: c, key: key}
}

type leafOpts struct {
	subject    pkix.Name
	rawSubject []byte
	dns        []string
	ips        []net.IP
}

func (ca *testCA) issue(t *testing.T, o leafOpts) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      o.subject,
		RawSubject:   o.rawSubject,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     o.dns,
		IPAddresses:  o.ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return c, key
}

func certPEM(certs ...*x509.Certificate) string {
	var sb strings.Builder
	for _, c := range certs {
		sb.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	return sb.String()
}

func keyPEM(t *testing.T, key crypto.Signer) string {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

// sh runs a tool, failing the test when it is missing or fails.
func sh(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	require.NoError(t, err, "%s is not installed: the TLS tests need a JDK (keytool) and openssl (make test-deps)", name)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
	return string(out)
}

// kafkaDocsStores makes, in dir, what Kafka's documentation walks through:
// a CA with openssl; for the broker and a client, a keytool key pair, a
// certificate request, the CA's signature with openssl x509 -req, and both
// the CA and the signed certificate imported back with keytool; and
// truststores holding the CA. storetype is JKS or PKCS12.
type docStores struct {
	dir                                        string
	caCert                                     string // PEM file
	serverKeystore, clientKeystore, truststore string
	storePass, keyPass                         string
}

// storesDir holds the stores made once per test binary: keytool starts a
// JVM per step, so every test shares them (they are read-only).
var (
	storesDir   string
	storesMu    sync.Mutex
	storesCache = map[string]docStores{}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "spool-tls-test-")
	if err != nil {
		panic(err)
	}
	storesDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func kafkaDocsStores(t *testing.T, storetype string) docStores {
	t.Helper()
	storesMu.Lock()
	defer storesMu.Unlock()
	if s, ok := storesCache[storetype]; ok {
		return s
	}
	dir := filepath.Join(storesDir, storetype)
	require.NoError(t, os.MkdirAll(dir, 0o700))
	s := makeKafkaDocsStores(t, dir, storetype)
	storesCache[storetype] = s
	return s
}

func makeKafkaDocsStores(t *testing.T, dir, storetype string) docStores {
	t.Helper()
	ext := strings.ToLower(storetype)
	s := docStores{dir: dir, caCert: filepath.Join(dir, "ca-cert"), storePass: "store-secret", keyPass: "store-secret",
		serverKeystore: filepath.Join(dir, "server.keystore."+ext), clientKeystore: filepath.Join(dir, "client.keystore."+ext),
		truststore: filepath.Join(dir, "client.truststore."+ext)}
	if storetype == "JKS" {
		s.keyPass = "key-secret" // JKS keeps a separate key password; PKCS12 cannot
	}
	sh(t, dir, "openssl", "req", "-new", "-x509", "-keyout", "ca-key", "-out", "ca-cert", "-days", "2",
		"-subj", "/CN=Spool Test CA", "-passout", "pass:ca-secret")
	for _, who := range []struct{ store, alias, dname, san string }{
		{s.serverKeystore, "localhost", "CN=localhost,OU=Eng,O=Acme\\, Inc.,C=US", "SAN=DNS:localhost,IP:127.0.0.1"},
		{s.clientKeystore, "client", "CN=client,OU=eng,O=Acme,C=US", "SAN=DNS:client"},
	} {
		sh(t, dir, "keytool", "-keystore", who.store, "-storetype", storetype, "-alias", who.alias, "-validity", "2",
			"-genkeypair", "-keyalg", "RSA", "-keysize", "2048", "-dname", who.dname, "-ext", who.san,
			"-storepass", s.storePass, "-keypass", s.keyPass)
		sh(t, dir, "keytool", "-keystore", who.store, "-storetype", storetype, "-alias", who.alias, "-certreq",
			"-file", who.alias+".csr", "-ext", who.san, "-storepass", s.storePass, "-keypass", s.keyPass)
		sh(t, dir, "openssl", "x509", "-req", "-CA", "ca-cert", "-CAkey", "ca-key", "-in", who.alias+".csr",
			"-out", who.alias+"-signed", "-days", "2", "-CAcreateserial", "-passin", "pass:ca-secret", "-copy_extensions", "copyall")
		sh(t, dir, "keytool", "-keystore", who.store, "-storetype", storetype, "-alias", "CARoot", "-importcert",
			"-file", "ca-cert", "-storepass", s.storePass, "-noprompt")
		sh(t, dir, "keytool", "-keystore", who.store, "-storetype", storetype, "-alias", who.alias, "-importcert",
			"-file", who.alias+"-signed", "-storepass", s.storePass, "-keypass", s.keyPass, "-noprompt")
	}
	sh(t, dir, "keytool", "-keystore", s.truststore, "-storetype", storetype, "-alias", "CARoot", "-importcert",
		"-file", "ca-cert", "-storepass", s.storePass, "-noprompt")
	return s
}
