package storage

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/spool-broker/spool/protocol/records"
)

// kv is one record read back from a log.
type kv struct {
	offset int64
	key    string
	value  *string // nil: tombstone
}

func compactConfig() Config {
	c := testConfig()
	c.Compact = true
	c.RetentionMs, c.RetentionBytes = -1, -1
	return c
}

func str(s string) *string { return &s }

// appendKV appends one batch of records (key, value; "" value = tombstone
// when tomb is set) with opts, and returns the first offset.
func appendKV(t *testing.T, l *Log, o records.BatchOptions, ts int64, pairs ...*kv) int64 {
	t.Helper()
	recs := make([]records.Record, len(pairs))
	for i, p := range pairs {
		recs[i] = records.Record{Timestamp: ts, Key: []byte(p.key)}
		if p.value != nil {
			recs[i].Value = []byte(*p.value)
		}
	}
	b, err := records.AppendBatch(nil, o, recs)
	require.NoError(t, err)
	info, err := l.Append(b, 0, nil)
	require.NoError(t, err)
	l.SetHighWatermark(l.LogEndOffset())
	return info.FirstOffset
}

func put(key, value string) *kv { return &kv{key: key, value: str(value)} }
func tombstone(key string) *kv  { return &kv{key: key} }

// readAll reads the whole log back: records (control records excluded) and
// batch headers.
func readAll(t *testing.T, l *Log) ([]kv, []records.Header) {
	t.Helper()
	res, err := l.Read(l.LogStartOffset(), math.MaxInt32, -1, true)
	require.NoError(t, err)
	data, err := res.ReadInto(nil)
	require.NoError(t, err)
	var out []kv
	var hs []records.Header
	last := int64(-1)
	for batch, err := range records.Batches(data) {
		require.NoError(t, err)
		h, err := records.ParseHeader(batch)
		require.NoError(t, err)
		require.Greater(t, h.BaseOffset, last, "batches out of order")
		last = h.LastOffset()
		hs = append(hs, h)
		require.NoError(t, records.ForEachRecord(batch, 1<<20, func(r *records.Record) error {
			require.LessOrEqual(t, r.Offset, h.LastOffset())
			if h.IsControl() {
				return nil
			}
			rec := kv{offset: r.Offset, key: string(r.Key)}
			if r.Value != nil {
				rec.value = str(string(r.Value))
			}
			out = append(out, rec)
			return nil
		}))
	}
	return out, hs
}

// latest maps each key to its last record.
func latest(recs []kv) map[string]kv {
	m := map[string]kv{}
	for _, r := range recs {
		m[r.key] = r
	}
	return m
}

func cleanNow(t *testing.T, l *Log, now time.Time) cleanStats {
	t.Helper()
	st, err := l.clean(context.Background(), now, -1, 1<<30)
	require.NoError(t, err)
	return st
}

// fillUpdates writes rounds of updates of keys k0..k(keys-1), value
// "<key>@<round>", four records a batch, and rolls so all of it is inactive.
func fillUpdates(t *testing.T, l *Log, o records.BatchOptions, keys, rounds int) {
	t.Helper()
	var batch []*kv
	for r := range rounds {
		for k := range keys {
			batch = append(batch, put(fmt.Sprintf("k%d", k), fmt.Sprintf("k%d@%d", k, r)))
			if len(batch) == 4 {
				appendKV(t, l, o, time.Now().UnixMilli(), batch...)
				batch = nil
			}
		}
	}
	if len(batch) > 0 {
		appendKV(t, l, o, time.Now().UnixMilli(), batch...)
	}
	require.NoError(t, l.Roll())
}

