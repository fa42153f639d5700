package storage

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/protocol/records"
)

// TestPinnedRegionOutlivesItsSegment reads regions, pins them, makes their
// segments go away every way a log can, then opens files so that freed
// descriptor numbers are reused: a pinned region still reads the bytes it
// was read with, and its file closes on Unpin. An unpinned region of the
// same read can no longer be pinned.
func TestPinnedRegionOutlivesItsSegment(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     func() Config
		fill    func(t *testing.T, l *Log)
		goAway  func(t *testing.T, l *Log)
		deleted bool // the segment is renamed *.deleted and closed
	}{
		{
			name: "retention", cfg: testConfig, deleted: true,
			goAway: func(t *testing.T, l *Log) {
				_, err := l.DeleteRecordsBefore(l.HighWatermark())
				require.NoError(t, err)
			},
		},
		{
			name: "compaction", cfg: compactConfig, deleted: true,
			fill: func(t *testing.T, l *Log) { fillUpdates(t, l, records.NewBatchOptions(), 5, 40) },
			goAway: func(t *testing.T, l *Log) {
				st := cleanNow(t, l, time.Now())
				require.Positive(t, st.groups, "the cleaner swapped segments")
			},
		},
		{
			name: "truncate fully", cfg: testConfig, deleted: true,
			goAway: func(t *testing.T, l *Log) { require.NoError(t, l.TruncateFullyAndStartAt(l.LogEndOffset()+100)) },
		},
		{
			name: "log closed", cfg: testConfig,
			goAway: func(t *testing.T, l *Log) { require.NoError(t, l.Close()) },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newTestLog(t, tc.cfg())
			if tc.fill != nil {
				tc.fill(t, l)
			} else {
				fill(t, l, 120, 300, constTS)
			}
			require.Greater(t, len(l.Segments()), 2)
			res, err := l.Read(l.LogStartOffset(), 1<<30, -1, true)
			require.NoError(t, err)
			want, err := res.ReadInto(nil)
			require.NoError(t, err)
			pinned, unpinned := res, res
			unpinned.Regions = res.Regions[:1]
			pinned.Regions = res.Regions[1:]
			require.True(t, pinned.Pin())

			tc.goAway(t, l)
			l.deletes.Wait() // file.delete.delay.ms is 0: segments close now
			if tc.deleted {
				del, err := filepath.Glob(filepath.Join(l.Dir(), "*"+deletedSuffix))
				require.NoError(t, err)
				require.Empty(t, del, "deleted segments were removed")
			}
			// Take the freed descriptor numbers with other content.
			for range 32 {
				f, err := os.Create(filepath.Join(t.TempDir(), "other"))
				require.NoError(t, err)
				_, err = f.Write(make([]byte, 1<<16))
				require.NoError(t, err)
				t.Cleanup(func() { f.Close() })
			}

			got := make([]byte, 0, len(want))
			for _, r := range pinned.Regions {
				b := make([]byte, r.Size)
				_, err := r.File.ReadAt(b, r.Pos)
				require.NoError(t, err)
				got = append(got, b...)
			}
			require.Equal(t, want[unpinned.Regions[0].Size:], got, "pinned regions read the original bytes")
			require.False(t, unpinned.Pin(), "a region of a closed segment cannot be pinned")

			pinned.Unpin()
			_, err = pinned.Regions[0].File.ReadAt(make([]byte, 1), 0)
			require.ErrorIs(t, err, os.ErrClosed, "the last Unpin closes the file")
		})
	}
}

// TestPinnedRegionTruncatedInPlace: truncation rewrites the active segment
// in place, so a pinned region past the new end reads short (io.EOF), which
// a reader must treat as the records being gone.
func TestPinnedRegionTruncatedInPlace(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 1 << 20
	l := newTestLog(t, cfg)
	batches := fill(t, l, 50, 300, constTS)
	require.Len(t, l.Segments(), 1)
	res, err := l.Read(batches[40].base, 1<<20, -1, true)
	require.NoError(t, err)
	require.True(t, res.Pin())
	defer res.Unpin()
	require.NoError(t, l.TruncateTo(batches[30].base))
	r := res.Regions[0]
	_, err = r.File.ReadAt(make([]byte, r.Size), r.Pos)
	require.True(t, errors.Is(err, io.EOF), "short read: %v", err)
}
