package storage

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
)

// TestAppendRefusesNegativeLeaderEpoch: a leader append must carry the epoch
// it is written under; -1 (not the leader) writes nothing.
func TestAppendRefusesNegativeLeaderEpoch(t *testing.T) {
	l := newTestLog(t, testConfig())
	fill(t, l, 3, 50, constTS)
	leo, size := l.LogEndOffset(), l.Size()
	for _, epoch := range []int32{-1, -2, -1 << 31} {
		info, err := l.Append(makeBatch(2, constTS(0), 20), epoch, nil)
		require.ErrorIs(t, err, ErrInvalidLeaderEpoch, "epoch %d", epoch)
		require.Equal(t, int64(-1), info.FirstOffset)
	}
	require.Equal(t, leo, l.LogEndOffset())
	require.Equal(t, size, l.Size())
	_, err := l.Append(makeBatch(2, constTS(0), 20), 0, nil)
	require.NoError(t, err, "epoch 0 is a real epoch")
}

func TestMaybeIncrementHighWatermark(t *testing.T) {
	l := newTestLog(t, testConfig())
	fill(t, l, 10, 50, constTS)
	leo := l.LogEndOffset()
	l.SetHighWatermark(0)
	for _, tc := range []struct {
		name    string
		offset  int64
		old, hw int64
		moved   bool
	}{
		{"up", 5, 0, 5, true},
		{"same", 5, 5, 5, false},
		{"never down", 3, 5, 5, false},
		{"clamped to the log end", leo + 100, 5, leo, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old, moved := l.MaybeIncrementHighWatermark(tc.offset)
			require.Equal(t, tc.old, old)
			require.Equal(t, tc.moved, moved)
			require.Equal(t, tc.hw, l.HighWatermark())
		})
	}
}

// TestHighWatermarkCheckpoint: replication-offset-checkpoint keeps each
// log's high watermark across a restart, in Kafka's format; a checkpointed
// value past the log end opens as the log end (HW = min(checkpoint, LEO)),
// and a log the file doesn't name starts at its log start offset.
func TestHighWatermarkCheckpoint(t *testing.T) {
	dirs := []string{t.TempDir(), t.TempDir()}
	m, err := NewManager(ManagerConfig{
		Dirs: dirs, Default: testConfig(),
		HighWatermarkCheckpointInterval: 10 * time.Millisecond,
	}, zaptest.NewLogger(t))
	require.NoError(t, err)
	hws := map[TopicPartition]int64{}
	for p := range int32(3) {
		tp := TopicPartition{"hw", p}
		l, err := m.GetOrCreateLog(tp, nil)
		require.NoError(t, err)
		fill(t, l, 10, 50, constTS)
		hws[tp] = l.SetHighWatermark(l.LogEndOffset() - int64(p))
	}
	dirOf := func(tp TopicPartition) string { m.mu.Lock(); defer m.mu.Unlock(); return m.dirOf[tp] }

	// Written periodically, per dir, with the logs of that dir.
	require.Eventually(t, func() bool {
		for tp, hw := range hws {
			got, err := ReadOffsetCheckpoint(filepath.Join(dirOf(tp), ReplicationOffsetCheckpointFile))
			if err != nil || got[tp] != hw {
				return false
			}
		}
		return true
	}, 5*time.Second, 10*time.Millisecond)

	// Moved after the last periodic write: Close writes it.
	l0, _ := m.Log(TopicPartition{"hw", 0})
	fill(t, l0, 2, 50, constTS)
	hws[TopicPartition{"hw", 0}] = l0.SetHighWatermark(l0.LogEndOffset())
	d1 := dirOf(TopicPartition{"hw", 1})
	require.NoError(t, m.Close())
	for _, d := range dirs {
		got, err := ReadOffsetCheckpoint(filepath.Join(d, ReplicationOffsetCheckpointFile))
		require.NoError(t, err)
		for tp, off := range got {
			require.Equal(t, hws[tp], off, "%s in %s", tp, d)
		}
	}

	// Partition 1's checkpoint claims more than its log holds; partition
	// 2 is missing from its file.
	path := filepath.Join(d1, ReplicationOffsetCheckpointFile)
	got, err := ReadOffsetCheckpoint(path)
	require.NoError(t, err)
	got[TopicPartition{"hw", 1}] = 1 << 40
	require.NoError(t, WriteOffsetCheckpoint(path, got))
	d2 := dirOf(TopicPartition{"hw", 2})
	path2 := filepath.Join(d2, ReplicationOffsetCheckpointFile)
	got2, err := ReadOffsetCheckpoint(path2)
	require.NoError(t, err)
	delete(got2, TopicPartition{"hw", 2})
	require.NoError(t, WriteOffsetCheckpoint(path2, got2))

	m2 := newTestManager(t, dirs)
	defer m2.Close()
	for p := range int32(3) {
		l, ok := m2.Log(TopicPartition{"hw", p})
		require.True(t, ok)
		switch p {
		case 0:
			require.Equal(t, hws[TopicPartition{"hw", 0}], l.HighWatermark())
		case 1:
			require.Equal(t, l.LogEndOffset(), l.HighWatermark(), "min(checkpoint, log end offset)")
		case 2:
			require.Equal(t, l.LogStartOffset(), l.HighWatermark(), "not checkpointed: log start offset")
		}
	}
}

// TestHighWatermarkCheckpointUnchangedNotRewritten: an idle broker does not
// rewrite (and fsync) the file every interval.
func TestHighWatermarkCheckpointUnchangedNotRewritten(t *testing.T) {
	dir := t.TempDir()
	m := newTestManager(t, []string{dir})
	defer m.Close()
	l, err := m.GetOrCreateLog(TopicPartition{"idle", 0}, nil)
	require.NoError(t, err)
	fill(t, l, 3, 50, constTS)
	l.SetHighWatermark(l.LogEndOffset())
	require.NoError(t, m.CheckpointHighWatermarks())
	path := filepath.Join(dir, ReplicationOffsetCheckpointFile)
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.NoError(t, os.Chmod(path, 0o444)) // a rewrite would replace the inode
	require.NoError(t, m.CheckpointHighWatermarks())
	st2, err := os.Stat(path)
	require.NoError(t, err)
	require.True(t, os.SameFile(st, st2), "unchanged checkpoint was rewritten")

	l.SetHighWatermark(l.LogEndOffset() - 1)
	require.NoError(t, m.CheckpointHighWatermarks())
	st3, err := os.Stat(path)
	require.NoError(t, err)
	require.False(t, os.SameFile(st, st3), "changed checkpoint was not rewritten")
}
