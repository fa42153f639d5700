package storage

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/protocol/records"
)

var testEpochMs = time.Now().UnixMilli()

func constTS(i int) int64 { return testEpochMs + int64(i)*10 }

func TestAppendReadAcrossRolls(t *testing.T) {
	l := newTestLog(t, testConfig())
	batches := fill(t, l, 300, 100, constTS)
	require.Greater(t, len(l.Segments()), 10)
	require.Equal(t, batches[len(batches)-1].last+1, l.LogEndOffset())

	// Files are named by 20-digit base offsets; base offsets match segments.
	logs := segmentFiles(t, l.Dir(), logSuffix)
	require.Len(t, logs, len(l.Segments()))
	for i, s := range l.Segments() {
		require.Equal(t, segmentName(l.Dir(), s.BaseOffset(), logSuffix), logs[i])
		require.LessOrEqual(t, s.Size(), int64(4096))
	}

	// Every offset reads back the batch holding it, byte for byte.
	for _, b := range batches {
		for off := b.base; off <= b.last; off++ {
			r, err := l.Read(off, 1, -1, true)
			require.NoError(t, err)
			hs, data := readBatches(t, r)
			require.Len(t, hs, 1)
			require.Equal(t, b.base, hs[0].BaseOffset)
			require.Equal(t, int32(5), hs[0].PartitionLeaderEpoch)
			require.Equal(t, b.bytes, data)
		}
	}

	// A whole-log read spans segments and equals the concatenation.
	var all []byte
	for _, b := range batches {
		all = append(all, b.bytes...)
	}
	r, err := l.Read(0, 1<<30, -1, false)
	require.NoError(t, err)
	_, data := readBatches(t, r)
	require.Equal(t, all, data)
	require.Len(t, r.Regions, len(l.Segments()), "one region per segment")
}

func TestIndexesExact(t *testing.T) {
	l := newTestLog(t, testConfig())
	rng := rand.New(rand.NewPCG(1, 2))
	tss := make([]int64, 400)
	for i := range tss {
		tss[i] = 1000 + rng.Int64N(5000) // not monotonic
	}
	batches := fill(t, l, len(tss), 50, func(i int) int64 { return tss[i] })

	var buf [records.HeaderSize]byte
	entries := 0
	for _, s := range l.Segments() {
		// Every offset index entry points at the batch whose last offset it
		// names; lookups return the greatest entry <= target.
		for i := range s.offsetIndex.len() {
			e := s.offsetIndex.at(i)
			h, err := s.readHeaderAt(e.position, s.Size(), buf[:])
			require.NoError(t, err)
			require.Equal(t, e.offset, h.LastOffset())
			require.Equal(t, e, s.offsetIndex.lookup(e.offset))
			entries++
		}
		// Time index entries are strictly increasing in timestamp.
		for i := 1; i < s.timeIndex.len(); i++ {
			require.Less(t, s.timeIndex.at(i-1).timestamp, s.timeIndex.at(i).timestamp)
		}
	}
	require.Greater(t, entries, 20)

	// OffsetForTimestamp = first batch with MaxTimestamp >= ts (brute force).
	for _, target := range []int64{0, 999, 1000, 1500, 2500, 3333, 4999, 5999, 6000, 7000} {
		want := int64(-1)
		for _, b := range batches {
			if b.ts >= target {
				want = b.base
				break
			}
		}
		got, ok, err := l.OffsetForTimestamp(target)
		require.NoError(t, err)
		require.Equal(t, want >= 0, ok, "ts %d", target)
		require.Equal(t, want, got.Offset, "ts %d", target)
	}
	for _, b := range batches {
		got, ok, err := l.OffsetForTimestamp(b.ts)
		require.NoError(t, err)
		require.True(t, ok)
		require.LessOrEqual(t, got.Offset, b.base)
	}

	// MAX_TIMESTAMP: the first batch holding the largest timestamp.
	best := batches[0]
	for _, b := range batches {
		if b.ts > best.ts {
			best = b
		}
	}
	mt, ok := l.MaxTimestamp()
	require.True(t, ok)
	require.Equal(t, TimestampOffset{Timestamp: best.ts, Offset: best.last}, mt)
}

