package storage

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/protocol/records"
)

// This file is the log cleaner, built after Kafka's LogCleaner: compaction
// of logs whose Config.Compact is set (cleanup.policy=compact).
//
// A log has a clean section, [log start, first dirty offset), already
// compacted, and a dirty section after it. The first dirty offset of each log
// is persisted in <log.dir>/cleaner-offset-checkpoint (the offset checkpoint
// format of doc.go). The cleanable part of the dirty section stops at the
// first uncleanable offset: the base of the first segment that is the
// active one, reaches past the last stable offset (so every transaction in
// the range is decided), or is younger than min.compaction.lag.ms (by its
// largest timestamp). A pass:
//
//  1. builds a key → last offset map over the cleanable dirty section,
//     skipping control batches and the records of aborted transactions
//     (known from the .txnindex files). The map is bounded by the dedupe
//     buffer; if it fills, the pass ends at that segment's end.
//  2. rewrites every segment below that end, in groups whose sizes add up to
//     at most segment.bytes (and whose offsets fit a segment), into one new
//     segment per group, keeping a record only if it has a key, no later
//     record has that key, and it is not a tombstone past its delete horizon;
//     records of aborted transactions go; see batchFilter for markers.
//     Batches that lose nothing are copied byte for byte; others are rebuilt
//     with the same BaseOffset, LastOffsetDelta, producer fields and
//     compression. Offsets are preserved; readers skip the gaps.
//  3. swaps each group in (replaceSegmentsLocked) and moves the checkpoint
//     to the end of the pass.
//
// Tombstones use KIP-534: the first pass that keeps a tombstone stamps its
// batch with the DeleteHorizonBit and BaseTimestamp = now +
// delete.retention.ms; a pass after that horizon drops it. Transaction
// markers whose transaction has no data left are stamped the same way and
// dropped after their horizon. A log is cleaned when its dirty ratio
// (dirty bytes / cleanable bytes) exceeds min.cleanable.dirty.ratio, when its
// first dirty segment is older than max.compaction.lag.ms, or when a delete
// horizon it carries has passed.
//
// Swap protocol, crash-safe at every step (Kafka's replaceSegments):
//
//	<base>.{index,timeindex,log}.cleaned   written and fsynced, no lock held
//	  → renamed .swap (.log last)           under Log.mu: the commit point
//	  → old segments renamed *.deleted
//	  → .swap renamed to the final names
//	  → new Segment opened, published under stateMu; old ones closed after
//	    file.delete.delay.ms so reads holding them finish.
//
// On load, *.cleaned files are deleted, and a <base>.log.swap is completed:
// every segment with a base offset in [base, last offset in the swap] is
// deleted, the swap files renamed (a missing index is rebuilt). A crash
// before the .log.swap exists keeps the old segments; after, the new one.
// The cleaned segment never covers offsets past the group it replaces, so a
// segment that survives a crash beside it is data the pass did not touch.

// CleanerOffsetCheckpointFile holds each log's first dirty offset.
const CleanerOffsetCheckpointFile = "cleaner-offset-checkpoint"

// errCleanAborted means the log changed under a pass (truncation, retention,
// close); the pass is dropped and retried later.
var errCleanAborted = errors.New("storage: cleaning aborted, log changed")

// cleanPlan is what a pass may clean, computed under Log.mu.
type cleanPlan struct {
	segs        []*Segment // the cleanable segments, wholly below end
	firstDirty  int64
	end         int64 // first uncleanable offset, a segment base
	dirtyIndex  int   // first segment of segs holding dirty data
	cleanBytes  int64
	dirtyBytes  int64
	mustClean   bool // max.compaction.lag.ms passed
	truncations int64
	cfg         Config
}

func (p *cleanPlan) ratio() float64 {
	if p.cleanBytes+p.dirtyBytes == 0 {
		return 0
	}
	return float64(p.dirtyBytes) / float64(p.cleanBytes+p.dirtyBytes)
}

