package storage

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Errors returned by this package. They are wrapped with context; callers
// test them with errors.Is and turn them into Kafka error codes at the edge.
var (
	// ErrOffsetOutOfRange maps to OFFSET_OUT_OF_RANGE.
	ErrOffsetOutOfRange = errors.New("storage: offset out of range")
	// ErrCorrupt marks bytes on disk (or handed to AppendAsFollower) that are
	// not a valid sequence of v2 batches.
	ErrCorrupt = errors.New("storage: corrupt log data")
	// ErrInvalidBatches means the batches passed to Append cannot be parsed;
	// maps to CORRUPT_MESSAGE / INVALID_RECORD.
	ErrInvalidBatches = errors.New("storage: invalid record batches")
	// ErrBatchTooLarge means one append is larger than a whole segment;
	// maps to RECORD_BATCH_TOO_LARGE.
	ErrBatchTooLarge = errors.New("storage: batches larger than the segment size")
	// ErrUnexpectedOffset means a follower append does not continue the log.
	ErrUnexpectedOffset = errors.New("storage: unexpected append offset")
	// ErrInvalidLeaderEpoch means a leader append came without a leader
	// epoch (negative): every batch a leader writes records the epoch it
	// was written under, which truncation by OffsetForLeaderEpoch relies on.
	ErrInvalidLeaderEpoch = errors.New("storage: leader append without a leader epoch")
	// ErrClosed is returned by operations on a closed Log or Manager.
	ErrClosed = errors.New("storage: closed")
	// ErrLogExists and ErrLogNotFound are returned by the Manager.
	ErrLogNotFound = errors.New("storage: log not found")
	// ErrLogDirOffline is returned for a log in a log dir that failed
	// (an I/O error): the Manager took the dir offline (dirfailure.go);
	// maps to KAFKA_STORAGE_ERROR.
	ErrLogDirOffline = errors.New("storage: log dir offline")
	// ErrNoLogDir means no log dir may take a new log: each failed or is
	// cordoned (cordoned.log.dirs); maps to KAFKA_STORAGE_ERROR.
	ErrNoLogDir = errors.New("storage: no log dir available")
)

// Config holds the per-topic log settings. Names follow Kafka's topic
// configs (broker default in parentheses). A Log reads its Config atomically,
// so SetConfig takes effect on the next append, roll or retention pass.
type Config struct {
	// SegmentBytes is segment.bytes (log.segment.bytes, 1 GiB).
	SegmentBytes int64
	// SegmentMs is segment.ms (log.roll.ms / log.roll.hours, 7 days).
	SegmentMs int64
	// RetentionMs is retention.ms (log.retention.ms/hours, 7 days); -1 keeps forever.
	RetentionMs int64
	// RetentionBytes is retention.bytes (log.retention.bytes, -1 = unlimited).
	RetentionBytes int64
	// IndexIntervalBytes is index.interval.bytes (log.index.interval.bytes, 4096).
	IndexIntervalBytes int32
	// IndexMaxBytes is segment.index.bytes (log.index.size.max.bytes, 10 MiB):
	// both index files of the active segment are preallocated to this size.
	IndexMaxBytes int32
	// FlushIntervalMessages is flush.messages (log.flush.interval.messages,
	// MaxInt64 = never: rely on the OS and replication, like Kafka).
	FlushIntervalMessages int64
	// FlushIntervalMs is flush.ms (log.flush.interval.ms, MaxInt64 = never).
	FlushIntervalMs int64
	// FileDeleteDelayMs is file.delete.delay.ms (60000): how long a deleted
	// segment stays on disk (renamed *.deleted) so in-flight reads finish.
	FileDeleteDelayMs int64

	// Compact is cleanup.policy containing compact: the log cleaner keeps
	// the latest record per key (cleaner.go). Retention by time and size
	// applies independently, as with cleanup.policy=compact,delete.
	Compact bool
	// MinCleanableDirtyRatio is min.cleanable.dirty.ratio
	// (log.cleaner.min.cleanable.ratio, 0.5).
	MinCleanableDirtyRatio float64
	// MinCompactionLagMs is min.compaction.lag.ms (0): younger segments are
	// not cleaned.
	MinCompactionLagMs int64
	// MaxCompactionLagMs is max.compaction.lag.ms (MaxInt64): a log whose
	// oldest dirty segment is older is cleaned regardless of its ratio.
	MaxCompactionLagMs int64
	// DeleteRetentionMs is delete.retention.ms (1 day): how long a
	// tombstone, and a transaction marker with no data left, survive after
	// the cleaning that stamped their batch's delete horizon.
	DeleteRetentionMs int64
}

// DefaultConfig returns Kafka's broker defaults.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:           1 << 30,
		SegmentMs:              7 * 24 * time.Hour.Milliseconds(),
		RetentionMs:            7 * 24 * time.Hour.Milliseconds(),
		RetentionBytes:         -1,
		IndexIntervalBytes:     4096,
		IndexMaxBytes:          10 << 20,
		FlushIntervalMessages:  math.MaxInt64,
		FlushIntervalMs:        math.MaxInt64,
		FileDeleteDelayMs:      60000,
		MinCleanableDirtyRatio: 0.5,
		MaxCompactionLagMs:     math.MaxInt64,
		DeleteRetentionMs:      24 * time.Hour.Milliseconds(),
	}
}

// Validate reports settings a log cannot work with.
func (c Config) Validate() error {
	switch {
	case c.SegmentBytes < 14: // Kafka's minimum: LegacyRecord.RECORD_OVERHEAD_V0
		return fmt.Errorf("storage: segment.bytes %d too small", c.SegmentBytes)
	case c.SegmentMs < 1:
		return fmt.Errorf("storage: segment.ms %d must be positive", c.SegmentMs)
	case c.IndexIntervalBytes < 0:
		return fmt.Errorf("storage: index.interval.bytes %d negative", c.IndexIntervalBytes)
	case c.IndexMaxBytes < timeIndexEntrySize:
		return fmt.Errorf("storage: segment.index.bytes %d too small", c.IndexMaxBytes)
	case c.FlushIntervalMessages < 1 || c.FlushIntervalMs < 0:
		return errors.New("storage: flush intervals must be positive")
	case c.FileDeleteDelayMs < 0:
		return errors.New("storage: file.delete.delay.ms negative")
	case c.MinCleanableDirtyRatio < 0 || c.MinCleanableDirtyRatio > 1:
		return fmt.Errorf("storage: min.cleanable.dirty.ratio %v not in [0, 1]", c.MinCleanableDirtyRatio)
	case c.MinCompactionLagMs < 0 || c.DeleteRetentionMs < 0:
		return errors.New("storage: min.compaction.lag.ms and delete.retention.ms must not be negative")
	case c.Compact && c.MaxCompactionLagMs < 1:
		return fmt.Errorf("storage: max.compaction.lag.ms %d must be positive", c.MaxCompactionLagMs)
	}
	return nil
}