func TestCleanerKeepsLatestValuePerKey(t *testing.T) {
	l := newTestLog(t, compactConfig())
	fillUpdates(t, l, records.NewBatchOptions(), 5, 60)
	before, _ := readAll(t, l)
	want := latest(before)
	// The active segment: updates that must stay as they are.
	appendKV(t, l, records.NewBatchOptions(), time.Now().UnixMilli(), put("k0", "active1"), put("k0", "active2"))
	segsBefore := l.Segments()
	active := segsBefore[len(segsBefore)-1]
	activeSize := active.Size()
	sizeBefore := l.Size()
	require.Greater(t, len(segsBefore), 3)

	st := cleanNow(t, l, time.Now())
	require.Equal(t, active.baseOffset, st.end)
	require.Equal(t, 5, st.keys)

	after, _ := readAll(t, l)
	segs := l.Segments()
	require.Same(t, active, segs[len(segs)-1], "active segment replaced")
	require.Equal(t, activeSize, active.Size())
	require.Less(t, l.Size(), sizeBefore/5)
	require.Len(t, after, 5+2)
	for _, r := range after[:5] {
		require.Equal(t, want[r.key], r, "latest value with its original offset")
	}
	require.Equal(t, "active1", *after[5].value)
	require.Equal(t, "active2", *after[6].value)

	// A second pass with nothing dirty changes nothing.
	st = cleanNow(t, l, time.Now())
	again, _ := readAll(t, l)
	require.Equal(t, after, again)
	require.Equal(t, active.baseOffset, st.end)

	// Reopen: indexes and offsets survive.
	require.NoError(t, l.Close())
	l2 := openTestLog(t, l.dir, compactConfig(), OpenOptions{})
	defer l2.Close()
	reread, _ := readAll(t, l2)
	require.Equal(t, after, reread)
	for _, r := range after {
		res, err := l2.Read(r.offset, 1, -1, true)
		require.NoError(t, err)
		hs, _ := readBatches(t, res)
		require.LessOrEqual(t, hs[0].BaseOffset, r.offset)
		require.GreaterOrEqual(t, hs[0].LastOffset(), r.offset)
	}
}

func TestCleanerTombstonesExpireAfterDeleteRetention(t *testing.T) {
	cfg := compactConfig()
	cfg.DeleteRetentionMs = time.Hour.Milliseconds()
	l := newTestLog(t, cfg)
	o := records.NewBatchOptions()
	ts := time.Now().UnixMilli()
	appendKV(t, l, o, ts, put("a", "1"), put("b", "1"))
	appendKV(t, l, o, ts, tombstone("a"))
	appendKV(t, l, o, ts, put("c", "1"), tombstone("c"), put("b", "2"))
	require.NoError(t, l.Roll())
	appendKV(t, l, o, ts, put("d", "1")) // active

	now := time.Now()
	st := cleanNow(t, l, now)
	recs, hs := readAll(t, l)
	require.Equal(t, []kv{{2, "a", nil}, {4, "c", nil}, {5, "b", str("2")}, {6, "d", str("1")}}, recs)
	for _, h := range hs[:len(hs)-1] {
		require.True(t, hasDeleteHorizon(&h), "tombstone batch stamped")
		require.Equal(t, now.UnixMilli()+cfg.DeleteRetentionMs, h.BaseTimestamp)
	}
	require.Equal(t, now.UnixMilli()+cfg.DeleteRetentionMs, st.minHorizon)
	// Record timestamps survive the new base timestamp.
	res, err := l.Read(5, math.MaxInt32, -1, true)
	require.NoError(t, err)
	data, err := res.ReadInto(nil)
	require.NoError(t, err)
	h, _ := records.ParseHeader(data)
	require.NoError(t, records.ForEachRecord(data[:h.Size()], 1<<20, func(r *records.Record) error {
		require.Equal(t, ts, r.Timestamp)
		return nil
	}))

	// Before the horizon they stay; after it they go.
	cleanNow(t, l, now.Add(59*time.Minute))
	recs, _ = readAll(t, l)
	require.Len(t, recs, 4)
	st = cleanNow(t, l, now.Add(61*time.Minute))
	recs, _ = readAll(t, l)
	require.Equal(t, []kv{{5, "b", str("2")}, {6, "d", str("1")}}, recs)
	require.Equal(t, int64(-1), st.minHorizon)
}

