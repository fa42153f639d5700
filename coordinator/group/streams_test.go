package group

import (
	"context"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/wire"
)

func testTopology() *streamsTopology {
	t, err := newStreamsTopology(&protocol.StreamsGroupHeartbeatRequestTopology{Epoch: 1, Subtopologies: []protocol.StreamsGroupHeartbeatRequestSubtopology{
		{SubtopologyID: "0", SourceTopics: []protocol.TopicName{"in"}, RepartitionSinkTopics: []protocol.TopicName{"app-rep"}},
		{SubtopologyID: "1", RepartitionSourceTopics: []protocol.StreamsGroupHeartbeatRequestTopicInfo{{Name: "app-rep"}},
			StateChangelogTopics: []protocol.StreamsGroupHeartbeatRequestTopicInfo{{Name: "app-changelog",
				TopicConfigs: []protocol.StreamsGroupHeartbeatRequestKeyValue{{Key: "cleanup.policy", Value: "compact"}}}}},
	}})
	if err != nil {
		panic(err)
	}
	return t
}

func TestConfigureStreamsTopology(t *testing.T) {
	tests := []struct {
		name    string
		parts   map[string]int32
		status  int8 // -1: ready
		detail  string
		tasks   map[string]int32
		missing []StreamsInternalTopic
	}{
		{"missing source", map[string]int32{}, StreamsStatusMissingSourceTopics, "Source topics in are missing.", nil, nil},
		{"missing internal", map[string]int32{"in": 3}, StreamsStatusMissingInternalTopics,
			"Internal topics are missing: app-changelog, app-rep", map[string]int32{"0": 3, "1": 3},
			[]StreamsInternalTopic{
				{Name: "app-changelog", Partitions: 3, ReplicationFactor: -1, Configs: map[string]string{"cleanup.policy": "compact"}},
				{Name: "app-rep", Partitions: 3, ReplicationFactor: -1, Configs: map[string]string{}},
			}},
		{"one missing", map[string]int32{"in": 3, "app-rep": 3}, StreamsStatusMissingInternalTopics,
			"Internal topics are missing: app-changelog", map[string]int32{"0": 3, "1": 3},
			[]StreamsInternalTopic{{Name: "app-changelog", Partitions: 3, ReplicationFactor: -1, Configs: map[string]string{"cleanup.policy": "compact"}}}},
		{"wrong partitions", map[string]int32{"in": 3, "app-rep": 3, "app-changelog": 2}, StreamsStatusIncorrectlyPartitionedTopics,
			"Existing topic app-changelog has different number of partitions: expected 3, found 2", nil, nil},
		{"ready", map[string]int32{"in": 3, "app-rep": 3, "app-changelog": 3}, -1, "", map[string]int32{"0": 3, "1": 3}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ct := configureStreamsTopology(testTopology(), tc.parts)
			if tc.status < 0 {
				require.True(t, ct.ready(), "%+v", ct)
			} else {
				require.False(t, ct.ready())
				require.Equal(t, tc.status, ct.statusCode)
				require.Equal(t, tc.detail, ct.statusDetail)
			}
			if tc.tasks != nil {
				require.Equal(t, tc.tasks, ct.tasks)
			}
			require.Equal(t, tc.missing, ct.missing)
		})
	}
}

func TestAssignStreamsTasks(t *testing.T) {
	tasks := map[string]int32{"0": 4, "1": 2}
	// One member gets everything.
	out := assignStreamsTasks([]stickyMember{{id: "a", processID: "p1"}}, tasks, 0)
	require.Equal(t, 6, out["a"].active.size())

	// A second member: balanced, and a keeps what it can.
	prev := out["a"]
	out = assignStreamsTasks([]stickyMember{{id: "a", processID: "p1", previous: prev}, {id: "b", processID: "p2"}}, tasks, 1)
	require.Equal(t, 3, out["a"].active.size())
	require.Equal(t, 3, out["b"].active.size())
	require.True(t, isSubset(out["a"].active, prev.active))
	// One standby per task, never on the active task's process.
	require.Equal(t, 3, out["a"].standby.size())
	require.Equal(t, 3, out["b"].standby.size())
	require.False(t, intersects(out["a"].active, out["a"].standby))
	require.False(t, intersects(out["b"].active, out["b"].standby))

	// Two members of one process: no standby (no other process).
	out = assignStreamsTasks([]stickyMember{{id: "a", processID: "p"}, {id: "b", processID: "p"}}, tasks, 1)
	require.Zero(t, out["a"].standby.size()+out["b"].standby.size())
	require.Equal(t, 6, out["a"].active.size()+out["b"].active.size())
}

