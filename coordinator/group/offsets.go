package group

import (
	"context"
	"sort"

	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
	"github.com/spool-broker/spool/protocol/wire"
)

// consumerProtocolType is the protocol type of Kafka's consumers; only
// their subscriptions can be read by the coordinator.
const consumerProtocolType = "consumer"

// TopicPartitions names partitions of one topic.
type TopicPartitions struct {
	Topic      string
	Partitions []int32
}

// OffsetCommit is one partition of an OffsetCommit request.
type OffsetCommit struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    *string
}

// CommitRequest is an OffsetCommit request with topic IDs resolved.
type CommitRequest struct {
	Version     int16
	Group       string
	Generation  int32 // -1 for a commit from outside the group (simple/admin)
	MemberID    string
	InstanceID  *string
	RetentionMs int64 // v2-v4; -1 for the broker's retention
	// Transactional marks a TxnOffsetCommit: consumer group members may
	// then use any version.
	Transactional bool
	// TxnMemberErrors: a TxnOffsetCommit v6+ (KIP-1319, Kafka 4.4), which
	// gets GROUP_ID_NOT_FOUND for a missing group and STALE_MEMBER_EPOCH
	// for a stale consumer-group member where older versions get
	// ILLEGAL_GENERATION.
	TxnMemberErrors bool
	Offsets         []OffsetCommit
}

// CommitOffsets stores offsets. The result is a code for the whole request
// (0 if the group checks passed) and, when that is 0, one code per offset.
//
// An empty group id is accepted, as Kafka does "for backwards
// compatibility" (old clients committed without a group): it is a group
// like any other. TxnOffsetCommit refuses it.
func (c *Coordinator) CommitOffsets(ctx context.Context, req CommitRequest) (code int16, codes []int16) {
	s, code := c.lockedShard(req.Group)
	if code != 0 {
		return code, nil
	}
	defer s.unlockAndAwait(ctx, req.Group, func(wc int16) { failCodes(code, codes, wc) })
	g, code := s.validateCommitLocked(req)
	if code != 0 {
		return code, nil
	}
	codes = make([]int16, len(req.Offsets))
	now := c.now().UnixMilli()
	var recs []records.Record
	var idx []int
	var vals []OffsetValue
	for i, o := range req.Offsets {
		md := ""
		if o.Metadata != nil {
			md = *o.Metadata
		}
		if len(md) > c.cfg.OffsetMetadataMaxBytes {
			codes[i] = errcode.OffsetMetadataTooLarge
			continue
		}
		v := OffsetValue{Offset: o.Offset, LeaderEpoch: o.LeaderEpoch, Metadata: md, CommitTimestamp: now, ExpireTimestamp: -1}
		if req.RetentionMs >= 0 {
			v.ExpireTimestamp = now + req.RetentionMs
		}
		recs = append(recs, records.Record{
			Key:   EncodeOffsetKey(OffsetKey{Group: req.Group, Topic: o.Topic, Partition: o.Partition}),
			Value: EncodeOffsetValue(v),
		})
		idx = append(idx, i)
		vals = append(vals, v)
	}
	if len(recs) == 0 {
		return 0, codes
	}
	if code := s.appendLocked(recs); code != 0 {
		for _, i := range idx {
			codes[i] = code
		}
		return 0, codes
	}
	for j, i := range idx {
		o := req.Offsets[i]
		g.offsets[topicPartition{o.Topic, o.Partition}] = vals[j]
	}
	return 0, codes
}

// validateCommitLocked is Kafka's validateOffsetCommit for classic groups
// (ClassicGroup.validateOffsetCommit), for OffsetCommit and TxnOffsetCommit.
func (s *shard) validateCommitLocked(req CommitRequest) (*group, int16) {
	g := s.groups[req.Group]
	if g == nil {
		if req.Generation >= 0 {
			if req.Version >= 9 || req.TxnMemberErrors {
				return nil, errcode.GroupIDNotFound
			}
			return nil, errcode.IllegalGeneration
		}
		// A commit from outside group management creates a simple group.
		g = newGroup(s, req.Group, s.c.now().UnixMilli())
		s.groups[req.Group] = g
		return g, 0
	}
	if g.state == stateDead {
		return nil, errcode.CoordinatorNotAvailable
	}
	if g.share != nil {
		return nil, errcode.GroupIDNotFound
	}
	if g.streams != nil {
		if code := s.validateStreamsCommitLocked(g, req); code != 0 {
			return nil, code
		}
		return g, 0
	}
	if g.consumer != nil {
		if code := s.validateConsumerCommitLocked(g, req); code != 0 {
			return nil, code
		}
		return g, 0
	}
	if req.Generation < 0 && g.state == stateEmpty {
		return g, 0
	}
	if req.Generation >= 0 || req.MemberID != "" || req.InstanceID != nil {
		if code := g.validateExistingMember(req.MemberID, req.InstanceID); code != 0 {
			return nil, code
		}
		if req.Generation != g.generation {
			return nil, errcode.IllegalGeneration
		}
	} else if g.state != stateEmpty && !req.Transactional {
		// A TxnOffsetCommit need not name its member (v0-v2 cannot).
		return nil, errcode.UnknownMemberID
	}
	// A TxnOffsetCommit at the current generation is taken while the
	// members sync: the producer would find REBALANCE_IN_PROGRESS fatal.
	if g.state == stateCompletingRebalance && !req.Transactional {
		return nil, errcode.RebalanceInProgress
	}
	return g, 0
}

