package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

func (g *groupGlue) handleDescribeGroups(ctx context.Context, rc *reqCtx, req *protocol.DescribeGroupsRequest) (*protocol.DescribeGroupsResponse, error) {
	resp := &protocol.DescribeGroupsResponse{}
	for _, id := range req.Groups {
		if !g.b.authorize(rc, acl.OpDescribe, acl.ResourceGroup, string(id)) { // authz.go
			g.countGroupError("DescribeGroups", errcode.GroupAuthorizationFailed)
			resp.Groups = append(resp.Groups, protocol.DescribeGroupsResponseDescribedGroup{GroupID: id,
				ErrorCode: errcode.GroupAuthorizationFailed, AuthorizedOperations: notRequestedOps,
				Members: []protocol.DescribeGroupsResponseDescribedGroupMember{}})
			continue
		}
		d := g.coord.DescribeGroup(ctx, string(id))
		dg := protocol.DescribeGroupsResponseDescribedGroup{
			GroupID: id, ErrorCode: d.ErrorCode, GroupState: d.State, ProtocolType: d.ProtocolType,
			ProtocolData: d.Protocol, AuthorizedOperations: notRequestedOps,
		}
		if req.IncludeAuthorizedOperations {
			dg.AuthorizedOperations = g.b.authorizedOperations(rc, acl.ResourceGroup, string(id))
		}
		if d.ErrorCode == 0 && !d.Found && rc.v >= 6 {
			// KIP-1043: v6 reports unknown groups as an error, not as Dead.
			dg.ErrorCode = errcode.GroupIDNotFound
			msg := d.ErrorMessage
			dg.ErrorMessage = &msg
		}
		for _, m := range d.Members {
			dg.Members = append(dg.Members, protocol.DescribeGroupsResponseDescribedGroupMember{
				MemberID: m.MemberID, GroupInstanceID: m.GroupInstanceID, ClientID: m.ClientID, ClientHost: m.ClientHost,
				MemberMetadata: m.Metadata, MemberAssignment: m.Assignment,
			})
		}
		g.countGroupError("DescribeGroups", dg.ErrorCode)
		resp.Groups = append(resp.Groups, dg)
	}
	return resp, nil
}
