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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spool-broker/spool/internal/spooltest"
)

// ackedRecord is a record the producer got an acknowledgement for.
type ackedRecord struct {
	partition int32
	offset    int64
	value     string
	at        time.Time
}

// TestReplicationProcessesKillLeader runs three `spool serve` processes
// (combined mode, each on its own loopback address) and a franz-go
// producer writing with acks=all to a topic with replication factor 3 and
// min.insync.replicas=2. The leader of partition 0 gets SIGKILL mid-stream
// and is restarted: every acknowledged record is then read back exactly
// once, at the offset it was acknowledged with, in order per partition,
// and the killed node rejoins the ISR of every partition. The node is also
// a group's coordinator: __consumer_offsets is replicated with Kafka's
// default replication factor 3, and the group's committed offset survives
// the failover.
func TestReplicationProcessesKillLeader(t *testing.T) {
	bin := spooltest.Build(t)
	hosts := []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}
	clientPort, controllerPort := commonPort(t, hosts), commonPort(t, hosts)
	var voters []string
	for i, h := range hosts {
		voters = append(voters, fmt.Sprintf("%d@%s:%d", i+1, h, controllerPort))
	}
	logDir := t.TempDir()
	procs := make([]*spoolProcess, 3)
	for i, h := range hosts {
		procs[i] = &spoolProcess{id: int32(i + 1), host: h, log: filepath.Join(logDir, fmt.Sprintf("node%d.log", i+1)), env: []string{
			fmt.Sprintf("KAFKA_NODE_ID=%d", i+1),
			"KAFKA_PROCESS_ROLES=broker,controller",
			"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
			"KAFKA_CONTROLLER_QUORUM_VOTERS=" + strings.Join(voters, ","),
			fmt.Sprintf("KAFKA_LISTENERS=PLAINTEXT://%s:%d,CONTROLLER://%s:%d", h, clientPort, h, controllerPort),
			"KAFKA_INTER_BROKER_LISTENER_NAME=PLAINTEXT",
			fmt.Sprintf("KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://%s:%d", h, clientPort),
			"KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER",
			"CLUSTER_ID=Rp1Kk3lLQ8yE7vS0a1b2cQ",
			"KAFKA_LOG_DIRS=" + t.TempDir(),
			// Short liveness timeouts keep the test quick; the
			// replication settings are Kafka's defaults.
			"KAFKA_BROKER_HEARTBEAT_INTERVAL_MS=200",
			"KAFKA_BROKER_SESSION_TIMEOUT_MS=2000",
		}}
	}
	t.Cleanup(func() {
		for _, p := range procs {
			if p.cmd != nil {
				_ = p.cmd.Process.Kill()
				_ = p.cmd.Wait()
			}
		}
		if t.Failed() {
			for _, p := range procs {
				b, _ := os.ReadFile(p.log)
				t.Logf("node %d log:\n%s", p.id, lastLines(string(b), 80))
			}
		}
	})
	addr := func(p *spoolProcess) string { return net.JoinHostPort(p.host, strconv.Itoa(clientPort)) }
	for _, p := range procs {
		p.start(t, bin)
	}
	require.Eventually(t, func() bool {
		for _, p := range procs {
			if ids, err := brokerIDs(addr(p)); err != nil || len(ids) != 3 {
				return false
			}
		}
		return true
	}, 60*time.Second, 100*time.Millisecond, "three live brokers")

	const topic = "acked"
	const partitions = 3
	seeds := []string{addr(procs[0]), addr(procs[1]), addr(procs[2])}
	admCl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	require.NoError(t, err)
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	created, err := adm.CreateTopic(ctx, partitions, 3, map[string]*string{"min.insync.replicas": kadm.StringPtr("2")}, topic)
	require.NoError(t, err)
	require.NoError(t, created.Err)

	// isr returns each partition's leader and ISR as the cluster reports them.
	type partState struct {
		leader int32
		isr    []int32
	}
	describe := func() map[int32]partState {
		md, err := adm.Metadata(ctx, topic)
		if err != nil {
			return nil
		}
		out := map[int32]partState{}
		for _, p := range md.Topics[topic].Partitions {
			isr := slices.Clone(p.ISR)
			slices.Sort(isr)
			out[p.Partition] = partState{leader: p.Leader, isr: isr}
		}
		return out
	}
	allInSync := func() bool {
		st := describe()
		if len(st) != partitions {
			return false
		}
		for _, s := range st {
			if !slices.Equal(s.isr, []int32{1, 2, 3}) || s.leader < 0 {
				return false
			}
		}
		return true
	}
	require.Eventually(t, allInSync, 60*time.Second, 100*time.Millisecond, "every partition has ISR {1,2,3}")

	producer, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0), kgo.RecordDeliveryTimeout(90*time.Second))
	require.NoError(t, err)
	defer producer.Close()
	var mu sync.Mutex
	var acked []ackedRecord
	var failed []error
	stop := make(chan struct{})
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		var wg sync.WaitGroup
		for i := 0; ; i++ {
			select {
			case <-stop:
				wg.Wait()
				return
			case <-time.After(2 * time.Millisecond):
			}
			r := &kgo.Record{Partition: int32(i % partitions), Value: []byte(fmt.Sprintf("v%06d", i))}
			wg.Add(1)
			producer.Produce(ctx, r, func(r *kgo.Record, err error) {
				defer wg.Done()
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failed = append(failed, err)
					return
				}
				acked = append(acked, ackedRecord{r.Partition, r.Offset, string(r.Value), time.Now()})
			})
		}
	}()
	ackedCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	waitAcked := func(n int, what string) {
		t.Helper()
		require.Eventually(t, func() bool { return ackedCount() >= n }, 90*time.Second, 10*time.Millisecond, what)
	}
	waitAcked(300, "acknowledgements before the kill")

	st := describe()
	victim := procs[st[0].leader-1]

	// __consumer_offsets is created with Kafka's default replication (3;
	// nothing in this cluster's config lowers it) once three brokers are
	// live. A group whose coordinator is the node about to be killed
	// commits an offset.
	var group string
	require.Eventually(t, func() bool {
		for i := range 200 {
			g := fmt.Sprintf("g%d", i)
			c := adm.FindGroupCoordinators(ctx, g)[g]
			if c.Err == nil && c.NodeID == victim.id {
				group = g
				return true
			}
		}
		return false
	}, 60*time.Second, 100*time.Millisecond, "a group coordinated by node %d", victim.id)
	var commit kadm.Offsets
	commit.AddOffset(topic, 1, 42, -1)
	committed, err := adm.CommitOffsets(ctx, group, commit)
	require.NoError(t, err)
	require.NoError(t, committed.Error())
	md, err := adm.Metadata(ctx, "__consumer_offsets")
	require.NoError(t, err)
	for _, p := range md.Topics["__consumer_offsets"].Partitions {
		require.Len(t, p.Replicas, 3, "__consumer_offsets-%d", p.Partition)
	}

	t.Logf("SIGKILL node %d, leader of partition 0 and coordinator of group %s (%d acknowledged so far)", victim.id, group, ackedCount())
	before := ackedCount()
	killed := time.Now()
	victim.signal(t, syscall.SIGKILL)
	waitAcked(before+300, "acknowledgements after the kill")
	t.Logf("300 more acknowledgements %v after the kill", time.Since(killed))
	require.Eventually(t, func() bool {
		st := describe()
		for _, s := range st {
			if s.leader == victim.id || s.leader < 0 || slices.Contains(s.isr, victim.id) {
				return false
			}
		}
		return len(st) == partitions
	}, 30*time.Second, 50*time.Millisecond, "the killed node leads nothing and left every ISR")

	// The group's coordinator moved with the leadership of its
	// __consumer_offsets partition; the new one loaded the replicated
	// commit.
	var last string
	if !assert.Eventually(t, func() bool {
		// A fresh client each time: a cached coordinator (the dead node)
		// would have the client retry it until its own timeout.
		cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
		if err != nil {
			return false
		}
		defer cl.Close()
		actx, acancel := context.WithTimeout(ctx, 5*time.Second)
		defer acancel()
		fetched, err := kadm.NewClient(cl).FetchOffsets(actx, group)
		if err != nil || fetched.Error() != nil {
			last = fmt.Sprintf("error %v / %v", err, fetched.Error())
			return false
		}
		o, ok := fetched.Lookup(topic, 1)
		last = fmt.Sprintf("%+v %v", o, ok)
		return ok && o.At == 42
	}, 30*time.Second, 50*time.Millisecond) {
		t.Fatalf("the committed offset after the coordinator's node died: last answer %s", last)
	}

	victim.start(t, bin)
	rejoined := time.Now()
	require.Eventually(t, allInSync, 90*time.Second, 100*time.Millisecond, "node %d rejoins every ISR", victim.id)
	t.Logf("node %d back in every ISR %v after its restart", victim.id, time.Since(rejoined))
	waitAcked(ackedCount()+300, "acknowledgements after the restart")
	close(stop)
	<-produced
	mu.Lock()
	require.Empty(t, failed, "the producer gave up on records")
	got := slices.Clone(acked)
	mu.Unlock()

	// Read every partition back to its end.
	ends, err := adm.ListEndOffsets(ctx, topic)
	require.NoError(t, err)
	consumer, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart(), 2: kgo.NewOffset().AtStart()},
	}))
	require.NoError(t, err)
	defer consumer.Close()
	logs := map[int32][]ackedRecord{}
	done := func() bool {
		for p := range int32(partitions) {
			e, _ := ends.Lookup(topic, p)
			if int64(len(logs[p])) < e.Offset {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := consumer.PollFetches(ctx)
		require.NoError(t, ctx.Err())
		fs.EachRecord(func(r *kgo.Record) {
			logs[r.Partition] = append(logs[r.Partition], ackedRecord{partition: r.Partition, offset: r.Offset, value: string(r.Value)})
		})
	}
	seen := map[string]int{}
	for p, recs := range logs {
		for i, r := range recs {
			require.Equal(t, int64(i), r.offset, "partition %d has a gap", p)
			seen[r.value]++
		}
	}
	for v, n := range seen {
		require.Equal(t, 1, n, "record %s is in the log %d times", v, n)
	}
	for _, a := range got {
		recs := logs[a.partition]
		require.Less(t, a.offset, int64(len(recs)), "acknowledged %s at %d-%d is gone", a.value, a.partition, a.offset)
		require.Equal(t, a.value, recs[a.offset].value, "acknowledged %s at %d-%d", a.value, a.partition, a.offset)
	}
	// In order: a partition's acknowledged values increase with offset
	// (the producer sent them in that order).
	for p, recs := range logs {
		var prev string
		for _, r := range recs {
			require.Greater(t, r.value, prev, "partition %d out of order at offset %d", p, r.offset)
			prev = r.value
		}
	}
	t.Logf("%d records acknowledged, %d in the logs", len(got), len(seen))
	for p := range int32(partitions) {
		var last, first time.Time
		for _, a := range got {
			if a.partition != p {
				continue
			}
			if a.at.Before(killed) {
				last = a.at
			} else if first.IsZero() {
				first = a.at
			}
		}
		t.Logf("partition %d: last ack %v before the kill, first %v after", p, killed.Sub(last), first.Sub(killed))
		// The session timeout (2 s) and, when the killed node was the
		// active controller, a quorum election: well under the 10 s
		// produce timeout, which a partition whose acks=all wait missed
		// the ISR shrink would take.
		require.Less(t, first.Sub(killed), 8*time.Second, "partition %d acknowledged nothing for too long", p)
	}
}
