package group

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
)

// ErrNotLeader is what a Log returns when this broker no longer leads the
// partition; the coordinator answers NOT_COORDINATOR.
var ErrNotLeader = errors.New("group: not the leader of the __consumer_offsets partition")

// Log is the coordinator's persistence: the partitions of __consumer_offsets
// this broker leads. The broker implements it.
type Log interface {
	// Append writes recs to partition as one batch without waiting for
	// replication, and returns how to wait until the batch is committed
	// (readable by Replay after a failover); nil when it already is. The
	// coordinator calls it with a shard's lock held, so it must not wait
	// for the high watermark itself.
	Append(ctx context.Context, partition int32, recs []records.Record) (Committed, error)
	// Replay calls fn for every record of partition from the log start to
	// the log end, in offset order, and returns once all of it is
	// committed. value is nil for a tombstone.
	Replay(ctx context.Context, partition int32, fn func(key, value []byte) error) error
}

// Config holds the broker settings the coordinator follows.
type Config struct {
	NumPartitions          int32         // offsets.topic.num.partitions
	InitialRebalanceDelay  time.Duration // group.initial.rebalance.delay.ms
	MinSessionTimeout      time.Duration // group.min.session.timeout.ms
	MaxSessionTimeout      time.Duration // group.max.session.timeout.ms
	MaxSize                int           // group.max.size
	OffsetMetadataMaxBytes int           // offset.metadata.max.bytes
	OffsetsRetention       time.Duration // offsets.retention.minutes
	RetentionCheckInterval time.Duration // offsets.retention.check.interval.ms
	// WriteTimeout is offsets.commit.timeout.ms: how long a write waits to
	// be committed (writes.go); zero means Kafka's default, 5 s.
	WriteTimeout time.Duration
	// NewMemberJoinTimeout bounds how long a new member's JoinGroup may stay
	// parked (Kafka's fixed 5 minutes when zero).
	NewMemberJoinTimeout time.Duration

	// KIP-848 consumer groups.
	ConsumerSessionTimeout    time.Duration // group.consumer.session.timeout.ms
	ConsumerHeartbeatInterval time.Duration // group.consumer.heartbeat.interval.ms
	ConsumerMaxSize           int           // group.consumer.max.size
	ConsumerAssignors         []string      // group.consumer.assignors; the first is the default
	// KIP-1071 streams groups (streams.go).
	StreamsSessionTimeout     time.Duration // group.streams.session.timeout.ms
	StreamsHeartbeatInterval  time.Duration // group.streams.heartbeat.interval.ms
	StreamsMaxSize            int           // group.streams.max.size
	StreamsNumStandbyReplicas int           // group.streams.num.standby.replicas
	StreamsInitialDelay       time.Duration // group.streams.initial.rebalance.delay.ms
	// CreateStreamsTopics creates the internal topics a streams group's
	// topology misses. Called on its own goroutine, without locks.
	CreateStreamsTopics func(ctx context.Context, group string, topics []StreamsInternalTopic)
	// Share groups (KIP-932, share.go).
	ShareSessionTimeout    time.Duration // group.share.session.timeout.ms
	ShareHeartbeatInterval time.Duration // group.share.heartbeat.interval.ms
	ShareMaxSize           int           // group.share.max.size
	// ShareMemberRemoved is called, with a shard's mu held, when a member
	// leaves a share group or its session expires, so the share partitions
	// release what it holds. It must not call the coordinator.
	ShareMemberRemoved func(group, member string)
	// ShareGroupDeleted is called, with a shard's mu held, when DeleteGroups
	// deleted a share group, so its share-partition state is deleted too.
	ShareGroupDeleted func(group string)
	// GroupConfig returns a group's dynamic configs (GROUP resources:
	// share.session.timeout.ms, share.heartbeat.interval.ms override the
	// broker's); nil means none. Called with a shard's mu held.
	GroupConfig func(group string) map[string]string
	// Topics lists the cluster's topics for subscriptions and assignment.
	// Called with a shard's mu held; it must not call the coordinator.
	Topics func() []TopicMetadata
}

