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
//   - An empty group id is answered INVALID_GROUP_ID after authorization,
//     before the coordinator is asked, as Kafka 4.3.1 does.
//   - Deletes a group's committed offsets for the given partitions by
//     writing tombstones. A topic the group's members are subscribed to gets
//     GROUP_SUBSCRIBED_TO_TOPIC; a classic group with members that is not a
//     consumer-protocol group, NON_EMPTY_GROUP; an unknown group,
//     GROUP_ID_NOT_FOUND.
//   - A topic or partition the metadata does not know is answered
//     UNKNOWN_TOPIC_OR_PARTITION, as Kafka's KafkaApis does.
//   - Authorization (authz.go): DELETE on the group
//     (GROUP_AUTHORIZATION_FAILED), READ on each topic
//     (TOPIC_AUTHORIZATION_FAILED).
//
// Where Spool differs from Kafka 4.3:
//   - A share group passes the group checks and answers per partition;
//     Kafka refuses it whole (ShareGroup.validateOffsetDelete:
//     GROUP_ID_NOT_FOUND, "Group <id> is not a consumer group.").

func (gh *groupHandlers) handleOffsetDelete(ctx context.Context, rc *reqCtx, req *protocol.OffsetDeleteRequest) (*protocol.OffsetDeleteResponse, error) {
	// DELETE on the group, READ on each topic (authz.go).
	if !gh.b.authorize(rc, acl.OpDelete, acl.ResourceGroup, string(req.GroupID)) {
		return &protocol.OffsetDeleteResponse{ErrorCode: errcode.GroupAuthorizationFailed}, nil
	}
	if req.GroupID == "" { // as Kafka's GroupCoordinatorService, before the coordinator
		return &protocol.OffsetDeleteResponse{ErrorCode: errcode.InvalidGroupID}, nil
	}
	// As Kafka's KafkaApis: a denied topic answers TOPIC_AUTHORIZATION_FAILED
	// and a topic or partition the metadata does not know
	// UNKNOWN_TOPIC_OR_PARTITION on each of its partitions; the rest go to
	// the coordinator.
	img := gh.b.image.Load()
	var topics []group.TopicPartitions
	// slots[i][j] is partition j of topic i: the code it is answered without
	// the coordinator, or -1 and where it went (codes[topic][index]).
	type sent struct {
		topic, index int
		code         int16
	}
	slots := make([][]sent, len(req.Topics))
	for i, t := range req.Topics {
		allowed := gh.b.authorize(rc, acl.OpRead, acl.ResourceTopic, string(t.Name))
		mt := img.Topic(string(t.Name))
		tp := group.TopicPartitions{Topic: string(t.Name)}
		for _, p := range t.Partitions {
			switch {
			case !allowed:
				slots[i] = append(slots[i], sent{code: errcode.TopicAuthorizationFailed})
			case mt == nil || p.PartitionIndex < 0 || int(p.PartitionIndex) >= len(mt.Partitions):
				slots[i] = append(slots[i], sent{code: errcode.UnknownTopicOrPartition})
			default:
				slots[i] = append(slots[i], sent{topic: len(topics), index: len(tp.Partitions), code: -1})
				tp.Partitions = append(tp.Partitions, p.PartitionIndex)
			}
		}
		if len(tp.Partitions) > 0 {
			topics = append(topics, tp)
		}
	}
	code, codes := gh.coord.DeleteOffsets(ctx, string(req.GroupID), topics)
	resp := &protocol.OffsetDeleteResponse{ErrorCode: code}
	if code != 0 {
		return resp, nil
	}
	for i, t := range req.Topics {
		rt := protocol.OffsetDeleteResponseTopic{Name: t.Name}
		for j, p := range t.Partitions {
			pc := slots[i][j].code
			if pc == -1 {
				pc = codes[slots[i][j].topic][slots[i][j].index]
			}
			rt.Partitions = append(rt.Partitions, protocol.OffsetDeleteResponsePartition{PartitionIndex: p.PartitionIndex, ErrorCode: pc})
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}
