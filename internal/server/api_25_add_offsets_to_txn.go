package server

import (
	"context"

	"github.com/spool-broker/spool/coordinator/txn"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

func (g *txnGlue) handleAddOffsetsToTxn(ctx context.Context, rc *reqCtx, req *protocol.AddOffsetsToTxnRequest) (*protocol.AddOffsetsToTxnResponse, error) {
	g.b.ensureOffsetsTopic(ctx)
	tp := txn.TopicPartition{Topic: consumerOffsetsTopic, Partition: g.groupPartition(string(req.GroupID))}
	code := g.coord.AddPartitions(ctx, string(req.TransactionalID), int64(req.ProducerID), req.ProducerEpoch, []txn.TopicPartition{tp}, 0)
	if rc.v < 2 && code == errcode.ProducerFenced {
		code = errcode.InvalidProducerEpoch
	}
	return &protocol.AddOffsetsToTxnResponse{ErrorCode: code}, nil
}