// Coordinator is the group coordinator of one broker: it serves the groups
// whose __consumer_offsets partition this broker leads.
type Coordinator struct {
	cfg    Config
	log    Log
	logger *zap.Logger
	now    func() time.Time

	// mu guards shards. Lock order: Coordinator.mu before shard.mu; never
	// call the Log while holding mu.
	mu     sync.Mutex
	shards map[int32]*shard
	closed bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// shard is the state of one __consumer_offsets partition: its groups and
// their offsets. Everything in it, including every group and member, is
// guarded by mu; timers and handlers take mu before touching state.
type shard struct {
	c         *Coordinator
	partition int32
	epoch     int32
	ctx       context.Context // cancelled by unload: ends the loader and pending writes' waits
	cancel    context.CancelFunc

	mu       sync.Mutex
	loading  bool  // replay in progress: requests get COORDINATOR_LOAD_IN_PROGRESS
	loadErr  error // replay failed: requests get COORDINATOR_NOT_AVAILABLE
	unloaded bool  // leadership lost: requests get NOT_COORDINATOR, timers do nothing
	groups   map[string]*group
	txn      txnOffsets // pending transactional offsets: txn_offsets.go
	// pending is each group's latest write not known to be committed
	// (writes.go); answers about a group wait for it outside mu.
	pending map[string]*pendingWrite
}

// New returns a coordinator that serves nothing until Load is called.
func New(cfg Config, l Log, logger *zap.Logger) *Coordinator {
	if cfg.NewMemberJoinTimeout <= 0 {
		cfg.NewMemberJoinTimeout = 5 * time.Minute
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = defaultWriteTimeout
	}
	if cfg.NumPartitions <= 0 {
		cfg.NumPartitions = 50
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = int(^uint(0) >> 1)
	}
	if cfg.ConsumerMaxSize <= 0 {
		cfg.ConsumerMaxSize = int(^uint(0) >> 1)
	}
	if cfg.ConsumerSessionTimeout <= 0 {
		cfg.ConsumerSessionTimeout = 45 * time.Second
	}
	if cfg.StreamsSessionTimeout <= 0 {
		cfg.StreamsSessionTimeout = 45 * time.Second
	}
	if cfg.StreamsHeartbeatInterval <= 0 {
		cfg.StreamsHeartbeatInterval = 5 * time.Second
	}
	if cfg.StreamsMaxSize <= 0 {
		cfg.StreamsMaxSize = int(^uint(0) >> 1)
	}
	if cfg.ShareMaxSize <= 0 {
		cfg.ShareMaxSize = 200
	}
	if cfg.ShareSessionTimeout <= 0 {
		cfg.ShareSessionTimeout = 45 * time.Second
	}
	if cfg.ShareHeartbeatInterval <= 0 {
		cfg.ShareHeartbeatInterval = 5 * time.Second
	}
	if cfg.ConsumerHeartbeatInterval <= 0 {
		cfg.ConsumerHeartbeatInterval = 5 * time.Second
	}
	var assignors []string
	for _, a := range cfg.ConsumerAssignors {
		if assignorByName(a) != nil {
			assignors = append(assignors, a)
		}
	}
	if len(assignors) == 0 {
		assignors = []string{"uniform", "range"}
	}
	cfg.ConsumerAssignors = assignors
	c := &Coordinator{cfg: cfg, log: l, logger: logger, now: time.Now, shards: map[int32]*shard{}}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if cfg.RetentionCheckInterval > 0 {
		c.wg.Add(1)
		go c.expireLoop()
	}
	return c
}

// Close unloads every partition and waits for the coordinator's goroutines.
func (c *Coordinator) Close() {
	c.mu.Lock()
	c.closed = true
	shards := c.shards
	c.shards = map[int32]*shard{}
	c.mu.Unlock()
	c.cancel()
	for _, s := range shards {
		s.unload()
	}
	c.wg.Wait()
}

// PartitionFor is the __consumer_offsets partition coordinating group.
func (c *Coordinator) PartitionFor(group string) int32 {
	return PartitionFor(group, c.cfg.NumPartitions)
}

// Load starts loading partition's groups in the background, as this broker
// became its leader at epoch. Safe to call from any goroutine; it doesn't
// block.
func (c *Coordinator) Load(partition, epoch int32) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if old := c.shards[partition]; old != nil {
		if old.epoch == epoch {
			c.mu.Unlock()
			return
		}
		delete(c.shards, partition)
		defer old.unload()
	}
	ctx, cancel := context.WithCancel(c.ctx)
	s := &shard{c: c, partition: partition, epoch: epoch, ctx: ctx, cancel: cancel, loading: true,
		groups: map[string]*group{}, pending: map[string]*pendingWrite{}}
	c.shards[partition] = s
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		s.load(ctx)
	}()
}

