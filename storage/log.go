package storage

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/protocol/records"
)

// OpenOptions is what the Manager knows about a log before opening it.
type OpenOptions struct {
	// CleanShutdown: the log dir had the clean shutdown marker, so indexes
	// are trusted and nothing is rescanned.
	CleanShutdown bool
	// RecoveryPoint is the checkpointed offset below which data was fsynced;
	// after an unclean shutdown segments from the one holding it are
	// re-validated.
	RecoveryPoint int64
	// LogStartOffset is the checkpointed log start offset.
	LogStartOffset int64
	// HighWatermark is the checkpointed high watermark
	// (replication-offset-checkpoint); the log starts with it clamped to
	// [LogStartOffset, LogEndOffset], as Kafka's Partition does when it
	// creates the log.
	HighWatermark int64
	// Metrics, if not nil, receives fsync times, rolls and deletions.
	Metrics *Metrics
	// OnIOError, if not nil, hears every I/O error of an append or flush
	// (the Manager takes the log's dir offline, as Kafka's
	// LogDirFailureChannel). It is called without the log's locks and
	// must not block.
	OnIOError func(error)
}

// Log is one partition's log: a directory <topic>-<partition> of segments.
//
// Concurrency: appends, rolls, truncation, retention and DeleteRecordsBefore
// are serialized by mu (the writer lock). Readers (Read, LogEndOffset, ...)
// never take mu: they snapshot the published state under stateMu.RLock and
// then read files with pread. The writer writes a batch's bytes before it
// publishes the new log end offset, so readers only see whole batches.
type Log struct {
	dir     string
	tp      TopicPartition
	logger  *zap.Logger
	metrics *Metrics
	cfg     atomic.Pointer[Config]
	epochs  *LeaderEpochCache
	// onIOError is OpenOptions.OnIOError (nil: none).
	onIOError func(error)
	// onRetention is SetRetentionHook's (nil: none).
	onRetention atomic.Pointer[func()]

	mu     sync.Mutex // writer lock; see doc.go for the order
	closed bool
	metas  []batchMeta // scratch for append, reused to avoid allocations
	// producers is the idempotent/transactional producer table (Kafka's
	// ProducerStateManager), owned by mu.
	producers *producerStateManager
	// snapshotOffset is the log end offset as of which the producer table
	// equals what a restart rebuilds from the snapshots and the log (set
	// when the table was loaded or snapshotted; -1 when not known). Close
	// writes no snapshot while the log end offset is still there, as
	// Kafka's takeSnapshot skips when nothing was appended since the last.
	snapshotOffset int64
	pending        []*pendingDelete
	deletes        sync.WaitGroup
	// truncations counts TruncateTo and TruncateFullyAndStartAt calls, which
	// rewrite segments in place; the cleaner gives up a pass that saw one.
	truncations int64
	// truncatedTo is the lowest offset truncated to since the last cleaner
	// pass (MaxInt64: none): the cleaner's first dirty offset may not pass
	// it, as data above it was rewritten (Kafka's maybeTruncateCheckpoint).
	truncatedTo int64
	// cleanHook, if set (tests), is called at each step of a cleaner swap;
	// an error stops the swap there, leaving the files as a crash would.
	cleanHook func(step string) error

	stateMu sync.RWMutex
	// segments is sorted by base offset and copy-on-write: the writer
	// replaces the slice, so a reader's snapshot never changes under it.
	segments []*Segment
	// Invariant: logStartOffset <= highWatermark <= logEndOffset.
	logStartOffset int64
	highWatermark  int64
	logEndOffset   int64 // the offset the next appended batch receives

	// flushMu serializes fsyncs; a caller that finds recoveryPoint already
	// past its offset returns without syncing (group commit).
	flushMu sync.Mutex
	// shut is set by close, under flushMu, after close's own flush: a
	// flush still running then has finished, and one that starts later
	// (the flusher took the log before DeleteLog did) returns ErrClosed
	// instead of syncing closed files or writing a checkpoint into a
	// directory DeleteLog has renamed, which would be taken for an I/O
	// error and take the whole log dir offline.
	shut atomic.Bool
	// recoveryPoint: every offset below it is on stable storage.
	recoveryPoint atomic.Int64
	lastFlushMs   atomic.Int64
	// firstUnstable is the first offset of the earliest open transaction,
	// -1 when none; written under mu, read by fetches without it.
	firstUnstable atomic.Int64
}

type pendingDelete struct {
	seg   *Segment
	timer *time.Timer
	done  atomic.Bool
}

// ParseLogDirName splits "<topic>-<partition>" at the last dash.
func ParseLogDirName(name string) (TopicPartition, error) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 {
		return TopicPartition{}, fmt.Errorf("storage: %q is not a <topic>-<partition> directory", name)
	}
	p, err := strconv.ParseInt(name[i+1:], 10, 32)
	if err != nil || p < 0 {
		return TopicPartition{}, fmt.Errorf("storage: %q is not a <topic>-<partition> directory", name)
	}
	return TopicPartition{Topic: name[:i], Partition: int32(p)}, nil
}

// OpenLog opens or creates the log in dir (named <topic>-<partition>),
// recovering it as OpenOptions says.
func OpenLog(dir string, cfg Config, opts OpenOptions, logger *zap.Logger) (*Log, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tp, err := ParseLogDirName(filepath.Base(dir))
	if err != nil {
		return nil, err
	}
	fresh, err := makeLogDir(dir)
	if err != nil {
		return nil, fmt.Errorf("storage: create log dir: %w", err)
	}
	l := &Log{
		dir: dir, tp: tp, metrics: opts.Metrics, truncatedTo: math.MaxInt64, snapshotOffset: -1, onIOError: opts.OnIOError,
		logger: logger.With(zap.String("topic", tp.Topic), zap.Int32("partition", tp.Partition)),
	}
	l.cfg.Store(&cfg)
	l.mu.Lock()
	defer l.mu.Unlock()
	load := l.loadLocked
	if fresh {
		load = l.createLocked
	}
	if err := load(opts); err != nil {
		for _, s := range l.segments {
			s.close()
		}
		return nil, fmt.Errorf("storage: load %s: %w", tp, err)
	}
	l.lastFlushMs.Store(time.Now().UnixMilli())
	return l, nil
}

// makeLogDir creates dir, reporting whether it is new (fresh); an existing
// dir is not an error.
func makeLogDir(dir string) (fresh bool, err error) {
	err = os.Mkdir(dir, 0o755)
	if errors.Is(err, os.ErrNotExist) { // the log dir itself is missing
		if err = os.MkdirAll(filepath.Dir(dir), 0o755); err == nil {
			err = os.Mkdir(dir, 0o755)
		}
	}
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, os.ErrExist):
		if fi, serr := os.Stat(dir); serr != nil || !fi.IsDir() {
			return false, err
		}
		return false, nil
	}
	return false, err
}

