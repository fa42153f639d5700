package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/coordinator/share"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// DeleteShareGroupOffsets (key 92): version 0.
//
// Behaviour:
//   - Deletes the share-partition state of every partition of each topic
//     given (kafka-share-groups.sh --delete-offsets): the next ShareFetch
//     starts the partition afresh from share.auto.offset.reset.
//   - The group must be a share group (GROUP_ID_NOT_FOUND) with no members
//     (NON_EMPTY_GROUP); an unknown topic is UNKNOWN_TOPIC_OR_PARTITION.
//   - Authorization (authz.go): DELETE on the group, READ on each topic.
//
// Where Spool differs from Kafka 4.3:
//   - Not compared beyond the Behaviour above: every partition of a topic
//     is deleted whether or not the group had state for it (NONE either
//     way), and an empty GroupID is GROUP_ID_NOT_FOUND.

func (sh *shareHandlers) handleDeleteShareGroupOffsets(ctx context.Context, rc *reqCtx, req *protocol.DeleteShareGroupOffsetsRequest) (*protocol.DeleteShareGroupOffsetsResponse, error) {
	resp := &protocol.DeleteShareGroupOffsetsResponse{Responses: []protocol.DeleteShareGroupOffsetsResponseTopic{}}
	id := string(req.GroupID)
	fail := func(code int16) (*protocol.DeleteShareGroupOffsetsResponse, error) {
		resp.ErrorCode = code
		msg := errcode.Message(code)
		resp.ErrorMessage = &msg
		return resp, nil
	}
	if !sh.b.authorize(rc, acl.OpDelete, acl.ResourceGroup, id) {
		return fail(errcode.GroupAuthorizationFailed)
	}
	exists, empty, code := sh.gh.coord.ShareGroupEmpty(id)
	switch {
	case code != 0:
		return fail(code)
	case !exists:
		return fail(errcode.GroupIDNotFound)
	case !empty:
		return fail(errcode.NonEmptyGroup)
	}
	img := sh.b.image.Load()
	for _, t := range req.Topics {
		name := string(t.TopicName)
		ot := protocol.DeleteShareGroupOffsetsResponseTopic{TopicName: t.TopicName}
		ti := img.Topic(name)
		switch {
		case !sh.b.authorize(rc, acl.OpRead, acl.ResourceTopic, name):
			ot.ErrorCode = errcode.TopicAuthorizationFailed
		case ti == nil:
			ot.ErrorCode = errcode.UnknownTopicOrPartition
		default:
			ot.TopicID = protocol.UUID(ti.ID)
			for p := range ti.Partitions {
				k := share.Key{GroupID: id, TopicID: [16]byte(ti.ID), Partition: int32(p)}
				sh.mu.Lock()
				delete(sh.partitions, k)
				sh.mu.Unlock()
				if code := sh.deleteState(ctx, k); code != 0 && ot.ErrorCode == 0 {
					ot.ErrorCode = code
				}
			}
			if ot.ErrorCode == 0 {
				ot.ErrorCode = sh.gh.coord.SetShareGroupTopic(id, name, false)
			}
		}
		if ot.ErrorCode != 0 {
			msg := errcode.Message(ot.ErrorCode)
			ot.ErrorMessage = &msg
		}
		resp.Responses = append(resp.Responses, ot)
	}
	return resp, nil
}
