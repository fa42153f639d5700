package storage

import (
	"fmt"
	"path/filepath"
	"strconv"
	"sync"

	"go.uber.org/zap"
)

// EpochEntry says leader epoch Epoch began at StartOffset.
type EpochEntry struct {
	Epoch       int32
	StartOffset int64
}

// Sentinels returned by EndOffsetForEpoch for an unknown epoch, as Kafka's
// UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET.
const (
	UndefinedEpoch       int32 = -1
	UndefinedEpochOffset int64 = -1
)

// LeaderEpochCache is Kafka's LeaderEpochFileCache: the start offset of each
// leader epoch in this log. Invariant: epochs and start offsets both strictly
// increase.
//
// Changes are kept in memory; leader-epoch-checkpoint is written (and
// fsynced) only by flush, which Log.flushTo calls before it moves the
// recovery point. So every entry starting below the recovery point is on
// disk, and an entry starting at or above it can be lost only together with
// the unflushed batches it describes, which recovery rescans and reassigns
// from their PartitionLeaderEpoch (Log.rebuildEpochsLocked). Like Kafka
// since KAFKA-15046, this keeps an fsync (here two, the file's and its
// directory's) off the leader-election and topic-creation paths: creating
// 1000 partitions used to cost 2000 fsyncs for a file the log can rebuild.
//
// Safe for concurrent use; mu is a leaf lock. flush writes the file without
// holding mu, serialized by fileMu.
type LeaderEpochCache struct {
	// dir is the log's directory (the Log's own string: no file name is
	// kept per log; see path).
	dir    string
	logger partitionLogger

	mu      sync.RWMutex
	entries []EpochEntry
	// version counts changes to entries; durable is the version last
	// written to the file, so the cache is dirty while they differ.
	version, durable uint64

	fileMu sync.Mutex // serializes flush's file writes
}

// newLeaderEpochCache is an empty cache for dir/leader-epoch-checkpoint
// that has never been written (a new log).
func newLeaderEpochCache(dir string, logger partitionLogger) *LeaderEpochCache {
	return &LeaderEpochCache{dir: dir, logger: logger}
}

// path is the checkpoint file's name.
func (c *LeaderEpochCache) path() string { return filepath.Join(c.dir, LeaderEpochCheckpointFile) }

// loadLeaderEpochCache reads dir/leader-epoch-checkpoint; found reports
// whether the file exists. An unreadable file is ErrCorrupt (with an empty
// cache); the caller rebuilds the cache from the log.
func loadLeaderEpochCache(dir string, logger partitionLogger) (c *LeaderEpochCache, found bool, err error) {
	c = newLeaderEpochCache(dir, logger)
	lines, err := readCheckpointLines(c.path(), 2)
	if err != nil {
		return c, true, err
	}
	if lines == nil { // readCheckpointLines: missing file
		return c, false, nil
	}
	for _, f := range lines {
		e, err1 := strconv.ParseInt(f[0], 10, 32)
		o, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			c.entries = nil
			return c, true, fmt.Errorf("%w: checkpoint %s: bad line %q", ErrCorrupt, c.path(), f)
		}
		c.entries = append(c.entries, EpochEntry{int32(e), o})
	}
	return c, true, nil
}

// Entries returns a copy of the cache.
func (c *LeaderEpochCache) Entries() []EpochEntry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return append([]EpochEntry(nil), c.entries...)
}

// LatestEpoch returns the newest epoch, or UndefinedEpoch.
func (c *LeaderEpochCache) LatestEpoch() int32 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if len(c.entries) == 0 {
		return UndefinedEpoch
	}
	return c.entries[len(c.entries)-1].Epoch
}