// createLocked sets up a log in a directory OpenLog just created: one empty
// active segment at the log start offset. There is nothing to list, recover
// or replay, and no checkpoint to read, so creating a partition costs the
// directory, the segment's files and no fsync (the epoch cache is written
// once data is flushed; a crash before that leaves an empty log or a
// missing directory, both of which the next start handles).
func (l *Log) createLocked(opts OpenOptions) error {
	l.epochs = newLeaderEpochCache(l.dir, l.logger)
	base := max(opts.LogStartOffset, 0)
	s, err := openSegment(l.dir, base, l.cfg.Load(), true)
	if err != nil {
		return err
	}
	l.segments = []*Segment{s}
	l.logStartOffset, l.highWatermark, l.logEndOffset = base, base, base
	l.recoveryPoint.Store(base)
	l.producers = newProducerStateManager()
	l.snapshotOffset = base
	l.firstUnstable.Store(-1)
	return nil
}

// loadLocked is Kafka's LogLoader: list the segments, trust or rebuild their
// indexes, re-validate what was not flushed, rebuild the leader epochs of
// what was re-validated, and derive the offsets. Each phase is one function
// below, in the order loadLocked calls them; a phase that fails leaves the
// segments it opened in l.segments for OpenLog to close.
func (l *Log) loadLocked(opts OpenOptions) error {
	cfg := l.cfg.Load()
	checkpoint, err := l.loadEpochCheckpointLocked()
	if err != nil {
		return err
	}
	if err := l.completeSwapsLocked(); err != nil {
		return err
	}
	bases, err := l.listSegmentFilesLocked()
	if err != nil {
		return err
	}
	firstRecovered, err := l.openSegmentsLocked(bases, opts, cfg)
	if err != nil {
		return err
	}
	rebuiltAll, err := l.rebuildEpochsLocked(l.segments, firstRecovered, checkpoint.unreadable || !checkpoint.found)
	if err != nil {
		return err
	}
	if err := l.prepareActiveSegmentLocked(opts, cfg); err != nil {
		return err
	}
	if err := l.deriveOffsetsLocked(opts); err != nil {
		return err
	}
	// A log that never flushed has no checkpoint, which is fine while it
	// holds no batches: only a rebuilt or changed cache is written.
	l.epochs.setDirty(rebuiltAll || checkpoint.unreadable || !slices.Equal(checkpoint.entries, l.epochs.Entries()))
	// Producer state (and the .txnindex entries it rewrites) before the
	// recovery point moves: see loadProducerStateLocked.
	limit := l.logEndOffset
	if firstRecovered >= 0 && !opts.CleanShutdown {
		limit = l.segments[firstRecovered].baseOffset
	}
	if err := l.loadProducerStateLocked(limit); err != nil {
		return err
	}
	if err := l.syncRecoveredLocked(firstRecovered, opts.CleanShutdown); err != nil {
		return err
	}
	l.logger.Info("log loaded",
		zap.Int("segments", len(l.segments)), zap.Int64("log_start_offset", l.logStartOffset),
		zap.Int64("log_end_offset", l.logEndOffset), zap.Bool("clean_shutdown", opts.CleanShutdown))
	return nil
}

// epochCheckpoint is what loadEpochCheckpointLocked found on disk.
type epochCheckpoint struct {
	entries    []EpochEntry // as read, before the log is checked against them
	found      bool         // the checkpoint file exists
	unreadable bool         // it exists but is corrupt; l.epochs starts empty
}

// loadEpochCheckpointLocked reads the leader epoch checkpoint into l.epochs.
// A corrupt checkpoint is not an error: the epochs are rebuilt from the log.
func (l *Log) loadEpochCheckpointLocked() (epochCheckpoint, error) {
	epochs, found, err := loadLeaderEpochCache(l.dir, l.logger)
	if err != nil && !errors.Is(err, ErrCorrupt) {
		return epochCheckpoint{}, err
	}
	if err != nil {
		l.logger.Warn("unreadable leader epoch checkpoint, rebuilding it from the log", zap.Error(err))
	}
	l.epochs = epochs
	return epochCheckpoint{entries: epochs.Entries(), found: found, unreadable: err != nil}, nil
}

// listSegmentFilesLocked returns the base offsets of the segments in l.dir,
// ascending, after removing leftovers: files marked deleted, temporary
// files, and index files whose .log is gone.
func (l *Log) listSegmentFilesLocked() ([]int64, error) {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, err
	}
	var bases []int64
	logs := map[int64]bool{}
	var indexes []string
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(l.dir, name)
		switch {
		case strings.HasSuffix(name, deletedSuffix) || strings.HasSuffix(name, ".tmp"):
			if err := os.Remove(path); err != nil {
				return nil, err
			}
		case strings.HasSuffix(name, logSuffix):
			base, err := strconv.ParseInt(strings.TrimSuffix(name, logSuffix), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%w: unexpected file %s", ErrCorrupt, name)
			}
			bases = append(bases, base)
			logs[base] = true
		case strings.HasSuffix(name, indexSuffix) || strings.HasSuffix(name, timeIndexSuffix) || strings.HasSuffix(name, txnIndexSuffix):
			indexes = append(indexes, name)
		}
	}
	for _, name := range indexes { // index files without a .log are leftovers
		base, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, txnIndexSuffix), timeIndexSuffix), indexSuffix), 10, 64)
		if err != nil || !logs[base] {
			if err := os.Remove(filepath.Join(l.dir, name)); err != nil {
				return nil, err
			}
		}
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	return bases, nil
}

