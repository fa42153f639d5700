package node_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// gaugeValue reads an unlabelled gauge from reg (-1: absent).
func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return -1
}

// TestLogDirFailureInCluster is JBOD with a failing disk (KIP-858) on a
// 3-node cluster whose brokers each have two log dirs: replicas are spread
// over both and their dirs recorded in the metadata; then one broker's
// second dir disappears (renamed away, as an unmount looks to the
// process). The broker stays up: the first I/O error there (a checkpoint
// write) takes the dir offline, its partitions there answer
// KAFKA_STORAGE_ERROR and are offline replicas in Metadata, DescribeLogDirs
// reports the dir with KAFKA_STORAGE_ERROR, the metrics move, and the
// controller moves their leadership to other ISR members, so acks=all
// writes go on and nothing acknowledged is lost. With the dir back, a
// restart brings every replica back into the ISR.
func TestLogDirFailureInCluster(t *testing.T) {
	c := newTestCluster(t, []clusterSpec{{1, "broker,controller", "voters"}, {2, "broker,controller", "voters"}, {3, "broker,controller", "voters"}},
		"KAFKA_REPLICA_HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS=100", "KAFKA_LOG_FLUSH_OFFSET_CHECKPOINT_INTERVAL_MS=100")
	regs := map[int32]*prometheus.Registry{}
	dirsOf := func(id int32) (string, string) {
		return filepath.Join(c.nodes[id].dir, "a"), filepath.Join(c.nodes[id].dir, "b")
	}
	for id := int32(1); id <= 3; id++ {
		a, b := dirsOf(id)
		regs[id] = prometheus.NewRegistry()
		c.startWith(id, regs[id], "KAFKA_LOG_DIRS="+a+","+b)
	}
	for id := int32(1); id <= 3; id++ {
		c.waitReady(id)
	}
	c.waitImages("brokers registered with two log dirs", func(img *controller.MetadataImage) bool {
		for id := int32(1); id <= 3; id++ {
			if b := img.Broker(id); b == nil || len(b.LogDirs) != 2 {
				return false
			}
		}
		return true
	})
	ctx := context.Background()
	const topic, partitions = "jbod", 6
	adm := newAdmin(t, c.nodes[1].addr())
	_, err := adm.CreateTopic(ctx, partitions, 3, nil, topic)
	require.NoError(t, err)

	// Every replica is placed, half in each dir of each broker.
	c.waitImages("every replica's dir recorded", func(img *controller.MetadataImage) bool {
		tp := img.Topic(topic)
		if tp == nil || len(tp.Partitions) != partitions {
			return false
		}
		for _, p := range tp.Partitions {
			for _, r := range p.Replicas {
				if p.Directory(r) == controller.UnassignedDir {
					return false
				}
			}
		}
		return true
	})
	img := c.image()
	for id := int32(1); id <= 3; id++ {
		perDir := map[controller.DirectoryID]int{}
		for _, p := range img.Topic(topic).Partitions {
			perDir[p.Directory(id)]++
		}
		require.Len(t, perDir, 2, "broker %d spreads its replicas over both dirs", id)
		for _, d := range img.Broker(id).LogDirs {
			require.Equal(t, partitions/2, perDir[d], "broker %d", id)
		}
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.nodes[1].addr()), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	require.NoError(t, err)
	defer cl.Close()
	sent := 0
	produce := func(n int) {
		t.Helper()
		for i := range n {
			for p := range int32(partitions) {
				r := &kgo.Record{Topic: topic, Partition: p, Value: []byte(fmt.Sprintf("v%d-%d-%d", sent, p, i))}
				pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				require.NoError(t, cl.ProduceSync(pctx, r).FirstErr())
				cancel()
				sent++
			}
		}
	}
	produce(20)

	// The victim: broker 2, whose dir b holds partitions it leads or not.
	const victim = int32(2)
	_, bDir := dirsOf(victim)
	bID := img.Broker(victim).LogDirs[1]
	var inB, inA []int32
	for i, p := range img.Topic(topic).Partitions {
		if p.Directory(victim) == bID {
			inB = append(inB, int32(i))
		} else {
			inA = append(inA, int32(i))
		}
	}
	require.Len(t, inB, partitions/2)
	require.Equal(t, float64(0), gaugeValue(t, regs[victim], "kafka_log_logmanager_offlinelogdirectorycount"))
	require.NoError(t, os.Rename(bDir, bDir+".gone"))

	c.waitImages("the failed dir's partitions leave the victim's ISR and leadership", func(img *controller.MetadataImage) bool {
		b := img.Broker(victim)
		if b == nil || len(b.LogDirs) != 1 || b.Fenced {
			return false
		}
		for _, i := range inB {
			p := img.Topic(topic).Partitions[i]
			if p.Leader == victim || p.Leader < 0 || len(p.ISR) != 2 {
				return false
			}
			for _, r := range p.ISR {
				if r == victim {
					return false
				}
			}
		}
		return true
	})
	img = c.image()
	for _, i := range inA {
		require.Contains(t, img.Topic(topic).Partitions[i].ISR, victim, "partition %d on the good dir keeps its replica", i)
	}
	require.Equal(t, float64(1), gaugeValue(t, regs[victim], "kafka_log_logmanager_offlinelogdirectorycount"))
	require.Equal(t, float64(len(inB)), gaugeValue(t, regs[victim], "kafka_server_replicamanager_offlinereplicacount"))

	// The victim answers KAFKA_STORAGE_ERROR for them and serves the rest.
	var lo protocol.ListOffsetsRequest
	lo.ReplicaID = -1
	lt := protocol.ListOffsetsRequestListOffsetsTopic{Name: topic}
	for p := range int32(partitions) {
		lt.Partitions = append(lt.Partitions, protocol.ListOffsetsRequestListOffsetsPartition{PartitionIndex: p, CurrentLeaderEpoch: -1, Timestamp: -1})
	}
	lo.Topics = []protocol.ListOffsetsRequestListOffsetsTopic{lt}
	lr := rawRequest(t, c.nodes[victim].addr(), 7, &lo).(*protocol.ListOffsetsResponse)
	for _, p := range lr.Topics[0].Partitions {
		switch {
		case containsInt32(inB, p.PartitionIndex):
			require.Equal(t, errcode.KafkaStorageError, p.ErrorCode, "partition %d", p.PartitionIndex)
		case img.Topic(topic).Partitions[p.PartitionIndex].Leader == victim:
			require.Equal(t, int16(0), p.ErrorCode, "partition %d", p.PartitionIndex)
		default:
			require.Equal(t, errcode.NotLeaderOrFollower, p.ErrorCode, "partition %d", p.PartitionIndex)
		}
	}
	dl := rawRequest(t, c.nodes[victim].addr(), 4, &protocol.DescribeLogDirsRequest{}).(*protocol.DescribeLogDirsResponse)
	require.Len(t, dl.Results, 2)
	require.Equal(t, int16(0), dl.Results[0].ErrorCode)
	require.Len(t, dl.Results[0].Topics, 1)
	require.Len(t, dl.Results[0].Topics[0].Partitions, len(inA))
	require.Equal(t, errcode.KafkaStorageError, dl.Results[1].ErrorCode)
	require.Empty(t, dl.Results[1].Topics)
	md := rawMetadata(t, c.nodes[1].addr())
	for _, mt := range md.Topics {
		if mt.Name == nil || string(*mt.Name) != topic {
			continue
		}
		for _, p := range mt.Partitions {
			if containsInt32(inB, p.PartitionIndex) {
				require.Equal(t, []protocol.BrokerID{protocol.BrokerID(victim)}, p.OfflineReplicas, "partition %d", p.PartitionIndex)
			} else {
				require.Empty(t, p.OfflineReplicas, "partition %d", p.PartitionIndex)
			}
		}
	}

	// acks=all writes go on everywhere, and every acknowledged record is
	// there to read.
	produce(20)
	consumeAll(t, c.nodes[1].addr(), topic, sent)

	// The disk comes back; after a restart the victim's replicas rejoin.
	c.stop(victim)
	require.NoError(t, os.Rename(bDir+".gone", bDir))
	c.startWith(victim, nil, "KAFKA_LOG_DIRS="+filepath.Join(c.nodes[victim].dir, "a")+","+bDir)
	c.waitReady(victim)
	c.waitImages("the victim back in every ISR", func(img *controller.MetadataImage) bool {
		if b := img.Broker(victim); b == nil || len(b.LogDirs) != 2 {
			return false
		}
		for _, p := range img.Topic(topic).Partitions {
			if len(p.ISR) != 3 {
				return false
			}
		}
		return true
	})
}