// cleanPlan computes the cleanable range for a pass starting at firstDirty
// (the checkpoint; out of range means the log start).
func (l *Log) cleanPlan(now time.Time, firstDirty int64) (cleanPlan, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return cleanPlan{}, ErrClosed
	}
	return l.cleanPlanLocked(now, firstDirty), nil
}

func (l *Log) cleanPlanLocked(now time.Time, firstDirty int64) cleanPlan {
	cfg := *l.cfg.Load()
	p := cleanPlan{cfg: cfg, truncations: l.truncations}
	segs := l.segments
	bound := min(l.LastStableOffset(), segs[len(segs)-1].baseOffset)
	k := 0
	for k+1 < len(segs) && segs[k+1].baseOffset <= bound {
		if cfg.MinCompactionLagMs > 0 && now.UnixMilli()-segs[k].largestTimestamp() < cfg.MinCompactionLagMs {
			break
		}
		k++
	}
	p.segs, p.end = segs[:k], segs[k].baseOffset
	firstDirty = min(firstDirty, l.truncatedTo)
	if firstDirty < l.logStartOffset || firstDirty > l.logEndOffset {
		firstDirty = l.logStartOffset
	}
	p.firstDirty = firstDirty
	p.dirtyIndex = max(sort.Search(k, func(i int) bool { return segs[i].baseOffset > firstDirty })-1, 0)
	if firstDirty >= p.end {
		p.dirtyIndex = k
	}
	for i, s := range p.segs {
		if i < p.dirtyIndex {
			p.cleanBytes += s.Size()
		} else {
			p.dirtyBytes += s.Size()
		}
	}
	if p.dirtyIndex < k && cfg.MaxCompactionLagMs < math.MaxInt64 {
		first := segs[p.dirtyIndex]
		ts := first.firstBatchTimestamp
		if ts < 0 {
			ts = first.created.UnixMilli()
		}
		p.mustClean = now.UnixMilli()-ts > cfg.MaxCompactionLagMs
	}
	return p
}

// cleanStats describes one pass.
type cleanStats struct {
	firstDirty, end int64 // end is the next pass's first dirty offset
	groups          int
	bytesRead       int64
	bytesWritten    int64
	recordsRemoved  int
	keys            int
	// minHorizon is the earliest delete horizon left in the cleaned
	// segments, -1 if none: the log needs a pass once it passes.
	minHorizon int64
}

// clean runs one cleaning pass over the log (see the top of this file).
// dedupeBytes bounds the key map. It returns errCleanAborted when the log
// changed underneath; nothing is lost then.
func (l *Log) clean(ctx context.Context, now time.Time, firstDirty int64, dedupeBytes int64) (cleanStats, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return cleanStats{}, ErrClosed
	}
	plan := l.cleanPlanLocked(now, firstDirty)
	lastOfProducer := make(map[int64]int64, len(l.producers.producers))
	for pid, e := range l.producers.producers {
		lastOfProducer[pid] = e.LastOffset()
	}
	var aborted []AbortedTxn
	if len(plan.segs) > 0 {
		for _, s := range l.segments {
			aborted = s.txnIndex.collect(aborted, plan.segs[0].baseOffset, plan.end)
		}
	}
	l.mu.Unlock()
	sort.Slice(aborted, func(i, j int) bool { return aborted[i].FirstOffset < aborted[j].FirstOffset })

	st := cleanStats{firstDirty: plan.firstDirty, end: plan.firstDirty, minHorizon: -1}
	if len(plan.segs) == 0 {
		return st, nil
	}
	keys, end, err := buildOffsetMap(ctx, &plan, aborted, dedupeBytes)
	if err != nil {
		return st, abortedIfDeleted(err, plan.segs)
	}
	st.keys, st.end = len(keys), max(end, plan.firstDirty)
	segs := plan.segs
	for len(segs) > 0 && segs[len(segs)-1].baseOffset >= end {
		segs = segs[:len(segs)-1]
	}
	f := &batchFilter{
		now: now.UnixMilli(), horizon: now.UnixMilli() + plan.cfg.DeleteRetentionMs,
		keys: keys, txns: newTxnTracker(aborted), lastOfProducer: lastOfProducer,
	}
	for _, group := range groupSegments(segs, end, &plan.cfg) {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if err := l.cleanGroup(group, f, &plan, &st); err != nil {
			return st, abortedIfDeleted(err, group)
		}
		st.groups++
	}
	l.mu.Lock()
	if l.truncations == plan.truncations {
		l.truncatedTo = math.MaxInt64 // the new checkpoint accounts for it
	}
	l.mu.Unlock()
	return st, nil
}

