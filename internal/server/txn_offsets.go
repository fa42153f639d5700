package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/spool-broker/spool/coordinator/group"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/records"
	"github.com/spool-broker/spool/storage"
)

// Transactional offsets: TxnOffsetCommit writes them to the group's
// __consumer_offsets partition as a transactional batch of the producer
// (group.Coordinator.CommitTxnOffsets), and the transaction's marker in that
// partition decides them (completeOffsets on the live path, the replay after
// a restart). So a crash between TxnOffsetCommit and EndTxn neither loses
// nor exposes them early.

func (th *txnHandlers) registerOffsetHandlers(h map[int16]apiHandler) {
	register(h, protocol.KeyAddOffsetsToTxn, 0, 4, th.handleAddOffsetsToTxn)
	register(h, protocol.KeyTxnOffsetCommit, 0, 6, th.handleTxnOffsetCommit)
}

func (th *txnHandlers) groupPartition(groupID string) int32 {
	return group.PartitionFor(groupID, th.b.cfg.OffsetsTopicNumPartitions)
}

// verificationGuardKey carries a TxnOffsetCommit's guard through the group
// coordinator to groupLog.AppendTxn.
type verificationGuardKey struct{}

// completeOffsets tells the group coordinator that a producer's marker is
// written to a __consumer_offsets partition.
func (th *txnHandlers) completeOffsets(producerID int64, partition int32, commit bool) {
	if th.b.groupHandlers != nil {
		th.b.groupHandlers.coord.CompleteTxn(partition, producerID, commit)
	}
}

// AppendTxn writes TxnOffsetCommit records as one transactional batch
// (group.TxnLog), returning how to wait for the high watermark as Append
// does. Like Kafka's coordinator writes it carries no sequence.
func (l groupLog) AppendTxn(ctx context.Context, partition int32, producerID int64, epoch int16, recs []records.Record) (group.Committed, error) {
	p, err := l.leader(partition)
	if err != nil {
		return nil, err
	}
	opts := records.NewBatchOptions()
	opts.ProducerID, opts.ProducerEpoch, opts.Transactional = producerID, epoch, true
	batch, err := records.AppendBatch(nil, opts, recs)
	if err != nil {
		return nil, fmt.Errorf("build __consumer_offsets batch: %w", err)
	}
	var hook storage.AppendHook
	if guard, ok := ctx.Value(verificationGuardKey{}).(*verificationGuard); ok && l.b.txnHandlers != nil {
		hook = func([]byte, records.Header) error {
			if !l.b.txnHandlers.guards.valid(guard) {
				return group.ErrTxnVerification
			}
			return nil
		}
	}
	commit, err := groupAppend(p, batch, hook)
	if errors.Is(err, storage.ErrInvalidProducerEpoch) {
		return nil, fmt.Errorf("%w: %w", group.ErrProducerFenced, err)
	}
	if err != nil {
		return nil, err
	}
	return commit, nil
}

// ReplayTxn reads the partition as scanLog does (to the log end, committed),
// reporting transactional records and COMMIT/ABORT markers (group.TxnLog).
func (l groupLog) ReplayTxn(ctx context.Context, partition int32, fn func(r group.ReplayedRecord) error) error {
	p, err := l.leader(partition)
	if err != nil {
		return err
	}
	err = scanLog(ctx, p, func(h records.Header, batch []byte) error {
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
