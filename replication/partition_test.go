package replication

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/protocol/records"
	"github.com/spool-broker/spool/storage"
)

// testNode is one broker's replication side over a real storage.Manager in
// a temp dir.
type testNode struct {
	t          testing.TB
	id         int32
	dir        string
	logManager *storage.Manager
	m          *Manager
	clock      *ManualClock
	ctrl       *InmemController
}

var testTP = storage.TopicPartition{Topic: "orders", Partition: 0}

func newTestNode(t testing.TB, id int32, dir string, clock *ManualClock, ctrl *InmemController) *testNode {
	t.Helper()
	logs, err := storage.NewManager(storage.ManagerConfig{Dirs: []string{dir}, Default: storage.DefaultConfig()}, zaptest.NewLogger(t))
	require.NoError(t, err)
	n := &testNode{t: t, id: id, dir: dir, logManager: logs, clock: clock, ctrl: ctrl}
	var sender AlterPartitionSender
	if ctrl != nil {
		sender = ctrl
	}
	n.m = NewManager(Config{NodeID: id, Clock: clock, AlterPartition: sender, AlterPartitionRetryBackoff: time.Millisecond}, logs, zaptest.NewLogger(t))
	t.Cleanup(n.close)
	return n
}

func (n *testNode) close() {
	if n.m != nil {
		n.m.Close()
		require.NoError(n.t, n.logManager.Close())
		n.m = nil
	}
}

// open hosts testTP with min.insync.replicas minISR and applies st.
func (n *testNode) open(minISR int32, st LeaderAndISR) *Partition {
	n.t.Helper()
	p, err := n.m.Open(testTP, [16]byte{1}, storage.DefaultConfig(), &config.LogSettings{MinInsyncReplicas: minISR})
	require.NoError(n.t, err)
	if n.ctrl != nil {
		n.ctrl.Set(testTP, st)
	}
	n.m.Apply(p, st)
	return p
}

func batch(t testing.TB, n int) []byte {
	t.Helper()
	recs := make([]records.Record, n)
	now := time.Now().UnixMilli()
	for i := range recs {
		recs[i] = records.Record{Timestamp: now, Key: []byte(fmt.Sprint(i)), Value: []byte("v")}
	}
	b, err := records.AppendBatch(nil, records.NewBatchOptions(), recs)
	require.NoError(t, err)
	return b
}

// fetchAs simulates follower id fetching from offset (its log end).
func fetchAs(t *testing.T, p *Partition, id int32, offset int64) ReadInfo {
	t.Helper()
	info, err := p.Read(ReadOptions{FetchOffset: offset, MaxBytes: 1 << 20, MinOneBatch: true, ReplicaID: id, BrokerEpoch: -1,
		CurrentLeaderEpoch: -1, LastFetchedEpoch: -1})
	require.NoError(t, err)
	return info
}

// waitAsync runs res.Wait on a goroutine; the channel gets its result.
func waitAsync(ctx context.Context, res AppendResult) chan error {
	ch := make(chan error, 1)
	go func() { ch <- res.Wait(ctx) }()
	return ch
}

func requireNotDone(t *testing.T, ch chan error) {
	t.Helper()
	select {
	case err := <-ch:
		t.Fatalf("acks=all append completed early: %v", err)
	default:
	}
}

func requireDone(t *testing.T, ch chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("acks=all append never completed")
		return nil
	}
}

func TestSingleReplicaCommitsOnAppend(t *testing.T) {
	n := newTestNode(t, 1, t.TempDir(), NewManualClock(time.Unix(1000, 0)), nil)
	p := n.open(2, LeaderAndISR{Leader: 1, LeaderEpoch: 3, PartitionEpoch: 1, Replicas: []int32{1}, ISR: []int32{1}})
	for _, acks := range []int16{-1, 1, 0} {
		res, err := p.AppendAsLeader(batch(t, 3), AppendOptions{RequiredAcks: acks})
		require.NoError(t, err, "acks %d (min.insync.replicas 2 is capped by RF 1)", acks)
		require.NoError(t, res.Wait(context.Background()))
		require.Equal(t, res.LastOffset+1, p.Log().HighWatermark(), "ISR {self}: the high watermark is the log end")
	}
	require.Equal(t, int64(9), p.Log().LogEndOffset())
	entries := p.Log().LeaderEpochCache().Entries()
	require.Equal(t, int32(3), entries[len(entries)-1].Epoch, "appended under the leader epoch")
}

