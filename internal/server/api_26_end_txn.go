package server

import (
	"context"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

func (g *txnGlue) handleEndTxn(ctx context.Context, rc *reqCtx, req *protocol.EndTxnRequest) (*protocol.EndTxnResponse, error) {
	// EndTxn v5+ is sent only by transaction.version 2 clients: the epoch
	// is bumped and the response carries the producer id and epoch to go on
	// with (KIP-890 part 2).
	tv := int16(0)
	if rc.v >= 5 {
		tv = 2
	}
	r := g.coord.EndTxn(ctx, string(req.TransactionalID), int64(req.ProducerID), req.ProducerEpoch, req.Committed, tv)
	if rc.v < 2 && r.ErrorCode == errcode.ProducerFenced {
		r.ErrorCode = errcode.InvalidProducerEpoch
	}
	return &protocol.EndTxnResponse{ErrorCode: r.ErrorCode, ProducerID: protocol.ProducerID(r.ProducerID), ProducerEpoch: r.ProducerEpoch}, nil
}
