package share

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/internal/spooltest"
	"github.com/spool-broker/spool/protocol/errcode"
)

func newTestPartition(clk *spooltest.Clock, limit int16) *Partition {
	return NewPartition(Config{LockDuration: 30 * time.Second, DeliveryCountLimit: limit, Now: clk.Now}, State{StartOffset: 0}, 0)
}

// batches10 is one batch of offsets 0-4 and one of 5-9.
var batches10 = []Batch{{BaseOffset: 0, LastOffset: 4}, {BaseOffset: 5, LastOffset: 9}}

func TestAcquireDisjoint(t *testing.T) {
	clk := spooltest.NewClock(time.Unix(1000, 0))
	p := newTestPartition(clk, 5)
	a := p.Acquire("m1", batches10, 3, false)
	require.Equal(t, []AcquiredRange{{0, 2, 1}}, a)
	off, ok := p.NextFetchOffset(0)
	require.True(t, ok)
	require.EqualValues(t, 3, off)
	// m2 reads from 0 again (say, a stale read): only new offsets are its.
	b := p.Acquire("m2", batches10, 100, false)
	require.Equal(t, []AcquiredRange{{3, 9, 1}}, b)
	require.Empty(t, p.Acquire("m3", batches10, 100, false))
	// batch-aligned: the limit is checked at batch boundaries.
	p2 := newTestPartition(clk, 5)
	require.Equal(t, []AcquiredRange{{0, 4, 1}}, p2.Acquire("m1", batches10, 2, true))
}

func TestLockTimeoutRedelivers(t *testing.T) {
	clk := spooltest.NewClock(time.Unix(1000, 0))
	p := newTestPartition(clk, 5)
	require.Equal(t, []AcquiredRange{{0, 9, 1}}, p.Acquire("m1", batches10, 100, false))
	clk.Advance(29 * time.Second)
	off, ok := p.NextFetchOffset(0)
	require.True(t, ok)
	require.EqualValues(t, 10, off, "locks still held")
	clk.Advance(time.Second)
	off, _ = p.NextFetchOffset(0)
	require.EqualValues(t, 0, off, "locks expired: available again")
	require.Equal(t, []AcquiredRange{{0, 9, 2}}, p.Acquire("m2", batches10, 100, false))
	// m1's lock is gone: its acknowledgement is refused.
	require.Equal(t, errcode.InvalidRecordState, p.Acknowledge("m1", 0, 0, []int8{1}))
	require.Zero(t, p.Acknowledge("m2", 0, 9, []int8{1}))
	require.EqualValues(t, 10, p.StartOffset())
}

func TestDeliveryCountLimitArchives(t *testing.T) {
	clk := spooltest.NewClock(time.Unix(1000, 0))
	p := newTestPartition(clk, 3)
	one := []Batch{{BaseOffset: 0, LastOffset: 0}, {BaseOffset: 1, LastOffset: 1}}
	for i := int16(1); i <= 3; i++ {
		got := p.Acquire("m", one[:1], 1, false)
		require.Equal(t, []AcquiredRange{{0, 0, i}}, got)
		if i%2 == 1 {
			clk.Advance(31 * time.Second) // lock timeout
		} else {
			require.Zero(t, p.Acknowledge("m", 0, 0, []int8{int8(AckRelease)}))
		}
	}
	// Third delivery timed out: archived, and the start offset moved past it.
	_, ok := p.Record(0)
	require.False(t, ok)
	require.EqualValues(t, 1, p.StartOffset())
	require.Empty(t, p.Acquire("m", one[:1], 1, false))
	require.Equal(t, []AcquiredRange{{1, 1, 1}}, p.Acquire("m", one, 10, false))
}

