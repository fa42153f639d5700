package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spool-broker/spool/internal/spooltest"
)

// result is one CLI invocation's outcome.
type result struct {
	stdout, stderr string
	code           int
}

// spool runs the CLI in-process against addr with stdin.
func spool(t *testing.T, addr, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	env := map[string]string{}
	e := &Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] }, Environ: func() []string { return nil }}
	if addr != "" {
		args = append(args, "--bootstrap-server", addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	code := Run(ctx, e, args)
	return result{out.String(), errb.String(), code}
}

func requireOK(t *testing.T, r result) {
	t.Helper()
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
}

func decode[T any](t *testing.T, r result) T {
	t.Helper()
	requireOK(t, r)
	var v T
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &v), r.stdout)
	return v
}

func TestTopicLifecycle(t *testing.T) {
	b := spooltest.Start(t, spooltest.Options{})

	r := spool(t, b.Addr, "", "topic", "create", "orders", "-p", "3", "-c", "retention.ms=604800000", "--config", "min.insync.replicas=1")
	requireOK(t, r)
	require.Regexp(t, `orders\s+created\s+3\s+1`, r.stdout)

	r = spool(t, b.Addr, "", "topic", "create", "orders")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "TOPIC_ALREADY_EXISTS")
	require.Contains(t, r.stderr, "--if-not-exists", "the error says what to do next")
	requireOK(t, spool(t, b.Addr, "", "topic", "create", "orders", "--if-not-exists"))

	type listed struct {
		Topic      string `json:"topic"`
		Partitions int    `json:"partitions"`
		Internal   bool   `json:"internal"`
	}
	topics := decode[[]listed](t, spool(t, b.Addr, "", "topic", "list", "-o", "json"))
	require.Contains(t, topics, listed{Topic: "orders", Partitions: 3})

	desc := decode[[]topicInfo](t, spool(t, b.Addr, "", "topic", "describe", "orders", "--output", "json"))
	require.Len(t, desc, 1)
	require.Equal(t, 3, desc[0].PartitionCount)
	require.Equal(t, map[string]string{"retention.ms": "604800000", "min.insync.replicas": "1"}, desc[0].Configs)
	for _, p := range desc[0].Partitions {
		require.Equal(t, []int32{1}, p.Replicas)
		require.Equal(t, []int32{1}, p.ISR)
		require.EqualValues(t, 1, p.Leader)
	}

	// kafka-topics.sh --describe layout.
	r = spool(t, b.Addr, "", "topic", "describe", "orders")
	requireOK(t, r)
	require.Contains(t, r.stdout, "Topic: orders\tTopicId: "+desc[0].TopicID+"\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: min.insync.replicas=1,retention.ms=604800000\n")
	require.Contains(t, r.stdout, "\tTopic: orders\tPartition: 2\tLeader: 1\tReplicas: 1\tIsr: 1\n")
	r = spool(t, b.Addr, "", "topic", "describe", "--under-replicated-partitions")
	requireOK(t, r)
	require.Empty(t, r.stdout, "a single healthy node has no under-replicated partitions")

	requireOK(t, spool(t, b.Addr, "", "topic", "alter", "orders", "-p", "5", "-c", "cleanup.policy=compact", "--delete-config", "retention.ms"))
	desc = decode[[]topicInfo](t, spool(t, b.Addr, "", "topic", "describe", "orders", "-o", "json"))
	require.Equal(t, 5, desc[0].PartitionCount)
	require.Equal(t, map[string]string{"cleanup.policy": "compact", "min.insync.replicas": "1"}, desc[0].Configs)

	r = spool(t, b.Addr, "", "topic", "alter", "orders", "-p", "2")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "INVALID_PARTITIONS")

	r = spool(t, b.Addr, "", "topic", "alter", "orders", "-c", "no.such.config=1")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "INVALID_CONFIG")

	r = spool(t, b.Addr, "", "topic", "delete", "orders")
	requireOK(t, r)
	require.Equal(t, "topic orders: deleted\n", r.stdout)
	require.Eventually(t, func() bool {
		for _, l := range decode[[]listed](t, spool(t, b.Addr, "", "topic", "list", "-o", "json")) {
			if l.Topic == "orders" {
				return false
			}
		}
		return true
	}, 30*time.Second, 100*time.Millisecond)

	r = spool(t, b.Addr, "", "topic", "describe", "orders")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "UNKNOWN_TOPIC_OR_PARTITION")
	require.Contains(t, r.stderr, "spool topic list")
	r = spool(t, b.Addr, "", "topic", "delete", "orders")
	require.Equal(t, 1, r.code)
	requireOK(t, spool(t, b.Addr, "", "topic", "delete", "orders", "--if-exists"))
}

