package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spool-broker/spool/internal/spooltest"
	"github.com/twmb/franz-go/pkg/kversion"
)

// streamsEnv makes streams sessions short (3s) with fast heartbeats,
// lowering their bounds as Kafka requires (group.streams.min.*).
var streamsEnv = []string{
	"KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS=3",
	"KAFKA_GROUP_STREAMS_MIN_SESSION_TIMEOUT_MS=1000",
	"KAFKA_GROUP_STREAMS_MIN_HEARTBEAT_INTERVAL_MS=100",
	"KAFKA_GROUP_STREAMS_SESSION_TIMEOUT_MS=3000",
	"KAFKA_GROUP_STREAMS_HEARTBEAT_INTERVAL_MS=100",
	"KAFKA_GROUP_STREAMS_INITIAL_REBALANCE_DELAY_MS=0",
}

// streamsRequest sends req to the single test node: franz-go's kgo does
// not route the streams group keys to a coordinator itself.
func streamsRequest[R kmsg.Response](ctx context.Context, cl *kgo.Client, req interface {
	kmsg.Request
	RequestWith(context.Context, kmsg.Requestor) (R, error)
}) (R, error) {
	return req.RequestWith(ctx, cl.Broker(1))
}

func TestStreamsGroupHeartbeat(t *testing.T) {
	n := startTestNode(t, streamsEnv...)
	cl := groupClient(t, n.addr)
	groupCreateTopic(t, n.addr, "words", 4)
	const g = "wc-app"
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// The first member initializes the topology; the internal topics are
	// missing, so no tasks yet and the broker creates them.
	a := &spooltest.StreamsMember{ID: "member-a", Process: "process-a"}
	r := a.Heartbeat(t, cl, g, spooltest.StreamsWordCount(g, "words"))
	require.Zero(t, r.ErrorCode)
	require.Equal(t, int32(1), r.MemberEpoch)
	require.Equal(t, int32(100), r.HeartbeatIntervalMillis)
	require.NotNil(t, r.ActiveTasks)
	require.Empty(t, r.ActiveTasks)
	require.Len(t, r.Status, 1)
	require.Equal(t, int8(3), r.Status[0].StatusCode, "MISSING_INTERNAL_TOPICS")
	require.Equal(t, "Internal topics are missing: wc-app-count-changelog, wc-app-count-repartition", r.Status[0].StatusDetail)
	require.Equal(t, "NotReady", spooltest.DescribeStreams(t, cl, g).State)

	// Internal topics: the repartition topic takes the source topic's four
	// partitions, the changelog its subtopology's; configs as sent.
	require.True(t, pollUntil(10*time.Second, 20*time.Millisecond, func() bool {
		require.Zero(t, a.Heartbeat(t, cl, g, nil).ErrorCode)
		td, err := adm.ListTopics(ctx, g+"-count-repartition", g+"-count-changelog")
		require.NoError(t, err)
		return len(td) == 2 && td[g+"-count-repartition"].Err == nil && td[g+"-count-changelog"].Err == nil
	}))
	td, err := adm.ListTopics(ctx, g+"-count-repartition", g+"-count-changelog")
	require.NoError(t, err)
	require.Len(t, td[g+"-count-repartition"].Partitions, 4)
	require.Len(t, td[g+"-count-changelog"].Partitions, 4)
	rc, err := adm.DescribeTopicConfigs(ctx, g+"-count-changelog")
	require.NoError(t, err)
	policy, err := rc.On(g+"-count-changelog", nil)
	require.NoError(t, err)
	found := false
	for _, c := range policy.Configs {
		if c.Key == "cleanup.policy" {
			require.Equal(t, "compact", c.MaybeValue())
			found = true
		}
	}
	require.True(t, found)

	// With the topics there, the member gets all eight tasks.
	spooltest.SettleStreams(t, cl, g, 8, a)
	require.Equal(t, []string{"0_0", "0_1", "0_2", "0_3", "1_0", "1_1", "1_2", "1_3"}, a.Tasks())

	// A second member: a revokes half before b gets them.
	b := &spooltest.StreamsMember{ID: "member-b", Process: "process-b"}
	r = b.Heartbeat(t, cl, g, spooltest.StreamsWordCount(g, "words"))
	require.Zero(t, r.ErrorCode)
	require.Empty(t, r.Status)
	require.Empty(t, r.ActiveTasks, "b waits until a released its tasks")
	before := a.Tasks()
	r = a.Heartbeat(t, cl, g, nil)
	require.Zero(t, r.ErrorCode)
	require.Len(t, a.Tasks(), 4, "a keeps half, revoking the rest")
	require.Subset(t, before, a.Tasks(), "sticky: a keeps tasks it had")
	spooltest.SettleStreams(t, cl, g, 8, a, b)

	d := spooltest.DescribeStreams(t, cl, g)
	require.Zero(t, d.ErrorCode)
	require.Equal(t, "Stable", d.State)
	require.Equal(t, d.Epoch, d.AssignmentEpoch)
	require.Len(t, d.Members, 2)
	require.NotNil(t, d.Topology)
	require.Len(t, d.Topology.Subtopologies, 2)
	require.Equal(t, []string{"words"}, d.Topology.Subtopologies[0].SourceTopics)
	for _, m := range d.Members {
		require.Len(t, m.Assignment.ActiveTasks, 2)
		require.Equal(t, m.Assignment, m.TargetAssignment)
	}

	// ListGroups shows a streams group; DescribeGroups says it is not a
	// classic group; the consumer protocol cannot use it.
	lg, err := adm.ListGroupsByType(ctx, []string{"streams"})
	require.NoError(t, err)
	require.Contains(t, lg.Groups(), g)
	require.Equal(t, "streams", lg[g].ProtocolType)
	require.Equal(t, "Stable", lg[g].State)
	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Groups = []string{g}
	dgr, err := dg.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Equal(t, "Dead", dgr.Groups[0].State)
	cm := &rawMember{id: "consumer"}
	require.Equal(t, kerr.GroupIDNotFound.Code, cm.heartbeat(t, cl, g, "words").ErrorCode)
	del, err := adm.DeleteGroups(ctx, g)
	require.NoError(t, err)
	require.ErrorIs(t, del[g].Err, kerr.NonEmptyGroup)

	// Committing offsets needs the member's epoch.
	commit := func(member string, epoch int32) int16 {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Version = 9
		req.Group, req.MemberID, req.Generation = g, member, epoch
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = "words"
		wt, err := adm.ListTopics(ctx, "words")
		require.NoError(t, err)
		rt.TopicID = wt["words"].ID // v10 names topics by ID
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = a.Active["0"][0], 1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		require.NoError(t, err)
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	require.Zero(t, commit(a.ID, a.Epoch))
	require.Equal(t, kerr.StaleMemberEpoch.Code, commit(a.ID, a.Epoch+1))
	require.Equal(t, kerr.UnknownMemberID.Code, commit("ghost", 1))

	// Fencing: an epoch from the future, an unknown member.
	bad := &spooltest.StreamsMember{ID: a.ID, Epoch: a.Epoch + 5, Active: a.Active}
	require.Equal(t, kerr.FencedMemberEpoch.Code, bad.Heartbeat(t, cl, g, nil).ErrorCode)
	ghost := &spooltest.StreamsMember{ID: "ghost", Epoch: 3}
	require.Equal(t, kerr.UnknownMemberID.Code, ghost.Heartbeat(t, cl, g, nil).ErrorCode)

	// b leaves: a gets everything back.
	leave := &spooltest.StreamsMember{ID: b.ID, Epoch: -1}
	r = leave.Heartbeat(t, cl, g, nil)
	require.Zero(t, r.ErrorCode)
	require.Equal(t, int32(-1), r.MemberEpoch)
	spooltest.SettleStreams(t, cl, g, 8, a)

	// c joins, then stops heartbeating: its session expires and a gets
	// its tasks back.
	c := &spooltest.StreamsMember{ID: "member-c", Process: "process-c"}
	require.Zero(t, c.Heartbeat(t, cl, g, spooltest.StreamsWordCount(g, "words")).ErrorCode)
	spooltest.SettleStreams(t, cl, g, 8, a, c)
	require.True(t, pollUntil(10*time.Second, 100*time.Millisecond, func() bool {
		require.Zero(t, a.Heartbeat(t, cl, g, nil).ErrorCode)
		return len(a.Tasks()) == 8
	}), "c's session expired and a took its tasks")
	require.Len(t, spooltest.DescribeStreams(t, cl, g).Members, 1)
	require.Equal(t, kerr.UnknownMemberID.Code, c.Heartbeat(t, cl, g, nil).ErrorCode)

	// The last member leaves; the empty group can be deleted.
	require.Zero(t, (&spooltest.StreamsMember{ID: a.ID, Epoch: -1}).Heartbeat(t, cl, g, nil).ErrorCode)
	require.Equal(t, "Empty", spooltest.DescribeStreams(t, cl, g).State)
	del, err = adm.DeleteGroups(ctx, g)
	require.NoError(t, err)
	require.NoError(t, del[g].Err)
	require.Equal(t, kerr.GroupIDNotFound.Code, spooltest.DescribeStreams(t, cl, g).ErrorCode)
}

func TestStreamsGroupHeartbeatErrors(t *testing.T) {
	n := startTestNode(t, streamsEnv...)
	cl := groupClient(t, n.addr)

	// A missing source topic is a status, with no tasks.
	m := &spooltest.StreamsMember{ID: "m", Process: "p"}
	r := m.Heartbeat(t, cl, "missing-src", spooltest.StreamsWordCount("missing-src", "nope"))
	require.Zero(t, r.ErrorCode)
	require.Len(t, r.Status, 1)
	require.Equal(t, int8(1), r.Status[0].StatusCode, "MISSING_SOURCE_TOPICS")
	require.Equal(t, "Source topics nope are missing.", r.Status[0].StatusDetail)
	require.Empty(t, r.ActiveTasks)

	tests := []struct {
		name string
		mod  func(*kmsg.StreamsGroupHeartbeatRequest)
		code int16
	}{
		{"no member id", func(r *kmsg.StreamsGroupHeartbeatRequest) { r.MemberID = "" }, kerr.InvalidRequest.Code},
		{"static member", func(r *kmsg.StreamsGroupHeartbeatRequest) { r.InstanceID = kmsg.StringPtr("i") }, kerr.InvalidRequest.Code},
		{"join without topology", func(r *kmsg.StreamsGroupHeartbeatRequest) { r.Topology = nil }, kerr.InvalidRequest.Code},
		{"join without process", func(r *kmsg.StreamsGroupHeartbeatRequest) { r.ProcessID = nil }, kerr.InvalidRequest.Code},
		{"join owning tasks", func(r *kmsg.StreamsGroupHeartbeatRequest) {
			r.ActiveTasks = []kmsg.TaskIDs{{SubtopologyID: "0", Partitions: []int32{0}}}
		}, kerr.InvalidRequest.Code},
		{"bad epoch", func(r *kmsg.StreamsGroupHeartbeatRequest) { r.MemberEpoch = -3 }, kerr.InvalidRequest.Code},
		{"unknown group", func(r *kmsg.StreamsGroupHeartbeatRequest) { r.MemberEpoch, r.Topology = 4, nil }, kerr.GroupIDNotFound.Code},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := kmsg.NewPtrStreamsGroupHeartbeatRequest()
			req.Group, req.MemberID, req.RebalanceTimeoutMillis = "errs", "x", 1000
			req.Topology = spooltest.StreamsWordCount("errs", "nope")
			req.ProcessID = kmsg.StringPtr("p")
			req.ActiveTasks, req.StandbyTasks, req.WarmupTasks = []kmsg.TaskIDs{}, []kmsg.TaskIDs{}, []kmsg.TaskIDs{}
			tc.mod(req)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			resp, err := streamsRequest(ctx, cl, req)
			require.NoError(t, err)
			require.Equal(t, tc.code, resp.ErrorCode, "%v", resp.ErrorMessage)
		})
	}

	// A consumer group cannot be joined with the streams protocol.
	groupCreateTopic(t, n.addr, "ct", 1)
	cm := &rawMember{id: "consumer"}
	require.Zero(t, cm.heartbeat(t, cl, "consumers", "ct").ErrorCode)
	s := &spooltest.StreamsMember{ID: "s", Process: "p"}
	require.Equal(t, kerr.GroupIDNotFound.Code, s.Heartbeat(t, cl, "consumers", spooltest.StreamsWordCount("consumers", "ct")).ErrorCode)
}

