package storage

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
)

func TestLeaderEpochCache(t *testing.T) {
	dir := t.TempDir()
	c, found, err := loadLeaderEpochCache(dir, partitionLogger{base: zaptest.NewLogger(t)})
	require.NoError(t, err)
	require.False(t, found)
	require.Equal(t, UndefinedEpoch, c.LatestEpoch())
	require.NoError(t, c.Assign(1, 0))
	require.NoError(t, c.Assign(1, 5)) // same epoch later: no-op
	require.NoError(t, c.Assign(3, 10))
	require.NoError(t, c.Assign(4, 25))
	require.NoError(t, c.Assign(-1, 30)) // no epoch: ignored
	require.Equal(t, []EpochEntry{{1, 0}, {3, 10}, {4, 25}}, c.Entries())

	// Changes stay in memory until flush writes the file.
	_, err = os.Stat(filepath.Join(dir, LeaderEpochCheckpointFile))
	require.ErrorIs(t, err, os.ErrNotExist)
	require.NoError(t, c.flush())
	// Kafka's text format: version, count, "epoch startOffset" lines.
	data, err := os.ReadFile(filepath.Join(dir, LeaderEpochCheckpointFile))
	require.NoError(t, err)
	require.Equal(t, "0\n3\n1 0\n3 10\n4 25\n", string(data))
	c2, found, err := loadLeaderEpochCache(dir, partitionLogger{base: zaptest.NewLogger(t)})
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, c.Entries(), c2.Entries())

	const leo = 40
	for _, tc := range []struct {
		requested int32
		epoch     int32
		end       int64
	}{
		{4, 4, leo}, // latest epoch ends at the log end
		{3, 3, 25},  // ends where the next begins
		{2, 1, 10},  // unknown epoch between: the floor epoch's end
		{1, 1, 10},  //
		{0, 0, 0},   // older than all: requested epoch, first start offset
		{5, -1, -1}, // newer than all: undefined
		{UndefinedEpoch, -1, -1},
	} {
		epoch, end := c.EndOffsetForEpoch(tc.requested, leo)
		require.Equal(t, tc.epoch, epoch, "epoch %d", tc.requested)
		require.Equal(t, tc.end, end, "epoch %d", tc.requested)
	}

	// A new leader epoch below existing offsets removes the conflicting tail.
	require.NoError(t, c.Assign(5, 20))
	require.Equal(t, []EpochEntry{{1, 0}, {3, 10}, {5, 20}}, c.Entries())

	require.NoError(t, c.TruncateFromEnd(20))
	require.Equal(t, []EpochEntry{{1, 0}, {3, 10}}, c.Entries())
	require.NoError(t, c.TruncateFromStart(12))
	require.Equal(t, []EpochEntry{{3, 12}}, c.Entries())
	require.NoError(t, c.Assign(6, 30))
	require.NoError(t, c.TruncateFromStart(5)) // below the first: unchanged
	require.Equal(t, []EpochEntry{{3, 12}, {6, 30}}, c.Entries())
	require.NoError(t, c.TruncateFromStart(30))
	require.Equal(t, []EpochEntry{{6, 30}}, c.Entries())
	require.NoError(t, c.Clear())
	require.NoError(t, c.flush())
	data, err = os.ReadFile(filepath.Join(dir, LeaderEpochCheckpointFile))
	require.NoError(t, err)
	require.Equal(t, "0\n0\n", string(data))
}

func TestLogEpochs(t *testing.T) {
	l := newTestLog(t, testConfig())
	for epoch := int32(1); epoch <= 3; epoch++ {
		for range 5 {
			_, err := l.Append(makeBatch(2, constTS(0), 20), epoch, nil)
			require.NoError(t, err)
		}
	}
	require.Equal(t, []EpochEntry{{1, 0}, {2, 10}, {3, 20}}, l.LeaderEpochCache().Entries())
	epoch, end := l.EndOffsetForEpoch(2)
	require.Equal(t, int32(2), epoch)
	require.Equal(t, int64(20), end)
	epoch, end = l.EndOffsetForEpoch(3)
	require.Equal(t, int32(3), epoch)
	require.Equal(t, int64(30), end)
	l.SetHighWatermark(30)
	_, err := l.DeleteRecordsBefore(15)
	require.NoError(t, err)
	require.Equal(t, []EpochEntry{{2, 15}, {3, 20}}, l.LeaderEpochCache().Entries())
	require.NoError(t, l.TruncateTo(18))
	require.Equal(t, []EpochEntry{{2, 15}}, l.LeaderEpochCache().Entries())
}
