package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spool-broker/spool/protocol/records"
)

const (
	// cleanedSuffix marks files the cleaner is still writing; they are
	// deleted on load.
	cleanedSuffix = ".cleaned"
	// swapSuffix marks a complete cleaned segment about to replace the
	// segments it covers; on load the swap is completed (see
	// completeSwapsLocked).
	swapSuffix = ".swap"
)

// cleanedSegment writes one cleaned segment: <base>.log.cleaned with its
// .index.cleaned and .timeindex.cleaned built the way Segment.append builds
// them. It never has a .txnindex: the aborted transactions of the range it
// covers have no data left in it.
type cleanedSegment struct {
	dir  string
	base int64
	log  *os.File
	size int64

	indexInterval            int64
	bytesSinceLastIndexEntry int64
	offsetIndex, timeIndex   []byte
	maxTimestamp             int64
	offsetOfMaxTimestamp     int64
	lastTimeIndexTimestamp   int64
	nextOffset               int64 // one past the last offset written
	lastModified             time.Time
}

func newCleanedSegment(dir string, base int64, indexInterval int64) (*cleanedSegment, error) {
	path := segmentName(dir, base, logSuffix) + cleanedSuffix
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("storage: create cleaned segment %d: %w", base, err)
	}
	return &cleanedSegment{
		dir: dir, base: base, log: f, indexInterval: indexInterval,
		maxTimestamp: -1, offsetOfMaxTimestamp: base, lastTimeIndexTimestamp: -1, nextOffset: base,
	}, nil
}

// append writes whole batches (already filtered) and indexes them.
func (c *cleanedSegment) append(batches []byte) error {
	if len(batches) == 0 {
		return nil
	}
	if _, err := c.log.WriteAt(batches, c.size); err != nil {
		return fmt.Errorf("storage: write cleaned segment %d: %w", c.base, err)
	}
	be := binary.BigEndian
	for pos := 0; pos < len(batches); {
		h, err := records.ParseHeader(batches[pos:])
		if err != nil {
			return fmt.Errorf("%w: cleaned batch: %w", ErrCorrupt, err)
		}
		if h.MaxTimestamp > c.maxTimestamp {
			c.maxTimestamp, c.offsetOfMaxTimestamp = h.MaxTimestamp, h.LastOffset()
		}
		if c.bytesSinceLastIndexEntry > c.indexInterval {
			c.offsetIndex = be.AppendUint32(c.offsetIndex, uint32(h.LastOffset()-c.base))
			c.offsetIndex = be.AppendUint32(c.offsetIndex, uint32(c.size+int64(pos)))
			c.appendTimeEntry()
			c.bytesSinceLastIndexEntry = 0
		}
		c.bytesSinceLastIndexEntry += int64(h.Size())
		c.nextOffset = h.LastOffset() + 1
		pos += h.Size()
	}
	c.size += int64(len(batches))
	return nil
}

func (c *cleanedSegment) appendTimeEntry() {
	if c.maxTimestamp <= c.lastTimeIndexTimestamp {
		return
	}
	c.timeIndex = binary.BigEndian.AppendUint64(c.timeIndex, uint64(c.maxTimestamp))
	c.timeIndex = binary.BigEndian.AppendUint32(c.timeIndex, uint32(c.offsetOfMaxTimestamp-c.base))
	c.lastTimeIndexTimestamp = c.maxTimestamp
}

// finish writes the indexes (with the final time index entry a rolled
// segment gets), fsyncs the three files and closes the .log.
func (c *cleanedSegment) finish() error {
	if c.maxTimestamp >= 0 {
		c.appendTimeEntry()
	}
	err := syncFile(c.log)
	if e := c.log.Close(); err == nil {
		err = e
	}
	if err != nil {
		return fmt.Errorf("storage: sync cleaned segment %d: %w", c.base, err)
	}
	for _, ix := range []struct {
		suffix string
		b      []byte
	}{{indexSuffix, c.offsetIndex}, {timeIndexSuffix, c.timeIndex}} {
		if err := writeFileSync(segmentName(c.dir, c.base, ix.suffix)+cleanedSuffix, ix.b); err != nil {
			return err
		}
	}
	if !c.lastModified.IsZero() {
		// Keep the newest original's mtime, so time-based decisions about
		// segments without timestamps do not restart.
		_ = os.Chtimes(segmentName(c.dir, c.base, logSuffix)+cleanedSuffix, c.lastModified, c.lastModified)
	}
	return nil
}

// abort closes and removes whatever the writer created.
func (c *cleanedSegment) abort() {
	c.log.Close()
	removeSegmentFiles(c.dir, c.base, cleanedSuffix)
}

// cleanedSuffixes are the files of a cleaned segment, the .log last: a
// .log.swap is the commit point of a swap.
var cleanedSuffixes = []string{indexSuffix, timeIndexSuffix, logSuffix}

// removeSegmentFiles removes <base>.{log,index,timeindex,txnindex}<extra>.
func removeSegmentFiles(dir string, base int64, extra string) error {
	var errs []error
	for _, suffix := range []string{logSuffix, indexSuffix, timeIndexSuffix, txnIndexSuffix} {
		if err := os.Remove(segmentName(dir, base, suffix) + extra); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("storage: write %s: %w", path, err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = syncFile(f)
	}
	if e := f.Close(); err == nil {
		err = e
	}
	if err != nil {
		return fmt.Errorf("storage: write %s: %w", path, err)
	}
	return nil
}

// renameCleaned renames the cleaned segment's files from one suffix to
// another (the .log last), e.g. ".cleaned" → ".swap" or ".swap" → "".
func renameCleaned(dir string, base int64, from, to string) error {
	for _, suffix := range cleanedSuffixes {
		p := segmentName(dir, base, suffix)
		if err := os.Rename(p+from, p+to); err != nil {
			return fmt.Errorf("storage: swap cleaned segment %d: %w", base, err)
		}
	}
	return nil
}

// swapNextOffset is one past the last offset of the batches in a .log.swap.
func swapNextOffset(path string, base int64) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	next, size := base, fi.Size()
	var buf [records.HeaderSize]byte
	for pos := int64(0); pos+records.HeaderSize <= size; {
		if _, err := f.ReadAt(buf[:], pos); err != nil {
			return 0, err
		}
		h, err := records.ParseHeader(buf[:])
		if err != nil || pos+int64(h.Size()) > size {
			break // recovery of the completed segment truncates there
		}
		next = h.LastOffset() + 1
		pos += int64(h.Size())
	}
	return next, nil
}
