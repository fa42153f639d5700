package server

import (
	"context"

	"github.com/spool-broker/spool/protocol"
)

// handleDescribeQuorum answers with the active controller's view of the
// metadata quorum: brokers forward DescribeQuorum, as Kafka's do, so
// kafka-metadata-quorum --bootstrap-server works against any broker.
func (b *Broker) handleDescribeQuorum(ctx context.Context, rc *reqCtx, req *protocol.DescribeQuorumRequest) (*protocol.DescribeQuorumResponse, error) {
	resp, err := b.ctrl.DescribeQuorum(ctx)
	if err != nil {
		code, msg := controllerErrorCode(err)
		b.metrics.errors.WithLabelValues("DescribeQuorum", errName(code)).Inc()
		return &protocol.DescribeQuorumResponse{ErrorCode: code, ErrorMessage: &msg}, nil
	}
	return resp, nil
}
