package server

import (
	"context"
	"fmt"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// TestLoginThrottleAcrossConnections: with spool.login.failure.threshold=3
// three wrong PLAIN passwords from 127.0.0.1, each on its own connection,
// make the right password from 127.0.0.1 fail too, while 127.0.0.2 logs in
// with it.
func TestLoginThrottleAcrossConnections(t *testing.T) {
	ports := distinctPorts(t, 3)
	a := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", ports[i]) }
	n := &testNode{t: t, addr: a(0), env: []string{
		"KAFKA_NODE_ID=1", "KAFKA_PROCESS_ROLES=broker,controller",
		fmt.Sprintf("KAFKA_LISTENERS=PLAINTEXT://%s,SASL_PLAINTEXT://0.0.0.0:%d,CONTROLLER://%s", a(0), ports[1], a(2)),
		fmt.Sprintf("KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://%s,SASL_PLAINTEXT://%s", a(0), a(1)),
		"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
		"KAFKA_INTER_BROKER_LISTENER_NAME=PLAINTEXT",
		"KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER",
		fmt.Sprintf("KAFKA_CONTROLLER_QUORUM_VOTERS=1@%s", a(2)),
		"KAFKA_LOG_DIRS=" + t.TempDir(),
		"KAFKA_SASL_ENABLED_MECHANISMS=PLAIN",
		"KAFKA_LISTENER_NAME_SASL__PLAINTEXT_PLAIN_SASL_JAAS_CONFIG=" + plainUsersJAAS,
		"KAFKA_CONNECTION_FAILED_AUTHENTICATION_DELAY_MS=0",
		"KAFKA_SPOOL_LOGIN_FAILURE_THRESHOLD=3",
		"KAFKA_SPOOL_LOGIN_BLOCK_MS=600000",
	}}
	n.start()
	t.Cleanup(func() { n.stop() })
	from := func(ip, pass string) error {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		return metadataOnce(t, kgo.SeedBrokers(fmt.Sprintf("%s:%d", ip, ports[1])),
			kgo.Dialer(func(ctx context.Context, network, host string) (net.Conn, error) {
				return d.DialContext(ctx, network, host)
			}),
			kgo.SASL(plain.Auth{User: "alice", Pass: pass}.AsMechanism()))
	}
	require.NoError(t, from("127.0.0.1", "alice-secret"), "not blocked yet")
	for range 3 {
		require.ErrorContains(t, from("127.0.0.1", "guess"), "SASL_AUTHENTICATION_FAILED")
	}
	require.ErrorContains(t, from("127.0.0.1", "alice-secret"), "SASL_AUTHENTICATION_FAILED", "127.0.0.1 is blocked")
	require.NoError(t, from("127.0.0.2", "alice-secret"), "another address is not")
}