func containsInt32(a []int32, v int32) bool {
	for _, x := range a {
		if x == v {
			return true
		}
	}
	return false
}

// consumeAll reads topic from the start until it has want records.
func consumeAll(t *testing.T, addr, topic string, want int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer cl.Close()
	seen := map[string]bool{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for len(seen) < want {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "read %d of %d records", len(seen), want)
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
	}
	require.Len(t, seen, want)
}

// TestCordonedLogDirInCluster: with cordoned.log.dirs naming one of a
// broker's two dirs (KIP-1066), new partitions all go to the other dir,
// DescribeLogDirs says which dir is cordoned, the broker's heartbeats put
// the cordoned dir in its registration, and the CordonedLogDirectoryCount
// gauge counts it.
func TestCordonedLogDirInCluster(t *testing.T) {
	c := newTestCluster(t, []clusterSpec{{1, "broker,controller", "voters"}})
	a, b := filepath.Join(c.nodes[1].dir, "a"), filepath.Join(c.nodes[1].dir, "b")
	reg := prometheus.NewRegistry()
	c.startWith(1, reg, "KAFKA_LOG_DIRS="+a+","+b, "KAFKA_CORDONED_LOG_DIRS="+b)
	c.waitReady(1)
	c.waitImages("the cordoned dir in the registration", func(img *controller.MetadataImage) bool {
		br := img.Broker(1)
		return br != nil && len(br.LogDirs) == 2 && len(br.CordonedLogDirs) == 1 && br.CordonedLogDirs[0] == br.LogDirs[1]
	})
	_, err := newAdmin(t, c.nodes[1].addr()).CreateTopic(context.Background(), 4, 1, nil, "cordon")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		dl := rawRequest(t, c.nodes[1].addr(), 5, &protocol.DescribeLogDirsRequest{}).(*protocol.DescribeLogDirsResponse)
		return len(dl.Results) == 2 && len(dl.Results[0].Topics) == 1 && len(dl.Results[0].Topics[0].Partitions) == 4
	}, 10*time.Second, 20*time.Millisecond)
	dl := rawRequest(t, c.nodes[1].addr(), 5, &protocol.DescribeLogDirsRequest{}).(*protocol.DescribeLogDirsResponse)
	require.Equal(t, a, dl.Results[0].LogDir)
	require.False(t, dl.Results[0].IsCordoned)
	require.Equal(t, b, dl.Results[1].LogDir)
	require.True(t, dl.Results[1].IsCordoned)
	require.Empty(t, dl.Results[1].Topics)
	require.Equal(t, float64(1), gaugeValue(t, reg, "kafka_log_logmanager_cordonedlogdirectorycount"))
}