func newStreamsTestCoordinator(t *testing.T, l *memLog, initialDelay time.Duration) *Coordinator {
	return newStreamsTestCoordinatorStandby(t, l, initialDelay, 1)
}

func newStreamsTestCoordinatorStandby(t *testing.T, l *memLog, initialDelay time.Duration, standby int) *Coordinator {
	return newStreamsTestCoordinatorConfig(t, l, func(cfg *Config) {
		cfg.StreamsNumStandbyReplicas, cfg.StreamsInitialDelay = standby, initialDelay
	})
}

// newStreamsTestCoordinatorConfig is a loaded coordinator over the topics
// of testTopologyRequest with the config edit makes.
func newStreamsTestCoordinatorConfig(t *testing.T, l *memLog, edit func(*Config)) *Coordinator {
	cfg := Config{
		NumPartitions: 1, MinSessionTimeout: 10 * time.Millisecond, MaxSessionTimeout: time.Minute,
		OffsetMetadataMaxBytes: 10, OffsetsRetention: time.Hour,
		StreamsSessionTimeout: time.Minute, StreamsHeartbeatInterval: time.Second, StreamsMaxSize: 10,
		Topics: func() []TopicMetadata {
			return []TopicMetadata{{Name: "in", ID: topicA, Partitions: 4}, {Name: "app-rep", ID: topicB, Partitions: 4},
				{Name: "app-changelog", ID: protocol.UUID{3}, Partitions: 4}}
		},
	}
	edit(&cfg)
	c := New(cfg, l, zaptest.NewLogger(t))
	loadTestCoordinator(t, c)
	return c
}

func testTopologyRequest() *protocol.StreamsGroupHeartbeatRequestTopology {
	return &protocol.StreamsGroupHeartbeatRequestTopology{Epoch: 1, Subtopologies: []protocol.StreamsGroupHeartbeatRequestSubtopology{
		{SubtopologyID: "0", SourceTopics: []protocol.TopicName{"in"}, RepartitionSinkTopics: []protocol.TopicName{"app-rep"}},
		{SubtopologyID: "1", RepartitionSourceTopics: []protocol.StreamsGroupHeartbeatRequestTopicInfo{{Name: "app-rep"}},
			StateChangelogTopics: []protocol.StreamsGroupHeartbeatRequestTopicInfo{{Name: "app-changelog",
				TopicConfigs: []protocol.StreamsGroupHeartbeatRequestKeyValue{{Key: "cleanup.policy", Value: "compact"}}}},
			CopartitionGroups: []protocol.StreamsGroupHeartbeatRequestCopartitionGroup{{SourceTopics: []int16{}, SourceTopicRegex: []int16{}, RepartitionSourceTopics: []int16{0}}}},
	}}
}

// streamsTestMember drives one member through raw heartbeats, reporting
// the tasks it was last given as owned.
type streamsTestMember struct {
	id, process string
	epoch       int32
	endpoint    *protocol.StreamsGroupHeartbeatRequestEndpoint
	owned       streamsTasks
}

