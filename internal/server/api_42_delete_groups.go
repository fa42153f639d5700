package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

func (g *groupGlue) handleDeleteGroups(ctx context.Context, rc *reqCtx, req *protocol.DeleteGroupsRequest) (*protocol.DeleteGroupsResponse, error) {
	// DELETE on each group (authz.go); refused groups answer
	// GROUP_AUTHORIZATION_FAILED after the others, as in Kafka.
	var ids []string
	var denied []protocol.GroupID
	for _, id := range req.GroupsNames {
		if g.b.authorize(rc, acl.OpDelete, acl.ResourceGroup, string(id)) {
			ids = append(ids, string(id))
		} else {
			denied = append(denied, id)
		}
	}
	resp := &protocol.DeleteGroupsResponse{}
	if len(ids) > 0 {
		codes := g.coord.DeleteGroups(ctx, ids)
		for i, id := range ids {
			g.countGroupError("DeleteGroups", codes[i])
			resp.Results = append(resp.Results, protocol.DeleteGroupsResponseDeletableGroupResult{GroupID: protocol.GroupID(id), ErrorCode: codes[i]})
		}
	}
	for _, id := range denied {
		g.countGroupError("DeleteGroups", errcode.GroupAuthorizationFailed)
		resp.Results = append(resp.Results, protocol.DeleteGroupsResponseDeletableGroupResult{GroupID: id, ErrorCode: errcode.GroupAuthorizationFailed})
	}
	return resp, nil
}
