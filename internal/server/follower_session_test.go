package server

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/replication"
	"github.com/spool-broker/spool/storage"
)

// TestFollowerFetchSession: a follower's fetches ride an incremental fetch
// session (KIP-227) with the leader: the first fetch is full and opens it,
// later ones leave out the partitions whose state did not change, and the
// leader answers only the partitions with news, so an idle partition costs
// the wire nothing. A session the leader no longer knows is replaced by a
// full fetch at once.
func TestFollowerFetchSession(t *testing.T) {
	n := startTestNode(t)
	const topic = "session-replicated"
	const parts = 3
	createTopic(t, n.addr, topic, parts, nil)
	b := n.broker
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tid := b.image.Load().Topic(topic).ID
	for p := range int32(parts) {
		_, err := n.Controller().ChangePartition(ctx, controller.PartitionChange{
			TopicID: tid, Partition: p, Leader: controller.NoLeaderChange, Replicas: []int32{1, 2}, ISR: []int32{1, 2}, PartitionEpoch: -1,
		})
		require.NoError(t, err)
	}
	b.syncImage()

	ep := replication.TCPEndpoints(replication.TCPConfig{NodeID: 2, Resolve: func(int32) (string, error) { return n.addr, nil }})(1)
	defer ep.(interface{ Close() error }).Close()
	offsets := make([]int64, parts)
	fetch := func() *replication.FetchResponse {
		t.Helper()
		req := &replication.FetchRequest{ReplicaID: 2, BrokerEpoch: -1, MaxBytes: 1 << 20}
		for p := range int32(parts) {
			req.Partitions = append(req.Partitions, replication.FetchPartition{
				TopicPartition: storage.TopicPartition{Topic: topic, Partition: p}, TopicID: tid,
				FetchOffset: offsets[p], CurrentLeaderEpoch: -1, LastFetchedEpoch: -1, MaxBytes: 1 << 20,
			})
		}
		resp, err := ep.Fetch(ctx, req)
		require.NoError(t, err)
		require.Len(t, resp.Partitions, parts)
		return resp
	}
	unchanged := func(resp *replication.FetchResponse) (out []bool) {
		for _, pr := range resp.Partitions {
			require.NoError(t, pr.Err)
			out = append(out, pr.Unchanged)
		}
		return out
	}

	require.Equal(t, []bool{false, false, false}, unchanged(fetch()), "the first fetch is full")
	require.Equal(t, []bool{true, true, true}, unchanged(fetch()), "nothing changed")

	cl, err := kgo.NewClient(kgo.SeedBrokers(n.addr), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	defer cl.Close()
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 1, Value: []byte("v")}).FirstErr())
	resp := fetch()
	require.Equal(t, []bool{true, false, true}, unchanged(resp), "only the partition with records")
	require.NotEmpty(t, resp.Partitions[1].Records)
	offsets[1] = 1
	// The follower's new offset moves the high watermark: news once more
	// (in the answer to this fetch or, as the high watermark is read
	// before the fetch records the follower's progress, the next).
	resp = fetch()
	if resp.Partitions[1].Unchanged {
		resp = fetch()
	}
	require.Equal(t, []bool{true, false, true}, unchanged(resp))
	require.Equal(t, int64(1), resp.Partitions[1].HighWatermark)
	require.Equal(t, []bool{true, true, true}, unchanged(fetch()))

	// The leader forgets the session (evicted, or restarted): the
	// follower opens a new one with a full fetch in the same call.
	b.fetchSessions.mu.Lock()
	require.Len(t, b.fetchSessions.sessions, 1)
	clear(b.fetchSessions.sessions)
	b.fetchSessions.mu.Unlock()
	require.Equal(t, []bool{false, false, false}, unchanged(fetch()))
	require.Equal(t, []bool{true, true, true}, unchanged(fetch()))
}
