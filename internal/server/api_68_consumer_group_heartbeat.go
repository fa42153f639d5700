package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// ConsumerGroupHeartbeat (key 68): versions 0-1.
//
// Behaviour:
//   - The KIP-848 consumer group protocol (coordinator/group/consumer.go):
//     joining (epoch 0), heartbeats, subscription changes and leaving
//     (epoch -1, or -2 for a static member). The coordinator computes the
//     target assignment with the group's server-side assignor and moves each
//     member towards it one heartbeat at a time.
//   - Served only when group.coordinator.rebalance.protocols includes
//     "consumer".
//   - Authorization (authz.go): READ on the group
//     (GROUP_AUTHORIZATION_FAILED).
//
// Version notes:
//   - v1: SubscribedTopicRegex, and the member generates its own id
//     (KIP-1082).
//
// Where Spool differs from Kafka 4.3:
//   - Classic members cannot be in a consumer group (no mixed groups).

func (gh *groupHandlers) handleConsumerGroupHeartbeat(ctx context.Context, rc *reqCtx, req *protocol.ConsumerGroupHeartbeatRequest) (*protocol.ConsumerGroupHeartbeatResponse, error) {
	if !gh.b.authorize(rc, acl.OpRead, acl.ResourceGroup, string(req.GroupID)) { // authz.go
		msg := errcode.Message(errcode.GroupAuthorizationFailed)
		return &protocol.ConsumerGroupHeartbeatResponse{ErrorCode: errcode.GroupAuthorizationFailed, ErrorMessage: &msg}, nil
	}
	resp := gh.coord.ConsumerGroupHeartbeat(ctx, rc.v, requestClientID(rc), clientHost(rc), req)
	return resp, nil
}
