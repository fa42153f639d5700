package server

import (
	"context"

	"slices"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// ConsumerGroupDescribe (key 69): versions 0-1.
//
// Behaviour:
//   - An empty group id is answered INVALID_GROUP_ID after authorization,
//     before the coordinator is asked, as Kafka 4.3.1 does.
//   - Describes KIP-848 consumer groups: state, group and assignment epochs,
//     assignor, and each member's subscription and current and target
//     assignments (partitions of deleted topics left out). Groups that are
//     classic or unknown get GROUP_ID_NOT_FOUND with a message.
//   - Authorization (authz.go): DESCRIBE on each group, else
//     GROUP_AUTHORIZATION_FAILED; authorized operations, when asked for,
//     come from the authorizer.
//   - Served only when group.coordinator.rebalance.protocols includes
//     "consumer".
//
// Version notes:
//   - v1: MemberType (KIP-1099); always consumer (1) here.
//
// Where Spool differs from Kafka 4.3:
//   - Only DESCRIBE on the group is checked. Kafka 4.3.1's spec lists
//     TOPIC_AUTHORIZATION_FAILED for this API (a group whose members use
//     topics the principal may not DESCRIBE); Spool never answers it.
//   - MemberType is always consumer: Spool has no classic members in
//     consumer groups (see JoinGroup).

func (gh *groupHandlers) handleConsumerGroupDescribe(ctx context.Context, rc *reqCtx, req *protocol.ConsumerGroupDescribeRequest) (*protocol.ConsumerGroupDescribeResponse, error) {
	img := gh.b.image.Load()
	resp := &protocol.ConsumerGroupDescribeResponse{}
	for _, id := range req.GroupIDs {
		if !gh.b.authorize(rc, acl.OpDescribe, acl.ResourceGroup, string(id)) { // authz.go
			msg := errcode.Message(errcode.GroupAuthorizationFailed)
			resp.Groups = append(resp.Groups, protocol.ConsumerGroupDescribeResponseDescribedGroup{GroupID: id,
				ErrorCode: errcode.GroupAuthorizationFailed, ErrorMessage: &msg, AuthorizedOperations: notRequestedOps,
				Members: []protocol.ConsumerGroupDescribeResponseMember{}})
			continue
		}
		if id == "" { // as Kafka's GroupCoordinatorService, before the coordinator
			msg := errcode.Message(errcode.InvalidGroupID)
			resp.Groups = append(resp.Groups, protocol.ConsumerGroupDescribeResponseDescribedGroup{GroupID: id,
				ErrorCode: errcode.InvalidGroupID, ErrorMessage: &msg, AuthorizedOperations: notRequestedOps,
				Members: []protocol.ConsumerGroupDescribeResponseMember{}})
			continue
		}
		d := gh.coord.DescribeConsumerGroup(ctx, string(id))
		dg := protocol.ConsumerGroupDescribeResponseDescribedGroup{
			GroupID: id, ErrorCode: d.ErrorCode, GroupState: d.State, GroupEpoch: d.Epoch, AssignmentEpoch: d.AssignmentEpoch,
			AssignorName: d.AssignorName, AuthorizedOperations: notRequestedOps, Members: []protocol.ConsumerGroupDescribeResponseMember{},
		}
		if d.ErrorMessage != "" {
			msg := d.ErrorMessage
			dg.ErrorMessage = &msg
		}
		if req.IncludeAuthorizedOperations && d.ErrorCode == 0 {
			dg.AuthorizedOperations = gh.b.authorizedOperations(rc, acl.ResourceGroup, string(id))
		}
		for _, m := range d.Members {
			dm := protocol.ConsumerGroupDescribeResponseMember{
				MemberID: m.MemberID, InstanceID: m.InstanceID, RackID: m.RackID, MemberEpoch: m.MemberEpoch,
				ClientID: m.ClientID, ClientHost: m.ClientHost, SubscribedTopicRegex: m.TopicRegex,
				SubscribedTopicNames: []protocol.TopicName{},
				Assignment:           describedAssignment(img, m.Assignment),
				TargetAssignment:     describedAssignment(img, m.TargetAssignment),
				MemberType:           1, // consumer protocol (0 would be classic)
			}
			for _, t := range m.TopicNames {
				dm.SubscribedTopicNames = append(dm.SubscribedTopicNames, protocol.TopicName(t))
			}
			dg.Members = append(dg.Members, dm)
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return resp, nil
}

// describedAssignment names the topics of an assignment; partitions of
// topics deleted since are left out, as Kafka does.
func describedAssignment(img *controller.MetadataImage, a map[protocol.UUID][]int32) protocol.ConsumerGroupDescribeResponseAssignment {
	out := protocol.ConsumerGroupDescribeResponseAssignment{TopicPartitions: []protocol.ConsumerGroupDescribeResponseTopicPartitions{}}
	for id, ps := range a {
		t := img.TopicByID(topicIDOf(id))
		if t == nil || len(ps) == 0 {
			continue
		}
		out.TopicPartitions = append(out.TopicPartitions, protocol.ConsumerGroupDescribeResponseTopicPartitions{
			TopicID: id, TopicName: protocol.TopicName(t.Name), Partitions: slices.Clone(ps),
		})
	}
	slices.SortFunc(out.TopicPartitions, func(a, b protocol.ConsumerGroupDescribeResponseTopicPartitions) int {
		if a.TopicName < b.TopicName {
			return -1
		}
		if a.TopicName > b.TopicName {
			return 1
		}
		return 0
	})
	return out
}