func TestReadLimits(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 1 << 20
	l := newTestLog(t, cfg)
	batches := fill(t, l, 3, 1000, constTS) // ~1061 bytes each
	size := len(batches[0].bytes)

	cases := []struct {
		name        string
		offset      int64
		maxBytes    int
		maxOffset   int64
		minOneBatch bool
		wantBases   []int64
	}{
		{"too small without minOneBatch", 0, 100, -1, false, nil},
		{"too small with minOneBatch", 0, 100, -1, true, []int64{0}},
		{"two fit", 0, 2*size + 50, -1, true, []int64{0, batches[1].base}},
		{"mid-batch offset", batches[1].base + 1, 1 << 20, -1, false, []int64{batches[1].base, batches[2].base}},
		{"bounded by high watermark", 0, 1 << 20, batches[2].base, false, []int64{0, batches[1].base}},
		{"bound inside a batch excludes it", 0, 1 << 20, batches[1].last, false, []int64{0}},
		{"at bound", batches[1].base, 1 << 20, batches[1].base, true, nil},
		{"at log end", l.LogEndOffset(), 1 << 20, -1, true, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := l.Read(tc.offset, tc.maxBytes, tc.maxOffset, tc.minOneBatch)
			require.NoError(t, err)
			hs, _ := readBatches(t, r)
			var bases []int64
			for _, h := range hs {
				bases = append(bases, h.BaseOffset)
			}
			require.Equal(t, tc.wantBases, bases)
		})
	}
	_, err := l.Read(l.LogEndOffset()+1, 100, -1, true)
	require.ErrorIs(t, err, ErrOffsetOutOfRange)
	_, err = l.Read(-1, 100, -1, true)
	require.ErrorIs(t, err, ErrOffsetOutOfRange)
}

func TestConcurrentReadAppend(t *testing.T) {
	l := newTestLog(t, testConfig())
	const total = 1500
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for i := range total {
			_, err := l.Append(makeBatch(2, constTS(i), 64), 1, nil)
			if err != nil {
				t.Error(err)
				return
			}
			l.SetHighWatermark(l.LogEndOffset())
		}
	}()
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var next int64
			for {
				select {
				case <-done:
					if next == 2*total {
						return
					}
				default:
				}
				r, err := l.Read(next, 8192, l.HighWatermark(), true)
				if err != nil {
					t.Error(err)
					return
				}
				data, err := r.ReadInto(nil)
				if err != nil {
					t.Error(err)
					return
				}
				for p := 0; p < len(data); {
					h, err := records.ParseHeader(data[p:])
					if err != nil || records.VerifyCRC(data[p:p+h.Size()]) != nil || h.BaseOffset != next {
						t.Errorf("bad batch at offset %d: %v", next, err)
						return
					}
					next = h.LastOffset() + 1
					p += h.Size()
				}
			}
		}()
	}
	wg.Wait()
}

func TestRollByTimeAndOffsetRange(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 1 << 20
	cfg.SegmentMs = 60_000
	l := newTestLog(t, cfg)
	now := time.Now().UnixMilli()
	_, err := l.Append(makeBatch(1, now, 10), 0, nil)
	require.NoError(t, err)
	_, err = l.Append(makeBatch(1, now, 10), 0, nil)
	require.NoError(t, err)
	require.Len(t, l.Segments(), 1, "young segment is kept")
	_, err = l.Append(makeBatch(1, now-120_000, 10), 0, nil)
	require.NoError(t, err)
	require.Len(t, l.Segments(), 1)

	old := newTestLog(t, cfg)
	for range 3 {
		_, err := old.Append(makeBatch(1, now-120_000, 10), 0, nil)
		require.NoError(t, err)
	}
	require.Len(t, old.Segments(), 3, "segment.ms counts from the first batch's timestamp")
	// Rolled segments had their indexes trimmed.
	for _, s := range old.Segments()[:2] {
		require.Zero(t, fileSize(t, segmentName(old.Dir(), s.BaseOffset(), indexSuffix)))
		require.Equal(t, int64(timeIndexEntrySize), fileSize(t, segmentName(old.Dir(), s.BaseOffset(), timeIndexSuffix)))
	}
	active := old.Segments()[2]
	require.Zero(t, fileSize(t, segmentName(old.Dir(), active.BaseOffset(), indexSuffix)),
		"the active index grows to its preallocated size at its first entry, and one batch made none")

	// A follower batch whose offsets do not fit a 32-bit relative offset rolls.
	f := newTestLog(t, cfg)
	b := makeBatch(1, now, 10)
	records.SetBaseOffset(b, 0)
	_, err = f.AppendAsFollower(b)
	require.NoError(t, err)
	b = makeBatch(1, now, 10)
	records.SetBaseOffset(b, 1<<32)
	_, err = f.AppendAsFollower(b)
	require.NoError(t, err)
	require.Len(t, f.Segments(), 2)
	require.Equal(t, int64(1<<32), f.Segments()[1].BaseOffset())
}

