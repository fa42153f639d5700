package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// handleDescribeQuorum answers with the active controller's view of the
// metadata quorum: brokers forward DescribeQuorum, as Kafka's do, so
// kafka-metadata-quorum --bootstrap-server works against any broker.
func (b *Broker) handleDescribeQuorum(ctx context.Context, rc *reqCtx, req *protocol.DescribeQuorumRequest) (*protocol.DescribeQuorumResponse, error) {
	if !b.authorizeCluster(rc, acl.OpDescribe) { // authz.go
		msg := clusterAuthzMessage
		return &protocol.DescribeQuorumResponse{ErrorCode: errcode.ClusterAuthorizationFailed, ErrorMessage: &msg}, nil
	}
	resp, err := b.ctrl.DescribeQuorum(ctx)
	if err != nil {
		code, msg := controllerErrorCode(err)
		b.metrics.errors.WithLabelValues("DescribeQuorum", errName(code)).Inc()
		return &protocol.DescribeQuorumResponse{ErrorCode: code, ErrorMessage: &msg}, nil
	}
	return resp, nil
}
