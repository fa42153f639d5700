package server

import (
	"context"

	"github.com/spool-broker/spool/protocol"
)

func (g *groupGlue) handleConsumerGroupHeartbeat(ctx context.Context, rc *reqCtx, req *protocol.ConsumerGroupHeartbeatRequest) (*protocol.ConsumerGroupHeartbeatResponse, error) {
	resp := g.coord.ConsumerGroupHeartbeat(ctx, rc.v, requestClientID(rc), clientHost(rc), req)
	g.countGroupError("ConsumerGroupHeartbeat", resp.ErrorCode)
	return resp, nil
}
