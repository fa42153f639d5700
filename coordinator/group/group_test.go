package group

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
)

func TestPartitionFor(t *testing.T) {
	for _, tc := range []struct {
		group string
		hash  int32
		part  int32
	}{
		{"", 0, 0},
		{"a", 97, 47},
		{"ab", 97*31 + 98, 3105 % 50},
		// 103·31⁴ + 114·31³ + 111·31² + 117·31 + 112
		{"group", 98629247, 98629247 % 50},
		// Java's famous string whose hashCode is Integer.MIN_VALUE: Kafka's
		// Utils.abs maps it to 0 where Math.abs would stay negative.
		{"polygenelubricants", math.MinInt32, 0},
		// A negative hashCode: Utils.abs is Math.abs there, not x & 0x7fffffff
		// (which would give 240985886 % 50 = 36). Kafka 4.3.1 (java's
		// "my-group".hashCode() and Utils.abs) puts this group in partition 12.
		{"my-group", -1906497762, 12},
		// U+1F600 is two UTF-16 code units: 0xD83D·31 + 0xDE00.
		{"\U0001F600", 0xD83D*31 + 0xDE00, (0xD83D*31 + 0xDE00) % 50},
	} {
		t.Run(tc.group, func(t *testing.T) {
			require.Equal(t, tc.hash, JavaStringHashCode(tc.group))
			require.Equal(t, tc.part, PartitionFor(tc.group, 50))
		})
	}
}

func TestRecordRoundTrip(t *testing.T) {
	k := OffsetKey{Group: "g", Topic: "t", Partition: 7}
	kind, got, err := decodeKey(EncodeOffsetKey(k))
	require.NoError(t, err)
	require.Equal(t, kindOffset, kind)
	require.Equal(t, k, got)
	kind, got, err = decodeKey(EncodeGroupKey("grp"))
	require.NoError(t, err)
	require.Equal(t, kindGroup, kind)
	require.Equal(t, "grp", got.Group)
	// OffsetCommitKey v1 bytes by hand: version, "g", "t", partition 7.
	require.Equal(t, []byte{0, 1, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 7}, EncodeOffsetKey(k))

	for _, v := range []OffsetValue{
		{Offset: 42, LeaderEpoch: 3, Metadata: "m", CommitTimestamp: 1000, ExpireTimestamp: -1},
		{Offset: 42, LeaderEpoch: -1, Metadata: "", CommitTimestamp: 1000, ExpireTimestamp: 5000},
	} {
		b := EncodeOffsetValue(v)
		got, err := DecodeOffsetValue(b)
		require.NoError(t, err)
		require.Equal(t, v, got)
	}
	require.Equal(t, int16(3), int16(EncodeOffsetValue(OffsetValue{ExpireTimestamp: -1})[1]))

	inst := "i-1"
	proto, leader := "range", "m1"
	gv := GroupValue{
		ProtocolType: "consumer", Generation: 5, Protocol: &proto, Leader: &leader, CurrentStateTimestamp: 99,
		Members: []MemberValue{{MemberID: "m1", GroupInstanceID: &inst, ClientID: "c", ClientHost: "/h",
			RebalanceTimeout: 3, SessionTimeout: 4, Subscription: []byte{1}, Assignment: []byte{2}}},
	}
	dv, err := DecodeGroupValue(EncodeGroupValue(gv))
	require.NoError(t, err)
	require.Equal(t, gv, dv)

	_, err = DecodeGroupValue([]byte{0, 3, 0})
	require.ErrorIs(t, err, ErrCorruptRecord)
	kind, _, err = decodeKey([]byte{0, 9, 1, 2})
	require.NoError(t, err)
	require.Equal(t, kindOther, kind, "unknown record types are skipped")
}

