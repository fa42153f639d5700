package server

import (
	"context"

	"github.com/spool-broker/spool/coordinator/group"
	"github.com/spool-broker/spool/protocol"
)

// OffsetDelete (key 47): version 0.
//
// Behaviour:
//   - Deletes a group's committed offsets for the given partitions by
//     writing tombstones. A topic the group's members are subscribed to gets
//     GROUP_SUBSCRIBED_TO_TOPIC; a classic group with members that is not a
//     consumer-protocol group, NON_EMPTY_GROUP; an unknown group,
//     GROUP_ID_NOT_FOUND.

func (gh *groupHandlers) handleOffsetDelete(ctx context.Context, rc *reqCtx, req *protocol.OffsetDeleteRequest) (*protocol.OffsetDeleteResponse, error) {
	topics := make([]group.TopicPartitions, len(req.Topics))
	for i, t := range req.Topics {
		topics[i].Topic = string(t.Name)
		for _, p := range t.Partitions {
			topics[i].Partitions = append(topics[i].Partitions, p.PartitionIndex)
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
			rt.Partitions = append(rt.Partitions, protocol.OffsetDeleteResponsePartition{PartitionIndex: p.PartitionIndex, ErrorCode: codes[i][j]})
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}
