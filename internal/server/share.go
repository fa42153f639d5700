package server

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/coordinator/share"
	"github.com/spool-broker/spool/internal/kafkarpc"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
	"github.com/spool-broker/spool/replication"
	"github.com/spool-broker/spool/storage"
)

// Share groups (KIP-932) on the broker side: the share partitions this
// broker keeps as leader of the consumed partitions (Kafka's
// SharePartitionManager), the share sessions of ShareFetch and
// ShareAcknowledge, and the share coordinator (coordinator/share.Store)
// over the __share_group_state partitions this broker leads. Membership
// and assignment are the group coordinator's (coordinator/group/share.go).

const (
	shareGroupStateTopic = "__share_group_state"
	// shareVersionFeature gates share groups, as in Kafka 4.2+.
	shareVersionFeature = "share.version"
)

// shareHandlers serve keys 76-79, 83-87 and 90-92.
type shareHandlers struct {
	b     *Broker
	gh    *groupHandlers
	store *share.Store
	rpc   *kafkarpc.Client
	// partCfg is the share partitions' configuration; its Now is the
	// clock of acquisition locks (tests replace it).
	partCfg share.Config

	mu         sync.Mutex // guards partitions and sessions; never held across I/O
	partitions map[share.Key]*share.Partition
	sessions   map[shareSessionKey]*shareSession
	// persistMu serializes the state writes of one share partition so
	// snapshots reach the store in order.
	persistMu sync.Map // share.Key → *sync.Mutex
}

type shareSessionKey struct{ group, member string }

// shareTP is a topic partition of a share session.
type shareTP struct {
	topicID   protocol.UUID
	partition int32
}

// shareSession is Kafka's ShareSession: the partitions a member fetches and
// the epoch its next request must carry.
type shareSession struct {
	key   shareSessionKey
	mu    sync.Mutex // held for a whole request, so epochs don't interleave
	epoch int32
	parts map[shareTP]bool
	order []shareTP
	dead  bool
}

func (s *shareSession) add(tp shareTP) {
	if !s.parts[tp] {
		s.parts[tp] = true
		s.order = append(s.order, tp)
	}
}