func FuzzDecodeGroupValue(f *testing.F) {
	f.Add(EncodeGroupValue(GroupValue{ProtocolType: "consumer", Members: []MemberValue{{MemberID: "x"}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = DecodeGroupValue(b)
		_, _ = DecodeOffsetValue(b)
		_, _, _ = decodeKey(b)
	})
}

// memLog is an in-memory Log: one record list per partition. Records are
// committed at once unless replication is set: then each append is
// committed when it returns (a follower's fetch, in a test).
type memLog struct {
	mu          sync.Mutex
	recs        map[int32][][2][]byte
	replication func(ctx context.Context, recs []records.Record) error
}

func (l *memLog) Append(ctx context.Context, p int32, recs []records.Record) (Committed, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range recs {
		l.recs[p] = append(l.recs[p], [2][]byte{r.Key, r.Value})
	}
	if repl := l.replication; repl != nil {
		return func(ctx context.Context) error { return repl(ctx, recs) }, nil
	}
	return nil, nil
}

func (l *memLog) Replay(ctx context.Context, p int32, fn func(k, v []byte) error) error {
	l.mu.Lock()
	recs := append([][2][]byte{}, l.recs[p]...)
	l.mu.Unlock()
	for _, r := range recs {
		if err := fn(r[0], r[1]); err != nil {
			return err
		}
	}
	return nil
}

// loadTestCoordinator loads c's partition 0, waits until its replay is
// done, and closes c when the test ends.
func loadTestCoordinator(t *testing.T, c *Coordinator) {
	t.Helper()
	t.Cleanup(c.Close)
	c.Load(0, 1)
	require.Eventually(t, func() bool {
		s, _ := c.shardFor("x")
		s.mu.Lock()
		defer s.mu.Unlock()
		return !s.loading
	}, 5*time.Second, time.Millisecond)
}

func newTestCoordinator(t *testing.T, l *memLog, maxSize int) *Coordinator {
	c := New(Config{
		NumPartitions: 1, MinSessionTimeout: 10 * time.Millisecond, MaxSessionTimeout: time.Minute,
		MaxSize: maxSize, OffsetMetadataMaxBytes: 10, OffsetsRetention: time.Hour,
	}, l, zaptest.NewLogger(t))
	loadTestCoordinator(t, c)
	return c
}

func joinReq(member string, inst *string, session int32) *protocol.JoinGroupRequest {
	return &protocol.JoinGroupRequest{
		GroupID: "g", SessionTimeoutMs: session, RebalanceTimeoutMs: 1000, MemberID: member, GroupInstanceID: inst,
		ProtocolType: "consumer", Protocols: []protocol.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0, 0, 0, 0, 0, 0}}},
	}
}

