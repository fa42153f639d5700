package server

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// TestLeaderSideOfReplication drives the leader half of replication through
// the real broker with Kafka's Fetch: with a second (simulated) replica in
// the ISR, an acks=all produce returns only once that replica's fetch
// position covers it, consumers see nothing past the high watermark
// meanwhile, a fetch claiming a non-replica id is refused per partition, and
// once the replica stops fetching for replica.lag.time.max.ms the leader
// shrinks the ISR through AlterPartition (to the controller) and the high
// watermark moves on without it.
func TestLeaderSideOfReplication(t *testing.T) {
	n := startTestNode(t, "KAFKA_REPLICA_LAG_TIME_MAX_MS=1000")
	const topic = "replicated"
	createTopic(t, n.addr, topic, 1, nil)
	b := n.broker
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Make broker 2 (not running; this test speaks for it) a replica in
	// the ISR, as a reassignment would.
	tid := b.image.Load().Topic(topic).ID
	_, err := n.Controller().ChangePartition(ctx, controller.PartitionChange{
		TopicID: tid, Partition: 0, Leader: controller.NoLeaderChange, Replicas: []int32{1, 2}, ISR: []int32{1, 2}, PartitionEpoch: -1,
	})
	require.NoError(t, err)
	b.syncImage()
	p := b.partition(topic, 0)
	require.Equal(t, []int32{1, 2}, p.State().ISR)

	nc, err := net.Dial("tcp", n.addr)
	require.NoError(t, err)
	defer nc.Close()
	raw := &rawFetcher{nc: nc}
	fetch := func(v int16, replica int32, offset int64, isolation int8) protocol.FetchResponsePartitionData {
		t.Helper()
		req := &protocol.FetchRequest{}
		req.Default()
		req.MaxBytes, req.IsolationLevel, req.SessionEpoch = 1<<20, isolation, -1
		if v >= 15 {
			req.ReplicaState.ReplicaID, req.ReplicaState.ReplicaEpoch = protocol.BrokerID(replica), -1
		} else {
			req.ReplicaID = protocol.BrokerID(replica)
		}
		ft := protocol.FetchRequestFetchTopic{Topic: topic, TopicID: protocol.UUID(tid)}
		var fp protocol.FetchRequestFetchPartition
		fp.Default()
		fp.FetchOffset, fp.PartitionMaxBytes, fp.CurrentLeaderEpoch = offset, 1<<20, -1
		ft.Partitions = []protocol.FetchRequestFetchPartition{fp}
		req.Topics = []protocol.FetchRequestFetchTopic{ft}
		_, resp, err := protocol.DecodeResponse(raw.fetch(t, v, req), protocol.KeyFetch, v)
		require.NoError(t, err)
		fr := resp.(*protocol.FetchResponse)
		require.Zero(t, fr.ErrorCode)
		require.Len(t, fr.Responses, 1)
		require.Len(t, fr.Responses[0].Partitions, 1)
		return fr.Responses[0].Partitions[0]
	}
	require.Equal(t, errcode.NotLeaderOrFollower, fetch(11, 3, 0, 0).ErrorCode, "broker 3 is no replica")
	require.Zero(t, fetch(11, 2, 0, 0).ErrorCode)

	cl := newClient(t, n.addr, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))
	produced := make(chan error, 1)
	go func() {
		produced <- cl.ProduceSync(ctx, &kgo.Record{Value: []byte("committed once replicated")}).FirstErr()
	}()
	require.Eventually(t, func() bool { return p.Log().LogEndOffset() == 1 }, 30*time.Second, 5*time.Millisecond)
	select {
	case err := <-produced:
		t.Fatalf("acks=all produce returned before the replica had the batch: %v", err)
	default:
	}
	require.Equal(t, int64(0), p.Log().HighWatermark())
	consumer := fetch(11, -1, 0, 0)
	require.Zero(t, consumer.ErrorCode)
	require.Empty(t, consumer.Records, "consumers read to the high watermark")
	require.Equal(t, int64(0), consumer.HighWatermark)

	follower := fetch(16, 2, 0, 0) // a follower reads to the log end
	require.Zero(t, follower.ErrorCode)
	require.NotEmpty(t, follower.Records)
	follower = fetch(16, 2, 1, 0) // and now says it has offset 0
	require.Zero(t, follower.ErrorCode)
	select {
	case err := <-produced:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("acks=all produce did not complete after the replica caught up")
	}
	require.Equal(t, int64(1), p.Log().HighWatermark())
	require.NotEmpty(t, fetch(11, -1, 0, 0).Records)

	// Broker 2 goes quiet. The next acks=all append waits until the leader
	// drops it from the ISR (ISR check every 500 ms, lag 1 s), through the
	// controller; then the high watermark is the log end again.
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Value: []byte("committed after the ISR shrank")}).FirstErr())
	require.Equal(t, int64(2), p.Log().HighWatermark())
	require.Equal(t, []int32{1}, p.State().ISR)
	require.Eventually(t, func() bool {
		pi := b.image.Load().Topic(topic).Partitions[0]
		return slices.Equal(pi.ISR, []int32{1}) && slices.Equal(pi.Replicas, []int32{1, 2})
	}, 10*time.Second, 5*time.Millisecond, "the controller committed the shrink")
}

// TestTopicConfigAppliesAfterRestart: a log loaded at startup (opened with
// the broker's defaults) takes its topic's config when the partition opens,
// not only after the next config change.
func TestTopicConfigAppliesAfterRestart(t *testing.T) {
	n := startTestNode(t)
	seg, compact := "2097152", "compact"
	createTopic(t, n.addr, "configured", 1, map[string]*string{"segment.bytes": &seg, "cleanup.policy": &compact})
	check := func() {
		t.Helper()
		p := n.broker.partition("configured", 0)
		require.NotNil(t, p)
		cfg := p.Log().Config()
		require.EqualValues(t, 2097152, cfg.SegmentBytes)
		require.True(t, cfg.Compact)
		require.EqualValues(t, -1, cfg.RetentionMs, "compact-only topics are not deleted by retention")
	}
	check()
	n.restart()
	check()
}
