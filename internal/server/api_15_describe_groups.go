package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// DescribeGroups (key 15): versions 0-6.
//
// Behaviour:
//   - An empty group id is described as unknown (Dead; v6+
//     GROUP_ID_NOT_FOUND), as Kafka 4.3.1 answers it.
//   - Describes classic groups from their coordinator: state, protocol type,
//     and members; the protocol name and the members' metadata and
//     assignments only when the group is Stable, as in Kafka.
//   - An unknown group, or a KIP-848 consumer group (described by
//     ConsumerGroupDescribe instead), is reported Dead without members;
//     so is a KIP-1071 streams group (StreamsGroupDescribe).
//   - Authorization (authz.go): DESCRIBE on each group, else
//     GROUP_AUTHORIZATION_FAILED; authorized operations, when asked for,
//     come from the authorizer.
//
// Version notes:
//   - v3: IncludeAuthorizedOperations. v4: members' GroupInstanceID. v5:
//     flexible. v6: unknown groups are GROUP_ID_NOT_FOUND with a message
//     rather than Dead (KIP-1043).
//
// Where Spool differs from Kafka 4.3:
//   - A consumer group is always reported as not classic: Spool has no
//     mixed groups (see JoinGroup).

func (gh *groupHandlers) handleDescribeGroups(ctx context.Context, rc *reqCtx, req *protocol.DescribeGroupsRequest) (*protocol.DescribeGroupsResponse, error) {
	resp := &protocol.DescribeGroupsResponse{}
	for _, id := range req.Groups {
		if !gh.b.authorize(rc, acl.OpDescribe, acl.ResourceGroup, string(id)) { // authz.go
			resp.Groups = append(resp.Groups, protocol.DescribeGroupsResponseDescribedGroup{GroupID: id,
				ErrorCode: errcode.GroupAuthorizationFailed, AuthorizedOperations: notRequestedOps,
				Members: []protocol.DescribeGroupsResponseDescribedGroupMember{}})
			continue
		}
		d := gh.coord.DescribeGroup(ctx, string(id))
		dg := protocol.DescribeGroupsResponseDescribedGroup{
			GroupID: id, ErrorCode: d.ErrorCode, GroupState: d.State, ProtocolType: d.ProtocolType,
			ProtocolData: d.Protocol, AuthorizedOperations: notRequestedOps,
		}
		if req.IncludeAuthorizedOperations {
			dg.AuthorizedOperations = gh.b.authorizedOperations(rc, acl.ResourceGroup, string(id))
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
		resp.Groups = append(resp.Groups, dg)
	}
	return resp, nil
}
