package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// DeleteGroups (key 42): versions 0-3.
//
// Behaviour:
//   - Each group's coordinator deletes it with its committed offsets by
//     writing tombstones; a group with members is NON_EMPTY_GROUP, an
//     unknown one GROUP_ID_NOT_FOUND. Classic, consumer, share and streams
//     groups alike.
//   - Authorization (authz.go): DELETE on each group
//     (GROUP_AUTHORIZATION_FAILED, after the others).
//
// Version notes:
//   - v2: flexible. v3 (Kafka 4.4): a per-group ErrorMessage, null unless
//     the broker has a cause to report beyond the code; Spool's coordinator
//     reports codes only (as Kafka's for NON_EMPTY_GROUP and
//     GROUP_ID_NOT_FOUND), so it is always null.
//
// Where Spool differs from Kafka 4.3:
//   - None known: every field of v0-v3 is answered (v3's ErrorMessage
//     always null, see the version notes).

func (gh *groupHandlers) handleDeleteGroups(ctx context.Context, rc *reqCtx, req *protocol.DeleteGroupsRequest) (*protocol.DeleteGroupsResponse, error) {
	// DELETE on each group (authz.go); refused groups answer
	// GROUP_AUTHORIZATION_FAILED after the others, as in Kafka.
	var ids []string
	var denied []protocol.GroupID
	for _, id := range req.GroupsNames {
		if gh.b.authorize(rc, acl.OpDelete, acl.ResourceGroup, string(id)) {
			ids = append(ids, string(id))
		} else {
			denied = append(denied, id)
		}
	}
	resp := &protocol.DeleteGroupsResponse{}
	if len(ids) > 0 {
		codes := gh.coord.DeleteGroups(ctx, ids)
		for i, id := range ids {
			resp.Results = append(resp.Results, protocol.DeleteGroupsResponseDeletableGroupResult{GroupID: protocol.GroupID(id), ErrorCode: codes[i]})
		}
	}
	for _, id := range denied {
		resp.Results = append(resp.Results, protocol.DeleteGroupsResponseDeletableGroupResult{GroupID: id, ErrorCode: errcode.GroupAuthorizationFailed})
	}
	return resp, nil
}