func TestClassicStateMachine(t *testing.T) {
	ctx := context.Background()
	l := &memLog{recs: map[int32][][2][]byte{}}
	c := newTestCoordinator(t, l, 3)

	r := c.JoinGroup(ctx, 9, "cli", "/h", joinReq("", nil, 10000))
	require.Equal(t, errcode.MemberIDRequired, r.ErrorCode)
	id1 := r.MemberID
	r = c.JoinGroup(ctx, 9, "cli", "/h", joinReq(id1, nil, 10000))
	require.Zero(t, r.ErrorCode)
	require.Equal(t, int32(1), r.GenerationID)
	require.Equal(t, id1, r.Leader)
	require.Len(t, r.Members, 1)
	require.Equal(t, "range", *r.ProtocolName)

	sync := func(id string, gen int32, assign bool) *protocol.SyncGroupResponse {
		req := &protocol.SyncGroupRequest{GroupID: "g", GenerationID: gen, MemberID: id}
		if assign {
			req.Assignments = []protocol.SyncGroupRequestAssignment{{MemberID: id, Assignment: []byte("A")}}
		}
		return c.SyncGroup(ctx, 5, req)
	}
	require.Equal(t, errcode.IllegalGeneration, sync(id1, 7, true).ErrorCode)
	require.Equal(t, errcode.UnknownMemberID, sync("nope", 1, true).ErrorCode)
	sr := sync(id1, 1, true)
	require.Zero(t, sr.ErrorCode)
	require.Equal(t, []byte("A"), sr.Assignment)
	require.Zero(t, c.Heartbeat(ctx, &protocol.HeartbeatRequest{GroupID: "g", GenerationID: 1, MemberID: id1}))
	require.Equal(t, errcode.IllegalGeneration, c.Heartbeat(ctx, &protocol.HeartbeatRequest{GroupID: "g", GenerationID: 0, MemberID: id1}))

	// An inconsistent protocol type is refused.
	bad := joinReq("", nil, 10000)
	bad.ProtocolType = "connect"
	require.Equal(t, errcode.InconsistentGroupProtocol, c.JoinGroup(ctx, 9, "cli", "/h", bad).ErrorCode)

	// A static member joins: the group rebalances; the old member must rejoin.
	inst := "static-1"
	done := make(chan *protocol.JoinGroupResponse, 1)
	go func() { done <- c.JoinGroup(ctx, 9, "cli2", "/h", joinReq("", &inst, 10000)) }()
	require.Eventually(t, func() bool {
		return c.Heartbeat(ctx, &protocol.HeartbeatRequest{GroupID: "g", GenerationID: 1, MemberID: id1}) == errcode.RebalanceInProgress
	}, 5*time.Second, time.Millisecond)
	r = c.JoinGroup(ctx, 9, "cli", "/h", joinReq(id1, nil, 10000))
	require.Zero(t, r.ErrorCode)
	r2 := <-done
	require.Zero(t, r2.ErrorCode)
	require.Equal(t, int32(2), r2.GenerationID)
	staticID := r2.MemberID

	// Complete generation 2.
	go func() { sync(staticID, 2, false) }()
	sr = c.SyncGroup(ctx, 5, &protocol.SyncGroupRequest{GroupID: "g", GenerationID: 2, MemberID: id1,
		Assignments: []protocol.SyncGroupRequestAssignment{{MemberID: id1, Assignment: []byte("1")}, {MemberID: staticID, Assignment: []byte("S")}}})
	require.Zero(t, sr.ErrorCode)

	// Offsets: member commit, simple commit refused while members exist.
	code, codes := c.CommitOffsets(ctx, CommitRequest{Version: 9, Group: "g", Generation: 2, MemberID: id1, RetentionMs: -1,
		Offsets: []OffsetCommit{{Topic: "t", Partition: 0, Offset: 5, LeaderEpoch: 1}, {Topic: "t", Partition: 1, Offset: 6, Metadata: ptr("0123456789x")}}})
	require.Zero(t, code)
	require.Equal(t, []int16{0, errcode.OffsetMetadataTooLarge}, codes)
	code, _ = c.CommitOffsets(ctx, CommitRequest{Version: 9, Group: "g", Generation: -1, RetentionMs: -1, Offsets: []OffsetCommit{{Topic: "t"}}})
	require.Equal(t, errcode.UnknownMemberID, code)
	code, _ = c.CommitOffsets(ctx, CommitRequest{Version: 9, Group: "g", Generation: 1, MemberID: id1, RetentionMs: -1, Offsets: []OffsetCommit{{Topic: "t"}}})
	require.Equal(t, errcode.IllegalGeneration, code)
	code, _ = c.CommitOffsets(ctx, CommitRequest{Version: 9, Group: "other", Generation: 3, MemberID: "m", RetentionMs: -1, Offsets: []OffsetCommit{{Topic: "t"}}})
	require.Equal(t, errcode.GroupIDNotFound, code)
	require.Equal(t, []int16{errcode.NonEmptyGroup}, c.DeleteGroups(ctx, []string{"g"}))

	// Restart the static member: fenced old id, no rebalance, same assignment.
	r = c.JoinGroup(ctx, 9, "cli2", "/h", joinReq("", &inst, 10000))
	require.Zero(t, r.ErrorCode)
	require.Equal(t, int32(2), r.GenerationID, "no rebalance")
	newStatic := r.MemberID
	require.Equal(t, errcode.FencedInstanceID, c.Heartbeat(ctx, &protocol.HeartbeatRequest{GroupID: "g", GenerationID: 2, MemberID: staticID, GroupInstanceID: &inst}))
	sr = sync(newStatic, 2, false)
	require.Zero(t, sr.ErrorCode)
	require.Equal(t, []byte("S"), sr.Assignment)

	// Reload from the log: offsets and the static member survive.
	c.Unload(0)
	require.Equal(t, errcode.NotCoordinator, c.Heartbeat(ctx, &protocol.HeartbeatRequest{GroupID: "g", GenerationID: 2, MemberID: id1}))
	c2 := newTestCoordinator(t, l, 3)
	code, offs := c2.FetchOffsets(ctx, "g", nil, false)
	require.Zero(t, code)
	require.Equal(t, []FetchedOffset{{Topic: "t", Partition: 0, Offset: 5, LeaderEpoch: 1}}, offs)
	d := c2.DescribeGroup(ctx, "g")
	require.Equal(t, "Stable", d.State)
	require.Len(t, d.Members, 2)
	r = c2.JoinGroup(ctx, 9, "cli2", "/h", joinReq("", &inst, 10000))
	require.Zero(t, r.ErrorCode)
	require.Equal(t, int32(2), r.GenerationID)
	require.Equal(t, []byte("S"), c2.SyncGroup(ctx, 5, &protocol.SyncGroupRequest{GroupID: "g", GenerationID: 2, MemberID: r.MemberID}).Assignment)

	// Both leave; the group empties, offsets can then be deleted with the group.
	lr := c2.LeaveGroup(ctx, 5, &protocol.LeaveGroupRequest{GroupID: "g", Members: []protocol.LeaveGroupRequestMemberIdentity{{MemberID: id1}, {GroupInstanceID: &inst}, {MemberID: "ghost"}}})
	require.Equal(t, []int16{0, 0, errcode.UnknownMemberID}, []int16{lr.Members[0].ErrorCode, lr.Members[1].ErrorCode, lr.Members[2].ErrorCode})
	require.Eventually(t, func() bool { return c2.DescribeGroup(ctx, "g").State == "Empty" }, 5*time.Second, time.Millisecond)
	_, list := c2.ListGroups([]string{"empty"}, nil)
	require.Len(t, list, 1)
	require.Equal(t, []int16{0, errcode.GroupIDNotFound}, c2.DeleteGroups(ctx, []string{"g", "g"}))
	code, offs = c2.FetchOffsets(ctx, "g", []TopicPartitions{{Topic: "t", Partitions: []int32{0}}}, false)
	require.Zero(t, code)
	require.Equal(t, int64(-1), offs[0].Offset)
}

