package storage

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/protocol/records"
)

func producerBatch(t *testing.T, pid int64, epoch int16, seq int32, n int, txn bool) []byte {
	t.Helper()
	o := records.NewBatchOptions()
	o.ProducerID, o.ProducerEpoch, o.BaseSequence, o.Transactional = pid, epoch, seq, txn
	recs := make([]records.Record, n)
	for i := range recs {
		recs[i] = records.Record{Timestamp: time.Now().UnixMilli(), OffsetDelta: int32(i), Value: []byte("v")}
	}
	b, err := records.AppendBatch(nil, o, recs)
	require.NoError(t, err)
	return b
}

func TestProducerStateValidation(t *testing.T) {
	l := newTestLog(t, testConfig())
	info, err := l.Append(producerBatch(t, 7, 0, 0, 3, false), 0, nil)
	require.NoError(t, err)
	require.Equal(t, int64(0), info.FirstOffset)
	_, err = l.Append(producerBatch(t, 7, 0, 3, 2, false), 0, nil)
	require.NoError(t, err)

	t.Run("duplicate answers the original offsets and appends nothing", func(t *testing.T) {
		leo := l.LogEndOffset()
		_, err := l.Append(producerBatch(t, 7, 0, 0, 3, false), 0, nil)
		var dup *DuplicateBatchError
		require.ErrorAs(t, err, &dup)
		require.Equal(t, int64(0), dup.FirstOffset)
		require.Equal(t, int64(2), dup.LastOffset)
		require.Equal(t, leo, l.LogEndOffset())
	})
	t.Run("gap", func(t *testing.T) {
		_, err := l.Append(producerBatch(t, 7, 0, 9, 1, false), 0, nil)
		require.ErrorIs(t, err, ErrOutOfOrderSequence)
	})
	t.Run("new epoch must start at 0", func(t *testing.T) {
		_, err := l.Append(producerBatch(t, 7, 1, 5, 1, false), 0, nil)
		require.ErrorIs(t, err, ErrOutOfOrderSequence)
		_, err = l.Append(producerBatch(t, 7, 1, 0, 1, false), 0, nil)
		require.NoError(t, err)
	})
	t.Run("old epoch is fenced", func(t *testing.T) {
		_, err := l.Append(producerBatch(t, 7, 0, 5, 1, false), 0, nil)
		require.ErrorIs(t, err, ErrInvalidProducerEpoch)
	})
	t.Run("unknown producer may start anywhere", func(t *testing.T) {
		_, err := l.Append(producerBatch(t, 8, 3, 42, 1, false), 0, nil)
		require.NoError(t, err)
	})
}

func TestProducerStateTransactionsAndRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 250 // roll often, so snapshots are written
	l := openTestLog(t, dir+"/t-0", cfg, OpenOptions{})
	var seq int32
	for i := 0; i < 10; i++ { // idempotent traffic across several segments
		_, err := l.Append(producerBatch(t, 1, 0, seq, 2, false), 0, nil)
		require.NoError(t, err)
		seq += 2
	}
	require.Greater(t, len(l.Segments()), 2)
	first, err := l.Append(producerBatch(t, 2, 0, 0, 2, true), 0, nil)
	require.NoError(t, err)
	l.SetHighWatermark(l.LogEndOffset())
	require.Equal(t, first.FirstOffset, l.LastStableOffset())
	_, err = l.Append(producerBatch(t, 1, 0, 0, 1, true), 0, nil)
	require.ErrorIs(t, err, ErrOutOfOrderSequence) // a transactional batch must still follow the sequence
	_, err = l.Append(records.EndTxnMarker(2, 0, false, 0, time.Now().UnixMilli()), 0, nil)
	require.NoError(t, err)
	l.SetHighWatermark(l.LogEndOffset())
	require.Equal(t, l.LogEndOffset(), l.LastStableOffset())
	aborted := l.AbortedTransactions(0, l.LogEndOffset())
	require.Len(t, aborted, 1)
	require.Equal(t, AbortedTxn{ProducerID: 2, FirstOffset: first.FirstOffset, LastOffset: first.LastOffset + 1, LastStableOffset: first.LastOffset + 2}, aborted[0])
	// An open transaction survives the restart too.
	open, err := l.Append(producerBatch(t, 3, 0, 0, 1, true), 0, nil)
	require.NoError(t, err)

	check := func(l *Log) {
		t.Helper()
		l.SetHighWatermark(l.LogEndOffset())
		require.Equal(t, open.FirstOffset, l.LastStableOffset())
		require.Len(t, l.AbortedTransactions(0, l.LogEndOffset()), 1)
		leo := l.LogEndOffset()
		_, err := l.Append(producerBatch(t, 1, 0, seq-2, 2, false), 0, nil)
		require.True(t, errors.Is(err, ErrDuplicateSequence), "last batch is still a duplicate: %v", err)
		require.Equal(t, leo, l.LogEndOffset())
		_, err = l.Append(producerBatch(t, 1, 0, seq+1, 1, false), 0, nil)
		require.ErrorIs(t, err, ErrOutOfOrderSequence)
	}
	check(l)
	require.NoError(t, l.Close())
	require.NotEmpty(t, segmentFiles(t, dir+"/t-0", snapshotSuffix))

	// Clean restart: the snapshot at the log end is enough.
	l = openTestLog(t, dir+"/t-0", cfg, OpenOptions{CleanShutdown: true})
	check(l)
	require.NoError(t, l.close(false)) // crash: no final snapshot, replay from a segment boundary

	l = openTestLog(t, dir+"/t-0", cfg, OpenOptions{})
	check(l)
}
