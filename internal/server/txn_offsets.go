package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/spool-broker/spool/coordinator/group"
	"github.com/spool-broker/spool/coordinator/txn"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
	"github.com/spool-broker/spool/storage"
)

// Transactional offsets: TxnOffsetCommit writes them to the group's
// __consumer_offsets partition as a transactional batch of the producer
// (group.Coordinator.CommitTxnOffsets), and the transaction's marker in that
// partition decides them (completeOffsets on the live path, the replay after
// a restart). So a crash between TxnOffsetCommit and EndTxn neither loses
// nor exposes them early.

func (g *txnGlue) registerOffsetHandlers(h map[int16]apiHandler) {
	register(h, protocol.KeyAddOffsetsToTxn, 0, 4, g.handleAddOffsetsToTxn)
	register(h, protocol.KeyTxnOffsetCommit, 0, 5, g.handleTxnOffsetCommit)
}

func (g *txnGlue) groupPartition(groupID string) int32 {
	return group.PartitionFor(groupID, g.b.cfg.OffsetsTopicNumPartitions)
}

func (g *txnGlue) handleAddOffsetsToTxn(ctx context.Context, rc *reqCtx, req *protocol.AddOffsetsToTxnRequest) (*protocol.AddOffsetsToTxnResponse, error) {
	if denied := g.b.authorizeAddOffsetsToTxn(rc, req); denied != nil { // authz_txn.go
		return denied, nil
	}
	g.b.ensureOffsetsTopic(ctx)
	tp := txn.TopicPartition{Topic: consumerOffsetsTopic, Partition: g.groupPartition(string(req.GroupID))}
	code := g.coord.AddPartitions(ctx, string(req.TransactionalID), int64(req.ProducerID), req.ProducerEpoch, []txn.TopicPartition{tp}, 0)
	if rc.v < 2 && code == errcode.ProducerFenced {
		code = errcode.InvalidProducerEpoch
	}
	return &protocol.AddOffsetsToTxnResponse{ErrorCode: code}, nil
}

// verificationGuardKey carries a TxnOffsetCommit's guard through the group
// coordinator to groupLog.AppendTxn.
type verificationGuardKey struct{}

func (g *txnGlue) handleTxnOffsetCommit(ctx context.Context, rc *reqCtx, req *protocol.TxnOffsetCommitRequest) (*protocol.TxnOffsetCommitResponse, error) {
	refused, deniedTopics := g.b.authorizeTxnOffsetCommit(rc, req) // authz_txn.go
	if refused != nil {
		return refused, nil
	}
	pid, epoch := int64(req.ProducerID), req.ProducerEpoch
	tp := txn.TopicPartition{Topic: consumerOffsetsTopic, Partition: g.groupPartition(string(req.GroupID))}
	// The guard is taken before asking the coordinator, so a marker
	// written after its answer rejects the append.
	guard := g.guards.start(verifyKey{topic: tp.Topic, partition: tp.Partition, producerID: pid})
	defer g.guards.finish(guard)
	code := int16(0)
	if rc.v >= 5 {
		// transaction.version 2 clients send no AddOffsetsToTxn: the
		// commit adds the group's partition itself (KIP-890 part 2).
		code = txnOffsetVerificationError(g.verifyOrAdd(ctx, string(req.TransactionalID), pid, epoch, tp, true))
	}
	if code == 0 {
		m, c := g.coord.Describe(string(req.TransactionalID))
		switch {
		case c != 0:
			code = c
		case m.ProducerID != pid:
			code = errcode.InvalidProducerIDMapping
		case m.ProducerEpoch != epoch:
			code = errcode.ProducerFenced
		case m.State != txn.Ongoing || !containsTP(m.Partitions, tp):
			code = errcode.InvalidTxnState // AddOffsetsToTxn must come first
		}
	}
	if rc.v < 2 && code == errcode.ProducerFenced {
		code = errcode.InvalidProducerEpoch
	}
	commit := group.CommitRequest{Version: 8, Group: string(req.GroupID), Generation: -1, RetentionMs: -1}
	if rc.v >= 3 {
		commit.Generation, commit.MemberID, commit.InstanceID = req.GenerationID, req.MemberID, req.GroupInstanceID
	}
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			commit.Offsets = append(commit.Offsets, group.OffsetCommit{Topic: string(t.Name), Partition: p.PartitionIndex,
				Offset: p.CommittedOffset, LeaderEpoch: p.CommittedLeaderEpoch, Metadata: p.CommittedMetadata})
		}
	}
	var codes []int16
	if code == 0 {
		code, codes = g.b.groupCoord.CommitTxnOffsets(context.WithValue(ctx, verificationGuardKey{}, guard), commit, pid, epoch)
	}
	resp := &protocol.TxnOffsetCommitResponse{}
	i := 0
	for _, t := range req.Topics {
		tr := protocol.TxnOffsetCommitResponseTopic{Name: t.Name}
		for _, p := range t.Partitions {
			pc := code
			if code == 0 {
				pc = codes[i]
			}
			i++
			tr.Partitions = append(tr.Partitions, protocol.TxnOffsetCommitResponsePartition{PartitionIndex: p.PartitionIndex, ErrorCode: pc})
		}
		resp.Topics = append(resp.Topics, tr)
	}
	return txnOffsetCommitDenied(resp, deniedTopics, errcode.TopicAuthorizationFailed), nil
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