func TestProduceConsumeRoundTrip(t *testing.T) {
	b := spooltest.Start(t, spooltest.Options{})
	requireOK(t, spool(t, b.Addr, "", "topic", "create", "events", "-p", "4"))

	var in strings.Builder
	keys := map[string]string{}
	for i := range 40 {
		k, v := fmt.Sprintf("key-%d", i), fmt.Sprintf("value %d with spaces", i)
		keys[k] = v
		fmt.Fprintf(&in, "%s=%s\n", k, v)
	}
	prod := decode[[]produced](t, spool(t, b.Addr, in.String(), "produce", "events", "--key-separator", "=", "-o", "json"))
	total := 0
	for _, p := range prod {
		total += p.Count
	}
	require.Equal(t, 40, total)

	// Every record arrives once, in the partition Kafka's default
	// partitioner (murmur2 of the key) picks: franz-go's is the reference.
	part := kgo.StickyKeyPartitioner(nil).ForTopic("events")
	r := spool(t, b.Addr, "", "consume", "events", "-o", "json")
	requireOK(t, r)
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	seen := map[string]bool{}
	for dec.More() {
		var c consumed
		require.NoError(t, dec.Decode(&c))
		require.Equal(t, keys[c.Key], c.Value, "key %q", c.Key)
		require.False(t, seen[c.Key], "duplicate %q", c.Key)
		seen[c.Key] = true
		require.EqualValues(t, part.Partition(&kgo.Record{Key: []byte(c.Key)}, 4), c.Partition, "key %q", c.Key)
	}
	require.Len(t, seen, 40)

	// Partition, offset and count selection.
	requireOK(t, spool(t, b.Addr, "x\ny\nz\n", "produce", "events", "-p", "3"))
	r = spool(t, b.Addr, "", "consume", "events", "-p", "3", "--offset", "end")
	requireOK(t, r)
	require.Empty(t, r.stdout)
	r = spool(t, b.Addr, "", "consume", "events", "-p", "3", "-n", "2", "--offset", "start")
	requireOK(t, r)
	require.Len(t, strings.Split(strings.TrimSpace(r.stdout), "\n"), 2)

	// Records written by a real client read back, and the CLI's records
	// read back in a real client.
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.ConsumeTopics("events"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: "events", Partition: 0, Key: []byte("from-franz"), Value: []byte("hello")}).FirstErr())
	got := 0
	for got < 44 {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err())
		fs.EachRecord(func(*kgo.Record) { got++ })
	}
	r = spool(t, b.Addr, "", "consume", "events", "--print-key")
	requireOK(t, r)
	require.Contains(t, r.stdout, "from-franz\thello\n")

	r = spool(t, b.Addr, "", "produce", "nope")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "UNKNOWN_TOPIC_OR_PARTITION")
}

