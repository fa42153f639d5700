package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// processFDs counts this process's open descriptors.
func processFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(ents)
}

// processMaps counts this process's memory mappings.
func processMaps(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/maps")
	require.NoError(t, err)
	return strings.Count(string(b), "\n")
}

// TestEmptySegmentsHoldNoDescriptorOrMapping: an empty segment (a new
// partition's, or an idle one's after a restart) keeps no .log descriptor
// and maps no index; the first append opens the .log, the first index
// entry preallocates and maps the index; reopening an empty log costs
// nothing again while a written one keeps its descriptor.
func TestEmptySegmentsHoldNoDescriptorOrMapping(t *testing.T) {
	cfg := testConfig()
	cfg.IndexIntervalBytes = 0 // an index entry for every batch after the first
	root := t.TempDir()
	const n = 200
	fds0, maps0 := processFDs(t), processMaps(t)
	logs := make([]*Log, n)
	for i := range logs {
		logs[i] = openTestLog(t, filepath.Join(root, fmt.Sprintf("idle-%d", i)), cfg, OpenOptions{CleanShutdown: true})
	}
	// Other tests of the package may run in parallel; 200 logs held three
	// descriptors or mappings each before, so a small slack tells apart.
	require.Less(t, processFDs(t)-fds0, 20, "empty logs hold no descriptors")
	require.Less(t, processMaps(t)-maps0, 20, "empty logs map no index")
	s := logs[0].Segments()[0]
	require.Nil(t, s.log)
	require.Zero(t, fileSize(t, segmentName(s.dir, 0, indexSuffix)))
	require.FileExists(t, segmentName(s.dir, 0, logSuffix))

	// Written: the .log is opened by the first append, the indexes grow at
	// the first entry, and reads see the batches.
	l := logs[0]
	for range 3 {
		_, err := l.Append(makeBatch(2, 1000, 50), 0, nil)
		require.NoError(t, err)
	}
	require.NotNil(t, s.log)
	require.Equal(t, int64(cfg.IndexMaxBytes/offsetIndexEntrySize*offsetIndexEntrySize), fileSize(t, segmentName(s.dir, 0, indexSuffix)))
	require.Equal(t, 2, s.offsetIndex.len())
	res, err := l.Read(0, 1<<20, l.LogEndOffset(), true)
	require.NoError(t, err)
	require.Equal(t, s.Size(), int64(res.Size))
	got, err := res.ReadInto(nil)
	require.NoError(t, err)
	require.Len(t, got, res.Size)

	// Reopened: the written log keeps one descriptor, an empty one none.
	dir0, dir1 := l.Dir(), logs[1].Dir()
	for _, x := range logs {
		require.NoError(t, x.Close())
	}
	fds1 := processFDs(t)
	written := openTestLog(t, dir0, cfg, OpenOptions{CleanShutdown: true})
	defer written.Close()
	require.NotNil(t, written.Segments()[0].log)
	empty := openTestLog(t, dir1, cfg, OpenOptions{CleanShutdown: true})
	defer empty.Close()
	require.Nil(t, empty.Segments()[0].log)
	require.Nil(t, empty.Segments()[0].offsetIndex.data)
	require.LessOrEqual(t, processFDs(t)-fds1, 1+5)
	_, err = empty.Append(makeBatch(1, 1000, 10), 0, nil)
	require.NoError(t, err)
	require.NotNil(t, empty.Segments()[0].log)
}