func (s *shareSession) forget(tp shareTP) {
	if !s.parts[tp] {
		return
	}
	delete(s.parts, tp)
	for i, o := range s.order {
		if o == tp {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
}

// registerShareHandlers starts the share coordinator and registers the
// share-group APIs. gh must be registered first.
func (b *Broker) registerShareHandlers(h map[int16]apiHandler) {
	cfg := b.cfg
	sh := &shareHandlers{
		b: b, gh: b.groupHandlers,
		partCfg: share.Config{
			LockDuration:       time.Duration(cfg.GroupShareRecordLockDurationMs) * time.Millisecond,
			DeliveryCountLimit: int16(cfg.GroupShareDeliveryCountLimit),
			MaxInFlight:        int64(cfg.GroupSharePartitionMaxRecordLocks),
			Now:                time.Now,
		},
		partitions: map[share.Key]*share.Partition{},
		sessions:   map[shareSessionKey]*shareSession{},
		rpc:        kafkarpc.NewDialing("broker-"+strconv.Itoa(int(b.nodeID))+"-share", b.dialInterBroker),
	}
	sh.store = share.NewStore(share.StoreConfig{
		Partitions:         cfg.ShareCoordinatorStateTopicPartitions,
		UpdatesPerSnapshot: int(cfg.ShareCoordinatorUpdatesPerSnapshot),
		// Kafka's share.coordinator.cold.partition.snapshot.interval.ms and
		// share.coordinator.state.topic.prune.interval.ms are internal
		// configs (DescribeConfigs does not list them): their defaults.
		ColdSnapshotInterval: 5 * time.Minute,
		Compacted: func() bool {
			return strings.Contains(b.image.Load().Config(resourceTopic, shareGroupStateTopic)["cleanup.policy"], "compact")
		},
	}, shareStateLog{b}, b.logger.Named("share"))
	sh.store.Run(5 * time.Minute)
	b.shareHandlers = sh
	b.attachCoordinator(shareGroupStateTopic, sh.store)
	// A share partition lives on the partition's leader: when leadership
	// moves away its in-memory state goes (the persisted state stays, and
	// is read again when leadership comes back).
	b.OnLeadership(func(topic string, partition int32, leader bool, epoch int32) {
		if !leader {
			sh.dropPartition(topic, partition)
		}
	})
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		<-b.ctx.Done()
		sh.rpc.Close()
	}()

	register(h, protocol.KeyShareGroupHeartbeat, 1, 1, b.groupHandlers.handleShareGroupHeartbeat)
	register(h, protocol.KeyShareGroupDescribe, 1, 1, b.groupHandlers.handleShareGroupDescribe)
	register(h, protocol.KeyShareFetch, 1, 2, sh.handleShareFetch)
	register(h, protocol.KeyShareAcknowledge, 1, 2, sh.handleShareAcknowledge)
	register(h, protocol.KeyInitializeShareGroupState, 0, 0, sh.handleInitializeShareGroupState)
	register(h, protocol.KeyReadShareGroupState, 0, 0, sh.handleReadShareGroupState)
	register(h, protocol.KeyWriteShareGroupState, 0, 1, sh.handleWriteShareGroupState)
	register(h, protocol.KeyDeleteShareGroupState, 0, 0, sh.handleDeleteShareGroupState)
	register(h, protocol.KeyReadShareGroupStateSummary, 0, 1, sh.handleReadShareGroupStateSummary)
	register(h, protocol.KeyDescribeShareGroupOffsets, 0, 1, sh.handleDescribeShareGroupOffsets)
	register(h, protocol.KeyAlterShareGroupOffsets, 0, 0, sh.handleAlterShareGroupOffsets)
	register(h, protocol.KeyDeleteShareGroupOffsets, 0, 0, sh.handleDeleteShareGroupOffsets)
}

// shareEnabled reports whether share.version is finalized at 1 or more.
func (b *Broker) shareEnabled() bool {
	return b.image.Load().Feature(shareVersionFeature) >= 1
}

// memberRemoved is the group coordinator's hook (called under its shard
// lock): the member's session goes and its records are released, off the
// caller's goroutine.
func (sh *shareHandlers) memberRemoved(groupID, member string) {
	sh.mu.Lock()
	if s := sh.sessions[shareSessionKey{groupID, member}]; s != nil {
		s.dead = true
		delete(sh.sessions, shareSessionKey{groupID, member})
	}
	var parts []share.Key
	for k := range sh.partitions {
		if k.GroupID == groupID {
			parts = append(parts, k)
		}
	}
	sh.mu.Unlock()
	sh.b.wg.Add(1)
	go func() {
		defer sh.b.wg.Done()
		for _, k := range parts {
			if sp := sh.get(k); sp != nil {
				sp.ReleaseMember(member)
				sh.persist(sh.b.ctx, k, sp)
			}
		}
	}()
}

// dropPartition forgets every share partition of topic's partition.
func (sh *shareHandlers) dropPartition(topic string, partition int32) {
	t := sh.b.image.Load().Topic(topic)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for k := range sh.partitions {
		if k.Partition == partition && (t == nil || k.TopicID == [16]byte(t.ID)) {
			delete(sh.partitions, k)
		}
	}
}

// groupDeleted is the group coordinator's hook when DeleteGroups removed a
// share group: its share partitions and their state go too.
func (sh *shareHandlers) groupDeleted(groupID string) {
	sh.mu.Lock()
	var keys []share.Key
	for k := range sh.partitions {
		if k.GroupID == groupID {
			keys = append(keys, k)
			delete(sh.partitions, k)
		}
	}
	sh.mu.Unlock()
	sh.b.wg.Add(1)
	go func() {
		defer sh.b.wg.Done()
		seen := map[share.Key]bool{}
		for _, k := range append(keys, sh.store.Keys(groupID)...) {
			if !seen[k] {
				seen[k] = true
				sh.deleteState(sh.b.ctx, k)
			}
		}
	}()
}

// config is the share partitions' configuration.
func (sh *shareHandlers) config() share.Config {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.partCfg
}

// groupConfig is the share partitions' configuration for groupID: the
// group's share.record.lock.duration.ms and share.delivery.count.limit
// when set (GROUP configs), else the broker's.
func (sh *shareHandlers) groupConfig(groupID string) share.Config {
	cfg := sh.config()
	gc := sh.b.image.Load().Config(resourceGroup, groupID)
	if v, err := strconv.ParseInt(gc["share.record.lock.duration.ms"], 10, 32); err == nil && v > 0 {
		cfg.LockDuration = time.Duration(v) * time.Millisecond
	}
	if v, err := strconv.ParseInt(gc["share.delivery.count.limit"], 10, 16); err == nil && v > 0 {
		cfg.DeliveryCountLimit = int16(v)
	}
	return cfg
}

// setClock replaces the clock of acquisition locks for the share
// partitions created from now on (tests).
func (sh *shareHandlers) setClock(now func() time.Time) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.partCfg.Now = now
}

