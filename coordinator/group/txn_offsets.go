package group

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
)

// Transactional offset commits (TxnOffsetCommit, KIP-98), as Kafka's
// OffsetMetadataManager keeps them: the offsets are written to the group's
// __consumer_offsets partition as one transactional batch of the
// transaction's producer id and epoch, in the OffsetCommitKey/Value schemas,
// and stay pending (invisible to OffsetFetch, UNSTABLE_OFFSET_COMMIT for
// require_stable) until the transaction's COMMIT or ABORT marker reaches the
// partition: COMMIT makes them the group's committed offsets, ABORT drops
// them. Because the batch and the marker are in the log, a reload replays
// the same decision, and a transaction still open at a restart stays pending
// until its coordinator writes the marker.

// Errors a TxnLog's AppendTxn returns for the coordinator to answer with.
var (
	// ErrTxnVerification: the partition is not (or no longer) in the
	// producer's transaction (INVALID_TXN_STATE).
	ErrTxnVerification = errors.New("group: partition is not part of the producer's transaction")
	// ErrProducerFenced: the partition has seen a newer epoch of the
	// producer (INVALID_PRODUCER_EPOCH).
	ErrProducerFenced = errors.New("group: producer epoch is fenced")
)

// TxnLog is a Log that can also write and replay transactional batches; the
// broker's Log implements it. Without it TxnOffsetCommit is unavailable.
type TxnLog interface {
	Log
	// AppendTxn writes recs as one transactional batch of producerID at
	// epoch, as Log.Append: without waiting for the batch to be committed.
	AppendTxn(ctx context.Context, partition int32, producerID int64, epoch int16, recs []records.Record) (Committed, error)
	// ReplayTxn is Replay that says, for each record, whether a
	// transaction wrote it, and reports COMMIT/ABORT markers.
	ReplayTxn(ctx context.Context, partition int32, fn func(r ReplayedRecord) error) error
}

// ReplayedRecord is one record or marker met by ReplayTxn.
type ReplayedRecord struct {
	ProducerID    int64
	Transactional bool // a record of ProducerID's transaction
	Marker        bool // ProducerID's COMMIT (Commit) or ABORT marker; Key and Value are nil
	Commit        bool
	Key, Value    []byte
}

// txnOffsets are a shard's pending transactional offsets. Guarded by
// shard.mu.
type txnOffsets struct {
	// pending: producer id → group → partition → offset.
	pending map[int64]map[string]map[topicPartition]OffsetValue
	// late are markers completed while the shard was loading; the load
	// applies them once the replay is done (applying one twice is a no-op).
	late []txnCompletion
}

type txnCompletion struct {
	producerID int64
	commit     bool
}

func (t *txnOffsets) add(producerID int64, groupID string, tp topicPartition, v OffsetValue) {
	if t.pending == nil {
		t.pending = map[int64]map[string]map[topicPartition]OffsetValue{}
	}
	byGroup := t.pending[producerID]
	if byGroup == nil {
		byGroup = map[string]map[topicPartition]OffsetValue{}
		t.pending[producerID] = byGroup
	}
	if byGroup[groupID] == nil {
		byGroup[groupID] = map[topicPartition]OffsetValue{}
	}
	byGroup[groupID][tp] = v
}

// complete applies (commit) or drops producerID's pending offsets. s is nil
// during a replay.
func (t *txnOffsets) complete(groups map[string]*group, s *shard, producerID int64, commit bool) {
	byGroup := t.pending[producerID]
	delete(t.pending, producerID)
	if !commit {
		return
	}
	for groupID, offs := range byGroup {
		g := groups[groupID]
		if g == nil {
			now := int64(0)
			if s != nil {
				now = s.c.now().UnixMilli()
			}
			g = newGroup(s, groupID, now) // a simple group: offsets only
			groups[groupID] = g
		}
		for tp, v := range offs {
			g.offsets[tp] = v
		}
	}
}

func (t *txnOffsets) hasPending(groupID string, tp topicPartition) bool {
	for _, byGroup := range t.pending {
		if _, ok := byGroup[groupID][tp]; ok {
			return true
		}
	}
	return false
}

// replayTxnRecord records one transactional record as pending. Only offset
// commits are written in transactions.
func (t *txnOffsets) replayTxnRecord(producerID int64, key, value []byte) error {
	kind, k, err := decodeKey(key)
	if err != nil || kind != kindOffset || value == nil {
		return err
	}
	v, err := DecodeOffsetValue(value)
	if err != nil {
		return err
	}
	t.add(producerID, k.Group, topicPartition{k.Topic, k.Partition}, v)
	return nil
}

