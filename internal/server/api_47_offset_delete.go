package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/coordinator/group"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// OffsetDelete (key 47): version 0.
//
// Behaviour:
//   - Deletes a group's committed offsets for the given partitions by
//     writing tombstones. A topic the group's members are subscribed to gets
//     GROUP_SUBSCRIBED_TO_TOPIC; a classic group with members that is not a
//     consumer-protocol group, NON_EMPTY_GROUP; an unknown group,
//     GROUP_ID_NOT_FOUND.
//   - Authorization (authz.go): DELETE on the group
//     (GROUP_AUTHORIZATION_FAILED), READ on each topic
//     (TOPIC_AUTHORIZATION_FAILED).
//
// Where Spool differs from Kafka 4.3:
//   - A partition of a topic or partition the metadata does not know gets
//     NONE (nothing to delete); Kafka's KafkaApis answers
//     UNKNOWN_TOPIC_OR_PARTITION for it.
//   - An empty GroupID is GROUP_ID_NOT_FOUND here, INVALID_GROUP_ID in
//     Kafka's GroupCoordinatorService.
//   - A share group passes the group checks and answers per partition;
//     Kafka refuses it whole (ShareGroup.validateOffsetDelete:
//     GROUP_ID_NOT_FOUND, "Group <id> is not a consumer group.").

func (gh *groupHandlers) handleOffsetDelete(ctx context.Context, rc *reqCtx, req *protocol.OffsetDeleteRequest) (*protocol.OffsetDeleteResponse, error) {
	// DELETE on the group, READ on each topic (authz.go).
	if !gh.b.authorize(rc, acl.OpDelete, acl.ResourceGroup, string(req.GroupID)) {
		return &protocol.OffsetDeleteResponse{ErrorCode: errcode.GroupAuthorizationFailed}, nil
	}
	var topics []group.TopicPartitions
	slot := make([]int, len(req.Topics)) // index into topics, -1: denied
	for i, t := range req.Topics {
		if !gh.b.authorize(rc, acl.OpRead, acl.ResourceTopic, string(t.Name)) {
			slot[i] = -1
			continue
		}
		slot[i] = len(topics)
		tp := group.TopicPartitions{Topic: string(t.Name)}
		for _, p := range t.Partitions {
			tp.Partitions = append(tp.Partitions, p.PartitionIndex)
		}
		topics = append(topics, tp)
	}
	code, codes := gh.coord.DeleteOffsets(ctx, string(req.GroupID), topics)
	resp := &protocol.OffsetDeleteResponse{ErrorCode: code}
	if code != 0 {
		return resp, nil
	}
	for i, t := range req.Topics {
		rt := protocol.OffsetDeleteResponseTopic{Name: t.Name}
		for j, p := range t.Partitions {
			pc := errcode.TopicAuthorizationFailed
			if slot[i] >= 0 {
				pc = codes[slot[i]][j]
			}
			rt.Partitions = append(rt.Partitions, protocol.OffsetDeleteResponsePartition{PartitionIndex: p.PartitionIndex, ErrorCode: pc})
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}