func TestGroups(t *testing.T) {
	b := spooltest.Start(t, spooltest.Options{})
	requireOK(t, spool(t, b.Addr, "", "topic", "create", "in", "-p", "2"))
	var in strings.Builder
	for i := range 10 {
		fmt.Fprintf(&in, "m%d\n", i)
	}
	requireOK(t, spool(t, b.Addr, in.String(), "produce", "in", "-p", "0"))
	requireOK(t, spool(t, b.Addr, "a\nb\n", "produce", "in", "-p", "1"))

	// A real consumer group member consumes 4 records of partition 0 and
	// commits, and stays in the group.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.ConsumerGroup("g1"), kgo.ConsumeTopics("in"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(), kgo.ClientID("lag-test"))
	require.NoError(t, err)
	defer cl.Close()
	got := 0
	for got < 12 {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err())
		fs.EachRecord(func(*kgo.Record) { got++ })
	}
	var commitErr error
	cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{"in": {0: {Epoch: -1, Offset: 4}, 1: {Epoch: -1, Offset: 2}}},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			commitErr = err
			if err == nil {
				for _, t := range resp.Topics {
					for _, p := range t.Partitions {
						if p.ErrorCode != 0 && commitErr == nil {
							commitErr = fmt.Errorf("commit %s-%d: code %d", t.Topic, p.Partition, p.ErrorCode)
						}
					}
				}
			}
		})
	require.NoError(t, commitErr)

	groups := decode[[]groupListing](t, spool(t, b.Addr, "", "group", "list", "-o", "json"))
	require.Len(t, groups, 1)
	require.Equal(t, "g1", groups[0].Group)
	require.Equal(t, "Stable", groups[0].State)

	desc := decode[[]groupDescription](t, spool(t, b.Addr, "", "group", "describe", "g1", "-o", "json"))
	require.Len(t, desc, 1)
	require.Equal(t, 1, desc[0].Members)
	require.EqualValues(t, 6, desc[0].TotalLag)
	require.Len(t, desc[0].Partitions, 2)
	p0 := desc[0].Partitions[0]
	require.Equal(t, "in", p0.Topic)
	require.EqualValues(t, 4, *p0.CurrentOffset)
	require.EqualValues(t, 10, *p0.LogEndOffset)
	require.EqualValues(t, 6, *p0.Lag)
	require.Equal(t, "lag-test", p0.ClientID, "the member owning the partition is named")
	r := spool(t, b.Addr, "", "group", "describe", "g1")
	requireOK(t, r)
	require.Regexp(t, `GROUP\s+TOPIC\s+PARTITION\s+CURRENT-OFFSET\s+LOG-END-OFFSET\s+LAG\s+CONSUMER-ID\s+HOST\s+CLIENT-ID`, r.stdout)
	require.Regexp(t, `g1\s+in\s+0\s+4\s+10\s+6\s+\S+\s+\S+\s+lag-test`, r.stdout)

	// Active groups can be neither reset nor deleted.
	r = spool(t, b.Addr, "", "group", "reset-offsets", "g1", "--topic", "in", "--to-earliest", "--execute")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "inactive")
	r = spool(t, b.Addr, "", "group", "delete", "g1")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "NON_EMPTY_GROUP")

	cl.Close()
	require.Eventually(t, func() bool {
		g := decode[[]groupListing](t, spool(t, b.Addr, "", "group", "list", "-o", "json"))
		return len(g) == 1 && g[0].State == "Empty"
	}, 30*time.Second, 100*time.Millisecond)

	lag := func() map[int32]int64 {
		d := decode[[]groupDescription](t, spool(t, b.Addr, "", "group", "describe", "g1", "-o", "json"))
		out := map[int32]int64{}
		for _, p := range d[0].Partitions {
			out[p.Partition] = *p.CurrentOffset
		}
		return out
	}
	// A dry run prints the plan and changes nothing.
	r = spool(t, b.Addr, "", "group", "reset-offsets", "g1", "--topic", "in:0", "--to-earliest")
	requireOK(t, r)
	require.Regexp(t, `g1\s+in\s+0\s+0`, r.stdout)
	require.Contains(t, r.stderr, "--execute")
	require.Equal(t, map[int32]int64{0: 4, 1: 2}, lag())

	for _, tc := range []struct {
		args []string
		want map[int32]int64
	}{
		{[]string{"--topic", "in:0", "--to-earliest"}, map[int32]int64{0: 0, 1: 2}},
		{[]string{"--topic", "in", "--shift-by", "3"}, map[int32]int64{0: 3, 1: 2}}, // partition 1 clamps to its end
		{[]string{"--all-topics", "--to-offset", "7"}, map[int32]int64{0: 7, 1: 2}},
		{[]string{"--topic", "in:1", "--shift-by", "-5"}, map[int32]int64{0: 7, 1: 0}}, // clamps to the start
		{[]string{"--topic", "in", "--to-latest"}, map[int32]int64{0: 10, 1: 2}},
	} {
		r = spool(t, b.Addr, "", append([]string{"group", "reset-offsets", "g1", "--execute"}, tc.args...)...)
		requireOK(t, r)
		require.Equal(t, tc.want, lag(), "%v", tc.args)
	}

	r = spool(t, b.Addr, "", "group", "reset-offsets", "g1", "--topic", "in", "--to-earliest", "--to-latest")
	require.Equal(t, 2, r.code, "two targets are a usage error")

	r = spool(t, b.Addr, "", "group", "delete", "g1")
	requireOK(t, r)
	require.Equal(t, "group g1: deleted\n", r.stdout)
	require.Empty(t, decode[[]groupListing](t, spool(t, b.Addr, "", "group", "list", "-o", "json")))
	r = spool(t, b.Addr, "", "group", "describe", "g1")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "GROUP_ID_NOT_FOUND")
}

