package server

import (
	"context"
	cryptotls "crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testPKI is a certificate authority and the stores a TLS test needs, made
// by the test with openssl and keytool the way Kafka's documentation shows
// ("Encryption and Authentication using SSL"): a JKS broker keystore whose
// key is signed by the CA, a JKS truststore holding the CA, and a client
// certificate (PEM for Go, librdkafka and Python; PKCS12 for Java).
type testPKI struct {
	dir        string
	password   string
	caPEM      string // CA certificate
	keystore   string // broker, JKS (CN=localhost, SAN localhost and 127.0.0.1)
	truststore string // CA, JKS
	clientCert string // CN=alice,OU=clients,O=Spool, PEM
	clientKey  string // PEM, unencrypted
	clientP12  string // the client certificate and key, PKCS12
	// rogueCert and rogueKey are a client certificate from another CA.
	rogueCert, rogueKey string
}

// makePKI runs openssl and keytool (a missing tool fails the test).
func makePKI(t *testing.T) *testPKI {
	t.Helper()
	openssl, keytool := tool(t, "openssl"), tool(t, "keytool")
	dir := t.TempDir()
	p := &testPKI{dir: dir, password: "store-secret"}
	f := func(name string) string { return filepath.Join(dir, name) }
	sh := func(name string, args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s %s\n%s", filepath.Base(name), strings.Join(args, " "), out)
	}
	pw := p.password
	require.NoError(t, os.WriteFile(f("san.cnf"), []byte("subjectAltName=DNS:localhost,IP:127.0.0.1\n"), 0o644))
	require.NoError(t, os.WriteFile(f("client.cnf"), []byte("extendedKeyUsage=clientAuth\n"), 0o644))

	// The CA.
	sh(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
		"-subj", "/CN=spool-test-ca")
	// The broker's key in a JKS keystore, signed by the CA.
	sh(keytool, "-genkeypair", "-keystore", "broker.jks", "-storetype", "JKS", "-storepass", pw, "-keypass", pw,
		"-alias", "broker", "-keyalg", "RSA", "-keysize", "2048", "-validity", "2", "-dname", "CN=localhost,OU=test,O=Spool",
		"-ext", "SAN=DNS:localhost,IP:127.0.0.1")
	sh(keytool, "-certreq", "-keystore", "broker.jks", "-storepass", pw, "-alias", "broker", "-file", "broker.csr")
	sh(openssl, "x509", "-req", "-CA", "ca.pem", "-CAkey", "ca.key", "-in", "broker.csr", "-out", "broker.pem", "-days", "2",
		"-CAcreateserial", "-extfile", "san.cnf")
	sh(keytool, "-importcert", "-keystore", "broker.jks", "-storepass", pw, "-alias", "CARoot", "-file", "ca.pem", "-noprompt")
	sh(keytool, "-importcert", "-keystore", "broker.jks", "-storepass", pw, "-keypass", pw, "-alias", "broker", "-file", "broker.pem", "-noprompt")
	// The truststore (brokers verify client certificates with it, Java
	// clients the broker's).
	sh(keytool, "-importcert", "-keystore", "truststore.jks", "-storetype", "JKS", "-storepass", pw, "-alias", "CARoot",
		"-file", "ca.pem", "-noprompt")
	// A client certificate signed by the CA.
	sh(openssl, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr",
		"-subj", "/O=Spool/OU=clients/CN=alice")
	sh(openssl, "x509", "-req", "-CA", "ca.pem", "-CAkey", "ca.key", "-in", "client.csr", "-out", "client.pem", "-days", "2",
		"-CAcreateserial", "-extfile", "client.cnf")
	sh(openssl, "pkcs12", "-export", "-in", "client.pem", "-inkey", "client.key", "-out", "client.p12", "-passout", "pass:"+pw,
		"-name", "client")
	// A self-signed client certificate no broker trusts.
	sh(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rogue.key", "-out", "rogue.pem", "-days", "2",
		"-subj", "/CN=mallory")

	p.caPEM, p.keystore, p.truststore = f("ca.pem"), f("broker.jks"), f("truststore.jks")
	p.clientCert, p.clientKey, p.clientP12 = f("client.pem"), f("client.key"), f("client.p12")
	p.rogueCert, p.rogueKey = f("rogue.pem"), f("rogue.key")
	return p
}

// clientTLS is a Go client TLS config trusting the CA, with the client
// certificate when cert is set.
func (p *testPKI) clientTLS(t *testing.T, cert bool) *cryptotls.Config {
	t.Helper()
	ca, err := os.ReadFile(p.caPEM)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(ca))
	c := &cryptotls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: cryptotls.VersionTLS12}
	if cert {
		kp, err := cryptotls.LoadX509KeyPair(p.clientCert, p.clientKey)
		require.NoError(t, err)
		c.Certificates = []cryptotls.Certificate{kp}
	}
	return c
}