// Unload drops partition's state, as this broker stopped leading it. Parked
// JoinGroup and SyncGroup requests get NOT_COORDINATOR.
func (c *Coordinator) Unload(partition int32) {
	c.mu.Lock()
	s := c.shards[partition]
	delete(c.shards, partition)
	c.mu.Unlock()
	if s != nil {
		s.unload()
	}
}

func (s *shard) unload() {
	s.cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unloaded = true
	for _, g := range s.groups {
		g.shutdownLocked(errcode.NotCoordinator)
		g.shutdownConsumerLocked()
		g.shutdownStreamsLocked()
		g.shutdownShareLocked()
	}
	s.groups = map[string]*group{}
}

// load replays the partition and makes its groups available.
func (s *shard) load(ctx context.Context) {
	began := time.Now()
	groups := map[string]*group{}
	pending := &txnOffsets{}
	err := s.replay(ctx, groups, pending)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unloaded {
		return
	}
	s.loading = false
	log := s.c.logger.With(zap.Int32("partition", s.partition), zap.Int32("epoch", s.epoch))
	if err != nil {
		s.loadErr = err
		log.Error("cannot load group coordinator partition", zap.Error(err))
		return
	}
	s.groups = groups
	s.installTxnOffsetsLocked(pending)
	for _, g := range groups {
		g.shard = s
		if g.consumer != nil {
			s.onLoadedConsumerLocked(g)
		} else if g.streams != nil {
			s.onLoadedStreamsLocked(g)
		} else if g.share != nil {
			s.onLoadedShareLocked(g)
		} else {
			g.onLoadedLocked()
		}
	}
	log.Info("group coordinator partition loaded", zap.Int("groups", len(groups)), zap.Duration("took", time.Since(began)))
}

// replayRecord applies one __consumer_offsets record to groups.
func replayRecord(groups map[string]*group, key, value []byte) error {
	if len(key) >= 2 && isStreamsKeyVersion(int16(key[0])<<8|int16(key[1])) {
		return replayStreamsRecord(groups, key, value) // streams_records.go
	}
	if len(key) >= 2 && isConsumerKeyVersion(int16(key[0])<<8|int16(key[1])) {
		return replayConsumerRecord(groups, key, value)
	}
	if len(key) >= 2 && isShareKeyVersion(int16(key[0])<<8|int16(key[1])) {
		return replayShareRecord(groups, key, value)
	}
	kind, k, err := decodeKey(key)
	if err != nil {
		return err
	}
	switch kind {
	case kindOffset:
		g := groups[k.Group]
		if value == nil {
			if g != nil {
				delete(g.offsets, topicPartition{k.Topic, k.Partition})
			}
			return nil
		}
		v, err := DecodeOffsetValue(value)
		if err != nil {
			return err
		}
		if g == nil {
			g = newGroup(nil, k.Group, 0) // a simple group: offsets only
			groups[k.Group] = g
		}
		g.offsets[topicPartition{k.Topic, k.Partition}] = v
	case kindGroup:
		if value == nil {
			if g := groups[k.Group]; g != nil {
				if len(g.offsets) == 0 {
					delete(groups, k.Group)
				} else {
					g.resetMetadata()
				}
			}
			return nil
		}
		v, err := DecodeGroupValue(value)
		if err != nil {
			return err
		}
		g := groups[k.Group]
		if g == nil {
			g = newGroup(nil, k.Group, 0)
			groups[k.Group] = g
		}
		g.applyValue(v)
	}
	return nil
}

// shardFor returns the loaded shard coordinating group, or the error code to
// answer with.
func (c *Coordinator) shardFor(group string) (*shard, int16) {
	p := c.PartitionFor(group)
	c.mu.Lock()
	s := c.shards[p]
	c.mu.Unlock()
	if s == nil {
		return nil, errcode.NotCoordinator
	}
	return s, 0
}