// TestLogDirFailureTimeout: a broker that cannot tell the controller of a
// failed log dir (the quorum is gone) stops once log.dir.failure.timeout.ms
// has passed, as Kafka's does: Node.Fatal says why.
func TestLogDirFailureTimeout(t *testing.T) {
	c := newTestCluster(t, []clusterSpec{{1, "controller", "voters"}, {2, "broker", "voters"}})
	a, b := filepath.Join(c.nodes[2].dir, "a"), filepath.Join(c.nodes[2].dir, "b")
	c.start(1)
	c.start(2, "KAFKA_LOG_DIRS="+a+","+b, "KAFKA_LOG_DIR_FAILURE_TIMEOUT_MS=500", "KAFKA_LOG_FLUSH_OFFSET_CHECKPOINT_INTERVAL_MS=50")
	c.waitReady(2)
	c.kill(1)
	require.NoError(t, os.Rename(b, b+".gone"))
	select {
	case err := <-c.node(2).Fatal():
		require.ErrorContains(t, err, "log.dir.failure.timeout.ms")
	case <-time.After(30 * time.Second):
		t.Fatal("the broker kept running with an unreported failed log dir")
	}
}

// startTwoDirNode starts node 1, broker and controller of a one-node
// cluster, with the two log dirs a and b (in that order), and waits until
// it is ready.
func startTwoDirNode(t *testing.T) (c *testCluster, a, b string) {
	t.Helper()
	c = newTestCluster(t, []clusterSpec{{1, "broker,controller", "voters"}})
	a, b = filepath.Join(c.nodes[1].dir, "a"), filepath.Join(c.nodes[1].dir, "b")
	c.startWith(1, nil, "KAFKA_LOG_DIRS="+a+","+b)
	c.waitReady(1)
	return c, a, b
}