func TestCleanerKeepsCompression(t *testing.T) {
	for _, codec := range []records.Compression{records.CompressionGzip, records.CompressionSnappy, records.CompressionLZ4, records.CompressionZstd} {
		t.Run(codec.String(), func(t *testing.T) {
			l := newTestLog(t, compactConfig())
			o := records.NewBatchOptions()
			o.Compression = codec
			fillUpdates(t, l, o, 3, 20)
			cleanNow(t, l, time.Now())
			recs, hs := readAll(t, l)
			require.Len(t, recs, 3)
			require.NotEmpty(t, hs)
			for _, h := range hs {
				require.Equal(t, codec, h.Compression())
			}
		})
	}
}

func TestCleanerTransactions(t *testing.T) {
	cfg := compactConfig()
	cfg.DeleteRetentionMs = time.Hour.Milliseconds()
	l := newTestLog(t, cfg)
	ts := time.Now().UnixMilli()
	txn := func(pid int64, seq int32) records.BatchOptions {
		o := records.NewBatchOptions()
		o.ProducerID, o.ProducerEpoch, o.BaseSequence, o.Transactional = pid, 0, seq, true
		return o
	}
	marker := func(pid int64, commit bool) {
		_, err := l.Append(records.EndTxnMarker(pid, 0, commit, 1, ts), 0, nil)
		require.NoError(t, err)
		l.SetHighWatermark(l.LogEndOffset())
	}
	appendKV(t, l, txn(2, 0), ts, put("a", "committed"))                    // 0
	marker(2, true)                                                         // 1
	appendKV(t, l, txn(1, 0), ts, put("a", "aborted"), put("x", "aborted")) // 2-3
	marker(1, false)                                                        // 4
	appendKV(t, l, txn(1, 2), ts, put("c", "committed"))                    // 5
	marker(1, true)                                                         // 6
	require.NoError(t, l.Roll())
	appendKV(t, l, records.NewBatchOptions(), ts, put("z", "active")) // 7

	controls := func(hs []records.Header) []int64 {
		var out []int64
		for _, h := range hs {
			if h.IsControl() {
				out = append(out, h.BaseOffset)
			}
		}
		return out
	}
	now := time.Now()
	cleanNow(t, l, now)
	recs, hs := readAll(t, l)
	require.Equal(t, []kv{{0, "a", str("committed")}, {5, "c", str("committed")}, {7, "z", str("active")}}, recs,
		"aborted records removed, and they did not shadow the committed value")
	require.Equal(t, []int64{1, 4, 6}, controls(hs), "markers kept while their transaction had data")

	// Next pass: the ABORT marker has no data left: stamped, then removed
	// after delete.retention.ms; COMMIT markers of live data stay.
	cleanNow(t, l, now)
	_, hs = readAll(t, l)
	require.Equal(t, []int64{1, 4, 6}, controls(hs))
	for _, h := range hs {
		require.Equal(t, h.BaseOffset == 4, hasDeleteHorizon(&h), "offset %d", h.BaseOffset)
	}
	cleanNow(t, l, now.Add(2*time.Hour))
	recs2, hs := readAll(t, l)
	require.Equal(t, recs, recs2)
	require.Equal(t, []int64{1, 6}, controls(hs))
	require.Equal(t, l.LogEndOffset(), l.LastStableOffset(), "no transaction left open")
}

