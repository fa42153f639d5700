package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// LeaveGroup (key 13): versions 0-5.
//
// Behaviour:
//   - An empty group id is answered INVALID_GROUP_ID after authorization,
//     before the coordinator is asked, as Kafka 4.3.1 does.
//   - Removes members from a classic group and rebalances the rest. A static
//     member is identified by its instance id and must match its member id
//     (FENCED_INSTANCE_ID); each member of a batch gets its own code.
//   - Authorization (authz.go): READ on the group
//     (GROUP_AUTHORIZATION_FAILED).
//
// Version notes:
//   - v0-v2: one MemberID. v3: a batch of members with GroupInstanceID and
//     per-member errors. v4: flexible. v5: Reason (KIP-800).
//
// Where Spool differs from Kafka 4.3:
//   - Every member named for a consumer, share or streams group is
//     UNKNOWN_MEMBER_ID (no mixed groups, see JoinGroup). Reason (v5) is
//     read but not logged.

func (gh *groupHandlers) handleLeaveGroup(ctx context.Context, rc *reqCtx, req *protocol.LeaveGroupRequest) (*protocol.LeaveGroupResponse, error) {
	if !gh.b.authorize(rc, acl.OpRead, acl.ResourceGroup, string(req.GroupID)) { // authz.go
		return &protocol.LeaveGroupResponse{ErrorCode: errcode.GroupAuthorizationFailed, Members: []protocol.LeaveGroupResponseMemberResponse{}}, nil
	}
	if req.GroupID == "" { // as Kafka's GroupCoordinatorService, before the coordinator
		return &protocol.LeaveGroupResponse{ErrorCode: errcode.InvalidGroupID, Members: []protocol.LeaveGroupResponseMemberResponse{}}, nil
	}
	resp := gh.coord.LeaveGroup(ctx, rc.v, req)
	return resp, nil
}
