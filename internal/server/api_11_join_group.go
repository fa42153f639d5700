package server

import (
	"context"
	"net"

	"github.com/spool-broker/spool/protocol"
)

func (g *groupGlue) handleJoinGroup(ctx context.Context, rc *reqCtx, req *protocol.JoinGroupRequest) (*protocol.JoinGroupResponse, error) {
	resp := g.coord.JoinGroup(ctx, rc.v, requestClientID(rc), clientHost(rc), req)
	g.countGroupError("JoinGroup", resp.ErrorCode)
	return resp, nil
}

// clientHost is the client's address as Kafka reports it ("/127.0.0.1").
func clientHost(rc *reqCtx) string {
	if rc.c.nc == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(rc.c.nc.RemoteAddr().String())
	if err != nil {
		return "/" + rc.c.nc.RemoteAddr().String()
	}
	return "/" + host
}

func requestClientID(rc *reqCtx) string {
	if rc.hdr.ClientID != nil {
		return *rc.hdr.ClientID
	}
	return ""
}
