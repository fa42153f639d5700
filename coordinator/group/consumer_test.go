package group

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
	"github.com/spool-broker/spool/protocol/wire"
)

var (
	topicA = protocol.UUID{1}
	topicB = protocol.UUID{2}
)

func subscribed(ids ...protocol.UUID) map[protocol.UUID]bool {
	out := map[protocol.UUID]bool{}
	for _, id := range ids {
		out[id] = true
	}
	return out
}

// checkAssignment verifies every partition of topics is assigned exactly
// once, to a member subscribed to its topic.
func checkAssignment(t *testing.T, members []assignorMember, topics map[protocol.UUID]int32, out map[string]assignment) {
	t.Helper()
	seen := map[topicPartitionID]string{}
	for _, m := range members {
		for id, ps := range out[m.id] {
			require.True(t, m.topics[id], "member %s got an unsubscribed topic", m.id)
			for _, p := range ps {
				tp := topicPartitionID{id, p}
				require.Empty(t, seen[tp], "partition %v twice", tp)
				seen[tp] = m.id
			}
		}
	}
	total := 0
	for _, n := range topics {
		total += int(n)
	}
	require.Len(t, seen, total)
}

func TestUniformAssignor(t *testing.T) {
	topics := map[protocol.UUID]int32{topicA: 6, topicB: 3}
	tests := []struct {
		name    string
		members []assignorMember
		sizes   map[string]int
	}{
		{"three homogeneous members", []assignorMember{
			{id: "a", topics: subscribed(topicA, topicB)}, {id: "b", topics: subscribed(topicA, topicB)}, {id: "c", topics: subscribed(topicA, topicB)},
		}, map[string]int{"a": 3, "b": 3, "c": 3}},
		{"heterogeneous", []assignorMember{
			{id: "a", topics: subscribed(topicA)}, {id: "b", topics: subscribed(topicA, topicB)},
		}, map[string]int{"a": 4, "b": 5}},
		{"sticky: a keeps what it had", []assignorMember{
			{id: "a", topics: subscribed(topicA, topicB), previous: assignment{topicA: {0, 1, 2, 3, 4, 5}, topicB: {0, 1, 2}}},
			{id: "b", topics: subscribed(topicA, topicB)},
		}, map[string]int{"a": 5, "b": 4}},
		{"more members than partitions", []assignorMember{
			{id: "a", topics: subscribed(topicB)}, {id: "b", topics: subscribed(topicB)}, {id: "c", topics: subscribed(topicB)}, {id: "d", topics: subscribed(topicB)},
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := topics
			if tt.sizes == nil {
				ts = map[protocol.UUID]int32{topicB: 3}
			}
			out := uniformAssignor{}.assign(tt.members, ts)
			checkAssignment(t, tt.members, ts, out)
			for id, n := range tt.sizes {
				require.Equal(t, n, out[id].size(), "member %s: %v", id, out)
			}
			if tt.name == "sticky: a keeps what it had" {
				for id, ps := range out["a"] {
					for _, p := range ps {
						require.True(t, tt.members[0].previous.has(id, p), "a only keeps old partitions")
					}
				}
			}
		})
	}
}

func TestRangeAssignor(t *testing.T) {
	members := []assignorMember{{id: "b", topics: subscribed(topicA)}, {id: "a", topics: subscribed(topicA)}}
	out := rangeAssignor{}.assign(members, map[protocol.UUID]int32{topicA: 5})
	require.Equal(t, assignment{topicA: {0, 1, 2}}, out["a"])
	require.Equal(t, assignment{topicA: {3, 4}}, out["b"])
}

func owned(a assignment) []protocol.ConsumerGroupHeartbeatRequestTopicPartitions {
	out := []protocol.ConsumerGroupHeartbeatRequestTopicPartitions{}
	for id, ps := range a {
		out = append(out, protocol.ConsumerGroupHeartbeatRequestTopicPartitions{TopicID: id, Partitions: ps})
	}
	return out
}

