package server

import (
	"context"

	"github.com/spool-broker/spool/coordinator/txn"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// AddOffsetsToTxn (key 25): versions 0-4.
//
// Behaviour:
//   - Adds the group's __consumer_offsets partition to the producer's
//     transaction, so that TxnOffsetCommit may write to it; creates
//     __consumer_offsets if needed. The answer is the transaction
//     coordinator's code, as for AddPartitionsToTxn.
//   - Authorization (authz.go): WRITE on the transactional id, READ on the
//     group.
//
// Version notes:
//   - v2: PRODUCER_FENCED (older versions get INVALID_PRODUCER_EPOCH). v3:
//     flexible. v4: TRANSACTION_ABORTABLE (KIP-890).
//
// Where Spool differs from Kafka 4.3:
//   - None known: every field of v0-v4 is read and answered.

func (th *txnHandlers) handleAddOffsetsToTxn(ctx context.Context, rc *reqCtx, req *protocol.AddOffsetsToTxnRequest) (*protocol.AddOffsetsToTxnResponse, error) {
	if denied := th.b.authorizeAddOffsetsToTxn(rc, req); denied != nil { // authz_txn.go
		return denied, nil
	}
	th.b.ensureOffsetsTopic(ctx)
	tp := txn.TopicPartition{Topic: consumerOffsetsTopic, Partition: th.groupPartition(string(req.GroupID))}
	code := th.coord.AddPartitions(ctx, string(req.TransactionalID), int64(req.ProducerID), req.ProducerEpoch, []txn.TopicPartition{tp}, 0)
	if rc.v < 2 && code == errcode.ProducerFenced {
		code = errcode.InvalidProducerEpoch
	}
	return &protocol.AddOffsetsToTxnResponse{ErrorCode: code}, nil
}
