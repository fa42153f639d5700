package controller

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/spool-broker/spool/storage"
)

// ErrCorruptLog marks raft log damage that is not a torn tail (for example a
// bad checksum in a sealed segment), which recovery must not paper over.
var ErrCorruptLog = errors.New("controller: corrupt raft log")

const (
	segmentSuffix       = ".seg"
	frameHeaderSize     = 8
	defaultSegmentBytes = 16 << 20
	maxFrameBytes       = 64 << 20
)

// LogStore is a raft.LogStore on append-only segment files (layout in
// doc.go). It keeps the position of every entry in memory and reads entry
// bodies from disk. It is safe for concurrent use: raft reads entries from its
// replication goroutines while the leader loop appends.
type LogStore struct {
	dir          string
	segmentBytes int64

	mu      sync.RWMutex
	segs    []*segment // ordered by base; the last one is appended to
	pos     []entryPos // pos[i] locates index first+i
	first   uint64     // 0 when the store is empty
	scratch []byte
}

type segment struct {
	f    *os.File
	base uint64 // index of the first entry the file was created for
	size int64  // bytes of complete frames
}

type entryPos struct {
	seg *segment
	off int64
	n   int64 // frame size including the header
}

var (
	_ raft.LogStore          = (*LogStore)(nil)
	_ raft.MonotonicLogStore = (*LogStore)(nil)
)

// OpenLogStore opens (creating) the log in dir and recovers it: a torn or
// checksum-failing frame at the end of the last segment is truncated away.
func OpenLogStore(dir string) (*LogStore, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("controller: log store: %w", err)
	}
	s := &LogStore{dir: dir, segmentBytes: defaultSegmentBytes}
	names, err := filepath.Glob(filepath.Join(dir, "*"+segmentSuffix))
	if err != nil {
		return nil, err
	}
	var bases []uint64
	for _, n := range names {
		base, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(n), segmentSuffix), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: unexpected file %s", ErrCorruptLog, n)
		}
		bases = append(bases, base)
	}
	slices.Sort(bases)
	for i, base := range bases {
		if err := s.recoverSegment(base, i == len(bases)-1); err != nil {
			s.Close()
			return nil, err
		}
	}
	if err := s.applyFirstMarker(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// firstMarker is the file recording a prefix deletion that ended inside a
// segment: entries below the index it holds are deleted even though their
// bytes are still in the segment file.
const firstMarker = "first-index"

func (s *LogStore) applyFirstMarker() error {
	b, err := os.ReadFile(filepath.Join(s.dir, firstMarker))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("controller: read log first index: %w", err)
	}
	if len(b) != 8 {
		return fmt.Errorf("%w: first-index file has %d bytes", ErrCorruptLog, len(b))
	}
	first := binary.BigEndian.Uint64(b)
	switch {
	case s.first == 0 || first <= s.first:
	case first > s.lastLocked():
		return s.deleteAllLocked()
	default:
		s.pos = slices.Clone(s.pos[first-s.first:])
		s.first = first
	}
	return nil
}

func (s *LogStore) writeFirstMarker(first uint64) error {
	path := filepath.Join(s.dir, firstMarker)
	if err := storage.WriteFileDurably(path, binary.BigEndian.AppendUint64(nil, first), 0o644); err != nil {
		return fmt.Errorf("controller: write log first index: %w", err)
	}
	return nil
}

func (s *LogStore) deleteAllLocked() error {
	for _, seg := range s.segs {
		if err := s.removeSegment(seg); err != nil {
			return err
		}
	}
	s.segs, s.pos, s.first = nil, nil, 0
	if err := os.Remove(filepath.Join(s.dir, firstMarker)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("controller: remove log first index: %w", err)
	}
	return nil
}

func (s *LogStore) segmentPath(base uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", base, segmentSuffix))
}

