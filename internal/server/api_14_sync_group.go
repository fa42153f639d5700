package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

func (g *groupGlue) handleSyncGroup(ctx context.Context, rc *reqCtx, req *protocol.SyncGroupRequest) (*protocol.SyncGroupResponse, error) {
	if !g.b.authorize(rc, acl.OpRead, acl.ResourceGroup, string(req.GroupID)) { // authz.go
		g.countGroupError("SyncGroup", errcode.GroupAuthorizationFailed)
		return &protocol.SyncGroupResponse{ErrorCode: errcode.GroupAuthorizationFailed, Assignment: []byte{}}, nil
	}
	resp := g.coord.SyncGroup(ctx, rc.v, req)
	if resp.Assignment == nil {
		resp.Assignment = []byte{}
	}
	g.countGroupError("SyncGroup", resp.ErrorCode)
	return resp, nil
}