// TestAcksAllWaitsForFollowers: with ISR {1,2,3} an acks=all append returns
// once both followers' fetch positions cover it, and the high watermark is
// the smallest log end in the ISR.
func TestAcksAllWaitsForFollowers(t *testing.T) {
	n := newTestNode(t, 1, t.TempDir(), NewManualClock(time.Unix(1000, 0)), NewInmemController())
	p := n.open(2, LeaderAndISR{Leader: 1, LeaderEpoch: 1, PartitionEpoch: 1, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}})
	fetchAs(t, p, 2, 0)
	fetchAs(t, p, 3, 0)

	res, err := p.AppendAsLeader(batch(t, 5), AppendOptions{RequiredAcks: -1})
	require.NoError(t, err)
	require.Equal(t, int64(0), p.Log().HighWatermark())
	done := waitAsync(context.Background(), res)

	// A consumer sees nothing beyond the high watermark; a follower reads
	// to the log end.
	info, err := p.Read(ReadOptions{FetchOffset: 0, MaxBytes: 1 << 20, MinOneBatch: true, ReplicaID: -1, CurrentLeaderEpoch: -1, LastFetchedEpoch: -1})
	require.NoError(t, err)
	require.Zero(t, info.Size)
	got := fetchAs(t, p, 2, 0)
	require.Positive(t, got.Size)

	fetchAs(t, p, 2, 5) // follower 2 has it all
	require.Equal(t, int64(0), p.Log().HighWatermark(), "follower 3 holds the high watermark")
	requireNotDone(t, done)
	fetchAs(t, p, 3, 3)
	require.Equal(t, int64(3), p.Log().HighWatermark())
	requireNotDone(t, done)
	fetchAs(t, p, 3, 5)
	require.Equal(t, int64(5), p.Log().HighWatermark())
	require.NoError(t, requireDone(t, done))

	// acks=1 returns at once; the high watermark still waits.
	res, err = p.AppendAsLeader(batch(t, 1), AppendOptions{RequiredAcks: 1})
	require.NoError(t, err)
	require.NoError(t, res.Wait(context.Background()))
	require.Equal(t, int64(5), p.Log().HighWatermark())

	// Nothing asked of the controller: the ISR was complete throughout.
	require.Empty(t, n.ctrl.Requests())
}

// TestAcksAllTimesOut: an acks=all append the followers never fetch gets
// ErrTimedOut and leaves no waiter behind.
func TestAcksAllTimesOut(t *testing.T) {
	n := newTestNode(t, 1, t.TempDir(), NewManualClock(time.Unix(1000, 0)), NewInmemController())
	p := n.open(1, LeaderAndISR{Leader: 1, LeaderEpoch: 1, PartitionEpoch: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}})
	res, err := p.AppendAsLeader(batch(t, 1), AppendOptions{RequiredAcks: -1})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, res.Wait(ctx), ErrTimedOut)
	p.hwMu.Lock()
	require.Empty(t, p.acks)
	p.hwMu.Unlock()
}