// TestAlterReplicaLogDirs moves replicas between the two log dirs of a
// broker (AlterReplicaLogDirs, key 34) while a producer writes: Kafka's
// error codes for a path that is no log dir, the partitions show up in
// their new dir in DescribeLogDirs with their data, the old copy is gone,
// every acknowledged record reads back, and a replica not held yet is
// created in the dir asked for.
func TestAlterReplicaLogDirs(t *testing.T) {
	c, a, b := startTwoDirNode(t)
	addr := c.nodes[1].addr()
	ctx := context.Background()
	const topic = "moving"
	_, err := newAdmin(t, addr).CreateTopic(ctx, 4, 1, nil, topic)
	require.NoError(t, err)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	require.NoError(t, err)
	defer cl.Close()
	sent := 0
	produce := func(n int) {
		t.Helper()
		for range n {
			for p := range int32(4) {
				require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte(fmt.Sprintf("v%d", sent))}).FirstErr())
				sent++
			}
		}
	}
	produce(50)
	dirOf := func() map[int32]string {
		dl := rawRequest(t, addr, 4, &protocol.DescribeLogDirsRequest{}).(*protocol.DescribeLogDirsResponse)
		out := map[int32]string{}
		for _, r := range dl.Results {
			for _, tt := range r.Topics {
				for _, p := range tt.Partitions {
					if tt.Name == topic {
						out[p.PartitionIndex] = r.LogDir
					}
				}
			}
		}
		return out
	}
	before := dirOf()
	require.Len(t, before, 4)
	var req protocol.AlterReplicaLogDirsRequest
	other := map[string]string{a: b, b: a}
	for p := range int32(4) {
		req.Dirs = append(req.Dirs, protocol.AlterReplicaLogDirsRequestAlterReplicaLogDir{Path: other[before[p]],
			Topics: []protocol.AlterReplicaLogDirsRequestAlterReplicaLogDirTopic{{Name: topic, Partitions: []int32{p}}}})
	}
	req.Dirs = append(req.Dirs,
		protocol.AlterReplicaLogDirsRequestAlterReplicaLogDir{Path: "/nowhere", Topics: []protocol.AlterReplicaLogDirsRequestAlterReplicaLogDirTopic{{Name: topic, Partitions: []int32{0}}}},
		protocol.AlterReplicaLogDirsRequestAlterReplicaLogDir{Path: b, Topics: []protocol.AlterReplicaLogDirsRequestAlterReplicaLogDirTopic{{Name: "later", Partitions: []int32{0}}}},
		protocol.AlterReplicaLogDirsRequestAlterReplicaLogDir{Path: a, Topics: []protocol.AlterReplicaLogDirsRequestAlterReplicaLogDirTopic{{Name: "later", Partitions: []int32{1}}}})
	resp := rawRequest(t, addr, 2, &req).(*protocol.AlterReplicaLogDirsResponse)
	codes := map[string]int16{}
	for _, r := range resp.Results {
		for _, p := range r.Partitions {
			codes[fmt.Sprintf("%s-%d", r.TopicName, p.PartitionIndex)] = p.ErrorCode
		}
	}
	require.Equal(t, map[string]int16{topic + "-0": errcode.LogDirNotFound, topic + "-1": 0, topic + "-2": 0, topic + "-3": 0, "later-0": 0, "later-1": 0}, codes)

	// Partition 0's last entry (the bad path) decides its code; 1-3 move.
	require.Eventually(t, func() bool {
		now := dirOf()
		for p := int32(1); p < 4; p++ {
			if now[p] != other[before[p]] {
				return false
			}
		}
		return now[0] == other[before[0]] || now[0] == before[0]
	}, 30*time.Second, 20*time.Millisecond, "the replicas are in their new dirs")
	for p := int32(1); p < 4; p++ {
		_, err := os.Stat(filepath.Join(before[p], fmt.Sprintf("%s-%d", topic, p)))
		require.ErrorIs(t, err, os.ErrNotExist, "the old copy of partition %d is gone", p)
	}
	produce(50)
	consumeAll(t, addr, topic, sent)

	// A replica not held yet goes where it was asked.
	_, err = newAdmin(t, addr).CreateTopic(ctx, 2, 1, nil, "later")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, errB := os.Stat(filepath.Join(b, "later-0"))
		_, errA := os.Stat(filepath.Join(a, "later-1"))
		return errA == nil && errB == nil
	}, 10*time.Second, 20*time.Millisecond)
}

