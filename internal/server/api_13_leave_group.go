package server

import (
	"context"

	"github.com/spool-broker/spool/protocol"
)

// LeaveGroup (key 13): versions 0-5.
//
// Behaviour:
//   - Removes members from a classic group and rebalances the rest. A static
//     member is identified by its instance id and must match its member id
//     (FENCED_INSTANCE_ID); each member of a batch gets its own code.
//
// Version notes:
//   - v0-v2: one MemberID. v3: a batch of members with GroupInstanceID and
//     per-member errors. v4: flexible. v5: Reason (KIP-800).

func (gh *groupHandlers) handleLeaveGroup(ctx context.Context, rc *reqCtx, req *protocol.LeaveGroupRequest) (*protocol.LeaveGroupResponse, error) {
	resp := gh.coord.LeaveGroup(ctx, rc.v, req)
	return resp, nil
}