func TestCleanerSkipsOpenTransactionsAndYoungSegments(t *testing.T) {
	cfg := compactConfig()
	l := newTestLog(t, cfg)
	o := records.NewBatchOptions()
	o.ProducerID, o.ProducerEpoch, o.BaseSequence, o.Transactional = 7, 0, 0, true
	appendKV(t, l, records.NewBatchOptions(), 1, put("a", "1"), put("a", "2"))
	require.NoError(t, l.Roll())
	appendKV(t, l, o, 1, put("a", "open")) // an open transaction bounds cleaning
	require.NoError(t, l.Roll())
	appendKV(t, l, records.NewBatchOptions(), 1, put("a", "3"), put("a", "4"))
	require.NoError(t, l.Roll())
	st := cleanNow(t, l, time.Now())
	require.Equal(t, int64(2), st.end)
	recs, _ := readAll(t, l)
	require.Len(t, recs, 4)

	cfg.MinCompactionLagMs = time.Hour.Milliseconds()
	l2 := newTestLog(t, cfg)
	fillUpdates(t, l2, records.NewBatchOptions(), 2, 10)
	before, _ := readAll(t, l2)
	plan, err := l2.cleanPlan(time.Now(), -1)
	require.NoError(t, err)
	require.Empty(t, plan.segs, "segments younger than min.compaction.lag.ms")
	cleanNow(t, l2, time.Now())
	after, _ := readAll(t, l2)
	require.Equal(t, before, after)
}

// TestCleanerCrashDuringSwap stops a swap at each step, as a crash would,
// reopens the log from what is on disk, and checks the log is whole: every
// key's latest value is there once or more, offsets increase, no temporary
// files remain, and cleaning again finishes the job.
func TestCleanerCrashDuringSwap(t *testing.T) {
	for _, step := range []string{"cleaned", "swap", "deleted", "deleted+index-renamed", "renamed"} {
		t.Run(step, func(t *testing.T) {
			cfg := compactConfig()
			dir := filepath.Join(t.TempDir(), "topic-0")
			l := openTestLog(t, dir, cfg, OpenOptions{CleanShutdown: true})
			fillUpdates(t, l, records.NewBatchOptions(), 4, 80)
			appendKV(t, l, records.NewBatchOptions(), 1, put("k0", "active"))
			before, _ := readAll(t, l)
			want := latest(before)
			leo := l.LogEndOffset()
			hookStep, _, _ := cutString(step, "+")
			var base int64 = -1
			l.cleanHook = func(s string) error {
				if s == hookStep {
					return errCrashInjected
				}
				return nil
			}
			_, err := l.clean(context.Background(), time.Now(), -1, 1<<30)
			require.ErrorIs(t, err, errCrashInjected)
			base = l.segments[0].baseOffset
			require.NoError(t, l.close(false))
			if step == "deleted+index-renamed" {
				p := segmentName(dir, base, indexSuffix)
				require.NoError(t, os.Rename(p+swapSuffix, p))
			}

			l = openTestLog(t, dir, cfg, OpenOptions{RecoveryPoint: 0})
			defer l.Close()
			for _, pattern := range []string{"*.cleaned", "*.swap", "*.deleted"} {
				m, _ := filepath.Glob(filepath.Join(dir, pattern))
				require.Empty(t, m, pattern)
			}
			require.Equal(t, leo, l.LogEndOffset())
			l.SetHighWatermark(l.LogEndOffset())
			got, _ := readAll(t, l)
			require.Equal(t, want, latest(got))
			if step != "cleaned" {
				require.Less(t, len(got), len(before), "the first group's swap completed")
			} else {
				require.Equal(t, before, got)
			}
			cleanNow(t, l, time.Now())
			got, _ = readAll(t, l)
			require.Equal(t, want, latest(got))
			require.Len(t, got, 4+1)
		})
	}
}