func TestAppendValidation(t *testing.T) {
	cfg := testConfig()
	l := newTestLog(t, cfg)
	_, err := l.Append(makeBatch(1, 1, 5000), 0, nil)
	require.ErrorIs(t, err, ErrBatchTooLarge)
	_, err = l.Append([]byte("garbage that is not a batch at all, long enough for the header bytes......"), 0, nil)
	require.ErrorIs(t, err, ErrInvalidBatches)
	b := makeBatch(1, 1, 10)
	_, err = l.Append(b[:len(b)-1], 0, nil)
	require.ErrorIs(t, err, ErrInvalidBatches)

	hookErr := errors.New("out of order sequence")
	_, err = l.Append(makeBatch(1, 1, 10), 0, func([]byte, records.Header) error { return hookErr })
	require.ErrorIs(t, err, hookErr)
	require.Zero(t, l.LogEndOffset(), "a rejected append writes nothing")

	// Several batches in one append get consecutive offsets.
	multi := append(makeBatch(3, 1, 10), makeBatch(2, 2, 10)...)
	var seen []int64
	info, err := l.Append(multi, 7, func(_ []byte, h records.Header) error {
		seen = append(seen, h.BaseOffset)
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, []int64{0, 3}, seen)
	require.Equal(t, int64(0), info.FirstOffset)
	require.Equal(t, int64(4), info.LastOffset)
	require.Equal(t, int64(-1), info.LogAppendTime)
	require.Equal(t, int64(2), info.MaxTimestamp)

	// Follower appends keep offsets and must move forward with valid CRCs.
	fb := makeBatch(1, 1, 10)
	records.SetBaseOffset(fb, 3)
	_, err = l.AppendAsFollower(fb)
	require.ErrorIs(t, err, ErrUnexpectedOffset)
	records.SetBaseOffset(fb, 9)
	fb[len(fb)-1] ^= 1
	_, err = l.AppendAsFollower(fb)
	require.ErrorIs(t, err, ErrCorrupt)
	fb[len(fb)-1] ^= 1
	records.SetPartitionLeaderEpoch(fb, 8)
	info, err = l.AppendAsFollower(fb)
	require.NoError(t, err)
	require.Equal(t, int64(9), info.FirstOffset)
	require.Equal(t, int64(10), l.LogEndOffset())
	require.Equal(t, []EpochEntry{{7, 0}, {8, 9}}, l.LeaderEpochCache().Entries())
}

func TestDeleteRecordsBefore(t *testing.T) {
	l := newTestLog(t, testConfig())
	fill(t, l, 200, 100, constTS)
	segs := l.Segments()
	cut := segs[3].BaseOffset() + 1
	_, err := l.DeleteRecordsBefore(l.HighWatermark() + 1)
	require.ErrorIs(t, err, ErrOffsetOutOfRange)
	lso, err := l.DeleteRecordsBefore(cut)
	require.NoError(t, err)
	require.Equal(t, cut, lso)
	require.Equal(t, cut, l.LogStartOffset())
	require.Equal(t, segs[3].BaseOffset(), l.Segments()[0].BaseOffset(), "segments wholly below are gone")
	for _, s := range segs[:3] {
		require.NoFileExists(t, segmentName(l.Dir(), s.BaseOffset(), logSuffix))
	}
	_, err = l.Read(cut-1, 100, -1, true)
	require.ErrorIs(t, err, ErrOffsetOutOfRange)
	r, err := l.Read(cut, 100, -1, true)
	require.NoError(t, err)
	hs, _ := readBatches(t, r)
	require.LessOrEqual(t, hs[0].BaseOffset, cut)
	require.GreaterOrEqual(t, hs[0].LastOffset(), cut)
}

func TestRetention(t *testing.T) {
	now := time.Now()
	old := now.Add(-2 * time.Hour).UnixMilli()
	t.Run("time", func(t *testing.T) {
		cfg := testConfig()
		cfg.RetentionMs = time.Hour.Milliseconds()
		l := newTestLog(t, cfg)
		fill(t, l, 100, 100, func(int) int64 { return old })
		nOld := len(l.Segments())
		fill(t, l, 100, 100, func(int) int64 { return now.UnixMilli() })
		// The segment holding both old and new batches has a new max timestamp.
		hooked := 0
		l.SetRetentionHook(func() { hooked++ }) // under the log's lock
		n, err := l.DeleteOldSegments(now)
		require.NoError(t, err)
		require.Equal(t, nOld-1, n)
		require.Equal(t, l.Segments()[0].BaseOffset(), l.LogStartOffset())
		require.Equal(t, 1, hooked, "the retention hook learns of the new log start offset")
		n, err = l.DeleteOldSegments(now)
		require.NoError(t, err)
		require.Zero(t, n)
		require.Equal(t, 1, hooked, "nothing deleted, nothing to tell")
		_, err = l.Read(0, 100, -1, true)
		require.ErrorIs(t, err, ErrOffsetOutOfRange)
	})
	t.Run("time expires active segment", func(t *testing.T) {
		cfg := testConfig()
		cfg.RetentionMs = time.Hour.Milliseconds()
		l := newTestLog(t, cfg)
		fill(t, l, 50, 100, func(int) int64 { return old })
		leo := l.LogEndOffset()
		l.SetHighWatermark(leo - 1)
		n, err := l.DeleteOldSegments(now)
		require.NoError(t, err)
		require.Equal(t, len(l.Segments()), 1, "active segment above the high watermark stays")
		require.Positive(t, n)
		l.SetHighWatermark(leo)
		n, err = l.DeleteOldSegments(now)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Len(t, l.Segments(), 1)
		require.Zero(t, l.Segments()[0].Size(), "rolled to a new empty segment")
		require.Equal(t, leo, l.LogStartOffset())
		require.Equal(t, leo, l.LogEndOffset())
		n, err = l.DeleteOldSegments(now)
		require.NoError(t, err)
		require.Zero(t, n, "an empty active segment is never deleted")
	})
	t.Run("size", func(t *testing.T) {
		cfg := testConfig()
		l := newTestLog(t, cfg)
		fill(t, l, 200, 100, constTS)
		before := l.Segments()
		var total int64
		for _, s := range before {
			total += s.Size()
		}
		cfg.RetentionBytes = total - before[0].Size() - before[1].Size() - 1
		require.NoError(t, l.SetConfig(cfg))
		n, err := l.DeleteOldSegments(now)
		require.NoError(t, err)
		// Like Kafka, a segment goes only if the log stays >= retention.bytes
		// without it, so the log may stay slightly above the limit.
		require.Equal(t, 2, n)
		require.Equal(t, before[2].BaseOffset(), l.LogStartOffset())
		require.Equal(t, cfg.RetentionBytes+1, l.Size())
	})
}

func TestTruncateTo(t *testing.T) {
	l := newTestLog(t, testConfig())
	batches := fill(t, l, 200, 100, constTS)
	require.NoError(t, l.AssignEpoch(6, batches[150].base))
	segsBefore := len(l.Segments())
	mid := batches[100]
	require.NoError(t, l.TruncateTo(mid.base+1)) // inside a batch: it goes whole
	require.Equal(t, mid.base, l.LogEndOffset())
	require.LessOrEqual(t, l.HighWatermark(), l.LogEndOffset())
	require.Less(t, len(l.Segments()), segsBefore)
	require.Equal(t, []EpochEntry{{5, 0}}, l.LeaderEpochCache().Entries())
	r, err := l.Read(batches[99].base, 1<<20, -1, false)
	require.NoError(t, err)
	hs, _ := readBatches(t, r)
	require.Len(t, hs, 1)

	// The log continues at the truncation point and survives a restart.
	info, err := l.Append(makeBatch(1, 5, 10), 6, nil)
	require.NoError(t, err)
	require.Equal(t, mid.base, info.FirstOffset)
	require.NoError(t, l.Close())
	l2 := openTestLog(t, l.Dir(), testConfig(), OpenOptions{RecoveryPoint: 0})
	defer l2.Close()
	require.Equal(t, mid.base+1, l2.LogEndOffset())

	require.NoError(t, l2.TruncateFullyAndStartAt(1000))
	require.Equal(t, int64(1000), l2.LogStartOffset())
	require.Equal(t, int64(1000), l2.LogEndOffset())
	require.Len(t, l2.Segments(), 1)
	require.Empty(t, l2.LeaderEpochCache().Entries())
	info, err = l2.Append(makeBatch(1, 5, 10), 7, nil)
	require.NoError(t, err)
	require.Equal(t, int64(1000), info.FirstOffset)
	require.FileExists(t, filepath.Join(l2.Dir(), "00000000000000001000.log"))
}

// TestTruncateToLogEndDropsEmptyEpoch: a truncation at or past the log end
// removes no batch but drops a leader epoch that starts at the log end
// (one this broker began as leader and never appended to), as Kafka's
// truncateTo does; epochs with batches stay.
func TestTruncateToLogEndDropsEmptyEpoch(t *testing.T) {
	for _, tc := range []struct {
		name   string
		offset func(leo int64) int64
	}{
		{"at the log end", func(leo int64) int64 { return leo }},
		{"past the log end", func(leo int64) int64 { return leo + 10 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newTestLog(t, testConfig())
			fill(t, l, 10, 100, constTS)
			leo := l.LogEndOffset()
			require.NoError(t, l.AssignEpoch(6, leo)) // leader of epoch 6, nothing appended
			require.Equal(t, int32(6), l.LeaderEpochCache().LatestEpoch())
			require.NoError(t, l.TruncateTo(tc.offset(leo)))
			require.Equal(t, leo, l.LogEndOffset(), "no batch removed")
			require.Equal(t, []EpochEntry{{5, 0}}, l.LeaderEpochCache().Entries())
			ep, end := l.EndOffsetForEpoch(5)
			require.Equal(t, int32(5), ep)
			require.Equal(t, leo, end)
		})
	}
}

func TestFlushPolicy(t *testing.T) {
	cfg := testConfig()
	cfg.FlushIntervalMessages = 1
	l := newTestLog(t, cfg)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				_, err := l.Append(makeBatch(1, 1, 50), 0, nil)
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	require.Equal(t, l.LogEndOffset(), l.RecoveryPoint(), "flush.messages=1 leaves nothing unflushed")

	cfg = testConfig()
	d := newTestLog(t, cfg)
	fill(t, d, 100, 100, constTS)
	require.Zero(t, d.RecoveryPoint(), "default policy never fsyncs on append")
	require.NoError(t, d.maybeFlush(time.Now()))
	require.Equal(t, d.Segments()[len(d.Segments())-1].BaseOffset(), d.RecoveryPoint(), "rolled segments are flushed")
	cfg.FlushIntervalMs = 0
	require.NoError(t, d.SetConfig(cfg))
	require.NoError(t, d.maybeFlush(time.Now()))
	require.Equal(t, d.LogEndOffset(), d.RecoveryPoint())
}

func TestClosedLog(t *testing.T) {
	l := newTestLog(t, testConfig())
	require.NoError(t, l.Close())
	_, err := l.Append(makeBatch(1, 1, 1), 0, nil)
	require.ErrorIs(t, err, ErrClosed)
	require.NoError(t, l.Close())
}

func TestParseLogDirName(t *testing.T) {
	tp, err := ParseLogDirName("my-topic-12")
	require.NoError(t, err)
	require.Equal(t, TopicPartition{"my-topic", 12}, tp)
	for _, bad := range []string{"topic", "-1", "topic-x"} {
		_, err := ParseLogDirName(bad)
		require.Error(t, err, bad)
	}
}

var _ = bytes.Equal
var _ = os.Remove

func TestRollWhenIndexFullAndOnConfigChange(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 1 << 20
	cfg.IndexIntervalBytes = 0 // an entry for every batch after the first
	cfg.IndexMaxBytes = 48     // 6 offset entries, 4 time entries
	l := newTestLog(t, cfg)
	fill(t, l, 40, 20, constTS)
	require.Greater(t, len(l.Segments()), 5)
	for _, s := range l.Segments() {
		require.LessOrEqual(t, s.timeIndex.len(), 4)
		require.LessOrEqual(t, s.offsetIndex.len(), 6)
	}

	// segment.bytes lowered at runtime applies to the next append.
	cfg = testConfig()
	cfg.SegmentBytes = 1 << 20
	l2 := newTestLog(t, cfg)
	fill(t, l2, 20, 100, constTS)
	require.Len(t, l2.Segments(), 1)
	cfg.SegmentBytes = 500
	require.NoError(t, l2.SetConfig(cfg))
	fill(t, l2, 20, 100, constTS)
	require.Greater(t, len(l2.Segments()), 5)
	require.Error(t, l2.SetConfig(Config{}))
}
