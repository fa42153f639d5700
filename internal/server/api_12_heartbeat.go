package server

import (
	"context"

	"github.com/spool-broker/spool/protocol"
)

func (g *groupGlue) handleHeartbeat(ctx context.Context, rc *reqCtx, req *protocol.HeartbeatRequest) (*protocol.HeartbeatResponse, error) {
	code := g.coord.Heartbeat(ctx, req)
	g.countGroupError("Heartbeat", code)
	return &protocol.HeartbeatResponse{ErrorCode: code}, nil
}
