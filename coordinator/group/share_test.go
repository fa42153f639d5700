package group

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/wire"
)

func newShareTestCoordinator(t *testing.T, l *memLog, removed chan [2]string) *Coordinator {
	c := New(Config{
		NumPartitions: 1, OffsetsRetention: time.Hour, ShareSessionTimeout: time.Hour,
		Topics: func() []TopicMetadata { return []TopicMetadata{{Name: "a", ID: topicA, Partitions: 2}} },
		ShareMemberRemoved: func(g, m string) {
			if removed != nil {
				removed <- [2]string{g, m}
			}
		},
	}, l, zaptest.NewLogger(t))
	loadTestCoordinator(t, c)
	return c
}

func shareHB(member string, epoch int32, topics ...string) *protocol.ShareGroupHeartbeatRequest {
	r := &protocol.ShareGroupHeartbeatRequest{GroupID: "sg", MemberID: member, MemberEpoch: epoch}
	for _, t := range topics {
		r.SubscribedTopicNames = append(r.SubscribedTopicNames, protocol.TopicName(t))
	}
	return r
}

func shareAssigned(r *protocol.ShareGroupHeartbeatResponse) []int32 {
	var out []int32
	for _, tp := range r.Assignment.TopicPartitions {
		out = append(out, tp.Partitions...)
	}
	return out
}

// TestShareGroupHeartbeat: members join, partitions are shared once there
// are more members than partitions, leaving reassigns, and the group
// survives a reload with its members, then deleted leaves nothing behind.
func TestShareGroupHeartbeat(t *testing.T) {
	ctx := context.Background()
	l := &memLog{recs: map[int32][][2][]byte{}}
	removed := make(chan [2]string, 10)
	c := newShareTestCoordinator(t, l, removed)

	for _, tc := range []struct {
		name string
		req  *protocol.ShareGroupHeartbeatRequest
		code int16
	}{
		{"no member id", shareHB("", 0, "a"), errcode.InvalidRequest},
		{"no topics on join", shareHB("m1", 0), errcode.InvalidRequest},
		{"unknown member", shareHB("mx", 3), errcode.UnknownMemberID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.code, c.ShareGroupHeartbeat(ctx, 1, "c", "h", tc.req).ErrorCode)
		})
	}

	r1 := c.ShareGroupHeartbeat(ctx, 1, "c1", "h", shareHB("m1", 0, "a"))
	require.Zero(t, r1.ErrorCode)
	require.EqualValues(t, 1, r1.MemberEpoch)
	require.Equal(t, []int32{0, 1}, shareAssigned(r1))

	r2 := c.ShareGroupHeartbeat(ctx, 1, "c2", "h", shareHB("m2", 0, "a"))
	require.EqualValues(t, 2, r2.MemberEpoch)
	require.Equal(t, []int32{1}, shareAssigned(r2))
	r3 := c.ShareGroupHeartbeat(ctx, 1, "c3", "h", shareHB("m3", 0, "a"))
	require.Equal(t, []int32{0}, shareAssigned(r3), "third member shares partition 0")

	// m1 heartbeats at its old epoch: fenced; at 0 it rejoins.
	require.Equal(t, errcode.FencedMemberEpoch, c.ShareGroupHeartbeat(ctx, 1, "c1", "h", shareHB("m1", 2)).ErrorCode)
	r1 = c.ShareGroupHeartbeat(ctx, 1, "c1", "h", shareHB("m1", 0, "a"))
	require.EqualValues(t, 3, r1.MemberEpoch)
	require.Equal(t, []int32{0}, shareAssigned(r1))
	// Unchanged: no assignment in the response.
	require.Nil(t, c.ShareGroupHeartbeat(ctx, 1, "c1", "h", shareHB("m1", 3)).Assignment)

	d := c.DescribeShareGroup("sg")
	require.Zero(t, d.ErrorCode)
	require.Equal(t, "Stable", d.GroupState)
	require.Equal(t, "simple", d.AssignorName)
	require.Len(t, d.Members, 3)

	lr := c.ShareGroupHeartbeat(ctx, 1, "c2", "h", shareHB("m2", -1))
	require.Zero(t, lr.ErrorCode)
	require.EqualValues(t, -1, lr.MemberEpoch)
	require.Equal(t, [2]string{"sg", "m2"}, <-removed)

	code, groups := c.ListGroups(nil, []string{"share"})
	require.Zero(t, code)
	require.Equal(t, []GroupListing{{GroupID: "sg", ProtocolType: "share", State: "Stable", Type: "share"}}, groups)
	_, groups = c.ListGroups(nil, []string{"consumer"})
	require.Empty(t, groups)

	// Not a consumer or classic group.
	require.Equal(t, errcode.GroupIDNotFound, c.ConsumerGroupHeartbeat(ctx, 1, "c", "h", &protocol.ConsumerGroupHeartbeatRequest{
		GroupID: "sg", MemberID: "x", MemberEpoch: 0, RebalanceTimeoutMs: 1000, SubscribedTopicNames: []protocol.TopicName{"a"}, TopicPartitions: []protocol.ConsumerGroupHeartbeatRequestTopicPartitions{}}).ErrorCode)
	require.Equal(t, errcode.NonEmptyGroup, c.DeleteGroups(ctx, []string{"sg"})[0])

	// Reload (a coordinator restart or move): the group comes back from
	// its records with its members, epochs and assignments.
	before := c.DescribeShareGroup("sg")
	require.Len(t, before.Members, 2)
	c.Close()
	c2 := newShareTestCoordinator(t, l, nil)
	d = c2.DescribeShareGroup("sg")
	require.Equal(t, before, d)
	require.EqualValues(t, 4, d.GroupEpoch)
	// The members go on at their epoch; nothing new to send them.
	for _, id := range []string{"m1", "m3"} {
		r := c2.ShareGroupHeartbeat(ctx, 1, "c", "h", shareHB(id, 4))
		require.Zero(t, r.ErrorCode, "member %s", id)
		require.EqualValues(t, 4, r.MemberEpoch)
		require.Nil(t, r.Assignment)
	}
	require.Equal(t, errcode.FencedMemberEpoch, c2.ShareGroupHeartbeat(ctx, 1, "c", "h", shareHB("m1", 3)).ErrorCode)
	for _, id := range []string{"m1", "m3"} {
		require.Zero(t, c2.ShareGroupHeartbeat(ctx, 1, "c", "h", shareHB(id, -1)).ErrorCode)
	}
	// Once empty, the group is still there after another reload, with its
	// epoch and its topics.
	c2.Close()
	c3 := newShareTestCoordinator(t, l, nil)
	d = c3.DescribeShareGroup("sg")
	require.Zero(t, d.ErrorCode)
	require.Equal(t, "Empty", d.GroupState)
	require.EqualValues(t, 6, d.GroupEpoch)
	topics, code := c3.SubscribedTopics("sg")
	require.Zero(t, code)
	require.Equal(t, []string{"a"}, topics, "the group's topics survive the reload without members")
	require.Equal(t, []int16{0}, c3.DeleteGroups(ctx, []string{"sg"}))
	require.Equal(t, errcode.GroupIDNotFound, c3.DescribeShareGroup("sg").ErrorCode)
	c3.Close()
	c4 := newShareTestCoordinator(t, l, nil)
	require.Equal(t, errcode.GroupIDNotFound, c4.DescribeShareGroup("sg").ErrorCode)
	s, _ := c4.shardFor("sg")
	s.mu.Lock()
	require.Empty(t, s.groups, "every record of the group was tombstoned")
	s.mu.Unlock()
}

