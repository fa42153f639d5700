package spooltest

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
)

// StreamsMember drives StreamsGroupHeartbeat (KIP-1071) by hand, as
// franz-go has no streams client: it reports the tasks it was last given
// as owned, so revoked tasks are given up at once. Each request goes to
// the group's coordinator (FindCoordinator; kgo does not route the streams
// group keys itself), found again while it moves or loads.
type StreamsMember struct {
	ID, Process string
	Epoch       int32
	// Active and Standby are the tasks last assigned, by subtopology.
	Active, Standby map[string][]int32
	Endpoint        *kmsg.StreamsGroupHeartbeatRequestUserEndpoint
	// Partitions is the last PartitionsByUserEndpoint answered, and
	// EndpointEpoch its epoch.
	Partitions    []kmsg.StreamsGroupHeartbeatResponsePartitionsByUserEndpoint
	EndpointEpoch int32
}

// StreamsWordCount is the topology of a word count over input: a source
// subtopology writing to a repartition topic, and a counting subtopology
// with a changelog.
func StreamsWordCount(app, input string) *kmsg.StreamsGroupHeartbeatRequestTopology {
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
	rp.Configs = []kmsg.TopicInfoConfig{{Key: "cleanup.policy", Value: "delete"}}
	s1.RepartitionSourceTopics = []kmsg.TopicInfo{rp}
	cl := kmsg.NewTopicInfo()
	cl.Topic = app + "-count-changelog"
	cl.Configs = []kmsg.TopicInfoConfig{{Key: "cleanup.policy", Value: "compact"}}
	s1.StateChangelogTopics = []kmsg.TopicInfo{cl}
	t.Subtopologies = []kmsg.StreamsGroupHeartbeatRequestTopologySubtopology{s0, s1}
	return &t
}