func TestSessionTimeoutRemovesMember(t *testing.T) {
	ctx := context.Background()
	c := newTestCoordinator(t, &memLog{recs: map[int32][][2][]byte{}}, 10)
	r := c.JoinGroup(ctx, 3, "cli", "/h", joinReq("", nil, 50))
	require.Zero(t, r.ErrorCode, "v3 joins without MEMBER_ID_REQUIRED")
	require.Zero(t, c.SyncGroup(ctx, 3, &protocol.SyncGroupRequest{GroupID: "g", GenerationID: 1, MemberID: r.MemberID}).ErrorCode)
	require.Eventually(t, func() bool { return c.DescribeGroup(ctx, "g").State == "Empty" }, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, errcode.UnknownMemberID, c.Heartbeat(ctx, &protocol.HeartbeatRequest{GroupID: "g", GenerationID: 1, MemberID: r.MemberID}))
	require.Equal(t, errcode.InvalidSessionTimeout, c.JoinGroup(ctx, 9, "cli", "/h", joinReq("", nil, 1)).ErrorCode)
}

func ptr(s string) *string { return &s }

func TestGroupMaxSize(t *testing.T) {
	ctx := context.Background()
	c := newTestCoordinator(t, &memLog{recs: map[int32][][2][]byte{}}, 1)
	r := c.JoinGroup(ctx, 3, "cli", "/h", joinReq("", nil, 10000))
	require.Zero(t, r.ErrorCode)
	// Kafka checks the size before handing out a member id.
	r = c.JoinGroup(ctx, 9, "cli2", "/h", joinReq("", nil, 10000))
	require.Equal(t, errcode.GroupMaxSizeReached, r.ErrorCode)
}

