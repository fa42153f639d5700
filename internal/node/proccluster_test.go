package node_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spool-broker/spool/internal/spooltest"
)

// procSpec is one node of a process cluster: its id (it listens on
// 127.0.0.<id>) and process.roles.
type procSpec struct {
	id    int32
	roles string
}

// procCluster is a cluster of `spool serve` processes, each node on its
// own loopback address with the same ports (as containers would have),
// configured with the apache/kafka image's KAFKA_* variables. Liveness
// timeouts are short (heartbeats every 200 ms, sessions of 2 s) so fencing
// tests are quick; replication settings are Kafka's defaults.
type procCluster struct {
	t          *testing.T
	bin        string
	clientPort int
	ctrlPort   int // every controller's CONTROLLER listener port
	procs      map[int32]*spoolProcess
	specs      []procSpec
}

func (s procSpec) broker() bool     { return strings.Contains(s.roles, "broker") }
func (s procSpec) controller() bool { return strings.Contains(s.roles, "controller") }

func newProcCluster(t *testing.T, specs []procSpec, extraEnv ...string) *procCluster {
	t.Helper()
	var hosts []string
	for _, s := range specs {
		hosts = append(hosts, fmt.Sprintf("127.0.0.%d", s.id))
	}
	c := &procCluster{t: t, bin: spooltest.Build(t), clientPort: commonPort(t, hosts), procs: map[int32]*spoolProcess{}, specs: specs}
	controllerPort := commonPort(t, hosts)
	c.ctrlPort = controllerPort
	var voters []string
	for _, s := range specs {
		if s.controller() {
			voters = append(voters, fmt.Sprintf("%d@127.0.0.%d:%d", s.id, s.id, controllerPort))
		}
	}
	logDir := t.TempDir()
	for _, s := range specs {
		h := fmt.Sprintf("127.0.0.%d", s.id)
		var listeners []string
		env := []string{
			fmt.Sprintf("KAFKA_NODE_ID=%d", s.id),
			"KAFKA_PROCESS_ROLES=" + s.roles,
			"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
			"KAFKA_CONTROLLER_QUORUM_VOTERS=" + strings.Join(voters, ","),
			"KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER",
			"CLUSTER_ID=Rp1Kk3lLQ8yE7vS0a1b2cQ",
			"KAFKA_LOG_DIRS=" + t.TempDir(),
			"KAFKA_BROKER_HEARTBEAT_INTERVAL_MS=200",
			"KAFKA_BROKER_SESSION_TIMEOUT_MS=2000",
			"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS=0",
		}
		if s.broker() {
			listeners = append(listeners, fmt.Sprintf("PLAINTEXT://%s:%d", h, c.clientPort))
			env = append(env, "KAFKA_INTER_BROKER_LISTENER_NAME=PLAINTEXT",
				fmt.Sprintf("KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://%s:%d", h, c.clientPort))
		}
		if s.controller() {
			listeners = append(listeners, fmt.Sprintf("CONTROLLER://%s:%d", h, controllerPort))
		}
		env = append(env, "KAFKA_LISTENERS="+strings.Join(listeners, ","))
		c.procs[s.id] = &spoolProcess{id: s.id, host: h, log: filepath.Join(logDir, fmt.Sprintf("node%d.log", s.id)), env: append(env, extraEnv...)}
	}
	t.Cleanup(func() {
		for _, p := range c.procs {
			if p.cmd != nil {
				_ = p.cmd.Process.Signal(syscall.SIGCONT) // a paused process cannot die otherwise
				_ = p.cmd.Process.Kill()
				_ = p.cmd.Wait()
			}
		}
		if t.Failed() {
			for _, s := range c.specs {
				b, _ := os.ReadFile(c.procs[s.id].log)
				t.Logf("node %d log:\n%s", s.id, lastLines(string(b), 80))
			}
		}
	})
	return c
}

// startAll starts every node and waits until every broker lists every
// broker as live.
func (c *procCluster) startAll() {
	c.t.Helper()
	for _, s := range c.specs {
		c.procs[s.id].start(c.t, c.bin)
	}
	c.waitLiveBrokers(len(c.brokers()))
}

func (c *procCluster) brokers() []int32 {
	var ids []int32
	for _, s := range c.specs {
		if s.broker() {
			ids = append(ids, s.id)
		}
	}
	return ids
}

