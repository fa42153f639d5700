package txn

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/spool-broker/spool/protocol/errcode"
)

// memLog is an in-memory Log: one record list per partition.
type memLog struct {
	mu   sync.Mutex
	recs map[int32][][2][]byte
}

func (l *memLog) Append(_ context.Context, partition int32, key, value []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.recs == nil {
		l.recs = map[int32][][2][]byte{}
	}
	l.recs[partition] = append(l.recs[partition], [2][]byte{key, value})
	return nil
}

func (l *memLog) Replay(_ context.Context, partition int32, fn func(key, value []byte) error) error {
	l.mu.Lock()
	recs := append([][2][]byte(nil), l.recs[partition]...)
	l.mu.Unlock()
	for _, r := range recs {
		if err := fn(r[0], r[1]); err != nil {
			return err
		}
	}
	return nil
}

// marker is one WriteMarkers call.
type marker struct {
	producerID int64
	epoch      int16
	commit     bool
	parts      []TopicPartition
}

type memMarkers struct {
	mu  sync.Mutex
	got []marker
}

func (m *memMarkers) WriteMarkers(_ context.Context, producerID int64, epoch int16, commit bool, _ int32, parts []TopicPartition) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.got = append(m.got, marker{producerID, epoch, commit, append([]TopicPartition(nil), parts...)})
	return nil
}

// newTestCoordinator is a coordinator leading every partition of a
// one-partition __transaction_state, loaded and ready.
func newTestCoordinator(t *testing.T) (*Coordinator, *memMarkers) {
	t.Helper()
	mk := &memMarkers{}
	return newTestCoordinatorOn(t, &memLog{}, mk), mk
}

// newTestCoordinatorOn is newTestCoordinator writing to log and markers.
// Producer ids are handed out from 1001 up.
func newTestCoordinatorOn(t *testing.T, log Log, markers Markers) *Coordinator {
	t.Helper()
	var next int64 = 1000
	var mu sync.Mutex
	c := New(Config{NumPartitions: 1, MaxTimeout: time.Minute, NextProducerID: func(context.Context) (int64, error) {
		mu.Lock()
		defer mu.Unlock()
		next++
		return next, nil
	}}, log, markers, zaptest.NewLogger(t))
	t.Cleanup(c.Close)
	c.Load(0, 1)
	require.Eventually(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.parts[0] != nil && !c.parts[0].loading
	}, 5*time.Second, time.Millisecond)
	return c
}

