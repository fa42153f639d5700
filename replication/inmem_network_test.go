package replication

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/protocol/records"
	"github.com/spool-broker/spool/storage"
)

// countingEndpoint answers every request and counts them.
type countingEndpoint struct{ calls atomic.Int32 }

func (c *countingEndpoint) Fetch(ctx context.Context, req *FetchRequest) (*FetchResponse, error) {
	c.calls.Add(1)
	return &FetchResponse{}, nil
}

func (c *countingEndpoint) OffsetForLeaderEpoch(ctx context.Context, req *OffsetForLeaderEpochRequest) (*OffsetForLeaderEpochResponse, error) {
	c.calls.Add(1)
	return &OffsetForLeaderEpochResponse{}, nil
}

func (c *countingEndpoint) ListOffsets(ctx context.Context, req *ListOffsetsRequest) (*ListOffsetsResponse, error) {
	c.calls.Add(1)
	return &ListOffsetsResponse{}, nil
}

func TestInmemNetworkFaults(t *testing.T) {
	type step struct {
		from, to  int32
		reached   bool // the target handled the request
		delivered bool // the caller got the answer
	}
	for _, tc := range []struct {
		name  string
		setup func(n *InmemNetwork)
		steps []step
	}{
		{"all up", func(n *InmemNetwork) {}, []step{{2, 1, true, true}, {1, 2, true, true}}},
		{"request direction cut", func(n *InmemNetwork) { n.SetLink(2, 1, Link{Drop: true}) },
			[]step{{2, 1, false, false}, {1, 2, true, false}, {3, 1, true, true}}},
		{"answer direction cut: handled, answer lost", func(n *InmemNetwork) { n.SetLink(1, 2, Link{Drop: true}) },
			[]step{{2, 1, true, false}}},
		{"broker disconnected", func(n *InmemNetwork) { n.Disconnect(1) },
			[]step{{2, 1, false, false}, {3, 1, false, false}, {2, 3, true, true}}},
		{"reconnected", func(n *InmemNetwork) { n.Disconnect(1); n.Connect(1) }, []step{{2, 1, true, true}}},
		{"partitioned {1} | {2,3}", func(n *InmemNetwork) { n.Partition([]int32{1}, []int32{2, 3}) },
			[]step{{2, 1, false, false}, {3, 1, false, false}, {1, 2, false, false}, {2, 3, true, true}, {3, 2, true, true}}},
		{"healed", func(n *InmemNetwork) { n.Partition([]int32{1}, []int32{2, 3}); n.Heal() },
			[]step{{2, 1, true, true}, {1, 3, true, true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := NewInmemNetwork(1)
			eps := map[int32]*countingEndpoint{1: {}, 2: {}, 3: {}}
			for id, ep := range eps {
				n.Register(id, ep)
			}
			tc.setup(n)
			for _, s := range tc.steps {
				before := eps[s.to].calls.Load()
				_, err := n.Endpoint(s.from, s.to).Fetch(context.Background(), &FetchRequest{ReplicaID: s.from})
				if s.delivered {
					require.NoError(t, err, "%d→%d", s.from, s.to)
				} else {
					require.ErrorIs(t, err, ErrUnreachable, "%d→%d", s.from, s.to)
				}
				reached := eps[s.to].calls.Load() > before
				require.Equal(t, s.reached, reached, "%d→%d reached", s.from, s.to)
			}
		})
	}
}

func TestInmemNetworkDelayAndDropRate(t *testing.T) {
	n := NewInmemNetwork(7)
	ep := &countingEndpoint{}
	n.Register(1, ep)
	n.SetLink(2, 1, Link{Delay: 30 * time.Millisecond})
	n.SetLink(1, 2, Link{Delay: 20 * time.Millisecond})
	start := time.Now()
	_, err := n.Endpoint(2, 1).ListOffsets(context.Background(), &ListOffsetsRequest{})
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond, "both directions delayed")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = n.Endpoint(2, 1).OffsetForLeaderEpoch(ctx, &OffsetForLeaderEpochRequest{})
	require.ErrorIs(t, err, context.Canceled, "a delayed request gives up with its context")

	n.SetLink(3, 1, Link{DropRate: 0.5})
	for range 200 {
		_, _ = n.Endpoint(3, 1).Fetch(context.Background(), &FetchRequest{})
	}
	st := n.Stats(3, 1)
	require.Equal(t, 200, st.Delivered+st.Dropped)
	require.InDelta(t, 100, st.Dropped, 40, "about half dropped: %+v", st)

	_, err = n.Endpoint(1, 9).Fetch(context.Background(), &FetchRequest{})
	require.ErrorIs(t, err, ErrUnreachable, "no broker 9")
}

