package server

import (
	"context"
	"slices"
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
	const topic = "session-replicated"
	const parts = 3
	n, tid, ep := followerSession(t, topic, parts)
	b := n.broker
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
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

// followerSession starts a node leading topic's partitions with a second
// replica, broker 2, in the ISR, and returns the LeaderEndpoint broker 2's
// fetcher would use.
func followerSession(t *testing.T, topic string, parts int32) (*testNode, controller.TopicID, replication.LeaderEndpoint) {
	n := startTestNode(t)
	createTopic(t, n.addr, topic, parts, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tid := n.broker.image.Load().Topic(topic).ID
	for p := range parts {
		_, err := n.Controller().ChangePartition(ctx, controller.PartitionChange{
			TopicID: tid, Partition: p, Leader: controller.NoLeaderChange, Replicas: []int32{1, 2}, ISR: []int32{1, 2}, PartitionEpoch: -1,
		})
		require.NoError(t, err)
	}
	n.broker.syncImage()
	ep := replication.TCPEndpoints(replication.TCPConfig{NodeID: 2, Resolve: func(int32) (string, error) { return n.addr, nil }})(1)
	t.Cleanup(func() { _ = ep.(interface{ Close() error }).Close() })
	return n, tid, ep
}

// TestFollowerFetchSessionSparse: the replica fetcher's form of a session
// fetch: it says which entries of an unchanged list moved (Changed) and
// takes an answer of only the partitions with news (Sparse), each naming
// its entry; a list that changed otherwise is compared whole, and the
// partitions it dropped are forgotten by the leader's session.
func TestFollowerFetchSessionSparse(t *testing.T) {
	const topic = "session-sparse"
	const parts = 4
	n, tid, ep := followerSession(t, topic, parts)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	entries := make([]replication.FetchPartition, parts)
	for p := range int32(parts) {
		entries[p] = replication.FetchPartition{
			TopicPartition: storage.TopicPartition{Topic: topic, Partition: p}, TopicID: tid,
			CurrentLeaderEpoch: -1, LastFetchedEpoch: -1, MaxBytes: 1 << 20,
		}
	}
	type answer struct {
		index   int
		hw      int64
		records bool
	}
	fetch := func(list []replication.FetchPartition, changed []int) []answer {
		t.Helper()
		req := &replication.FetchRequest{ReplicaID: 2, BrokerEpoch: -1, MaxBytes: 1 << 20, Partitions: slices.Clone(list), Changed: changed, Sparse: true}
		resp, err := ep.Fetch(ctx, req)
		require.NoError(t, err)
		var out []answer
		for k, pr := range resp.Partitions {
			require.NoError(t, pr.Err)
			if pr.Unchanged {
				continue
			}
			if !resp.Sparse {
				require.Equal(t, k, pr.Index)
			}
			require.Equal(t, list[pr.Index].TopicPartition, pr.TopicPartition)
			out = append(out, answer{pr.Index, pr.HighWatermark, len(pr.Records) > 0})
		}
		slices.SortFunc(out, func(a, b answer) int { return a.index - b.index })
		return out
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.addr), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	defer cl.Close()
	produce := func(p int32) {
		t.Helper()
		require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte("v")}).FirstErr())
	}

	require.Len(t, fetch(entries, nil), parts, "the first fetch is full")
	require.Empty(t, fetch(entries, []int{}), "nothing changed")
	produce(2)
	require.Equal(t, []answer{{2, 0, true}}, fetch(entries, []int{}))
	entries[2].FetchOffset = 1
	got := fetch(entries, []int{2})
	if len(got) == 0 { // the high watermark moved after this fetch's read
		got = fetch(entries, []int{})
	}
	require.Equal(t, []answer{{2, 1, false}}, got)
	require.Empty(t, fetch(entries, []int{}))

	// Drop partition 0 (moved to another fetcher): its entries shift,
	// so the list goes without Changed and the leader forgets it.
	shorter := entries[1:]
	require.Empty(t, fetch(shorter, nil))
	produce(0)
	produce(3)
	require.Equal(t, []answer{{2, 0, true}}, fetch(shorter, []int{}), "partition 3, now entry 2; partition 0 is forgotten")
}