// StreamsCoordinator finds group's coordinator through cl's brokers.
func StreamsCoordinator(ctx context.Context, cl *kgo.Client, group string) (int32, error) {
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

// streamsCoordinatorMoving reports the codes a coordinator answers while
// it moves or loads.
func streamsCoordinatorMoving(code int16) bool {
	return code == kerr.NotCoordinator.Code || code == kerr.CoordinatorLoadInProgress.Code || code == kerr.CoordinatorNotAvailable.Code
}

// Heartbeat sends one heartbeat (version 0) with the topology when m
// joins (Epoch 0), and returns the answer, retrying for up to a minute
// while the coordinator is not reachable, moves or loads.
func (m *StreamsMember) Heartbeat(t *testing.T, cl *kgo.Client, group string, topology *kmsg.StreamsGroupHeartbeatRequestTopology) *kmsg.StreamsGroupHeartbeatResponse {
	t.Helper()
	req := kmsg.NewPtrStreamsGroupHeartbeatRequest()
	req.Version = 0
	req.Group, req.MemberID, req.MemberEpoch = group, m.ID, m.Epoch
	req.RebalanceTimeoutMillis = -1
	req.ActiveTasks, req.StandbyTasks, req.WarmupTasks = []kmsg.TaskIDs{}, []kmsg.TaskIDs{}, []kmsg.TaskIDs{}
	if m.Epoch == 0 {
		req.RebalanceTimeoutMillis = 10000
		req.Topology = topology
		req.ProcessID = kmsg.StringPtr(m.Process)
		req.UserEndpoint = m.Endpoint
	} else {
		for _, s := range slices.Sorted(maps.Keys(m.Active)) {
			req.ActiveTasks = append(req.ActiveTasks, kmsg.TaskIDs{SubtopologyID: s, Partitions: m.Active[s]})
		}
		for _, s := range slices.Sorted(maps.Keys(m.Standby)) {
			req.StandbyTasks = append(req.StandbyTasks, kmsg.TaskIDs{SubtopologyID: s, Partitions: m.Standby[s]})
		}
	}
	req.EndpointInformationEpoch = m.EndpointEpoch
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var resp *kmsg.StreamsGroupHeartbeatResponse
	// The first request creates __consumer_offsets (FindCoordinator) and
	// waits for its partition to load; after a coordinator's broker died
	// the next one is found.
	require.Eventually(t, func() bool {
		coord, err := StreamsCoordinator(ctx, cl, group)
		if err != nil {
			return false
		}
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		defer rcancel()
		r, err := req.RequestWith(rctx, cl.Broker(int(coord)))
		if err != nil || streamsCoordinatorMoving(r.ErrorCode) {
			return false
		}
		resp = r
		return true
	}, 60*time.Second, 20*time.Millisecond, "no coordinator answered member %s", m.ID)
	if resp.ErrorCode == 0 {
		m.Epoch = resp.MemberEpoch
		if resp.ActiveTasks != nil {
			m.Active, m.Standby = map[string][]int32{}, map[string][]int32{}
			for _, ts := range resp.ActiveTasks {
				m.Active[ts.SubtopologyID] = append([]int32(nil), ts.Partitions...)
			}
			for _, ts := range resp.StandbyTasks {
				m.Standby[ts.SubtopologyID] = append([]int32(nil), ts.Partitions...)
			}
		}
		if resp.PartitionsByUserEndpoint != nil {
			m.Partitions = resp.PartitionsByUserEndpoint
		}
		m.EndpointEpoch = resp.EndpointInformationEpoch
	}
	return resp
}

// Tasks lists m's active tasks as "subtopology_partition", sorted.
func (m *StreamsMember) Tasks() []string {
	var out []string
	for s, ps := range m.Active {
		for _, p := range ps {
			out = append(out, fmt.Sprintf("%s_%d", s, p))
		}
	}
	slices.Sort(out)
	return out
}

// SettleStreams heartbeats members until they hold disjoint active tasks
// covering n tasks, balanced within one, at one epoch, and the group is
// Stable.
func SettleStreams(t *testing.T, cl *kgo.Client, group string, n int, members ...*StreamsMember) {
	t.Helper()
	settled := func() bool {
		for _, m := range members {
			r := m.Heartbeat(t, cl, group, nil)
			require.Zero(t, r.ErrorCode, "member %s: %v", m.ID, kerr.ErrorForCode(r.ErrorCode))
		}
		seen := map[string]bool{}
		for _, m := range members {
			ts := m.Tasks()
			if len(ts) < n/len(members) || len(ts) > (n+len(members)-1)/len(members) || m.Epoch != members[0].Epoch {
				return false
			}
			for _, x := range ts {
				if seen[x] {
					return false
				}
				seen[x] = true
			}
		}
		return len(seen) == n && DescribeStreams(t, cl, group).State == "Stable"
	}
	deadline := time.Now().Add(60 * time.Second)
	for !settled() {
		if time.Now().After(deadline) {
			for _, m := range members {
				t.Logf("member %s epoch %d holds %v", m.ID, m.Epoch, m.Tasks())
			}
			t.Fatal("members did not settle on a balanced assignment")
		}
	}
}

// DescribeStreams describes group (StreamsGroupDescribe v0) at its
// coordinator.
func DescribeStreams(t *testing.T, cl *kgo.Client, group string) kmsg.StreamsGroupDescribeResponseGroup {
	t.Helper()
	var out kmsg.StreamsGroupDescribeResponseGroup
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		coord, err := StreamsCoordinator(ctx, cl, group)
		if err != nil {
			return false
		}
		req := kmsg.NewPtrStreamsGroupDescribeRequest()
		req.Version = 0
		req.Groups = []string{group}
		resp, err := req.RequestWith(ctx, cl.Broker(int(coord)))
		if err != nil || len(resp.Groups) != 1 || streamsCoordinatorMoving(resp.Groups[0].ErrorCode) {
			return false
		}
		out = resp.Groups[0]
		return true
	}, 60*time.Second, 20*time.Millisecond)
	return out
}
