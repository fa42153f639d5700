package storage

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spool-broker/spool/protocol/records"
)

const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
	deletedSuffix   = ".deleted"
)

// segmentName is the 20-digit zero-padded base offset Kafka names files by.
func segmentName(dir string, base int64, suffix string) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", base, suffix))
}

// Segment is one .log file with its .index and .timeindex.
//
// Fields below size are owned by the Log's writer (they are read and written
// only under Log.mu). size is atomic so readers can bound their scans without
// the writer's lock: a batch's bytes are written before size covers them.
type Segment struct {
	baseOffset int64
	dir        string
	// log is the .log descriptor; nil while the segment is empty: an empty
	// segment (a new partition's, or an idle one's after a restart) keeps
	// no descriptor until its first append opens it (openLogLocked, under
	// Log.mu, before size grows). A reader touches log only below size, so
	// it sees the descriptor the append stored before size.Store. Idle
	// partitions then cost no open file (and, with the lazily mapped
	// indexes, no mapping): 100k of them would otherwise need 100k
	// descriptors and 200k mappings per broker, past common
	// RLIMIT_NOFILE and vm.max_map_count (65530) limits.
	log         *os.File
	offsetIndex *offsetIndex
	timeIndex   *timeIndex
	txnIndex    *txnIndex // aborted transactions whose marker is in this segment
	created     time.Time

	size    atomic.Int64
	deleted atomic.Bool
	// logRefs counts the holders of the .log descriptor: the segment itself
	// until close, plus each pinned Region (records a fetch response will
	// send). The descriptor is closed when the count reaches zero, so a
	// pinned region's descriptor is never closed, and never reused for
	// another file, while a response may still send from it.
	logRefs atomic.Int32
	closed  atomic.Bool

	// nextOffset is one past the last offset in the segment (baseOffset when
	// empty).
	nextOffset               int64
	bytesSinceLastIndexEntry int64
	// maxTimestamp is the largest batch MaxTimestamp (-1 when unknown) and
	// offsetOfMaxTimestamp the last offset of the first batch that carried it.
	maxTimestamp         int64
	offsetOfMaxTimestamp int64
	// firstBatchTimestamp is the first batch's MaxTimestamp; segment.ms is
	// counted from it, like Kafka's rollingBasedTimestamp.
	firstBatchTimestamp int64
}

// BaseOffset is the offset of the first batch the segment can hold.
func (s *Segment) BaseOffset() int64 { return s.baseOffset }

// Size is the number of bytes in the .log file.
func (s *Segment) Size() int64 { return s.size.Load() }

// openSegment opens or creates the segment files. active segments get their
// indexes preallocated to cfg.IndexMaxBytes.
func openSegment(dir string, base int64, cfg *Config, active bool) (*Segment, error) {
	f, err := os.OpenFile(segmentName(dir, base, logSuffix), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("storage: open segment %d: %w", base, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("storage: open segment %d: %w", base, err)
	}
	s := &Segment{
		baseOffset: base, dir: dir, log: f, created: fi.ModTime(),
		nextOffset: base, maxTimestamp: -1, offsetOfMaxTimestamp: base, firstBatchTimestamp: -1,
	}
	s.size.Store(fi.Size())
	s.logRefs.Store(1)
	if fi.Size() == 0 {
		// Empty: the first append opens it again (see Segment.log).
		s.log = nil
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("storage: open segment %d: %w", base, err)
		}
	}
	maxBytes := 0
	if active {
		maxBytes = int(cfg.IndexMaxBytes)
	}
	oi, err := openIndex(segmentName(dir, base, indexSuffix), offsetIndexEntrySize, base, maxBytes)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("storage: open segment %d: %w", base, err)
	}
	ti, err := openIndex(segmentName(dir, base, timeIndexSuffix), timeIndexEntrySize, base, maxBytes)
	if err != nil {
		oi.close()
		f.Close()
		return nil, fmt.Errorf("storage: open segment %d: %w", base, err)
	}
	s.offsetIndex = &offsetIndex{oi}
	s.timeIndex = &timeIndex{ti}
	if s.txnIndex, err = openTxnIndex(dir, base); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func indexFilesExist(dir string, base int64) bool {
	for _, suffix := range []string{indexSuffix, timeIndexSuffix} {
		if _, err := os.Stat(segmentName(dir, base, suffix)); err != nil {
			return false
		}
	}
	return true
}

