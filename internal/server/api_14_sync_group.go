package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// SyncGroup (key 14): versions 0-5.
//
// Behaviour:
//   - An empty group id is answered INVALID_GROUP_ID after authorization,
//     before the coordinator is asked, as Kafka 4.3.1 does.
//   - After a join, the leader sends the assignments; each member's request
//     parks until they are stored in __consumer_offsets, then gets its own.
//     A member outside the current generation gets ILLEGAL_GENERATION or
//     UNKNOWN_MEMBER_ID; a rebalance started meanwhile,
//     REBALANCE_IN_PROGRESS.
//   - Assignment is an empty byte string, never null, when there is none.
//   - Authorization (authz.go): READ on the group
//     (GROUP_AUTHORIZATION_FAILED).
//
// Version notes:
//   - v3: GroupInstanceID. v4: flexible. v5: ProtocolType and ProtocolName
//     are checked against the group's (INCONSISTENT_GROUP_PROTOCOL) and
//     returned (KIP-559).
//
// Where Spool differs from Kafka 4.3:
//   - None known.

func (gh *groupHandlers) handleSyncGroup(ctx context.Context, rc *reqCtx, req *protocol.SyncGroupRequest) (*protocol.SyncGroupResponse, error) {
	if !gh.b.authorize(rc, acl.OpRead, acl.ResourceGroup, string(req.GroupID)) { // authz.go
		return &protocol.SyncGroupResponse{ErrorCode: errcode.GroupAuthorizationFailed, Assignment: []byte{}}, nil
	}
	if req.GroupID == "" { // as Kafka's GroupCoordinatorService, before the coordinator
		return &protocol.SyncGroupResponse{ErrorCode: errcode.InvalidGroupID, Assignment: []byte{}}, nil
	}
	resp := gh.coord.SyncGroup(ctx, rc.v, req)
	if resp.Assignment == nil {
		resp.Assignment = []byte{}
	}
	return resp, nil
}