// openSegmentsLocked opens the segments at bases into l.segments, trusting
// the indexes of a segment below the recovery point after a clean shutdown
// and recovering (re-validating and re-indexing) the others. The first
// segment whose recovery drops an invalid tail is the last one kept: the
// segments after it are deleted, since nothing after a hole is trustworthy.
// It returns the index in l.segments of the first recovered segment, or -1.
func (l *Log) openSegmentsLocked(bases []int64, opts OpenOptions, cfg *Config) (firstRecovered int, err error) {
	firstRecovered = -1
	for i, base := range bases {
		hadIndexes := indexFilesExist(l.dir, base)
		s, err := openSegment(l.dir, base, cfg, false)
		if err != nil {
			return -1, err
		}
		l.segments = append(l.segments, s) // so a failure below closes it
		last := i == len(bases)-1
		recover := !hadIndexes
		if !opts.CleanShutdown && (last || bases[i+1] > opts.RecoveryPoint) {
			recover = true
		}
		if !recover {
			err := s.offsetIndex.sanityCheck(s.Size())
			if err == nil {
				err = s.loadTailLocked()
			}
			if err == nil {
				err = s.timeIndex.sanityCheck(s.nextOffset)
			}
			if err != nil {
				l.logger.Warn("index failed sanity check, rebuilding", zap.Int64("base_offset", base), zap.Error(err))
				recover = true
			}
		}
		if !recover {
			continue
		}
		if !hadIndexes {
			l.logger.Info("rebuilding missing index", zap.Int64("base_offset", base))
		}
		dropped, reason, err := l.recoverSegmentLocked(s, cfg)
		if err != nil {
			return -1, err
		}
		if firstRecovered < 0 {
			firstRecovered = len(l.segments) - 1
		}
		if dropped == 0 {
			continue
		}
		l.metrics.truncated(dropped)
		l.logger.Warn("truncated invalid log tail",
			zap.Int64("base_offset", base), zap.Int64("dropped_bytes", dropped),
			zap.Int64("next_offset", s.nextOffset), zap.NamedError("reason", reason))
		return firstRecovered, l.deleteSegmentFilesLocked(bases[i+1:])
	}
	return firstRecovered, nil
}

