package txn

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// gatedLog is a Log whose appends for one transactional id block until
// released, as an append waiting for the high watermark does.
type gatedLog struct {
	memLog
	gateID  string
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (l *gatedLog) Append(ctx context.Context, partition int32, key, value []byte) error {
	if id, _ := DecodeKey(key); id == l.gateID {
		l.once.Do(func() { close(l.entered) })
		select {
		case <-l.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return l.memLog.Append(ctx, partition, key, value)
}

// gatedMarkers blocks the markers of one producer until released.
type gatedMarkers struct {
	memMarkers
	gatePID int64
	entered chan struct{}
	release chan struct{}
}

func (m *gatedMarkers) WriteMarkers(ctx context.Context, producerID int64, epoch int16, commit bool, ce int32, parts []TopicPartition) error {
	m.mu.Lock()
	gated := producerID == m.gatePID
	m.mu.Unlock()
	if gated {
		close(m.entered)
		select {
		case <-m.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return m.memMarkers.WriteMarkers(ctx, producerID, epoch, commit, ce, parts)
}

// TestCoordinatorLockNotHeldAcrossWaits: while one transaction's state
// record waits to be committed, or its markers wait to be written, the
// coordinator serves other transactional ids; the waiting transaction's
// own EndTxn answers once its markers are written, and an AddPartitions
// for it meanwhile waits for its state write instead of failing.
func TestCoordinatorLockNotHeldAcrossWaits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := &gatedLog{gateID: "slow", entered: make(chan struct{}), release: make(chan struct{})}
	mk := &gatedMarkers{gatePID: -1, entered: make(chan struct{}), release: make(chan struct{})}
	c := newTestCoordinatorOn(t, log, mk)

	// A state write of "slow" waits for its commit.
	slowDone := make(chan InitResult, 1)
	go func() { slowDone <- c.InitProducerID(ctx, "slow", 60_000, -1, -1) }()
	<-log.entered
	fast := c.InitProducerID(ctx, "fast", 60_000, -1, -1)
	require.Zero(t, fast.ErrorCode, "another id is served while slow's record waits")
	close(log.release)
	slow := <-slowDone
	require.Zero(t, slow.ErrorCode)

	// Markers of "slow" wait; "fast" runs a whole transaction meanwhile.
	tp := TopicPartition{Topic: "out", Partition: 0}
	require.Zero(t, c.AddPartitions(ctx, "slow", slow.ProducerID, slow.ProducerEpoch, []TopicPartition{tp}, 0))
	mk.mu.Lock()
	mk.gatePID = slow.ProducerID
	mk.mu.Unlock()
	endDone := make(chan EndResult, 1)
	go func() { endDone <- c.EndTxn(ctx, "slow", slow.ProducerID, slow.ProducerEpoch, true, 0) }()
	<-mk.entered
	m, code := c.Describe("slow")
	require.Zero(t, code)
	require.Equal(t, PrepareCommit, m.State, "the transaction stays PrepareCommit until its markers are written")
	require.Zero(t, c.AddPartitions(ctx, "fast", fast.ProducerID, fast.ProducerEpoch, []TopicPartition{tp}, 0))
	require.Zero(t, c.EndTxn(ctx, "fast", fast.ProducerID, fast.ProducerEpoch, true, 0).ErrorCode)
	select {
	case r := <-endDone:
		t.Fatalf("EndTxn answered %+v before its markers were written", r)
	default:
	}
	close(mk.release)
	require.Zero(t, (<-endDone).ErrorCode)
	m, code = c.Describe("slow")
	require.Zero(t, code)
	require.Equal(t, CompleteCommit, m.State)
}
