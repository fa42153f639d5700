package server

import (
	"context"

	"net"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

func (g *groupGlue) handleJoinGroup(ctx context.Context, rc *reqCtx, req *protocol.JoinGroupRequest) (*protocol.JoinGroupResponse, error) {
	if !g.b.authorize(rc, acl.OpRead, acl.ResourceGroup, string(req.GroupID)) { // authz.go
		g.countGroupError("JoinGroup", errcode.GroupAuthorizationFailed)
		resp := &protocol.JoinGroupResponse{ErrorCode: errcode.GroupAuthorizationFailed, GenerationID: -1, Members: []protocol.JoinGroupResponseMember{}}
		if rc.v < 7 {
			empty := ""
			resp.ProtocolName = &empty
		}
		return resp, nil
	}
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