// TestStreamsGroupRestart restarts the broker under a streams group: the
// group comes back from its records with the same member, epochs,
// topology and assignment, the member goes on heartbeating at its epoch,
// and a member joining continues past the persisted group epoch.
func TestStreamsGroupRestart(t *testing.T) {
	n := startTestNode(t, streamsEnv...)
	cl := groupClient(t, n.addr)
	groupCreateTopic(t, n.addr, "rs-in", 2)
	const g = "rs-app"
	a := &spooltest.StreamsMember{ID: "member-a", Process: "p"}
	require.Zero(t, a.Heartbeat(t, cl, g, spooltest.StreamsWordCount(g, "rs-in")).ErrorCode)
	require.True(t, pollUntil(10*time.Second, 50*time.Millisecond, func() bool {
		require.Zero(t, a.Heartbeat(t, cl, g, nil).ErrorCode)
		return len(a.Tasks()) == 4
	}))
	before := spooltest.DescribeStreams(t, cl, g)
	require.Equal(t, "Stable", before.State)

	n.restart()
	cl = groupClient(t, n.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.True(t, pollUntil(20*time.Second, 100*time.Millisecond, func() bool {
		req := kmsg.NewPtrStreamsGroupDescribeRequest()
		req.Groups = []string{g}
		resp, err := streamsRequest(ctx, cl, req)
		return err == nil && len(resp.Groups) == 1 && resp.Groups[0].ErrorCode == 0
	}))
	// The group comes back from __consumer_offsets as it was: members,
	// epochs, topology and assignments (Kafka's streams group records).
	require.Equal(t, before, spooltest.DescribeStreams(t, cl, g))
	lg, err := kadm.NewClient(cl).ListGroupsByType(ctx, []string{"streams"})
	require.NoError(t, err)
	require.Contains(t, lg.Groups(), g)

	// member-a goes on at its epoch, keeping its tasks.
	held := a.Tasks()
	r := a.Heartbeat(t, cl, g, nil)
	require.Zero(t, r.ErrorCode)
	require.Equal(t, before.Epoch, r.MemberEpoch)
	require.Equal(t, held, a.Tasks())
	b := &spooltest.StreamsMember{ID: "member-b", Process: "p"}
	r = b.Heartbeat(t, cl, g, spooltest.StreamsWordCount(g, "rs-in"))
	require.Zero(t, r.ErrorCode)
	require.Equal(t, before.Epoch+1, r.MemberEpoch)
	spooltest.SettleStreams(t, cl, g, 4, a, b)
}

// TestStreamsGroupInitialDelay: a new group waits
// group.streams.initial.rebalance.delay.ms for more members before its
// first assignment, answering ASSIGNMENT_DELAYED meanwhile, as Kafka.
func TestStreamsGroupInitialDelay(t *testing.T) {
	var env []string
	for _, kv := range streamsEnv {
		if !strings.HasPrefix(kv, "KAFKA_GROUP_STREAMS_INITIAL_REBALANCE_DELAY_MS=") {
			env = append(env, kv)
		}
	}
	env = append(env, "KAFKA_GROUP_STREAMS_INITIAL_REBALANCE_DELAY_MS=1000")
	n := startTestNode(t, env...)
	cl := groupClient(t, n.addr)
	groupCreateTopic(t, n.addr, "delay-in", 2)
	const g = "delay-app"
	a := &spooltest.StreamsMember{ID: "member-a", Process: "p"}
	began := time.Now()
	r := a.Heartbeat(t, cl, g, spooltest.StreamsWordCount(g, "delay-in"))
	require.Zero(t, r.ErrorCode)
	var codes []int8
	for _, st := range r.Status {
		codes = append(codes, st.StatusCode)
		if st.StatusCode == 5 {
			require.Equal(t, "Assignment delayed due to the configured initial rebalance delay.", st.StatusDetail)
		}
	}
	require.Contains(t, codes, int8(5), "ASSIGNMENT_DELAYED")
	require.Empty(t, r.ActiveTasks)
	// As Kafka 4.3.1 answers a new group's first member in the delay (its
	// internal topics still missing, the group is NotReady meanwhile).
	require.Equal(t, int32(1), r.MemberEpoch)
	d := spooltest.DescribeStreams(t, cl, g)
	require.Equal(t, int32(2), d.Epoch)
	require.Equal(t, int32(1), d.AssignmentEpoch)
	b := &spooltest.StreamsMember{ID: "member-b", Process: "q"}
	require.Zero(t, b.Heartbeat(t, cl, g, spooltest.StreamsWordCount(g, "delay-in")).ErrorCode)
	spooltest.SettleStreams(t, cl, g, 4, a, b)
	require.GreaterOrEqual(t, time.Since(began), time.Second, "no tasks before the delay")
}

// TestStreamsGroupStandbyAndEndpoints: with group.streams.num.standby.replicas
// 1, each task has a standby on the other process; members with a user
// endpoint learn which input partitions every endpoint serves.
func TestStreamsGroupStandbyAndEndpoints(t *testing.T) {
	n := startTestNode(t, append(append([]string{}, streamsEnv...), "KAFKA_GROUP_STREAMS_NUM_STANDBY_REPLICAS=1")...)
	cl := groupClient(t, n.addr)
	groupCreateTopic(t, n.addr, "sb-in", 2)
	const g = "sb-app"
	a := &spooltest.StreamsMember{ID: "member-a", Process: "pa", Endpoint: &kmsg.StreamsGroupHeartbeatRequestUserEndpoint{Host: "ha", Port: 1}}
	b := &spooltest.StreamsMember{ID: "member-b", Process: "pb", Endpoint: &kmsg.StreamsGroupHeartbeatRequestUserEndpoint{Host: "hb", Port: 2}}
	require.Zero(t, a.Heartbeat(t, cl, g, spooltest.StreamsWordCount(g, "sb-in")).ErrorCode)
	require.Zero(t, b.Heartbeat(t, cl, g, spooltest.StreamsWordCount(g, "sb-in")).ErrorCode)
	spooltest.SettleStreams(t, cl, g, 4, a, b)
	require.True(t, pollUntil(10*time.Second, 20*time.Millisecond, func() bool {
		for _, m := range []*spooltest.StreamsMember{a, b} {
			require.Zero(t, m.Heartbeat(t, cl, g, nil).ErrorCode)
		}
		return len(a.Partitions) == 2 && len(b.Partitions) == 2
	}))
	for _, pair := range [][2]*spooltest.StreamsMember{{a, b}, {b, a}} {
		m, other := pair[0], pair[1]
		// m's standbys are exactly the other's active tasks.
		require.Equal(t, other.Active, m.Standby, "member %s", m.ID)
	}
	// Endpoints: each member's active input partitions, source topic and
	// repartition topic alike.
	byHost := map[string]kmsg.StreamsGroupHeartbeatResponsePartitionsByUserEndpoint{}
	for _, e := range a.Partitions {
		byHost[e.UserEndpoint.Host] = e
	}
	require.Len(t, byHost, 2)
	for host, m := range map[string]*spooltest.StreamsMember{"ha": a, "hb": b} {
		e := byHost[host]
		var got []string
		for _, tp := range e.ActivePartitions {
			for _, p := range tp.Partitions {
				got = append(got, fmt.Sprintf("%s-%d", tp.Topic, p))
			}
		}
		var want []string
		for _, p := range m.Active["0"] {
			want = append(want, fmt.Sprintf("sb-in-%d", p))
		}
		for _, p := range m.Active["1"] {
			want = append(want, fmt.Sprintf("%s-count-repartition-%d", g, p))
		}
		require.ElementsMatch(t, want, got, "endpoint %s", host)
		require.NotEmpty(t, e.StandbyPartitions)
	}
}

// TestStreamsGroupKafka44 checks KIP-1331's versions as Kafka 4.4.0 answers
// them without a topology description plugin: StreamsGroupHeartbeat v1
// carries Kafka 4.4's task offset interval and acceptable recovery lag and
// never asks for a description (v0 keeps Kafka 4.3.1's zeros),
// StreamsGroupDescribe v1 names the assignor and reports NOT_STORED when
// asked for the description, and StreamsGroupTopologyDescriptionUpdate is
// refused with UNSUPPORTED_VERSION whatever the group.
func TestStreamsGroupKafka44(t *testing.T) {
	n := startTestNode(t, streamsEnv...)
	cl := groupClient(t, n.addr)
	// kgo sends the highest version both sides know; a Kafka 4.3 client is
	// one whose versions stop at v0.
	v0 := kversion.Stable()
	v0.SetMaxKeyVersion(88, 0)
	v0.SetMaxKeyVersion(89, 0)
	cl43 := groupClient(t, n.addr, kgo.MaxVersions(v0))
	groupCreateTopic(t, n.addr, "in44", 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	for _, tc := range []struct {
		version           int16
		offsetIntervalMs  int32
		acceptableRecLag  int64
		describeVersion   int16
		includeTopology   bool
		wantTopologyState int8
		wantAssignor      *string
	}{
		{version: 0, offsetIntervalMs: 0, acceptableRecLag: -1, describeVersion: 0},
		{version: 1, offsetIntervalMs: 60000, acceptableRecLag: 10000, describeVersion: 1, wantAssignor: kmsg.StringPtr("sticky")},
		{version: 1, offsetIntervalMs: 60000, acceptableRecLag: 10000, describeVersion: 1, includeTopology: true,
			wantTopologyState: 1, wantAssignor: kmsg.StringPtr("sticky")},
	} {
		t.Run(fmt.Sprintf("v%d-describe-v%d-include-%v", tc.version, tc.describeVersion, tc.includeTopology), func(t *testing.T) {
			g := fmt.Sprintf("app44-v%d-%v", tc.version, tc.includeTopology)
			c := cl
			if tc.version == 0 {
				c = cl43
			}
			m := &spooltest.StreamsMember{ID: "m44", Process: "p44"}
			topo := kmsg.NewStreamsGroupHeartbeatRequestTopology()
			sub := kmsg.NewStreamsGroupHeartbeatRequestTopologySubtopology()
			sub.SubtopologyID, sub.SourceTopics = "0", []string{"in44"}
			topo.Subtopologies = []kmsg.StreamsGroupHeartbeatRequestTopologySubtopology{sub}
			var r *kmsg.StreamsGroupHeartbeatResponse
			require.True(t, pollUntil(10*time.Second, 20*time.Millisecond, func() bool {
				r = m.Heartbeat(t, c, g, &topo)
				require.Zero(t, r.ErrorCode, "%v", r.ErrorMessage)
				return len(r.ActiveTasks) > 0
			}), "no tasks assigned")
			require.Equal(t, tc.offsetIntervalMs, r.TaskOffsetIntervalMillis)
			require.Equal(t, tc.acceptableRecLag, r.AcceptableRecoveryLag)
			require.False(t, r.TopologyDescriptionRequired)
			// No member has a user endpoint: Kafka keeps the endpoint
			// information epoch at 0 and sends no partitions by endpoint.
			require.Zero(t, r.EndpointInformationEpoch)
			require.Nil(t, r.PartitionsByUserEndpoint)

			req := kmsg.NewPtrStreamsGroupDescribeRequest()
			req.Groups, req.IncludeTopologyDescription = []string{g, "no-such-group"}, tc.includeTopology
			resp, err := streamsRequest(ctx, c, req)
			require.NoError(t, err)
			require.Len(t, resp.Groups, 2)
			d, missing := resp.Groups[0], resp.Groups[1]
			require.Zero(t, d.ErrorCode)
			require.Equal(t, "Stable", d.State)
			if tc.describeVersion >= 1 {
				require.Equal(t, tc.wantAssignor, d.AssignorName)
				require.Equal(t, tc.wantTopologyState, d.TopologyDescriptionStatus)
				require.Nil(t, d.TopologyDescription)
				require.Equal(t, kerr.GroupIDNotFound.Code, missing.ErrorCode)
				require.Nil(t, missing.AssignorName, "null in case of a describe error")
				require.Zero(t, missing.TopologyDescriptionStatus)
			}
		})
	}

	for _, tc := range []struct{ name, group, member string }{
		{"member of a group", "app44-v1-false", "m44"},
		{"unknown member", "app44-v1-false", "nobody"},
		{"unknown group", "no-such-group", "nobody"},
	} {
		t.Run("topology description update/"+tc.name, func(t *testing.T) {
			req := kmsg.NewPtrStreamsGroupTopologyDescriptionUpdateRequest()
			req.Group, req.MemberID = tc.group, tc.member
			resp, err := streamsRequest(ctx, cl, req)
			require.NoError(t, err)
			require.Equal(t, kerr.UnsupportedVersion.Code, resp.ErrorCode)
			require.Equal(t, "The broker has no streams group topology description plugin configured.", *resp.ErrorMessage)
		})
	}
}

// TestStreamsGroupConfigsAltered: streams.num.standby.replicas,
// streams.session.timeout.ms and streams.heartbeat.interval.ms set on a
// GROUP resource (kafka-configs --entity-type groups) are bounded by the
// broker's group.streams.min/max.* settings with Kafka's messages, are
// described as GROUP_CONFIG, and the group's members get the standbys and
// the heartbeat interval they say.
func TestStreamsGroupConfigsAltered(t *testing.T) {
	n := startTestNode(t, streamsEnv...)
	cl := groupClient(t, n.addr)
	groupCreateTopic(t, n.addr, "gc-in", 2)
	const g = "gc-app"
	alter := func(name, value string) (int16, string) {
		return alterGroupConfigs(t, cl, g, map[string]string{name: value})
	}
	for _, tc := range []struct {
		name, value, msg string
	}{
		{"streams.num.standby.replicas", "3", "streams.num.standby.replicas must be less than or equal to group.streams.max.standby.replicas"},
		{"streams.num.standby.replicas", "-1", ""},
		{"streams.session.timeout.ms", "999", "streams.session.timeout.ms must be greater than or equal to group.streams.min.session.timeout.ms"},
		{"streams.session.timeout.ms", "60001", "streams.session.timeout.ms must be less than or equal to group.streams.max.session.timeout.ms"},
		{"streams.heartbeat.interval.ms", "15001", "streams.heartbeat.interval.ms must be less than or equal to group.streams.max.heartbeat.interval.ms"},
	} {
		code, msg := alter(tc.name, tc.value)
		require.Equal(t, kerr.InvalidConfig.Code, code, "%s=%s", tc.name, tc.value)
		if tc.msg != "" {
			require.Equal(t, tc.msg, msg)
		}
	}
	for _, kv := range [][2]string{{"streams.num.standby.replicas", "1"}, {"streams.session.timeout.ms", "5000"}, {"streams.heartbeat.interval.ms", "70"}} {
		code, msg := alter(kv[0], kv[1])
		require.Zero(t, code, "%s: %s", kv[0], msg)
	}

	dreq := kmsg.NewPtrDescribeConfigsRequest()
	dr := kmsg.NewDescribeConfigsRequestResource()
	dr.ResourceType, dr.ResourceName = kmsg.ConfigResourceType(32), g
	dreq.Resources = append(dreq.Resources, dr)
	dresp, err := dreq.RequestWith(context.Background(), cl)
	require.NoError(t, err)
	got := map[string]string{}
	for _, c := range dresp.Resources[0].Configs {
		if c.Source == 8 { // GROUP_CONFIG
			got[c.Name] = *c.Value
		}
	}
	require.Equal(t, map[string]string{"streams.num.standby.replicas": "1", "streams.session.timeout.ms": "5000", "streams.heartbeat.interval.ms": "70"}, got)

	a := &spooltest.StreamsMember{ID: "member-a", Process: "pa"}
	b := &spooltest.StreamsMember{ID: "member-b", Process: "pb"}
	r := a.Heartbeat(t, cl, g, spooltest.StreamsWordCount(g, "gc-in"))
	require.Zero(t, r.ErrorCode)
	require.Equal(t, int32(70), r.HeartbeatIntervalMillis)
	require.Zero(t, b.Heartbeat(t, cl, g, spooltest.StreamsWordCount(g, "gc-in")).ErrorCode)
	spooltest.SettleStreams(t, cl, g, 4, a, b)
	require.True(t, pollUntil(10*time.Second, 20*time.Millisecond, func() bool {
		for _, m := range []*spooltest.StreamsMember{a, b} {
			require.Zero(t, m.Heartbeat(t, cl, g, nil).ErrorCode)
		}
		return len(a.Standby) > 0 && len(b.Standby) > 0
	}), "the group's one standby replica (the broker's default is 0)")
	for _, pair := range [][2]*spooltest.StreamsMember{{a, b}, {b, a}} {
		require.Equal(t, pair[1].Active, pair[0].Standby, "member %s", pair[0].ID)
	}
}