// FetchedOffset is one partition of an OffsetFetch answer.
type FetchedOffset struct {
	Topic       string
	Partition   int32
	Offset      int64 // -1 when nothing is committed
	LeaderEpoch int32
	Metadata    string
	// ErrorCode is UNSTABLE_OFFSET_COMMIT when require_stable was asked
	// and a transaction has offsets pending for the partition.
	ErrorCode int16
}

// FetchOffsets returns the group's committed offsets for topics, or all of
// them when topics is nil. A group without offsets answers -1 for each
// partition asked for. The code is for the whole group.
func (c *Coordinator) FetchOffsets(ctx context.Context, groupID string, topics []TopicPartitions, requireStable bool) (int16, []FetchedOffset) {
	return c.FetchMemberOffsets(ctx, groupID, nil, -1, topics, requireStable)
}

// validateMemberFetchLocked is Kafka's ConsumerGroup.validateOffsetFetch
// and StreamsGroup.validateOffsetFetch, which check the same thing: an
// OffsetFetch naming no member (nil ID, negative epoch) passes; one naming
// a member must name a current member (UNKNOWN_MEMBER_ID) at its current
// epoch (STALE_MEMBER_EPOCH). Classic and share groups do not check.
func (g *group) validateMemberFetchLocked(memberID *string, memberEpoch int32) int16 {
	if g.consumer == nil && g.streams == nil {
		return 0
	}
	if memberID == nil && memberEpoch < 0 {
		return 0
	}
	id := ""
	if memberID != nil {
		id = *memberID
	}
	var current int32
	switch {
	case g.consumer != nil:
		m := g.consumer.members[id]
		if m == nil {
			return errcode.UnknownMemberID
		}
		current = m.current.epoch
	default:
		m := g.streams.members[id]
		if m == nil {
			return errcode.UnknownMemberID
		}
		current = m.epoch
	}
	if memberEpoch != current {
		return errcode.StaleMemberEpoch
	}
	return 0
}

// FetchMemberOffsets is FetchOffsets for OffsetFetch v9+, which names the
// member asking (nil and -1 for none): in a consumer or streams group the
// member must exist (UNKNOWN_MEMBER_ID) at that epoch (STALE_MEMBER_EPOCH).
func (c *Coordinator) FetchMemberOffsets(ctx context.Context, groupID string, memberID *string, memberEpoch int32, topics []TopicPartitions, requireStable bool) (code int16, out []FetchedOffset) {
	s, code := c.lockedShard(groupID)
	if code != 0 {
		return code, nil
	}
	defer s.unlockAndAwait(ctx, groupID, func(wc int16) { code, out = wc, nil })
	g := s.groups[groupID]
	if g != nil {
		if code := g.validateMemberFetchLocked(memberID, memberEpoch); code != 0 {
			return code, nil
		}
	}
	if topics == nil {
		if g == nil {
			return 0, nil
		}
		for tp, v := range g.offsets {
			fo := FetchedOffset{Topic: tp.topic, Partition: tp.partition, Offset: v.Offset, LeaderEpoch: v.LeaderEpoch, Metadata: v.Metadata}
			if requireStable && s.txn.hasPending(groupID, tp) {
				fo.Offset, fo.LeaderEpoch, fo.Metadata, fo.ErrorCode = -1, -1, "", errcode.UnstableOffsetCommit
			}
			out = append(out, fo)
		}
		sort.Slice(out, func(i, j int) bool {
			if out[i].Topic != out[j].Topic {
				return out[i].Topic < out[j].Topic
			}
			return out[i].Partition < out[j].Partition
		})
		return 0, out
	}
	for _, t := range topics {
		for _, p := range t.Partitions {
			fo := FetchedOffset{Topic: t.Topic, Partition: p, Offset: -1, LeaderEpoch: -1}
			if requireStable && s.txn.hasPending(groupID, topicPartition{t.Topic, p}) {
				fo.ErrorCode = errcode.UnstableOffsetCommit
			} else if g != nil {
				if v, ok := g.offsets[topicPartition{t.Topic, p}]; ok {
					fo.Offset, fo.LeaderEpoch, fo.Metadata = v.Offset, v.LeaderEpoch, v.Metadata
				}
			}
			out = append(out, fo)
		}
	}
	return 0, out
}