func (m *streamsTestMember) heartbeat(t *testing.T, c *Coordinator, group string) *protocol.StreamsGroupHeartbeatResponse {
	t.Helper()
	req := &protocol.StreamsGroupHeartbeatRequest{GroupID: protocol.GroupID(group), MemberID: m.id, MemberEpoch: m.epoch, RebalanceTimeoutMs: -1}
	taskIDs := func(ts taskSet) []protocol.StreamsGroupHeartbeatRequestTaskIDs {
		out := []protocol.StreamsGroupHeartbeatRequestTaskIDs{}
		for _, r := range responseTasks(ts) {
			out = append(out, protocol.StreamsGroupHeartbeatRequestTaskIDs{SubtopologyID: r.SubtopologyID, Partitions: r.Partitions})
		}
		return out
	}
	if m.epoch == 0 {
		req.RebalanceTimeoutMs = 30000
		req.Topology = testTopologyRequest()
		req.ProcessID = &m.process
		req.UserEndpoint = m.endpoint
		req.ClientTags = []protocol.StreamsGroupHeartbeatRequestKeyValue{{Key: "zone", Value: m.process}}
		req.ActiveTasks, req.StandbyTasks, req.WarmupTasks = taskIDs(taskSet{}), taskIDs(taskSet{}), taskIDs(taskSet{})
	} else {
		req.ActiveTasks, req.StandbyTasks, req.WarmupTasks = taskIDs(m.owned.active), taskIDs(m.owned.standby), taskIDs(m.owned.warmup)
	}
	r := c.StreamsGroupHeartbeat(context.Background(), "client-"+m.id, "/10.0.0.1", req)
	if r.ErrorCode != 0 {
		return r
	}
	m.epoch = r.MemberEpoch
	if r.ActiveTasks != nil {
		m.owned = emptyStreamsTasks()
		for _, set := range []struct {
			ts  []protocol.StreamsGroupHeartbeatResponseTaskIDs
			dst taskSet
		}{{r.ActiveTasks, m.owned.active}, {r.StandbyTasks, m.owned.standby}, {r.WarmupTasks, m.owned.warmup}} {
			for _, x := range set.ts {
				for _, p := range x.Partitions {
					set.dst.add(taskID{x.SubtopologyID, p})
				}
			}
		}
	}
	return r
}

// settleStreamsGroup heartbeats every member until the group is Stable.
func settleStreamsGroup(t *testing.T, c *Coordinator, group string, ms ...*streamsTestMember) {
	t.Helper()
	for i := 0; i < 20; i++ {
		for _, m := range ms {
			require.Zero(t, m.heartbeat(t, c, group).ErrorCode)
		}
		if c.DescribeStreamsGroup(context.Background(), group).GroupState == "Stable" {
			return
		}
	}
	t.Fatalf("group %s did not settle: %+v", group, c.DescribeStreamsGroup(context.Background(), group))
}