// Assign records that epoch starts at startOffset. Re-assigning the latest
// epoch at a later offset is a no-op; an entry that conflicts (an epoch >=
// epoch or a start offset >= startOffset) is removed first, as Kafka does.
// Like the truncations and Clear, it changes only memory (see flush) and
// cannot fail; the error result is kept for its callers.
func (c *LeaderEpochCache) Assign(epoch int32, startOffset int64) error {
	if epoch < 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.entries); n > 0 {
		last := c.entries[n-1]
		if last.Epoch == epoch && last.StartOffset <= startOffset {
			return nil
		}
	}
	kept := c.entries[:0]
	for _, e := range c.entries {
		if e.Epoch >= epoch || e.StartOffset >= startOffset {
			c.logger.Warn("removing conflicting leader epoch entry",
				zap.Int32("epoch", e.Epoch), zap.Int64("start_offset", e.StartOffset),
				zap.Int32("new_epoch", epoch), zap.Int64("new_start_offset", startOffset))
			continue
		}
		kept = append(kept, e)
	}
	c.entries = append(kept, EpochEntry{epoch, startOffset})
	c.version++
	return nil
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch: the largest epoch <=
// requested and the offset where the next epoch begins (logEndOffset for
// the latest epoch). Unknown (too new) epochs give (UndefinedEpoch,
// UndefinedEpochOffset).
func (c *LeaderEpochCache) EndOffsetForEpoch(requested int32, logEndOffset int64) (int32, int64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n := len(c.entries)
	if requested == UndefinedEpoch || n == 0 {
		return UndefinedEpoch, UndefinedEpochOffset
	}
	if c.entries[n-1].Epoch == requested {
		return requested, logEndOffset
	}
	higher := -1 // first entry with Epoch > requested
	for i, e := range c.entries {
		if e.Epoch > requested {
			higher = i
			break
		}
	}
	switch {
	case higher < 0:
		return UndefinedEpoch, UndefinedEpochOffset
	case higher == 0:
		return requested, c.entries[0].StartOffset
	default:
		return c.entries[higher-1].Epoch, c.entries[higher].StartOffset
	}
}

// TruncateFromEnd removes entries starting at or after endOffset (the log
// was truncated to endOffset).
func (c *LeaderEpochCache) TruncateFromEnd(endOffset int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.entries)
	for n > 0 && c.entries[n-1].StartOffset >= endOffset {
		n--
	}
	if n == len(c.entries) {
		return nil
	}
	c.entries = c.entries[:n]
	c.version++
	return nil
}

// TruncateFromStart drops entries wholly below startOffset; the last of them
// is kept with its start moved up to startOffset.
func (c *LeaderEpochCache) TruncateFromStart(startOffset int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := 0
	for i < len(c.entries) && c.entries[i].StartOffset <= startOffset {
		i++
	}
	if i == 0 || (i == 1 && c.entries[0].StartOffset == startOffset) {
		return nil
	}
	last := c.entries[i-1]
	last.StartOffset = startOffset
	c.entries = append([]EpochEntry{last}, c.entries[i:]...)
	c.version++
	return nil
}

// Clear removes every entry.
func (c *LeaderEpochCache) Clear() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = nil
	c.version++
	return nil
}

// setDirty sets whether the next flush writes the file: true when the file
// is missing or unreadable, false when the entries are what it holds.
func (c *LeaderEpochCache) setDirty(dirty bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if dirty {
		c.version++
	} else {
		c.durable = c.version
	}
}

// flush writes the entries to leader-epoch-checkpoint and fsyncs it, if
// they changed since the last flush. Callers that need entries durable
// (Log.flushTo, recovery) call it; nothing else writes the file.
func (c *LeaderEpochCache) flush() error {
	c.fileMu.Lock()
	defer c.fileMu.Unlock()
	c.mu.RLock()
	v := c.version
	if v == c.durable {
		c.mu.RUnlock()
		return nil
	}
	lines := make([]string, len(c.entries))
	for i, e := range c.entries {
		lines[i] = fmt.Sprintf("%d %d", e.Epoch, e.StartOffset)
	}
	c.mu.RUnlock()
	if err := writeCheckpointLines(c.path(), lines); err != nil {
		return err
	}
	c.mu.Lock()
	c.durable = max(c.durable, v)
	c.mu.Unlock()
	return nil
}
