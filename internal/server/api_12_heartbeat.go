package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// Heartbeat (key 12): versions 0-4.
//
// Behaviour:
//   - An empty group id is answered INVALID_GROUP_ID after authorization,
//     before the coordinator is asked, as Kafka 4.3.1 does.
//   - Keeps a classic group member's session alive. During a rebalance the
//     answer is REBALANCE_IN_PROGRESS, which tells the member to rejoin;
//     unknown members get UNKNOWN_MEMBER_ID, a wrong generation
//     ILLEGAL_GENERATION, and a static member replaced by another instance
//     FENCED_INSTANCE_ID.
//   - Authorization (authz.go): READ on the group
//     (GROUP_AUTHORIZATION_FAILED).
//
// Version notes:
//   - v3: GroupInstanceID (KIP-345). v4: flexible.
//
// Where Spool differs from Kafka 4.3:
//   - A heartbeat to a consumer, share or streams group is
//     UNKNOWN_MEMBER_ID: classic members cannot join those here (see
//     JoinGroup), so there is no mixed-group heartbeat.

func (gh *groupHandlers) handleHeartbeat(ctx context.Context, rc *reqCtx, req *protocol.HeartbeatRequest) (*protocol.HeartbeatResponse, error) {
	if !gh.b.authorize(rc, acl.OpRead, acl.ResourceGroup, string(req.GroupID)) { // authz.go
		return &protocol.HeartbeatResponse{ErrorCode: errcode.GroupAuthorizationFailed}, nil
	}
	if req.GroupID == "" { // as Kafka's GroupCoordinatorService, before the coordinator
		return &protocol.HeartbeatResponse{ErrorCode: errcode.InvalidGroupID}, nil
	}
	code := gh.coord.Heartbeat(ctx, req)
	return &protocol.HeartbeatResponse{ErrorCode: code}, nil
}