func TestMinISRRefusesBeforeAppend(t *testing.T) {
	n := newTestNode(t, 1, t.TempDir(), NewManualClock(time.Unix(1000, 0)), NewInmemController())
	p := n.open(2, LeaderAndISR{Leader: 1, LeaderEpoch: 1, PartitionEpoch: 1, Replicas: []int32{1, 2, 3}, ISR: []int32{1}})
	_, err := p.AppendAsLeader(batch(t, 2), AppendOptions{RequiredAcks: -1})
	require.ErrorIs(t, err, ErrNotEnoughReplicas)
	require.Equal(t, int64(0), p.Log().LogEndOffset(), "nothing written")

	// acks=1 is written, but under min ISR the high watermark stays
	// (KIP-966), so consumers do not see it.
	res, err := p.AppendAsLeader(batch(t, 2), AppendOptions{RequiredAcks: 1})
	require.NoError(t, err)
	require.NoError(t, res.Wait(context.Background()))
	require.Equal(t, int64(2), p.Log().LogEndOffset())
	require.Equal(t, int64(0), p.Log().HighWatermark())
}

// TestISRShrinkAfterLag: a follower that stops fetching leaves the ISR once
// the clock passes replica.lag.time.max.ms, through AlterPartition; the
// high watermark then moves without it and the waiting append completes.
func TestISRShrinkAfterLag(t *testing.T) {
	clock := NewManualClock(time.Unix(1000, 0))
	n := newTestNode(t, 1, t.TempDir(), clock, NewInmemController())
	p := n.open(2, LeaderAndISR{Leader: 1, LeaderEpoch: 1, PartitionEpoch: 5, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}})
	res, err := p.AppendAsLeader(batch(t, 4), AppendOptions{RequiredAcks: -1})
	require.NoError(t, err)
	done := waitAsync(context.Background(), res)
	fetchAs(t, p, 2, 4)
	fetchAs(t, p, 3, 1) // 3 fetches once, then stalls

	clock.Advance(30 * time.Second)
	fetchAs(t, p, 2, 4)
	n.m.MaybeShrinkISRs()
	require.Empty(t, n.ctrl.Requests(), "exactly replica.lag.time.max.ms is not too late")
	requireNotDone(t, done)

	clock.Advance(time.Millisecond)
	fetchAs(t, p, 2, 4)
	n.m.MaybeShrinkISRs()
	require.Eventually(t, func() bool {
		st := p.State()
		return !st.AlterPartitionInFlight && len(st.ISR) == 2
	}, 10*time.Second, time.Millisecond)
	reqs := n.ctrl.Requests()
	require.Len(t, reqs, 1)
	require.Equal(t, AlterPartitionRequest{BrokerID: 1, BrokerEpoch: -1, TopicPartition: testTP, TopicID: [16]byte{1},
		LeaderEpoch: 1, PartitionEpoch: 5, ISR: []int32{1, 2}}, reqs[0])
	st := p.State()
	require.Equal(t, []int32{1, 2}, st.ISR)
	require.Equal(t, int32(6), st.PartitionEpoch)
	require.Equal(t, int64(4), st.HighWatermark)
	require.NoError(t, requireDone(t, done))
}

// TestISRShrinkWhileWaitingTimesOut: when the ISR shrinks below
// min.insync.replicas with an acks=all append waiting, the high watermark
// freezes and the append times out (Kafka 4.3).
func TestISRShrinkWhileWaitingTimesOut(t *testing.T) {
	clock := NewManualClock(time.Unix(1000, 0))
	n := newTestNode(t, 1, t.TempDir(), clock, NewInmemController())
	p := n.open(2, LeaderAndISR{Leader: 1, LeaderEpoch: 1, PartitionEpoch: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}})
	res, err := p.AppendAsLeader(batch(t, 1), AppendOptions{RequiredAcks: -1})
	require.NoError(t, err)
	clock.Advance(31 * time.Second)
	n.m.MaybeShrinkISRs()
	require.Eventually(t, func() bool { return len(p.State().ISR) == 1 }, 10*time.Second, time.Millisecond)
	require.Equal(t, int64(0), p.Log().HighWatermark())
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, res.Wait(ctx), ErrTimedOut)
	_, err = p.AppendAsLeader(batch(t, 1), AppendOptions{RequiredAcks: -1})
	require.ErrorIs(t, err, ErrNotEnoughReplicas)
}

