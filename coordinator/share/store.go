package share

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/coordinator/group"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
	"github.com/spool-broker/spool/protocol/wire"
)

// ErrNotLeader is what a Log returns when this broker no longer leads the
// __share_group_state partition; the store answers NOT_COORDINATOR.
var ErrNotLeader = errors.New("share: not the leader of the __share_group_state partition")

// ErrCorruptRecord marks a __share_group_state record that cannot be read.
var ErrCorruptRecord = errors.New("share: corrupt share-group state record")

// Log is the share coordinator's persistence: the partitions of
// __share_group_state this broker leads (the same shape as group.Log).
type Log interface {
	Append(ctx context.Context, partition int32, recs []records.Record) error
	Replay(ctx context.Context, partition int32, fn func(key, value []byte) error) error
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

// Store is the share coordinator: it keeps the latest snapshot of every
// share partition whose __share_group_state partition this broker leads
// (Kafka's ShareCoordinatorShard), loaded by replaying the partition when
// it becomes leader. All methods are safe for concurrent use.
type Store struct {
	numPartitions int32
	log           Log
	logger        *zap.Logger
	now           func() time.Time

	mu     sync.Mutex // guards shards; taken before stateShard.mu
	shards map[int32]*stateShard
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type stateShard struct {
	mu       sync.Mutex
	loading  bool
	loadErr  error
	unloaded bool
	states   map[Key]State
	cancel   context.CancelFunc
}

// NewStore returns a store over numPartitions partitions of
// __share_group_state (share.coordinator.state.topic.num.partitions).
func NewStore(numPartitions int32, l Log, logger *zap.Logger) *Store {
	if numPartitions <= 0 {
		numPartitions = 50
	}
	s := &Store{numPartitions: numPartitions, log: l, logger: logger, now: time.Now, shards: map[int32]*stateShard{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// PartitionFor is the __share_group_state partition of k: Kafka's
// Utils.abs(key.asCoordinatorKey().hashCode()) % numPartitions.
func (s *Store) PartitionFor(k Key) int32 {
	return group.PartitionFor(k.CoordinatorKey(), s.numPartitions)
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
	sh := &stateShard{loading: true, states: map[Key]State{}, cancel: cancel}
	s.shards[partition] = sh
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		states := map[Key]State{}
		began := time.Now()
		err := s.log.Replay(ctx, partition, func(key, value []byte) error {
			k, err := decodeStateKey(key)
			if err != nil || k == nil {
				return err
			}
			if value == nil {
				delete(states, *k)
				return nil
			}
			st, err := decodeStateValue(value)
			if err != nil {
				return err
			}
			states[*k] = st
			return nil
		})
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
		sh.states = states
		s.logger.Info("share coordinator partition loaded", zap.Int32("partition", partition), zap.Int32("epoch", epoch),
			zap.Int("share_partitions", len(states)), zap.Duration("took", time.Since(began)))
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
	st, found = sh.states[k]
	return st, found, 0
}

// Write replaces k's state with a snapshot, once it is committed to
// __share_group_state. A write with an older state epoch than the one held
// is refused with FENCED_STATE_EPOCH.
func (s *Store) Write(ctx context.Context, k Key, st State) int16 {
	p := s.PartitionFor(k)
	sh, code := s.lockedShard(p)
	if code != 0 {
		return code
	}
	defer sh.mu.Unlock()
	if cur, ok := sh.states[k]; ok && st.StateEpoch < cur.StateEpoch {
		return errcode.FencedStateEpoch
	}
	rec := records.Record{Key: encodeStateKey(k), Value: encodeStateValue(st, s.now().UnixMilli()), Timestamp: s.now().UnixMilli()}
	if code := s.appendLocked(ctx, p, rec); code != 0 {
		return code
	}
	sh.states[k] = st
	return 0
}

// Delete removes k's state (a tombstone).
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
	if code := s.appendLocked(ctx, p, records.Record{Key: encodeStateKey(k), Timestamp: s.now().UnixMilli()}); code != 0 {
		return code
	}
	delete(sh.states, k)
	return 0
}

// Keys lists the share partitions of groupID held by the loaded shards.
func (s *Store) Keys(groupID string) []Key {
	s.mu.Lock()
	shards := make([]*stateShard, 0, len(s.shards))
	for _, sh := range s.shards {
		shards = append(shards, sh)
	}
	s.mu.Unlock()
	var out []Key
	for _, sh := range shards {
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

func (s *Store) appendLocked(ctx context.Context, partition int32, rec records.Record) int16 {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.log.Append(ctx, partition, []records.Record{rec}); err != nil {
		s.logger.Warn("cannot write to __share_group_state", zap.Int32("partition", partition), zap.Error(err))
		if errors.Is(err, ErrNotLeader) {
			return errcode.NotCoordinator
		}
		return errcode.CoordinatorNotAvailable
	}
	return 0
}

// Record formats (Kafka's ShareSnapshotKey/ShareSnapshotValue; Spool
// writes a full snapshot on every write and no ShareUpdate records):
//
//	key:   int16 0 | string groupId | uuid topicId | int32 partition
//	value: int16 0 | int32 snapshotEpoch | int32 stateEpoch | int32 leaderEpoch |
//	       int64 startOffset | int64 createTimestamp | int64 writeTimestamp |
//	       compact array of {int64 firstOffset | int64 lastOffset |
//	       int8 deliveryState | int16 deliveryCount | tags} | tags
const keyShareSnapshot = 0

func encodeStateKey(k Key) []byte {
	b := wire.AppendInt16(nil, keyShareSnapshot)
	b = wire.AppendString(b, k.GroupID)
	b = append(b, k.TopicID[:]...)
	return wire.AppendInt32(b, k.Partition)
}

// decodeStateKey returns nil for a record type the store does not read.
func decodeStateKey(b []byte) (*Key, error) {
	r := wire.NewReader(b)
	if v := r.Int16(); r.Err() == nil && v != keyShareSnapshot {
		return nil, nil
	}
	var k Key
	k.GroupID = r.String()
	k.TopicID = r.UUID()
	k.Partition = r.Int32()
	if err := r.Complete(); err != nil {
		return nil, fmt.Errorf("%w: key: %w", ErrCorruptRecord, err)
	}
	return &k, nil
}

func encodeStateValue(st State, now int64) []byte {
	b := wire.AppendInt16(nil, 0)
	b = wire.AppendInt32(b, 0) // snapshot epoch
	b = wire.AppendInt32(b, st.StateEpoch)
	b = wire.AppendInt32(b, st.LeaderEpoch)
	b = wire.AppendInt64(b, st.StartOffset)
	b = wire.AppendInt64(b, now)
	b = wire.AppendInt64(b, now)
	b = wire.AppendCompactArrayLen(b, len(st.Batches))
	for _, sb := range st.Batches {
		b = wire.AppendInt64(b, sb.FirstOffset)
		b = wire.AppendInt64(b, sb.LastOffset)
		b = append(b, byte(sb.DeliveryState))
		b = wire.AppendInt16(b, sb.DeliveryCount)
		b = wire.AppendUvarint(b, 0)
	}
	return wire.AppendUvarint(b, 0)
}

func decodeStateValue(b []byte) (State, error) {
	r := wire.NewReader(b)
	var st State
	if v := r.Int16(); r.Err() == nil && v != 0 {
		return st, fmt.Errorf("%w: value version %d", ErrCorruptRecord, v)
	}
	r.Int32()
	st.StateEpoch = r.Int32()
	st.LeaderEpoch = r.Int32()
	st.StartOffset = r.Int64()
	r.Int64()
	r.Int64()
	n := r.CompactArrayLen(19)
	for i := 0; i < n && r.Err() == nil; i++ {
		var sb StateBatch
		sb.FirstOffset = r.Int64()
		sb.LastOffset = r.Int64()
		sb.DeliveryState = RecordState(r.Int8())
		sb.DeliveryCount = r.Int16()
		skipTags(r)
		st.Batches = append(st.Batches, sb)
	}
	skipTags(r)
	if err := r.Complete(); err != nil {
		return st, fmt.Errorf("%w: value: %w", ErrCorruptRecord, err)
	}
	return st, nil
}

// skipTags skips a tagged-field section.
func skipTags(r *wire.Reader) {
	n := r.Uvarint()
	for i := uint32(0); i < n && r.Err() == nil; i++ {
		r.Uvarint()
		r.Raw(int(r.Uvarint()))
	}
}

// base64UUID is Kafka's Uuid.toString: URL-safe base64 without padding.
func base64UUID(u [16]byte) string { return base64.RawURLEncoding.EncodeToString(u[:]) }
