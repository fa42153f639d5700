package storage

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/protocol/records"
)

// reopen closes l (cleanly, or by abandoning its files to simulate a crash)
// and opens the directory again.
func reopen(t *testing.T, l *Log, clean bool, recoveryPoint int64) *Log {
	t.Helper()
	if clean {
		require.NoError(t, l.Close())
	} else {
		crash(t, l)
	}
	n := openTestLog(t, l.Dir(), l.Config(), OpenOptions{CleanShutdown: clean, RecoveryPoint: recoveryPoint})
	t.Cleanup(func() { n.Close() })
	return n
}

// crash closes the files without trimming indexes or flushing, as a killed
// process leaves them.
func crash(t *testing.T, l *Log) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	for _, s := range l.segments {
		require.NoError(t, s.close())
	}
}

func TestRestartClean(t *testing.T) {
	l := newTestLog(t, testConfig())
	batches := fill(t, l, 150, 100, constTS)
	leo, bases := l.LogEndOffset(), segmentBases(l)
	require.NoError(t, l.Close())

	// Close trimmed the indexes to their entries.
	for _, p := range segmentFiles(t, l.Dir(), indexSuffix) {
		require.Zero(t, fileSize(t, p)%offsetIndexEntrySize)
		require.Less(t, fileSize(t, p), int64(l.Config().IndexMaxBytes))
	}
	// Flip a record byte in the first segment: a clean start does not rescan,
	// so it stays unnoticed (a CRC check would truncate there).
	flipByte(t, segmentName(l.Dir(), 0, logSuffix), int64(len(batches[0].bytes)+records.HeaderSize+2))

	n := openTestLog(t, l.Dir(), l.Config(), OpenOptions{CleanShutdown: true})
	defer n.Close()
	require.Equal(t, leo, n.LogEndOffset())
	require.Equal(t, bases, segmentBases(n))
	require.Equal(t, leo, n.RecoveryPoint())
	// The reopened active segment appends after the old data with indexes.
	info, err := n.Append(makeBatch(1, constTS(1000), 10), 5, nil)
	require.NoError(t, err)
	require.Equal(t, leo, info.FirstOffset)
	r, err := n.Read(batches[140].base, 1, -1, true)
	require.NoError(t, err)
	hs, _ := readBatches(t, r)
	require.Equal(t, batches[140].base, hs[0].BaseOffset)
}

func segmentBases(l *Log) []int64 {
	var out []int64
	for _, s := range l.Segments() {
		out = append(out, s.BaseOffset())
	}
	return out
}

func flipByte(t *testing.T, path string, pos int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	var b [1]byte
	_, err = f.ReadAt(b[:], pos)
	require.NoError(t, err)
	b[0] ^= 0xff
	_, err = f.WriteAt(b[:], pos)
	require.NoError(t, err)
}

func appendToFile(t *testing.T, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write(data)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func TestRecoveryTornTail(t *testing.T) {
	half := makeBatch(3, constTS(0), 200)
	records.SetBaseOffset(half, 1_000_000)
	cases := []struct {
		name string
		tail []byte
	}{
		{"garbage", []byte("this is not a record batch, just garbage left by a crash.......")},
		{"zeros", make([]byte, 4096)},
		{"half a batch", half[:len(half)/2]},
		{"header only", half[:records.HeaderSize]},
		{"short prefix", half[:7]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newTestLog(t, testConfig())
			fill(t, l, 60, 100, constTS)
			leo := l.LogEndOffset()
			active := l.Segments()[len(l.Segments())-1]
			path := segmentName(l.Dir(), active.BaseOffset(), logSuffix)
			validSize := active.Size()
			crash(t, l)
			appendToFile(t, path, tc.tail)

			n := openTestLog(t, l.Dir(), l.Config(), OpenOptions{RecoveryPoint: active.BaseOffset()})
			defer n.Close()
			require.Equal(t, leo, n.LogEndOffset())
			require.Equal(t, validSize, fileSize(t, path), "tail truncated to the last valid batch")
			require.Equal(t, leo, n.RecoveryPoint())
			info, err := n.Append(makeBatch(1, constTS(99), 10), 5, nil)
			require.NoError(t, err)
			require.Equal(t, leo, info.FirstOffset)
		})
	}
}

