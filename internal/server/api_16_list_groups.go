package server

import (
	"context"

	"github.com/spool-broker/spool/protocol"
)

func (g *groupGlue) handleListGroups(ctx context.Context, rc *reqCtx, req *protocol.ListGroupsRequest) (*protocol.ListGroupsResponse, error) {
	code, groups := g.coord.ListGroups(req.StatesFilter, req.TypesFilter)
	resp := &protocol.ListGroupsResponse{ErrorCode: code, Groups: []protocol.ListGroupsResponseListedGroup{}}
	for _, l := range groups {
		resp.Groups = append(resp.Groups, protocol.ListGroupsResponseListedGroup{
			GroupID: protocol.GroupID(l.GroupID), ProtocolType: l.ProtocolType, GroupState: l.State, GroupType: l.Type,
		})
	}
	return resp, nil
}
