package node_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spool-broker/spool/controller"
)

// streamsMember drives StreamsGroupHeartbeat by hand (franz-go has no
// streams client), sending each request to the group coordinator it finds
// with FindCoordinator; it reports what it was given as owned and gives
// revoked tasks up at once.
type streamsMember struct {
	id, process string
	epoch       int32
	active      map[string][]int32
	standby     map[string][]int32
}

// streamsTopology is a word count over input: a source subtopology writing
// to a repartition topic and a counting subtopology with a changelog.
func streamsTopology(app, input string) *kmsg.StreamsGroupHeartbeatRequestTopology {
	t := kmsg.NewStreamsGroupHeartbeatRequestTopology()
	t.Epoch = 1
	s0 := kmsg.NewStreamsGroupHeartbeatRequestTopologySubtopology()
	s0.SubtopologyID = "0"
	s0.SourceTopics = []string{input}
	s0.RepartitionSinkTopics = []string{app + "-count-repartition"}
	s1 := kmsg.NewStreamsGroupHeartbeatRequestTopologySubtopology()
	s1.SubtopologyID = "1"
	rp := kmsg.NewTopicInfo()
	rp.Topic = app + "-count-repartition"
	s1.RepartitionSourceTopics = []kmsg.TopicInfo{rp}
	cl := kmsg.NewTopicInfo()
	cl.Topic = app + "-count-changelog"
	cl.Configs = []kmsg.TopicInfoConfig{{Key: "cleanup.policy", Value: "compact"}}
	s1.StateChangelogTopics = []kmsg.TopicInfo{cl}
	t.Subtopologies = []kmsg.StreamsGroupHeartbeatRequestTopologySubtopology{s0, s1}
	return &t
}

// streamsCoordinator finds group's coordinator through any live broker.
func streamsCoordinator(ctx context.Context, cl *kgo.Client, group string) (int32, error) {
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKey = group
	r, err := fc.RequestWith(ctx, cl)
	if err != nil {
		return -1, err
	}
	if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
		return -1, err
	}
	return r.NodeID, nil
}

// heartbeat sends one heartbeat to the coordinator, finding it again while
// it moves or loads, and returns the answer (nil when the coordinator was
// not reachable within the deadline).
func (m *streamsMember) heartbeat(t *testing.T, cl *kgo.Client, group string, topology *kmsg.StreamsGroupHeartbeatRequestTopology) *kmsg.StreamsGroupHeartbeatResponse {
	t.Helper()
	req := kmsg.NewPtrStreamsGroupHeartbeatRequest()
	req.Version = 0
	req.Group, req.MemberID, req.MemberEpoch = group, m.id, m.epoch
	req.RebalanceTimeoutMillis = -1
	req.ActiveTasks, req.StandbyTasks, req.WarmupTasks = []kmsg.TaskIDs{}, []kmsg.TaskIDs{}, []kmsg.TaskIDs{}
	if m.epoch == 0 {
		req.RebalanceTimeoutMillis = 10000
		req.Topology = topology
		req.ProcessID = kmsg.StringPtr(m.process)
	} else {
		for _, s := range slices.Sorted(maps.Keys(m.active)) {
			req.ActiveTasks = append(req.ActiveTasks, kmsg.TaskIDs{SubtopologyID: s, Partitions: m.active[s]})
		}
		for _, s := range slices.Sorted(maps.Keys(m.standby)) {
			req.StandbyTasks = append(req.StandbyTasks, kmsg.TaskIDs{SubtopologyID: s, Partitions: m.standby[s]})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var resp *kmsg.StreamsGroupHeartbeatResponse
	for ctx.Err() == nil {
		coord, err := streamsCoordinator(ctx, cl, group)
		if err == nil {
			rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
			resp, err = req.RequestWith(rctx, cl.Broker(int(coord)))
			rcancel()
		}
		if err == nil && resp.ErrorCode != kerr.NotCoordinator.Code && resp.ErrorCode != kerr.CoordinatorLoadInProgress.Code &&
			resp.ErrorCode != kerr.CoordinatorNotAvailable.Code {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond): // a retry backoff, not a wait for state
		}
	}
	require.NotNil(t, resp, "no coordinator answered member %s", m.id)
	if resp.ErrorCode == 0 {
		m.epoch = resp.MemberEpoch
		if resp.ActiveTasks != nil {
			m.active, m.standby = map[string][]int32{}, map[string][]int32{}
			for _, ts := range resp.ActiveTasks {
				m.active[ts.SubtopologyID] = append([]int32(nil), ts.Partitions...)
			}
			for _, ts := range resp.StandbyTasks {
				m.standby[ts.SubtopologyID] = append([]int32(nil), ts.Partitions...)
			}
		}
	}
	return resp
}

// tasks lists m's active tasks as "subtopology_partition".
func (m *streamsMember) tasks() []string {
	var out []string
	for s, ps := range m.active {
		for _, p := range ps {
			out = append(out, fmt.Sprintf("%s_%d", s, p))
		}
	}
	slices.Sort(out)
	return out
}

// settleStreamsMembers heartbeats members until they hold disjoint active
// tasks covering n tasks, balanced within one, at one epoch, and the group
// is Stable.
func settleStreamsMembers(t *testing.T, cl *kgo.Client, group string, n int, members ...*streamsMember) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, m := range members {
			r := m.heartbeat(t, cl, group, nil)
			require.Zero(t, r.ErrorCode, "member %s: %v", m.id, kerr.ErrorForCode(r.ErrorCode))
		}
		seen := map[string]bool{}
		for _, m := range members {
			ts := m.tasks()
			if len(ts) < n/len(members) || len(ts) > (n+len(members)-1)/len(members) || m.epoch != members[0].epoch {
				return false
			}
			for _, x := range ts {
				if seen[x] {
					return false
				}
				seen[x] = true
			}
		}
		return len(seen) == n && describeStreamsGroup(t, cl, group).State == "Stable"
	}, 60*time.Second, 20*time.Millisecond, "members did not settle on a balanced assignment")
}