func TestReconcile(t *testing.T) {
	stable := currentAssignment{epoch: 3, previousEpoch: 2, state: memberStable, assigned: assignment{topicA: {0, 1, 2}}, pendingRevocation: assignment{},
		epochs: map[topicPartitionID]int32{{topicA, 0}: 1, {topicA, 1}: 3, {topicA, 2}: 3}}
	target := assignment{topicA: {0, 3}}

	// Revocation comes first: the member keeps its epoch and only the
	// partitions it keeps.
	next := reconcile(stable, 4, target, owned(stable.assigned), nil)
	require.Equal(t, memberUnrevokedPartitions, next.state)
	require.Equal(t, int32(3), next.epoch)
	require.Equal(t, assignment{topicA: {0}}, next.assigned)
	require.Equal(t, assignment{topicA: {1, 2}}, next.pendingRevocation)
	// Assignment epochs stay with the partitions, kept or being revoked.
	require.Equal(t, map[topicPartitionID]int32{{topicA, 0}: 1, {topicA, 1}: 3, {topicA, 2}: 3}, next.epochs)

	// Still reporting a revoked partition: no progress.
	require.Equal(t, next, reconcile(next, 4, target, owned(assignment{topicA: {0, 2}}), nil))

	// Revoked, but partition 3 still belongs to another member.
	others := map[topicPartitionID]int32{{topicA, 3}: 4}
	next = reconcile(next, 4, target, owned(assignment{topicA: {0}}), others)
	require.Equal(t, memberUnreleasedPartitions, next.state)
	require.Equal(t, int32(4), next.epoch)
	require.Equal(t, assignment{topicA: {0}}, next.assigned)

	// Once released, the member gets it and is stable.
	next = reconcile(next, 4, target, owned(assignment{topicA: {0}}), nil)
	require.Equal(t, memberStable, next.state)
	require.Equal(t, assignment{topicA: {0, 3}}, next.assigned)
	require.Equal(t, int32(4), next.epoch)
	// A newly assigned partition gets the target epoch; a kept one keeps its own.
	require.Equal(t, map[topicPartitionID]int32{{topicA, 0}: 1, {topicA, 3}: 4}, next.epochs)

	// A member that already dropped the partitions goes straight on.
	next = reconcile(stable, 5, target, owned(assignment{topicA: {0}}), nil)
	require.Equal(t, memberStable, next.state)
	require.Equal(t, int32(5), next.epoch)
	require.Equal(t, int32(3), next.previousEpoch)
}

func TestConsumerRecordRoundTrip(t *testing.T) {
	inst, re := "i", "t.*"
	md := memberMetadata{instanceID: &inst, clientID: "c", clientHost: "/h", topicNames: []string{"a", "b"}, topicRegex: &re, rebalanceTimeoutMs: 5000}
	got, err := decodeMemberMetadata(encodeMemberMetadata(md))
	require.NoError(t, err)
	require.True(t, got.equal(md))
	ca := currentAssignment{epoch: 7, previousEpoch: 6, state: memberUnrevokedPartitions, assigned: assignment{topicA: {1, 2}}, pendingRevocation: assignment{topicB: {0}},
		epochs: map[topicPartitionID]int32{{topicA, 1}: 5, {topicA, 2}: 7, {topicB, 0}: 3}}
	gotCA, err := decodeCurrentAssignment(encodeCurrentAssignment(ca))
	require.NoError(t, err)
	require.True(t, gotCA.equal(ca), "%+v", gotCA)
	// A record written before KIP-1251 (no AssignmentEpochs) gives every
	// partition the member epoch.
	old := wire.AppendInt16(nil, 0)
	old = wire.AppendInt32(old, 7)
	old = wire.AppendInt32(old, 6)
	old = wire.AppendInt8(old, memberUnrevokedPartitions)
	old = appendAssignment(old, ca.assigned)
	old = appendAssignment(old, ca.pendingRevocation)
	old = wire.AppendUvarint(old, 0)
	gotCA, err = decodeCurrentAssignment(old)
	require.NoError(t, err)
	require.Equal(t, map[topicPartitionID]int32{{topicA, 1}: 7, {topicA, 2}: 7, {topicB, 0}: 7}, gotCA.epochs)
	tgt, err := decodeTargetMember(encodeTargetMember(assignment{topicA: {3}}))
	require.NoError(t, err)
	require.Equal(t, assignment{topicA: {3}}, tgt)
	e, err := decodeEpochValue(encodeEpochValue(9), "x")
	require.NoError(t, err)
	require.Equal(t, int32(9), e)
	k, err := decodeConsumerKey(encodeConsumerKey(consumerKey{kind: keyConsumerTargetMember, group: "g", member: "m"}))
	require.NoError(t, err)
	require.Equal(t, consumerKey{kind: keyConsumerTargetMember, group: "g", member: "m"}, k)
}

