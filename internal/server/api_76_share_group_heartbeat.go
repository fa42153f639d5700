package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// ShareGroupHeartbeat (key 76): version 1.
//
// Behaviour:
//   - The KIP-932 share group protocol (coordinator/group/share.go):
//     joining (epoch 0, the member chooses its id), heartbeats, subscription
//     changes and leaving (epoch -1). The simple assignor gives every
//     subscribed partition to at least one member and shares partitions
//     when members outnumber them; a member gets its assignment at once
//     (no revocation step) whenever the group epoch moves.
//   - Answered with UNSUPPORTED_VERSION unless share.version >= 1 is
//     finalized (a new cluster finalizes 1, as Kafka 4.2+).
//   - Authorization (authz.go): READ on the group
//     (GROUP_AUTHORIZATION_FAILED).
//
// Version notes:
//   - v0 (Kafka 4.0 early access) is not served, as in Kafka 4.1+.
//
// Where Spool differs from Kafka 4.3:
//   - Members are not persisted: after a coordinator move a member's next
//     heartbeat gets UNKNOWN_MEMBER_ID and it rejoins.
//   - No rack-aware assignment. group.share.max.size is enforced
//     (GROUP_MAX_SIZE_REACHED for a new member beyond it).

func (gh *groupHandlers) handleShareGroupHeartbeat(ctx context.Context, rc *reqCtx, req *protocol.ShareGroupHeartbeatRequest) (*protocol.ShareGroupHeartbeatResponse, error) {
	if !gh.b.shareEnabled() {
		msg := "The share group protocol is not enabled (share.version)."
		return &protocol.ShareGroupHeartbeatResponse{ErrorCode: errcode.UnsupportedVersion, ErrorMessage: &msg}, nil
	}
	if !gh.b.authorize(rc, acl.OpRead, acl.ResourceGroup, string(req.GroupID)) { // authz.go
		msg := errcode.Message(errcode.GroupAuthorizationFailed)
		return &protocol.ShareGroupHeartbeatResponse{ErrorCode: errcode.GroupAuthorizationFailed, ErrorMessage: &msg}, nil
	}
	return gh.coord.ShareGroupHeartbeat(ctx, rc.v, requestClientID(rc), clientHost(rc), req), nil
}