// batchMeta is what the appender knows about each batch of one append.
type batchMeta struct {
	relPos       int64 // position inside the appended buffer
	size         int64
	baseOffset   int64
	lastOffset   int64
	maxTimestamp int64
	epoch        int32
}

// append writes batches at the end of the .log and adds index entries
// every IndexIntervalBytes. Caller holds Log.mu.
func (s *Segment) append(batches []byte, metas []batchMeta, indexInterval int64) error {
	if err := s.openLogLocked(); err != nil {
		return err
	}
	pos := s.size.Load()
	if _, err := s.log.WriteAt(batches, pos); err != nil {
		return fmt.Errorf("storage: append to segment %d: %w", s.baseOffset, err)
	}
	for i := range metas {
		if err := s.indexBatchLocked(&metas[i], pos+metas[i].relPos, indexInterval); err != nil {
			return err
		}
	}
	s.size.Store(pos + int64(len(batches)))
	return nil
}

// openLogLocked opens the .log of a segment that was empty when opened.
// Caller holds Log.mu.
func (s *Segment) openLogLocked() error {
	if s.log != nil {
		return nil
	}
	f, err := os.OpenFile(segmentName(s.dir, s.baseOffset, logSuffix), os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("storage: open segment %d: %w", s.baseOffset, err)
	}
	s.log = f
	return nil
}

// modTime is the .log file's modification time (zero if unknown).
func (s *Segment) modTime() time.Time {
	var fi os.FileInfo
	var err error
	if s.log != nil {
		fi, err = s.log.Stat()
	} else {
		fi, err = os.Stat(segmentName(s.dir, s.baseOffset, logSuffix))
	}
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}

// indexBatchLocked updates the in-memory state and the indexes for one batch
// stored at pos.
func (s *Segment) indexBatchLocked(m *batchMeta, pos, indexInterval int64) error {
	if s.firstBatchTimestamp < 0 && pos == 0 {
		s.firstBatchTimestamp = m.maxTimestamp
	}
	if m.maxTimestamp > s.maxTimestamp {
		s.maxTimestamp = m.maxTimestamp
		s.offsetOfMaxTimestamp = m.lastOffset
	}
	if s.bytesSinceLastIndexEntry > indexInterval {
		if err := s.offsetIndex.append(m.lastOffset, pos); err != nil {
			return err
		}
		s.timeIndex.maybeAppend(s.maxTimestamp, s.offsetOfMaxTimestamp)
		s.bytesSinceLastIndexEntry = 0
	}
	s.bytesSinceLastIndexEntry += m.size
	s.nextOffset = m.lastOffset + 1
	return nil
}

// readHeaderAt decodes the header of the batch at pos, which must lie below
// limit. buf must hold records.HeaderSize bytes.
func (s *Segment) readHeaderAt(pos, limit int64, buf []byte) (records.Header, error) {
	if limit-pos < records.HeaderSize {
		return records.Header{}, fmt.Errorf("%w: segment %d: %d bytes at position %d, short of a batch header",
			ErrCorrupt, s.baseOffset, limit-pos, pos)
	}
	if _, err := s.log.ReadAt(buf[:records.HeaderSize], pos); err != nil {
		return records.Header{}, fmt.Errorf("storage: read segment %d at %d: %w", s.baseOffset, pos, err)
	}
	h, err := records.ParseHeader(buf)
	if err != nil {
		return h, fmt.Errorf("%w: segment %d position %d: %w", ErrCorrupt, s.baseOffset, pos, err)
	}
	if int64(h.Size()) > limit-pos {
		return h, fmt.Errorf("%w: segment %d position %d: batch of %d bytes past end %d",
			ErrCorrupt, s.baseOffset, pos, h.Size(), limit)
	}
	return h, nil
}

