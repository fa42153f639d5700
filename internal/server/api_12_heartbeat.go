package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

func (g *groupGlue) handleHeartbeat(ctx context.Context, rc *reqCtx, req *protocol.HeartbeatRequest) (*protocol.HeartbeatResponse, error) {
	if !g.b.authorize(rc, acl.OpRead, acl.ResourceGroup, string(req.GroupID)) { // authz.go
		g.countGroupError("Heartbeat", errcode.GroupAuthorizationFailed)
		return &protocol.HeartbeatResponse{ErrorCode: errcode.GroupAuthorizationFailed}, nil
	}
	code := g.coord.Heartbeat(ctx, req)
	g.countGroupError("Heartbeat", code)
	return &protocol.HeartbeatResponse{ErrorCode: code}, nil
}