// TestISRExpand: a follower outside the ISR that reaches the high watermark
// and the leader epoch's start is proposed for the ISR; while the change is
// in flight it already counts for the high watermark.
func TestISRExpand(t *testing.T) {
	ctrl := NewInmemController()
	n := newTestNode(t, 1, t.TempDir(), NewManualClock(time.Unix(1000, 0)), ctrl)
	// The log has data from an earlier epoch, so this epoch starts at 3.
	p := n.open(1, LeaderAndISR{Leader: 1, LeaderEpoch: 1, PartitionEpoch: 1, Replicas: []int32{1, 2}, ISR: []int32{1}})
	_, err := p.AppendAsLeader(batch(t, 3), AppendOptions{RequiredAcks: 1})
	require.NoError(t, err)
	st := LeaderAndISR{Leader: 1, LeaderEpoch: 2, PartitionEpoch: 2, Replicas: []int32{1, 2}, ISR: []int32{1}}
	ctrl.Set(testTP, st)
	n.m.Apply(p, st)
	require.Equal(t, int64(3), p.Log().HighWatermark())

	fetchAs(t, p, 2, 2) // behind the high watermark: not yet
	require.Empty(t, ctrl.Requests())
	ctrl.FailNext(fmt.Errorf("controller moved: %w", ErrInvalidUpdateVersion))
	fetchAs(t, p, 2, 3)
	require.Eventually(t, func() bool { return len(ctrl.Requests()) == 1 }, 10*time.Second, time.Millisecond)
	s := p.State()
	require.True(t, s.AlterPartitionInFlight, "INVALID_UPDATE_VERSION waits for metadata")
	require.Equal(t, []int32{1}, s.ISR)
	require.Equal(t, []int32{1, 2}, s.MaximalISR)

	// The member being added holds the high watermark back.
	_, err = p.AppendAsLeader(batch(t, 2), AppendOptions{RequiredAcks: 1})
	require.NoError(t, err)
	require.Equal(t, int64(3), p.Log().HighWatermark())

	// New metadata resets the state; the next fetch proposes again and
	// the controller commits it.
	st.PartitionEpoch = 3
	ctrl.Set(testTP, st)
	n.m.Apply(p, st)
	require.False(t, p.State().AlterPartitionInFlight)
	require.Equal(t, int64(3), p.Log().HighWatermark(), "a caught-up, eligible follower outside the ISR is still waited for")
	fetchAs(t, p, 2, 5)
	require.Equal(t, int64(5), p.Log().HighWatermark())
	require.Eventually(t, func() bool {
		s := p.State()
		return !s.AlterPartitionInFlight && len(s.ISR) == 2
	}, 10*time.Second, time.Millisecond)
	got, _ := ctrl.Get(testTP)
	require.Equal(t, []int32{1, 2}, got.ISR)
	require.Equal(t, int32(4), got.PartitionEpoch)
	require.Equal(t, int32(4), p.State().PartitionEpoch)
}

// TestISRExpandNeedsEpochStart: a follower at the high watermark but below
// the current leader epoch's first offset stays out of the ISR.
func TestISRExpandNeedsEpochStart(t *testing.T) {
	ctrl := NewInmemController()
	n := newTestNode(t, 1, t.TempDir(), NewManualClock(time.Unix(1000, 0)), ctrl)
	p := n.open(1, LeaderAndISR{Leader: 1, LeaderEpoch: 1, PartitionEpoch: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}})
	_, err := p.AppendAsLeader(batch(t, 4), AppendOptions{RequiredAcks: 1})
	require.NoError(t, err)
	// A new epoch with the follower out of the ISR: the high watermark
	// stays at 0 (it was never moved), the epoch starts at 4.
	st := LeaderAndISR{Leader: 1, LeaderEpoch: 2, PartitionEpoch: 2, Replicas: []int32{1, 2}, ISR: []int32{1}}
	ctrl.Set(testTP, st)
	n.m.Apply(p, st)
	require.Equal(t, int64(4), p.Log().HighWatermark())
	fetchAs(t, p, 2, 4)
	require.Eventually(t, func() bool { return len(ctrl.Requests()) == 1 }, 10*time.Second, time.Millisecond)

	p2 := newTestNode(t, 1, t.TempDir(), NewManualClock(time.Unix(1000, 0)), NewInmemController())
	q := p2.open(1, LeaderAndISR{Leader: 1, LeaderEpoch: 1, PartitionEpoch: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}})
	_, err = q.AppendAsLeader(batch(t, 4), AppendOptions{RequiredAcks: 1})
	require.NoError(t, err)
	require.Equal(t, int64(0), q.Log().HighWatermark())
	st = LeaderAndISR{Leader: 1, LeaderEpoch: 2, PartitionEpoch: 2, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2}}
	p2.ctrl.Set(testTP, st)
	p2.m.Apply(q, st)
	fetchAs(t, q, 2, 0)
	fetchAs(t, q, 3, 0) // at the high watermark (0) but below the epoch start (4)
	require.Never(t, func() bool { return len(p2.ctrl.Requests()) > 0 }, 50*time.Millisecond, 5*time.Millisecond)
}