// TestStreamsGroupSurvivesReload: a streams group written as Kafka's
// records comes back from the log with the same members, epochs, topology
// and assignments (a coordinator restart or failover); its members go on
// at their epochs; a member's leave and the group's deletion are
// tombstoned and stay done after another reload.
func TestStreamsGroupSurvivesReload(t *testing.T) {
	ctx := context.Background()
	l := &memLog{recs: map[int32][][2][]byte{}}
	c := newStreamsTestCoordinator(t, l, 0)
	a := &streamsTestMember{id: "a", process: "pa", endpoint: &protocol.StreamsGroupHeartbeatRequestEndpoint{Host: "ha", Port: 7}}
	b := &streamsTestMember{id: "b", process: "pb"}
	require.Zero(t, a.heartbeat(t, c, "app").ErrorCode)
	settleStreamsGroup(t, c, "app", a)
	require.Zero(t, b.heartbeat(t, c, "app").ErrorCode)
	settleStreamsGroup(t, c, "app", a, b)
	before := c.DescribeStreamsGroup(ctx, "app")
	require.Len(t, before.Members, 2)
	require.Equal(t, 4, len(a.owned.active["0"])+len(a.owned.active["1"]), "balanced: %+v", a.owned)
	require.NotEmpty(t, a.owned.standby)

	// A member mid-revocation survives too: c joins, a must give tasks up.
	cm := &streamsTestMember{id: "c", process: "pc"}
	require.Zero(t, cm.heartbeat(t, c, "app").ErrorCode)
	require.Zero(t, a.heartbeat(t, c, "app").ErrorCode)
	mid := c.DescribeStreamsGroup(ctx, "app")
	require.Equal(t, "Reconciling", mid.GroupState)
	require.Len(t, mid.Members, 3)

	c.Close()
	c2 := newStreamsTestCoordinator(t, l, 0)
	after := c2.DescribeStreamsGroup(ctx, "app")
	require.Equal(t, mid, after)
	for _, m := range mid.Members {
		require.NotEqual(t, int32(0), m.MemberEpoch)
	}

	// The members carry on at their epochs, without rejoining.
	settleStreamsGroup(t, c2, "app", a, b, cm)
	stable := c2.DescribeStreamsGroup(ctx, "app")
	require.Len(t, stable.Members, 3)

	// b leaves: its records are tombstoned.
	r := c2.StreamsGroupHeartbeat(ctx, "client-b", "/h", &protocol.StreamsGroupHeartbeatRequest{GroupID: "app", MemberID: "b", MemberEpoch: leaveEpoch, RebalanceTimeoutMs: -1})
	require.Zero(t, r.ErrorCode)
	settleStreamsGroup(t, c2, "app", a, cm)
	left := c2.DescribeStreamsGroup(ctx, "app")
	c2.Close()
	c3 := newStreamsTestCoordinator(t, l, 0)
	require.Equal(t, left, c3.DescribeStreamsGroup(ctx, "app"))
	require.Len(t, left.Members, 2)

	// A fenced epoch is still fenced after the reload.
	stale := &streamsTestMember{id: "a", epoch: a.epoch + 5, owned: a.owned}
	require.Equal(t, errcode.FencedMemberEpoch, stale.heartbeat(t, c3, "app").ErrorCode)

	// The last members leave, the group is deleted: nothing comes back.
	for _, id := range []string{"a", "c"} {
		require.Zero(t, c3.StreamsGroupHeartbeat(ctx, "x", "/h", &protocol.StreamsGroupHeartbeatRequest{GroupID: "app", MemberID: id, MemberEpoch: leaveEpoch, RebalanceTimeoutMs: -1}).ErrorCode)
	}
	require.Equal(t, "Empty", c3.DescribeStreamsGroup(ctx, "app").GroupState)
	require.Equal(t, []int16{0}, c3.DeleteGroups(ctx, []string{"app"}))
	c3.Close()
	c4 := newStreamsTestCoordinator(t, l, 0)
	require.Equal(t, errcode.GroupIDNotFound, c4.DescribeStreamsGroup(ctx, "app").ErrorCode)
	s, _ := c4.shardFor("app")
	s.mu.Lock()
	require.Empty(t, s.groups)
	s.mu.Unlock()
}

