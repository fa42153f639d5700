package server

import (
	"context"

	"github.com/spool-broker/spool/protocol"
)

func (g *groupGlue) handleSyncGroup(ctx context.Context, rc *reqCtx, req *protocol.SyncGroupRequest) (*protocol.SyncGroupResponse, error) {
	resp := g.coord.SyncGroup(ctx, rc.v, req)
	if resp.Assignment == nil {
		resp.Assignment = []byte{}
	}
	g.countGroupError("SyncGroup", resp.ErrorCode)
	return resp, nil
}