func TestShareGroupMaxSize(t *testing.T) {
	ctx := context.Background()
	c := New(Config{
		NumPartitions: 1, OffsetsRetention: time.Hour, ShareSessionTimeout: time.Hour, ShareMaxSize: 2,
		Topics: func() []TopicMetadata { return []TopicMetadata{{Name: "a", ID: topicA, Partitions: 2}} },
	}, &memLog{recs: map[int32][][2][]byte{}}, zaptest.NewLogger(t))
	loadTestCoordinator(t, c)
	require.Zero(t, c.ShareGroupHeartbeat(ctx, 1, "c", "h", shareHB("m1", 0, "a")).ErrorCode)
	require.Zero(t, c.ShareGroupHeartbeat(ctx, 1, "c", "h", shareHB("m2", 0, "a")).ErrorCode)
	require.Equal(t, errcode.GroupMaxSizeReached, c.ShareGroupHeartbeat(ctx, 1, "c", "h", shareHB("m3", 0, "a")).ErrorCode)
	// A member already in rejoins (epoch 0) within the limit.
	require.Zero(t, c.ShareGroupHeartbeat(ctx, 1, "c", "h", shareHB("m2", 0, "a")).ErrorCode)
}

// TestShareTopicsRecordLayouts: record 15 is read in Kafka's
// ShareGroupStatePartitionMetadata layout and in the one Spool wrote
// before (int16 0 | []string names | tags).
func TestShareTopicsRecordLayouts(t *testing.T) {
	existing := map[string]TopicMetadata{"a": {Name: "a", ID: topicA, Partitions: 2}, "b": {Name: "b", ID: topicB, Partitions: 1}}
	got, err := decodeShareTopicsValue(encodeShareTopicsValue(map[string]bool{"a": true, "b": true, "gone": true}, existing))
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"a": true, "b": true}, got, "a topic without an id is not written")

	old := wire.AppendInt16(nil, 0)
	old = wire.AppendCompactArrayLen(old, 2)
	old = wire.AppendCompactString(old, "a")
	old = wire.AppendCompactString(old, "x")
	old = wire.AppendUvarint(old, 0)
	got, err = decodeShareTopicsValue(old)
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"a": true, "x": true}, got)

	_, err = decodeShareTopicsValue([]byte{0, 0, 5})
	require.ErrorIs(t, err, ErrCorruptRecord)
}

func FuzzReplayShareRecord(f *testing.F) {
	m := &shareMember{id: "m", clientID: "c", topics: []string{"a"}, assignment: map[protocol.UUID][]int32{topicA: {0, 1}}}
	existing := map[string]TopicMetadata{"a": {Name: "a", ID: topicA, Partitions: 2}}
	for _, s := range []struct {
		kind int16
		v    []byte
	}{
		{keyShareMemberMetadata, encodeShareMemberValue(m)},
		{keyShareCurrentAssignment, encodeShareCurrentValue(m)},
		{keyShareTargetMember, encodeShareTargetMemberValue(m.assignment)},
		{keyShareGroupTopics, encodeShareTopicsValue(map[string]bool{"a": true}, existing)},
	} {
		f.Add(encodeShareKey(s.kind, "g", "m"), s.v)
	}
	f.Fuzz(func(t *testing.T, key, value []byte) {
		_ = replayShareRecord(map[string]*group{}, key, value)
	})
}
