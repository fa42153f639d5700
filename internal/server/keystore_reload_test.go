package server

import (
	"context"
	cryptotls "crypto/tls"
	"fmt"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/internal/spooltest"
)

// TestKeystoreReload: IncrementalAlterConfigs of
// listener.name.ssl.ssl.keystore.location on the broker makes new TLS
// connections get the new certificate (Kafka's keystore reload); a
// connection opened before keeps working; a keystore that does not open
// is refused and the listener keeps serving the current one.
func TestKeystoreReload(t *testing.T) {
	pki := spooltest.NewPKI(t)
	ports := distinctPorts(t, 3)
	a := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", ports[i]) }
	n := &testNode{t: t, addr: a(0), env: []string{
		"KAFKA_NODE_ID=1", "KAFKA_PROCESS_ROLES=broker,controller",
		fmt.Sprintf("KAFKA_LISTENERS=PLAINTEXT://%s,SSL://%s,CONTROLLER://%s", a(0), a(1), a(2)),
		"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=PLAINTEXT:PLAINTEXT,SSL:SSL,CONTROLLER:PLAINTEXT",
		"KAFKA_INTER_BROKER_LISTENER_NAME=PLAINTEXT",
		"KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER",
		fmt.Sprintf("KAFKA_CONTROLLER_QUORUM_VOTERS=1@%s", a(2)),
		"KAFKA_LOG_DIRS=" + t.TempDir(),
		"KAFKA_SSL_KEYSTORE_TYPE=PEM", "KAFKA_SSL_KEYSTORE_LOCATION=" + pki.KeystoreFile,
	}}
	n.start()
	t.Cleanup(func() { n.stop() })

	serial := func() *big.Int {
		c, err := cryptotls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", a(1), pki.ClientTLS())
		require.NoError(t, err)
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber
	}
	first := serial()
	old, err := kgo.NewClient(kgo.SeedBrokers(a(1)), kgo.DialTLSConfig(pki.ClientTLS()), kgo.DefaultProduceTopic("reload"), kgo.AllowAutoTopicCreation())
	require.NoError(t, err)
	defer old.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, old.ProduceSync(ctx, &kgo.Record{Value: []byte("before")}).FirstErr())

	admin, err := kgo.NewClient(kgo.SeedBrokers(a(0)))
	require.NoError(t, err)
	defer admin.Close()
	alter := func(location string) {
		res, err := kadm.NewClient(admin).AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Name: "listener.name.ssl.ssl.keystore.location", Value: &location}}, 1)
		require.NoError(t, err)
		for _, r := range res {
			require.NoError(t, r.Err)
		}
	}
	// A keystore that does not open: refused by the broker, which keeps
	// serving the first certificate.
	alter("/nonexistent/keystore.pem")
	// The broker reloads before it stores the image that carries the
	// change: once the image has it, the attempt was made.
	require.Eventually(t, func() bool {
		return n.broker.image.Load().Config(controller.ResourceBroker, "1")["listener.name.ssl.ssl.keystore.location"] == "/nonexistent/keystore.pem"
	}, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, first, serial())

	next, leaf := pki.IssueKeystore(t, "localhost")
	alter(next)
	require.Eventually(t, func() bool { return serial().Cmp(leaf.SerialNumber) == 0 }, 10*time.Second, 20*time.Millisecond,
		"new connections get the new certificate")
	require.NotEqual(t, first, leaf.SerialNumber)
	require.NoError(t, old.ProduceSync(ctx, &kgo.Record{Value: []byte("after")}).FirstErr(), "the open connection keeps working")
}
