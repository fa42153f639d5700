package group

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/protocol"
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