func TestStreamsRecordRoundTrip(t *testing.T) {
	topo := testTopologyRequest()
	got, err := decodeStreamsTopologyValue(encodeStreamsTopologyValue(topo))
	require.NoError(t, err)
	// Empty lists decode as empty, as the request's do.
	want := *topo
	for i := range want.Subtopologies {
		st := &want.Subtopologies[i]
		for _, p := range []*[]protocol.TopicName{&st.SourceTopics, &st.RepartitionSinkTopics} {
			if *p == nil {
				*p = []protocol.TopicName{}
			}
		}
		if st.SourceTopicRegex == nil {
			st.SourceTopicRegex = []string{}
		}
		for _, p := range []*[]protocol.StreamsGroupHeartbeatRequestTopicInfo{&st.StateChangelogTopics, &st.RepartitionSourceTopics} {
			if *p == nil {
				*p = []protocol.StreamsGroupHeartbeatRequestTopicInfo{}
			}
		}
	}
	require.Equal(t, &want, got)

	rack := "r1"
	m := &streamsMember{id: "m", rackID: &rack, clientID: "c", clientHost: "/h", rebalanceTimeoutMs: 5000, topologyEpoch: 2, processID: "p",
		userEndpoint: &protocol.StreamsGroupHeartbeatRequestEndpoint{Host: "h", Port: 65535}, clientTags: [][2]string{{"k", "v"}},
		epoch: 7, previousEpoch: 6, state: streamsUnrevokedTasks,
		assigned:          streamsTasks{active: taskSet{"0": {1, 3}}, standby: taskSet{"1": {0}}, warmup: taskSet{"1": {2}}},
		pendingRevocation: taskSet{"0": {2}}, activeEpochs: map[taskID]int32{{"0", 1}: 5, {"0", 3}: 7, {"0", 2}: 4}}
	groups := map[string]*group{}
	for _, r := range []struct {
		kind int16
		v    []byte
	}{
		{keyStreamsTopology, encodeStreamsTopologyValue(topo)},
		{keyStreamsMemberMetadata, encodeStreamsMemberValue(m)},
		{keyStreamsGroupMetadata, encodeStreamsGroupValue(9, 42, 1, map[string]string{"num.standby.replicas": "2"})},
		{keyStreamsTargetMember, encodeStreamsTargetMemberValue(streamsTasks{active: taskSet{"0": {1}}, standby: taskSet{}, warmup: taskSet{"1": {2}}})},
		{keyStreamsTargetMetadata, encodeStreamsTargetMetadataValue(8, 1234)},
		{keyStreamsCurrentAssignment, encodeStreamsCurrentValue(m)},
	} {
		require.NoError(t, replayStreamsRecord(groups, encodeStreamsKey(r.kind, "g", "m"), r.v))
	}
	sg := groups["g"].streams
	require.Equal(t, int32(9), sg.epoch)
	require.Equal(t, int64(42), sg.metadataHash)
	require.Equal(t, map[string]string{"num.standby.replicas": "2"}, sg.lastAssignmentConfigs)
	require.Equal(t, int32(8), sg.assignmentEpoch)
	require.Equal(t, int64(1234), sg.assignmentTimestamp)
	require.Equal(t, int32(1), sg.topology.epoch)
	require.Equal(t, [][]string{{"app-rep"}}, sg.topology.subtopologies[1].copartitionGroups)
	require.True(t, sg.target["m"].equal(streamsTasks{active: taskSet{"0": {1}}, standby: taskSet{}, warmup: taskSet{"1": {2}}}))
	gm := sg.members["m"]
	gm.sessionTimer, gm.revokeTimer = nil, nil
	require.Equal(t, m, gm)
	require.Len(t, sg.persisted, 6)

	// Tombstones undo them: the member goes, then the group.
	for _, kind := range []int16{keyStreamsCurrentAssignment, keyStreamsTargetMember, keyStreamsMemberMetadata} {
		require.NoError(t, replayStreamsRecord(groups, encodeStreamsKey(kind, "g", "m"), nil))
	}
	require.Empty(t, sg.members)
	require.Empty(t, sg.target)
	require.NoError(t, replayStreamsRecord(groups, encodeStreamsKey(keyStreamsGroupMetadata, "g", ""), nil))
	require.Empty(t, groups)
}

func FuzzReplayStreamsRecord(f *testing.F) {
	m := &streamsMember{id: "m", clientTags: [][2]string{}, assigned: streamsTasks{active: taskSet{"0": {1}}, standby: taskSet{}, warmup: taskSet{}},
		pendingRevocation: taskSet{}, activeEpochs: map[taskID]int32{{"0", 1}: 3}}
	for _, s := range []struct {
		kind int16
		v    []byte
	}{
		{keyStreamsTopology, encodeStreamsTopologyValue(testTopologyRequest())},
		{keyStreamsMemberMetadata, encodeStreamsMemberValue(m)},
		{keyStreamsCurrentAssignment, encodeStreamsCurrentValue(m)},
		{keyStreamsTargetMetadata, encodeStreamsTargetMetadataValue(1, 2)},
	} {
		f.Add(encodeStreamsKey(s.kind, "g", "m"), s.v)
	}
	f.Fuzz(func(t *testing.T, key, value []byte) {
		_ = replayStreamsRecord(map[string]*group{}, key, value)
	})
}