// TestAlterReplicaLogDirsServes moves a loaded partition (96 MiB) to the
// broker's other log dir while an acks=all producer writes to it, and
// checks that the partition kept serving during the copy, as Kafka's
// future log does: acknowledgements arrive while the move runs (the
// partition is out of service only for the last round; before, it was
// for the whole copy). Every acknowledged record is there afterwards.
func TestAlterReplicaLogDirsServes(t *testing.T) {
	c, a, b := startTwoDirNode(t)
	addr := c.nodes[1].addr()
	ctx := context.Background()
	const topic = "big"
	_, err := newAdmin(t, addr).CreateTopic(ctx, 1, 1, nil, topic)
	require.NoError(t, err)
	loader, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic), kgo.ProducerBatchMaxBytes(1<<20),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	require.NoError(t, err)
	rng := rand.NewChaCha8([32]byte{1})
	const preload = 96 * 16 // 96 MiB of 64 KiB records
	for range preload / 64 {
		var rs []*kgo.Record
		for range 64 {
			v := make([]byte, 64<<10)
			_, _ = rng.Read(v)
			rs = append(rs, &kgo.Record{Value: v})
		}
		require.NoError(t, loader.ProduceSync(ctx, rs...).FirstErr())
	}
	loader.Close()

	dirOf := func() string {
		dl := rawRequest(t, addr, 4, &protocol.DescribeLogDirsRequest{}).(*protocol.DescribeLogDirsResponse)
		for _, r := range dl.Results {
			for _, tt := range r.Topics {
				if tt.Name == topic && len(tt.Partitions) > 0 {
					return r.LogDir
				}
			}
		}
		return ""
	}
	from := dirOf()
	require.NotEmpty(t, from)
	to := map[string]string{a: b, b: a}[from]

	// The producer: one record every 2 ms, acks=all, timestamps of acks.
	// A NOT_LEADER answer (the last round) is retried after a fresh
	// metadata request, which kgo would otherwise delay by 5 s.
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0), kgo.RetryBackoffFn(func(int) time.Duration { return 10 * time.Millisecond }),
		kgo.MetadataMinAge(10*time.Millisecond))
	require.NoError(t, err)
	defer cl.Close()
	var (
		mu     sync.Mutex
		ackAt  []time.Time
		failed []error
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			cl.Produce(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("small-%d", i))}, func(_ *kgo.Record, err error) {
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failed = append(failed, err)
					return
				}
				ackAt = append(ackAt, time.Now())
			})
		}
	}()
	acked := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(ackAt)
	}
	require.Eventually(t, func() bool { return acked() >= 50 }, 30*time.Second, 10*time.Millisecond)

	began := time.Now()
	resp := rawRequest(t, addr, 2, &protocol.AlterReplicaLogDirsRequest{Dirs: []protocol.AlterReplicaLogDirsRequestAlterReplicaLogDir{
		{Path: to, Topics: []protocol.AlterReplicaLogDirsRequestAlterReplicaLogDirTopic{{Name: topic, Partitions: []int32{0}}}}}}).(*protocol.AlterReplicaLogDirsResponse)
	require.Equal(t, int16(0), resp.Results[0].Partitions[0].ErrorCode)
	require.Eventually(t, func() bool { return dirOf() == to }, 2*time.Minute, 5*time.Millisecond, "the partition moves")
	moved := time.Now()
	n := acked()
	require.Eventually(t, func() bool { return acked() >= n+50 }, 30*time.Second, 10*time.Millisecond, "the producer goes on after the move")
	close(stop)
	<-done
	require.NoError(t, cl.Flush(ctx))

	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, failed)
	var (
		during int
		maxGap time.Duration
		last   = began
	)
	for _, at := range ackAt {
		if at.Before(began) {
			continue
		}
		if at.After(moved) {
			maxGap = max(maxGap, at.Sub(last)) // the gap that spans the end of the move counts
			break
		}
		during++
		maxGap = max(maxGap, at.Sub(last))
		last = at
	}
	took := moved.Sub(began)
	t.Logf("moved 96 MiB in %v; %d acknowledgements during the move, the longest gap between them %v", took, during, maxGap)
	require.GreaterOrEqual(t, during, 10, "the partition served while its log was copied")
	ends, err := newAdmin(t, addr).ListEndOffsets(ctx, topic)
	require.NoError(t, err)
	end, _ := ends.Lookup(topic, 0)
	require.Equal(t, int64(preload+len(ackAt)), end.Offset, "every acknowledged record is in the moved log")
}