func (c *procCluster) addr(id int32) string {
	return net.JoinHostPort(c.procs[id].host, strconv.Itoa(c.clientPort))
}

func (c *procCluster) seeds() []string {
	var out []string
	for _, id := range c.brokers() {
		out = append(out, c.addr(id))
	}
	return out
}

// waitLiveBrokers waits until every running broker lists want live brokers
// (asked directly, so no client-side metadata cache is involved).
func (c *procCluster) waitLiveBrokers(want int) {
	c.t.Helper()
	require.Eventually(c.t, func() bool {
		for _, id := range c.brokers() {
			if c.procs[id].cmd == nil {
				continue
			}
			if ids, err := brokerIDs(c.addr(id)); err != nil || len(ids) != want {
				return false
			}
		}
		return true
	}, 60*time.Second, 100*time.Millisecond, "%d live brokers", want)
}

// admin is an admin client whose metadata is never more than 10 ms old:
// kadm answers Metadata (describe, waitInSync) from kgo's cache, which by
// default may be MetadataMinAge (5 s) old, so a wait for an ISR would pass
// on the ISR of before a shutdown and the next step would stop a second
// node while the first was still away.
func (c *procCluster) admin() *kadm.Client {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...), kgo.MetadataMinAge(10*time.Millisecond))
	require.NoError(c.t, err)
	c.t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// createTopic creates a topic with replication factor 3 and
// min.insync.replicas=2 and waits until every partition has all three
// brokers in its ISR.
func (c *procCluster) createTopic(ctx context.Context, adm *kadm.Client, topic string, partitions int32) {
	c.t.Helper()
	created, err := adm.CreateTopic(ctx, partitions, 3, map[string]*string{"min.insync.replicas": kadm.StringPtr("2")}, topic)
	require.NoError(c.t, err)
	require.NoError(c.t, created.Err)
	c.waitInSync(ctx, adm, topic, partitions, c.brokers(), 60*time.Second)
}

// partState is a partition's leader and sorted ISR as the cluster reports
// them.
type partState struct {
	leader int32
	epoch  int32
	isr    []int32
}

// describe asks the cluster (a fresh metadata request) for every partition
// of topic; nil when it cannot answer.
func describe(ctx context.Context, adm *kadm.Client, topic string) map[int32]partState {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		return nil
	}
	out := map[int32]partState{}
	for _, p := range md.Topics[topic].Partitions {
		isr := slices.Clone(p.ISR)
		slices.Sort(isr)
		out[p.Partition] = partState{leader: p.Leader, epoch: p.LeaderEpoch, isr: isr}
	}
	return out
}

// waitInSync waits until every partition of topic has a leader and
// exactly want (sorted) as its ISR.
func (c *procCluster) waitInSync(ctx context.Context, adm *kadm.Client, topic string, partitions int32, want []int32, timeout time.Duration) {
	c.t.Helper()
	want = slices.Sorted(slices.Values(want))
	require.Eventually(c.t, func() bool {
		st := describe(ctx, adm, topic)
		if len(st) != int(partitions) {
			return false
		}
		for _, s := range st {
			if s.leader < 0 || !slices.Equal(s.isr, want) {
				return false
			}
		}
		return true
	}, timeout, 100*time.Millisecond, "every partition of %s has ISR %v", topic, want)
}

// ackLog collects what a producer got acknowledged.
type ackLog struct {
	mu     sync.Mutex
	acked  []ackedRecord
	failed []error
}

func (a *ackLog) add(r ackedRecord) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.acked = append(a.acked, r)
}

func (a *ackLog) fail(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failed = append(a.failed, err)
}

func (a *ackLog) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.acked)
}

func (a *ackLog) snapshot() ([]ackedRecord, []error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.acked), slices.Clone(a.failed)
}

// waitCount waits until n records are acknowledged.
func (a *ackLog) waitCount(t *testing.T, n int, timeout time.Duration, what string) {
	t.Helper()
	require.Eventually(t, func() bool { return a.count() >= n }, timeout, 10*time.Millisecond, "%s: %d of %d acknowledged", what, a.count(), n)
}

