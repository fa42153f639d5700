package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/coordinator/group"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

func (g *groupGlue) handleOffsetCommit(ctx context.Context, rc *reqCtx, req *protocol.OffsetCommitRequest) (*protocol.OffsetCommitResponse, error) {
	img := g.b.image.Load()
	creq := group.CommitRequest{
		Version: rc.v, Group: string(req.GroupID), Generation: req.GenerationIDOrMemberEpoch,
		MemberID: req.MemberID, InstanceID: req.GroupInstanceID, RetentionMs: -1,
	}
	if rc.v >= 2 && rc.v <= 4 {
		creq.RetentionMs = req.RetentionTimeMs
	}
	resp := &protocol.OffsetCommitResponse{Topics: make([]protocol.OffsetCommitResponseTopic, len(req.Topics))}
	// READ on the group, then READ on each topic (authz.go).
	groupAllowed := g.b.authorize(rc, acl.OpRead, acl.ResourceGroup, string(req.GroupID))
	type ref struct{ t, p int }
	var refs []ref
	for i, t := range req.Topics {
		rt := &resp.Topics[i]
		rt.Name, rt.TopicID = t.Name, t.TopicID
		name, code := string(t.Name), int16(0)
		if rc.v >= 10 {
			if ti := img.TopicByID(topicIDOf(t.TopicID)); ti != nil {
				name = ti.Name
			} else {
				code = errcode.UnknownTopicID
			}
		} else if img.Topic(name) == nil {
			code = errcode.UnknownTopicOrPartition
		}
		switch {
		case !groupAllowed:
			code = errcode.GroupAuthorizationFailed
		case code != errcode.UnknownTopicID && !g.b.authorize(rc, acl.OpRead, acl.ResourceTopic, name):
			code = errcode.TopicAuthorizationFailed
		}
		for j, p := range t.Partitions {
			rt.Partitions = append(rt.Partitions, protocol.OffsetCommitResponsePartition{PartitionIndex: p.PartitionIndex, ErrorCode: code})
			if code != 0 {
				continue
			}
			refs = append(refs, ref{i, j})
			creq.Offsets = append(creq.Offsets, group.OffsetCommit{
				Topic: name, Partition: p.PartitionIndex, Offset: p.CommittedOffset,
				LeaderEpoch: p.CommittedLeaderEpoch, Metadata: p.CommittedMetadata,
			})
		}
	}
	if len(creq.Offsets) == 0 && creq.Group != "" {
		return resp, nil
	}
	code, codes := g.coord.CommitOffsets(ctx, creq)
	g.countGroupError("OffsetCommit", code)
	for k, r := range refs {
		pc := code
		if code == 0 {
			pc = codes[k]
		}
		resp.Topics[r.t].Partitions[r.p].ErrorCode = pc
	}
	return resp, nil
}
