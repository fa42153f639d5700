package replication

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/protocol/records"
	"github.com/spool-broker/spool/storage"
)

func TestRackAwareReplicaSelector(t *testing.T) {
	rack := func(s string) *string { return &s }
	v := func(id int32, r string, leo, since int64) ReplicaView {
		var rp *string
		if r != "" {
			rp = rack(r)
		}
		return ReplicaView{ID: id, HasEndpoint: true, Rack: rp, LogEndOffset: leo, TimeSinceLastCaughtUpMs: since}
	}
	leader := v(1, "a", 100, 0)
	for _, tc := range []struct {
		name     string
		client   string
		replicas []ReplicaView
		want     int32
	}{
		{"no client rack", "", []ReplicaView{v(2, "b", 100, 0), leader}, 1},
		{"leader in the client's rack", "a", []ReplicaView{v(2, "a", 100, 0), leader}, 1},
		{"no replica in the client's rack", "c", []ReplicaView{v(2, "b", 100, 0), leader}, 1},
		{"one replica in the rack", "b", []ReplicaView{v(2, "b", 90, 0), v(3, "c", 100, 0), leader}, 2},
		{"the highest log end", "b", []ReplicaView{v(2, "b", 90, 0), v(3, "b", 95, 50), leader}, 3},
		{"then the most recently caught up", "b", []ReplicaView{v(2, "b", 95, 40), v(3, "b", 95, 50), leader}, 2},
		{"a replica without a rack", "b", []ReplicaView{v(2, "", 100, 0), leader}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := RackAwareReplicaSelector{}.Select(ClientMetadata{RackID: tc.client}, leader, tc.replicas)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestNewReplicaSelector(t *testing.T) {
	sel, err := NewReplicaSelector("")
	require.NoError(t, err)
	require.Nil(t, sel)
	sel, err = NewReplicaSelector(RackAwareReplicaSelectorClass)
	require.NoError(t, err)
	require.Equal(t, RackAwareReplicaSelector{}, sel)
	_, err = NewReplicaSelector("com.example.MySelector")
	require.ErrorContains(t, err, "com.example.MySelector")
}

// TestPreferredReadReplica: the leader proposes only in-sync followers
// whose log covers the fetch offset and whose broker has an endpoint, and
// never itself.
func TestPreferredReadReplica(t *testing.T) {
	n := newTestNode(t, 1, t.TempDir(), NewManualClock(time.Unix(1000, 0)), NewInmemController())
	p := n.open(1, LeaderAndISR{Leader: 1, LeaderEpoch: 4, PartitionEpoch: 1, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2}})
	_, err := p.AppendAsLeader(batch(t, 5), AppendOptions{RequiredAcks: 1})
	require.NoError(t, err)
	fetchAs(t, p, 2, 5)
	fetchAs(t, p, 3, 2) // behind the high watermark: it stays out of the ISR
	racks := map[int32]string{1: "r1", 2: "r2", 3: "r3"}
	live := map[int32]bool{1: true, 2: true, 3: true}
	endpoint := func(id int32) (*string, bool) {
		r := racks[id]
		return &r, live[id]
	}
	sel := RackAwareReplicaSelector{}
	pick := func(rack string, offset int64, epoch int32) int32 {
		id, snap := p.PreferredReadReplica(sel, ClientMetadata{RackID: rack}, offset, epoch, endpoint)
		if id >= 0 {
			require.Equal(t, OffsetSnapshot{HighWatermark: 5, LastStableOffset: 5, LogStartOffset: 0, LogEndOffset: 5}, snap)
		}
		return id
	}
	require.Equal(t, int32(2), pick("r2", 3, 4), "in-sync follower in the client's rack")
	require.Equal(t, int32(2), pick("r2", 5, -1), "at its log end, epoch unchecked")
	require.Equal(t, int32(-1), pick("r2", 6, 4), "past its log end")
	require.Equal(t, int32(-1), pick("r3", 1, 4), "3 has offset 1 but is not in the ISR")
	require.Equal(t, int32(-1), pick("r1", 3, 4), "the leader is in the client's rack")
	require.Equal(t, int32(-1), pick("r2", 3, 3), "stale epoch: Read answers")
	id, _ := p.PreferredReadReplica(nil, ClientMetadata{RackID: "r2"}, 3, 4, endpoint)
	require.Equal(t, int32(-1), id, "no selector configured")
	live[2] = false
	require.Equal(t, int32(-1), pick("r2", 3, 4), "2 is fenced")
}

// TestFollowerServesConsumers: a follower serves a consumer read that any
// replica may serve up to its own high watermark (last stable offset for
// read_committed), refuses one past its log end, checks leader epochs,
// and refuses leader-only reads; a high watermark move wakes a parked
// consumer fetch.
func TestFollowerServesConsumers(t *testing.T) {
	n := newTestNode(t, 2, t.TempDir(), NewManualClock(time.Unix(1000, 0)), nil)
	p := n.open(1, LeaderAndISR{Leader: 1, LeaderEpoch: 4, PartitionEpoch: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}})
	batchAt := func(base int64, count int) []byte {
		b := batch(t, count)
		records.SetBaseOffset(b, base)
		return b
	}
	data := append(batchAt(0, 2), batchAt(2, 3)...)
	out, err := p.AppendAsFollower(FollowerData{LeaderEpoch: 4, Records: data, HighWatermark: 2, LogStartOffset: 0})
	require.NoError(t, err)
	require.Equal(t, int64(5), out.LogEndOffset)
	require.Equal(t, int64(2), out.HighWatermark)

	read := func(offset int64, epoch int32, any bool) (ReadInfo, error) {
		return p.Read(ReadOptions{FetchOffset: offset, MaxBytes: 1 << 20, MinOneBatch: true, ReplicaID: -1, BrokerEpoch: -1,
			CurrentLeaderEpoch: epoch, LastFetchedEpoch: -1, AnyReplica: any})
	}
	info, err := read(0, 4, true)
	require.NoError(t, err)
	require.Equal(t, int64(2), info.HighWatermark)
	require.Equal(t, len(batchAt(0, 2)), info.Size, "the first batch only: the second is above the high watermark")
	info, err = read(3, 4, true)
	require.NoError(t, err, "between the high watermark and the log end: nothing yet")
	require.Zero(t, info.Size)
	_, err = read(6, 4, true)
	require.ErrorIs(t, err, storage.ErrOffsetOutOfRange)
	_, err = read(0, 3, true)
	require.ErrorIs(t, err, ErrFencedLeaderEpoch)
	_, err = read(0, 5, true)
	require.ErrorIs(t, err, ErrUnknownLeaderEpoch)
	_, err = read(0, 4, false)
	require.ErrorIs(t, err, ErrNotLeader, "a leader-only read")
	epoch, err := p.CheckReplica(4)
	require.NoError(t, err)
	require.Equal(t, int32(4), epoch)

	// A parked consumer fetch wakes when the follower's high watermark
	// moves.
	wake := make(chan struct{}, 1)
	p.WatchFetch(wake, false)
	defer p.UnwatchFetch(wake, false)
	_, err = p.AppendAsFollower(FollowerData{LeaderEpoch: 4, HighWatermark: 5, LogStartOffset: 0})
	require.NoError(t, err)
	select {
	case <-wake:
	case <-time.After(10 * time.Second):
		t.Fatal("a consumer fetch parked on the follower did not wake")
	}
	info, err = read(2, 4, true)
	require.NoError(t, err)
	require.Equal(t, len(batchAt(2, 3)), info.Size)
}