// describeStreamsGroup describes group at its coordinator.
func describeStreamsGroup(t *testing.T, cl *kgo.Client, group string) kmsg.StreamsGroupDescribeResponseGroup {
	t.Helper()
	var out kmsg.StreamsGroupDescribeResponseGroup
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		coord, err := streamsCoordinator(ctx, cl, group)
		if err != nil {
			return false
		}
		req := kmsg.NewPtrStreamsGroupDescribeRequest()
		req.Groups = []string{group}
		resp, err := req.RequestWith(ctx, cl.Broker(int(coord)))
		if err != nil || len(resp.Groups) != 1 || resp.Groups[0].ErrorCode != 0 {
			return false
		}
		out = resp.Groups[0]
		return true
	}, 60*time.Second, 50*time.Millisecond)
	return out
}

// streamsMemberView is what a describe says of one member.
type streamsMemberView struct {
	Epoch   int32
	Process string
	Active  []string
	Target  []string
}

func streamsMemberViews(g kmsg.StreamsGroupDescribeResponseGroup) map[string]streamsMemberView {
	tasks := func(ts []kmsg.TaskIDs) []string {
		var out []string
		for _, x := range ts {
			for _, p := range x.Partitions {
				out = append(out, fmt.Sprintf("%s_%d", x.SubtopologyID, p))
			}
		}
		slices.Sort(out)
		return out
	}
	out := map[string]streamsMemberView{}
	for _, m := range g.Members {
		out[m.MemberID] = streamsMemberView{Epoch: m.MemberEpoch, Process: m.ProcessID,
			Active: tasks(m.Assignment.ActiveTasks), Target: tasks(m.TargetAssignment.ActiveTasks)}
	}
	return out
}