func TestLeaderEpochChecks(t *testing.T) {
	n := newTestNode(t, 1, t.TempDir(), NewManualClock(time.Unix(1000, 0)), NewInmemController())
	p := n.open(1, LeaderAndISR{Leader: 1, LeaderEpoch: 7, PartitionEpoch: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}})
	read := func(epoch int32, replica int32) error {
		_, err := p.Read(ReadOptions{MaxBytes: 100, ReplicaID: replica, BrokerEpoch: -1, CurrentLeaderEpoch: epoch, LastFetchedEpoch: -1})
		return err
	}
	for _, tc := range []struct {
		name    string
		epoch   int32
		replica int32
		want    error
	}{
		{"current", 7, -1, nil},
		{"unchecked", -1, -1, nil},
		{"stale leader epoch is fenced", 6, -1, ErrFencedLeaderEpoch},
		{"newer epoch is unknown", 8, -1, ErrUnknownLeaderEpoch},
		{"follower, current", 7, 2, nil},
		{"not a replica, with epoch", 7, 9, ErrUnknownLeaderEpoch},
		{"not a replica, without epoch", -1, 9, ErrNotLeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := read(tc.epoch, tc.replica)
			if tc.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.want)
			}
			epoch, err := p.CheckLeader(tc.epoch)
			require.Equal(t, int32(7), epoch)
			if tc.replica < 0 && tc.want != nil {
				require.ErrorIs(t, err, tc.want)
			}
		})
	}

	// Stale metadata (an older partition epoch) is ignored; after
	// leadership moves, this broker answers as a follower.
	n.m.Apply(p, LeaderAndISR{Leader: 2, LeaderEpoch: 6, PartitionEpoch: 0, Replicas: []int32{1, 2}, ISR: []int32{2}})
	require.True(t, p.IsLeader())
	n.m.Apply(p, LeaderAndISR{Leader: 2, LeaderEpoch: 8, PartitionEpoch: 2, Replicas: []int32{1, 2}, ISR: []int32{2}})
	require.False(t, p.IsLeader())
	require.ErrorIs(t, read(7, -1), ErrFencedLeaderEpoch)
	require.ErrorIs(t, read(8, -1), ErrNotLeader)
	require.ErrorIs(t, read(-1, -1), ErrNotLeader)
	_, err := p.AppendAsLeader(batch(t, 1), AppendOptions{RequiredAcks: 1})
	require.ErrorIs(t, err, ErrNotLeader)
	require.Equal(t, int64(0), p.Log().LogEndOffset())
}

