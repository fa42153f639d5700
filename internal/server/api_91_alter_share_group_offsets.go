package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/coordinator/share"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// AlterShareGroupOffsets (key 91): version 0.
//
// Behaviour:
//   - Sets the share-partition start offset of each partition given
//     (kafka-share-groups.sh --reset-offsets): the state is rewritten with
//     a bumped state epoch and no in-flight records, and the share
//     partition this broker keeps for it, if any, is dropped so the next
//     ShareFetch starts from the new offset.
//   - The group must have no members (NON_EMPTY_GROUP); a group that does
//     not exist is created empty; a group of another type is
//     GROUP_ID_NOT_FOUND.
//   - Unknown topics and partitions: UNKNOWN_TOPIC_OR_PARTITION per
//     partition.
//   - Authorization (authz.go): READ on the group, READ on each topic.
//
// The share partition kept by another broker (the leader of the topic
// partition) is replaced when a member next opens a share session there (it
// rereads the state and finds the newer state epoch), or when its next
// write is fenced by it.
//
// Where Spool differs from Kafka 4.3:
//   - Not compared beyond the Behaviour above: StartOffset is written as
//     given (no check against the partition's log start or end), and an
//     empty GroupID is not refused.

func (sh *shareHandlers) handleAlterShareGroupOffsets(ctx context.Context, rc *reqCtx, req *protocol.AlterShareGroupOffsetsRequest) (*protocol.AlterShareGroupOffsetsResponse, error) {
	resp := &protocol.AlterShareGroupOffsetsResponse{Responses: []protocol.AlterShareGroupOffsetsResponseTopic{}}
	id := string(req.GroupID)
	fail := func(code int16) (*protocol.AlterShareGroupOffsetsResponse, error) {
		resp.ErrorCode = code
		msg := errcode.Message(code)
		resp.ErrorMessage = &msg
		return resp, nil
	}
	if !sh.b.authorize(rc, acl.OpRead, acl.ResourceGroup, id) {
		return fail(errcode.GroupAuthorizationFailed)
	}
	if code := sh.gh.coord.EnsureShareGroup(id); code != 0 {
		return fail(code)
	}
	img := sh.b.image.Load()
	for _, t := range req.Topics {
		name := string(t.TopicName)
		ot := protocol.AlterShareGroupOffsetsResponseTopic{TopicName: t.TopicName, Partitions: []protocol.AlterShareGroupOffsetsResponsePartition{}}
		ti := img.Topic(name)
		topicOK := sh.b.authorize(rc, acl.OpRead, acl.ResourceTopic, name)
		if ti != nil {
			ot.TopicID = protocol.UUID(ti.ID)
		}
		for _, p := range t.Partitions {
			op := protocol.AlterShareGroupOffsetsResponsePartition{PartitionIndex: p.PartitionIndex}
			switch {
			case !topicOK:
				op.ErrorCode = errcode.TopicAuthorizationFailed
			case ti == nil || p.PartitionIndex < 0 || int(p.PartitionIndex) >= len(ti.Partitions):
				op.ErrorCode = errcode.UnknownTopicOrPartition
			default:
				k := share.Key{GroupID: id, TopicID: [16]byte(ti.ID), Partition: p.PartitionIndex}
				cur, _, code := sh.readState(ctx, k)
				if code == 0 {
					code = sh.writeState(ctx, k, share.State{StateEpoch: cur.StateEpoch + 1, StartOffset: p.StartOffset})
				}
				if code == 0 {
					code = sh.gh.coord.SetShareGroupTopic(id, name, true)
				}
				op.ErrorCode = code
				if code == 0 {
					sh.mu.Lock()
					delete(sh.partitions, k)
					sh.mu.Unlock()
				}
			}
			if op.ErrorCode != 0 {
				msg := errcode.Message(op.ErrorCode)
				op.ErrorMessage = &msg
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Responses = append(resp.Responses, ot)
	}
	return resp, nil
}