// TestStreamsGroupInitialDelayAsKafka follows what Kafka 4.3.1 answered
// (group.streams.initial.rebalance.delay.ms 3000, raw heartbeats and
// describes against a broker): a new group's first member gets epoch 1
// while the group is at epoch 2 and Assigning with an empty target; when
// the delay is over the target of epoch 2 is computed and the member gets
// its tasks. A member joining the group once empty again gets the old
// assignment epoch, and the group epoch moves by one.
func TestStreamsGroupInitialDelayAsKafka(t *testing.T) {
	ctx := context.Background()
	type state struct {
		state                             string
		groupEpoch, assignEpoch, memEpoch int32
	}
	describe := func(c *Coordinator) state {
		d := c.DescribeStreamsGroup(ctx, "app")
		require.Zero(t, d.ErrorCode)
		st := state{state: d.GroupState, groupEpoch: d.GroupEpoch, assignEpoch: d.AssignmentEpoch, memEpoch: -1}
		if len(d.Members) > 0 {
			st.memEpoch = d.Members[0].MemberEpoch
		}
		return st
	}
	delayed := func(r *protocol.StreamsGroupHeartbeatResponse) bool {
		for _, s := range r.Status {
			if s.StatusCode == StreamsStatusAssignmentDelayed {
				return true
			}
		}
		return false
	}
	l := &memLog{recs: map[int32][][2][]byte{}}
	c := newStreamsTestCoordinator(t, l, 300*time.Millisecond)
	a := &streamsTestMember{id: "a", process: "pa"}
	r := a.heartbeat(t, c, "app")
	require.Zero(t, r.ErrorCode)
	require.True(t, delayed(r))
	require.Equal(t, int32(1), r.MemberEpoch)
	require.Empty(t, r.ActiveTasks)
	require.Equal(t, state{"Assigning", 2, 1, 1}, describe(c))
	r = a.heartbeat(t, c, "app")
	require.True(t, delayed(r))
	require.Equal(t, int32(1), r.MemberEpoch)

	require.Eventually(t, func() bool { return describe(c).assignEpoch == 2 }, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, state{"Reconciling", 2, 2, 1}, describe(c))
	r = a.heartbeat(t, c, "app")
	require.False(t, delayed(r))
	require.Equal(t, int32(2), r.MemberEpoch)
	require.Equal(t, 8, a.owned.active.size())
	require.Equal(t, state{"Stable", 2, 2, 2}, describe(c))

	require.Zero(t, c.StreamsGroupHeartbeat(ctx, "x", "/h", &protocol.StreamsGroupHeartbeatRequest{GroupID: "app", MemberID: "a", MemberEpoch: leaveEpoch, RebalanceTimeoutMs: -1}).ErrorCode)
	require.Equal(t, state{"Empty", 3, 2, -1}, describe(c))
	b := &streamsTestMember{id: "b", process: "pb"}
	r = b.heartbeat(t, c, "app")
	require.True(t, delayed(r))
	require.Equal(t, int32(2), r.MemberEpoch)
	require.Equal(t, state{"Assigning", 4, 2, 2}, describe(c))

	// A coordinator move during the delay: the timer is gone, so the next
	// heartbeat computes the target at once.
	c.Close()
	c2 := newStreamsTestCoordinator(t, l, 300*time.Millisecond)
	require.Equal(t, state{"Assigning", 4, 2, 2}, describe(c2))
	r = b.heartbeat(t, c2, "app")
	require.Zero(t, r.ErrorCode)
	require.False(t, delayed(r))
	require.Equal(t, int32(4), r.MemberEpoch)
	require.Equal(t, 8, b.owned.active.size())
	require.Equal(t, state{"Stable", 4, 4, 4}, describe(c2))
}