// TestClusterHealthFlips: health and healthcheck pass on a serving node
// and fail, with a non-zero exit, once it dies.
func TestClusterHealthFlips(t *testing.T) {
	b := spooltest.Start(t, spooltest.Options{})
	requireOK(t, spool(t, b.Addr, "", "topic", "create", "t", "-p", "2"))

	ci := decode[clusterInfo](t, spool(t, b.Addr, "", "cluster", "info", "-o", "json"))
	require.EqualValues(t, 1, ci.Controller)
	require.Len(t, ci.Brokers, 1)
	require.Equal(t, brokerInfo{ID: 1, Host: "127.0.0.1", Port: int32(b.Port)}, ci.Brokers[0])
	require.True(t, validClusterID(ci.ClusterID), ci.ClusterID)

	h := decode[healthReport](t, spool(t, b.Addr, "", "cluster", "health", "-o", "json"))
	require.True(t, h.Healthy)
	require.Equal(t, []int32{1}, h.Brokers)
	require.Empty(t, h.BrokersDown)
	require.Zero(t, h.OfflineCount)
	require.Zero(t, h.UnderReplicatedCount)
	r := spool(t, b.Addr, "", "cluster", "health")
	requireOK(t, r)
	require.Contains(t, r.stdout, "Healthy:                      true\n")

	r = spool(t, "", "", "healthcheck", "--config", b.Config)
	requireOK(t, r)
	require.Contains(t, r.stdout, "ok: node 1 serving on "+b.Addr)

	b.Kill()
	r = spool(t, b.Addr, "", "cluster", "health", "-o", "json", "--timeout", "10s")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "connection refused")
	require.Contains(t, r.stderr, "--bootstrap-server", "the error says what to try")
	var down healthReport
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &down))
	require.False(t, down.Healthy)
	r = spool(t, "", "", "healthcheck", "--config", b.Config)
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "node not serving")

	// Back on the same data and port: healthy again, data intact.
	b2 := spooltest.Start(t, spooltest.Options{Dir: b.Dir, Port: b.Port, CtrlPort: b.CtrlPort})
	require.Eventually(t, func() bool {
		return spool(t, b2.Addr, "", "cluster", "health", "--timeout", "5s").code == 0
	}, 30*time.Second, 200*time.Millisecond)
	desc := decode[[]topicInfo](t, spool(t, b2.Addr, "", "topic", "describe", "t", "-o", "json"))
	require.Equal(t, 2, desc[0].PartitionCount)
}

