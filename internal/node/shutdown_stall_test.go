package node_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestControlledShutdownStall measures what a controlled shutdown costs
// producers: three combined nodes, a franz-go producer (acks=all,
// idempotent, 6 partitions, replication factor 3, min.insync.replicas 2),
// and each node in turn stopped with SIGTERM. The stall is the longest gap
// between two acknowledgements of one partition from just before the
// SIGTERM (100 ms before it) until 300 more records are acknowledged with the node gone; the
// restart and the node's return to the ISRs are outside it. The target is
// 0.5 s (issue 12); the assertion only catches a produce stuck on a
// departed replica, since the machine may be loaded.
func TestControlledShutdownStall(t *testing.T) {
	c := newProcCluster(t, []procSpec{{1, "broker,controller"}, {2, "broker,controller"}, {3, "broker,controller"}},
		"KAFKA_MIN_INSYNC_REPLICAS=2", "KAFKA_AUTO_LEADER_REBALANCE_ENABLE=false")
	c.startAll()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	adm := c.admin()
	const topic, partitions = "stall", 6
	c.createTopic(ctx, adm, topic, partitions)

	acks, stop := produceFranz(t, ctx, c.seeds(), topic, partitions)
	defer stop()
	acks.waitCount(t, 300, 60*time.Second, "before the shutdowns")
	for _, id := range c.brokers() {
		p := c.procs[id]
		n := acks.count()
		term := time.Now()
		p.signal(t, syscall.SIGTERM) // waits for the exit
		exited := time.Since(term)
		acks.waitCount(t, n+300, 60*time.Second, fmt.Sprintf("while node %d is down", id))
		gap, on := acks.maxGap(term.Add(-100*time.Millisecond), time.Now())
		t.Logf("node %d: exited %v after SIGTERM; longest producer stall %v (partition %d)", id, exited, gap, on)
		require.Less(t, gap, 10*time.Second, "producer stall while node %d shut down", id)
		p.start(t, c.bin)
		c.waitInSync(ctx, adm, topic, partitions, c.brokers(), 90*time.Second)
		acks.waitCount(t, acks.count()+100, 60*time.Second, fmt.Sprintf("after node %d is back", id))
	}
}

// TestLeaderKillFailover measures failover after SIGKILL of a partition
// leader that is not the active controller (three combined nodes, the
// producer of TestControlledShutdownStall): the longest gap between two
// acknowledgements of one partition from the kill until 300 more records
// are acknowledged. Nothing tells the controller of a crash before the
// broker's session expires (broker.session.timeout.ms), so the failover is
// that timeout plus the election and the clients' move; the subtests use
// Kafka's defaults (heartbeat 2 s, session 9 s) and a short session.
func TestLeaderKillFailover(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		heartbeatMs, session int
	}{
		{"kafka defaults", 2000, 9000},
		{"short session", 250, 1500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newProcCluster(t, []procSpec{{1, "broker,controller"}, {2, "broker,controller"}, {3, "broker,controller"}},
				"KAFKA_MIN_INSYNC_REPLICAS=2", "KAFKA_AUTO_LEADER_REBALANCE_ENABLE=false",
				fmt.Sprintf("KAFKA_BROKER_HEARTBEAT_INTERVAL_MS=%d", tc.heartbeatMs),
				fmt.Sprintf("KAFKA_BROKER_SESSION_TIMEOUT_MS=%d", tc.session))
			c.startAll()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			adm := c.admin()
			const topic, partitions = "failover", 6
			c.createTopic(ctx, adm, topic, partitions)
			acks, stop := produceFranz(t, ctx, c.seeds(), topic, partitions)
			defer stop()
			acks.waitCount(t, 300, 60*time.Second, "before the kill")

			active := int32(-1)
			require.Eventually(t, func() bool {
				for _, id := range c.brokers() {
					if l, err := describeQuorum(net.JoinHostPort(c.procs[id].host, strconv.Itoa(c.ctrlPort))); err == nil && l >= 0 {
						active = l
						return true
					}
				}
				return false
			}, 30*time.Second, 20*time.Millisecond, "no active controller")
			victim := int32(1)
			if victim == active {
				victim = 2
			}
			n := acks.count()
			killed := time.Now()
			c.procs[victim].signal(t, syscall.SIGKILL)
			acks.waitCount(t, n+300, 90*time.Second, "after the kill")
			gap, on := acks.maxGap(killed.Add(-100*time.Millisecond), time.Now())
			t.Logf("SIGKILL node %d (active controller %d), heartbeat %d ms, session %d ms: failover %v (partition %d)",
				victim, active, tc.heartbeatMs, tc.session, gap, on)
			require.Less(t, gap, time.Duration(tc.session)*time.Millisecond+20*time.Second)
		})
	}
}
