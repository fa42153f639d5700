package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

func (g *groupGlue) handleLeaveGroup(ctx context.Context, rc *reqCtx, req *protocol.LeaveGroupRequest) (*protocol.LeaveGroupResponse, error) {
	if !g.b.authorize(rc, acl.OpRead, acl.ResourceGroup, string(req.GroupID)) { // authz.go
		g.countGroupError("LeaveGroup", errcode.GroupAuthorizationFailed)
		return &protocol.LeaveGroupResponse{ErrorCode: errcode.GroupAuthorizationFailed, Members: []protocol.LeaveGroupResponseMemberResponse{}}, nil
	}
	resp := g.coord.LeaveGroup(ctx, rc.v, req)
	g.countGroupError("LeaveGroup", resp.ErrorCode)
	return resp, nil
}