// TestCordonedLogDirsChangedAtRuntime: cordoned.log.dirs changes without a
// restart (Kafka 4.3's DynamicLogConfig): values that are not log dirs, "*"
// with others and the cluster default are refused with Kafka's
// INVALID_REQUEST messages; a valid one reaches the log manager
// (DescribeLogDirs, new partitions avoid the dir) and, through heartbeats,
// the broker's registration; cordoning every dir stops new replicas with
// Kafka's message; deleting the override uncordons.
func TestCordonedLogDirsChangedAtRuntime(t *testing.T) {
	c := newTestCluster(t, []clusterSpec{{1, "broker,controller", "voters"}})
	a, b := filepath.Join(c.nodes[1].dir, "a"), filepath.Join(c.nodes[1].dir, "b")
	c.startWith(1, nil, "KAFKA_LOG_DIRS="+a+","+b)
	c.waitReady(1)
	addr := c.nodes[1].addr()
	adm := newAdmin(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	set := func(value string, broker ...int32) (string, error) {
		t.Helper()
		op := kadm.AlterConfig{Name: "cordoned.log.dirs", Value: kadm.StringPtr(value)}
		if value == "<delete>" {
			op = kadm.AlterConfig{Op: kadm.DeleteConfig, Name: "cordoned.log.dirs"}
		}
		var res kadm.AlterConfigsResponses
		var err error
		if len(broker) == 0 {
			res, err = adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{op})
		} else {
			res, err = adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{op}, broker...)
		}
		require.NoError(t, err)
		require.Len(t, res, 1)
		return res[0].ErrMessage, res[0].Err
	}
	for _, tc := range []struct{ value, msg string }{
		{"/nope", "requirement failed: All entries in cordoned.log.dirs must be present in log.dirs or log.dir. Missing entries : /nope"},
		{"*," + a, "requirement failed: When cordoned.log.dirs is set to *, it must not contain other values"},
		{"*,", "Configuration 'cordoned.log.dirs' values must not be empty."},
	} {
		msg, err := set(tc.value, 1)
		require.ErrorIs(t, err, kerr.InvalidRequest, tc.value)
		require.Equal(t, tc.msg, msg, tc.value)
	}
	msg, err := set("*")
	require.ErrorIs(t, err, kerr.InvalidRequest)
	require.Equal(t, "Cannot update these configs at default cluster level, broker id must be specified: [cordoned.log.dirs]", msg)

	cordonedIn := func(img *controller.MetadataImage) int {
		br := img.Broker(1)
		if br == nil || len(br.LogDirs) != 2 {
			return -1
		}
		return len(br.CordonedLogDirs)
	}
	describe := func() *protocol.DescribeLogDirsResponse {
		return rawRequest(t, addr, 5, &protocol.DescribeLogDirsRequest{}).(*protocol.DescribeLogDirsResponse)
	}

	// Cordon a: the registration follows, and new partitions all go to b.
	msg, err = set(a, 1)
	require.NoError(t, err, msg)
	c.waitImages("dir a cordoned in the registration", func(img *controller.MetadataImage) bool {
		return cordonedIn(img) == 1 && img.Broker(1).CordonedLogDirs[0] == img.Broker(1).LogDirs[0]
	})
	dl := describe()
	require.True(t, dl.Results[0].IsCordoned)
	require.False(t, dl.Results[1].IsCordoned)
	_, err = adm.CreateTopic(ctx, 4, 1, nil, "after-cordon")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		dl := describe()
		return len(dl.Results) == 2 && len(dl.Results[1].Topics) == 1 && len(dl.Results[1].Topics[0].Partitions) == 4
	}, 10*time.Second, 20*time.Millisecond)
	require.Empty(t, describe().Results[0].Topics, "no new partition in the cordoned dir")

	// Cordon every dir: the controller places no new replica here.
	msg, err = set("*", 1)
	require.NoError(t, err, msg)
	c.waitImages("both dirs cordoned", func(img *controller.MetadataImage) bool { return cordonedIn(img) == 2 })
	resp, err := adm.CreateTopic(ctx, 1, 1, nil, "all-cordoned")
	if err == nil {
		err = resp.Err
	}
	require.ErrorIs(t, err, kerr.InvalidReplicationFactor)
	require.Contains(t, resp.ErrMessage, "All brokers are currently fenced, or have all their log directories cordoned.")

	// Deleting the override uncordons (the static config has none).
	msg, err = set("<delete>", 1)
	require.NoError(t, err, msg)
	c.waitImages("no dir cordoned", func(img *controller.MetadataImage) bool { return cordonedIn(img) == 0 })
	_, err = adm.CreateTopic(ctx, 1, 1, nil, "uncordoned")
	require.NoError(t, err)
}
