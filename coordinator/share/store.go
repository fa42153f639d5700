package share

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/coordinator/group"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
)

// ErrNotLeader is what a Log returns when this broker no longer leads the
// __share_group_state partition; the store answers NOT_COORDINATOR.
var ErrNotLeader = errors.New("share: not the leader of the __share_group_state partition")

// ErrCorruptRecord marks a __share_group_state record that cannot be read.
var ErrCorruptRecord = errors.New("share: corrupt share-group state record")

// Log is the share coordinator's persistence: the partitions of
// __share_group_state this broker leads. __share_group_state is not
// compacted (cleanup.policy=delete, retention.ms=-1, as Kafka creates it):
// the store removes what no longer matters with DeleteRecords.
type Log interface {
	// Append appends recs and returns the offset of the first once they
	// are committed.
	Append(ctx context.Context, partition int32, recs []records.Record) (int64, error)
	// Replay calls fn for every record from the log start offset on.
	Replay(ctx context.Context, partition int32, fn func(offset int64, key, value []byte) error) error
	// DeleteRecords moves the log start offset of partition up to offset.
	DeleteRecords(ctx context.Context, partition int32, offset int64) error
}

// Key names one share partition: a share group and a topic partition.
type Key struct {
	GroupID   string
	TopicID   [16]byte
	Partition int32
}

// CoordinatorKey is Kafka's SharePartitionKey.asCoordinatorKey:
// "group:topicId:partition", with the topic id in Kafka's base64 form.
func (k Key) CoordinatorKey() string {
	return fmt.Sprintf("%s:%s:%d", k.GroupID, base64UUID(k.TopicID), k.Partition)
}

// StoreConfig is the share coordinator's configuration.
type StoreConfig struct {
	// Partitions of __share_group_state
	// (share.coordinator.state.topic.num.partitions; default 50).
	Partitions int32
	// UpdatesPerSnapshot is how many ShareUpdate records follow a
	// ShareSnapshot of a share partition before the next write is a
	// snapshot again (share.coordinator.snapshot.update.records.per.snapshot;
	// default 500).
	UpdatesPerSnapshot int
	// ColdSnapshotInterval: a share partition whose last snapshot is older
	// than this is snapshotted again by SnapshotCold, so its old records
	// can be pruned (share.coordinator.cold.partition.snapshot.interval.ms;
	// default 5 minutes).
	ColdSnapshotInterval time.Duration
	// Compacted, when set, reports whether __share_group_state is
	// compacted (created so by a Spool before ShareUpdate records):
	// compaction would keep only the last update of a share partition, so
	// every write is then a snapshot.
	Compacted func() bool
}

