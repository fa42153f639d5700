package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// ShareGroupDescribe (key 77): version 1.
//
// Behaviour:
//   - An empty group id is answered INVALID_GROUP_ID after authorization,
//     before the coordinator is asked, as Kafka 4.3.1 does.
//   - Describes share groups: state (Empty, Stable), group and assignment
//     epochs, the assignor ("simple"), and each member's subscription and
//     assignment. Unknown groups and groups of another type get
//     GROUP_ID_NOT_FOUND with a message.
//   - Authorization (authz.go): DESCRIBE on each group, else
//     GROUP_AUTHORIZATION_FAILED; authorized operations, when asked for,
//     come from the authorizer.
//
// Version notes:
//   - v1 is the first stable version (KIP-932) and the only one Kafka 4.3.1
//     defines; v0, Kafka 4.0's early-access version, is not served (as
//     Kafka 4.1+).
//
// Where Spool differs from Kafka 4.3:
//   - Only DESCRIBE on the group is checked. Kafka 4.3.1's spec lists
//     TOPIC_AUTHORIZATION_FAILED (v1+) for a group whose members use topics
//     the principal may not DESCRIBE; Spool never answers it.

func (gh *groupHandlers) handleShareGroupDescribe(ctx context.Context, rc *reqCtx, req *protocol.ShareGroupDescribeRequest) (*protocol.ShareGroupDescribeResponse, error) {
	resp := &protocol.ShareGroupDescribeResponse{Groups: []protocol.ShareGroupDescribeResponseDescribedGroup{}}
	for _, id := range req.GroupIDs {
		if !gh.b.authorize(rc, acl.OpDescribe, acl.ResourceGroup, string(id)) { // authz.go
			msg := errcode.Message(errcode.GroupAuthorizationFailed)
			resp.Groups = append(resp.Groups, protocol.ShareGroupDescribeResponseDescribedGroup{GroupID: id,
				ErrorCode: errcode.GroupAuthorizationFailed, ErrorMessage: &msg, AuthorizedOperations: notRequestedOps,
				Members: []protocol.ShareGroupDescribeResponseMember{}})
			continue
		}
		if id == "" { // as Kafka's GroupCoordinatorService, before the coordinator
			msg := errcode.Message(errcode.InvalidGroupID)
			resp.Groups = append(resp.Groups, protocol.ShareGroupDescribeResponseDescribedGroup{GroupID: id,
				ErrorCode: errcode.InvalidGroupID, ErrorMessage: &msg, AuthorizedOperations: notRequestedOps,
				Members: []protocol.ShareGroupDescribeResponseMember{}})
			continue
		}
		d := gh.coord.DescribeShareGroup(string(id))
		d.AuthorizedOperations = notRequestedOps
		if req.IncludeAuthorizedOperations && d.ErrorCode == 0 {
			d.AuthorizedOperations = gh.b.authorizedOperations(rc, acl.ResourceGroup, string(id))
		}
		resp.Groups = append(resp.Groups, d)
	}
	return resp, nil
}
