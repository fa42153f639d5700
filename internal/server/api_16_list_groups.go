package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
)

func (g *groupGlue) handleListGroups(ctx context.Context, rc *reqCtx, req *protocol.ListGroupsRequest) (*protocol.ListGroupsResponse, error) {
	code, groups := g.coord.ListGroups(req.StatesFilter, req.TypesFilter)
	resp := &protocol.ListGroupsResponse{ErrorCode: code, Groups: []protocol.ListGroupsResponseListedGroup{}}
	// DESCRIBE on the cluster lists every group; otherwise only the groups
	// the principal may DESCRIBE (authz.go).
	all := g.b.authorizeCluster(rc, acl.OpDescribe)
	for _, l := range groups {
		if !all && !g.b.authorize(rc, acl.OpDescribe, acl.ResourceGroup, l.GroupID) {
			continue
		}
		resp.Groups = append(resp.Groups, protocol.ListGroupsResponseListedGroup{
			GroupID: protocol.GroupID(l.GroupID), ProtocolType: l.ProtocolType, GroupState: l.State, GroupType: l.Type,
		})
	}
	return resp, nil
}
