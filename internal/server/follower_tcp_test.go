package server

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap/zaptest"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/protocol/records"
	"github.com/spool-broker/spool/replication"
	"github.com/spool-broker/spool/storage"
)

// TestFollowerOverTCP runs the follower side against a real broker over
// Kafka's wire protocol: broker 2 (a replication.Manager in this test,
// following the node's metadata) fetches from the node with Fetch v18 and
// replica state, so an acks=all produce completes through its fetches and
// its log is the leader's, batch epochs included. When leadership comes
// back to the node after broker 2 led an epoch alone, broker 2 truncates
// what it wrote then (OffsetForLeaderEpoch over TCP) and is added back to
// the ISR through AlterPartition. ListOffsets answers a replica with the
// log end offset, a consumer with the high watermark.
func TestFollowerOverTCP(t *testing.T) {
	n := startTestNode(t, "KAFKA_REPLICA_FETCH_BACKOFF_MS=20")
	const topic = "tcp-replicated"
	createTopic(t, n.addr, topic, 1, nil)
	b := n.broker
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tp := storage.TopicPartition{Topic: topic, Partition: 0}

	// Broker 2 registers (fenced) and heartbeats, which unfences it once
	// it has the metadata: only then may it join an ISR.
	epoch2, err := b.ctrl.RegisterBroker(ctx, controller.BrokerRegistration{ID: 2, IncarnationID: [16]byte{2}})
	require.NoError(t, err)
	heartbeats := make(chan struct{})
	go func() {
		defer close(heartbeats)
		for ctx.Err() == nil {
			_, _ = b.ctrl.BrokerHeartbeat(ctx, controller.BrokerHeartbeat{BrokerID: 2, BrokerEpoch: epoch2, CurrentMetadataOffset: int64(b.ctrl.Image().Offset())})
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-heartbeats })
	require.Eventually(t, func() bool {
		br := b.ctrl.Image().Broker(2)
		return br != nil && !br.Fenced
	}, 30*time.Second, 5*time.Millisecond, "broker 2 unfenced")
	logs2, err := storage.NewManager(storage.ManagerConfig{Dirs: []string{t.TempDir()}, Default: storage.DefaultConfig()}, zaptest.NewLogger(t).Named("broker-2"))
	require.NoError(t, err)
	m2 := replication.NewManager(replication.Config{
		NodeID:      2,
		BrokerEpoch: func() int64 { return epoch2 },
		Endpoints:   replication.TCPEndpoints(replication.TCPConfig{NodeID: 2, Resolve: func(int32) (string, error) { return n.addr, nil }}),
		Fetcher:     replication.FetcherConfig{MaxWait: 100 * time.Millisecond, Backoff: 20 * time.Millisecond},
	}, logs2, zaptest.NewLogger(t).Named("broker-2"))
	// Broker 2 follows the node's metadata on one goroutine, as a broker
	// follows the metadata log.
	imgs, unsubscribe := b.ctrl.Subscribe()
	stop, followed := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(followed)
		for {
			var img *controller.MetadataImage
			select {
			case <-stop:
				return
			case img = <-imgs:
			}
			tm := img.Topic(topic)
			if tm == nil {
				continue
			}
			pi := tm.Partitions[0]
			if !slices.Contains(pi.Replicas, 2) {
				continue
			}
			p := m2.Partition(tp)
			if p == nil {
				if p, err = m2.Open(tp, [16]byte(tm.ID), storage.DefaultConfig(), nil); err != nil {
					t.Errorf("open: %v", err)
					return
				}
			}
			m2.Apply(p, leaderAndISR(pi))
		}
	}()
	t.Cleanup(func() {
		close(stop)
		unsubscribe()
		<-followed
		m2.Close()
		require.NoError(t, logs2.Close())
	})

	change := func(ch controller.PartitionChange) {
		t.Helper()
		ch.TopicID, ch.PartitionEpoch = b.image.Load().Topic(topic).ID, -1
		_, err := n.Controller().ChangePartition(ctx, ch)
		require.NoError(t, err)
		b.syncImage()
	}
	p1 := b.partition(topic, 0)
	all := newClient(t, n.addr, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))
	require.NoError(t, all.ProduceSync(ctx, &kgo.Record{Value: []byte("a0")}, &kgo.Record{Value: []byte("a1")}).FirstErr())

	// Broker 2 joins as a replica in the ISR: acks=all now waits for its
	// fetches over TCP.
	change(controller.PartitionChange{Leader: controller.NoLeaderChange, Replicas: []int32{1, 2}, ISR: []int32{1, 2}})
	require.NoError(t, all.ProduceSync(ctx, &kgo.Record{Value: []byte("a2")}).FirstErr())
	require.Eventually(t, func() bool {
		p2 := m2.Partition(tp)
		return p2 != nil && p2.Log().LogEndOffset() == 3 && p2.Log().HighWatermark() == 3
	}, 30*time.Second, 5*time.Millisecond, "broker 2 has the log and learned the high watermark")

	// Broker 2 leads an epoch alone and writes what nobody else gets.
	change(controller.PartitionChange{Leader: 2})
	require.Eventually(t, func() bool { return m2.Partition(tp).IsLeader() }, 30*time.Second, 5*time.Millisecond)
	xb, err := records.AppendBatch(nil, records.NewBatchOptions(), []records.Record{{Timestamp: time.Now().UnixMilli(), Value: []byte("x")}})
	require.NoError(t, err)
	_, err = m2.Partition(tp).AppendAsLeader(xb, replication.AppendOptions{RequiredAcks: 1})
	require.NoError(t, err)
	require.Equal(t, int64(4), m2.Partition(tp).Log().LogEndOffset())

	// Leadership comes back to the node with broker 2 out of the ISR.
	change(controller.PartitionChange{Leader: 1, ISR: []int32{1}})
	one := newClient(t, n.addr, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	require.NoError(t, one.ProduceSync(ctx, &kgo.Record{Value: []byte("b0")}, &kgo.Record{Value: []byte("b1")}).FirstErr())
	require.Eventually(t, func() bool {
		pi := b.image.Load().Topic(topic).Partitions[0]
		return slices.Equal(pi.ISR, []int32{1, 2})
	}, 30*time.Second, 5*time.Millisecond, "broker 2 truncated, caught up and rejoined the ISR")
	require.NoError(t, all.ProduceSync(ctx, &kgo.Record{Value: []byte("c0")}).FirstErr())
	p2 := m2.Partition(tp)
	require.Eventually(t, func() bool { return p2.Log().LogEndOffset() == p1.Log().LogEndOffset() }, 30*time.Second, 5*time.Millisecond)
	leaderLog, followerLog := batchesOf(t, p1.Log()), batchesOf(t, p2.Log())
	require.Equal(t, leaderLog, followerLog, "the follower's log is the leader's, offsets and epochs included")
	for _, v := range followerLog {
		require.NotEqual(t, "x", v.value, "the write of broker 2's lone epoch is gone")
	}

	// Broker 2 stops fetching; the next acks=1 write stays above the
	// high watermark. A replica's ListOffsets gets the log end.
	m2.Close()
	require.NoError(t, one.ProduceSync(ctx, &kgo.Record{Value: []byte("d0")}).FirstErr())
	leo, hw := p1.Log().LogEndOffset(), p1.Log().HighWatermark()
	require.Greater(t, leo, hw)
	ep := replication.TCPEndpoints(replication.TCPConfig{NodeID: 2, Resolve: func(int32) (string, error) { return n.addr, nil }})(1)
	lo, err := ep.ListOffsets(ctx, &replication.ListOffsetsRequest{ReplicaID: 2, Partitions: []replication.ListOffsetsPartition{
		{TopicPartition: tp, CurrentLeaderEpoch: -1, Timestamp: replication.LatestTimestamp},
		{TopicPartition: storage.TopicPartition{Topic: "nope"}, CurrentLeaderEpoch: -1, Timestamp: replication.LatestTimestamp},
	}})
	require.NoError(t, err)
	require.NoError(t, lo.Partitions[0].Err)
	require.Equal(t, leo, lo.Partitions[0].Offset)
	require.ErrorIs(t, lo.Partitions[1].Err, replication.ErrUnknownTopicOrPartition)
	lo, err = ep.ListOffsets(ctx, &replication.ListOffsetsRequest{ReplicaID: -1, Partitions: []replication.ListOffsetsPartition{
		{TopicPartition: tp, CurrentLeaderEpoch: -1, Timestamp: replication.LatestTimestamp},
	}})
	require.NoError(t, err)
	require.Equal(t, hw, lo.Partitions[0].Offset, "a consumer gets the high watermark")
	oe, err := ep.OffsetForLeaderEpoch(ctx, &replication.OffsetForLeaderEpochRequest{ReplicaID: 2, Partitions: []replication.OffsetForLeaderEpochPartition{
		{TopicPartition: tp, CurrentLeaderEpoch: 0, LeaderEpoch: 0},
	}})
	require.NoError(t, err)
	require.ErrorIs(t, oe.Partitions[0].Err, replication.ErrFencedLeaderEpoch, "error codes map back to replication's errors")

	// Broker 2 is gone for good: the node's controlled shutdown has no
	// one to hand leadership to.
	require.NoError(t, b.ctrl.UnregisterBroker(ctx, 2))
}

type batchValue struct {
	offset int64
	epoch  int32
	value  string
}

// batchesOf lists every record of l with its batch's leader epoch.
func batchesOf(t *testing.T, l *storage.Log) []batchValue {
	t.Helper()
	var out []batchValue
	for off := l.LogStartOffset(); off < l.LogEndOffset(); {
		res, err := l.Read(off, 1<<20, -1, true)
		require.NoError(t, err)
		buf, err := res.ReadInto(nil)
		require.NoError(t, err)
		for batch, err := range records.Batches(buf) {
			require.NoError(t, err)
			h, err := records.ParseHeader(batch)
			require.NoError(t, err)
			i := int64(0)
			require.NoError(t, records.ForEachRecord(batch, 1<<20, func(r *records.Record) error {
				out = append(out, batchValue{h.BaseOffset + i, h.PartitionLeaderEpoch, string(r.Value)})
				i++
				return nil
			}))
			off = h.LastOffset() + 1
		}
	}
	return out
}