// TestStaleAlterPartitionAnswerIgnored: an answer for a leader epoch the
// partition has left does not change its ISR.
func TestStaleAlterPartitionAnswerIgnored(t *testing.T) {
	clock := NewManualClock(time.Unix(1000, 0))
	n := newTestNode(t, 1, t.TempDir(), clock, NewInmemController())
	p := n.open(1, LeaderAndISR{Leader: 1, LeaderEpoch: 1, PartitionEpoch: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}})
	p.mu.Lock()
	pd := &pendingISR{req: p.alterRequestLocked([]int32{1}), committed: p.isr.isr}
	p.isr = isrState{isr: p.isr.isr, maximal: p.isr.isr, pending: pd}
	p.mu.Unlock()
	require.False(t, p.handleAlterPartition(pd, LeaderAndISR{Leader: 1, LeaderEpoch: 0, PartitionEpoch: 2, ISR: []int32{1}}, nil))
	require.Equal(t, []int32{1, 2}, p.State().ISR)
	require.True(t, p.State().AlterPartitionInFlight)
	require.False(t, p.handleAlterPartition(pd, LeaderAndISR{}, ErrIneligibleReplica))
	require.False(t, p.State().AlterPartitionInFlight, "refused: back to the committed ISR")
	require.True(t, p.handleAlterPartition(pd, LeaderAndISR{}, nil) == false, "no longer pending: ignored")
}

func TestLeadershipLossFailsWaitingAppends(t *testing.T) {
	n := newTestNode(t, 1, t.TempDir(), NewManualClock(time.Unix(1000, 0)), NewInmemController())
	p := n.open(1, LeaderAndISR{Leader: 1, LeaderEpoch: 1, PartitionEpoch: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}})
	var events []string
	n.m.OnLeadership(func(topic string, partition int32, leader bool, epoch int32) {
		events = append(events, fmt.Sprintf("%s-%d leader=%v epoch=%d", topic, partition, leader, epoch))
	})
	res, err := p.AppendAsLeader(batch(t, 1), AppendOptions{RequiredAcks: -1})
	require.NoError(t, err)
	done := waitAsync(context.Background(), res)
	wake := make(chan struct{}, 1)
	p.WatchFetch(wake, false)
	n.m.Apply(p, LeaderAndISR{Leader: 2, LeaderEpoch: 2, PartitionEpoch: 2, Replicas: []int32{1, 2}, ISR: []int32{1, 2}})
	require.ErrorIs(t, requireDone(t, done), ErrNotLeader)
	<-wake
	n.m.Apply(p, LeaderAndISR{Leader: 1, LeaderEpoch: 3, PartitionEpoch: 3, Replicas: []int32{1, 2}, ISR: []int32{1}})
	n.m.Apply(p, LeaderAndISR{Leader: 1, LeaderEpoch: 3, PartitionEpoch: 3, Replicas: []int32{1, 2}, ISR: []int32{1}}) // repeated image
	require.NoError(t, n.m.Remove(testTP))
	require.Equal(t, []string{"orders-0 leader=false epoch=2", "orders-0 leader=true epoch=3", "orders-0 leader=false epoch=-1"}, events)
	require.Nil(t, n.m.Partition(testTP))
}

// TestDivergingEpoch: a fetcher whose last fetched epoch ended earlier on
// the leader is told where, and gets no data.
func TestDivergingEpoch(t *testing.T) {
	n := newTestNode(t, 1, t.TempDir(), NewManualClock(time.Unix(1000, 0)), nil)
	p := n.open(1, LeaderAndISR{Leader: 1, LeaderEpoch: 1, PartitionEpoch: 1, Replicas: []int32{1, 2}, ISR: []int32{1}})
	_, err := p.AppendAsLeader(batch(t, 3), AppendOptions{RequiredAcks: 1}) // epoch 1: [0, 3)
	require.NoError(t, err)
	n.m.Apply(p, LeaderAndISR{Leader: 1, LeaderEpoch: 4, PartitionEpoch: 2, Replicas: []int32{1, 2}, ISR: []int32{1}})
	_, err = p.AppendAsLeader(batch(t, 2), AppendOptions{RequiredAcks: 1}) // epoch 4: [3, 5)
	require.NoError(t, err)
	for _, tc := range []struct {
		name      string
		offset    int64
		lastEpoch int32
		want      *EpochEndOffset
	}{
		{"consistent", 3, 1, nil},
		{"ahead within epoch 1", 5, 1, &EpochEndOffset{Epoch: 1, EndOffset: 3}},
		{"epoch 2 never led here", 4, 2, &EpochEndOffset{Epoch: 1, EndOffset: 3}},
		{"current epoch", 4, 4, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := p.Read(ReadOptions{FetchOffset: tc.offset, MaxBytes: 1 << 20, MinOneBatch: true, ReplicaID: 2, BrokerEpoch: -1,
				CurrentLeaderEpoch: 4, LastFetchedEpoch: tc.lastEpoch})
			require.NoError(t, err)
			require.Equal(t, tc.want, info.DivergingEpoch)
			if tc.want != nil {
				require.Zero(t, info.Size)
			}
		})
	}
}

