package server

import (
	"context"
	"sync"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/coordinator/group"
	"github.com/spool-broker/spool/coordinator/txn"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// pendingOffsets holds TxnOffsetCommit offsets until the transaction's
// marker reaches the group's __consumer_offsets partition: COMMIT makes
// them a regular offset commit, ABORT drops them.
//
// Limitation: they are kept in memory, not written to __consumer_offsets
// as transactional records, so a broker crash between TxnOffsetCommit and
// the COMMIT marker loses them (the consumer then re-reads those records).
type pendingOffsets struct {
	mu sync.Mutex
	// byProducer: producer id → group → the latest commit request.
	byProducer map[int64]map[string]*protocol.OffsetCommitRequest
}

func (g *txnGlue) registerOffsetHandlers(h map[int16]apiHandler) {
	g.pending.byProducer = map[int64]map[string]*protocol.OffsetCommitRequest{}
	register(h, protocol.KeyAddOffsetsToTxn, 0, 4, g.handleAddOffsetsToTxn)
	register(h, protocol.KeyTxnOffsetCommit, 0, 5, g.handleTxnOffsetCommit)
}

func (g *txnGlue) groupPartition(groupID string) int32 {
	return group.PartitionFor(groupID, g.b.cfg.OffsetsTopicNumPartitions)
}

func (g *txnGlue) handleAddOffsetsToTxn(ctx context.Context, rc *reqCtx, req *protocol.AddOffsetsToTxnRequest) (*protocol.AddOffsetsToTxnResponse, error) {
	g.b.ensureOffsetsTopic(ctx)
	tp := txn.TopicPartition{Topic: consumerOffsetsTopic, Partition: g.groupPartition(string(req.GroupID))}
	code := g.coord.AddPartitions(ctx, string(req.TransactionalID), int64(req.ProducerID), req.ProducerEpoch, []txn.TopicPartition{tp}, 0)
	if rc.v < 2 && code == errcode.ProducerFenced {
		code = errcode.InvalidProducerEpoch
	}
	return &protocol.AddOffsetsToTxnResponse{ErrorCode: code}, nil
}

func (g *txnGlue) handleTxnOffsetCommit(ctx context.Context, rc *reqCtx, req *protocol.TxnOffsetCommitRequest) (*protocol.TxnOffsetCommitResponse, error) {
	code := int16(0)
	tp := txn.TopicPartition{Topic: consumerOffsetsTopic, Partition: g.groupPartition(string(req.GroupID))}
	if rc.v >= 5 {
		// transaction.version 2 clients send no AddOffsetsToTxn: the
		// commit adds the group's partition itself (KIP-890 part 2).
		code = txnOffsetVerificationError(g.verifyOrAdd(ctx, string(req.TransactionalID), int64(req.ProducerID), req.ProducerEpoch, tp, true))
	}
	m, c := g.coord.Describe(string(req.TransactionalID))
	switch {
	case code != 0:
	case c != 0:
		code = c
	case m.ProducerID != int64(req.ProducerID):
		code = errcode.InvalidProducerIDMapping
	case m.ProducerEpoch != req.ProducerEpoch:
		code = errcode.ProducerFenced
		if rc.v < 2 {
			code = errcode.InvalidProducerEpoch
		}
	case m.State != txn.Ongoing || !containsTP(m.Partitions, tp):
		code = errcode.InvalidTxnState // AddOffsetsToTxn must come first
	}
	resp := &protocol.TxnOffsetCommitResponse{}
	commit := &protocol.OffsetCommitRequest{GroupID: req.GroupID, GenerationIDOrMemberEpoch: -1, RetentionTimeMs: -1}
	if rc.v >= 3 {
		commit.GenerationIDOrMemberEpoch, commit.MemberID, commit.GroupInstanceID = req.GenerationID, req.MemberID, req.GroupInstanceID
	}
	for _, t := range req.Topics {
		tr := protocol.TxnOffsetCommitResponseTopic{Name: t.Name}
		ct := protocol.OffsetCommitRequestTopic{Name: t.Name}
		for _, p := range t.Partitions {
			tr.Partitions = append(tr.Partitions, protocol.TxnOffsetCommitResponsePartition{PartitionIndex: p.PartitionIndex, ErrorCode: code})
			ct.Partitions = append(ct.Partitions, protocol.OffsetCommitRequestPartition{
				PartitionIndex: p.PartitionIndex, CommittedOffset: p.CommittedOffset, CommittedLeaderEpoch: p.CommittedLeaderEpoch,
				CommitTimestamp: -1, CommittedMetadata: p.CommittedMetadata,
			})
		}
		resp.Topics = append(resp.Topics, tr)
		commit.Topics = append(commit.Topics, ct)
	}
	if code != 0 {
		return resp, nil
	}
	g.pending.mu.Lock()
	groups := g.pending.byProducer[int64(req.ProducerID)]
	if groups == nil {
		groups = map[string]*protocol.OffsetCommitRequest{}
		g.pending.byProducer[int64(req.ProducerID)] = groups
	}
	if prev := groups[string(req.GroupID)]; prev != nil {
		commit.Topics = append(prev.Topics, commit.Topics...) // later entries win when applied
	}
	groups[string(req.GroupID)] = commit
	g.pending.mu.Unlock()
	return resp, nil
}

// txnOffsetVerificationError maps the coordinator's answer to an implicit
// add into TxnOffsetCommit's errors: a fenced producer is
// INVALID_PRODUCER_EPOCH, as on the produce path, and the coordinator's
// retriable errors become COORDINATOR_LOAD_IN_PROGRESS, which the client
// retries without looking for another group coordinator.
func txnOffsetVerificationError(code int16) int16 {
	switch code {
	case errcode.ProducerFenced:
		return errcode.InvalidProducerEpoch
	case errcode.ConcurrentTransactions, errcode.CoordinatorLoadInProgress, errcode.CoordinatorNotAvailable, errcode.NotCoordinator:
		return errcode.CoordinatorLoadInProgress
	}
	return code
}

func containsTP(parts []txn.TopicPartition, tp txn.TopicPartition) bool {
	for _, p := range parts {
		if p == tp {
			return true
		}
	}
	return false
}

// completeOffsets applies or drops a producer's pending offsets once its
// marker is written to the __consumer_offsets partition.
func (g *txnGlue) completeOffsets(ctx context.Context, producerID int64, partition int32, commit bool) {
	g.pending.mu.Lock()
	var apply []*protocol.OffsetCommitRequest
	for groupID, req := range g.pending.byProducer[producerID] {
		if g.groupPartition(groupID) != partition {
			continue
		}
		delete(g.pending.byProducer[producerID], groupID)
		if commit {
			apply = append(apply, req)
		}
	}
	if len(g.pending.byProducer[producerID]) == 0 {
		delete(g.pending.byProducer, producerID)
	}
	g.pending.mu.Unlock()
	h := g.b.handlers[protocol.KeyOffsetCommit]
	for _, req := range apply {
		resp, err := h.fn(ctx, &reqCtx{v: 8}, req)
		if err != nil {
			g.b.log.Warn("cannot apply transactional offsets", zap.String("group", string(req.GroupID)), zap.Error(err))
			continue
		}
		for _, t := range resp.(*protocol.OffsetCommitResponse).Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 {
					g.b.log.Warn("transactional offset commit failed", zap.String("group", string(req.GroupID)),
						zap.String("topic", string(t.Name)), zap.Int32("partition", p.PartitionIndex), zap.String("error", errName(p.ErrorCode)))
				}
			}
		}
	}
}
