package storage

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// Close writes a producer snapshot (with an fsync) only when the table may
// differ from what a restart would rebuild: something was appended since
// the table was loaded, or producers expired. Restarting thousands of idle
// partitions used to write and fsync a snapshot for each one.
func TestCloseSnapshotsOnlyWhatChanged(t *testing.T) {
	cfg := testConfig()
	dir := t.TempDir() + "/t-0"
	l := openTestLog(t, dir, cfg, OpenOptions{})
	require.NoError(t, l.Close())
	offs, err := snapshotOffsets(dir)
	require.NoError(t, err)
	require.Empty(t, offs, "an empty log has no producer state to snapshot")

	reopen := func() *Log {
		t.Helper()
		n := openTestLog(t, dir, cfg, OpenOptions{CleanShutdown: true})
		t.Cleanup(func() { n.Close() })
		return n
	}
	snapshotAtEnd := func(l *Log) os.FileInfo {
		t.Helper()
		fi, err := os.Stat(segmentName(dir, l.LogEndOffset(), snapshotSuffix))
		require.NoError(t, err)
		return fi
	}

	l = reopen()
	_, err = l.Append(producerBatch(t, 7, 0, 0, 3, false), 0, nil)
	require.NoError(t, err)
	require.NoError(t, l.Close())
	written := snapshotAtEnd(l)

	// Nothing appended since the load: the snapshot file is left alone.
	l = reopen()
	require.NoError(t, l.Close())
	require.True(t, os.SameFile(written, snapshotAtEnd(l)), "close rewrote an unchanged snapshot")

	// Expired producers change the table without an append.
	l = reopen()
	require.Equal(t, 1, l.RemoveExpiredProducers(1<<62, 1))
	require.NoError(t, l.Close())
	require.False(t, os.SameFile(written, snapshotAtEnd(l)), "close kept a snapshot holding expired producers")
	l = reopen()
	_, known := l.ProducerEpoch(7)
	require.False(t, known)

	// An append moves the log end: a new snapshot there.
	_, err = l.Append(producerBatch(t, 8, 0, 0, 1, false), 0, nil)
	require.NoError(t, err)
	require.NoError(t, l.Close())
	snapshotAtEnd(l)
	l = reopen()
	_, known = l.ProducerEpoch(8)
	require.True(t, known)
}
