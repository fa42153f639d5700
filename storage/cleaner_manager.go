package storage

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"time"

	"go.uber.org/zap"
)

// logCleaner is the Manager's cleaning loop, Kafka's LogCleanerManager plus
// one CleanerThread: it picks the filthiest compacted log, cleans it, and
// keeps each log dir's cleaner-offset-checkpoint. One goroutine (run) does
// all cleaning; mu guards the maps for Manager calls from other goroutines.
type logCleaner struct {
	m           *Manager
	logger      *zap.Logger
	backoff     time.Duration
	dedupeBytes int64

	mu sync.Mutex // a leaf: never held while taking another lock
	// firstDirty is the checkpointed first dirty offset, per log dir.
	firstDirty map[string]map[TopicPartition]int64
	// horizons is the earliest delete horizon left in each log by its last
	// pass; the log is due for a pass when it passes.
	horizons map[TopicPartition]int64
	// uncleanable are logs whose last pass failed, skipped until the time.
	uncleanable map[TopicPartition]time.Time
}

func newLogCleaner(m *Manager, logger *zap.Logger) *logCleaner {
	c := &logCleaner{
		m: m, logger: logger.Named("cleaner"),
		backoff: m.cfg.CleanerBackoff, dedupeBytes: m.cfg.CleanerDedupeBufferSize,
		firstDirty:  map[string]map[TopicPartition]int64{},
		horizons:    map[TopicPartition]int64{},
		uncleanable: map[TopicPartition]time.Time{},
	}
	for _, d := range m.cfg.Dirs {
		offsets, err := ReadOffsetCheckpoint(filepath.Join(d, CleanerOffsetCheckpointFile))
		if err != nil {
			c.logger.Warn("unreadable cleaner offset checkpoint, cleaning from the log start",
				zap.String("dir", d), zap.Error(err))
			offsets = nil
		}
		if offsets == nil {
			offsets = map[TopicPartition]int64{}
		}
		c.firstDirty[d] = offsets
	}
	return c
}

// run cleans until ctx ends, backing off when no log needs cleaning.
func (c *logCleaner) run(ctx context.Context) {
	defer c.m.wg.Done()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for c.cleanFilthiest(ctx, time.Now()) && ctx.Err() == nil {
		}
		t.Reset(c.backoff)
	}
}

// candidate is a compacted log and its plan.
type candidate struct {
	log  *Log
	dir  string
	plan cleanPlan
}

// grabFilthiest picks, among the compacted logs due for cleaning (dirty
// ratio above min.cleanable.dirty.ratio, dirty data older than
// max.compaction.lag.ms, or a delete horizon passed), the one with the
// highest dirty ratio.
func (c *logCleaner) grabFilthiest(now time.Time) (candidate, bool) {
	c.m.mu.Lock()
	var all []candidate
	for tp, l := range c.m.logs {
		if l.cfg.Load().Compact {
			all = append(all, candidate{log: l, dir: c.m.dirOf[tp]})
		}
	}
	c.m.mu.Unlock()
	var best candidate
	bestScore, maxRatio := -1.0, 0.0
	defer func() { c.m.metrics.maxDirtyRatio(maxRatio) }()
	for _, cand := range all {
		tp := cand.log.tp
		c.mu.Lock()
		skipUntil, skip := c.uncleanable[tp]
		firstDirty, ok := c.firstDirty[cand.dir][tp]
		horizon, hasHorizon := c.horizons[tp]
		c.mu.Unlock()
		if skip && now.Before(skipUntil) {
			continue
		}
		if !ok {
			firstDirty = -1 // the log start
		}
		plan, err := cand.log.cleanPlan(now, firstDirty)
		if err != nil || len(plan.segs) == 0 {
			continue
		}
		cand.plan = plan
		ratio := plan.ratio()
		maxRatio = max(maxRatio, ratio)
		// Kafka's rule, plus a passed delete horizon (Kafka waits for the
		// next pass the ratio or max.compaction.lag.ms triggers instead).
		due := (plan.mustClean && plan.dirtyBytes > 0) || ratio > plan.cfg.MinCleanableDirtyRatio ||
			(hasHorizon && horizon >= 0 && now.UnixMilli() >= horizon)
		if due && ratio > bestScore {
			best, bestScore = cand, ratio
		}
	}
	return best, bestScore >= 0
}

// cleanFilthiest cleans one log if any needs it and reports whether it did.
func (c *logCleaner) cleanFilthiest(ctx context.Context, now time.Time) bool {
	cand, ok := c.grabFilthiest(now)
	if !ok {
		return false
	}
	l := cand.log
	start := time.Now()
	st, err := l.clean(ctx, now, cand.plan.firstDirty, c.dedupeBytes)
	switch {
	case errors.Is(err, ErrClosed), errors.Is(err, context.Canceled):
		return false
	case errors.Is(err, errCleanAborted):
		l.logger.Info("cleaning aborted: log changed during the pass")
		return false
	case err != nil:
		c.m.metrics.cleanerError()
		l.logger.Error("cleaning failed; retrying the log in a minute", zap.Error(err))
		c.mu.Lock()
		c.uncleanable[l.tp] = now.Add(max(time.Minute, 4*c.backoff))
		c.mu.Unlock()
		return false
	}
	c.mu.Lock()
	delete(c.uncleanable, l.tp)
	c.horizons[l.tp] = st.minHorizon
	if c.firstDirty[cand.dir] == nil {
		c.firstDirty[cand.dir] = map[TopicPartition]int64{}
	}
	c.firstDirty[cand.dir][l.tp] = st.end
	c.mu.Unlock()
	if err := c.writeCheckpoint(cand.dir); err != nil {
		l.logger.Error("writing cleaner offset checkpoint", zap.Error(err))
	}
	c.m.metrics.cleaned(st.bytesRead, st.bytesRead-st.bytesWritten)
	l.logger.Info("log cleaned",
		zap.Int64("first_dirty_offset", st.firstDirty), zap.Int64("cleaned_up_to", st.end),
		zap.Float64("dirty_ratio", cand.plan.ratio()), zap.Int("groups", st.groups),
		zap.Int("keys", st.keys), zap.Int("records_removed", st.recordsRemoved),
		zap.Int64("bytes_read", st.bytesRead), zap.Int64("bytes_written", st.bytesWritten),
		zap.Duration("took", time.Since(start)))
	return true
}

// writeCheckpoint writes dir's cleaner-offset-checkpoint with the logs it
// still holds.
func (c *logCleaner) writeCheckpoint(dir string) error {
	c.m.mu.Lock()
	live := map[TopicPartition]bool{}
	for tp, d := range c.m.dirOf {
		if d == dir {
			live[tp] = true
		}
	}
	c.m.mu.Unlock()
	c.mu.Lock()
	offsets := map[TopicPartition]int64{}
	for tp, off := range c.firstDirty[dir] {
		if live[tp] {
			offsets[tp] = off
		}
	}
	c.mu.Unlock()
	return WriteOffsetCheckpoint(filepath.Join(dir, CleanerOffsetCheckpointFile), offsets)
}

// forget drops a deleted log's state; its checkpoint entry goes with the
// dir's next checkpoint write.
func (c *logCleaner) forget(tp TopicPartition) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, offsets := range c.firstDirty {
		delete(offsets, tp)
	}
	delete(c.horizons, tp)
	delete(c.uncleanable, tp)
}
