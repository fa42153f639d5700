package node_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/internal/spooltest"
)

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
		"KAFKA_GROUP_STREAMS_HEARTBEAT_INTERVAL_MS=100", "KAFKA_GROUP_STREAMS_MIN_HEARTBEAT_INTERVAL_MS=50",
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
	a := &spooltest.StreamsMember{ID: "member-a", Process: "pa"}
	b := &spooltest.StreamsMember{ID: "member-b", Process: "pb"}
	require.Zero(t, a.Heartbeat(t, cl, app, spooltest.StreamsWordCount(app, input)).ErrorCode)
	require.Zero(t, b.Heartbeat(t, cl, app, spooltest.StreamsWordCount(app, input)).ErrorCode)
	spooltest.SettleStreams(t, cl, app, 6, a, b)

	before := spooltest.DescribeStreams(t, cl, app)
	require.Equal(t, "Stable", before.State)
	coord, err := spooltest.StreamsCoordinator(ctx, cl, app)
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
	aEpoch, bEpoch := a.Epoch, b.Epoch
	aTasks, bTasks := a.Tasks(), b.Tasks()

	t.Logf("killing node %d, the coordinator of %s (group epoch %d)", coord, app, before.Epoch)
	c.kill(coord)
	cl2, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...))
	require.NoError(t, err)
	t.Cleanup(cl2.Close)
	require.Eventually(t, func() bool {
		id, err := spooltest.StreamsCoordinator(ctx, cl2, app)
		return err == nil && id != coord
	}, 60*time.Second, 50*time.Millisecond, "a new coordinator")

	// The new coordinator has the group as it was.
	after := spooltest.DescribeStreams(t, cl2, app)
	require.Equal(t, before.Epoch, after.Epoch)
	require.Equal(t, before.AssignmentEpoch, after.AssignmentEpoch)
	require.Equal(t, before.Topology.Epoch, after.Topology.Epoch)
	require.Equal(t, beforeMembers, streamsMemberViews(after))

	// The members go on at their epochs with their tasks.
	for _, m := range []*spooltest.StreamsMember{a, b} {
		r := m.Heartbeat(t, cl2, app, nil)
		require.Zero(t, r.ErrorCode, "member %s: %v", m.ID, kerr.ErrorForCode(r.ErrorCode))
	}
	require.Equal(t, aEpoch, a.Epoch)
	require.Equal(t, bEpoch, b.Epoch)
	require.Equal(t, aTasks, a.Tasks())
	require.Equal(t, bTasks, b.Tasks())
	require.Equal(t, before.Epoch, spooltest.DescribeStreams(t, cl2, app).Epoch, "no rebalance")

	// A new member joins on the new coordinator: the group rebalances.
	m3 := &spooltest.StreamsMember{ID: "member-c", Process: "pc"}
	require.Zero(t, m3.Heartbeat(t, cl2, app, spooltest.StreamsWordCount(app, input)).ErrorCode)
	spooltest.SettleStreams(t, cl2, app, 6, a, b, m3)
	final := spooltest.DescribeStreams(t, cl2, app)
	require.Greater(t, final.Epoch, before.Epoch)
	require.Len(t, final.Members, 3)
}