// TestStreamsGroupCoordinatorFailover: a streams group on a three-node
// cluster (__consumer_offsets replicated three times) outlives the broker
// of its group coordinator. After that broker is killed, the new leader of
// the group's __consumer_offsets partition replays Kafka's streams records
// and serves the group with the same group epoch, members, member epochs
// and assignment; the members' next heartbeats, at their old epochs with
// their tasks, are accepted without a rebalance; and a member joining
// afterwards is assigned on the new coordinator as usual.
func TestStreamsGroupCoordinatorFailover(t *testing.T) {
	c := newTestCluster(t, []clusterSpec{
		{1, "broker,controller", "voters"},
		{2, "broker,controller", "voters"},
		{3, "broker,controller", "voters"},
	},
		"KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS=3",
		"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=3",
		"KAFKA_MIN_INSYNC_REPLICAS=2",
		"KAFKA_GROUP_STREAMS_HEARTBEAT_INTERVAL_MS=100",
		"KAFKA_GROUP_STREAMS_INITIAL_REBALANCE_DELAY_MS=0",
	)
	c.startAll(1, 2, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	const app, input = "fo-app", "fo-in"
	adm := newAdmin(t, c.nodes[1].addr())
	c.createSpreadTopic(ctx, adm, input, 3)

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	a := &streamsMember{id: "member-a", process: "pa"}
	b := &streamsMember{id: "member-b", process: "pb"}
	require.Zero(t, a.heartbeat(t, cl, app, streamsTopology(app, input)).ErrorCode)
	require.Zero(t, b.heartbeat(t, cl, app, streamsTopology(app, input)).ErrorCode)
	settleStreamsMembers(t, cl, app, 6, a, b)

	before := describeStreamsGroup(t, cl, app)
	require.Equal(t, "Stable", before.State)
	coord, err := streamsCoordinator(ctx, cl, app)
	require.NoError(t, err)
	// The coordinator's __consumer_offsets partition must be fully
	// replicated before its broker dies, so a new leader has the records.
	c.waitImages("__consumer_offsets in sync", func(img *controller.MetadataImage) bool {
		ti := img.Topic("__consumer_offsets")
		if ti == nil {
			return false
		}
		for _, p := range ti.Partitions {
			if len(p.ISR) != 3 {
				return false
			}
		}
		return true
	})
	beforeMembers := streamsMemberViews(before)
	require.Len(t, beforeMembers, 2)
	aEpoch, bEpoch := a.epoch, b.epoch
	aTasks, bTasks := a.tasks(), b.tasks()

	t.Logf("killing node %d, the coordinator of %s (group epoch %d)", coord, app, before.Epoch)
	c.kill(coord)
	cl2, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...))
	require.NoError(t, err)
	t.Cleanup(cl2.Close)
	require.Eventually(t, func() bool {
		id, err := streamsCoordinator(ctx, cl2, app)
		return err == nil && id != coord
	}, 60*time.Second, 50*time.Millisecond, "a new coordinator")

	// The new coordinator has the group as it was.
	after := describeStreamsGroup(t, cl2, app)
	require.Equal(t, before.Epoch, after.Epoch)
	require.Equal(t, before.AssignmentEpoch, after.AssignmentEpoch)
	require.Equal(t, before.Topology.Epoch, after.Topology.Epoch)
	require.Equal(t, beforeMembers, streamsMemberViews(after))

	// The members go on at their epochs with their tasks.
	for _, m := range []*streamsMember{a, b} {
		r := m.heartbeat(t, cl2, app, nil)
		require.Zero(t, r.ErrorCode, "member %s: %v", m.id, kerr.ErrorForCode(r.ErrorCode))
	}
	require.Equal(t, aEpoch, a.epoch)
	require.Equal(t, bEpoch, b.epoch)
	require.Equal(t, aTasks, a.tasks())
	require.Equal(t, bTasks, b.tasks())
	require.Equal(t, before.Epoch, describeStreamsGroup(t, cl2, app).Epoch, "no rebalance")

	// A new member joins on the new coordinator: the group rebalances.
	m3 := &streamsMember{id: "member-c", process: "pc"}
	require.Zero(t, m3.heartbeat(t, cl2, app, streamsTopology(app, input)).ErrorCode)
	settleStreamsMembers(t, cl2, app, 6, a, b, m3)
	final := describeStreamsGroup(t, cl2, app)
	require.Greater(t, final.Epoch, before.Epoch)
	require.Len(t, final.Members, 3)
}
