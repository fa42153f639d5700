package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/internal/node"
	"github.com/spool-broker/spool/internal/spooltest"
)

// testNode is a real Spool node on loopback ports, for integration tests.
type testNode struct {
	*node.Node
	broker *Broker // the node's broker role, for tests that look inside
	server *Server
	t      *testing.T
	addr   string   // client listener host:port
	env    []string // configuration, reused by restart
	closed bool
}

// freePort returns a port that was free a moment ago and that no earlier
// call in this test process returned (spooltest.FreePort).
func freePort(t testing.TB) int { return spooltest.FreePort(t) }

// startTestNode starts a single-node cluster in a temp dir. extra holds
// more KAFKA_* variables (KAFKA_NUM_PARTITIONS=3, ...).
func startTestNode(t *testing.T, extra ...string) *testNode {
	t.Helper()
	port, cport := freePort(t), freePort(t)
	env := append([]string{
		"KAFKA_NODE_ID=1",
		"KAFKA_PROCESS_ROLES=broker,controller",
		fmt.Sprintf("KAFKA_LISTENERS=PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d", port, cport),
		fmt.Sprintf("KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://127.0.0.1:%d", port),
		"KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER",
		"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
		fmt.Sprintf("KAFKA_CONTROLLER_QUORUM_VOTERS=1@127.0.0.1:%d", cport),
		"KAFKA_LOG_DIRS=" + t.TempDir(),
		"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS=0",
		// A single node serves the internal topics only with their
		// replication at 1, as Kafka's single-node examples set it.
		"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=1", "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR=1", "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR=1",
	}, extra...)
	n := &testNode{t: t, addr: fmt.Sprintf("127.0.0.1:%d", port), env: env}
	n.start()
	t.Cleanup(func() { n.stop() })
	return n
}

func (n *testNode) start() {
	n.t.Helper()
	cfg, _, err := config.Load("", n.env)
	require.NoError(n.t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nd, err := node.Start(ctx, cfg, nil, zaptest.NewLogger(n.t).Named(n.t.Name()), NewNodeBroker)
	require.NoError(n.t, err)
	nb := nd.Broker().(*nodeBroker)
	n.Node, n.broker, n.server, n.closed = nd, nb.b, nb.s, false
}

func (n *testNode) stop() {
	if n.closed {
		return
	}
	n.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(n.t, n.Close(ctx))
}

// restart stops the node cleanly and starts it again on the same dirs and ports.
func (n *testNode) restart() {
	n.t.Helper()
	n.stop()
	n.start()
}
