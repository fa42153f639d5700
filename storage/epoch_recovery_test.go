package storage

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// appendUnderEpochs appends n batches under each epoch in turn, as a leader
// elected that many times would, and returns the entries the cache must
// hold.
func appendUnderEpochs(t *testing.T, l *Log, n int, epochs ...int32) []EpochEntry {
	t.Helper()
	var want []EpochEntry
	for _, e := range epochs {
		want = append(want, EpochEntry{e, l.LogEndOffset()})
		for range n {
			_, err := l.Append(makeBatch(2, constTS(0), 150), e, nil)
			require.NoError(t, err)
		}
	}
	return want
}

func writeEpochCheckpoint(t *testing.T, dir string, entries ...EpochEntry) {
	t.Helper()
	c := newLeaderEpochCache(dir, partitionLogger{})
	c.entries = entries
	c.version++
	require.NoError(t, c.flush())
}

func readEpochCheckpoint(t *testing.T, dir string) []EpochEntry {
	t.Helper()
	c, found, err := loadLeaderEpochCache(dir, partitionLogger{})
	require.NoError(t, err)
	require.True(t, found, "no leader-epoch-checkpoint in %s", dir)
	return c.entries
}

// A new log writes no leader-epoch-checkpoint when an epoch is assigned (no
// fsync on partition creation); the first flush does, before the recovery
// point moves past the epoch's batches.
func TestEpochCheckpointWrittenByFlush(t *testing.T) {
	l := newTestLog(t, testConfig())
	require.NoError(t, l.AssignEpoch(3, 0))
	path := filepath.Join(l.Dir(), LeaderEpochCheckpointFile)
	require.NoFileExists(t, path)

	want := appendUnderEpochs(t, l, 5, 3, 4)
	require.NoFileExists(t, path)
	require.NoError(t, l.Flush())
	require.Equal(t, want, readEpochCheckpoint(t, l.Dir()))
	require.Equal(t, l.LogEndOffset(), l.RecoveryPoint())

	// Nothing changed: a later flush leaves the file alone.
	require.NoError(t, os.Remove(path))
	appendUnderEpochs(t, l, 2, 4)
	require.NoError(t, l.Flush())
	require.NoFileExists(t, path)
}

// A crash loses the in-memory epochs of batches that were never flushed;
// recovery reads them back from the batches' PartitionLeaderEpoch.
func TestEpochsRebuiltAfterCrash(t *testing.T) {
	cases := []struct {
		name string
		// setup appends and returns the expected entries and the recovery
		// point the restart gets.
		setup func(t *testing.T, l *Log) ([]EpochEntry, int64)
	}{
		{"never flushed", func(t *testing.T, l *Log) ([]EpochEntry, int64) {
			return appendUnderEpochs(t, l, 30, 1, 2, 5), 0
		}},
		{"flushed, then more epochs", func(t *testing.T, l *Log) ([]EpochEntry, int64) {
			want := appendUnderEpochs(t, l, 30, 1, 2)
			require.NoError(t, l.Flush())
			rp := l.RecoveryPoint()
			return append(want, appendUnderEpochs(t, l, 30, 3, 7)...), rp
		}},
		{"stale checkpoint beyond the log", func(t *testing.T, l *Log) ([]EpochEntry, int64) {
			want := appendUnderEpochs(t, l, 30, 1, 2)
			// A checkpoint from before a truncation names epochs the log
			// no longer has.
			writeEpochCheckpoint(t, l.Dir(), EpochEntry{1, 0}, EpochEntry{2, want[1].StartOffset}, EpochEntry{9, l.LogEndOffset() + 100})
			return want, 0
		}},
		{"stale checkpoint inside the rescanned range", func(t *testing.T, l *Log) ([]EpochEntry, int64) {
			want := appendUnderEpochs(t, l, 30, 1, 2, 3)
			// The checkpoint disagrees with the batches about where epoch 2
			// begins; recovery believes the batches.
			writeEpochCheckpoint(t, l.Dir(), EpochEntry{1, 0}, EpochEntry{2, want[1].StartOffset + 4})
			return want, 0
		}},
		{"torn checkpoint", func(t *testing.T, l *Log) ([]EpochEntry, int64) {
			want := appendUnderEpochs(t, l, 30, 1, 2)
			require.NoError(t, l.Flush())
			rp := l.RecoveryPoint()
			require.NoError(t, os.WriteFile(filepath.Join(l.Dir(), LeaderEpochCheckpointFile), nil, 0o644))
			return want, rp
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newTestLog(t, testConfig())
			want, rp := tc.setup(t, l)
			require.Greater(t, len(l.Segments()), 3, "the test needs several segments")
			leo := l.LogEndOffset()
			n := reopen(t, l, false, rp)
			require.Equal(t, leo, n.LogEndOffset())
			require.Equal(t, want, n.LeaderEpochCache().Entries())
			// The recovery point moved to the end, so the rebuilt entries
			// are on disk.
			require.Equal(t, leo, n.RecoveryPoint())
			require.Equal(t, want, readEpochCheckpoint(t, n.Dir()))
			epoch, end := n.EndOffsetForEpoch(want[0].Epoch)
			require.Equal(t, want[0].Epoch, epoch)
			require.Equal(t, want[1].StartOffset, end)
		})
	}
}

