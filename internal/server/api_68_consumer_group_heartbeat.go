package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

func (g *groupGlue) handleConsumerGroupHeartbeat(ctx context.Context, rc *reqCtx, req *protocol.ConsumerGroupHeartbeatRequest) (*protocol.ConsumerGroupHeartbeatResponse, error) {
	if !g.b.authorize(rc, acl.OpRead, acl.ResourceGroup, string(req.GroupID)) { // authz.go
		g.countGroupError("ConsumerGroupHeartbeat", errcode.GroupAuthorizationFailed)
		msg := errcode.Message(errcode.GroupAuthorizationFailed)
		return &protocol.ConsumerGroupHeartbeatResponse{ErrorCode: errcode.GroupAuthorizationFailed, ErrorMessage: &msg, HeartbeatIntervalMs: 0}, nil
	}
	resp := g.coord.ConsumerGroupHeartbeat(ctx, rc.v, requestClientID(rc), clientHost(rc), req)
	g.countGroupError("ConsumerGroupHeartbeat", resp.ErrorCode)
	return resp, nil
}
