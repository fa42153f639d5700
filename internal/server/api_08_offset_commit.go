package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/coordinator/group"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// OffsetCommit (key 8): versions 0-10.
//
// Behaviour:
//   - An empty group id is a group like any other: Kafka accepts it "for
//     backwards compatibility" (compared with 4.3.1), and so does Spool.
//   - Served by the group coordinator for the group's __consumer_offsets
//     partition (NOT_COORDINATOR elsewhere, COORDINATOR_LOAD_IN_PROGRESS
//     while it loads). The offsets are appended there and answered once
//     committed.
//   - A commit with generation -1 and no member comes from outside the group
//     (a simple consumer or an admin) and is refused while a classic group
//     has members; otherwise member, generation (ILLEGAL_GENERATION) and
//     state (REBALANCE_IN_PROGRESS) are checked as ClassicGroup does, or the
//     member epoch as ConsumerGroup does (STALE_MEMBER_EPOCH,
//     FENCED_MEMBER_EPOCH).
//   - Topics the metadata lacks get UNKNOWN_TOPIC_OR_PARTITION (by name) or
//     UNKNOWN_TOPIC_ID (v10); metadata longer than offset.metadata.max.bytes,
//     OFFSET_METADATA_TOO_LARGE.
//   - Authorization (authz.go): READ on the group (GROUP_AUTHORIZATION_FAILED
//     for every partition), then READ on each topic
//     (TOPIC_AUTHORIZATION_FAILED).
//
// Version notes:
//   - v1: generation and member id. v2-v4: RetentionTimeMs (else
//     offsets.retention.minutes). v6: CommittedLeaderEpoch. v7:
//     GroupInstanceID (KIP-345). v8: flexible.
//   - v9: usable by KIP-848 consumer groups (member epoch in the generation
//     field); GROUP_ID_NOT_FOUND for a member commit to no group. v10: topic
//     IDs (KIP-848).
//
// Where Spool differs from Kafka 4.3:
//   - Versions 0-1 are served (Kafka 4 dropped them); v1's commit timestamp
//     is ignored.

func (gh *groupHandlers) handleOffsetCommit(ctx context.Context, rc *reqCtx, req *protocol.OffsetCommitRequest) (*protocol.OffsetCommitResponse, error) {
	img := gh.b.image.Load()
	creq := group.CommitRequest{
		Version: rc.v, Group: string(req.GroupID), Generation: req.GenerationIDOrMemberEpoch,
		MemberID: req.MemberID, InstanceID: req.GroupInstanceID, RetentionMs: -1,
	}
	if rc.v >= 2 && rc.v <= 4 {
		creq.RetentionMs = req.RetentionTimeMs
	}
	resp := &protocol.OffsetCommitResponse{Topics: make([]protocol.OffsetCommitResponseTopic, len(req.Topics))}
	// READ on the group, then READ on each topic (authz.go).
	groupAllowed := gh.b.authorize(rc, acl.OpRead, acl.ResourceGroup, string(req.GroupID))
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
		case code != errcode.UnknownTopicID && !gh.b.authorize(rc, acl.OpRead, acl.ResourceTopic, name):
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
	code, codes := gh.coord.CommitOffsets(ctx, creq)
	for k, r := range refs {
		pc := code
		if code == 0 {
			pc = codes[k]
		}
		resp.Topics[r.t].Partitions[r.p].ErrorCode = pc
	}
	return resp, nil
}