// deleteSegmentFilesLocked removes the files of the unopened segments at
// bases, which follow invalid data.
func (l *Log) deleteSegmentFilesLocked(bases []int64) error {
	for _, base := range bases {
		var size int64
		if fi, err := os.Stat(segmentName(l.dir, base, logSuffix)); err == nil {
			size = fi.Size()
		}
		l.logger.Warn("deleting segment after invalid data",
			zap.Int64("base_offset", base), zap.Int64("dropped_bytes", size))
		for _, suffix := range []string{logSuffix, indexSuffix, timeIndexSuffix, txnIndexSuffix} {
			if err := os.Remove(segmentName(l.dir, base, suffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// prepareActiveSegmentLocked makes the last segment ready to append to: an
// empty one at the log start offset when the directory had none, or the
// last one with its indexes grown back to their full preallocated size.
func (l *Log) prepareActiveSegmentLocked(opts OpenOptions, cfg *Config) error {
	if len(l.segments) == 0 {
		s, err := openSegment(l.dir, max(opts.LogStartOffset, 0), cfg, true)
		if err != nil {
			return err
		}
		l.segments = append(l.segments, s)
		return nil
	}
	active := l.segments[len(l.segments)-1]
	if err := active.offsetIndex.resize(int(cfg.IndexMaxBytes)); err != nil {
		return err
	}
	return active.timeIndex.resize(int(cfg.IndexMaxBytes))
}

// deriveOffsetsLocked sets the log end offset from the last segment, the log
// start offset from opts within the segments, the high watermark to the
// checkpointed one within [log start, log end] (replication moves it up) and
// the recovery point from opts, and
// trims the leader epochs to the offsets the log holds.
func (l *Log) deriveOffsetsLocked(opts OpenOptions) error {
	segs := l.segments
	l.logEndOffset = segs[len(segs)-1].nextOffset
	l.logStartOffset = min(max(opts.LogStartOffset, segs[0].baseOffset), l.logEndOffset)
	l.highWatermark = min(max(opts.HighWatermark, l.logStartOffset), l.logEndOffset)
	l.recoveryPoint.Store(min(max(opts.RecoveryPoint, 0), l.logEndOffset))
	// Start before end: entries of a checkpoint older than a
	// TruncateFullyAndStartAt all lie below the new start; moved up to it,
	// they are then at the log end offset, which no batch has yet, and go.
	if err := l.epochs.TruncateFromStart(l.logStartOffset); err != nil {
		return err
	}
	return l.epochs.TruncateFromEnd(l.logEndOffset)
}

// syncRecoveredLocked makes what recovery re-validated durable, from
// segment firstRecovered on (-1: none), so the recovery point can move to
// the log end and the next unclean start rescans none of it. After a clean
// shutdown the recovery point moves to the end too.
func (l *Log) syncRecoveredLocked(firstRecovered int, cleanShutdown bool) error {
	if firstRecovered >= 0 {
		for _, s := range l.segments[firstRecovered:] {
			if err := s.sync(); err != nil {
				return err
			}
		}
	}
	if firstRecovered >= 0 || cleanShutdown {
		// The epochs of every batch below the new recovery point must be on
		// disk first (see LeaderEpochCache); a no-op unless they changed.
		if err := l.epochs.flush(); err != nil {
			return err
		}
		l.recoveryPoint.Store(l.logEndOffset)
	}
	return nil
}

// rebuildEpochsLocked reassigns leader epochs from the batches'
// PartitionLeaderEpoch, as Kafka's LogSegment.recover does: from segment
// from on (the first one recovery re-validated, -1 for none), or from the
// first segment when the checkpoint was lost (missing or unreadable) and
// the log holds batches, which all reports. Entries starting in the
// rescanned range are dropped first; then a batch whose epoch is above the
// latest starts a new entry. Below the rescanned range the checkpoint is
// trusted: flushTo writes it before it moves the recovery point past any
// entry.
func (l *Log) rebuildEpochsLocked(segs []*Segment, from int, lost bool) (all bool, err error) {
	if lost {
		for i, s := range segs {
			if s.Size() > 0 {
				from, all = i, true
				break
			}
		}
	}
	if from < 0 || from >= len(segs) {
		return all, nil
	}
	if err := l.epochs.TruncateFromEnd(segs[from].baseOffset); err != nil {
		return all, err
	}
	for _, s := range segs[from:] {
		hs := newHeaderScanner(s)
		limit := s.Size()
		for pos := int64(0); pos < limit; {
			h, err := hs.at(pos, limit)
			if err != nil {
				hs.release()
				return all, fmt.Errorf("storage: rebuild leader epochs: %w", err)
			}
			if e := h.PartitionLeaderEpoch; e >= 0 && e > l.epochs.LatestEpoch() {
				if err := l.epochs.Assign(e, h.BaseOffset); err != nil {
					hs.release()
					return all, err
				}
			}
			pos += int64(h.Size())
		}
		hs.release()
	}
	return all, nil
}

// recoverSegmentLocked rebuilds s's indexes from its batches, truncating
// at the first invalid one.
func (l *Log) recoverSegmentLocked(s *Segment, cfg *Config) (int64, error, error) {
	if err := s.offsetIndex.resize(int(cfg.IndexMaxBytes)); err != nil {
		return 0, nil, err
	}
	if err := s.timeIndex.resize(int(cfg.IndexMaxBytes)); err != nil {
		return 0, nil, err
	}
	dropped, reason, err := s.recoverLocked(int64(cfg.IndexIntervalBytes))
	if err != nil {
		return 0, nil, err
	}
	if err := s.onBecomeInactiveLocked(); err != nil {
		return 0, nil, err
	}
	return dropped, reason, nil
}

// TopicPartition names the log's partition.
func (l *Log) TopicPartition() TopicPartition { return l.tp }

// Dir is the log's directory.
func (l *Log) Dir() string { return l.dir }

// Config returns the current settings.
func (l *Log) Config() Config { return *l.cfg.Load() }

// SetConfig changes the settings; they apply from the next append, roll or
// retention pass (index sizes from the next roll).
func (l *Log) SetConfig(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	l.cfg.Store(&cfg)
	return nil
}

// LogEndOffset is the offset the next appended batch receives.
func (l *Log) LogEndOffset() int64 {
	l.stateMu.RLock()
	defer l.stateMu.RUnlock()
	return l.logEndOffset
}

// LogStartOffset is the first offset a consumer may read.
func (l *Log) LogStartOffset() int64 {
	l.stateMu.RLock()
	defer l.stateMu.RUnlock()
	return l.logStartOffset
}

// HighWatermark is the offset below which data is committed.
func (l *Log) HighWatermark() int64 {
	l.stateMu.RLock()
	defer l.stateMu.RUnlock()
	return l.highWatermark
}

// SetHighWatermark sets the high watermark, clamped to [LogStartOffset,
// LogEndOffset], and returns the value stored. A follower sets the leader's
// high watermark it learned (package replication decides the value; the
// checkpointed one comes in through OpenOptions).
func (l *Log) SetHighWatermark(offset int64) int64 {
	l.stateMu.Lock()
	defer l.stateMu.Unlock()
	l.highWatermark = min(max(offset, l.logStartOffset), l.logEndOffset)
	return l.highWatermark
}

// MaybeIncrementHighWatermark moves the high watermark up to offset (clamped
// to LogEndOffset), never down, and reports the previous value and whether
// it moved: a leader's high watermark only grows (Kafka's
// UnifiedLog.maybeIncrementHighWatermark).
func (l *Log) MaybeIncrementHighWatermark(offset int64) (int64, bool) {
	l.stateMu.Lock()
	defer l.stateMu.Unlock()
	old := l.highWatermark
	offset = min(offset, l.logEndOffset)
	if offset <= old {
		return old, false
	}
	l.highWatermark = offset
	return old, true
}

// RecoveryPoint is the offset below which everything was fsynced.
func (l *Log) RecoveryPoint() int64 { return l.recoveryPoint.Load() }

// Segments returns the segments, oldest first.
func (l *Log) Segments() []*Segment {
	l.stateMu.RLock()
	defer l.stateMu.RUnlock()
	return l.segments
}

// Size is the total bytes of all segments.
func (l *Log) Size() int64 {
	var n int64
	for _, s := range l.Segments() {
		n += s.Size()
	}
	return n
}

// LeaderEpochCache returns the log's leader epoch cache.
func (l *Log) LeaderEpochCache() *LeaderEpochCache { return l.epochs }

// AssignEpoch records that leader epoch starts at startOffset.
func (l *Log) AssignEpoch(epoch int32, startOffset int64) error {
	return l.epochs.Assign(epoch, startOffset)
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch for this log.
func (l *Log) EndOffsetForEpoch(epoch int32) (int32, int64) {
	return l.epochs.EndOffsetForEpoch(epoch, l.LogEndOffset())
}

// AppendInfo describes a successful append.
type AppendInfo struct {
	FirstOffset int64
	LastOffset  int64
	// MaxTimestamp and OffsetOfMaxTimestamp: the largest batch MaxTimestamp
	// and the last offset of the batch carrying it.
	MaxTimestamp         int64
	OffsetOfMaxTimestamp int64
	// LogAppendTime is the first batch's MaxTimestamp when the batches use
	// LogAppendTime (the caller stamped them), else -1.
	LogAppendTime  int64
	LogStartOffset int64
	Batches        int
	Bytes          int
}

// AppendHook is called for each batch after its offset is assigned and
// before anything is written, under the log's writer lock (so producer state
// checks are ordered with the append). An error rejects the whole append.
type AppendHook func(batch []byte, h records.Header) error

// Append appends already-validated v2 batches as the leader: it rewrites
// each batch's BaseOffset and PartitionLeaderEpoch in place (outside the
// CRC, so nothing is re-encoded) and writes the bytes as they are.
// hook may be nil. A negative leaderEpoch (a caller that is not, or no
// longer, the leader) is ErrInvalidLeaderEpoch and writes nothing.
func (l *Log) Append(batches []byte, leaderEpoch int32, hook AppendHook) (AppendInfo, error) {
	if leaderEpoch < 0 {
		return AppendInfo{FirstOffset: -1, LastOffset: -1, MaxTimestamp: -1, OffsetOfMaxTimestamp: -1, LogAppendTime: -1},
			fmt.Errorf("storage: append to %s: %w: %d", l.tp, ErrInvalidLeaderEpoch, leaderEpoch)
	}
	return l.append(batches, true, leaderEpoch, hook)
}

// AppendAsFollower appends batches whose offsets the leader assigned. The
// first must start at or after LogEndOffset and offsets must increase; CRCs
// are checked. Leader epochs come from the batches.
func (l *Log) AppendAsFollower(batches []byte) (AppendInfo, error) {
	return l.append(batches, false, 0, nil)
}

func (l *Log) append(batches []byte, assign bool, leaderEpoch int32, hook AppendHook) (AppendInfo, error) {
	l.mu.Lock()
	info, err := l.appendLocked(batches, assign, leaderEpoch, hook)
	l.mu.Unlock()
	if err != nil {
		l.reportIOError(err)
		return info, fmt.Errorf("storage: append to %s: %w", l.tp, err)
	}
	cfg := l.cfg.Load()
	if info.LastOffset+1-l.recoveryPoint.Load() >= cfg.FlushIntervalMessages {
		if err := l.flushTo(info.LastOffset+1, math.MaxInt64); err != nil {
			l.reportIOError(err)
			return info, err
		}
	}
	return info, nil
}

// truncationCount is how many times the log was truncated (TruncateTo,
// TruncateFullyAndStartAt) since it was opened.
func (l *Log) truncationCount() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.truncations
}

// reportIOError hands err to OnIOError when it is an I/O error.
func (l *Log) reportIOError(err error) {
	if l.onIOError != nil && IsIOError(err) {
		l.onIOError(err)
	}
}

func (l *Log) appendLocked(batches []byte, assign bool, leaderEpoch int32, hook AppendHook) (AppendInfo, error) {
	info := AppendInfo{FirstOffset: -1, LastOffset: -1, MaxTimestamp: -1, OffsetOfMaxTimestamp: -1, LogAppendTime: -1}
	if l.closed {
		return info, ErrClosed
	}
	cfg := l.cfg.Load()
	if len(batches) == 0 {
		return info, fmt.Errorf("%w: empty append", ErrInvalidBatches)
	}
	if int64(len(batches)) > cfg.SegmentBytes {
		return info, fmt.Errorf("%w: %d bytes, segment.bytes %d", ErrBatchTooLarge, len(batches), cfg.SegmentBytes)
	}
	metas := l.metas[:0]
	next := l.logEndOffset
	pa := l.producers.begin()
	for pos := 0; pos < len(batches); {
		b := batches[pos:]
		h, err := records.ParseHeader(b)
		if err != nil {
			return info, fmt.Errorf("%w: at byte %d: %w", ErrInvalidBatches, pos, err)
		}
		if h.Size() > len(b) || h.LastOffsetDelta < 0 {
			return info, fmt.Errorf("%w: batch at byte %d: length %d, last offset delta %d",
				ErrInvalidBatches, pos, h.Size(), h.LastOffsetDelta)
		}
		b = b[:h.Size()]
		if assign {
			records.SetBaseOffset(b, next)
			records.SetPartitionLeaderEpoch(b, leaderEpoch)
			h.BaseOffset, h.PartitionLeaderEpoch = next, leaderEpoch
		} else {
			if h.BaseOffset < next {
				return info, fmt.Errorf("%w: batch offset %d below expected %d", ErrUnexpectedOffset, h.BaseOffset, next)
			}
			if err := records.VerifyCRC(b); err != nil {
				return info, fmt.Errorf("%w: batch offset %d: %w", ErrCorrupt, h.BaseOffset, err)
			}
		}
		if hook != nil {
			if err := hook(b, h); err != nil {
				return info, err
			}
		}
		if err := pa.add(&h, b, assign); err != nil {
			return info, err
		}
		metas = append(metas, batchMeta{
			relPos: int64(pos), size: int64(len(b)), baseOffset: h.BaseOffset,
			lastOffset: h.LastOffset(), maxTimestamp: h.MaxTimestamp, epoch: h.PartitionLeaderEpoch,
		})
		if h.MaxTimestamp > info.MaxTimestamp {
			info.MaxTimestamp, info.OffsetOfMaxTimestamp = h.MaxTimestamp, h.LastOffset()
		}
		if pos == 0 && h.LogAppendTime() {
			info.LogAppendTime = h.MaxTimestamp
		}
		next = h.LastOffset() + 1
		pos += len(b)
	}
	l.metas = metas
	first, last := metas[0], metas[len(metas)-1]
	info.FirstOffset, info.LastOffset = first.baseOffset, last.lastOffset
	info.Batches, info.Bytes = len(metas), len(batches)

	seg := l.segments[len(l.segments)-1]
	if seg.shouldRollLocked(cfg, len(batches), last.lastOffset, time.Now()) ||
		(seg.Size() == 0 && seg.baseOffset != first.baseOffset) {
		var err error
		if seg, err = l.rollLocked(first.baseOffset); err != nil {
			return info, err
		}
	}
	if err := seg.append(batches, metas, int64(cfg.IndexIntervalBytes)); err != nil {
		return info, err
	}
	for _, m := range metas {
		if err := l.epochs.Assign(m.epoch, m.baseOffset); err != nil {
			return info, err
		}
		if assign {
			break // every batch carries the same epoch
		}
	}
	if err := l.commitProducerAppendLocked(pa, seg); err != nil {
		return info, err
	}
	l.stateMu.Lock()
	l.logEndOffset = next
	info.LogStartOffset = l.logStartOffset
	l.stateMu.Unlock()
	return info, nil
}

// rollLocked makes a new active segment starting at base; an empty active
// segment is replaced rather than kept.
func (l *Log) rollLocked(base int64) (*Segment, error) {
	start := time.Now()
	cfg := l.cfg.Load()
	old := l.segments[len(l.segments)-1]
	segs := append([]*Segment(nil), l.segments...)
	// The producer table as of base lets recovery start here instead of
	// rescanning the whole log.
	if err := writeSnapshot(l.dir, base, l.producers.producers); err != nil {
		return nil, err
	}
	if old.Size() == 0 {
		segs = segs[:len(segs)-1]
		if err := old.renameDeleted(); err != nil {
			return nil, err
		}
		l.scheduleDeleteLocked(old, 0)
	} else if err := old.onBecomeInactiveLocked(); err != nil {
		return nil, err
	}
	s, err := openSegment(l.dir, base, cfg, true)
	if err != nil {
		return nil, err
	}
	segs = append(segs, s)
	l.stateMu.Lock()
	l.segments = segs
	l.stateMu.Unlock()
	l.metrics.roll()
	l.logger.Info("segment rolled", zap.Int64("base_offset", base),
		zap.Int64("previous_base_offset", old.baseOffset), zap.Int64("previous_size", old.Size()),
		zap.Duration("took", time.Since(start)))
	return s, nil
}

// Roll forces a new active segment at LogEndOffset.
func (l *Log) Roll() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.segments[len(l.segments)-1].Size() == 0 {
		return nil
	}
	_, err := l.rollLocked(l.logEndOffset)
	return err
}

// Flush fsyncs everything appended so far.
func (l *Log) Flush() error { return l.flushTo(l.LogEndOffset(), math.MaxInt64) }

// flushTo makes every offset below need durable, syncing up to upTo (capped
// at the log end offset). Appenders that arrive while an fsync runs queue on
// flushMu; the first one through syncs up to the log end offset it sees
// then, which covers all of them, and the rest find recoveryPoint past need
// and return: one fsync per group of appends.
func (l *Log) flushTo(need, upTo int64) error {
	if l.recoveryPoint.Load() >= need {
		return nil
	}
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	if l.shut.Load() {
		return ErrClosed
	}
	rp := l.recoveryPoint.Load()
	if rp >= need {
		return nil
	}
	l.stateMu.RLock()
	segs, leo := l.segments, l.logEndOffset
	l.stateMu.RUnlock()
	target := min(upTo, leo)
	start := time.Now()
	created := false
	for i, s := range segs {
		if s.baseOffset >= target {
			break
		}
		if i+1 < len(segs) && segs[i+1].baseOffset <= rp {
			continue // already durable
		}
		if err := s.sync(); err != nil {
			return err
		}
		created = created || s.baseOffset >= rp
	}
	// A segment created since the last flush has its directory entries
	// to make durable too (Kafka's LocalLog.flush). The directory may
	// have been renamed for deletion meanwhile; then there is nothing to
	// keep. (A new log's own entry in the log dir is made durable by the
	// Manager's next checkpoint write, which fsyncs the log dir, as in
	// Kafka, which does not fsync it at creation either.)
	if created {
		if err := syncDir(l.dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	// Entries of the epochs of the batches just synced must be durable
	// before the recovery point passes them (see LeaderEpochCache).
	if err := l.epochs.flush(); err != nil {
		return err
	}
	l.metrics.observeFsync(time.Since(start))
	l.recoveryPoint.Store(max(rp, target))
	l.lastFlushMs.Store(time.Now().UnixMilli())
	return nil
}

// maybeFlush is the Manager's periodic flush: everything when flush.ms has
// elapsed, else just segments rolled since the last flush (as Kafka flushes
// a segment once it is rolled).
func (l *Log) maybeFlush(now time.Time) error {
	cfg := l.cfg.Load()
	rp := l.recoveryPoint.Load()
	l.stateMu.RLock()
	leo, activeBase := l.logEndOffset, l.segments[len(l.segments)-1].baseOffset
	l.stateMu.RUnlock()
	if rp >= leo {
		return nil
	}
	if now.UnixMilli()-l.lastFlushMs.Load() >= cfg.FlushIntervalMs {
		return l.flushTo(leo, leo)
	}
	if rp < activeBase {
		return l.flushTo(activeBase, activeBase)
	}
	return nil
}

// Region is a byte range of a segment's .log file: whole batches, to be
// read with pread or sent with sendfile(2) at an explicit offset (never
// through the file's shared offset).
//
// A Region from Read is readable until its segment is closed, which happens
// FileDeleteDelayMs after the segment is deleted (by retention, compaction or
// DeleteRecordsBefore), at once when the log is truncated below it, and when
// the log closes. To keep it readable longer, for instance while a response
// waits behind others on a connection, Pin it: the descriptor then stays
// open until Unpin, so it can never be closed and reused for another file
// underneath the reader. Pinning does not freeze the bytes: a segment
// truncated in place (TruncateTo) is shorter than the region, and a reader
// must treat a short read as the data being gone.
type Region struct {
	File *os.File
	Pos  int64
	Size int32
	seg  *Segment
}

// Pin keeps r.File open until Unpin, even if the segment is deleted,
// compacted away or the log closed meanwhile. It reports false, and takes
// nothing, when the file is already closed.
func (r Region) Pin() bool { return r.seg.pinLog() }

// Unpin releases a successful Pin; the file closes now if its segment
// already has.
func (r Region) Unpin() {
	// The close error of a file nobody writes through any more has no
	// one to go to; the segment's writer saw every write error.
	_ = r.seg.unpinLog()
}

// ReadResult is the outcome of Read: whole batches as file regions, plus
// the log's offsets when the read began.
type ReadResult struct {
	Regions        []Region
	Size           int
	HighWatermark  int64
	LogStartOffset int64
	LogEndOffset   int64
}

// Pin pins every region of r, or none: it reports false when a segment was
// closed since Read (its records were deleted or rewritten; read again).
func (r *ReadResult) Pin() bool {
	for i, reg := range r.Regions {
		if !reg.Pin() {
			for _, p := range r.Regions[:i] {
				p.Unpin()
			}
			return false
		}
	}
	return true
}

// Unpin releases a successful Pin of every region.
func (r *ReadResult) Unpin() {
	for _, reg := range r.Regions {
		reg.Unpin()
	}
}

// ReadInto appends the regions' bytes to dst.
func (r *ReadResult) ReadInto(dst []byte) ([]byte, error) {
	for _, reg := range r.Regions {
		n := len(dst)
		dst = append(dst, make([]byte, reg.Size)...)
		if err := readFull(reg.File, dst[n:], reg.Pos); err != nil {
			return dst[:n], err
		}
	}
	return dst, nil
}

// Read returns whole batches starting with the one holding offset, stopping
// before the first batch that reaches maxOffset (the high watermark or last
// stable offset; a negative maxOffset means LogEndOffset) or that would take
// the total over maxBytes. With minOneBatch the first batch is returned even
// if larger than maxBytes. Unlike Kafka, a partial trailing batch is never
// returned. An offset outside [LogStartOffset, LogEndOffset] is
// ErrOffsetOutOfRange; offset == maxOffset is an empty result. Safe to call
// concurrently with anything.
func (l *Log) Read(offset int64, maxBytes int, maxOffset int64, minOneBatch bool) (ReadResult, error) {
	l.stateMu.RLock()
	segs := l.segments
	res := ReadResult{HighWatermark: l.highWatermark, LogStartOffset: l.logStartOffset, LogEndOffset: l.logEndOffset}
	l.stateMu.RUnlock()
	if offset < res.LogStartOffset || offset > res.LogEndOffset {
		return res, fmt.Errorf("%w: %s offset %d not in [%d, %d]",
			ErrOffsetOutOfRange, l.tp, offset, res.LogStartOffset, res.LogEndOffset)
	}
	if maxOffset < 0 || maxOffset > res.LogEndOffset {
		maxOffset = res.LogEndOffset
	}
	if offset >= maxOffset || (maxBytes <= 0 && !minOneBatch) {
		// Nothing to return; a fetch whose byte budget is spent still
		// wants the offsets, without paying for a header scan.
		return res, nil
	}
	i := max(sort.Search(len(segs), func(i int) bool { return segs[i].baseOffset > offset })-1, 0)
	for first := true; i < len(segs); i, first = i+1, false {
		s := segs[i]
		limit := s.Size()
		var pos int64
		if first {
			pos = s.offsetIndex.lookup(offset).position
		}
		hs := newHeaderScanner(s)
		done, err := l.readSegment(&res, hs, pos, limit, offset, maxBytes, maxOffset, minOneBatch)
		hs.release()
		if err != nil || done {
			return res, err
		}
	}
	return res, nil
}

// readSegment adds the batches of one segment from pos to res. done reports
// that a limit was reached.
func (l *Log) readSegment(res *ReadResult, hs *headerScanner, pos, limit, offset int64, maxBytes int, maxOffset int64, minOneBatch bool) (bool, error) {
	s := hs.s
	for pos < limit {
		h, err := hs.at(pos, limit)
		if err != nil {
			if s.deleted.Load() {
				err = fmt.Errorf("%w: %s segment %d deleted during read: %w", ErrOffsetOutOfRange, l.tp, s.baseOffset, err)
			}
			return true, err
		}
		size := h.Size()
		if h.LastOffset() < offset {
			pos += int64(size)
			continue
		}
		if h.LastOffset() >= maxOffset {
			return true, nil
		}
		if res.Size+size > maxBytes && !(res.Size == 0 && minOneBatch) {
			return true, nil
		}
		if n := len(res.Regions); n > 0 && res.Regions[n-1].File == s.log &&
			res.Regions[n-1].Pos+int64(res.Regions[n-1].Size) == pos && int64(res.Regions[n-1].Size)+int64(size) <= math.MaxInt32 {
			res.Regions[n-1].Size += int32(size)
		} else {
			res.Regions = append(res.Regions, Region{File: s.log, Pos: pos, Size: int32(size), seg: s})
		}
		res.Size += size
		pos += int64(size)
	}
	return false, nil
}

// TimestampOffset is an answer to ListOffsets by timestamp.
type TimestampOffset struct {
	Timestamp int64
	Offset    int64
}

// OffsetForTimestamp finds the first batch whose MaxTimestamp >= ts, using
// the time index, and returns its MaxTimestamp and base offset (not below
// LogStartOffset). Storage does not decode records, so the offset is that of
// the batch, which may precede the first matching record. ok is false when
// no batch qualifies.
func (l *Log) OffsetForTimestamp(ts int64) (TimestampOffset, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lso := l.logStartOffset
	for _, s := range l.segments {
		if s.maxTimestamp < ts {
			continue
		}
		h, found, err := s.findOffsetByTimestamp(ts)
		if err != nil {
			return TimestampOffset{}, false, err
		}
		if found {
			return TimestampOffset{Timestamp: h.MaxTimestamp, Offset: max(h.BaseOffset, lso)}, true, nil
		}
	}
	return TimestampOffset{Timestamp: -1, Offset: -1}, false, nil
}

// MaxTimestamp answers ListOffsets MAX_TIMESTAMP (-3): the largest batch
// MaxTimestamp and the last offset of the first batch carrying it.
func (l *Log) MaxTimestamp() (TimestampOffset, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	best := TimestampOffset{Timestamp: -1, Offset: -1}
	for _, s := range l.segments {
		if s.maxTimestamp > best.Timestamp {
			best = TimestampOffset{Timestamp: s.maxTimestamp, Offset: s.offsetOfMaxTimestamp}
		}
	}
	return best, best.Offset >= 0
}

// DeleteRecordsBefore advances the log start offset to offset (which may not
// pass the high watermark) and deletes the segments wholly below it.
func (l *Log) DeleteRecordsBefore(offset int64) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, ErrClosed
	}
	if hw := l.HighWatermark(); offset > hw || offset < 0 {
		return l.logStartOffset, fmt.Errorf("%w: %s cannot delete records before %d: high watermark %d",
			ErrOffsetOutOfRange, l.tp, offset, hw)
	}
	if offset <= l.logStartOffset {
		return l.logStartOffset, nil
	}
	l.stateMu.Lock()
	l.logStartOffset = offset
	l.stateMu.Unlock()
	if err := l.epochs.TruncateFromStart(offset); err != nil {
		return offset, err
	}
	n := l.deletableLocked(func(_, next *Segment) bool { return next != nil && next.baseOffset <= offset })
	return offset, l.deleteSegmentsLocked(n, "log start offset breach")
}

// DeleteOldSegments applies retention like Kafka's deleteOldSegments: by
// retention.ms (segment max timestamp), by retention.bytes, and below the
// log start offset. Only whole segments that are below the high watermark
// go, oldest first; an expired active segment is rolled and deleted only if
// it is non-empty. It returns how many segments were deleted.
func (l *Log) DeleteOldSegments(now time.Time) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, ErrClosed
	}
	cfg := l.cfg.Load()
	total := 0
	if cfg.RetentionMs >= 0 {
		n := l.deletableLocked(func(s, _ *Segment) bool { return now.UnixMilli()-s.largestTimestamp() > cfg.RetentionMs })
		if err := l.deleteSegmentsLocked(n, "retention.ms"); err != nil {
			return total, err
		}
		total += n
	}
	if cfg.RetentionBytes >= 0 {
		diff := -cfg.RetentionBytes
		for _, s := range l.segments {
			diff += s.Size()
		}
		n := l.deletableLocked(func(s, _ *Segment) bool {
			if diff-s.Size() >= 0 {
				diff -= s.Size()
				return true
			}
			return false
		})
		if err := l.deleteSegmentsLocked(n, "retention.bytes"); err != nil {
			return total, err
		}
		total += n
	}
	lso := l.logStartOffset
	n := l.deletableLocked(func(_, next *Segment) bool { return next != nil && next.baseOffset <= lso })
	if err := l.deleteSegmentsLocked(n, "log start offset breach"); err != nil {
		return total, err
	}
	return total + n, nil
}

func (s *Segment) largestTimestamp() int64 {
	if s.maxTimestamp >= 0 {
		return s.maxTimestamp
	}
	if t := s.modTime(); !t.IsZero() {
		return t.UnixMilli()
	}
	return math.MaxInt64
}

// deletableLocked counts the leading segments that pred accepts and that lie
// wholly below the high watermark; an empty active segment never counts.
func (l *Log) deletableLocked(pred func(s, next *Segment) bool) int {
	hw := l.HighWatermark() // SetHighWatermark does not take mu
	n := 0
	for i, s := range l.segments {
		var next *Segment
		upper := l.logEndOffset
		if i+1 < len(l.segments) {
			next = l.segments[i+1]
			upper = next.baseOffset
		}
		if hw < upper || (next == nil && s.Size() == 0) || !pred(s, next) {
			break
		}
		n++
	}
	return n
}

// deleteSegmentsLocked removes the n oldest segments, rolling first if that
// is all of them, and moves the log start offset up to the first remaining.
func (l *Log) deleteSegmentsLocked(n int, reason string) error {
	if n == 0 {
		return nil
	}
	if n == len(l.segments) {
		if _, err := l.rollLocked(l.logEndOffset); err != nil {
			return err
		}
	}
	gone := l.segments[:n]
	l.stateMu.Lock()
	l.segments = append([]*Segment(nil), l.segments[n:]...)
	l.logStartOffset = max(l.logStartOffset, l.segments[0].baseOffset)
	l.highWatermark = max(l.highWatermark, l.logStartOffset)
	lso := l.logStartOffset
	l.stateMu.Unlock()
	if f := l.onRetention.Load(); f != nil {
		(*f)()
	}
	if err := l.epochs.TruncateFromStart(lso); err != nil {
		return err
	}
	first := l.segments[0].baseOffset
	if err := deleteSnapshots(l.dir, func(off int64) bool { return off < first }); err != nil {
		return err
	}
	l.metrics.segmentsDeleted(reason, len(gone))
	delay := time.Duration(l.cfg.Load().FileDeleteDelayMs) * time.Millisecond
	for _, s := range gone {
		l.logger.Info("deleting segment", zap.String("reason", reason),
			zap.Int64("base_offset", s.baseOffset), zap.Int64("size", s.Size()),
			zap.Int64("log_start_offset", lso))
		if err := s.renameDeleted(); err != nil {
			return err
		}
		l.scheduleDeleteLocked(s, delay)
	}
	return nil
}

// SetRetentionHook has f called whenever retention (or a roll of the
// whole log that deletes its segments) moves the log start offset up,
// under the log's writer lock: f must take only leaf locks. The
// replication layer marks the fetch sessions watching the partition.
func (l *Log) SetRetentionHook(f func()) { l.onRetention.Store(&f) }

// scheduleDeleteLocked closes and unlinks s after delay, so reads that hold
// its file can finish (file.delete.delay.ms). Close runs pending deletes.
func (l *Log) scheduleDeleteLocked(s *Segment, delay time.Duration) {
	live := l.pending[:0]
	for _, p := range l.pending {
		if !p.done.Load() {
			live = append(live, p)
		}
	}
	p := &pendingDelete{seg: s}
	l.deletes.Add(1)
	p.timer = time.AfterFunc(delay, func() {
		defer l.deletes.Done()
		if err := s.removeFiles(); err != nil {
			l.logger.Warn("removing deleted segment", zap.Int64("base_offset", s.baseOffset), zap.Error(err))
		}
		p.done.Store(true)
	})
	l.pending = append(live, p)
}

// TruncateTo removes every batch with an offset >= offset (a follower
// diverged from its leader). A batch straddling offset is removed whole, so
// LogEndOffset becomes the base of the first removed batch.
//
// With offset at or past the log end no batch goes, but leader epochs
// starting at the log end do (Kafka's UnifiedLog.truncateTo): a broker
// that became leader recorded its epoch's start there and lost leadership
// before appending to it. Kept, that epoch would be the follower's
// LastFetchedEpoch, which its new leader never had: every fetch would be
// answered with the same diverging epoch and truncate nothing, forever.
func (l *Log) TruncateTo(offset int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if offset < 0 {
		return fmt.Errorf("storage: truncate %s to negative offset %d", l.tp, offset)
	}
	if offset >= l.logEndOffset {
		return l.epochs.TruncateFromEnd(l.logEndOffset)
	}
	if offset < l.logStartOffset {
		return l.truncateFullyAndStartAtLocked(offset)
	}
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.truncations++
	cfg := l.cfg.Load()
	keep := sort.Search(len(l.segments), func(i int) bool { return l.segments[i].baseOffset > offset })
	gone := l.segments[keep:]
	seg := l.segments[keep-1]
	removed, err := seg.truncateToLocked(offset)
	if err != nil {
		return err
	}
	if keep < len(l.segments) {
		if err := seg.offsetIndex.resize(int(cfg.IndexMaxBytes)); err != nil {
			return err
		}
		if err := seg.timeIndex.resize(int(cfg.IndexMaxBytes)); err != nil {
			return err
		}
	}
	l.stateMu.Lock()
	l.segments = append([]*Segment(nil), l.segments[:keep]...)
	l.logEndOffset = seg.nextOffset
	l.highWatermark = min(l.highWatermark, l.logEndOffset)
	leo := l.logEndOffset
	l.stateMu.Unlock()
	l.truncatedTo = min(l.truncatedTo, leo)
	l.recoveryPoint.Store(min(l.recoveryPoint.Load(), leo))
	for _, s := range gone {
		removed += s.Size()
		if err := s.renameDeleted(); err != nil {
			return err
		}
		l.scheduleDeleteLocked(s, 0)
	}
	l.logger.Info("log truncated", zap.Int64("target_offset", offset),
		zap.Int64("log_end_offset", leo), zap.Int64("removed_bytes", removed), zap.Int("removed_segments", len(gone)))
	if err := l.loadProducerStateLocked(leo); err != nil {
		return err
	}
	return l.epochs.TruncateFromEnd(leo)
}

// TruncateFullyAndStartAt deletes every segment and restarts the log empty
// at offset, which becomes log start, end, high watermark and recovery point.
func (l *Log) TruncateFullyAndStartAt(offset int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	return l.truncateFullyAndStartAtLocked(offset)
}

func (l *Log) truncateFullyAndStartAtLocked(offset int64) error {
	l.truncations++
	l.truncatedTo = min(l.truncatedTo, offset)
	gone := l.segments
	for _, s := range gone {
		if err := s.renameDeleted(); err != nil {
			return err
		}
		l.scheduleDeleteLocked(s, 0)
	}
	s, err := openSegment(l.dir, offset, l.cfg.Load(), true)
	if err != nil {
		return err
	}
	l.stateMu.Lock()
	l.segments = []*Segment{s}
	l.logStartOffset, l.highWatermark, l.logEndOffset = offset, offset, offset
	l.stateMu.Unlock()
	l.recoveryPoint.Store(offset)
	l.logger.Info("log truncated fully", zap.Int64("start_offset", offset), zap.Int("removed_segments", len(gone)))
	if err := deleteSnapshots(l.dir, func(int64) bool { return true }); err != nil {
		return err
	}
	l.producers = newProducerStateManager()
	l.snapshotOffset = offset // no snapshots, no batches: a restart rebuilds this empty table
	l.firstUnstable.Store(-1)
	return l.epochs.Clear()
}

// Close flushes, trims the active segment's indexes and closes every file.
// Pending segment deletions run now.
func (l *Log) Close() error { return l.close(true) }

func (l *Log) close(flush bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	var err error
	if active := l.segments[len(l.segments)-1]; active != nil {
		err = active.onBecomeInactiveLocked()
	}
	if flush && err == nil && l.logEndOffset != l.snapshotOffset {
		err = writeSnapshot(l.dir, l.logEndOffset, l.producers.producers)
	}
	if flush && err == nil {
		err = l.flushTo(l.logEndOffset, l.logEndOffset)
	}
	l.flushMu.Lock() // waits for a flush in progress (lock order: mu, then flushMu)
	l.shut.Store(true)
	l.flushMu.Unlock()
	for _, s := range l.segments {
		if e := s.close(); err == nil {
			err = e
		}
	}
	for _, p := range l.pending {
		if p.timer.Stop() {
			if e := p.seg.removeFiles(); err == nil {
				err = e
			}
			l.deletes.Done()
		}
	}
	l.deletes.Wait()
	if err != nil {
		return fmt.Errorf("storage: close %s: %w", l.tp, err)
	}
	return nil
}