// TestStreamsGroupWritesWhatChanged: a heartbeat that changes nothing
// writes nothing, and one that moves only its member (a revocation step)
// writes only that member's records and the group's own.
func TestStreamsGroupWritesWhatChanged(t *testing.T) {
	l := &memLog{recs: map[int32][][2][]byte{}}
	c := newStreamsTestCoordinator(t, l, 0)
	a := &streamsTestMember{id: "a", process: "pa"}
	b := &streamsTestMember{id: "b", process: "pb"}
	require.Zero(t, a.heartbeat(t, c, "app").ErrorCode)
	settleStreamsGroup(t, c, "app", a)
	written := func() int {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.recs[0])
	}
	n := written()
	require.Zero(t, a.heartbeat(t, c, "app").ErrorCode)
	require.Equal(t, n, written(), "a steady heartbeat writes nothing")

	// b joins (a full write); a's next heartbeat revokes: only a's current
	// assignment changes.
	require.Zero(t, b.heartbeat(t, c, "app").ErrorCode)
	n = written()
	require.Zero(t, a.heartbeat(t, c, "app").ErrorCode)
	l.mu.Lock()
	recs := l.recs[0][n:]
	l.mu.Unlock()
	require.NotEmpty(t, recs)
	for _, r := range recs {
		kind, _, member, err := decodeStreamsKey(r[0])
		require.NoError(t, err)
		require.Equal(t, keyStreamsCurrentAssignment, kind)
		require.Equal(t, "a", member)
	}
}

// TestStreamsGroupAssignmentConfigsChange: the standby count a group was
// assigned with is persisted (LastAssignmentConfigs); a coordinator that
// loads the group with a different group.streams.num.standby.replicas
// rebalances at the next heartbeat, as Kafka does.
func TestStreamsGroupAssignmentConfigsChange(t *testing.T) {
	ctx := context.Background()
	l := &memLog{recs: map[int32][][2][]byte{}}
	c := newStreamsTestCoordinatorStandby(t, l, 0, 1)
	a := &streamsTestMember{id: "a", process: "pa"}
	b := &streamsTestMember{id: "b", process: "pb"}
	require.Zero(t, a.heartbeat(t, c, "app").ErrorCode)
	require.Zero(t, b.heartbeat(t, c, "app").ErrorCode)
	settleStreamsGroup(t, c, "app", a, b)
	require.NotEmpty(t, a.owned.standby)
	epoch := c.DescribeStreamsGroup(ctx, "app").GroupEpoch
	c.Close()

	// Same config: nothing moves.
	c2 := newStreamsTestCoordinatorStandby(t, l, 0, 1)
	require.Zero(t, a.heartbeat(t, c2, "app").ErrorCode)
	require.Equal(t, epoch, c2.DescribeStreamsGroup(ctx, "app").GroupEpoch)
	c2.Close()

	// No standbys any more: a new epoch, and the standbys go.
	c3 := newStreamsTestCoordinatorStandby(t, l, 0, 0)
	require.Zero(t, a.heartbeat(t, c3, "app").ErrorCode)
	require.Equal(t, epoch+1, c3.DescribeStreamsGroup(ctx, "app").GroupEpoch)
	settleStreamsGroup(t, c3, "app", a, b)
	require.Empty(t, a.owned.standby)
	require.Empty(t, b.owned.standby)
}

// TestStreamsGroupOldSpoolLog: a log Spool wrote before it persisted
// members (StreamsGroupMetadata only, without LastAssignmentConfigs)
// loads as an empty group at its epoch, and a member joining continues
// past it.
func TestStreamsGroupOldSpoolLog(t *testing.T) {
	ctx := context.Background()
	old := wire.AppendInt16(nil, 0)
	old = wire.AppendInt32(old, 5)
	old = wire.AppendInt64(old, 0)
	old = wire.AppendUvarint(old, 0)
	l := &memLog{recs: map[int32][][2][]byte{0: {{encodeStreamsKey(keyStreamsGroupMetadata, "app", ""), old}}}}
	c := newStreamsTestCoordinator(t, l, 0)
	d := c.DescribeStreamsGroup(ctx, "app")
	require.Zero(t, d.ErrorCode)
	require.Equal(t, "Empty", d.GroupState)
	require.Equal(t, int32(5), d.GroupEpoch)
	a := &streamsTestMember{id: "a", process: "pa"}
	r := a.heartbeat(t, c, "app")
	require.Zero(t, r.ErrorCode)
	require.Equal(t, int32(6), r.MemberEpoch)
	settleStreamsGroup(t, c, "app", a)
	require.Equal(t, 8, a.owned.active.size())
}