func (sh *shareHandlers) get(k share.Key) *share.Partition {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.partitions[k]
}

// sharePartition returns the share partition of k on p (which this broker
// leads), initializing it from the persisted state, or from
// share.auto.offset.reset (latest) when there is none; the initial start
// offset is written at once, as Kafka's InitializeShareGroupState.
//
// With recheck (a member opening a share session) a cached share partition
// is compared with the persisted state first: AlterShareGroupOffsets or
// DeleteShareGroupOffsets handled by the group coordinator on another
// broker rewrote it (a newer state epoch, or no state), so the cached one
// is replaced.
func (sh *shareHandlers) sharePartition(ctx context.Context, k share.Key, p *replication.Partition, recheck bool) (*share.Partition, int16) {
	cached := sh.get(k)
	if cached != nil && !recheck {
		return cached, 0
	}
	st, found, code := sh.readState(ctx, k)
	if code != 0 {
		return nil, code
	}
	if cached != nil {
		if found && st.StartOffset >= 0 && st.StateEpoch <= cached.StateEpoch() {
			return cached, 0
		}
		sh.mu.Lock()
		if sh.partitions[k] == cached {
			delete(sh.partitions, k)
		}
		sh.mu.Unlock()
	}
	l := p.Log()
	if !found || st.StartOffset < 0 {
		st = share.State{StartOffset: l.HighWatermark()}
		switch reset := sh.b.shareAutoOffsetReset(k.GroupID); {
		case reset == "earliest":
			st.StartOffset = l.LogStartOffset()
		case strings.HasPrefix(reset, "by_duration:"):
			// The first record no older than the duration; none: latest.
			if d, ok := parseISODuration(strings.TrimPrefix(reset, "by_duration:")); ok {
				if to, found, err := l.OffsetForTimestamp(time.Now().Add(-d).UnixMilli()); err == nil && found {
					st.StartOffset = min(to.Offset, st.StartOffset)
				}
			}
		}
		if code := sh.writeState(ctx, k, st); code != 0 {
			return nil, code
		}
	}
	sp := share.NewPartition(sh.groupConfig(k.GroupID), st, l.LogStartOffset())
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if cur := sh.partitions[k]; cur != nil {
		return cur, 0
	}
	sh.partitions[k] = sp
	return sp, 0
}

// shareAutoOffsetReset is the group's share.auto.offset.reset: its GROUP
// config when set, else latest.
func (b *Broker) shareAutoOffsetReset(groupID string) string {
	img := b.image.Load()
	if v, ok := img.Config(resourceGroup, groupID)["share.auto.offset.reset"]; ok {
		return v
	}
	return "latest"
}

// isoDuration is java.time.Duration's text form: PnDTnHnMn.nS.
var isoDuration = regexp.MustCompile(`^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$`)

