package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
)

// ListGroups (key 16): versions 0-5.
//
// Behaviour:
//   - Lists the groups of the __consumer_offsets partitions this broker leads
//     (clients ask every broker), classic, consumer, share and streams, sorted by id; the
//     code is COORDINATOR_LOAD_IN_PROGRESS while a partition still loads.
//   - Filters match case-insensitively; empty filters match everything.
//   - Authorization (authz.go): DESCRIBE on the cluster lists every group;
//     otherwise only the groups the principal may DESCRIBE.
//
// Version notes:
//   - v3: flexible. v4: StatesFilter and GroupState (KIP-518). v5:
//     TypesFilter and GroupType (KIP-848).
//
// Where Spool differs from Kafka 4.3:
//   - While a partition loads, the answer is COORDINATOR_LOAD_IN_PROGRESS
//     with the groups of the partitions already loaded; Kafka's
//     GroupCoordinatorService answers the error with no groups. A partition
//     whose load failed is skipped silently here.
//   - Groups are sorted by id; Kafka answers in its shards' order.

func (gh *groupHandlers) handleListGroups(ctx context.Context, rc *reqCtx, req *protocol.ListGroupsRequest) (*protocol.ListGroupsResponse, error) {
	code, groups := gh.coord.ListGroups(req.StatesFilter, req.TypesFilter)
	resp := &protocol.ListGroupsResponse{ErrorCode: code, Groups: []protocol.ListGroupsResponseListedGroup{}}
	// DESCRIBE on the cluster lists every group; otherwise only the groups
	// the principal may DESCRIBE (authz.go).
	all := gh.b.authorizeCluster(rc, acl.OpDescribe)
	for _, l := range groups {
		if !all && !gh.b.authorize(rc, acl.OpDescribe, acl.ResourceGroup, l.GroupID) {
			continue
		}
		resp.Groups = append(resp.Groups, protocol.ListGroupsResponseListedGroup{
			GroupID: protocol.GroupID(l.GroupID), ProtocolType: l.ProtocolType, GroupState: l.State, GroupType: l.Type,
		})
	}
	return resp, nil
}
