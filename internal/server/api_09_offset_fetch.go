package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/coordinator/group"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// OffsetFetch (key 9): versions 0-10.
//
// Behaviour:
//   - Served by the group's coordinator (NOT_COORDINATOR,
//     COORDINATOR_LOAD_IN_PROGRESS). Partitions without a committed offset
//     answer offset -1; an unknown group answers -1 for what was asked.
//   - With RequireStable (v7+), a partition with transactional offsets
//     pending a marker answers UNSTABLE_OFFSET_COMMIT.
//   - In a KIP-848 consumer group, a request naming a member (v9+) is
//     checked against it (UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH).
//   - Authorization (authz.go): DESCRIBE on the group
//     (GROUP_AUTHORIZATION_FAILED); topics the principal may not DESCRIBE are
//     left out of "all topics" and answered TOPIC_AUTHORIZATION_FAILED when
//     named.
//
// Version notes:
//   - v0-v1: no top-level error; each partition carries the group's. v2: a
//     null topic list asks for every committed offset, and a top-level
//     ErrorCode. v5: CommittedLeaderEpoch. v6: flexible.
//   - v7: RequireStable. v8: several groups in one request. v9: MemberID and
//     MemberEpoch (KIP-848). v10: topic IDs (UNKNOWN_TOPIC_ID).
//
// Where Spool differs from Kafka 4.3:
//   - v0 is served, reading the same offsets as v1 (Kafka's v0 read
//     ZooKeeper, and Kafka 4 dropped it).

func (gh *groupHandlers) handleOffsetFetch(ctx context.Context, rc *reqCtx, req *protocol.OffsetFetchRequest) (*protocol.OffsetFetchResponse, error) {
	img := gh.b.image.Load()
	resp := &protocol.OffsetFetchResponse{}
	if rc.v < 8 {
		var topics, denied []group.TopicPartitions
		if req.Topics != nil || rc.v < 2 {
			topics = []group.TopicPartitions{}
			for _, t := range req.Topics {
				topics = append(topics, group.TopicPartitions{Topic: string(t.Name), Partitions: t.PartitionIndexes})
			}
			topics, denied = gh.b.describableTopics(rc, topics)
		}
		// DESCRIBE on the group, then on each topic (authz.go).
		var code int16
		var offsets []group.FetchedOffset
		if gh.b.authorize(rc, acl.OpDescribe, acl.ResourceGroup, string(req.GroupID)) {
			code, offsets = gh.coord.FetchOffsets(ctx, string(req.GroupID), topics, req.RequireStable)
			offsets = gh.b.withDeniedOffsets(rc, topics == nil, offsets, denied)
		} else {
			code = errcode.GroupAuthorizationFailed
		}
		resp.ErrorCode = code
		if code != 0 {
			if rc.v >= 2 {
				resp.Topics = []protocol.OffsetFetchResponseTopic{}
				return resp, nil
			}
			// v0-1 have no top-level error: every partition carries it.
			for _, t := range req.Topics {
				for _, p := range t.PartitionIndexes {
					offsets = append(offsets, group.FetchedOffset{Topic: string(t.Name), Partition: p, Offset: -1, LeaderEpoch: -1})
				}
			}
		}
		resp.Topics = []protocol.OffsetFetchResponseTopic{}
		index := map[string]int{}
		for _, o := range offsets {
			i, ok := index[o.Topic]
			if !ok {
				i = len(resp.Topics)
				index[o.Topic] = i
				resp.Topics = append(resp.Topics, protocol.OffsetFetchResponseTopic{Name: protocol.TopicName(o.Topic)})
			}
			md := o.Metadata
			pc := o.ErrorCode
			if rc.v < 2 && code != 0 {
				pc = code
			}
			resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, protocol.OffsetFetchResponsePartition{
				PartitionIndex: o.Partition, CommittedOffset: o.Offset, CommittedLeaderEpoch: o.LeaderEpoch, Metadata: &md, ErrorCode: pc,
			})
		}
		return resp, nil
	}
	for _, rg := range req.Groups {
		if !gh.b.authorize(rc, acl.OpDescribe, acl.ResourceGroup, string(rg.GroupID)) { // authz.go
			resp.Groups = append(resp.Groups, protocol.OffsetFetchResponseGroup{GroupID: rg.GroupID,
				Topics: []protocol.OffsetFetchResponseTopics{}, ErrorCode: errcode.GroupAuthorizationFailed})
			continue
		}
		resp.Groups = append(resp.Groups, gh.fetchGroupOffsets(ctx, rc, img, req.RequireStable, rg))
	}
	return resp, nil
}

