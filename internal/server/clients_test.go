package server

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Real clients in other languages, installed by test/compat/install.sh
// (which .ci/run calls): kcat (librdkafka), confluent-kafka-python and
// kafka-python from the compat venv, and Kafka 4.3.1's Java tools. A missing
// tool fails the test; it never skips.

func repoRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	require.NoError(t, err)
	return filepath.Dir(strings.TrimSpace(string(out)))
}

func compatCache(t *testing.T) string {
	if c := os.Getenv("COMPAT_CACHE"); c != "" {
		return c
	}
	home, err := os.UserHomeDir()
	require.NoError(t, err)
	return filepath.Join(home, ".cache", "spool-compat")
}

// tool resolves an external client, failing with what to run when missing.
func tool(t *testing.T, path string) string {
	t.Helper()
	if !filepath.IsAbs(path) {
		p, err := exec.LookPath(path)
		require.NoError(t, err, "%s is not installed: run test/compat/install.sh (or .ci/run)", path)
		return p
	}
	_, err := os.Stat(path)
	require.NoError(t, err, "%s is not installed: run test/compat/install.sh (or .ci/run)", path)
	return path
}

// run executes a client with a deadline and returns its stdout.
func run(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s %s\nstdout:\n%s\nstderr:\n%s", filepath.Base(name), strings.Join(args, " "), out, stderr.String())
	return string(out)
}

func TestClientKcat(t *testing.T) {
	kcat := tool(t, "kcat")
	n := startTestNode(t, "KAFKA_NUM_PARTITIONS=1")
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		run(t, "k1:"+codec+"-one\nk2:"+codec+"-two\n", kcat, "-b", n.addr, "-P", "-t", "kcat", "-K:", "-z", codec)
	}
	meta := run(t, "", kcat, "-b", n.addr, "-L", "-t", "kcat")
	require.Contains(t, meta, `topic "kcat" with 1 partitions`)
	require.Contains(t, meta, "broker 1 at "+n.addr)
	out := run(t, "", kcat, "-b", n.addr, "-C", "-t", "kcat", "-e", "-f", "%k=%s@%o\n")
	want := ""
	for i, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		want += "k1=" + codec + "-one@" + strconv.Itoa(2*i) + "\nk2=" + codec + "-two@" + strconv.Itoa(2*i+1) + "\n"
	}
	require.Equal(t, want, out)
}

const pyProduceConsume = `
import sys
addr, lib = sys.argv[1], sys.argv[2]
topic = "py-" + lib
if lib == "confluent":
    from confluent_kafka import Producer, Consumer, TopicPartition
    p = Producer({"bootstrap.servers": addr, "compression.type": "zstd"})
    for i in range(100):
        p.produce(topic, key=b"k%d" % i, value=b"v%d" % i, headers=[("h", b"x")])
    assert p.flush(30) == 0
    c = Consumer({"bootstrap.servers": addr, "group.id": "unused", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, 0)])
    got = []
    while len(got) < 100:
        m = c.poll(10)
        assert m is not None, "timed out after %d records" % len(got)
        assert m.error() is None, m.error()
        got.append((m.key(), m.value(), m.offset(), m.headers()))
    c.close()
else:
    from kafka import KafkaProducer, KafkaConsumer, TopicPartition
    p = KafkaProducer(bootstrap_servers=addr, compression_type="gzip")
    for i in range(100):
        p.send(topic, key=b"k%d" % i, value=b"v%d" % i, headers=[("h", b"x")])
    p.flush(30)
    c = KafkaConsumer(bootstrap_servers=addr, enable_auto_commit=False, consumer_timeout_ms=10000)
    tp = TopicPartition(topic, 0)
    c.assign([tp])
    c.seek(tp, 0)
    got = []
    for m in c:
        got.append((m.key, m.value, m.offset, [(k, v) for k, v in m.headers]))
        if len(got) == 100:
            break
    c.close()
for i, (k, v, o, h) in enumerate(got):
    assert (k, v, o) == (b"k%d" % i, b"v%d" % i, i), (i, k, v, o)
    assert list(h) == [("h", b"x")], h
print("ok", len(got))
`

func TestClientPython(t *testing.T) {
	py := tool(t, filepath.Join(compatCache(t), "venv", "bin", "python"))
	n := startTestNode(t, "KAFKA_NUM_PARTITIONS=1")
	for _, lib := range []string{"confluent", "kafka-python"} {
		t.Run(lib, func(t *testing.T) {
			out := run(t, "", py, "-c", pyProduceConsume, n.addr, lib)
			require.Equal(t, "ok 100\n", out)
		})
	}
}

func TestClientJavaTools(t *testing.T) {
	bin := filepath.Join(repoRoot(t), "test", "compat", "bin")
	topics := tool(t, filepath.Join(bin, "kafka-topics"))
	producer := tool(t, filepath.Join(bin, "kafka-console-producer"))
	consumer := tool(t, filepath.Join(bin, "kafka-console-consumer"))
	tool(t, filepath.Join(compatCache(t), "java", "lib-4.3.1", "kafka-clients-4.3.1.jar"))
	n := startTestNode(t)

	run(t, "", topics, "--bootstrap-server", n.addr, "--create", "--topic", "orders", "--partitions", "3", "--replication-factor", "1")
	require.Contains(t, run(t, "", topics, "--bootstrap-server", n.addr, "--list"), "orders")
	desc := run(t, "", topics, "--bootstrap-server", n.addr, "--describe", "--topic", "orders")
	require.Contains(t, desc, "PartitionCount: 3")
	require.Contains(t, desc, "Leader: 1")

	run(t, "order-1:{\"amount\":1}\norder-2:{\"amount\":2}\n", producer, "--bootstrap-server", n.addr, "--topic", "orders",
		"--reader-property", "parse.key=true", "--reader-property", "key.separator=:")
	// The consumer stops when it has both records (--timeout-ms only
	// bounds a wait that finds nothing, so a loaded machine's slow JVM
	// start does not cut the read short).
	out := run(t, "", consumer, "--bootstrap-server", n.addr, "--topic", "orders", "--from-beginning", "--max-messages", "2",
		"--timeout-ms", "60000", "--formatter-property", "print.key=true", "--formatter-property", "key.separator=:")
	require.ElementsMatch(t, []string{"order-1:{\"amount\":1}", "order-2:{\"amount\":2}"}, strings.Fields(out))

	run(t, "", topics, "--bootstrap-server", n.addr, "--alter", "--topic", "orders", "--partitions", "6")
	require.Contains(t, run(t, "", topics, "--bootstrap-server", n.addr, "--describe", "--topic", "orders"), "PartitionCount: 6")
	run(t, "", topics, "--bootstrap-server", n.addr, "--delete", "--topic", "orders")
	// List until the deletion shows. Each list is a JVM run of seconds
	// (tens at load 70), so the bound is on attempts, and a list in
	// progress is never cut off (require.Eventually's 20 s did that).
	for i := 1; strings.Contains(run(t, "", topics, "--bootstrap-server", n.addr, "--list"), "orders"); i++ {
		require.Less(t, i, 20, "orders still listed after 20 lists following its deletion")
	}
}