func TestFormat(t *testing.T) {
	r := spool(t, "", "", "format", "random-uuid")
	requireOK(t, r)
	id := strings.TrimSpace(r.stdout)
	require.True(t, validClusterID(id), id)
	require.NotEqual(t, id, strings.TrimSpace(spool(t, "", "", "format", "random-uuid").stdout))

	dir := t.TempDir()
	port, ctrl := spooltest.FreePort(t), spooltest.FreePort(t)
	cfg := filepath.Join(dir, "server.properties")
	require.NoError(t, os.WriteFile(cfg, []byte(spooltest.Properties(dir, 1, port, ctrl)), 0o644))

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no cluster id", []string{"format", "-c", cfg}, 2, "--cluster-id is required"},
		{"bad cluster id", []string{"format", "-c", cfg, "-t", "not-a-uuid"}, 2, "not a Kafka Uuid"},
		{"scram without a name", []string{"format", "-c", cfg, "-t", id, "--add-scram", "SCRAM-SHA-256=[password=x]"}, 2, "you must supply 'name' to add-scram"},
		{"scram mechanism", []string{"format", "-c", cfg, "-t", id, "--add-scram", "SCRAM-SHA-1=[name=a,password=x]"}, 2, "the add-scram mechanism SCRAM-SHA-1 is not supported"},
		{"scram iterations", []string{"format", "-c", cfg, "-t", id, "--add-scram", "SCRAM-SHA-512=[name=a,password=x,iterations=100]"}, 2, "must be >= 4096"},
		{"missing config", []string{"format", "-c", filepath.Join(dir, "absent"), "-t", id}, 1, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := spool(t, "", "", tc.args...)
			require.Equal(t, tc.code, r.code, r.stderr)
			require.Contains(t, r.stderr, tc.want)
		})
	}
	_, err := os.Stat(filepath.Join(dir, "data", "meta.properties"))
	require.ErrorIs(t, err, os.ErrNotExist, "failed formats write nothing")

	r = spool(t, "", "", "format", "-c", cfg, "-t", id, "--add-scram", "SCRAM-SHA-512=[name=admin,password=admin-secret]",
		"--add-scram", `SCRAM-SHA-256=[name=admin,iterations=8192,password="admin-secret"]`)
	requireOK(t, r)
	require.Contains(t, r.stdout, "cluster "+id)
	r = spool(t, "", "", "format", "-c", cfg, "-t", id)
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "--ignore-formatted")
	requireOK(t, spool(t, "", "", "format", "-c", cfg, "-t", id, "-g"))
	r = spool(t, "", "", "format", "-c", cfg, "-t", "AAAAAAAAAAAAAAAAAAAAAA", "-g")
	require.Equal(t, 1, r.code, "a directory of another cluster is never reformatted")

	// The node starts in the formatted cluster, with the credentials of
	// --add-scram (DescribeUserScramCredentials shows mechanisms and
	// iterations).
	b := spooltest.Start(t, spooltest.Options{Dir: dir, Port: port, CtrlPort: ctrl})
	ci := decode[clusterInfo](t, spool(t, b.Addr, "", "cluster", "info", "-o", "json"))
	require.Equal(t, id, ci.ClusterID)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest().RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Len(t, resp.Results, 1)
	require.Equal(t, "admin", resp.Results[0].User)
	var creds []string
	for _, c := range resp.Results[0].CredentialInfos {
		creds = append(creds, fmt.Sprintf("%d/%d", c.Mechanism, c.Iterations))
	}
	require.ElementsMatch(t, []string{"1/8192", "2/4096"}, creds)
}

func TestCommandConfig(t *testing.T) {
	b := spooltest.Start(t, spooltest.Options{})
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	plain := write("plain.properties", "# Kafka client properties\nbootstrap.servers="+b.Addr+"\nclient.id: ops-cli\nrequest.timeout.ms=20000\n")
	r := spool(t, "", "", "cluster", "info", "--command-config", plain, "-o", "json")
	requireOK(t, r)

	sasl := write("sasl.properties", "bootstrap.servers="+b.Addr+"\nsecurity.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n")
	r = spool(t, "", "", "topic", "list", "--command-config", sasl)
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, "needs sasl.jaas.config")
	gss := write("gss.properties", "bootstrap.servers="+b.Addr+"\nsecurity.protocol=SASL_PLAINTEXT\nsasl.jaas.config=x required username=\"a\";\n")
	r = spool(t, "", "", "topic", "list", "--command-config", gss)
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, "sasl.mechanism=GSSAPI")

	bad := write("bad.properties", "request.timeout.ms=soon\n")
	r = spool(t, b.Addr, "", "topic", "list", "--command-config", bad)
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, "request.timeout.ms")

	r = spool(t, "", "", "topic", "nope")
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, "create, list, describe, alter, delete")
	r = spool(t, b.Addr, "", "topic", "list", "-o", "yaml")
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, "use table or json")
}

func TestMurmur2(t *testing.T) {
	// Vectors from Kafka's UtilsTest.testMurmur2, checked against franz-go's
	// partitioner in TestProduceConsumeRoundTrip.
	for in, want := range map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	} {
		require.Equal(t, want, murmur2([]byte(in)), in)
	}
}

func TestParseConsumerAssignment(t *testing.T) {
	// version 3, [("a", [0, 2]), ("bb", [1])], null user data
	b := []byte{0, 3, 0, 0, 0, 2, 0, 1, 'a', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2, 'b', 'b', 0, 0, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff}
	require.Equal(t, []tp{{"a", 0}, {"a", 2}, {"bb", 1}}, parseConsumerAssignment(b))
	for i := range b { // truncations never panic
		_ = parseConsumerAssignment(b[:i])
	}
}