// TestStreamsGroupConfigs: a group's own streams.num.standby.replicas
// (a GROUP config) overrides the broker's for the assignor, and changing it
// rebalances the group at the next heartbeat; its
// streams.heartbeat.interval.ms is the interval the members are given,
// and its streams.session.timeout.ms removes a silent member.
func TestStreamsGroupConfigs(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	groupCfg := map[string]map[string]string{}
	setCfg := func(group, k, v string) {
		mu.Lock()
		defer mu.Unlock()
		if groupCfg[group] == nil {
			groupCfg[group] = map[string]string{}
		}
		groupCfg[group][k] = v
	}
	c := newStreamsTestCoordinatorConfig(t, &memLog{recs: map[int32][][2][]byte{}}, func(cfg *Config) {
		cfg.GroupConfig = func(group string) map[string]string {
			mu.Lock()
			defer mu.Unlock()
			return maps.Clone(groupCfg[group])
		}
	})

	setCfg("app", "streams.num.standby.replicas", "1")
	setCfg("app", "streams.heartbeat.interval.ms", "7000")
	a := &streamsTestMember{id: "a", process: "pa"}
	b := &streamsTestMember{id: "b", process: "pb"}
	r := a.heartbeat(t, c, "app")
	require.Zero(t, r.ErrorCode)
	require.Equal(t, int32(7000), r.HeartbeatIntervalMs)
	require.Zero(t, b.heartbeat(t, c, "app").ErrorCode)
	settleStreamsGroup(t, c, "app", a, b)
	require.Equal(t, 8, a.owned.standby.size()+b.owned.standby.size(), "one standby per task of 8 (the group's config, not the broker's 0)")

	// Another group without its own config: the broker's 0 standbys.
	o := &streamsTestMember{id: "o", process: "po"}
	p := &streamsTestMember{id: "p", process: "pp"}
	r = o.heartbeat(t, c, "other")
	require.Zero(t, r.ErrorCode)
	require.Equal(t, int32(1000), r.HeartbeatIntervalMs)
	require.Zero(t, p.heartbeat(t, c, "other").ErrorCode)
	settleStreamsGroup(t, c, "other", o, p)
	require.Zero(t, o.owned.standby.size()+p.owned.standby.size())

	// The group's config changes: a new epoch at the next heartbeat, and
	// the standbys go.
	epoch := c.DescribeStreamsGroup(ctx, "app").GroupEpoch
	setCfg("app", "streams.num.standby.replicas", "0")
	require.Zero(t, a.heartbeat(t, c, "app").ErrorCode)
	require.Equal(t, epoch+1, c.DescribeStreamsGroup(ctx, "app").GroupEpoch)
	settleStreamsGroup(t, c, "app", a, b)
	require.Zero(t, a.owned.standby.size()+b.owned.standby.size())

	// A short session timeout of the group's own: b stops heartbeating
	// and is removed.
	setCfg("app", "streams.session.timeout.ms", "1000")
	require.Zero(t, a.heartbeat(t, c, "app").ErrorCode)
	require.Zero(t, b.heartbeat(t, c, "app").ErrorCode)
	require.Eventually(t, func() bool {
		require.Zero(t, a.heartbeat(t, c, "app").ErrorCode)
		d := c.DescribeStreamsGroup(ctx, "app")
		return len(d.Members) == 1 && d.Members[0].MemberID == "a"
	}, 20*time.Second, 50*time.Millisecond)
}