// TestEndTxnWithoutOpenTransaction is Kafka's table of EndTxn answers for
// a transactional id with no open transaction (Empty, CompleteCommit,
// CompleteAbort), at transaction version 2 (EndTxn v5+) and before. At
// version 2 an abort at the current epoch always succeeds and bumps the
// epoch: the client sends it whenever it called send or
// sendOffsetsToTransaction, even if nothing reached the broker (its records
// were still buffered when a rebalance made the application abort).
func TestEndTxnWithoutOpenTransaction(t *testing.T) {
	ctx := context.Background()
	tp := TopicPartition{Topic: "out", Partition: 0}
	const (
		none  = 0
		bump  = 1 // no error, epoch bumped
		retry = 2 // no error, epoch unchanged (a retry's answer)
	)
	for _, tc := range []struct {
		name   string
		state  State // Empty: after InitProducerId; Complete*: after a v2 end
		tv     int16
		commit bool
		retry  bool // the request's epoch is one below the current one
		code   int16
		want   int
	}{
		{"empty abort", Empty, 2, false, false, errcode.None, bump},
		{"empty commit", Empty, 2, true, false, errcode.InvalidTxnState, none},
		{"empty abort retry", Empty, 2, false, true, errcode.ProducerFenced, none},
		{"empty commit retry", Empty, 2, true, true, errcode.ProducerFenced, none},
		{"complete abort: abort", CompleteAbort, 2, false, false, errcode.None, bump},
		{"complete abort: abort retry", CompleteAbort, 2, false, true, errcode.None, retry},
		{"complete abort: commit", CompleteAbort, 2, true, false, errcode.InvalidTxnState, none},
		{"complete abort: commit retry", CompleteAbort, 2, true, true, errcode.InvalidTxnState, none},
		{"complete commit: abort", CompleteCommit, 2, false, false, errcode.None, bump},
		{"complete commit: abort retry", CompleteCommit, 2, false, true, errcode.InvalidTxnState, none},
		{"complete commit: commit", CompleteCommit, 2, true, false, errcode.InvalidTxnState, none},
		{"complete commit: commit retry", CompleteCommit, 2, true, true, errcode.None, retry},
		{"v1 empty abort", Empty, 0, false, false, errcode.InvalidTxnState, none},
		{"v1 complete abort: abort", CompleteAbort, 0, false, false, errcode.None, retry},
		{"v1 complete abort: commit", CompleteAbort, 0, true, false, errcode.InvalidTxnState, none},
		{"v1 complete commit: commit", CompleteCommit, 0, true, false, errcode.None, retry},
		{"v1 complete commit: abort", CompleteCommit, 0, false, false, errcode.InvalidTxnState, none},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, mk := newTestCoordinator(t)
			init := c.InitProducerID(ctx, "t", 60000, -1, -1)
			require.Zero(t, init.ErrorCode)
			pid, epoch := init.ProducerID, init.ProducerEpoch
			if tc.state != Empty {
				require.Zero(t, c.AddPartitions(ctx, "t", pid, epoch, []TopicPartition{tp}, tc.tv))
				r := c.EndTxn(ctx, "t", pid, epoch, tc.state == CompleteCommit, tc.tv)
				require.Zero(t, r.ErrorCode)
				if tc.tv >= 2 {
					require.Equal(t, epoch+1, r.ProducerEpoch)
					epoch = r.ProducerEpoch
				}
			}
			before, code := c.Describe("t")
			require.Zero(t, code)
			require.Equal(t, tc.state, before.State)
			markers := len(mk.got)

			reqEpoch := epoch
			if tc.retry {
				reqEpoch--
			}
			r := c.EndTxn(ctx, "t", pid, reqEpoch, tc.commit, tc.tv)
			require.Equal(t, tc.code, r.ErrorCode, "error %s", errcode.Name(r.ErrorCode))
			after, _ := c.Describe("t")
			switch tc.want {
			case bump:
				require.Equal(t, EndResult{ProducerID: pid, ProducerEpoch: epoch + 1}, r)
				require.Equal(t, CompleteAbort, after.State)
				require.Equal(t, epoch+1, after.ProducerEpoch)
				require.Empty(t, after.Partitions)
				require.Len(t, mk.got, markers+1, "an abort without partitions writes no marker anywhere")
				require.Empty(t, mk.got[markers].parts)
				// The producer goes on at the bumped epoch.
				require.Zero(t, c.AddPartitions(ctx, "t", pid, epoch+1, []TopicPartition{tp}, 2))
				require.Zero(t, c.EndTxn(ctx, "t", pid, epoch+1, true, 2).ErrorCode)
			case retry:
				require.Equal(t, before.State, after.State)
				require.Equal(t, epoch, after.ProducerEpoch)
				if tc.tv >= 2 {
					require.Equal(t, EndResult{ProducerID: pid, ProducerEpoch: epoch}, r)
				}
			default:
				require.Equal(t, before.State, after.State)
				require.Equal(t, before.ProducerEpoch, after.ProducerEpoch)
			}
		})
	}
}

// TestEndTxnEmptyAbortExhaustedEpoch: an abort without partitions at the
// last epoch of a producer id moves to a new producer id, as any version 2
// end does.
func TestEndTxnEmptyAbortExhaustedEpoch(t *testing.T) {
	ctx := context.Background()
	c, _ := newTestCoordinator(t)
	init := c.InitProducerID(ctx, "t", 60000, -1, -1)
	require.Zero(t, init.ErrorCode)
	c.mu.Lock()
	m := c.txns["t"].clone()
	m.ProducerEpoch = math.MaxInt16 - 1
	c.txns["t"] = m
	c.mu.Unlock()
	r := c.EndTxn(ctx, "t", init.ProducerID, math.MaxInt16-1, false, 2)
	require.Zero(t, r.ErrorCode)
	require.NotEqual(t, init.ProducerID, r.ProducerID)
	require.Zero(t, r.ProducerEpoch)
	// A retry of it (old id, exhausted epoch) is answered with the new id.
	again := c.EndTxn(ctx, "t", init.ProducerID, math.MaxInt16-1, false, 2)
	require.Equal(t, r, again)
}