func (s *LogStore) recoverSegment(base uint64, last bool) error {
	f, err := os.OpenFile(s.segmentPath(base), os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("controller: open segment %d: %w", base, err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return fmt.Errorf("controller: read segment %d: %w", base, err)
	}
	seg := &segment{f: f, base: base}
	var l raft.Log
	for off := int64(0); off < int64(len(data)); {
		n, err := decodeFrame(data[off:], &l)
		want := base // a segment is named after its first entry
		if s.first != 0 {
			want = s.first + uint64(len(s.pos))
		}
		if err == nil && (l.Index != want || off == 0 && l.Index != base) {
			err = fmt.Errorf("index %d out of sequence, want %d", l.Index, want)
		}
		if err != nil {
			if !last {
				f.Close()
				return fmt.Errorf("%w: segment %d offset %d: %v", ErrCorruptLog, base, off, err)
			}
			// Torn tail: everything from the first bad frame on was never
			// acknowledged by a completed fsync, so drop it.
			if err := f.Truncate(off); err != nil {
				f.Close()
				return fmt.Errorf("controller: truncate torn tail of segment %d: %w", base, err)
			}
			if err := f.Sync(); err != nil {
				f.Close()
				return fmt.Errorf("controller: sync segment %d: %w", base, err)
			}
			break
		}
		if s.first == 0 {
			s.first = l.Index
		}
		s.pos = append(s.pos, entryPos{seg: seg, off: off, n: int64(n)})
		off += int64(n)
		seg.size = off
	}
	if seg.size == 0 {
		// A segment without entries (created, then torn) is just removed.
		f.Close()
		return os.Remove(s.segmentPath(base))
	}
	s.segs = append(s.segs, seg)
	return nil
}

// appendFrame encodes l as one frame.
func appendFrame(dst []byte, l *raft.Log) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, frameHeaderSize)...)
	dst = binary.BigEndian.AppendUint64(dst, l.Index)
	dst = binary.BigEndian.AppendUint64(dst, l.Term)
	dst = append(dst, byte(l.Type))
	dst = binary.BigEndian.AppendUint64(dst, uint64(l.AppendedAt.UnixNano()))
	dst = appendBytes(dst, l.Data)
	dst = appendBytes(dst, l.Extensions)
	body := dst[start+frameHeaderSize:]
	binary.BigEndian.PutUint32(dst[start:], uint32(len(body)))
	binary.BigEndian.PutUint32(dst[start+4:], crc32.Checksum(body, castagnoli))
	return dst
}

// decodeFrame decodes the frame at the start of b into l and returns its size.
func decodeFrame(b []byte, l *raft.Log) (int, error) {
	if len(b) < frameHeaderSize {
		return 0, io.ErrUnexpectedEOF
	}
	n := int(binary.BigEndian.Uint32(b))
	if n > maxFrameBytes {
		return 0, fmt.Errorf("frame length %d too large", n)
	}
	if len(b) < frameHeaderSize+n {
		return 0, io.ErrUnexpectedEOF
	}
	body := b[frameHeaderSize : frameHeaderSize+n]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(b[4:]) {
		return 0, errors.New("checksum mismatch")
	}
	if len(body) < 25 {
		return 0, errShort
	}
	l.Index = binary.BigEndian.Uint64(body)
	l.Term = binary.BigEndian.Uint64(body[8:])
	l.Type = raft.LogType(body[16])
	l.AppendedAt = time.Unix(0, int64(binary.BigEndian.Uint64(body[17:])))
	r := &reader{b: body[25:]}
	l.Data = r.bytes()
	l.Extensions = r.bytes()
	if err := r.complete(); err != nil {
		return 0, err
	}
	return frameHeaderSize + n, nil
}

func (s *LogStore) lastLocked() uint64 {
	if s.first == 0 {
		return 0
	}
	return s.first + uint64(len(s.pos)) - 1
}

// FirstIndex implements raft.LogStore.
func (s *LogStore) FirstIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.first, nil
}

// LastIndex implements raft.LogStore.
func (s *LogStore) LastIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.lastLocked(), nil
}

// IsMonotonic implements raft.MonotonicLogStore: entries are dense, so raft
// clears the log after installing a snapshot instead of leaving a gap.
func (s *LogStore) IsMonotonic() bool { return true }

// GetLog implements raft.LogStore.
func (s *LogStore) GetLog(index uint64, l *raft.Log) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.first == 0 || index < s.first || index > s.lastLocked() {
		return raft.ErrLogNotFound
	}
	p := s.pos[index-s.first]
	buf := make([]byte, p.n)
	if _, err := p.seg.f.ReadAt(buf, p.off); err != nil {
		return fmt.Errorf("controller: read log %d: %w", index, err)
	}
	if _, err := decodeFrame(buf, l); err != nil {
		return fmt.Errorf("%w: index %d: %v", ErrCorruptLog, index, err)
	}
	if l.Index != index {
		return fmt.Errorf("%w: index %d holds %d", ErrCorruptLog, index, l.Index)
	}
	return nil
}

// StoreLog implements raft.LogStore.
func (s *LogStore) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