// abortedIfDeleted turns a read error on a segment that retention or
// truncation removed during the pass into errCleanAborted.
func abortedIfDeleted(err error, segs []*Segment) error {
	for _, s := range segs {
		if s.deleted.Load() && !errors.Is(err, errCrashInjected) {
			return fmt.Errorf("%w: %w", errCleanAborted, err)
		}
	}
	return err
}

// buildOffsetMap maps each key of the dirty section to its last offset. It
// returns the offset the map covers up to (a segment base): plan.end, or
// less when the map filled up.
func buildOffsetMap(ctx context.Context, plan *cleanPlan, aborted []AbortedTxn, dedupeBytes int64) (map[string]int64, int64, error) {
	keys := map[string]int64{}
	var used int64
	txns := newTxnTracker(aborted)
	for i := plan.dirtyIndex; i < len(plan.segs); i++ {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		if i > plan.dirtyIndex && used >= dedupeBytes {
			return keys, plan.segs[i].baseOffset, nil
		}
		err := forEachBatch(plan.segs[i], func(h *records.Header, batch []byte) error {
			if h.LastOffset() < plan.firstDirty {
				return nil
			}
			if h.IsControl() {
				typ, ok, err := controlType(batch)
				if err == nil && ok {
					txns.marker(h, typ)
				}
				return err
			}
			if txns.dataBatch(h) {
				return nil
			}
			return records.ForEachRecord(batch, maxCleanerDecompressed, func(r *records.Record) error {
				if r.Key == nil || r.Offset < plan.firstDirty {
					return nil
				}
				if _, ok := keys[string(r.Key)]; !ok {
					used += int64(len(r.Key)) + 48 // key, map entry and offset, roughly
				}
				keys[string(r.Key)] = r.Offset
				return nil
			})
		})
		if err != nil {
			return nil, 0, fmt.Errorf("storage: build offset map, segment %d: %w", plan.segs[i].baseOffset, err)
		}
	}
	return keys, plan.end, nil
}

// groupSegments splits segs into runs that fit one segment: total size at
// most segment.bytes, index entries within segment.index.bytes, and offsets
// within 2^31 of the first base (Kafka's groupSegmentsBySize).
func groupSegments(segs []*Segment, end int64, cfg *Config) [][]*Segment {
	var groups [][]*Segment
	for len(segs) > 0 {
		n, size := 1, segs[0].Size()
		offsetEntries, timeEntries := segs[0].offsetIndex.len(), segs[0].timeIndex.len()
		for n < len(segs) {
			s := segs[n]
			upper := end
			if n+1 < len(segs) {
				upper = segs[n+1].baseOffset
			}
			if size+s.Size() > cfg.SegmentBytes ||
				int64(offsetEntries+s.offsetIndex.len())*offsetIndexEntrySize > int64(cfg.IndexMaxBytes) ||
				int64(timeEntries+s.timeIndex.len())*timeIndexEntrySize > int64(cfg.IndexMaxBytes) ||
				upper-1-segs[0].baseOffset > math.MaxInt32 {
				break
			}
			size += s.Size()
			offsetEntries += s.offsetIndex.len()
			timeEntries += s.timeIndex.len()
			n++
		}
		groups = append(groups, segs[:n])
		segs = segs[n:]
	}
	return groups
}

// forEachBatch calls fn for every batch of an inactive segment.
func forEachBatch(s *Segment, fn func(h *records.Header, batch []byte) error) error {
	size := s.Size()
	var hbuf [records.HeaderSize]byte
	var buf []byte
	for pos := int64(0); pos < size; {
		h, err := s.readHeaderAt(pos, size, hbuf[:])
		if err != nil {
			return err
		}
		buf = grow(buf, h.Size())
		if err := readFull(s.log, buf, pos); err != nil {
			return err
		}
		if err := fn(&h, buf); err != nil {
			return err
		}
		pos += int64(h.Size())
	}
	return nil
}

