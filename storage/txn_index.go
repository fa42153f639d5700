package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// txnIndexSuffix names a segment's aborted transaction index.
const txnIndexSuffix = ".txnindex"

// txnIndexEntrySize is Kafka's AbortedTxn entry: version i16, producerId
// i64, firstOffset i64, lastOffset i64, lastStableOffset i64.
const txnIndexEntrySize = 2 + 8 + 8 + 8 + 8

// txnIndex is a segment's .txnindex, kept whole in memory (it holds one
// entry per aborted transaction, so it is small). The writer appends under
// Log.mu; fetches read under mu.
//
// Durability (chaos finding 6): append only writes to the page cache, and
// Segment.sync fsyncs the file with the segment's .log, so every entry
// whose marker is below the log's recovery point is on disk. Entries past
// it may be lost to a power cut while the .log bytes and a newer producer
// snapshot survive; recovery therefore replays the producer state from a
// snapshot at or below the first recovered segment, which rewrites them.
type txnIndex struct {
	path string
	mu   sync.Mutex
	txns []AbortedTxn // ascending by LastOffset
	// dirty: entries were appended since the last fsync. newFile: append
	// created the file since then, so its directory entry needs an fsync
	// of the directory too.
	dirty, newFile bool
}

// openTxnIndex loads the index of the segment at base, if it has one. A
// trailing partial entry (torn write) is dropped, and so is every entry
// no aborted transaction can have written: one whose marker (LastOffset)
// is not after its first offset or lies before the segment. A power loss
// leaves such entries as zeros where the file's size reached the disk
// but its last appends did not; kept, the zeros stopped truncateTo short
// (they sort below any offset), the recovery replay appended the entries
// before them a second time, and read_committed consumers, told of every
// abort twice, skipped committed transactions (chaos finding 6).
func openTxnIndex(dir string, base int64) (*txnIndex, error) {
	x := &txnIndex{path: segmentName(dir, base, txnIndexSuffix)}
	b, err := os.ReadFile(x.path)
	if errors.Is(err, os.ErrNotExist) {
		return x, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storage: read %s: %w", x.path, err)
	}
	be := binary.BigEndian
	dropped := len(b)%txnIndexEntrySize != 0
	for ; len(b) >= txnIndexEntrySize; b = b[txnIndexEntrySize:] {
		t := AbortedTxn{
			ProducerID:       int64(be.Uint64(b[2:])),
			FirstOffset:      int64(be.Uint64(b[10:])),
			LastOffset:       int64(be.Uint64(b[18:])),
			LastStableOffset: int64(be.Uint64(b[26:])),
		}
		if t.LastOffset <= t.FirstOffset || t.LastOffset < base {
			dropped = true
			continue
		}
		x.txns = append(x.txns, t)
	}
	if dropped {
		return x, x.rewriteLocked()
	}
	return x, nil
}

func appendTxnEntry(b []byte, t AbortedTxn) []byte {
	be := binary.BigEndian
	b = be.AppendUint16(b, 0)
	b = be.AppendUint64(b, uint64(t.ProducerID))
	b = be.AppendUint64(b, uint64(t.FirstOffset))
	b = be.AppendUint64(b, uint64(t.LastOffset))
	return be.AppendUint64(b, uint64(t.LastStableOffset))
}

// append adds t at the end of the file. Caller holds Log.mu.
func (x *txnIndex) append(t AbortedTxn) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(x.txns) == 0 {
		x.newFile = true // the file does not exist while it holds no entry
	}
	x.dirty = true
	f, err := os.OpenFile(x.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("storage: append %s: %w", x.path, err)
	}
	_, err = f.Write(appendTxnEntry(nil, t))
	if e := f.Close(); err == nil {
		err = e
	}
	if err != nil {
		return fmt.Errorf("storage: append %s: %w", x.path, err)
	}
	x.txns = append(x.txns, t)
	return nil
}

// truncateTo drops entries whose marker is at or after offset.
func (x *txnIndex) truncateTo(offset int64) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	// Every entry at or past offset goes, not only a trailing run: the
	// recovery replay writes them all again.
	n := len(x.txns)
	x.txns = slices.DeleteFunc(x.txns, func(t AbortedTxn) bool { return t.LastOffset >= offset })
	if len(x.txns) == n {
		return nil
	}
	return x.rewriteLocked()
}

// sync fsyncs what append wrote since the last sync (and the directory,
// when append created the file). Segment.sync calls it.
func (x *txnIndex) sync() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.dirty {
		return nil
	}
	if err := syncPath(x.path); err != nil {
		return fmt.Errorf("storage: sync %s: %w", x.path, err)
	}
	if x.newFile {
		if err := syncDir(filepath.Dir(x.path)); err != nil {
			return fmt.Errorf("storage: sync %s: %w", x.path, err)
		}
	}
	x.dirty, x.newFile = false, false
	return nil
}

// rewriteLocked replaces the file with x.txns, durably: afterwards nothing
// is left to sync.
func (x *txnIndex) rewriteLocked() error {
	x.dirty, x.newFile = false, false
	if len(x.txns) == 0 {
		if err := os.Remove(x.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("storage: truncate %s: %w", x.path, err)
		}
		// Kept, the old file would come back after a power cut.
		if err := syncDir(filepath.Dir(x.path)); err != nil {
			return fmt.Errorf("storage: truncate %s: %w", x.path, err)
		}
		return nil
	}
	var b []byte
	for _, t := range x.txns {
		b = appendTxnEntry(b, t)
	}
	if err := WriteFileDurably(x.path, b, 0o644); err != nil {
		return fmt.Errorf("storage: rewrite %s: %w", x.path, err)
	}
	return nil
}

// collect appends the entries overlapping [start, end) to dst.
func (x *txnIndex) collect(dst []AbortedTxn, start, end int64) []AbortedTxn {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, t := range x.txns {
		if t.LastOffset >= start && t.FirstOffset < end {
			dst = append(dst, t)
		}
	}
	return dst
}
