package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/coordinator/group"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

func (g *groupGlue) handleOffsetDelete(ctx context.Context, rc *reqCtx, req *protocol.OffsetDeleteRequest) (*protocol.OffsetDeleteResponse, error) {
	// DELETE on the group, READ on each topic (authz.go).
	if !g.b.authorize(rc, acl.OpDelete, acl.ResourceGroup, string(req.GroupID)) {
		g.countGroupError("OffsetDelete", errcode.GroupAuthorizationFailed)
		return &protocol.OffsetDeleteResponse{ErrorCode: errcode.GroupAuthorizationFailed}, nil
	}
	var topics []group.TopicPartitions
	slot := make([]int, len(req.Topics)) // index into topics, -1: denied
	for i, t := range req.Topics {
		if !g.b.authorize(rc, acl.OpRead, acl.ResourceTopic, string(t.Name)) {
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
	code, codes := g.coord.DeleteOffsets(ctx, string(req.GroupID), topics)
	resp := &protocol.OffsetDeleteResponse{ErrorCode: code}
	g.countGroupError("OffsetDelete", code)
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