// StoreLogs implements raft.LogStore. The entries are durable (fsynced) when
// it returns nil. Entries must continue the log; an empty log accepts any
// starting index.
func (s *LogStore) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.lastLocked() + 1
	if s.first == 0 {
		next = logs[0].Index
	}
	var (
		newPos []entryPos
		dirty  []*segment
		seg    *segment
	)
	if len(s.segs) > 0 && s.first != 0 {
		seg = s.segs[len(s.segs)-1]
	}
	size := int64(0)
	if seg != nil {
		size = seg.size
	}
	buf := s.scratch[:0]
	flush := func() error {
		if seg == nil || len(buf) == 0 {
			return nil
		}
		if _, err := seg.f.WriteAt(buf, seg.size); err != nil {
			return fmt.Errorf("controller: append log: %w", err)
		}
		dirty = append(dirty, seg)
		buf = buf[:0]
		return nil
	}
	var created []*segment
	for _, l := range logs {
		if l.Index != next {
			return fmt.Errorf("controller: store log %d: expected index %d", l.Index, next)
		}
		next++
		if seg == nil || size >= s.segmentBytes {
			if err := flush(); err != nil {
				return err
			}
			f, err := os.OpenFile(s.segmentPath(l.Index), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
			if err != nil {
				return fmt.Errorf("controller: create segment: %w", err)
			}
			seg = &segment{f: f, base: l.Index}
			created = append(created, seg)
			size = 0
		}
		before := len(buf)
		buf = appendFrame(buf, l)
		n := int64(len(buf) - before)
		newPos = append(newPos, entryPos{seg: seg, off: size, n: n})
		size += n
	}
	if err := flush(); err != nil {
		return err
	}
	s.scratch = buf[:0]
	for _, d := range dirty {
		if err := d.f.Sync(); err != nil {
			return fmt.Errorf("controller: fsync log: %w", err)
		}
	}
	if len(created) > 0 {
		if err := storage.SyncDir(s.dir); err != nil {
			return fmt.Errorf("controller: fsync dir: %w", err)
		}
	}
	// Commit the in-memory state only now that everything is durable.
	seg.size = size
	for _, p := range newPos {
		if p.seg != seg {
			p.seg.size = p.off + p.n
		}
	}
	s.segs = append(s.segs, created...)
	if s.first == 0 {
		s.first = logs[0].Index
	}
	s.pos = append(s.pos, newPos...)
	return nil
}

// DeleteRange implements raft.LogStore. raft only removes a prefix
// (compaction after a snapshot), a suffix (conflicting entries on a
// follower) or everything.
//
// Prefix deletion removes the segment files it empties and records the new
// first index in the first-index file, so entries left in a partly
// compacted segment stay deleted across restarts.
func (s *LogStore) DeleteRange(lo, hi uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	last := s.lastLocked()
	if s.first == 0 || hi < s.first || lo > last || lo > hi {
		return nil
	}
	switch {
	case lo <= s.first && hi >= last:
		return s.deleteAllLocked()
	case lo <= s.first:
		newFirst := hi + 1
		// Record the new start first: a crash after it but before the
		// segment removals only leaves files that recovery trims.
		if err := s.writeFirstMarker(newFirst); err != nil {
			return err
		}
		for len(s.segs) > 1 && s.segs[1].base <= newFirst {
			if err := s.removeSegment(s.segs[0]); err != nil {
				return err
			}
			s.segs = s.segs[1:]
		}
		s.pos = slices.Clone(s.pos[newFirst-s.first:])
		s.first = newFirst
	case hi >= last:
		p := s.pos[lo-s.first]
		for len(s.segs) > 0 && s.segs[len(s.segs)-1] != p.seg {
			if err := s.removeSegment(s.segs[len(s.segs)-1]); err != nil {
				return err
			}
			s.segs = s.segs[:len(s.segs)-1]
		}
		if err := p.seg.f.Truncate(p.off); err != nil {
			return fmt.Errorf("controller: truncate log at %d: %w", lo, err)
		}
		if err := p.seg.f.Sync(); err != nil {
			return fmt.Errorf("controller: fsync log: %w", err)
		}
		p.seg.size = p.off
		s.pos = s.pos[:lo-s.first]
		if len(s.pos) == 0 {
			s.first = 0
		}
	default:
		return fmt.Errorf("controller: delete log range [%d, %d] inside [%d, %d] is not supported", lo, hi, s.first, last)
	}
	return nil
}

func (s *LogStore) removeSegment(seg *segment) error {
	seg.f.Close()
	if err := os.Remove(s.segmentPath(seg.base)); err != nil {
		return fmt.Errorf("controller: remove segment %d: %w", seg.base, err)
	}
	return nil
}

// Close closes the segment files.
func (s *LogStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, seg := range s.segs {
		errs = append(errs, seg.f.Close())
	}
	s.segs = nil
	return errors.Join(errs...)
}
