package server

import (
	"context"

	"github.com/spool-broker/spool/protocol"
)

// Heartbeat (key 12): versions 0-4.
//
// Behaviour:
//   - Keeps a classic group member's session alive. During a rebalance the
//     answer is REBALANCE_IN_PROGRESS, which tells the member to rejoin;
//     unknown members get UNKNOWN_MEMBER_ID, a wrong generation
//     ILLEGAL_GENERATION, and a static member replaced by another instance
//     FENCED_INSTANCE_ID.
//
// Version notes:
//   - v3: GroupInstanceID (KIP-345). v4: flexible.

func (gh *groupHandlers) handleHeartbeat(ctx context.Context, rc *reqCtx, req *protocol.HeartbeatRequest) (*protocol.HeartbeatResponse, error) {
	code := gh.coord.Heartbeat(ctx, req)
	return &protocol.HeartbeatResponse{ErrorCode: code}, nil
}
