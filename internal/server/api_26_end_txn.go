package server

import (
	"context"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// EndTxn (key 26): versions 0-5.
//
// Behaviour:
//   - Commits or aborts the producer's open transaction: the coordinator
//     records PrepareCommit or PrepareAbort, writes COMMIT or ABORT markers
//     to every partition in it, then records CompleteCommit or
//     CompleteAbort. Markers that cannot be written yet are retried in the
//     background.
//   - v5 (transaction.version 2, KIP-890 part 2) bumps the epoch on every
//     end and returns the producer id and epoch to continue with; an abort
//     is accepted with no transaction open.
//   - Authorization (authz.go): WRITE on the transactional id
//     (TRANSACTIONAL_ID_AUTHORIZATION_FAILED).
//
// Version notes:
//   - v2: PRODUCER_FENCED (older versions get INVALID_PRODUCER_EPOCH). v3:
//     flexible. v4: TRANSACTION_ABORTABLE. v5: ProducerID and ProducerEpoch
//     in the response.
//
// Where Spool differs from Kafka 4.3:
//   - The markers are written before the answer; Kafka answers once the
//     Prepare state is written and sends the markers after.

func (th *txnHandlers) handleEndTxn(ctx context.Context, rc *reqCtx, req *protocol.EndTxnRequest) (*protocol.EndTxnResponse, error) {
	// EndTxn v5+ is sent only by transaction.version 2 clients: the epoch
	// is bumped and the response carries the producer id and epoch to go on
	// with (KIP-890 part 2).
	if denied := th.b.authorizeEndTxn(rc, req); denied != nil { // authz_txn.go
		return denied, nil
	}
	tv := int16(0)
	if rc.v >= 5 {
		tv = 2
	}
	r := th.coord.EndTxn(ctx, string(req.TransactionalID), int64(req.ProducerID), req.ProducerEpoch, req.Committed, tv)
	if rc.v < 2 && r.ErrorCode == errcode.ProducerFenced {
		r.ErrorCode = errcode.InvalidProducerEpoch
	}
	return &protocol.EndTxnResponse{ErrorCode: r.ErrorCode, ProducerID: protocol.ProducerID(r.ProducerID), ProducerEpoch: r.ProducerEpoch}, nil
}
