package server

import (
	"context"

	"github.com/spool-broker/spool/protocol"
)

func (g *groupGlue) handleLeaveGroup(ctx context.Context, rc *reqCtx, req *protocol.LeaveGroupRequest) (*protocol.LeaveGroupResponse, error) {
	resp := g.coord.LeaveGroup(ctx, rc.v, req)
	g.countGroupError("LeaveGroup", resp.ErrorCode)
	return resp, nil
}