// TestClassicTxnOffsetCommitValidation is ClassicGroup.validateOffsetCommit
// for TxnOffsetCommit: unlike OffsetCommit, it is taken while the members
// sync (CompletingRebalance) and without member details, since the
// producer finds REBALANCE_IN_PROGRESS and UNKNOWN_MEMBER_ID from there
// fatal or needless; a stale generation is ILLEGAL_GENERATION for both.
func TestClassicTxnOffsetCommitValidation(t *testing.T) {
	ctx := context.Background()
	c := New(Config{
		NumPartitions: 1, MinSessionTimeout: 10 * time.Millisecond, MaxSessionTimeout: time.Minute,
		MaxSize: 3, OffsetMetadataMaxBytes: 10, OffsetsRetention: time.Hour,
	}, txnMemLog{&memLog{recs: map[int32][][2][]byte{}}}, zaptest.NewLogger(t))
	loadTestCoordinator(t, c)

	id1 := c.JoinGroup(ctx, 9, "cli", "/h", joinReq("", nil, 10000)).MemberID
	require.Zero(t, c.JoinGroup(ctx, 9, "cli", "/h", joinReq(id1, nil, 10000)).ErrorCode)
	require.Zero(t, c.SyncGroup(ctx, 5, &protocol.SyncGroupRequest{GroupID: "g", GenerationID: 1, MemberID: id1,
		Assignments: []protocol.SyncGroupRequestAssignment{{MemberID: id1, Assignment: []byte("A")}}}).ErrorCode)

	// A second member joins; once both joined the group awaits SyncGroup
	// at generation 2.
	inst := "static-2"
	done := make(chan *protocol.JoinGroupResponse, 1)
	go func() { done <- c.JoinGroup(ctx, 9, "cli2", "/h", joinReq("", &inst, 10000)) }()
	require.Eventually(t, func() bool {
		return c.Heartbeat(ctx, &protocol.HeartbeatRequest{GroupID: "g", GenerationID: 1, MemberID: id1}) == errcode.RebalanceInProgress
	}, 5*time.Second, time.Millisecond)
	require.Equal(t, int32(2), c.JoinGroup(ctx, 9, "cli", "/h", joinReq(id1, nil, 10000)).GenerationID)
	require.Equal(t, int32(2), (<-done).GenerationID)
	require.Equal(t, "CompletingRebalance", c.DescribeGroup(ctx, "g").State)

	for _, tc := range []struct {
		name      string
		gen       int32
		member    string
		commit    int16
		txnCommit int16
	}{
		{"current generation while syncing", 2, id1, errcode.RebalanceInProgress, 0},
		{"no member details", -1, "", errcode.UnknownMemberID, 0},
		{"stale generation", 1, id1, errcode.IllegalGeneration, errcode.IllegalGeneration},
		{"unknown member", 2, "ghost", errcode.UnknownMemberID, errcode.UnknownMemberID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := CommitRequest{Version: 8, Group: "g", Generation: tc.gen, MemberID: tc.member, RetentionMs: -1,
				Offsets: []OffsetCommit{{Topic: "t", Partition: 0, Offset: 5, LeaderEpoch: -1}}}
			code, _ := c.CommitOffsets(ctx, req)
			require.Equal(t, tc.commit, code, "OffsetCommit: %s", errcode.Name(code))
			code, _ = c.CommitTxnOffsets(ctx, req, 42, 0)
			require.Equal(t, tc.txnCommit, code, "TxnOffsetCommit: %s", errcode.Name(code))
		})
	}
}