// DeleteOffsets is OffsetDelete: the group-level code, then one code per
// partition in the order given.
func (c *Coordinator) DeleteOffsets(ctx context.Context, groupID string, topics []TopicPartitions) (code int16, codes [][]int16) {
	s, code := c.lockedShard(groupID)
	if code != 0 {
		return code, nil
	}
	defer s.unlockAndAwait(ctx, groupID, func(wc int16) { code, codes = wc, nil })
	g := s.groups[groupID]
	if g == nil || g.state == stateDead {
		return errcode.GroupIDNotFound, nil
	}
	if g.consumer == nil && g.streams == nil && g.state != stateEmpty && g.protocolType != consumerProtocolType {
		return errcode.NonEmptyGroup, nil
	}
	codes = make([][]int16, len(topics))
	var recs []records.Record
	var gone []topicPartition
	for i, t := range topics {
		codes[i] = make([]int16, len(t.Partitions))
		subscribed := !g.isEmpty() && g.isSubscribedTo(t.Topic)
		for j, p := range t.Partitions {
			tp := topicPartition{t.Topic, p}
			switch _, ok := g.offsets[tp]; {
			case subscribed:
				codes[i][j] = errcode.GroupSubscribedToTopic
			case ok:
				recs = append(recs, records.Record{Key: EncodeOffsetKey(OffsetKey{groupID, t.Topic, p})})
				gone = append(gone, tp)
			}
		}
	}
	if len(recs) > 0 {
		if code := s.appendLocked(recs); code != 0 {
			return code, nil
		}
		for _, tp := range gone {
			delete(g.offsets, tp)
		}
	}
	return 0, codes
}

// subscribedTopics reads the consumer protocol subscriptions of the
// members; ok is false when they can't be known (other protocol types).
func (g *group) subscribedTopics() (map[string]bool, bool) {
	if g.protocolType != consumerProtocolType || g.protocolName == "" {
		return nil, false
	}
	topics := map[string]bool{}
	for _, m := range g.members {
		ts, err := parseSubscriptionTopics(m.metadataFor(g.protocolName))
		if err != nil {
			return nil, false
		}
		for _, t := range ts {
			topics[t] = true
		}
	}
	return topics, true
}

// isEmpty reports whether the group has no members (classic state Empty).
func (g *group) isEmpty() bool {
	if g.consumer != nil {
		return len(g.consumer.members) == 0
	}
	if g.share != nil {
		return len(g.share.members) == 0
	}
	if g.streams != nil {
		return len(g.streams.members) == 0
	}
	return g.state == stateEmpty
}

func (g *group) isSubscribedTo(topic string) bool {
	if g.consumer != nil {
		return g.consumer.subscribesTo(topic)
	}
	if g.streams != nil {
		return g.streams.subscribesTo(topic)
	}
	ts, ok := g.subscribedTopics()
	return ok && ts[topic]
}

// parseSubscriptionTopics reads the topics of a ConsumerProtocolSubscription
// (any version: the topics come first and the schema is not flexible).
func parseSubscriptionTopics(b []byte) ([]string, error) {
	r := wire.NewReader(b)
	r.Int16()
	n := r.ArrayLen(2)
	var out []string
	for i := 0; i < n && r.Err() == nil; i++ {
		out = append(out, r.String())
	}
	return out, r.Err()
}

// expirationBase is Kafka's offset expiration condition for classic groups:
// from when an offset's retention counts, or ok false if the group's
// offsets don't expire now.
func (g *group) expirationBase() (func(OffsetValue) int64, bool) {
	commitTime := func(o OffsetValue) int64 { return o.CommitTimestamp }
	if g.consumer != nil || g.streams != nil || g.protocolType == "" {
		return commitTime, true
	}
	if g.state == stateEmpty {
		return func(o OffsetValue) int64 {
			if g.stateTimestamp >= 0 {
				return g.stateTimestamp
			}
			return o.CommitTimestamp
		}, true
	}
	if _, ok := g.subscribedTopics(); ok && g.state == stateStable {
		return commitTime, true
	}
	return nil, false
}

// failCodes answers a commit whose write was not committed: wc for every
// offset that was accepted (the whole request's code is then 0).
func failCodes(code int16, codes []int16, wc int16) {
	if code != 0 {
		return
	}
	for i := range codes {
		if codes[i] == 0 {
			codes[i] = wc
		}
	}
}