// TestCommandConfigSecurity: the CLI reads Kafka's client security
// properties from --command-config and talks to a SASL_SSL listener
// (SCRAM-SHA-512 and PLAIN, a PEM truststore) and to an SSL listener with
// ssl.client.auth=required (a PEM keystore); wrong credentials, a missing
// truststore and a missing client certificate fail.
func TestCommandConfigSecurity(t *testing.T) {
	pki := spooltest.NewPKI(t)
	saslPort, sslPort := spooltest.FreePort(t), spooltest.FreePort(t)
	port, ctrl := spooltest.FreePort(t), spooltest.FreePort(t)
	b := spooltest.Start(t, spooltest.Options{Port: port, CtrlPort: ctrl, Env: []string{
		fmt.Sprintf("KAFKA_LISTENERS=PLAINTEXT://127.0.0.1:%d,SASL_SSL://127.0.0.1:%d,SSL://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d", port, saslPort, sslPort, ctrl),
		fmt.Sprintf("KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://127.0.0.1:%d,SASL_SSL://127.0.0.1:%d,SSL://127.0.0.1:%d", port, saslPort, sslPort),
		"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL,CONTROLLER:PLAINTEXT",
		"KAFKA_INTER_BROKER_LISTENER_NAME=PLAINTEXT",
		"KAFKA_SASL_ENABLED_MECHANISMS=SCRAM-SHA-512,PLAIN",
		`KAFKA_LISTENER_NAME_SASL__SSL_PLAIN_SASL_JAAS_CONFIG=org.apache.kafka.common.security.plain.PlainLoginModule required user_ops="ops-secret";`,
		"KAFKA_LISTENER_NAME_SASL__SSL_SCRAM___SHA___512_SASL_JAAS_CONFIG=org.apache.kafka.common.security.scram.ScramLoginModule required;",
		"KAFKA_SSL_KEYSTORE_TYPE=PEM", "KAFKA_SSL_KEYSTORE_LOCATION=" + pki.KeystoreFile,
		"KAFKA_SSL_TRUSTSTORE_TYPE=PEM", "KAFKA_SSL_TRUSTSTORE_LOCATION=" + pki.CAFile,
		"KAFKA_LISTENER_NAME_SSL_SSL_CLIENT_AUTH=required",
	}})
	// alice's SCRAM credential, through the PLAINTEXT listener.
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := kadm.NewClient(cl).AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "alice", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "alice-secret"}})
	require.NoError(t, err)
	require.NoError(t, res.Error())

	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	saslAddr, sslAddr := fmt.Sprintf("127.0.0.1:%d", saslPort), fmt.Sprintf("127.0.0.1:%d", sslPort)
	trust := "ssl.truststore.type=PEM\nssl.truststore.location=" + pki.CAFile + "\n"
	for _, tc := range []struct {
		name, addr, props string
		ok                bool
		want              string // in stderr when not ok
	}{
		{"scram", saslAddr, "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n" + trust +
			`sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="alice-secret";` + "\n", true, ""},
		{"plain", saslAddr, "security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\n" + trust +
			`sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="ops" password="ops-secret";` + "\n", true, ""},
		{"scram wrong password", saslAddr, "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n" + trust +
			`sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="nope";` + "\n", false, "check the credentials"},
		{"untrusted server", saslAddr, "security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\n" +
			`sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="ops" password="ops-secret";` + "\n", false, "certificate signed by unknown authority"},
		{"mtls", sslAddr, "security.protocol=SSL\n" + trust + "ssl.keystore.type=PEM\nssl.keystore.location=" + pki.KeystoreFile + "\n", true, ""},
		{"tls without a client certificate", sslAddr, "security.protocol=SSL\n" + trust, false, "certificate required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			props := write(strings.ReplaceAll(tc.name, " ", "-")+".properties", "bootstrap.servers="+tc.addr+"\n"+tc.props)
			r := spool(t, "", "", "cluster", "info", "--command-config", props, "-o", "json", "--timeout", "10s")
			if !tc.ok {
				require.NotZero(t, r.code, r.stdout)
				require.Contains(t, r.stderr, tc.want)
				return
			}
			requireOK(t, r)
			ci := decode[clusterInfo](t, r)
			require.NotEmpty(t, ci.ClusterID)
		})
	}
}
