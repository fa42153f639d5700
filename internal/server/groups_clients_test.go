package server

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Group tests with real clients (Kafka 4.3.1's Java tools, librdkafka and
// kafka-python from the compat venv), installed by test/compat/install.sh.
// A missing tool fails the test.

// groupProduce writes n records with franz-go, record i to partition
// i%partitions, without idempotence.
func groupProduce(t *testing.T, addr, topic string, partitions, n int) {
	t.Helper()
	cl := groupClient(t, addr, kgo.DisableIdempotentWrite(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := 0; i < n; i++ {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: int32(i % partitions), Value: []byte("v" + strconv.Itoa(i))}, nil)
	}
	require.NoError(t, cl.Flush(ctx))
}

// committed returns the group's committed offsets of topic by partition.
func committed(t *testing.T, addr, group, topic string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offs, err := kadm.NewClient(groupClient(t, addr)).FetchOffsets(ctx, group)
	require.NoError(t, err)
	out := map[int32]int64{}
	for p, o := range offs[topic] {
		out[p] = o.At
	}
	return out
}

func javaTool(t *testing.T, name string) string {
	t.Helper()
	tool(t, filepath.Join(compatCache(t), "java", "lib-4.3.1", "kafka-clients-4.3.1.jar"))
	return tool(t, filepath.Join(repoRoot(t), "test", "compat", "bin", name))
}

// lagRows parses kafka-consumer-groups --describe: partition → CURRENT-OFFSET,
// LOG-END-OFFSET, LAG ("-" is -1).
func lagRows(t *testing.T, out, topic string) map[int32][3]int64 {
	t.Helper()
	var cols []string
	rows := map[int32][3]int64{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "GROUP" {
			cols = f
			continue
		}
		if cols == nil || len(f) < 6 || f[1] != topic {
			continue
		}
		idx := func(name string) int {
			for i, c := range cols {
				if c == name {
					return i
				}
			}
			t.Fatalf("no %s column in %q", name, out)
			return 0
		}
		num := func(s string) int64 {
			if s == "-" {
				return -1
			}
			v, err := strconv.ParseInt(s, 10, 64)
			require.NoError(t, err, "in %q", line)
			return v
		}
		p, _ := strconv.Atoi(f[idx("PARTITION")])
		rows[int32(p)] = [3]int64{num(f[idx("CURRENT-OFFSET")]), num(f[idx("LOG-END-OFFSET")]), num(f[idx("LAG")])}
	}
	require.NotEmpty(t, rows, "no rows for %s in:\n%s", topic, out)
	return rows
}

// TestGroupJavaConsoleConsumer: Kafka 4.3.1's console consumer reads, as a
// group member with either protocol, what franz-go produced, commits, and
// kafka-consumer-groups --describe reports no lag.
func TestGroupJavaConsoleConsumer(t *testing.T) {
	consumer := javaTool(t, "kafka-console-consumer")
	groups := javaTool(t, "kafka-consumer-groups")
	n := startTestNode(t)
	groupCreateTopic(t, n.addr, "jc", 3)
	groupProduce(t, n.addr, "jc", 3, 30)

	for _, proto := range []string{"classic", "consumer"} {
		t.Run(proto, func(t *testing.T) {
			g := "java-" + proto
			out := run(t, "", consumer, "--bootstrap-server", n.addr, "--topic", "jc", "--group", g,
				"--command-property", "group.protocol="+proto, "--from-beginning", "--max-messages", "30", "--timeout-ms", "20000")
			var values []string
			for _, l := range strings.Fields(out) {
				if strings.HasPrefix(l, "v") {
					values = append(values, l)
				}
			}
			require.Len(t, values, 30, out)
			require.Equal(t, map[int32]int64{0: 10, 1: 10, 2: 10}, committed(t, n.addr, g, "jc"))

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			lg, err := kadm.NewClient(groupClient(t, n.addr)).ListGroupsByType(ctx, []string{proto})
			require.NoError(t, err)
			require.Contains(t, lg, g, "listed as a %s group", proto)

			rows := lagRows(t, run(t, "", groups, "--bootstrap-server", n.addr, "--describe", "--group", g), "jc")
			for p := int32(0); p < 3; p++ {
				require.Equal(t, [3]int64{10, 10, 0}, rows[p], "partition %d", p)
			}
		})
	}
}

// TestGroupJavaConsumerGroupsCommand: --describe lag numbers, the
// --reset-offsets variants and --delete of kafka-consumer-groups.
func TestGroupJavaConsumerGroupsCommand(t *testing.T) {
	groups := javaTool(t, "kafka-consumer-groups")
	n := startTestNode(t)
	groupCreateTopic(t, n.addr, "jg", 2)
	groupProduce(t, n.addr, "jg", 2, 12) // 6 records in each partition
	const g = "java-admin"
	// Six JVM tool runs happen under this context; on a loaded machine
	// each takes seconds, so the bound is a hang guard, not a speed check.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	adm := kadm.NewClient(groupClient(t, n.addr))
	offs := kadm.Offsets{}
	offs.AddOffset("jg", 0, 2, -1)
	offs.AddOffset("jg", 1, 5, -1)
	_, err := adm.CommitOffsets(ctx, g, offs)
	require.NoError(t, err)

	rows := lagRows(t, run(t, "", groups, "--bootstrap-server", n.addr, "--describe", "--group", g), "jg")
	require.Equal(t, [3]int64{2, 6, 4}, rows[0])
	require.Equal(t, [3]int64{5, 6, 1}, rows[1])

	reset := func(args ...string) map[int32]int64 {
		run(t, "", groups, append([]string{"--bootstrap-server", n.addr, "--reset-offsets", "--execute", "--topic", "jg", "--group", g}, args...)...)
		return committed(t, n.addr, g, "jg")
	}
	require.Equal(t, map[int32]int64{0: 3, 1: 3}, reset("--to-offset", "3"))
	require.Equal(t, map[int32]int64{0: 0, 1: 0}, reset("--to-earliest"))
	require.Equal(t, map[int32]int64{0: 6, 1: 6}, reset("--to-latest"))
	require.Equal(t, map[int32]int64{0: 0, 1: 0}, reset("--to-datetime", "2020-01-01T00:00:00.000"))

	out := run(t, "", groups, "--bootstrap-server", n.addr, "--delete", "--group", g)
	require.Contains(t, out, "successful")
	lg, err := adm.ListGroups(ctx)
	require.NoError(t, err)
	require.NotContains(t, lg, g)
	require.Empty(t, committed(t, n.addr, g, "jg"))
}

// pyGroupConsume subscribes (group management, not assign) with
// confluent-kafka-python or kafka-python, reads n records and commits.
const pyGroupConsume = `
import sys
addr, lib, topic, group, n, proto = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6]
got = 0
if lib == "confluent":
    from confluent_kafka import Consumer
    conf = {"bootstrap.servers": addr, "group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False}
    if proto == "consumer":
        conf["group.protocol"] = "consumer"
    else:
        conf["session.timeout.ms"] = 10000
    c = Consumer(conf)
    c.subscribe([topic])
    while got < n:
        m = c.poll(20)
        assert m is not None, "timed out after %d records" % got
        assert m.error() is None, m.error()
        got += 1
    c.commit(asynchronous=False)
    c.close()
else:
    from kafka import KafkaConsumer
    c = KafkaConsumer(topic, bootstrap_servers=addr, group_id=group, auto_offset_reset="earliest",
                      enable_auto_commit=False, consumer_timeout_ms=20000, session_timeout_ms=10000)
    for m in c:
        got += 1
        if got == n:
            break
    assert got == n, "timed out after %d records" % got
    c.commit()
    c.close()
print("ok", got)
`

func testGroupPython(t *testing.T, lib string, protos ...string) {
	py := tool(t, filepath.Join(compatCache(t), "venv", "bin", "python"))
	n := startTestNode(t)
	topic := "py-" + lib
	groupCreateTopic(t, n.addr, topic, 2)
	groupProduce(t, n.addr, topic, 2, 40)
	for _, proto := range protos {
		t.Run(proto, func(t *testing.T) {
			g := fmt.Sprintf("%s-%s", lib, proto)
			require.Equal(t, "ok 40\n", run(t, "", py, "-c", pyGroupConsume, n.addr, lib, topic, g, "40", proto))
			require.Equal(t, map[int32]int64{0: 20, 1: 20}, committed(t, n.addr, g, topic))
		})
	}
}

func TestGroupLibrdkafka(t *testing.T) { testGroupPython(t, "confluent", "classic", "consumer") }

func TestGroupKafkaPython(t *testing.T) { testGroupPython(t, "kafka-python", "classic") }