func TestAcknowledgeTypes(t *testing.T) {
	clk := spooltest.NewClock(time.Unix(1000, 0))
	cases := []struct {
		name      string
		types     []int8
		wantState RecordState
		wantCode  int16
		wantStart int64
		redeliver bool
	}{
		{"accept", []int8{1}, Acknowledged, 0, 3, false},
		{"release", []int8{2}, Available, 0, 0, true},
		{"reject", []int8{3}, Archived, 0, 3, false},
		{"renew", []int8{4}, Acquired, 0, 0, false},
		{"per offset", []int8{1, 2, 3}, Acknowledged, 0, 1, false},
		{"bad type", []int8{9}, Acquired, errcode.InvalidRequest, 0, false},
		{"bad length", []int8{1, 1}, Acquired, errcode.InvalidRequest, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestPartition(clk, 5)
			require.Equal(t, []AcquiredRange{{0, 2, 1}}, p.Acquire("m", []Batch{{0, 2, false}}, 10, false))
			require.Equal(t, tc.wantCode, p.Acknowledge("m", 0, 2, tc.types))
			require.EqualValues(t, tc.wantStart, p.StartOffset())
			if r, ok := p.Record(0); ok {
				require.Equal(t, tc.wantState, r.State)
			}
			off, _ := p.NextFetchOffset(0)
			require.Equal(t, tc.redeliver, off == 0)
		})
	}
	t.Run("renew extends the lock", func(t *testing.T) {
		p := newTestPartition(clk, 5)
		p.Acquire("m", []Batch{{0, 0, false}}, 1, false)
		clk.Advance(20 * time.Second)
		require.Zero(t, p.Acknowledge("m", 0, 0, []int8{int8(AckRenew)}))
		clk.Advance(20 * time.Second) // 40 s after acquisition, 20 s after renewal
		r, ok := p.Record(0)
		require.True(t, ok)
		require.Equal(t, Acquired, r.State)
		clk.Advance(10 * time.Second)
		r, _ = p.Record(0)
		require.Equal(t, Available, r.State)
	})
	t.Run("other member", func(t *testing.T) {
		p := newTestPartition(clk, 5)
		p.Acquire("m", []Batch{{0, 0, false}}, 1, false)
		require.Equal(t, errcode.InvalidRecordState, p.Acknowledge("x", 0, 0, []int8{1}))
	})
}

func TestSnapshotRestore(t *testing.T) {
	clk := spooltest.NewClock(time.Unix(1000, 0))
	p := newTestPartition(clk, 5)
	p.Acquire("m", batches10, 100, false)
	require.Zero(t, p.Acknowledge("m", 0, 1, []int8{1}))
	require.Zero(t, p.Acknowledge("m", 3, 3, []int8{1}))
	require.Zero(t, p.Acknowledge("m", 4, 4, []int8{2}))
	require.Zero(t, p.Acknowledge("m", 5, 5, []int8{3}))
	require.True(t, p.Dirty())
	st, n := p.Snapshot()
	p.MarkWritten(n)
	require.False(t, p.Dirty())
	require.Equal(t, State{StartOffset: 2, Batches: []StateBatch{
		{2, 2, Available, 1}, {3, 3, Acknowledged, 1}, {4, 4, Available, 1}, {5, 5, Archived, 1}, {6, 9, Available, 1},
	}}, st)
	q := NewPartition(Config{Now: clk.Now}, st, 0)
	require.Equal(t, []AcquiredRange{{2, 2, 2}, {4, 4, 2}, {6, 9, 2}}, q.Acquire("m2", batches10, 100, false))
	// A restored start offset below the log start moves up to it.
	r := NewPartition(Config{Now: clk.Now}, st, 7)
	require.EqualValues(t, 7, r.StartOffset())
}

func TestAcknowledgePastEndIsInvalidRequest(t *testing.T) {
	clk := spooltest.NewClock(time.Unix(1000, 0))
	p := newTestPartition(clk, 5)
	p.Acquire("m", []Batch{{0, 4, false}}, 10, false)
	require.Equal(t, errcode.InvalidRequest, p.Acknowledge("m", 0, 9, []int8{1}))
	r, _ := p.Record(0)
	require.Equal(t, Acquired, r.State, "nothing applied")
}