// maxGap is the longest time between consecutive acknowledgements of one
// partition among those at or after from and before to, and the partition
// it was on.
func (a *ackLog) maxGap(from, to time.Time) (time.Duration, int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	last := map[int32]time.Time{}
	var gap time.Duration
	var on int32 = -1
	for _, r := range a.acked {
		if r.at.Before(from) || !r.at.Before(to) {
			continue
		}
		if l, ok := last[r.partition]; ok && r.at.Sub(l) > gap {
			gap, on = r.at.Sub(l), r.partition
		}
		last[r.partition] = r.at
	}
	return gap, on
}

// produceFranz produces with franz-go (acks=all, idempotent) one record
// every 2 ms, round robin over the partitions, until the returned stop is
// called; stop waits for every outstanding record.
func produceFranz(t *testing.T, ctx context.Context, seeds []string, topic string, partitions int) (*ackLog, func()) {
	t.Helper()
	producer, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0), kgo.RecordDeliveryTimeout(90*time.Second))
	require.NoError(t, err)
	log := &ackLog{}
	stopCh := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		defer wg.Wait()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stopCh:
				return
			case <-tick.C:
			}
			r := &kgo.Record{Partition: int32(i % partitions), Value: []byte(fmt.Sprintf("v%07d", i))}
			wg.Add(1)
			producer.Produce(ctx, r, func(r *kgo.Record, err error) {
				defer wg.Done()
				if err != nil {
					log.fail(err)
					return
				}
				log.add(ackedRecord{r.Partition, r.Offset, string(r.Value), time.Now()})
			})
		}
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			close(stopCh)
			<-done
			producer.Close()
		})
	}
	t.Cleanup(stop)
	return log, stop
}

// readAll reads every partition of topic from the start to its current
// end offset.
func readAll(t *testing.T, ctx context.Context, seeds []string, adm *kadm.Client, topic string, partitions int32) map[int32][]ackedRecord {
	t.Helper()
	// Right after a restart leaderships may still be moving (the preferred
	// leader takes its partitions back): a NOT_LEADER answer is retried
	// with fresh metadata, as a client does.
	var ends kadm.ListedOffsets
	require.Eventually(t, func() bool {
		var err error
		ends, err = adm.ListEndOffsets(ctx, topic)
		return err == nil && ends.Error() == nil
	}, 30*time.Second, 50*time.Millisecond, "the end offsets of %s", topic)
	offsets := map[int32]kgo.Offset{}
	for p := range partitions {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	consumer, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	require.NoError(t, err)
	defer consumer.Close()
	logs := map[int32][]ackedRecord{}
	done := func() bool {
		for p := range partitions {
			e, _ := ends.Lookup(topic, p)
			if int64(len(logs[p])) < e.Offset {
				return false
			}
		}
		return true
	}
	rctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for !done() {
		fs := consumer.PollFetches(rctx)
		require.NoError(t, rctx.Err(), "reading %s back", topic)
		fs.EachRecord(func(r *kgo.Record) {
			logs[r.Partition] = append(logs[r.Partition], ackedRecord{partition: r.Partition, offset: r.Offset, value: string(r.Value)})
		})
	}
	return logs
}

// verifyAcked checks the logs against what was acknowledged: no gaps, no
// record twice, every acknowledged record at the offset it was
// acknowledged with, and values increasing with offsets in each partition
// (less reports whether one value was sent before another).
func verifyAcked(t *testing.T, logs map[int32][]ackedRecord, acked []ackedRecord, less func(a, b string) bool) {
	t.Helper()
	seen := map[string]int{}
	for p, recs := range logs {
		for i, r := range recs {
			require.Equal(t, int64(i), r.offset, "partition %d has a gap", p)
			seen[r.value]++
			if i > 0 {
				require.True(t, less(recs[i-1].value, r.value), "partition %d out of order at offset %d: %s after %s", p, r.offset, r.value, recs[i-1].value)
			}
		}
	}
	for v, n := range seen {
		require.Equal(t, 1, n, "record %s is in the log %d times", v, n)
	}
	for _, a := range acked {
		recs := logs[a.partition]
		require.Less(t, a.offset, int64(len(recs)), "acknowledged %s at %d-%d is gone", a.value, a.partition, a.offset)
		require.Equal(t, a.value, recs[a.offset].value, "acknowledged %s at %d-%d", a.value, a.partition, a.offset)
	}
	t.Logf("%d records acknowledged, %d in the logs", len(acked), len(seen))
}
