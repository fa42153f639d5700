package group

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/protocol"
)

// requireKafkaReadsAsWritten runs Kafka 4.3.1's own record serde
// (GroupCoordinatorRecordSerde, testdata/KafkaRecordSerde.java) over the
// records of l whose type is in kinds: Kafka must read each one and write
// it back byte for byte, so a log moves between Spool and Kafka either
// way. It needs a JDK and the Kafka 4.3.1 jars of test/compat/install.sh,
// and fails when they are missing. It returns the types it saw.
func requireKafkaReadsAsWritten(t *testing.T, l *memLog, kinds func(int16) bool) map[int16]bool {
	t.Helper()
	cache := os.Getenv("COMPAT_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		require.NoError(t, err)
		cache = filepath.Join(home, ".cache", "spool-compat")
	}
	lib := filepath.Join(cache, "java", "lib-4.3.1")
	var cp []string
	for _, pattern := range []string{"kafka-clients-4.3.1.jar", "kafka-coordinator-common-4.3.1.jar", "kafka-group-coordinator-4.3.1.jar",
		"kafka-group-coordinator-api-4.3.1.jar", "kafka-server-common-4.3.1.jar", "slf4j-api-*.jar"} {
		jars, _ := filepath.Glob(filepath.Join(lib, pattern))
		require.NotEmpty(t, jars, "%s not in %s: run test/compat/install.sh (make test-deps)", pattern, lib)
		cp = append(cp, jars...)
	}
	java, err := exec.LookPath("java")
	require.NoError(t, err, "java is not installed: run test/compat/install.sh")

	var in bytes.Buffer
	var sent [][2][]byte
	seen := map[int16]bool{}
	for _, r := range l.recs[0] {
		kind := keyKind(string(r[0]))
		if !kinds(kind) {
			continue
		}
		seen[kind] = true
		v := "-"
		if r[1] != nil {
			v = hex.EncodeToString(r[1])
		}
		fmt.Fprintf(&in, "%s %s\n", hex.EncodeToString(r[0]), v)
		sent = append(sent, r)
	}
	cmd := exec.Command(java, "-cp", strings.Join(cp, string(os.PathListSeparator)), filepath.Join("testdata", "KafkaRecordSerde.java"))
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s", stderr.String())
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Len(t, lines, len(sent))
	for i, line := range lines {
		got, desc, _ := strings.Cut(line, "\t")
		v := "-"
		if sent[i][1] != nil {
			v = hex.EncodeToString(sent[i][1])
		}
		require.Equal(t, hex.EncodeToString(sent[i][0])+" "+v, got, "record %d as Kafka reads it: %s", i, desc)
	}
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