func TestRecoveryCorruptMiddle(t *testing.T) {
	l := newTestLog(t, testConfig())
	batches := fill(t, l, 150, 100, constTS)
	segs := l.Segments()
	require.Greater(t, len(segs), 6)
	victim := segs[3]
	// Corrupt the records of the second batch of segment 3.
	var pos int64
	var target appended
	for i, b := range batches {
		if b.base == victim.BaseOffset() {
			pos = int64(len(b.bytes))
			target = batches[i+1]
			break
		}
	}
	crash(t, l)
	flipByte(t, segmentName(l.Dir(), victim.BaseOffset(), logSuffix), pos+records.HeaderSize+1)

	// Recovery from segment 2 finds the bad CRC and truncates there.
	n := openTestLog(t, l.Dir(), l.Config(), OpenOptions{RecoveryPoint: segs[2].BaseOffset()})
	defer n.Close()
	require.Equal(t, target.base, n.LogEndOffset())
	require.Equal(t, segmentBases(l)[:4], segmentBases(n), "segments after the corruption are deleted")
	for _, s := range segs[4:] {
		require.NoFileExists(t, segmentName(l.Dir(), s.BaseOffset(), logSuffix))
		require.NoFileExists(t, segmentName(l.Dir(), s.BaseOffset(), indexSuffix))
	}
	r, err := n.Read(0, 1<<20, -1, false)
	require.NoError(t, err)
	hs, _ := readBatches(t, r)
	require.Equal(t, target.base, hs[len(hs)-1].LastOffset()+1)
}

func TestUncleanSkipsFlushedSegments(t *testing.T) {
	l := newTestLog(t, testConfig())
	batches := fill(t, l, 100, 100, constTS)
	segs := l.Segments()
	require.NoError(t, l.maybeFlush(testNow()))
	rp := l.RecoveryPoint()
	require.Equal(t, segs[len(segs)-1].BaseOffset(), rp)
	// Damage data below the recovery point: not rescanned, so kept.
	flipByte(t, segmentName(l.Dir(), 0, logSuffix), int64(len(batches[0].bytes)+records.HeaderSize+1))
	n := reopen(t, l, false, rp)
	require.Equal(t, batches[len(batches)-1].last+1, n.LogEndOffset())
}

func TestIndexRebuild(t *testing.T) {
	for _, clean := range []bool{true, false} {
		l := newTestLog(t, testConfig())
		batches := fill(t, l, 150, 100, func(i int) int64 { return testEpochMs + int64(i%40)*7 })
		var wantEntries []int
		for _, s := range l.Segments() {
			wantEntries = append(wantEntries, s.offsetIndex.len())
		}
		if clean {
			require.NoError(t, l.Close())
		} else {
			crash(t, l)
		}
		idx := segmentFiles(t, l.Dir(), indexSuffix)
		for _, p := range idx[:len(idx)/2] {
			require.NoError(t, os.Remove(p))
		}
		tidx := segmentFiles(t, l.Dir(), timeIndexSuffix)
		require.NoError(t, os.Remove(tidx[len(tidx)-1]))
		// Garbage in another index: fails the sanity check, rebuilt too.
		require.NoError(t, os.WriteFile(idx[len(idx)-2], make([]byte, 64), 0o644))

		n := openTestLog(t, l.Dir(), l.Config(), OpenOptions{CleanShutdown: clean, RecoveryPoint: l.LogEndOffset()})
		for i, s := range n.Segments() {
			require.Equal(t, wantEntries[i], s.offsetIndex.len(), "segment %d", s.BaseOffset())
			require.FileExists(t, segmentName(n.Dir(), s.BaseOffset(), indexSuffix))
		}
		for _, b := range batches {
			r, err := n.Read(b.last, 1, -1, true)
			require.NoError(t, err)
			hs, _ := readBatches(t, r)
			require.Equal(t, b.base, hs[0].BaseOffset)
			got, ok, err := n.OffsetForTimestamp(b.ts)
			require.NoError(t, err)
			require.True(t, ok)
			require.LessOrEqual(t, got.Offset, b.base)
		}
		require.NoError(t, n.Close())
	}
}