// translateOffset finds the first batch at or after the index position for
// target whose last offset is >= target. found is false when the segment
// (up to limit) has no such batch.
func (s *Segment) translateOffset(target, limit int64) (pos int64, h records.Header, found bool, err error) {
	hs := newHeaderScanner(s)
	defer hs.release()
	pos = s.offsetIndex.lookup(target).position
	for pos < limit {
		h, err = hs.at(pos, limit)
		if err != nil {
			return 0, h, false, err
		}
		if h.LastOffset() >= target {
			return pos, h, true, nil
		}
		pos += int64(h.Size())
	}
	return pos, h, false, nil
}

// findOffsetByTimestamp returns the first batch whose MaxTimestamp >= ts.
func (s *Segment) findOffsetByTimestamp(ts int64) (records.Header, bool, error) {
	hs := newHeaderScanner(s)
	defer hs.release()
	entry := s.timeIndex.lookup(ts)
	pos := s.offsetIndex.lookup(entry.offset).position
	limit := s.size.Load()
	for pos < limit {
		h, err := hs.at(pos, limit)
		if err != nil {
			return h, false, err
		}
		if h.MaxTimestamp >= ts {
			return h, true, nil
		}
		pos += int64(h.Size())
	}
	return records.Header{}, false, nil
}

// loadTailLocked restores the writer state of a segment whose indexes are
// trusted: it scans only the batches after the last offset index entry.
func (s *Segment) loadTailLocked() error {
	s.nextOffset, s.bytesSinceLastIndexEntry = s.baseOffset, 0
	s.maxTimestamp, s.offsetOfMaxTimestamp, s.firstBatchTimestamp = -1, s.baseOffset, -1
	if te, ok := s.timeIndex.last(); ok {
		s.maxTimestamp, s.offsetOfMaxTimestamp = te.timestamp, te.offset
	}
	size := s.size.Load()
	if size == 0 {
		return nil
	}
	var buf [records.HeaderSize]byte
	first, err := s.readHeaderAt(0, size, buf[:])
	if err != nil {
		return err
	}
	s.firstBatchTimestamp = first.MaxTimestamp
	last := s.offsetIndex.last()
	pos := last.position
	if s.offsetIndex.len() > 0 {
		s.bytesSinceLastIndexEntry = size - pos
	} else {
		s.bytesSinceLastIndexEntry = size
	}
	hs := newHeaderScanner(s)
	defer hs.release()
	for pos < size {
		h, err := hs.at(pos, size)
		if err != nil {
			return err
		}
		if h.MaxTimestamp > s.maxTimestamp {
			s.maxTimestamp, s.offsetOfMaxTimestamp = h.MaxTimestamp, h.LastOffset()
		}
		s.nextOffset = h.LastOffset() + 1
		pos += int64(h.Size())
	}
	return nil
}