// TestHighWatermarkCheckpointRestart: the high watermark survives a
// restart through replication-offset-checkpoint; a new leader epoch with
// followers keeps it (their positions are unknown) until they fetch, and
// ISR {self} moves it to the log end.
func TestHighWatermarkCheckpointRestart(t *testing.T) {
	dir := t.TempDir()
	clock := NewManualClock(time.Unix(1000, 0))
	n := newTestNode(t, 1, dir, clock, NewInmemController())
	p := n.open(1, LeaderAndISR{Leader: 1, LeaderEpoch: 1, PartitionEpoch: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}})
	_, err := p.AppendAsLeader(batch(t, 10), AppendOptions{RequiredAcks: 1})
	require.NoError(t, err)
	fetchAs(t, p, 2, 6)
	require.Equal(t, int64(6), p.Log().HighWatermark())
	n.close()
	got, err := storage.ReadOffsetCheckpoint(filepath.Join(dir, storage.ReplicationOffsetCheckpointFile))
	require.NoError(t, err)
	require.Equal(t, map[storage.TopicPartition]int64{testTP: 6}, got)

	n = newTestNode(t, 1, dir, clock, NewInmemController())
	p, err = n.m.Open(testTP, [16]byte{1}, storage.DefaultConfig(), nil)
	require.NoError(t, err)
	require.Equal(t, int64(10), p.Log().LogEndOffset())
	require.Equal(t, int64(6), p.Log().HighWatermark(), "HW = min(checkpoint, LEO)")
	st := LeaderAndISR{Leader: 1, LeaderEpoch: 2, PartitionEpoch: 2, Replicas: []int32{1, 2}, ISR: []int32{1, 2}}
	n.ctrl.Set(testTP, st)
	n.m.Apply(p, st)
	require.Equal(t, int64(6), p.Log().HighWatermark(), "follower positions unknown under the new epoch")
	fetchAs(t, p, 2, 8)
	require.Equal(t, int64(8), p.Log().HighWatermark())
	n.m.Apply(p, LeaderAndISR{Leader: 1, LeaderEpoch: 2, PartitionEpoch: 3, Replicas: []int32{1, 2}, ISR: []int32{1}})
	require.Equal(t, int64(8), p.Log().HighWatermark(), "out of the ISR but caught up lately: still waited for")
	clock.Advance(31 * time.Second)
	_, err = p.AppendAsLeader(batch(t, 1), AppendOptions{RequiredAcks: 1})
	require.NoError(t, err)
	require.Equal(t, int64(11), p.Log().HighWatermark(), "ISR {self}, follower lagging: the log end")
}

