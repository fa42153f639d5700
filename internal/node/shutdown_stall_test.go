package node_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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
// leader (three combined nodes, the producer of
// TestControlledShutdownStall): the longest gap between two
// acknowledgements of one partition from the kill until 300 more records
// are acknowledged. With spool.broker.fast.fencing.enable (the default)
// the active controller sees the victim's heartbeat connection reset,
// finds its listeners refusing connections and fences it at once
// (controller/liveness.go); when the victim was the active controller
// too, the new one finds it gone when it takes over. So the failover does
// not wait for broker.session.timeout.ms; with the property off the broker
// is fenced when its session expires, as in Kafka. The test reports the
// time and asserts which rule fenced the broker, not how long it took (the
// machine may be loaded): run with -v to read the numbers.
func TestLeaderKillFailover(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		heartbeatMs, session int
		fastFencing          bool
		// killController: the victim is the active controller too, so
		// the new active controller finds it gone when it takes over.
		killController bool
	}{
		{"kafka defaults", 2000, 9000, true, false},
		{"short session", 250, 1500, true, false},
		{"active controller", 2000, 9000, true, true},
		{"fast fencing off", 2000, 9000, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newProcCluster(t, []procSpec{{1, "broker,controller"}, {2, "broker,controller"}, {3, "broker,controller"}},
				"KAFKA_MIN_INSYNC_REPLICAS=2", "KAFKA_AUTO_LEADER_REBALANCE_ENABLE=false",
				fmt.Sprintf("KAFKA_BROKER_HEARTBEAT_INTERVAL_MS=%d", tc.heartbeatMs),
				fmt.Sprintf("KAFKA_BROKER_SESSION_TIMEOUT_MS=%d", tc.session),
				fmt.Sprintf("KAFKA_SPOOL_BROKER_FAST_FENCING_ENABLE=%t", tc.fastFencing))
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
			if tc.killController {
				victim = active
			}
			n := acks.count()
			killed := time.Now()
			c.procs[victim].signal(t, syscall.SIGKILL)
			acks.waitCount(t, n+300, 90*time.Second, "after the kill")
			gap, on := acks.maxGap(killed.Add(-100*time.Millisecond), time.Now())
			t.Logf("SIGKILL node %d (active controller %d), heartbeat %d ms, session %d ms, fast fencing %t: failover %v (partition %d)",
				victim, active, tc.heartbeatMs, tc.session, tc.fastFencing, gap, on)
			if tc.killController {
				require.Eventually(t, func() bool {
					for _, id := range c.brokers() {
						if id == victim {
							continue
						}
						if l, err := describeQuorum(net.JoinHostPort(c.procs[id].host, strconv.Itoa(c.ctrlPort))); err == nil && l >= 0 && l != victim {
							active = l
							return true
						}
					}
					return false
				}, 30*time.Second, 20*time.Millisecond, "no new active controller")
				t.Logf("node %d is the new active controller", active)
			}
			// Which rule fenced the victim, from the active controller's log.
			fast := "fencing broker because its heartbeat connection was closed and no process listens on its listeners"
			if tc.killController {
				fast = "fencing broker because no process listens on its listeners (checked when this controller became active)"
			}
			expired := "fencing broker because its session has timed out"
			want, not := fast, expired
			if !tc.fastFencing {
				want, not = expired, fast
			}
			if !assert.Eventually(t, func() bool { return c.procs[active].logged(want, victim) }, 30*time.Second, 50*time.Millisecond,
				"node %d's log never says %q of broker %d", active, want, victim) {
				b, _ := os.ReadFile(c.procs[active].log)
				for _, line := range strings.Split(string(b), "\n") {
					if strings.Contains(line, "fenc") || strings.Contains(line, "ISR") || strings.Contains(line, "elect") {
						t.Log(line)
					}
				}
				t.FailNow()
			}
			require.False(t, c.procs[active].logged(not, victim), "node %d's log says %q of broker %d", active, not, victim)
		})
	}
}

// logged reports whether p's log has a line with message msg about broker
// id (its broker_id field).
func (p *spoolProcess) logged(msg string, id int32) bool {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, `"msg":"`+msg+`"`) && strings.Contains(line, fmt.Sprintf(`"broker_id":%d,`, id)) {
			return true
		}
	}
	return false
}