// parseISODuration parses share.auto.offset.reset's by_duration value.
func parseISODuration(s string) (time.Duration, bool) {
	m := isoDuration.FindStringSubmatch(strings.ToUpper(s))
	if m == nil || s == "P" || strings.HasSuffix(strings.ToUpper(s), "T") {
		return 0, false
	}
	var d time.Duration
	for i, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Minute} {
		if m[i+1] != "" {
			n, err := strconv.ParseInt(m[i+1], 10, 64)
			if err != nil {
				return 0, false
			}
			d += time.Duration(n) * unit
		}
	}
	if m[4] != "" {
		f, err := strconv.ParseFloat(m[4], 64)
		if err != nil {
			return 0, false
		}
		d += time.Duration(f * float64(time.Second))
	}
	return d, true
}

// persist writes sp's state when it changed since the last write.
func (sh *shareHandlers) persist(ctx context.Context, k share.Key, sp *share.Partition) int16 {
	m, _ := sh.persistMu.LoadOrStore(k, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	defer mu.Unlock()
	if !sp.Dirty() {
		return 0
	}
	st, n := sp.Snapshot()
	if code := sh.writeState(ctx, k, st); code != 0 {
		if code == errcode.FencedStateEpoch {
			// AlterShareGroupOffsets rewrote the state: start again from it.
			sh.mu.Lock()
			if sh.partitions[k] == sp {
				delete(sh.partitions, k)
			}
			sh.mu.Unlock()
		}
		sh.b.logger.Warn("cannot persist share-partition state", zap.String("group", k.GroupID),
			zap.Int32("partition", k.Partition), zap.String("error", errcode.Name(code)))
		return code
	}
	sp.MarkWritten(n)
	return 0
}

// --- persister: the share coordinator here or on the broker leading the
// key's __share_group_state partition (ReadShareGroupState and
// WriteShareGroupState, as Kafka's DefaultStatePersister) ---

// stateCoordinator returns the leader of k's __share_group_state partition,
// creating the topic on first use.
func (sh *shareHandlers) stateCoordinator(ctx context.Context, k share.Key) (int32, int16) {
	img := sh.b.ensureShareStateTopic(ctx)
	t := img.Topic(shareGroupStateTopic)
	if t == nil {
		return -1, errcode.CoordinatorNotAvailable
	}
	p := sh.store.PartitionFor(k)
	if int(p) >= len(t.Partitions) || t.Partitions[p].Leader < 0 {
		return -1, errcode.CoordinatorNotAvailable
	}
	return t.Partitions[p].Leader, 0
}

func (sh *shareHandlers) readState(ctx context.Context, k share.Key) (share.State, bool, int16) {
	for attempt := 0; ; attempt++ {
		st, found, code := sh.readStateOnce(ctx, k)
		if !retriableCoordinatorCode(code) || attempt >= 50 || ctx.Err() != nil {
			return st, found, code
		}
		sleepCtx(ctx, 100*time.Millisecond)
	}
}

func (sh *shareHandlers) readStateOnce(ctx context.Context, k share.Key) (share.State, bool, int16) {
	leader, code := sh.stateCoordinator(ctx, k)
	if code != 0 {
		return share.State{}, false, code
	}
	if leader == sh.b.nodeID {
		return sh.store.Read(k)
	}
	resp, err := sh.call(ctx, leader, &protocol.ReadShareGroupStateRequest{
		GroupID: k.GroupID,
		Topics: []protocol.ReadShareGroupStateRequestReadStateData{{TopicID: protocol.UUID(k.TopicID),
			Partitions: []protocol.ReadShareGroupStateRequestPartitionData{{Partition: k.Partition, LeaderEpoch: -1}}}},
	})
	if err != nil {
		return share.State{}, false, errcode.CoordinatorNotAvailable
	}
	r := resp.(*protocol.ReadShareGroupStateResponse)
	if len(r.Results) != 1 || len(r.Results[0].Partitions) != 1 {
		return share.State{}, false, errcode.UnknownServerError
	}
	pr := r.Results[0].Partitions[0]
	if pr.ErrorCode != 0 {
		return share.State{}, false, pr.ErrorCode
	}
	st := share.State{StateEpoch: pr.StateEpoch, StartOffset: pr.StartOffset}
	for _, b := range pr.StateBatches {
		st.Batches = append(st.Batches, share.StateBatch{FirstOffset: b.FirstOffset, LastOffset: b.LastOffset,
			DeliveryState: share.RecordState(b.DeliveryState), DeliveryCount: b.DeliveryCount})
	}
	return st, pr.StartOffset >= 0, 0
}

func (sh *shareHandlers) writeState(ctx context.Context, k share.Key, st share.State) int16 {
	for attempt := 0; ; attempt++ {
		code := sh.writeStateOnce(ctx, k, st)
		if !retriableCoordinatorCode(code) || attempt >= 50 || ctx.Err() != nil {
			return code
		}
		sleepCtx(ctx, 100*time.Millisecond)
	}
}

func (sh *shareHandlers) writeStateOnce(ctx context.Context, k share.Key, st share.State) int16 {
	leader, code := sh.stateCoordinator(ctx, k)
	if code != 0 {
		return code
	}
	if leader == sh.b.nodeID {
		return sh.store.Write(ctx, k, st)
	}
	pd := protocol.WriteShareGroupStateRequestPartitionData{Partition: k.Partition, StateEpoch: st.StateEpoch, LeaderEpoch: -1, StartOffset: st.StartOffset,
		StateBatches: []protocol.WriteShareGroupStateRequestStateBatch{}}
	for _, b := range st.Batches {
		pd.StateBatches = append(pd.StateBatches, protocol.WriteShareGroupStateRequestStateBatch{FirstOffset: b.FirstOffset, LastOffset: b.LastOffset,
			DeliveryState: int8(b.DeliveryState), DeliveryCount: b.DeliveryCount})
	}
	resp, err := sh.call(ctx, leader, &protocol.WriteShareGroupStateRequest{
		GroupID: k.GroupID,
		Topics:  []protocol.WriteShareGroupStateRequestWriteStateData{{TopicID: protocol.UUID(k.TopicID), Partitions: []protocol.WriteShareGroupStateRequestPartitionData{pd}}},
	})
	if err != nil {
		return errcode.CoordinatorNotAvailable
	}
	r := resp.(*protocol.WriteShareGroupStateResponse)
	if len(r.Results) != 1 || len(r.Results[0].Partitions) != 1 {
		return errcode.UnknownServerError
	}
	return r.Results[0].Partitions[0].ErrorCode
}

func (sh *shareHandlers) deleteState(ctx context.Context, k share.Key) int16 {
	leader, code := sh.stateCoordinator(ctx, k)
	if code != 0 {
		return code
	}
	if leader == sh.b.nodeID {
		return sh.store.Delete(ctx, k)
	}
	resp, err := sh.call(ctx, leader, &protocol.DeleteShareGroupStateRequest{
		GroupID: k.GroupID,
		Topics: []protocol.DeleteShareGroupStateRequestDeleteStateData{{TopicID: protocol.UUID(k.TopicID),
			Partitions: []protocol.DeleteShareGroupStateRequestPartitionData{{Partition: k.Partition}}}},
	})
	if err != nil {
		return errcode.CoordinatorNotAvailable
	}
	r := resp.(*protocol.DeleteShareGroupStateResponse)
	if len(r.Results) != 1 || len(r.Results[0].Partitions) != 1 {
		return errcode.UnknownServerError
	}
	return r.Results[0].Partitions[0].ErrorCode
}

func (sh *shareHandlers) call(ctx context.Context, node int32, req protocol.Request) (protocol.Response, error) {
	addr, err := sh.b.interBrokerAddr(node)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return sh.rpc.Call(rctx, addr, req)
}

func retriableCoordinatorCode(code int16) bool {
	return code == errcode.CoordinatorLoadInProgress || code == errcode.CoordinatorNotAvailable || code == errcode.NotCoordinator
}

// ensureShareStateTopic creates __share_group_state on first use, with
// Kafka's configs for it (ShareCoordinatorService.shareGroupStateTopicConfigs):
// not compacted, since ShareUpdate records share their key; the share
// coordinator prunes it with DeleteRecords instead (share.Store.Prune).
func (b *Broker) ensureShareStateTopic(ctx context.Context) *controller.MetadataImage {
	return b.ensureInternalTopic(ctx, shareGroupStateTopic, b.cfg.ShareCoordinatorStateTopicPartitions, b.cfg.ShareCoordinatorStateTopicRF,
		map[string]string{
			"cleanup.policy":      "delete",
			"retention.ms":        "-1",
			"compression.type":    "producer",
			"segment.bytes":       strconv.Itoa(int(b.cfg.ShareCoordinatorStateTopicSegmentSize)),
			"min.insync.replicas": strconv.Itoa(int(b.cfg.ShareCoordinatorStateTopicMinISR)),
		})
}

// shareStateLog is share.Log over the hosted __share_group_state
// partitions, through the same committed-append path as the group
// coordinator's log.
type shareStateLog struct{ b *Broker }

func (l shareStateLog) leader(partition int32) (*replication.Partition, error) {
	p := l.b.partition(shareGroupStateTopic, partition)
	if p == nil || !p.IsLeader() {
		return nil, fmt.Errorf("%s-%d: %w", shareGroupStateTopic, partition, share.ErrNotLeader)
	}
	return p, nil
}

func (l shareStateLog) Append(ctx context.Context, partition int32, recs []records.Record) (int64, error) {
	p, err := l.leader(partition)
	if err != nil {
		return -1, err
	}
	batch, err := records.AppendBatch(nil, records.NewBatchOptions(), recs)
	if err != nil {
		return -1, fmt.Errorf("build %s batch: %w", shareGroupStateTopic, err)
	}
	info, err := appendCommitted(ctx, p, batch, nil)
	if err != nil {
		if errors.Is(err, replication.ErrNotLeader) {
			return -1, fmt.Errorf("append to %s-%d: %w: %w", shareGroupStateTopic, partition, share.ErrNotLeader, err)
		}
		return -1, fmt.Errorf("append to %s-%d: %w", shareGroupStateTopic, partition, err)
	}
	return info.FirstOffset, nil
}

func (l shareStateLog) Replay(ctx context.Context, partition int32, fn func(offset int64, key, value []byte) error) error {
	p, err := l.leader(partition)
	if err != nil {
		return err
	}
	err = scanLog(ctx, p, func(h records.Header, batch []byte) error {
		if h.IsControl() {
			return nil
		}
		return records.ForEachRecord(batch, maxDecompressedBatch, func(r *records.Record) error {
			return fn(r.Offset, r.Key, r.Value)
		})
	})
	if err != nil {
		return fmt.Errorf("replay %s-%d: %w", shareGroupStateTopic, partition, err)
	}
	return nil
}

// DeleteRecords moves the partition's log start offset up to offset, as
// Kafka's share coordinator prunes through its PartitionWriter.
func (l shareStateLog) DeleteRecords(ctx context.Context, partition int32, offset int64) error {
	p, err := l.leader(partition)
	if err != nil {
		return err
	}
	if _, err := p.DeleteRecords(offset); err != nil {
		return fmt.Errorf("prune %s-%d before %d: %w", shareGroupStateTopic, partition, offset, err)
	}
	return nil
}

// --- reading and acquiring ---

// shareRead is one partition's part of a ShareFetch.
type shareRead struct {
	tp       shareTP
	topic    string
	key      share.Key
	p        *replication.Partition
	sp       *share.Partition
	code     int16
	ackCode  int16
	acked    bool
	leader   int32
	epoch    int32
	records  []byte
	acquired []share.AcquiredRange
}

// resolve finds the partition and its share partition, or the error code.
func (sh *shareHandlers) resolve(ctx context.Context, img *controller.MetadataImage, groupID string, r *shareRead, recheck bool) {
	t := img.TopicByID(topicIDOf(r.tp.topicID))
	if t == nil {
		r.code = errcode.UnknownTopicID
		return
	}
	r.topic = t.Name
	r.key = share.Key{GroupID: groupID, TopicID: [16]byte(r.tp.topicID), Partition: r.tp.partition}
	r.p = sh.b.partition(t.Name, r.tp.partition)
	if r.p == nil {
		r.code = sh.b.missingPartitionCode(t.Name, r.tp.partition)
		if r.code == 0 {
			r.code = errcode.NotLeaderOrFollower
		}
		return
	}
	r.leader, r.epoch = r.p.Leader()
	if !r.p.IsLeader() {
		r.code = errcode.NotLeaderOrFollower
		return
	}
	r.sp, r.code = sh.sharePartition(ctx, r.key, r.p, recheck)
	if r.code != 0 {
		r.sp = nil
		if retriableCoordinatorCode(r.code) {
			// The state is not reachable yet: the client retries.
			r.code = errcode.UnknownServerError
		}
	}
}

// acquire reads the log at r's next fetch offset and acquires what it
// can for member, up to maxRecords records and maxBytes bytes.
func (sh *shareHandlers) acquire(r *shareRead, member string, maxRecords, maxBytes int, batchAligned, readCommitted bool) {
	if r.sp == nil || r.code != 0 || maxRecords <= 0 {
		return
	}
	l := r.p.Log()
	off, ok := r.sp.NextFetchOffset(l.LogStartOffset())
	if !ok {
		return
	}
	isolation := replication.ReadUncommitted
	if readCommitted {
		isolation = replication.ReadCommitted
	}
	info, err := r.p.Read(replication.ReadOptions{
		FetchOffset: off, MaxBytes: maxBytes, MinOneBatch: true, Isolation: isolation,
		ReplicaID: -1, BrokerEpoch: -1, LogStartOffset: -1, CurrentLeaderEpoch: -1, LastFetchedEpoch: -1,
	})
	if err != nil {
		if errors.Is(err, storage.ErrOffsetOutOfRange) {
			return
		}
		r.code = replicationErrorCode(err)
		if r.code != errcode.NotLeaderOrFollower {
			r.code = errcode.KafkaStorageError
		}
		return
	}
	if info.Size == 0 {
		return
	}
	if !info.Pin() {
		return // a segment closed under the read: the next fetch reads again
	}
	data, err := info.ReadInto(nil)
	info.Unpin()
	if err != nil {
		r.code = errcode.KafkaStorageError
		return
	}
	type span struct{ start, end int }
	var batches []share.Batch
	var spans []span
	// Under read_committed the batches of aborted transactions (between a
	// transaction's first offset and its ABORT marker) are never acquired,
	// like control batches: the start offset moves past them.
	for pos := 0; pos+records.LogOverhead <= len(data); {
		h, err := records.ParseHeader(data[pos:])
		if err != nil || pos+h.Size() > len(data) {
			break
		}
		skip := h.IsControl()
		if readCommitted && h.IsTransactional() {
			for _, a := range info.Aborted {
				skip = skip || (a.ProducerID == h.ProducerID && a.FirstOffset <= h.BaseOffset && h.BaseOffset <= a.LastOffset)
			}
		}
		batches = append(batches, share.Batch{BaseOffset: h.BaseOffset, LastOffset: h.LastOffset(), Control: skip})
		spans = append(spans, span{pos, pos + h.Size()})
		pos += h.Size()
	}
	r.acquired = r.sp.Acquire(member, batches, maxRecords, batchAligned)
	if len(r.acquired) == 0 {
		return
	}
	// The response carries every batch holding an acquired record.
	first, last := r.acquired[0].FirstOffset, r.acquired[len(r.acquired)-1].LastOffset
	for i, b := range batches {
		if b.LastOffset < first || b.BaseOffset > last || b.Control {
			continue
		}
		if !holdsAcquired(b, r.acquired) {
			continue
		}
		r.records = append(r.records, data[spans[i].start:spans[i].end]...)
	}
}

func holdsAcquired(b share.Batch, ranges []share.AcquiredRange) bool {
	for _, a := range ranges {
		if a.LastOffset >= b.BaseOffset && a.FirstOffset <= b.LastOffset {
			return true
		}
	}
	return false
}

func acquiredCount(ranges []share.AcquiredRange) int {
	n := 0
	for _, a := range ranges {
		n += int(a.LastOffset - a.FirstOffset + 1)
	}
	return n
}

// ackBatch is one acknowledgement batch of either request.
type ackBatch struct {
	first, last int64
	types       []int8
}

// acknowledge applies batches of member to r's share partition and
// persists the result; the code is the partition's acknowledge error.
func (sh *shareHandlers) acknowledge(ctx context.Context, r *shareRead, member string, batches []ackBatch, renewAllowed bool) int16 {
	if r.code != 0 {
		return r.code
	}
	if r.sp == nil {
		return errcode.UnknownServerError
	}
	code := int16(0)
	for _, b := range batches {
		for _, t := range b.types {
			if share.AckType(t) == share.AckRenew && !renewAllowed {
				return errcode.InvalidRequest
			}
		}
		if c := r.sp.Acknowledge(member, b.first, b.last, b.types); c != 0 && code == 0 {
			code = c
		}
	}
	if c := sh.persist(ctx, r.key, r.sp); c != 0 && code == 0 {
		code = errcode.UnknownServerError
	}
	return code
}

// session validates a request's session epoch and returns the session
// (locked) to use; final is true for epoch -1 (the session is removed).
// An initial request (epoch 0) replaces any session of the member,
// releasing what it held.
func (sh *shareHandlers) session(groupID, member string, epoch int32, allowInitial bool) (*shareSession, int16) {
	key := shareSessionKey{groupID, member}
	if epoch == 0 {
		if !allowInitial {
			return nil, errcode.InvalidShareSessionEpoch
		}
		s := &shareSession{key: key, epoch: 1, parts: map[shareTP]bool{}}
		sh.mu.Lock()
		old := sh.sessions[key]
		if old == nil && len(sh.sessions) >= int(sh.b.cfg.GroupShareMaxShareSessions) {
			sh.mu.Unlock()
			return nil, errcode.ShareSessionLimitReached
		}
		sh.sessions[key] = s
		sh.mu.Unlock()
		if old != nil {
			old.mu.Lock()
			old.dead = true
			parts := old.order
			old.mu.Unlock()
			sh.releaseIn(groupID, member, parts)
		}
		s.mu.Lock()
		return s, 0
	}
	sh.mu.Lock()
	s := sh.sessions[key]
	sh.mu.Unlock()
	if s == nil {
		return nil, errcode.ShareSessionNotFound
	}
	s.mu.Lock()
	if s.dead {
		s.mu.Unlock()
		return nil, errcode.ShareSessionNotFound
	}
	if epoch == -1 {
		s.dead = true
		sh.mu.Lock()
		if sh.sessions[key] == s {
			delete(sh.sessions, key)
		}
		sh.mu.Unlock()
		return s, 0
	}
	if epoch != s.epoch {
		s.mu.Unlock()
		return nil, errcode.InvalidShareSessionEpoch
	}
	if s.epoch == 1<<31-1 {
		s.epoch = 1
	} else {
		s.epoch++
	}
	return s, 0
}

// connClosed removes the share sessions a closed connection opened, when
// they are still current, and releases what their members held (Kafka
// 4.1+ does the same when a share consumer's connection drops).
func (sh *shareHandlers) connClosed(sessions []*shareSession) {
	for _, s := range sessions {
		sh.mu.Lock()
		current := sh.sessions[s.key] == s
		if current {
			delete(sh.sessions, s.key)
		}
		sh.mu.Unlock()
		if !current {
			continue
		}
		s.mu.Lock()
		s.dead = true
		parts := s.order
		s.mu.Unlock()
		sh.releaseIn(s.key.group, s.key.member, parts)
	}
}

// releaseIn releases member's records in the share partitions of parts.
func (sh *shareHandlers) releaseIn(groupID, member string, parts []shareTP) {
	for _, tp := range parts {
		k := share.Key{GroupID: groupID, TopicID: [16]byte(tp.topicID), Partition: tp.partition}
		if sp := sh.get(k); sp != nil {
			sp.ReleaseMember(member)
			sh.persist(sh.b.ctx, k, sp)
		}
	}
}
