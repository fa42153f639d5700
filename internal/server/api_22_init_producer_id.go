package server

import (
	"context"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

func (g *txnGlue) handleInitProducerID(ctx context.Context, rc *reqCtx, req *protocol.InitProducerIdRequest) (*protocol.InitProducerIdResponse, error) {
	resp := &protocol.InitProducerIdResponse{ProducerID: -1, ProducerEpoch: -1, OngoingTxnProducerID: -1, OngoingTxnProducerEpoch: -1}
	if req.TransactionalID == nil || *req.TransactionalID == "" {
		// Idempotent producer: always a fresh producer id, as Kafka does; a
		// producer bumps its own epoch after a sequence problem (KIP-360).
		pid, err := g.ids.Next(ctx)
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
	r := g.coord.InitProducerID(ctx, string(*req.TransactionalID), req.TransactionTimeoutMs, pid, epoch)
	resp.ErrorCode, resp.ProducerID, resp.ProducerEpoch = r.ErrorCode, protocol.ProducerID(r.ProducerID), r.ProducerEpoch
	if rc.v < 4 && resp.ErrorCode == errcode.ProducerFenced {
		resp.ErrorCode = errcode.InvalidProducerEpoch // PRODUCER_FENCED is v4+
	}
	return resp, nil
}