// TestRefusedExpansionWaits: after the controller refuses a follower's
// ISR expansion as INELIGIBLE_REPLICA, the leader does not propose it
// again on every fetch but after a wait that doubles with each refusal in
// a row (the retry backoff, 1 ms here, up to maxRefusedExpansionWait);
// once admitted, the follower's refusals are forgotten.
func TestRefusedExpansionWaits(t *testing.T) {
	clock := NewManualClock(time.Unix(1000, 0))
	ctrl := NewInmemController()
	n := newTestNode(t, 1, t.TempDir(), clock, ctrl)
	p := n.open(1, LeaderAndISR{Leader: 1, LeaderEpoch: 1, PartitionEpoch: 1, Replicas: []int32{1, 2}, ISR: []int32{1}})
	_, err := p.AppendAsLeader(batch(t, 1), AppendOptions{RequiredAcks: 1})
	require.NoError(t, err)
	ctrl.FailNext(ErrIneligibleReplica, ErrIneligibleReplica, ErrIneligibleReplica)
	settled := func(requests int) {
		t.Helper()
		require.Eventually(t, func() bool {
			return len(ctrl.Requests()) == requests && !p.State().AlterPartitionInFlight
		}, 10*time.Second, time.Millisecond, "AlterPartition request %d answered", requests)
	}
	fetchAs(t, p, 2, 1) // caught up: proposed, refused
	settled(1)
	fetchAs(t, p, 2, 1)
	require.Len(t, ctrl.Requests(), 1, "refused: not proposed again within the 1 ms wait")
	clock.Advance(time.Millisecond)
	fetchAs(t, p, 2, 1) // proposed again, refused: the wait doubles to 2 ms
	settled(2)
	clock.Advance(time.Millisecond)
	fetchAs(t, p, 2, 1)
	require.Len(t, ctrl.Requests(), 2, "the second wait is 2 ms")
	clock.Advance(time.Millisecond)
	fetchAs(t, p, 2, 1) // refused a third time
	settled(3)
	p.mu.RLock()
	require.Equal(t, 4*time.Millisecond, p.refused[2].wait)
	p.mu.RUnlock()
	clock.Advance(4 * time.Millisecond)
	fetchAs(t, p, 2, 1) // admitted
	settled(4)
	require.Equal(t, []int32{1, 2}, p.State().ISR)
	p.mu.RLock()
	_, still := p.refused[2]
	p.mu.RUnlock()
	require.False(t, still, "admitted: its refusals are forgotten")
}

// TestLeaderRecoveryState: a follower keeps the metadata's RECOVERING; a
// leader elected uncleanly marks itself RECOVERED when it starts leading
// (as Kafka's makeLeader does) and tells the controller with the ISR's
// first expansion (KIP-704).
func TestLeaderRecoveryState(t *testing.T) {
	ctrl := NewInmemController()
	n := newTestNode(t, 1, t.TempDir(), NewManualClock(time.Unix(1000, 0)), ctrl)
	p := n.open(1, LeaderAndISR{Leader: 2, LeaderEpoch: 1, PartitionEpoch: 1, Replicas: []int32{1, 2}, ISR: []int32{2},
		LeaderRecoveryState: LeaderRecovering})
	require.Equal(t, LeaderRecovering, p.State().LeaderRecoveryState, "a follower keeps the metadata's state")

	st := LeaderAndISR{Leader: 1, LeaderEpoch: 2, PartitionEpoch: 2, Replicas: []int32{1, 2}, ISR: []int32{1}, LeaderRecoveryState: LeaderRecovering}
	ctrl.Set(testTP, st)
	n.m.Apply(p, st)
	require.Equal(t, LeaderRecovered, p.State().LeaderRecoveryState, "the new leader has recovered")
	_, err := p.AppendAsLeader(batch(t, 3), AppendOptions{RequiredAcks: 1})
	require.NoError(t, err)
	fetchAs(t, p, 2, 3)
	require.Eventually(t, func() bool {
		s := p.State()
		return !s.AlterPartitionInFlight && len(s.ISR) == 2
	}, 10*time.Second, time.Millisecond)
	reqs := ctrl.Requests()
	require.Len(t, reqs, 1)
	require.Equal(t, []int32{1, 2}, reqs[0].ISR)
	require.Equal(t, LeaderRecovered, reqs[0].LeaderRecoveryState, "the expansion carries RECOVERED")
	got, _ := ctrl.Get(testTP)
	require.Equal(t, LeaderRecovered, got.LeaderRecoveryState)
}