// describableTopics splits the topics of an OffsetFetch into those the
// principal may DESCRIBE and the rest (authz.go); Kafka does not let a
// client see offsets of topics it may not describe.
func (b *Broker) describableTopics(rc *reqCtx, topics []group.TopicPartitions) (allowed, denied []group.TopicPartitions) {
	allowed = []group.TopicPartitions{}
	for _, t := range topics {
		if b.authorize(rc, acl.OpDescribe, acl.ResourceTopic, t.Topic) {
			allowed = append(allowed, t)
		} else {
			denied = append(denied, t)
		}
	}
	return allowed, denied
}

// withDeniedOffsets finishes fetched offsets for the authorizer: for all
// topics (all), those the principal may not DESCRIBE are dropped; named
// topics it may not describe answer TOPIC_AUTHORIZATION_FAILED.
func (b *Broker) withDeniedOffsets(rc *reqCtx, all bool, offsets []group.FetchedOffset, denied []group.TopicPartitions) []group.FetchedOffset {
	if all && b.authz != nil {
		kept := offsets[:0]
		allowed := map[string]bool{}
		for _, o := range offsets {
			ok, seen := allowed[o.Topic]
			if !seen {
				ok = b.authorize(rc, acl.OpDescribe, acl.ResourceTopic, o.Topic)
				allowed[o.Topic] = ok
			}
			if ok {
				kept = append(kept, o)
			}
		}
		offsets = kept
	}
	for _, t := range denied {
		for _, p := range t.Partitions {
			offsets = append(offsets, group.FetchedOffset{Topic: t.Topic, Partition: p, Offset: -1, LeaderEpoch: -1,
				ErrorCode: errcode.TopicAuthorizationFailed})
		}
	}
	return offsets
}

// fetchGroupOffsets answers one group of a v8+ OffsetFetch.
func (gh *groupHandlers) fetchGroupOffsets(ctx context.Context, rc *reqCtx, img *controller.MetadataImage, requireStable bool, rg protocol.OffsetFetchRequestGroup) protocol.OffsetFetchResponseGroup {
	v := rc.v
	out := protocol.OffsetFetchResponseGroup{GroupID: rg.GroupID, Topics: []protocol.OffsetFetchResponseTopics{}}
	var topics []group.TopicPartitions
	unknownIDs := map[protocol.UUID][]int32{}
	if rg.Topics != nil {
		topics = []group.TopicPartitions{}
		for _, t := range rg.Topics {
			name := string(t.Name)
			if v >= 10 {
				ti := img.TopicByID(topicIDOf(t.TopicID))
				if ti == nil {
					unknownIDs[t.TopicID] = t.PartitionIndexes
					continue
				}
				name = ti.Name
			}
			topics = append(topics, group.TopicPartitions{Topic: name, Partitions: t.PartitionIndexes})
		}
	}
	var denied []group.TopicPartitions
	if topics != nil {
		topics, denied = gh.b.describableTopics(rc, topics)
	}
	code, offsets := gh.coord.FetchMemberOffsets(ctx, string(rg.GroupID), rg.MemberID, rg.MemberEpoch, topics, requireStable)
	out.ErrorCode = code
	if code != 0 {
		return out
	}
	offsets = gh.b.withDeniedOffsets(rc, topics == nil, offsets, denied)
	index := map[string]int{}
	for _, o := range offsets {
		i, ok := index[o.Topic]
		if !ok {
			i = len(out.Topics)
			index[o.Topic] = i
			t := protocol.OffsetFetchResponseTopics{Name: protocol.TopicName(o.Topic)}
			if ti := img.Topic(o.Topic); ti != nil {
				t.TopicID = protocol.UUID(ti.ID)
			}
			out.Topics = append(out.Topics, t)
		}
		md := o.Metadata
		out.Topics[i].Partitions = append(out.Topics[i].Partitions, protocol.OffsetFetchResponsePartitions{
			PartitionIndex: o.Partition, CommittedOffset: o.Offset, CommittedLeaderEpoch: o.LeaderEpoch, Metadata: &md, ErrorCode: o.ErrorCode,
		})
	}
	for id, parts := range unknownIDs {
		t := protocol.OffsetFetchResponseTopics{TopicID: id}
		for _, p := range parts {
			t.Partitions = append(t.Partitions, protocol.OffsetFetchResponsePartitions{
				PartitionIndex: p, CommittedOffset: -1, CommittedLeaderEpoch: -1, ErrorCode: errcode.UnknownTopicID,
			})
		}
		out.Topics = append(out.Topics, t)
	}
	return out
}