func cutString(s, sep string) (string, string, bool) {
	for i := 0; i+len(sep) <= len(s); i++ {
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}

// TestCleanerConcurrentReads reads the whole log over and over while it is
// appended to and cleaned; every read must see valid batches in offset
// order, and the latest value of each key.
func TestCleanerConcurrentReads(t *testing.T) {
	cfg := compactConfig()
	cfg.FileDeleteDelayMs = 5000 // reads holding a replaced segment finish
	l := newTestLog(t, cfg)
	fillUpdates(t, l, records.NewBatchOptions(), 8, 40)

	var stop atomic.Bool
	var wg sync.WaitGroup
	var reads atomic.Int64
	for range 2 {
		wg.Go(func() {
			for !stop.Load() {
				res, err := l.Read(l.LogStartOffset(), math.MaxInt32, -1, true)
				if err != nil {
					t.Error(err)
					return
				}
				data, err := res.ReadInto(nil)
				if err != nil {
					t.Error(err)
					return
				}
				last := int64(-1)
				keys := map[string]bool{}
				for batch, err := range records.Batches(data) {
					if err == nil {
						err = records.ForEachRecord(batch, 1<<20, func(r *records.Record) error {
							if r.Offset <= last {
								return fmt.Errorf("offset %d after %d", r.Offset, last)
							}
							last = r.Offset
							keys[string(r.Key)] = true
							return nil
						})
					}
					if err != nil {
						t.Error(err)
						return
					}
				}
				if len(keys) < 8 {
					t.Errorf("read saw %d keys", len(keys))
					return
				}
				reads.Add(1)
			}
		})
	}
	for i := range 5 {
		fillUpdates(t, l, records.NewBatchOptions(), 8, 10)
		_, err := l.clean(context.Background(), time.Now(), -1, 1<<30)
		require.NoError(t, err, "pass %d", i)
	}
	require.Eventually(t, func() bool { return reads.Load() >= 10 }, 30*time.Second, time.Millisecond)
	stop.Store(true)
	wg.Wait()
	recs, _ := readAll(t, l)
	require.Len(t, recs, 8)
}

// TestManagerCleaner runs the Manager's loop: a compacted log is cleaned in
// the background and its progress checkpointed.
func TestManagerCleaner(t *testing.T) {
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	m, err := NewManager(ManagerConfig{
		Dirs: []string{dir}, Default: testConfig(), Registerer: reg,
		CleanerEnable: true, CleanerBackoff: 10 * time.Millisecond,
	}, zaptest.NewLogger(t))
	require.NoError(t, err)
	defer m.Close()
	cfg := compactConfig()
	l, err := m.GetOrCreateLog(TopicPartition{Topic: "compacted", Partition: 0}, &cfg)
	require.NoError(t, err)
	plain, err := m.GetOrCreateLog(TopicPartition{Topic: "plain", Partition: 0}, nil)
	require.NoError(t, err)
	fillUpdates(t, l, records.NewBatchOptions(), 3, 50)
	fillUpdates(t, plain, records.NewBatchOptions(), 3, 50)
	plainSize := plain.Size()
	end := l.Segments()[len(l.Segments())-1].baseOffset
	require.Eventually(t, func() bool {
		offsets, err := ReadOffsetCheckpoint(filepath.Join(dir, CleanerOffsetCheckpointFile))
		return err == nil && offsets[l.TopicPartition()] == end
	}, 10*time.Second, 10*time.Millisecond)
	recs, _ := readAll(t, l)
	require.Len(t, recs, 3)
	require.Equal(t, plainSize, plain.Size(), "delete-only logs are not cleaned")
	// The pass is counted after its checkpoint is written: wait for it.
	require.Eventually(t, func() bool {
		mfs, err := reg.Gather()
		require.NoError(t, err)
		for _, mf := range mfs {
			if mf.GetName() == "spool_log_cleaner_passes_total" {
				return mf.GetMetric()[0].GetCounter().GetValue() >= 1
			}
		}
		return false
	}, 5*time.Second, 10*time.Millisecond, "spool_log_cleaner_passes_total never counted the pass")
}

// TestCleanerDirtyOffsetBounds: a full key map ends the pass early (the next
// continues), and a truncation pulls the first dirty offset back.
func TestCleanerDirtyOffsetBounds(t *testing.T) {
	l := newTestLog(t, compactConfig())
	fillUpdates(t, l, records.NewBatchOptions(), 50, 4)
	fillUpdates(t, l, records.NewBatchOptions(), 50, 4)
	segs := l.Segments()
	active := segs[len(segs)-1].baseOffset

	st, err := l.clean(context.Background(), time.Now(), -1, 1) // room for one segment's keys
	require.NoError(t, err)
	require.Less(t, st.end, active)
	require.Greater(t, st.end, int64(0))
	st, err = l.clean(context.Background(), time.Now(), st.end, 1<<30)
	require.NoError(t, err)
	require.Equal(t, active, st.end)
	recs, _ := readAll(t, l)
	require.Len(t, recs, 50)

	require.NoError(t, l.TruncateTo(active-10))
	plan, err := l.cleanPlan(time.Now(), active)
	require.NoError(t, err)
	require.Equal(t, l.LogEndOffset(), plan.firstDirty)
	require.Less(t, plan.firstDirty, active)
}

// TestCleanerRebuildKeepsRecordFields: a rebuilt batch keeps the surviving
// records' offsets, timestamps, headers and attributes byte for byte, and
// the batch's producer fields and last offset.
func TestCleanerRebuildKeepsRecordFields(t *testing.T) {
	o := records.NewBatchOptions()
	o.BaseOffset, o.ProducerID, o.ProducerEpoch, o.BaseSequence = 100, 9, 3, 40
	o.Compression = records.CompressionLZ4
	recs := []records.Record{
		{Timestamp: 1000, Key: []byte("a"), Value: []byte("old")},
		{Timestamp: 1005, Key: []byte("b"), Value: []byte("v"), Headers: []records.RecordHeader{{Key: []byte("h"), Value: []byte("x")}, {Key: []byte("n")}}},
		{Timestamp: 990, Key: []byte("c"), Value: nil},
		{Timestamp: 1010, Key: []byte("a"), Value: []byte("new")},
	}
	batch, err := records.AppendBatch(nil, o, recs)
	require.NoError(t, err)
	h, err := records.ParseHeader(batch)
	require.NoError(t, err)
	f := &batchFilter{now: 5000, horizon: 9000, keys: map[string]int64{"a": 103}, txns: newTxnTracker(nil)}
	out, res, err := f.filter(nil, batch, &h)
	require.NoError(t, err)
	require.Equal(t, 1, res.removed)
	require.Equal(t, int64(9000), res.horizon)
	nh, err := records.ParseHeader(out)
	require.NoError(t, err)
	require.Equal(t, h.BaseOffset, nh.BaseOffset)
	require.Equal(t, h.LastOffsetDelta, nh.LastOffsetDelta)
	require.Equal(t, h.ProducerID, nh.ProducerID)
	require.Equal(t, h.ProducerEpoch, nh.ProducerEpoch)
	require.Equal(t, h.BaseSequence, nh.BaseSequence)
	require.Equal(t, records.CompressionLZ4, nh.Compression())
	require.True(t, hasDeleteHorizon(&nh))
	require.Equal(t, int64(9000), nh.BaseTimestamp)
	require.Equal(t, int64(1010), nh.MaxTimestamp)
	var got []records.Record
	require.NoError(t, records.ForEachRecord(out, 1<<20, func(r *records.Record) error {
		c := *r
		c.Key, c.Value = append([]byte(nil), r.Key...), r.Value
		if r.Value != nil {
			c.Value = append([]byte(nil), r.Value...)
		}
		c.Headers = nil
		for _, hd := range r.Headers {
			c.Headers = append(c.Headers, records.RecordHeader{Key: append([]byte(nil), hd.Key...), Value: hd.Value})
		}
		got = append(got, c)
		return nil
	}))
	require.Len(t, got, 3)
	for i, want := range []struct {
		off int64
		rec records.Record
	}{{101, recs[1]}, {102, recs[2]}, {103, recs[3]}} {
		require.Equal(t, want.off, got[i].Offset)
		require.Equal(t, want.rec.Timestamp, got[i].Timestamp)
		require.Equal(t, want.rec.Key, got[i].Key)
		require.Equal(t, want.rec.Value, got[i].Value)
		require.Equal(t, len(want.rec.Headers), len(got[i].Headers))
	}
	require.Equal(t, []byte("x"), got[0].Headers[0].Value)
	require.Nil(t, got[0].Headers[1].Value)
}
