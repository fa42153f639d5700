package server

import (
	"context"

	"github.com/spool-broker/spool/protocol"
)

// DeleteGroups (key 42): versions 0-2.
//
// Behaviour:
//   - Each group's coordinator deletes it with its committed offsets by
//     writing tombstones; a group with members is NON_EMPTY_GROUP, an
//     unknown one GROUP_ID_NOT_FOUND. Classic and consumer groups alike.
//
// Version notes:
//   - v2: flexible.

func (gh *groupHandlers) handleDeleteGroups(ctx context.Context, rc *reqCtx, req *protocol.DeleteGroupsRequest) (*protocol.DeleteGroupsResponse, error) {
	ids := make([]string, len(req.GroupsNames))
	for i, id := range req.GroupsNames {
		ids[i] = string(id)
	}
	codes := gh.coord.DeleteGroups(ctx, ids)
	resp := &protocol.DeleteGroupsResponse{}
	for i, id := range req.GroupsNames {
		resp.Results = append(resp.Results, protocol.DeleteGroupsResponseDeletableGroupResult{GroupID: id, ErrorCode: codes[i]})
	}
	return resp, nil
}
