package server

import (
	"context"

	"net"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// JoinGroup (key 11): versions 0-9.
//
// Behaviour:
//   - The classic group protocol, as Kafka's ClassicGroup: the request parks
//     until the join phase ends (all known members rejoined or the rebalance
//     timeout passed, after group.initial.rebalance.delay.ms for a new
//     group), then the leader gets the members' metadata.
//   - SessionTimeoutMs outside group.min/max.session.timeout.ms is
//     INVALID_SESSION_TIMEOUT; beyond group.max.size members,
//     GROUP_MAX_SIZE_REACHED; a protocol type or protocols no member shares,
//     INCONSISTENT_GROUP_PROTOCOL.
//   - An empty KIP-848 consumer group turns classic on the first join,
//     keeping its offsets.
//   - Authorization (authz.go): READ on the group
//     (GROUP_AUTHORIZATION_FAILED).
//
// Version notes:
//   - v1: RebalanceTimeoutMs (v0 uses the session timeout). v4: a new member
//     first gets MEMBER_ID_REQUIRED and its id (KIP-394). v5:
//     GroupInstanceID, static membership (KIP-345). v6: flexible.
//   - v7: ProtocolType in the response (KIP-559). v8: Reason (KIP-800).
//   - v9: SkipAssignment, a rejoining static leader keeps the assignment
//     (KIP-814).
//
// Where Spool differs from Kafka 4.3:
//   - Classic members cannot join a consumer group that has members
//     (INCONSISTENT_GROUP_PROTOCOL); Kafka runs such mixed groups.

func (gh *groupHandlers) handleJoinGroup(ctx context.Context, rc *reqCtx, req *protocol.JoinGroupRequest) (*protocol.JoinGroupResponse, error) {
	if !gh.b.authorize(rc, acl.OpRead, acl.ResourceGroup, string(req.GroupID)) { // authz.go
		resp := &protocol.JoinGroupResponse{ErrorCode: errcode.GroupAuthorizationFailed, GenerationID: -1, Members: []protocol.JoinGroupResponseMember{}}
		if rc.v < 7 {
			empty := ""
			resp.ProtocolName = &empty
		}
		return resp, nil
	}
	resp := gh.coord.JoinGroup(ctx, rc.v, requestClientID(rc), clientHost(rc), req)
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