// cleanGroup writes the cleaned copy of group and swaps it in.
func (l *Log) cleanGroup(group []*Segment, f *batchFilter, plan *cleanPlan, st *cleanStats) error {
	c, err := newCleanedSegment(l.dir, group[0].baseOffset, int64(plan.cfg.IndexIntervalBytes))
	if err != nil {
		return err
	}
	swapped := false
	defer func() {
		if !swapped {
			c.abort()
		}
	}()
	var out []byte
	for _, s := range group {
		if t := s.modTime(); t.After(c.lastModified) {
			c.lastModified = t
		}
		err := forEachBatch(s, func(h *records.Header, batch []byte) error {
			st.bytesRead += int64(len(batch))
			var res filterResult
			var err error
			if out, res, err = f.filter(out, batch, h); err != nil {
				return err
			}
			st.recordsRemoved += res.removed
			if res.horizon >= 0 && (st.minHorizon < 0 || res.horizon < st.minHorizon) {
				st.minHorizon = res.horizon
			}
			if len(out) >= 1<<20 {
				err = c.append(out)
				out = out[:0]
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("storage: clean segment %d: %w", s.baseOffset, err)
		}
	}
	if err := c.append(out); err != nil {
		return err
	}
	if err := c.finish(); err != nil {
		return err
	}
	st.bytesWritten += c.size
	err = l.replaceSegments(group, c, plan)
	swapped = err == nil || errors.Is(err, errCrashInjected) || errors.Is(err, errSwapFailed)
	return err
}

// errCrashInjected is returned by test hooks to stop a swap as a crash would.
var errCrashInjected = errors.New("storage: crash injected")

// errSwapFailed means a swap failed after its commit point; the files on
// disk are completed by the next load.
var errSwapFailed = errors.New("storage: segment swap failed")

func (l *Log) swapStep(step string) error {
	if l.cleanHook == nil {
		return nil
	}
	return l.cleanHook(step)
}

// replaceSegments swaps the cleaned segment in for group, if the log still
// holds group unchanged.
func (l *Log) replaceSegments(group []*Segment, c *cleanedSegment, plan *cleanPlan) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	i := sort.Search(len(l.segments), func(i int) bool { return l.segments[i].baseOffset >= group[0].baseOffset })
	if l.truncations != plan.truncations || i+len(group) >= len(l.segments) {
		return errCleanAborted
	}
	for j, s := range group {
		if l.segments[i+j] != s {
			return errCleanAborted
		}
	}
	if err := l.swapStep("cleaned"); err != nil {
		return err
	}
	if err := renameCleaned(l.dir, c.base, cleanedSuffix, swapSuffix); err != nil {
		return err
	}
	if err := syncDir(l.dir); err != nil {
		return fmt.Errorf("%w: %w", errSwapFailed, err)
	}
	if err := l.swapStep("swap"); err != nil {
		return err
	}
	for _, s := range group {
		if err := s.renameDeleted(); err != nil {
			return fmt.Errorf("%w: %w", errSwapFailed, err)
		}
	}
	if err := l.swapStep("deleted"); err != nil {
		return err
	}
	if err := renameCleaned(l.dir, c.base, swapSuffix, ""); err != nil {
		return fmt.Errorf("%w: %w", errSwapFailed, err)
	}
	if err := syncDir(l.dir); err != nil {
		return fmt.Errorf("%w: %w", errSwapFailed, err)
	}
	if err := l.swapStep("renamed"); err != nil {
		return err
	}
	s, err := l.openCleanedSegmentLocked(c.base)
	if err != nil {
		return fmt.Errorf("%w: %w", errSwapFailed, err)
	}
	segs := make([]*Segment, 0, len(l.segments)-len(group)+1)
	segs = append(append(append(segs, l.segments[:i]...), s), l.segments[i+len(group):]...)
	l.stateMu.Lock()
	l.segments = segs
	l.stateMu.Unlock()
	delay := time.Duration(l.cfg.Load().FileDeleteDelayMs) * time.Millisecond
	for _, old := range group {
		l.scheduleDeleteLocked(old, delay)
	}
	return nil
}

// openCleanedSegmentLocked opens a swapped-in segment, trusting the indexes
// the cleaner wrote if they pass the sanity check.
func (l *Log) openCleanedSegmentLocked(base int64) (*Segment, error) {
	cfg := l.cfg.Load()
	s, err := openSegment(l.dir, base, cfg, false)
	if err != nil {
		return nil, err
	}
	err = s.offsetIndex.sanityCheck(s.Size())
	if err == nil {
		err = s.loadTailLocked()
	}
	if err == nil {
		err = s.timeIndex.sanityCheck(s.nextOffset)
	}
	if err != nil {
		l.logger.Warn("cleaned segment index failed sanity check, rebuilding", zap.Int64("base_offset", base), zap.Error(err))
		if _, _, err := l.recoverSegmentLocked(s, cfg); err != nil {
			s.close()
			return nil, err
		}
	}
	return s, nil
}

// completeSwapsLocked finishes or discards cleaner swaps interrupted by a
// crash (see the top of this file). Called by loadLocked before it lists
// the segments, with the names of the directory's files; changed reports
// whether it removed or renamed a file (the names are then stale).
func (l *Log) completeSwapsLocked(names []string) (changed bool, err error) {
	var swaps, logs []int64
	var orphans []string
	for _, name := range names {
		switch {
		case strings.HasSuffix(name, cleanedSuffix):
			changed = true
			if err := os.Remove(filepath.Join(l.dir, name)); err != nil {
				return changed, err
			}
		case strings.HasSuffix(name, logSuffix+swapSuffix):
			base, err := strconv.ParseInt(strings.TrimSuffix(name, logSuffix+swapSuffix), 10, 64)
			if err != nil {
				return changed, fmt.Errorf("%w: unexpected file %s", ErrCorrupt, name)
			}
			swaps = append(swaps, base)
		case strings.HasSuffix(name, swapSuffix):
			orphans = append(orphans, name)
		case strings.HasSuffix(name, logSuffix):
			if base, err := strconv.ParseInt(strings.TrimSuffix(name, logSuffix), 10, 64); err == nil {
				logs = append(logs, base)
			}
		}
	}
	for _, name := range orphans { // an index .swap whose .log.swap is gone
		base, _, _ := strings.Cut(name, ".")
		if b, err := strconv.ParseInt(base, 10, 64); err == nil && containsInt(swaps, b) {
			continue
		}
		changed = true
		if err := os.Remove(filepath.Join(l.dir, name)); err != nil {
			return changed, err
		}
	}
	if len(swaps) > 0 {
		changed = true
	}
	for _, base := range swaps {
		next, err := swapNextOffset(segmentName(l.dir, base, logSuffix)+swapSuffix, base)
		if err != nil {
			return changed, fmt.Errorf("storage: read swap segment %d: %w", base, err)
		}
		for _, old := range logs {
			if old >= base && old < next {
				l.logger.Info("completing interrupted cleaner swap: removing replaced segment",
					zap.Int64("swap_base_offset", base), zap.Int64("base_offset", old))
				if err := removeSegmentFiles(l.dir, old, ""); err != nil {
					return changed, err
				}
			}
		}
		// A cleaned segment has no .txnindex; one left is the old segment's.
		if err := os.Remove(segmentName(l.dir, base, txnIndexSuffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return changed, err
		}
		for _, suffix := range cleanedSuffixes {
			p := segmentName(l.dir, base, suffix)
			if err := os.Rename(p+swapSuffix, p); err != nil && !errors.Is(err, os.ErrNotExist) {
				return changed, fmt.Errorf("storage: complete swap of segment %d: %w", base, err)
			}
		}
	}
	if len(swaps) > 0 {
		return changed, syncDir(l.dir)
	}
	return changed, nil
}

func containsInt(s []int64, v int64) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