// completeOffsets tells the group coordinator that a producer's marker is
// written to a __consumer_offsets partition.
func (g *txnGlue) completeOffsets(producerID int64, partition int32, commit bool) {
	if g.b.groupCoord != nil {
		g.b.groupCoord.CompleteTxn(partition, producerID, commit)
	}
}

// AppendTxn writes TxnOffsetCommit records as one transactional batch
// (group.TxnLog). Like Kafka's coordinator writes it carries no sequence.
func (l groupLog) AppendTxn(ctx context.Context, partition int32, producerID int64, epoch int16, recs []records.Record) error {
	p, err := l.leader(partition)
	if err != nil {
		return err
	}
	opts := records.NewBatchOptions()
	opts.ProducerID, opts.ProducerEpoch, opts.Transactional = producerID, epoch, true
	batch, err := records.AppendBatch(nil, opts, recs)
	if err != nil {
		return fmt.Errorf("build __consumer_offsets batch: %w", err)
	}
	var hook storage.AppendHook
	if guard, ok := ctx.Value(verificationGuardKey{}).(*verificationGuard); ok && l.b.txn != nil {
		hook = func([]byte, records.Header) error {
			if !l.b.txn.guards.valid(guard) {
				return group.ErrTxnVerification
			}
			return nil
		}
	}
	_, err = appendCommitted(ctx, p, batch, hook)
	if errors.Is(err, storage.ErrInvalidProducerEpoch) {
		return fmt.Errorf("%w: %w", group.ErrProducerFenced, err)
	}
	if err != nil {
		return groupAppendError(partition, err)
	}
	return nil
}

// ReplayTxn reads the partition from its log start to its high watermark,
// reporting transactional records and COMMIT/ABORT markers (group.TxnLog).
func (l groupLog) ReplayTxn(ctx context.Context, partition int32, fn func(r group.ReplayedRecord) error) error {
	p, err := l.leader(partition)
	if err != nil {
		return err
	}
	err = scanLog(ctx, p.Log(), func(h records.Header, batch []byte) error {
		return records.ForEachRecord(batch, maxDecompressedBatch, func(r *records.Record) error {
			if !h.IsControl() {
				return fn(group.ReplayedRecord{ProducerID: h.ProducerID, Transactional: h.IsTransactional(), Key: r.Key, Value: r.Value})
			}
			m, err := records.ParseControlRecord(r.Key, r.Value)
			if err != nil || (m.Type != records.ControlCommit && m.Type != records.ControlAbort) {
				return err
			}
			return fn(group.ReplayedRecord{ProducerID: h.ProducerID, Marker: true, Commit: m.Type == records.ControlCommit})
		})
	})
	if err != nil {
		return fmt.Errorf("replay %s-%d: %w", consumerOffsetsTopic, partition, err)
	}
	return nil
}