func FuzzDecodeConsumerRecords(f *testing.F) {
	f.Add(encodeCurrentAssignment(currentAssignment{epoch: 1, assigned: assignment{topicA: {0}}, pendingRevocation: assignment{}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeCurrentAssignment(b)
		_, _ = decodeMemberMetadata(b)
		_, _ = decodeTargetMember(b)
	})
}

func newConsumerTestCoordinator(t *testing.T, l *memLog) *Coordinator {
	c := New(Config{
		NumPartitions: 1, MinSessionTimeout: 10 * time.Millisecond, MaxSessionTimeout: time.Minute,
		OffsetMetadataMaxBytes: 10, OffsetsRetention: time.Hour, ConsumerSessionTimeout: time.Minute, ConsumerMaxSize: 3,
		Topics: func() []TopicMetadata { return []TopicMetadata{{Name: "ta", ID: topicA, Partitions: 4}} },
	}, l, zaptest.NewLogger(t))
	loadTestCoordinator(t, c)
	return c
}

func hb(member string, epoch int32, own assignment) *protocol.ConsumerGroupHeartbeatRequest {
	req := &protocol.ConsumerGroupHeartbeatRequest{GroupID: "g", MemberID: member, MemberEpoch: epoch, RebalanceTimeoutMs: -1}
	if epoch == 0 {
		req.RebalanceTimeoutMs = 1000
		req.SubscribedTopicNames = []protocol.TopicName{"ta"}
		req.TopicPartitions = []protocol.ConsumerGroupHeartbeatRequestTopicPartitions{}
	} else if own != nil {
		req.TopicPartitions = owned(own)
	}
	return req
}

func assigned(r *protocol.ConsumerGroupHeartbeatResponse) assignment {
	a := assignment{}
	for _, tp := range r.Assignment.TopicPartitions {
		a.add(tp.TopicID, tp.Partitions...)
	}
	return a
}

// TestConsumerGroupHandOff: partitions move from a to b only after a
// revokes them, and the state survives a reload from the log.
func TestConsumerGroupHandOff(t *testing.T) {
	ctx := context.Background()
	l := &memLog{recs: map[int32][][2][]byte{}}
	c := newConsumerTestCoordinator(t, l)

	ra := c.ConsumerGroupHeartbeat(ctx, 1, "c", "/h", hb("a", 0, nil))
	require.Zero(t, ra.ErrorCode)
	require.Equal(t, assignment{topicA: {0, 1, 2, 3}}, assigned(ra))
	rb := c.ConsumerGroupHeartbeat(ctx, 1, "c", "/h", hb("b", 0, nil))
	require.Zero(t, rb.ErrorCode)
	require.Equal(t, int32(2), rb.MemberEpoch)
	require.Empty(t, assigned(rb), "b waits for a to release")

	// a is asked to revoke two partitions and stays at epoch 1.
	ra = c.ConsumerGroupHeartbeat(ctx, 1, "c", "/h", hb("a", 1, assignment{topicA: {0, 1, 2, 3}}))
	require.Zero(t, ra.ErrorCode)
	require.Equal(t, int32(1), ra.MemberEpoch)
	kept := assigned(ra)
	require.Equal(t, 2, kept.size())
	d := c.DescribeConsumerGroup(ctx, "g")
	require.Equal(t, "Reconciling", d.State)

	// b still gets nothing while a owns them.
	rb = c.ConsumerGroupHeartbeat(ctx, 1, "c", "/h", hb("b", 2, assignment{}))
	require.Nil(t, rb.Assignment)

	// a revokes, moves to epoch 2; then b gets the rest.
	ra = c.ConsumerGroupHeartbeat(ctx, 1, "c", "/h", hb("a", 1, kept))
	require.Equal(t, int32(2), ra.MemberEpoch)
	rb = c.ConsumerGroupHeartbeat(ctx, 1, "c", "/h", hb("b", 2, assignment{}))
	require.NotNil(t, rb.Assignment)
	got := assigned(rb)
	require.Equal(t, 2, got.size())
	for _, p := range got[topicA] {
		require.False(t, kept.has(topicA, p))
	}
	require.Equal(t, "Stable", c.DescribeConsumerGroup(ctx, "g").State)

	// A stale epoch: fenced. The previous epoch with a subset is fine.
	require.Equal(t, errcode.FencedMemberEpoch, c.ConsumerGroupHeartbeat(ctx, 1, "c", "/h", hb("a", 7, kept)).ErrorCode)
	require.Zero(t, c.ConsumerGroupHeartbeat(ctx, 1, "c", "/h", hb("a", 1, kept)).ErrorCode)

	// Reload from the log: same epochs and assignments.
	before := c.DescribeConsumerGroup(ctx, "g")
	c2 := newConsumerTestCoordinator(t, l)
	after := c2.DescribeConsumerGroup(ctx, "g")
	require.Equal(t, before, after)

	// b leaves; a gets everything at the next heartbeat.
	require.Zero(t, c2.ConsumerGroupHeartbeat(ctx, 1, "c", "/h", hb("b", -1, nil)).ErrorCode)
	ra = c2.ConsumerGroupHeartbeat(ctx, 1, "c", "/h", hb("a", 2, kept))
	require.Zero(t, ra.ErrorCode)
	require.Equal(t, assignment{topicA: {0, 1, 2, 3}}, assigned(ra))
	require.Equal(t, fmt.Sprint(int32(3)), fmt.Sprint(ra.MemberEpoch))
}

// txnMemLog is a memLog that also takes TxnOffsetCommit's transactional
// batches (as plain records: these tests never end the transactions).
type txnMemLog struct{ *memLog }

func (l txnMemLog) AppendTxn(ctx context.Context, p int32, _ int64, _ int16, recs []records.Record) (Committed, error) {
	return l.Append(ctx, p, recs)
}

func (l txnMemLog) ReplayTxn(ctx context.Context, p int32, fn func(r ReplayedRecord) error) error {
	return l.Replay(ctx, p, func(k, v []byte) error { return fn(ReplayedRecord{Key: k, Value: v}) })
}

// TestConsumerGroupCommitEpochs is ConsumerGroup.validateOffsetCommit with
// KIP-1251's assignment epochs, for OffsetCommit v9 and TxnOffsetCommit: a
// member may commit at an older epoch the partitions it has held since
// then, which is what a transactional producer does when the consumer's
// heartbeat moved the member epoch between poll and
// sendOffsetsToTransaction. TxnOffsetCommit answers ILLEGAL_GENERATION
// where OffsetCommit answers STALE_MEMBER_EPOCH: the producer treats the
// former as a failed commit it can abort, the latter as fatal.
func TestConsumerGroupCommitEpochs(t *testing.T) {
	ctx := context.Background()
	l := txnMemLog{&memLog{recs: map[int32][][2][]byte{}}}
	c := New(Config{
		NumPartitions: 1, MinSessionTimeout: 10 * time.Millisecond, MaxSessionTimeout: time.Minute,
		OffsetMetadataMaxBytes: 10, OffsetsRetention: time.Hour, ConsumerSessionTimeout: time.Minute, ConsumerMaxSize: 3,
		Topics: func() []TopicMetadata { return []TopicMetadata{{Name: "ta", ID: topicA, Partitions: 4}} },
	}, l, zaptest.NewLogger(t))
	loadTestCoordinator(t, c)

	// a holds all four partitions since epoch 1; b joins (epoch 2), a gives
	// two up and moves to epoch 2 keeping the others (assignment epoch 1);
	// b gets the released two at epoch 2.
	require.Equal(t, int32(1), c.ConsumerGroupHeartbeat(ctx, 1, "c", "/h", hb("a", 0, nil)).MemberEpoch)
	require.Zero(t, c.ConsumerGroupHeartbeat(ctx, 1, "c", "/h", hb("b", 0, nil)).ErrorCode)
	ra := c.ConsumerGroupHeartbeat(ctx, 1, "c", "/h", hb("a", 1, assignment{topicA: {0, 1, 2, 3}}))
	kept := assigned(ra)
	require.Equal(t, 2, kept.size())
	ra = c.ConsumerGroupHeartbeat(ctx, 1, "c", "/h", hb("a", 1, kept))
	require.Equal(t, int32(2), ra.MemberEpoch)
	rb := c.ConsumerGroupHeartbeat(ctx, 1, "c", "/h", hb("b", 2, assignment{}))
	given := assigned(rb)
	require.Equal(t, 2, given.size())
	keptP, givenP := kept[topicA][0], given[topicA][0]

	for _, tc := range []struct {
		name       string
		member     string
		epoch      int32
		topic      string
		partition  int32
		code       int16 // OffsetCommit v9
		txnCode    int16 // TxnOffsetCommit
		noMemberID bool
	}{
		{"current epoch", "a", 2, "ta", keptP, 0, 0, false},
		{"older epoch, partition held since", "a", 1, "ta", keptP, 0, 0, false},
		{"older epoch, partition given away", "a", 1, "ta", givenP, errcode.StaleMemberEpoch, errcode.IllegalGeneration, false},
		{"newer epoch", "a", 3, "ta", keptP, errcode.StaleMemberEpoch, errcode.IllegalGeneration, false},
		{"older epoch than the assignment", "b", 1, "ta", givenP, errcode.StaleMemberEpoch, errcode.IllegalGeneration, false},
		{"older epoch, unknown topic", "a", 1, "nope", 0, errcode.StaleMemberEpoch, errcode.IllegalGeneration, false},
		{"unknown member", "z", 2, "ta", keptP, errcode.UnknownMemberID, errcode.UnknownMemberID, false},
		{"transactional without a member", "", -1, "ta", keptP, errcode.UnknownMemberID, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := CommitRequest{Version: 9, Group: "g", Generation: tc.epoch, MemberID: tc.member, RetentionMs: -1,
				Offsets: []OffsetCommit{{Topic: tc.topic, Partition: tc.partition, Offset: 5, LeaderEpoch: -1}}}
			code, _ := c.CommitOffsets(ctx, req)
			require.Equal(t, tc.code, code, "OffsetCommit: %s", errcode.Name(code))
			req.Version = 8
			code, _ = c.CommitTxnOffsets(ctx, req, 42, 0)
			require.Equal(t, tc.txnCode, code, "TxnOffsetCommit: %s", errcode.Name(code))
			// TxnOffsetCommit v6 (KIP-1319) gets STALE_MEMBER_EPOCH as
			// OffsetCommit does, other codes unchanged.
			want := tc.txnCode
			if tc.code == errcode.StaleMemberEpoch {
				want = errcode.StaleMemberEpoch
			}
			req.TxnMemberErrors = true
			code, _ = c.CommitTxnOffsets(ctx, req, 42, 0)
			require.Equal(t, want, code, "TxnOffsetCommit v6: %s", errcode.Name(code))
		})
	}
}