// recoverLocked re-validates every batch (header sanity, offsets, CRC),
// rebuilds both indexes, and truncates the .log at the first invalid byte.
// It returns the number of bytes dropped and the reason (nil if none).
func (s *Segment) recoverLocked(indexInterval int64) (dropped int64, reason error, err error) {
	s.offsetIndex.truncateEntries(0)
	s.timeIndex.truncateEntries(0)
	s.nextOffset, s.bytesSinceLastIndexEntry = s.baseOffset, 0
	s.maxTimestamp, s.offsetOfMaxTimestamp, s.firstBatchTimestamp = -1, s.baseOffset, -1
	size := s.size.Load()
	var hbuf [records.HeaderSize]byte
	var buf []byte
	var pos int64
	for pos < size {
		h, perr := s.readHeaderAt(pos, size, hbuf[:])
		if perr == nil {
			buf = grow(buf, h.Size())
			if _, rerr := s.log.ReadAt(buf, pos); rerr != nil {
				return 0, nil, fmt.Errorf("storage: recover segment %d: %w", s.baseOffset, rerr)
			}
			switch {
			case h.BaseOffset < s.nextOffset:
				perr = fmt.Errorf("%w: batch offset %d below %d", ErrCorrupt, h.BaseOffset, s.nextOffset)
			case h.LastOffsetDelta < 0 || h.LastOffset()-s.baseOffset > math.MaxInt32:
				perr = fmt.Errorf("%w: batch offsets %d..%d invalid in segment", ErrCorrupt, h.BaseOffset, h.LastOffset())
			default:
				if cerr := records.VerifyCRC(buf); cerr != nil {
					perr = fmt.Errorf("%w: offset %d: %w", ErrCorrupt, h.BaseOffset, cerr)
				}
			}
		}
		if perr != nil {
			reason = perr
			break
		}
		m := batchMeta{size: int64(h.Size()), baseOffset: h.BaseOffset, lastOffset: h.LastOffset(), maxTimestamp: h.MaxTimestamp}
		if err := s.indexBatchLocked(&m, pos, indexInterval); err != nil {
			return 0, nil, err
		}
		pos += m.size
	}
	if pos < size {
		if err := s.log.Truncate(pos); err != nil {
			return 0, nil, fmt.Errorf("storage: truncate segment %d: %w", s.baseOffset, err)
		}
		s.size.Store(pos)
	}
	return size - pos, reason, nil
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// truncateToLocked removes every batch whose last offset is >= offset and
// returns the number of bytes removed.
func (s *Segment) truncateToLocked(offset int64) (int64, error) {
	size := s.size.Load()
	pos, _, found, err := s.translateOffset(offset, size)
	if err != nil {
		return 0, err
	}
	if !found {
		return 0, nil
	}
	s.offsetIndex.truncateTo(offset)
	s.timeIndex.truncateTo(offset)
	if err := s.txnIndex.truncateTo(offset); err != nil {
		return 0, err
	}
	if err := s.log.Truncate(pos); err != nil {
		return 0, fmt.Errorf("storage: truncate segment %d: %w", s.baseOffset, err)
	}
	s.size.Store(pos)
	if err := s.loadTailLocked(); err != nil {
		return 0, err
	}
	return size - pos, nil
}

// shouldRollLocked reports whether an append of n bytes whose offsets end at
// lastOffset must go to a new segment.
func (s *Segment) shouldRollLocked(cfg *Config, n int, lastOffset int64, now time.Time) bool {
	size := s.size.Load()
	if size == 0 {
		return false
	}
	if size+int64(n) > cfg.SegmentBytes {
		return true
	}
	since := s.created.UnixMilli()
	if s.firstBatchTimestamp >= 0 {
		since = s.firstBatchTimestamp
	}
	if now.UnixMilli()-since > cfg.SegmentMs {
		return true
	}
	if s.offsetIndex.isFull() {
		return true
	}
	// Keep one time index slot for the final entry written on roll.
	s.timeIndex.mu.RLock()
	timeFull := s.timeIndex.entries >= s.timeIndex.maxEntries-1
	s.timeIndex.mu.RUnlock()
	return timeFull || lastOffset-s.baseOffset > math.MaxInt32
}

// onBecomeInactiveLocked records the final max timestamp and trims both
// indexes to their live entries.
func (s *Segment) onBecomeInactiveLocked() error {
	if s.maxTimestamp >= 0 {
		s.timeIndex.maybeAppend(s.maxTimestamp, s.offsetOfMaxTimestamp)
	}
	if err := s.offsetIndex.trim(); err != nil {
		return err
	}
	return s.timeIndex.trim()
}

// sync fsyncs the log and the three indexes, as Kafka's LogSegment.flush:
// the recovery point passes a segment only once all of it is durable.
func (s *Segment) sync() error {
	if err := s.txnIndex.sync(); err != nil {
		if s.deleted.Load() && errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	if s.log == nil {
		return nil // empty and never written: nothing to write back
	}
	if err := syncFile(s.log); err != nil {
		if s.deleted.Load() && errors.Is(err, os.ErrClosed) {
			return nil
		}
		return fmt.Errorf("storage: sync segment %d: %w", s.baseOffset, err)
	}
	if err := s.offsetIndex.sync(); err != nil {
		return err
	}
	return s.timeIndex.sync()
}

// close closes the indexes and drops the segment's reference to the .log
// descriptor; pinned regions keep the descriptor open until they are
// unpinned. Closing twice is a no-op.
func (s *Segment) close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	err := s.unpinLog()
	if e := s.offsetIndex.close(); err == nil {
		err = e
	}
	if e := s.timeIndex.close(); err == nil {
		err = e
	}
	return err
}

// pinLog takes a reference to the .log descriptor; false if it is closed.
func (s *Segment) pinLog() bool {
	for {
		n := s.logRefs.Load()
		if n <= 0 {
			return false
		}
		if s.logRefs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// unpinLog drops a reference taken by pinLog (or the segment's own) and
// closes the descriptor when it was the last.
func (s *Segment) unpinLog() error {
	switch n := s.logRefs.Add(-1); {
	case n == 0:
		if s.log == nil {
			return nil
		}
		return s.log.Close()
	case n < 0:
		panic(fmt.Sprintf("storage: segment %d: .log descriptor released more often than taken", s.baseOffset))
	}
	return nil
}

// renameDeleted renames the three files to *.deleted; in-flight readers
// keep using the open descriptors until removeFiles.
func (s *Segment) renameDeleted() error {
	s.deleted.Store(true)
	for _, suffix := range []string{logSuffix, indexSuffix, timeIndexSuffix, txnIndexSuffix} {
		p := segmentName(s.dir, s.baseOffset, suffix)
		if err := os.Rename(p, p+deletedSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("storage: delete segment %d: %w", s.baseOffset, err)
		}
	}
	return nil
}

// removeFiles closes the segment and unlinks its *.deleted files.
func (s *Segment) removeFiles() error {
	err := s.close()
	for _, suffix := range []string{logSuffix, indexSuffix, timeIndexSuffix, txnIndexSuffix} {
		if e := os.Remove(segmentName(s.dir, s.baseOffset, suffix) + deletedSuffix); e != nil && !errors.Is(e, os.ErrNotExist) && err == nil {
			err = e
		}
	}
	return err
}

// readAt copies the region into dst.
func readFull(f *os.File, dst []byte, pos int64) error {
	if _, err := f.ReadAt(dst, pos); err != nil && !(errors.Is(err, io.EOF) && len(dst) == 0) {
		return fmt.Errorf("storage: read %s at %d: %w", f.Name(), pos, err)
	}
	return nil
}

// headerScanner reads batch headers through a buffer so that walking many
// small batches costs one pread per scanBufferSize bytes, not one per batch.
// Once a batch is found to be at least scanBufferSize long, the buffer could
// only ever hold the next header, so it reads just that (61 bytes, not 16
// KiB of records nobody looks at) until smaller batches come back.
type headerScanner struct {
	s     *Segment
	buf   []byte
	start int64 // file position of buf[0]
	big   bool  // the last batch parsed was >= scanBufferSize
}

const scanBufferSize = 16 << 10

var scanBuffers = sync.Pool{New: func() any { b := make([]byte, scanBufferSize); return &b }}

func newHeaderScanner(s *Segment) *headerScanner {
	return &headerScanner{s: s, buf: (*scanBuffers.Get().(*[]byte))[:0]}
}

func (hs *headerScanner) release() {
	b := hs.buf[:0]
	scanBuffers.Put(&b)
}

// at decodes the header of the batch at pos, which must lie below limit,
// and checks the batch ends by limit.
func (hs *headerScanner) at(pos, limit int64) (records.Header, error) {
	s := hs.s
	if limit-pos < records.HeaderSize {
		return records.Header{}, fmt.Errorf("%w: segment %d: %d bytes at position %d, short of a batch header",
			ErrCorrupt, s.baseOffset, limit-pos, pos)
	}
	if pos < hs.start || pos+records.HeaderSize > hs.start+int64(len(hs.buf)) {
		n := int64(cap(hs.buf))
		if hs.big {
			n = records.HeaderSize
		}
		n = min(n, limit-pos)
		hs.buf = hs.buf[:n]
		if _, err := s.log.ReadAt(hs.buf, pos); err != nil {
			hs.buf = hs.buf[:0]
			return records.Header{}, fmt.Errorf("storage: read segment %d at %d: %w", s.baseOffset, pos, err)
		}
		hs.start = pos
	}
	h, err := records.ParseHeader(hs.buf[pos-hs.start:])
	if err != nil {
		return h, fmt.Errorf("%w: segment %d position %d: %w", ErrCorrupt, s.baseOffset, pos, err)
	}
	if int64(h.Size()) > limit-pos {
		return h, fmt.Errorf("%w: segment %d position %d: batch of %d bytes past end %d",
			ErrCorrupt, s.baseOffset, pos, h.Size(), limit)
	}
	hs.big = h.Size() >= scanBufferSize
	return h, nil
}
