package server

import (
	"context"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// InitProducerId (key 22): versions 0-5.
//
// Behaviour:
//   - Without a transactional id (an idempotent producer) the answer is a
//     fresh producer id at epoch 0, from the blocks the controller hands out.
//   - With one, it goes to the id's transaction coordinator: a new producer
//     id, or the same one with its epoch bumped, fencing earlier instances.
//     An open transaction is aborted under the bumped epoch first; one whose
//     markers are not written yet gives CONCURRENT_TRANSACTIONS. A
//     TransactionTimeoutMs not in (0, transaction.max.timeout.ms] is
//     INVALID_TRANSACTION_TIMEOUT.
//   - Authorization (authz.go): WRITE on the transactional id
//     (TRANSACTIONAL_ID_AUTHORIZATION_FAILED); an idempotent producer needs
//     IDEMPOTENT_WRITE on the cluster or WRITE on some topic
//     (CLUSTER_AUTHORIZATION_FAILED).
//
// Version notes:
//   - v2: flexible. v3: ProducerID and ProducerEpoch, so a producer can
//     resume after INVALID_PRODUCER_EPOCH (KIP-360). v4: PRODUCER_FENCED
//     (older versions get INVALID_PRODUCER_EPOCH). v5: may answer
//     TRANSACTION_ABORTABLE (KIP-890).
//
// Where Spool differs from Kafka 4.3:
//   - An open transaction is aborted within the call, which then answers
//     with the new epoch; Kafka starts the abort and answers
//     CONCURRENT_TRANSACTIONS, and the producer retries.
//   - v6 (two-phase commit, KIP-939, unstable in 4.3) is not served.

func (th *txnHandlers) handleInitProducerID(ctx context.Context, rc *reqCtx, req *protocol.InitProducerIdRequest) (*protocol.InitProducerIdResponse, error) {
	if denied := th.b.authorizeInitProducerID(rc, req); denied != nil { // authz_txn.go
		return denied, nil
	}
	resp := &protocol.InitProducerIdResponse{ProducerID: -1, ProducerEpoch: -1, OngoingTxnProducerID: -1, OngoingTxnProducerEpoch: -1}
	if req.TransactionalID == nil || *req.TransactionalID == "" {
		// Idempotent producer: always a fresh producer id, as Kafka does; a
		// producer bumps its own epoch after a sequence problem (KIP-360).
		pid, err := th.ids.Next(ctx)
		if err != nil {
			resp.ErrorCode = errcode.CoordinatorNotAvailable
			return resp, nil
		}
		resp.ProducerID, resp.ProducerEpoch = protocol.ProducerID(pid), 0
		return resp, nil
	}
	pid, epoch := int64(-1), int16(-1)
	if rc.v >= 3 {
		pid, epoch = int64(req.ProducerID), req.ProducerEpoch
	}
	r := th.coord.InitProducerID(ctx, string(*req.TransactionalID), req.TransactionTimeoutMs, pid, epoch)
	resp.ErrorCode, resp.ProducerID, resp.ProducerEpoch = r.ErrorCode, protocol.ProducerID(r.ProducerID), r.ProducerEpoch
	if rc.v < 4 && resp.ErrorCode == errcode.ProducerFenced {
		resp.ErrorCode = errcode.InvalidProducerEpoch // PRODUCER_FENCED is v4+
	}
	return resp, nil
}
