package group

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/internal/spooltest"
	"github.com/spool-broker/spool/protocol"
)

// requireKafkaReadsAsWritten runs Kafka 4.3.1's GroupCoordinatorRecordSerde
// over the records of l whose type is in kinds (spooltest.RequireKafkaReadsAsWritten)
// and returns the types it saw.
func requireKafkaReadsAsWritten(t *testing.T, l *memLog, kinds func(int16) bool) map[int16]bool {
	t.Helper()
	var sent [][2][]byte
	seen := map[int16]bool{}
	for _, r := range l.recs[0] {
		if kind := keyKind(string(r[0])); kinds(kind) {
			seen[kind] = true
			sent = append(sent, r)
		}
	}
	spooltest.RequireKafkaReadsAsWritten(t, spooltest.GroupRecordSerde, sent)
	return seen
}

// TestStreamsRecordsAsKafka: every streams group record Spool writes while
// members join, reconcile and leave and the group is deleted reads and
// writes back the same in Kafka 4.3.1.
func TestStreamsRecordsAsKafka(t *testing.T) {
	ctx := context.Background()
	l := &memLog{recs: map[int32][][2][]byte{}}
	c := newStreamsTestCoordinator(t, l, 0)
	a := &streamsTestMember{id: "a", process: "pa", endpoint: &protocol.StreamsGroupHeartbeatRequestEndpoint{Host: "ha", Port: 7}}
	b := &streamsTestMember{id: "b", process: "pb"}
	require.Zero(t, a.heartbeat(t, c, "app").ErrorCode)
	settleStreamsGroup(t, c, "app", a)
	require.Zero(t, b.heartbeat(t, c, "app").ErrorCode)
	settleStreamsGroup(t, c, "app", a, b)
	for _, id := range []string{"a", "b"} {
		require.Zero(t, c.StreamsGroupHeartbeat(ctx, "x", "/h", &protocol.StreamsGroupHeartbeatRequest{GroupID: "app", MemberID: id, MemberEpoch: leaveEpoch, RebalanceTimeoutMs: -1}).ErrorCode)
	}
	require.Equal(t, []int16{0}, c.DeleteGroups(ctx, []string{"app"}))
	seen := requireKafkaReadsAsWritten(t, l, isStreamsKeyVersion)
	require.Len(t, seen, 6, "every streams record type was written")
}

// TestShareRecordsAsKafka: the same for share groups, with the topics
// record (ShareGroupStatePartitionMetadata) written by AlterShareGroupOffsets
// and the heartbeats.
func TestShareRecordsAsKafka(t *testing.T) {
	ctx := context.Background()
	l := &memLog{recs: map[int32][][2][]byte{}}
	c := newShareTestCoordinator(t, l, nil)
	rack := "r1"
	hb := shareHB("m1", 0, "a")
	hb.RackID = &rack
	require.Zero(t, c.ShareGroupHeartbeat(ctx, 1, "c1", "/h", hb).ErrorCode)
	require.Zero(t, c.ShareGroupHeartbeat(ctx, 1, "c2", "/h", shareHB("m2", 0, "a")).ErrorCode)
	require.Zero(t, c.ShareGroupHeartbeat(ctx, 1, "c2", "/h", shareHB("m2", -1)).ErrorCode)
	require.Zero(t, c.ShareGroupHeartbeat(ctx, 1, "c1", "/h", shareHB("m1", -1)).ErrorCode)
	require.Zero(t, c.SetShareGroupTopic("sg", "a", false))
	require.Equal(t, []int16{0}, c.DeleteGroups(ctx, []string{"sg"}))
	seen := requireKafkaReadsAsWritten(t, l, isShareKeyVersion)
	require.Len(t, seen, 6, "every share record type was written")
}