// Store is the share coordinator: it keeps the state of every share
// partition whose __share_group_state partition this broker leads (Kafka's
// ShareCoordinatorShard), loaded by replaying the partition when it becomes
// leader. All methods are safe for concurrent use.
type Store struct {
	cfg    StoreConfig
	log    Log
	logger *zap.Logger
	now    func() time.Time

	mu     sync.Mutex // guards shards; taken before stateShard.mu
	shards map[int32]*stateShard
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// entry is one share partition's state as the records up to now give it.
type entry struct {
	state          State
	snapshotEpoch  int32
	createTime     int64 // the last snapshot's CreateTimestamp
	writeTime      int64 // the last snapshot's WriteTimestamp
	snapshotOffset int64 // the offset of the last snapshot
	updates        int   // ShareUpdate records since the last snapshot
}

type stateShard struct {
	mu       sync.Mutex // held across the appends of a write, so records go in order
	loading  bool
	loadErr  error
	unloaded bool
	states   map[Key]*entry
	offsets  redundantOffsets
	// end is the offset after the last record read or written.
	end int64
	// pruned is the offset the log was last pruned to.
	pruned int64
	cancel context.CancelFunc
}

// NewStore returns a store over the partitions of __share_group_state.
func NewStore(cfg StoreConfig, l Log, logger *zap.Logger) *Store {
	if cfg.Partitions <= 0 {
		cfg.Partitions = 50
	}
	if cfg.UpdatesPerSnapshot < 0 {
		cfg.UpdatesPerSnapshot = 500
	}
	if cfg.ColdSnapshotInterval <= 0 {
		cfg.ColdSnapshotInterval = 5 * time.Minute
	}
	s := &Store{cfg: cfg, log: l, logger: logger, now: time.Now, shards: map[int32]*stateShard{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// PartitionFor is the __share_group_state partition of k: Kafka's
// Utils.abs(key.asCoordinatorKey().hashCode()) % numPartitions.
func (s *Store) PartitionFor(k Key) int32 {
	return group.PartitionFor(k.CoordinatorKey(), s.cfg.Partitions)
}

func newStateShard(cancel context.CancelFunc) *stateShard {
	return &stateShard{loading: true, states: map[Key]*entry{}, offsets: newRedundantOffsets(), cancel: cancel}
}

// replay applies one record read at offset (Kafka's
// ShareCoordinatorShard.replay). An update of a share partition without a
// snapshot is skipped, as Kafka does.
func (sh *stateShard) replay(offset int64, key, value []byte) error {
	sh.end = max(sh.end, offset+1)
	kind, k, ok, err := decodeStateKey(key)
	if err != nil || !ok {
		return err
	}
	switch {
	case kind == keyShareSnapshot && value == nil:
		delete(sh.states, k)
		sh.offsets.update(k, offset, true)
	case kind == keyShareSnapshot:
		v, err := decodeSnapshotValue(value)
		if err != nil {
			return err
		}
		sh.states[k] = &entry{state: v.State, snapshotEpoch: v.SnapshotEpoch, createTime: v.CreateTimestamp,
			writeTime: v.WriteTimestamp, snapshotOffset: offset}
		sh.offsets.update(k, offset, false)
	case value != nil:
		v, err := decodeUpdateValue(value)
		if err != nil {
			return err
		}
		if e := sh.states[k]; e != nil {
			e.state = applyUpdate(e.state, v)
			e.updates++
		}
	}
	return nil
}

// applyUpdate is st with update v combined into it.
func applyUpdate(st State, v updateValue) State {
	if v.StartOffset >= 0 {
		st.StartOffset = v.StartOffset
	}
	if v.LeaderEpoch >= 0 {
		st.LeaderEpoch = v.LeaderEpoch
	}
	st.Batches = combineBatches(st.StartOffset, st.Batches, v.Batches)
	return st
}

// Load starts serving partition: its records are replayed in the
// background; requests meanwhile get COORDINATOR_LOAD_IN_PROGRESS.
func (s *Store) Load(partition, epoch int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.shards[partition]; old != nil {
		old.cancel()
	}
	ctx, cancel := context.WithCancel(s.ctx)
	sh := newStateShard(cancel)
	s.shards[partition] = sh
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		loaded := newStateShard(cancel)
		began := time.Now()
		err := s.log.Replay(ctx, partition, loaded.replay)
		sh.mu.Lock()
		defer sh.mu.Unlock()
		sh.loading = false
		if err != nil {
			sh.loadErr = err
			if ctx.Err() == nil {
				s.logger.Warn("cannot load __share_group_state partition", zap.Int32("partition", partition), zap.Error(err))
			}
			return
		}
		sh.states, sh.offsets, sh.end = loaded.states, loaded.offsets, loaded.end
		s.logger.Info("share coordinator partition loaded", zap.Int32("partition", partition), zap.Int32("epoch", epoch),
			zap.Int("share_partitions", len(sh.states)), zap.Duration("took", time.Since(began)))
	}()
}

// Unload stops serving partition (leadership lost).
func (s *Store) Unload(partition int32) {
	s.mu.Lock()
	sh := s.shards[partition]
	delete(s.shards, partition)
	s.mu.Unlock()
	if sh != nil {
		sh.cancel()
		sh.mu.Lock()
		sh.unloaded = true
		sh.mu.Unlock()
	}
}

// Close unloads everything and waits for the loaders.
func (s *Store) Close() {
	s.cancel()
	s.mu.Lock()
	for p, sh := range s.shards {
		sh.cancel()
		delete(s.shards, p)
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// lockedShard returns k's shard locked, or the code to answer.
func (s *Store) lockedShard(partition int32) (*stateShard, int16) {
	s.mu.Lock()
	sh := s.shards[partition]
	s.mu.Unlock()
	if sh == nil {
		return nil, errcode.NotCoordinator
	}
	sh.mu.Lock()
	switch {
	case sh.unloaded:
		sh.mu.Unlock()
		return nil, errcode.NotCoordinator
	case sh.loading:
		sh.mu.Unlock()
		return nil, errcode.CoordinatorLoadInProgress
	case sh.loadErr != nil:
		sh.mu.Unlock()
		return nil, errcode.CoordinatorNotAvailable
	}
	return sh, 0
}

// Read returns k's state; found is false when none was written (Kafka
// answers start offset -1 then: the share partition is uninitialized).
func (s *Store) Read(k Key) (st State, found bool, code int16) {
	sh, code := s.lockedShard(s.PartitionFor(k))
	if code != 0 {
		return State{}, false, code
	}
	defer sh.mu.Unlock()
	e := sh.states[k]
	if e == nil {
		return State{}, false, 0
	}
	st = e.state
	st.Batches = append([]StateBatch(nil), st.Batches...)
	return st, true, 0
}

// Write combines st into k's state once it is committed to
// __share_group_state (Kafka's writeState): st's batches are merged into
// the state held (a newer delivery of an offset wins), its start offset
// (-1: unchanged) drops the batches before it, its leader epoch (-1:
// unchanged) replaces the held one. A caller may send the whole state or
// only what changed; both give the same result.
//
// The first write of a share partition, a write with a newer state epoch
// (the state was reset: it replaces the held one) and the write after
// UpdatesPerSnapshot updates are ShareSnapshot records; the others are
// ShareUpdate records carrying only the batches that changed. A write with
// an older state epoch than the one held is refused with
// FENCED_STATE_EPOCH.
func (s *Store) Write(ctx context.Context, k Key, st State) int16 {
	p := s.PartitionFor(k)
	sh, code := s.lockedShard(p)
	if code != 0 {
		return code
	}
	defer sh.mu.Unlock()
	cur := sh.states[k]
	if cur != nil && st.StateEpoch < cur.state.StateEpoch {
		return errcode.FencedStateEpoch
	}
	now := s.now().UnixMilli()
	if cur == nil || st.StateEpoch > cur.state.StateEpoch {
		next := st
		if next.LeaderEpoch < 0 && cur != nil {
			next.LeaderEpoch = cur.state.LeaderEpoch
		}
		next.Batches = combineBatches(next.StartOffset, st.Batches)
		epoch := int32(0)
		if cur != nil {
			epoch = cur.snapshotEpoch + 1
		}
		return s.snapshotLocked(ctx, p, sh, k, &entry{state: next, snapshotEpoch: epoch, createTime: now, writeTime: now})
	}
	prev := combineBatches(st.StartOffset, cur.state.Batches)
	next := applyUpdate(cur.state, updateValue{LeaderEpoch: st.LeaderEpoch, StartOffset: st.StartOffset, Batches: st.Batches})
	if cur.updates >= s.cfg.UpdatesPerSnapshot || (s.cfg.Compacted != nil && s.cfg.Compacted()) {
		return s.snapshotLocked(ctx, p, sh, k, &entry{state: next, snapshotEpoch: cur.snapshotEpoch + 1, createTime: now, writeTime: now})
	}
	v := updateValue{SnapshotEpoch: cur.snapshotEpoch, LeaderEpoch: st.LeaderEpoch, StartOffset: st.StartOffset,
		Batches: diffBatches(next.Batches, prev)}
	rec := records.Record{Key: encodeStateKey(keyShareUpdate, k), Value: encodeUpdateValue(v), Timestamp: now}
	off, code := s.appendLocked(ctx, p, rec)
	if code != 0 {
		return code
	}
	sh.end = max(sh.end, off+1)
	cur.state = next
	cur.updates++
	return 0
}

// snapshotLocked writes e as k's ShareSnapshot and holds it once
// committed.
func (s *Store) snapshotLocked(ctx context.Context, p int32, sh *stateShard, k Key, e *entry) int16 {
	v := snapshotValue{SnapshotEpoch: e.snapshotEpoch, State: e.state, CreateTimestamp: e.createTime, WriteTimestamp: e.writeTime}
	rec := records.Record{Key: encodeStateKey(keyShareSnapshot, k), Value: encodeSnapshotValue(v), Timestamp: e.writeTime}
	off, code := s.appendLocked(ctx, p, rec)
	if code != 0 {
		return code
	}
	sh.end = max(sh.end, off+1)
	e.snapshotOffset = off
	e.updates = 0
	sh.states[k] = e
	sh.offsets.update(k, off, false)
	return 0
}

// Delete removes k's state (a ShareSnapshot tombstone).
func (s *Store) Delete(ctx context.Context, k Key) int16 {
	p := s.PartitionFor(k)
	sh, code := s.lockedShard(p)
	if code != 0 {
		return code
	}
	defer sh.mu.Unlock()
	if _, ok := sh.states[k]; !ok {
		return 0
	}
	off, code := s.appendLocked(ctx, p, records.Record{Key: encodeStateKey(keyShareSnapshot, k), Timestamp: s.now().UnixMilli()})
	if code != 0 {
		return code
	}
	sh.end = max(sh.end, off+1)
	delete(sh.states, k)
	sh.offsets.update(k, off, true)
	return 0
}

// Keys lists the share partitions of groupID held by the loaded shards.
func (s *Store) Keys(groupID string) []Key {
	var out []Key
	for _, sh := range s.loadedShards() {
		sh.mu.Lock()
		for k := range sh.states {
			if k.GroupID == groupID {
				out = append(out, k)
			}
		}
		sh.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].TopicID != out[j].TopicID {
			return string(out[i].TopicID[:]) < string(out[j].TopicID[:])
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}

// loadedShards returns the shards with their partition numbers' order
// unspecified.
func (s *Store) loadedShards() map[int32]*stateShard {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int32]*stateShard, len(s.shards))
	for p, sh := range s.shards {
		out[p] = sh
	}
	return out
}

// SnapshotCold writes a new ShareSnapshot of every share partition whose
// last snapshot is older than ColdSnapshotInterval while later records
// were written to its __share_group_state partition (Kafka's
// snapshotColdPartitions): its old snapshot then stops holding back the
// pruning of the records before it. A share partition nothing was written
// after is left alone, where Kafka rewrites it once more.
func (s *Store) SnapshotCold(ctx context.Context) {
	for p := range s.loadedShards() {
		sh, code := s.lockedShard(p)
		if code != 0 {
			continue
		}
		now := s.now().UnixMilli()
		for k, e := range sh.states {
			if now-e.writeTime < s.cfg.ColdSnapshotInterval.Milliseconds() || e.snapshotOffset+1 >= sh.end {
				continue
			}
			cold := &entry{state: e.state, snapshotEpoch: e.snapshotEpoch + 1, createTime: e.createTime, writeTime: now}
			if code := s.snapshotLocked(ctx, p, sh, k, cold); code != 0 {
				break
			}
		}
		sh.mu.Unlock()
	}
}

// Prune deletes the records of every loaded __share_group_state partition
// before its last redundant offset (Kafka's ShareCoordinatorService prune
// job): the lowest offset among the share partitions' latest snapshots,
// so every share partition keeps its latest snapshot and the updates
// after it. It returns the partitions pruned and the offset each was
// pruned to.
func (s *Store) Prune(ctx context.Context) map[int32]int64 {
	out := map[int32]int64{}
	for p := range s.loadedShards() {
		sh, code := s.lockedShard(p)
		if code != 0 {
			continue
		}
		off, ok := sh.offsets.redundant()
		if ok && off != sh.pruned {
			if err := s.log.DeleteRecords(ctx, p, off); err != nil {
				s.logger.Warn("cannot prune __share_group_state", zap.Int32("partition", p), zap.Int64("offset", off), zap.Error(err))
			} else {
				sh.pruned = off
				out[p] = off
			}
		}
		sh.mu.Unlock()
	}
	return out
}

// Run snapshots cold share partitions every ColdSnapshotInterval and
// prunes every pruneInterval until the store is closed.
func (s *Store) Run(pruneInterval time.Duration) {
	if pruneInterval <= 0 {
		pruneInterval = 5 * time.Minute
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		prune := time.NewTicker(pruneInterval)
		defer prune.Stop()
		cold := time.NewTicker(s.cfg.ColdSnapshotInterval)
		defer cold.Stop()
		for {
			select {
			case <-s.ctx.Done():
				return
			case <-cold.C:
				s.SnapshotCold(s.ctx)
			case <-prune.C:
				s.Prune(s.ctx)
			}
		}
	}()
}

func (s *Store) appendLocked(ctx context.Context, partition int32, rec records.Record) (int64, int16) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	off, err := s.log.Append(ctx, partition, []records.Record{rec})
	if err != nil {
		s.logger.Warn("cannot write to __share_group_state", zap.Int32("partition", partition), zap.Error(err))
		if errors.Is(err, ErrNotLeader) {
			return -1, errcode.NotCoordinator
		}
		return -1, errcode.CoordinatorNotAvailable
	}
	return off, 0
}

// redundantOffsets is Kafka's ShareCoordinatorOffsetsManager: the offset
// of every share partition's latest snapshot (or tombstone), and the
// lowest of them, before which every record is redundant.
type redundantOffsets struct {
	snapshots map[Key]int64
	last      int64
}

func newRedundantOffsets() redundantOffsets {
	return redundantOffsets{snapshots: map[Key]int64{}, last: math.MaxInt64}
}

// update records k's snapshot (or, with deleted, its tombstone) at offset.
// A deleted key counts once, for this update, and is then forgotten.
func (r *redundantOffsets) update(k Key, offset int64, deleted bool) {
	r.snapshots[k] = offset
	low := int64(math.MaxInt64)
	for _, o := range r.snapshots {
		low = min(low, o)
	}
	r.last = low
	if deleted {
		delete(r.snapshots, k)
	}
}

// redundant is the offset before which the records are redundant; ok is
// false when there is none yet (Kafka also keeps offset 0).
func (r *redundantOffsets) redundant() (int64, bool) {
	if r.last <= 0 || r.last == math.MaxInt64 {
		return 0, false
	}
	return r.last, true
}