// TestFollowerFetchThroughNetwork drives the leader side of replication
// over the in-memory network: a follower's long-polling fetch wakes on
// append, its next fetch moves the high watermark and completes the
// acks=all append; OffsetForLeaderEpoch and ListOffsets answer as a
// leader does for a replica, and a cut link stalls the append until healed.
func TestFollowerFetchThroughNetwork(t *testing.T) {
	ctrl := NewInmemController()
	leader := newTestNode(t, 1, t.TempDir(), NewManualClock(time.Unix(1000, 0)), ctrl)
	p := leader.open(2, LeaderAndISR{Leader: 1, LeaderEpoch: 3, PartitionEpoch: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}})
	net := NewInmemNetwork(1)
	net.Register(1, leader.m)
	ep := net.Endpoint(2, 1)
	ctx := context.Background()

	fetch := func(offset int64, wait time.Duration) FetchPartitionResponse {
		t.Helper()
		resp, err := ep.Fetch(ctx, &FetchRequest{ReplicaID: 2, BrokerEpoch: -1, MaxWait: wait, MinBytes: 1, MaxBytes: 1 << 20,
			Partitions: []FetchPartition{{TopicPartition: testTP, FetchOffset: offset, CurrentLeaderEpoch: 3, LastFetchedEpoch: -1, MaxBytes: 1 << 20}}})
		require.NoError(t, err)
		require.Len(t, resp.Partitions, 1)
		require.NoError(t, resp.Partitions[0].Err)
		return resp.Partitions[0]
	}

	polled := make(chan FetchPartitionResponse, 1)
	go func() { polled <- fetch(0, 10*time.Second) }()
	require.Eventually(t, func() bool { // the fetch is parked on the partition
		p.replicaFetches.mu.Lock()
		defer p.replicaFetches.mu.Unlock()
		return len(p.replicaFetches.waiters) == 1
	}, 10*time.Second, time.Millisecond)
	res, err := p.AppendAsLeader(batch(t, 4), AppendOptions{RequiredAcks: -1})
	require.NoError(t, err)
	acked := waitAsync(ctx, res)
	var got FetchPartitionResponse
	select {
	case got = <-polled:
	case <-time.After(10 * time.Second):
		t.Fatal("the long-polling follower fetch was not woken by the append")
	}
	require.NotEmpty(t, got.Records)
	h, err := records.ParseHeader(got.Records)
	require.NoError(t, err)
	require.Equal(t, int32(3), h.PartitionLeaderEpoch)
	require.Equal(t, int64(3), h.LastOffset())
	requireNotDone(t, acked)

	// The follower's next fetch says it has offsets 0-3; as in Kafka,
	// the answer carries the high watermark from before that news, and
	// the follower learns the new one on the fetch after.
	got = fetch(4, 0)
	require.Empty(t, got.Records)
	require.Equal(t, int64(0), got.HighWatermark)
	require.Equal(t, int64(4), p.Log().HighWatermark())
	require.NoError(t, requireDone(t, acked))
	require.Equal(t, int64(4), fetch(4, 0).HighWatermark)

	oe, err := ep.OffsetForLeaderEpoch(ctx, &OffsetForLeaderEpochRequest{ReplicaID: 2, Partitions: []OffsetForLeaderEpochPartition{
		{TopicPartition: testTP, CurrentLeaderEpoch: 3, LeaderEpoch: 3},
		{TopicPartition: testTP, CurrentLeaderEpoch: 2, LeaderEpoch: 3},
		{TopicPartition: storage.TopicPartition{Topic: "nope"}, CurrentLeaderEpoch: 3, LeaderEpoch: 3},
	}})
	require.NoError(t, err)
	require.NoError(t, oe.Partitions[0].Err)
	require.Equal(t, EpochEndOffset{Epoch: 3, EndOffset: 4}, oe.Partitions[0].EpochEndOffset)
	require.ErrorIs(t, oe.Partitions[1].Err, ErrFencedLeaderEpoch)
	require.ErrorIs(t, oe.Partitions[2].Err, ErrUnknownTopicOrPartition)

	lo, err := ep.ListOffsets(ctx, &ListOffsetsRequest{ReplicaID: 2, Partitions: []ListOffsetsPartition{
		{TopicPartition: testTP, CurrentLeaderEpoch: 3, Timestamp: LatestTimestamp},
		{TopicPartition: testTP, CurrentLeaderEpoch: 3, Timestamp: EarliestTimestamp},
	}})
	require.NoError(t, err)
	require.Equal(t, int64(4), lo.Partitions[0].Offset)
	require.Equal(t, int64(0), lo.Partitions[1].Offset)
	require.Equal(t, int32(3), lo.Partitions[1].LeaderEpoch)

	// The leader is cut off from its follower: an acks=all append stays
	// uncommitted until the link heals and the follower fetches again.
	net.Partition([]int32{1}, []int32{2})
	res, err = p.AppendAsLeader(batch(t, 1), AppendOptions{RequiredAcks: -1})
	require.NoError(t, err)
	acked = waitAsync(ctx, res)
	_, err = ep.Fetch(ctx, &FetchRequest{ReplicaID: 2, BrokerEpoch: -1, MaxBytes: 1 << 20,
		Partitions: []FetchPartition{{TopicPartition: testTP, FetchOffset: 5, CurrentLeaderEpoch: 3, LastFetchedEpoch: 3, MaxBytes: 1 << 20}}})
	require.ErrorIs(t, err, ErrUnreachable)
	requireNotDone(t, acked)
	net.Heal()
	fetch(5, 0)
	require.NoError(t, requireDone(t, acked))
	require.Equal(t, int64(5), p.Log().HighWatermark())
}