// TestValidateMemberFetch is ConsumerGroup.validateOffsetFetch and
// StreamsGroup.validateOffsetFetch (one check in Kafka's two group
// types) for OffsetFetch v9+: no member named passes, a named member must
// exist at its current epoch; classic groups do not check.
func TestValidateMemberFetch(t *testing.T) {
	consumer := &group{consumer: &consumerGroup{members: map[string]*consumerMember{
		"a": {id: "a", current: currentAssignment{epoch: 3}},
	}}}
	streams := &group{streams: &streamsGroup{members: map[string]*streamsMember{
		"a": {id: "a", epoch: 3},
	}}}
	classic := &group{members: map[string]*member{}}
	id := func(s string) *string { return &s }
	for _, tc := range []struct {
		name     string
		memberID *string
		epoch    int32
		want     int16
	}{
		{"no member named", nil, -1, 0},
		{"current epoch", id("a"), 3, 0},
		{"older epoch", id("a"), 2, errcode.StaleMemberEpoch},
		{"newer epoch", id("a"), 4, errcode.StaleMemberEpoch},
		{"unknown member", id("z"), 3, errcode.UnknownMemberID},
		{"epoch without an ID", nil, 3, errcode.UnknownMemberID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, consumer.validateMemberFetchLocked(tc.memberID, tc.epoch), "consumer group")
			require.Equal(t, tc.want, streams.validateMemberFetchLocked(tc.memberID, tc.epoch), "streams group")
			require.Zero(t, classic.validateMemberFetchLocked(tc.memberID, tc.epoch), "classic group")
		})
	}
}
