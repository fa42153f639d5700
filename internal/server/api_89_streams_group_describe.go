package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// StreamsGroupDescribe (key 89): versions 0-1.
//
// Behaviour:
//   - An empty group id is answered INVALID_GROUP_ID after authorization,
//     before the coordinator is asked, as Kafka 4.3.1 does.
//   - Describes KIP-1071 streams groups: state (Empty, NotReady, Assigning,
//     Reconciling, Stable), group and assignment epochs, the topology as the
//     first member sent it (source topics resolved, repartition and
//     changelog topics), and each member's process id, endpoint, client
//     tags, task offsets and current and target assignments. Groups of
//     another type or unknown get GROUP_ID_NOT_FOUND with a message.
//   - Authorization (authz.go): DESCRIBE on each group, else
//     GROUP_AUTHORIZATION_FAILED; authorized operations, when asked for,
//     come from the authorizer.
//   - Version 1 (Kafka 4.4, KIP-1331): AssignorName is "sticky" for every
//     described group; with IncludeTopologyDescription the status is
//     NOT_STORED (1) and the description null, as Kafka 4.4.0 answers
//     without a topology description plugin (StreamsGroupTopologyDescription-
//     Update is refused, so none is ever stored); NOT_REQUESTED (0) without.
//   - Served only when group.coordinator.rebalance.protocols includes
//     "streams"; UNSUPPORTED_VERSION for every group while streams.version
//     is not finalized.
//
// Version notes:
//   - v0 is Kafka 4.3.1's only version (KIP-1071).
//   - v1 is Kafka 4.4.0's (KIP-1331): IncludeTopologyDescription in the
//     request; TopologyDescription, TopologyDescriptionStatus and
//     AssignorName per group in the response.
//
// Where Spool differs from Kafka 4.3:
//   - v1 is Kafka 4.4.0's; Kafka 4.3.1 serves v0 only.
//   - Only DESCRIBE on the group is checked. Kafka 4.3.1's spec lists
//     TOPIC_AUTHORIZATION_FAILED for this API; Spool never answers it.

// streamsAssignorName is the task assignor StreamsGroupDescribe v1 names:
// Kafka's default group.streams.assignor, whose behaviour Spool's
// streams_assignor.go follows.
const streamsAssignorName = "sticky"

// topologyDescriptionNotStored is StreamsGroupDescribe v1's
// TopologyDescriptionStatus NOT_STORED: no description is recorded for the
// group (0 is NOT_REQUESTED, 2 ERROR, 3 AVAILABLE).
const topologyDescriptionNotStored int8 = 1

func (gh *groupHandlers) handleStreamsGroupDescribe(ctx context.Context, rc *reqCtx, req *protocol.StreamsGroupDescribeRequest) (*protocol.StreamsGroupDescribeResponse, error) {
	resp := &protocol.StreamsGroupDescribeResponse{Groups: []protocol.StreamsGroupDescribeResponseDescribedGroup{}}
	enabled := gh.b.streamsGroupsEnabled()
	for _, id := range req.GroupIDs {
		fail := func(code int16) {
			msg := errcode.Message(code)
			resp.Groups = append(resp.Groups, protocol.StreamsGroupDescribeResponseDescribedGroup{GroupID: id,
				ErrorCode: code, ErrorMessage: &msg, AuthorizedOperations: notRequestedOps,
				Members: []protocol.StreamsGroupDescribeResponseMember{}})
		}
		if !enabled {
			fail(errcode.UnsupportedVersion)
			continue
		}
		if !gh.b.authorize(rc, acl.OpDescribe, acl.ResourceGroup, string(id)) { // authz.go
			fail(errcode.GroupAuthorizationFailed)
			continue
		}
		if id == "" { // as Kafka's GroupCoordinatorService, before the coordinator
			fail(errcode.InvalidGroupID)
			continue
		}
		d := gh.coord.DescribeStreamsGroup(ctx, string(id))
		d.AuthorizedOperations = notRequestedOps
		if d.ErrorCode == errcode.None {
			if req.IncludeAuthorizedOperations {
				d.AuthorizedOperations = gh.b.authorizedOperations(rc, acl.ResourceGroup, string(id))
			}
			assignor := streamsAssignorName
			d.AssignorName = &assignor
			if req.IncludeTopologyDescription {
				d.TopologyDescriptionStatus = topologyDescriptionNotStored
			}
		}
		resp.Groups = append(resp.Groups, d)
	}
	return resp, nil
}