// replay reads the shard's partition into groups and pending.
func (s *shard) replay(ctx context.Context, groups map[string]*group, pending *txnOffsets) error {
	tl, ok := s.c.log.(TxnLog)
	if !ok {
		return s.c.log.Replay(ctx, s.partition, func(key, value []byte) error {
			return replayRecord(groups, key, value)
		})
	}
	return tl.ReplayTxn(ctx, s.partition, func(r ReplayedRecord) error {
		switch {
		case r.Marker:
			pending.complete(groups, nil, r.ProducerID, r.Commit)
			return nil
		case r.Transactional:
			return pending.replayTxnRecord(r.ProducerID, r.Key, r.Value)
		}
		return replayRecord(groups, r.Key, r.Value)
	})
}

// installTxnOffsetsLocked makes the replayed pending offsets the shard's and
// applies the markers completed meanwhile.
func (s *shard) installTxnOffsetsLocked(pending *txnOffsets) {
	late := s.txn.late
	s.txn = *pending
	for _, m := range late {
		s.txn.complete(s.groups, s, m.producerID, m.commit)
	}
}

// CommitTxnOffsets is TxnOffsetCommit: req's offsets are written as a
// transactional batch of producerID/epoch and stay pending until
// CompleteTxn. The caller has checked that the group's partition is in the
// producer's transaction. Results are as for CommitOffsets.
func (c *Coordinator) CommitTxnOffsets(ctx context.Context, req CommitRequest, producerID int64, epoch int16) (code int16, codes []int16) {
	if req.Group == "" {
		return errcode.InvalidGroupID, nil
	}
	tl, ok := c.log.(TxnLog)
	if !ok {
		return errcode.UnsupportedVersion, nil
	}
	s, code := c.lockedShard(req.Group)
	if code != 0 {
		return code, nil
	}
	defer s.unlockAndAwait(ctx, req.Group, func(wc int16) { failCodes(code, codes, wc) })
	req.Transactional = true
	if _, code := s.validateCommitLocked(req); code != 0 {
		return code, nil
	}
	codes = make([]int16, len(req.Offsets))
	now := c.now().UnixMilli()
	var recs []records.Record
	var idx []int
	var vals []OffsetValue
	for i, o := range req.Offsets {
		md := ""
		if o.Metadata != nil {
			md = *o.Metadata
		}
		if len(md) > c.cfg.OffsetMetadataMaxBytes {
			codes[i] = errcode.OffsetMetadataTooLarge
			continue
		}
		v := OffsetValue{Offset: o.Offset, LeaderEpoch: o.LeaderEpoch, Metadata: md, CommitTimestamp: now, ExpireTimestamp: -1}
		recs = append(recs, records.Record{
			Timestamp: now,
			Key:       EncodeOffsetKey(OffsetKey{Group: req.Group, Topic: o.Topic, Partition: o.Partition}),
			Value:     EncodeOffsetValue(v),
		})
		idx = append(idx, i)
		vals = append(vals, v)
	}
	if len(recs) == 0 {
		return 0, codes
	}
	keys := make([][]byte, len(recs))
	for i := range recs {
		keys[i] = recs[i].Key
	}
	// ctx carries the broker's verification guard to AppendTxn; the wait
	// for the high watermark happens after s.mu is released.
	commit, err := tl.AppendTxn(ctx, s.partition, producerID, epoch, recs)
	if err != nil {
		code := errcode.CoordinatorNotAvailable
		switch {
		case errors.Is(err, ErrTxnVerification):
			code = errcode.InvalidTxnState
		case errors.Is(err, ErrProducerFenced):
			code = errcode.InvalidProducerEpoch
		case errors.Is(err, ErrNotLeader):
			code = errcode.NotCoordinator
		default:
			c.logger.Warn("cannot write transactional offsets", zap.Int32("partition", s.partition), zap.Error(err))
		}
		for _, i := range idx {
			codes[i] = code
		}
		return 0, codes
	}
	s.trackLocked(keys, commit)
	for j, i := range idx {
		o := req.Offsets[i]
		s.txn.add(producerID, req.Group, topicPartition{o.Topic, o.Partition}, vals[j])
	}
	return 0, codes
}

// CompleteTxn applies (commit) or drops producerID's pending offsets in
// partition, once its marker is written there.
func (c *Coordinator) CompleteTxn(partition int32, producerID int64, commit bool) {
	c.mu.Lock()
	s := c.shards[partition]
	c.mu.Unlock()
	if s == nil {
		return // not led here; whoever loads it replays the marker
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unloaded {
		return
	}
	if s.loading {
		s.txn.late = append(s.txn.late, txnCompletion{producerID: producerID, commit: commit})
		return
	}
	s.txn.complete(s.groups, s, producerID, commit)
}
