package node_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// TestFetchFromFollower runs KIP-392 on three in-process nodes, node i in
// rack<i>, with Kafka's RackAwareReplicaSelector: Metadata reports the
// racks; the leader sends a consumer of another rack's follower there (no
// records, the leader's offsets); a franz-go consumer with client.rack reads
// every record from that follower; a follower answers a consumer's Fetch
// v11+ and refuses what Kafka refuses (older versions, stale or future
// leader epochs, offsets past its log end); ListOffsets stays at the leader.
func TestFetchFromFollower(t *testing.T) {
	c := newTestCluster(t, []clusterSpec{
		{1, "broker,controller", "voters"}, {2, "broker,controller", "voters"}, {3, "broker,controller", "voters"},
	}, "KAFKA_REPLICA_SELECTOR_CLASS=org.apache.kafka.common.replica.RackAwareReplicaSelector")
	for id := int32(1); id <= 3; id++ {
		c.start(id, fmt.Sprintf("KAFKA_BROKER_RACK=rack%d", id))
	}
	for id := int32(1); id <= 3; id++ {
		c.waitReady(id)
	}
	c.waitImages("brokers unfenced", unfenced(1, 2, 3))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const topic = "follower-reads"
	seeds := []string{c.nodes[1].addr(), c.nodes[2].addr(), c.nodes[3].addr()}
	c.createTopic(ctx, newAdmin(t, seeds[0]), 1, 3, topic)
	fullISR := func(img *controller.MetadataImage) bool {
		tp := img.Topic(topic)
		return tp != nil && len(tp.Partitions[0].ISR) == 3 && tp.Partitions[0].Leader >= 0
	}
	c.waitImages("ISR of 3", fullISR)
	// Restart the first leader, so the leader epoch is above 0 and a
	// stale one can be sent.
	first := c.image().Topic(topic).Partitions[0].Leader
	c.stop(first)
	c.start(first, fmt.Sprintf("KAFKA_BROKER_RACK=rack%d", first))
	c.waitReady(first)
	c.waitImages("ISR of 3 again", fullISR)
	part := c.image().Topic(topic).Partitions[0]
	require.Positive(t, part.LeaderEpoch)
	leader, epoch := part.Leader, part.LeaderEpoch
	follower := part.Replicas[0]
	if follower == leader {
		follower = part.Replicas[1]
	}
	followerRack := fmt.Sprintf("rack%d", follower)

	// Metadata names every broker's rack.
	md := rawMetadata(t, c.nodes[follower].addr())
	require.Len(t, md.Brokers, 3)
	for _, b := range md.Brokers {
		require.NotNil(t, b.Rack, "broker %d", b.NodeID)
		require.Equal(t, fmt.Sprintf("rack%d", b.NodeID), *b.Rack)
	}

	const n = 50
	prod, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))
	require.NoError(t, err)
	defer prod.Close()
	for i := range n {
		require.NoError(t, prod.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "r%d", i)}).FirstErr())
	}
	topicID := protocol.UUID(c.image().Topic(topic).ID)

	fetch := func(addr string, version int16, rack string, offset int64, leaderEpoch int32) protocol.FetchResponsePartitionData {
		t.Helper()
		req := &protocol.FetchRequest{
			ReplicaID: -1, MaxWaitMs: 0, MinBytes: 1, MaxBytes: 1 << 20, RackID: rack, SessionEpoch: -1,
			Topics: []protocol.FetchRequestFetchTopic{{
				Topic: topic, TopicID: topicID,
				Partitions: []protocol.FetchRequestFetchPartition{{
					Partition: 0, CurrentLeaderEpoch: leaderEpoch, FetchOffset: offset, LastFetchedEpoch: -1, LogStartOffset: -1, PartitionMaxBytes: 1 << 20,
				}},
			}},
		}
		req.ReplicaState.ReplicaID, req.ReplicaState.ReplicaEpoch = -1, -1
		resp := rawRequest(t, addr, version, req).(*protocol.FetchResponse)
		require.Zero(t, resp.ErrorCode)
		require.Len(t, resp.Responses, 1)
		require.Len(t, resp.Responses[0].Partitions, 1)
		return resp.Responses[0].Partitions[0]
	}
	// Every replica has all n records committed before the checks below.
	require.Eventually(t, func() bool {
		for _, id := range part.Replicas {
			if pd := fetch(c.nodes[id].addr(), 12, "", 0, epoch); pd.ErrorCode != 0 || pd.HighWatermark != n {
				return false
			}
		}
		return true
	}, 30*time.Second, 20*time.Millisecond, "every replica's high watermark at %d", n)

	leaderAddr, followerAddr := c.nodes[leader].addr(), c.nodes[follower].addr()
	t.Run("leader", func(t *testing.T) {
		// A consumer in the follower's rack is sent there, at once.
		pd := fetch(leaderAddr, 12, followerRack, 0, epoch)
		require.Equal(t, int16(0), pd.ErrorCode)
		require.Equal(t, protocol.BrokerID(follower), pd.PreferredReadReplica)
		require.Empty(t, pd.Records)
		require.Equal(t, int64(n), pd.HighWatermark)
		require.Equal(t, int64(n), pd.LastStableOffset)
		// In the leader's rack, without a rack, in an unknown rack, or
		// before v11: records from the leader.
		for _, tc := range []struct {
			v    int16
			rack string
		}{{12, fmt.Sprintf("rack%d", leader)}, {12, ""}, {12, "rack9"}, {10, followerRack}} {
			pd := fetch(leaderAddr, tc.v, tc.rack, 0, epoch)
			require.Equal(t, int16(0), pd.ErrorCode, "%+v", tc)
			require.Equal(t, protocol.BrokerID(-1), pd.PreferredReadReplica, "%+v", tc)
			require.NotEmpty(t, pd.Records, "%+v", tc)
		}
	})
	t.Run("follower", func(t *testing.T) {
		pd := fetch(followerAddr, 12, followerRack, 0, epoch)
		require.Equal(t, int16(0), pd.ErrorCode)
		require.Equal(t, protocol.BrokerID(-1), pd.PreferredReadReplica)
		require.NotEmpty(t, pd.Records)
		require.Equal(t, int64(n), pd.HighWatermark)
		for _, tc := range []struct {
			name   string
			v      int16
			offset int64
			epoch  int32
			want   int16
		}{
			{"at the high watermark", 12, n, epoch, 0},
			{"unchecked epoch", 12, 1, -1, 0},
			{"before v11", 10, 0, epoch, errcode.NotLeaderOrFollower},
			{"past the log end", 12, n + 1, epoch, errcode.OffsetOutOfRange},
			{"stale epoch", 16, 0, epoch - 1, errcode.FencedLeaderEpoch},
			{"stale epoch before v16", 12, 0, epoch - 1, errcode.FencedLeaderEpoch},
			{"future epoch", 16, 0, epoch + 1, errcode.UnknownLeaderEpoch},
		} {
			pd := fetch(followerAddr, tc.v, "", tc.offset, tc.epoch)
			require.Equal(t, tc.want, pd.ErrorCode, tc.name)
			// Kafka names the leader from v16, for these two errors.
			wantLeader := protocol.BrokerID(-1)
			if tc.v >= 16 && (tc.want == errcode.NotLeaderOrFollower || tc.want == errcode.FencedLeaderEpoch) {
				wantLeader = protocol.BrokerID(leader)
			}
			require.Equal(t, wantLeader, pd.CurrentLeader.LeaderID, tc.name)
		}
		// ListOffsets stays at the leader.
		lo := rawRequest(t, followerAddr, 7, &protocol.ListOffsetsRequest{
			ReplicaID: -1,
			Topics: []protocol.ListOffsetsRequestListOffsetsTopic{{
				Name: topic, Partitions: []protocol.ListOffsetsRequestListOffsetsPartition{{PartitionIndex: 0, CurrentLeaderEpoch: -1, Timestamp: -1}},
			}},
		}).(*protocol.ListOffsetsResponse)
		require.Equal(t, errcode.NotLeaderOrFollower, lo.Topics[0].Partitions[0].ErrorCode)
	})

	// franz-go with client.rack reads everything from the follower: the
	// leader's first answer sends it there, without records.
	var mu sync.Mutex
	servedBy := map[int32]int{}
	cons, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.Rack(followerRack),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.WithHooks(fetchServedBy(func(node int32, records int) {
			mu.Lock()
			servedBy[node] += records
			mu.Unlock()
		})))
	require.NoError(t, err)
	defer cons.Close()
	var got []string
	for len(got) < n {
		fs := cons.PollFetches(ctx)
		require.NoError(t, ctx.Err())
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("fetch error: %v", err) })
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("r%d", i)
	}
	require.Equal(t, want, got)
	mu.Lock()
	require.Equal(t, map[int32]int{follower: n}, servedBy, "records per serving broker")
	mu.Unlock()

	// Records produced while it reads from the follower arrive too: the
	// follower's high watermark moves wake its parked fetch.
	for i := n; i < n+5; i++ {
		require.NoError(t, prod.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "r%d", i)}).FirstErr())
	}
	for len(got) < n+5 {
		fs := cons.PollFetches(ctx)
		require.NoError(t, ctx.Err())
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	require.Equal(t, "r54", got[len(got)-1])
	mu.Lock()
	require.Equal(t, map[int32]int{follower: n + 5}, servedBy, "records per serving broker")
	mu.Unlock()
	require.True(t, slices.Contains(part.Replicas, follower))
}

// fetchServedBy is a kgo hook reporting how many records each broker's
// fetch responses delivered.
type fetchServedBy func(node int32, records int)

func (f fetchServedBy) OnFetchBatchRead(meta kgo.BrokerMetadata, _ string, _ int32, m kgo.FetchBatchMetrics) {
	f(meta.NodeID, m.NumRecords)
}