// distinctPorts returns n ports that were free a moment ago, all different:
// they are held open together, so the kernel cannot hand one out twice.
func distinctPorts(t *testing.T, n int) []int {
	t.Helper()
	var out []int
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	return out
}

// secureNode is a node with a PLAINTEXT, a SASL_SSL (SCRAM-SHA-512,
// SCRAM-SHA-256 and PLAIN), an SSL (ssl.client.auth=required) and a
// SASL_PLAINTEXT listener.
type secureNode struct {
	*testNode
	plain, saslSSL, ssl, saslPlain string // host:port of each listener
}

// plainUsers are the PLAIN users of secureNode's SASL listeners.
// scramJAAS is the server JAAS entry every SCRAM listener needs, as in
// Kafka: users come from the metadata log.
const scramJAAS = `org.apache.kafka.common.security.scram.ScramLoginModule required;`

const plainUsersJAAS = `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret" user_bob="bob-secret";`

func startSecureNode(t *testing.T, p *testPKI, extra ...string) *secureNode {
	t.Helper()
	ports := distinctPorts(t, 5)
	a := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", ports[i]) }
	env := append([]string{
		"KAFKA_NODE_ID=1",
		"KAFKA_PROCESS_ROLES=broker,controller",
		fmt.Sprintf("KAFKA_LISTENERS=PLAINTEXT://%s,SASL_SSL://%s,SSL://%s,SASL_PLAINTEXT://%s,CONTROLLER://%s", a(0), a(1), a(2), a(3), a(4)),
		fmt.Sprintf("KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://%s,SASL_SSL://%s,SSL://%s,SASL_PLAINTEXT://%s", a(0), a(1), a(2), a(3)),
		"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
		"KAFKA_INTER_BROKER_LISTENER_NAME=PLAINTEXT",
		"KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER",
		fmt.Sprintf("KAFKA_CONTROLLER_QUORUM_VOTERS=1@%s", a(4)),
		"KAFKA_LOG_DIRS=" + t.TempDir(),
		"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS=0",
		// One broker: internal topics with one replica, as Kafka's single-node examples set them.
		"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=1", "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR=1", "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR=1",
		"KAFKA_SASL_ENABLED_MECHANISMS=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN",
		"KAFKA_LISTENER_NAME_SASL__SSL_PLAIN_SASL_JAAS_CONFIG=" + plainUsersJAAS,
		"KAFKA_LISTENER_NAME_SASL__PLAINTEXT_PLAIN_SASL_JAAS_CONFIG=" + plainUsersJAAS,
		"KAFKA_LISTENER_NAME_SASL__SSL_SCRAM___SHA___512_SASL_JAAS_CONFIG=" + scramJAAS,
		"KAFKA_LISTENER_NAME_SASL__SSL_SCRAM___SHA___256_SASL_JAAS_CONFIG=" + scramJAAS,
		"KAFKA_LISTENER_NAME_SASL__PLAINTEXT_SCRAM___SHA___512_SASL_JAAS_CONFIG=" + scramJAAS,
		"KAFKA_LISTENER_NAME_SASL__PLAINTEXT_SCRAM___SHA___256_SASL_JAAS_CONFIG=" + scramJAAS,
		"KAFKA_SSL_KEYSTORE_LOCATION=" + p.keystore,
		"KAFKA_SSL_KEYSTORE_PASSWORD=" + p.password,
		"KAFKA_SSL_KEY_PASSWORD=" + p.password,
		"KAFKA_SSL_TRUSTSTORE_LOCATION=" + p.truststore,
		"KAFKA_SSL_TRUSTSTORE_PASSWORD=" + p.password,
		"KAFKA_LISTENER_NAME_SSL_SSL_CLIENT_AUTH=required",
	}, extra...)
	n := &testNode{t: t, addr: a(0), env: env}
	n.start()
	t.Cleanup(func() { n.stop() })
	return &secureNode{testNode: n, plain: a(0), saslSSL: a(1), ssl: a(2), saslPlain: a(3)}
}