// A clean start trusts the checkpoint, except one that is missing or
// unreadable while the log holds batches: then every segment is scanned.
func TestEpochCheckpointLostBeforeCleanStart(t *testing.T) {
	for _, damage := range []struct {
		name string
		do   func(path string) error
	}{
		{"missing", os.Remove},
		{"empty", func(p string) error { return os.WriteFile(p, nil, 0o644) }},
		{"garbage", func(p string) error { return os.WriteFile(p, []byte("0\n2\n1 x\n"), 0o644) }},
	} {
		t.Run(damage.name, func(t *testing.T) {
			l := newTestLog(t, testConfig())
			want := appendUnderEpochs(t, l, 30, 1, 4, 6)
			require.NoError(t, l.Close())
			path := filepath.Join(l.Dir(), LeaderEpochCheckpointFile)
			require.Equal(t, want, readEpochCheckpoint(t, l.Dir()))
			require.NoError(t, damage.do(path))

			n := openTestLog(t, l.Dir(), l.Config(), OpenOptions{CleanShutdown: true})
			defer n.Close()
			require.Equal(t, want, n.LeaderEpochCache().Entries())
			require.Equal(t, want, readEpochCheckpoint(t, n.Dir()))
		})
	}
}

// TruncateFullyAndStartAt clears the cache only in memory; a crash leaves
// the old checkpoint, whose entries all lie below the new log start.
func TestEpochsAfterTruncateFullyAndCrash(t *testing.T) {
	l := newTestLog(t, testConfig())
	appendUnderEpochs(t, l, 30, 1, 2)
	require.NoError(t, l.Flush())
	require.NoError(t, l.TruncateFullyAndStartAt(5000))
	l.deletes.Wait() // the old segments' removal, due at once
	crash(t, l)
	n := openTestLog(t, l.Dir(), l.Config(), OpenOptions{RecoveryPoint: 5000, LogStartOffset: 5000})
	defer n.Close()
	require.Empty(t, n.LeaderEpochCache().Entries())
	epoch, end := n.EndOffsetForEpoch(2)
	require.Equal(t, UndefinedEpoch, epoch)
	require.Equal(t, UndefinedEpochOffset, end)
}

// Partitions created through the Manager and appended to, then lost to a
// crash before any flush or checkpoint: the restarted Manager has every
// partition's epochs back.
func TestManagerCrashAfterCreatingPartitions(t *testing.T) {
	dir := t.TempDir()
	m := newTestManager(t, []string{dir})
	want := map[TopicPartition][]EpochEntry{}
	for p := range int32(8) {
		tp := TopicPartition{"fresh", p}
		l, err := m.GetOrCreateLog(tp, nil)
		require.NoError(t, err)
		require.NoError(t, l.AssignEpoch(p, 0))
		require.NoFileExists(t, filepath.Join(l.Dir(), LeaderEpochCheckpointFile))
		if p%2 == 0 {
			want[tp] = appendUnderEpochs(t, l, 3+int(p), p, p+1)
		}
	}
	// Simulate the crash: stop the loops, abandon the files.
	m.cancel()
	m.wg.Wait()
	for _, l := range m.Logs() {
		crash(t, l)
	}

	m2 := newTestManager(t, []string{dir})
	defer m2.Close()
	for p := range int32(8) {
		tp := TopicPartition{"fresh", p}
		l, ok := m2.Log(tp)
		require.True(t, ok, "%s", tp)
		require.Equal(t, want[tp], l.LeaderEpochCache().Entries(), "%s", tp)
	}
}

// A log that never held a batch has no checkpoint to lose: restarting it,
// cleanly or not, writes none (thousands of empty partitions would
// otherwise each cost an fsync at startup).
func TestEmptyLogRestartWritesNoCheckpoint(t *testing.T) {
	for _, clean := range []bool{true, false} {
		l := newTestLog(t, testConfig())
		require.NoError(t, l.AssignEpoch(3, 0))
		n := reopen(t, l, clean, 0)
		require.NoFileExists(t, filepath.Join(n.Dir(), LeaderEpochCheckpointFile), "clean=%v", clean)
		require.Empty(t, n.LeaderEpochCache().Entries())
	}
}