// lockedShard returns group's shard locked, or an error code (shard not
// locked then).
func (c *Coordinator) lockedShard(group string) (*shard, int16) {
	s, code := c.shardFor(group)
	if code != 0 {
		return nil, code
	}
	s.mu.Lock()
	if code := s.availableLocked(); code != 0 {
		s.mu.Unlock()
		return nil, code
	}
	return s, 0
}

func (s *shard) availableLocked() int16 {
	switch {
	case s.unloaded:
		return errcode.NotCoordinator
	case s.loading:
		return errcode.CoordinatorLoadInProgress
	case s.loadErr != nil:
		return errcode.CoordinatorNotAvailable
	}
	return 0
}

// appendLocked writes records to the shard's partition; the caller applies
// them to the state before releasing s.mu, so the log's order is the order
// state changed. It does not wait for replication: the write becomes its
// groups' pending write (writes.go), which their answers wait for outside
// the lock. A non-zero code means nothing was written.
func (s *shard) appendLocked(recs []records.Record) int16 {
	now := s.c.now().UnixMilli()
	keys := make([][]byte, len(recs))
	for i := range recs {
		recs[i].Timestamp = now
		keys[i] = recs[i].Key
	}
	commit, err := s.c.log.Append(s.ctx, s.partition, recs)
	if err != nil {
		s.c.logger.Warn("cannot write to __consumer_offsets", zap.Int32("partition", s.partition), zap.Error(err))
		return writeErrorCode(err)
	}
	s.trackLocked(keys, commit)
	return 0
}

// expireLoop removes expired offsets and empty groups every
// RetentionCheckInterval, as Kafka's cleanupGroupMetadata does.
func (c *Coordinator) expireLoop() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.RetentionCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
			c.ExpireOffsets()
		}
	}
}

// ExpireOffsets runs one offset expiration pass over the loaded partitions.
func (c *Coordinator) ExpireOffsets() {
	c.mu.Lock()
	shards := make([]*shard, 0, len(c.shards))
	for _, s := range c.shards {
		shards = append(shards, s)
	}
	c.mu.Unlock()
	for _, s := range shards {
		s.mu.Lock()
		if s.availableLocked() == 0 {
			s.expireLocked()
		}
		s.mu.Unlock()
	}
}

func (s *shard) expireLocked() {
	now := s.c.now().UnixMilli()
	retention := s.c.cfg.OffsetsRetention.Milliseconds()
	ids := make([]string, 0, len(s.groups))
	for id := range s.groups {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		g := s.groups[id]
		if g.share != nil {
			continue // share groups have no committed offsets to expire
		}
		base, ok := g.expirationBase()
		if !ok {
			continue
		}
		var recs []records.Record
		var expired []topicPartition
		for tp, o := range g.offsets {
			if !g.isEmpty() && g.isSubscribedTo(tp.topic) {
				continue
			}
			deadline := base(o) + retention
			if o.ExpireTimestamp >= 0 {
				deadline = o.ExpireTimestamp
			}
			if deadline <= now {
				expired = append(expired, tp)
				recs = append(recs, records.Record{Key: EncodeOffsetKey(OffsetKey{id, tp.topic, tp.partition})})
			}
		}
		deleteGroup := g.isEmpty() && len(expired) == len(g.offsets)
		if deleteGroup {
			if g.consumer != nil {
				recs = append(recs, g.consumerTombstonesLocked()...)
			} else if g.streams != nil {
				recs = append(recs, g.streamsTombstones()...)
			} else {
				recs = append(recs, records.Record{Key: EncodeGroupKey(id)})
			}
		}
		if len(recs) == 0 {
			continue
		}
		if code := s.appendLocked(recs); code != 0 {
			return
		}
		for _, tp := range expired {
			delete(g.offsets, tp)
		}
		if deleteGroup {
			g.state = stateDead
			delete(s.groups, id)
		}
		s.c.logger.Info("expired group offsets", zap.String("group", id), zap.Int("offsets", len(expired)), zap.Bool("group_deleted", deleteGroup))
	}
}

func (c *Coordinator) String() string {
	return fmt.Sprintf("group.Coordinator(%d partitions)", c.cfg.NumPartitions)
}
