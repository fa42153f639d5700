package server

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestJavaExactlyOnce runs a consume-transform-produce loop with the Java
// 4.3.1 and 4.4.0 clients (testdata/java/ExactlyOnce.java), which negotiates
// transaction.version 2: no AddPartitionsToTxn or AddOffsetsToTxn, an epoch
// bump on every commit and abort. A read_committed consumer then sees every
// input record exactly once, and the group's offsets are at the end.
func TestJavaExactlyOnce(t *testing.T) {
	// 4.3.1 and 4.4.0: 4.4 commits the offsets with TxnOffsetCommit v6
	// (topic ids, KIP-1319) and checks the cluster and node with ApiVersions
	// v5 (KIP-1242).
	for _, v := range []string{"4.3.1", "4.4.0"} {
		t.Run(v, func(t *testing.T) { testJavaExactlyOnce(t, v) })
	}
}

func testJavaExactlyOnce(t *testing.T, version string) {
	const n = 60
	lib := filepath.Join(compatCache(t), "java", "lib-"+version)
	tool(t, filepath.Join(lib, "kafka-clients-"+version+".jar"))
	javac, java := tool(t, "javac"), tool(t, "java")
	classes := t.TempDir()
	src := filepath.Join(repoRoot(t), "internal", "server", "testdata", "java", "ExactlyOnce.java")
	cp := lib + "/*"
	out, err := exec.Command(javac, "-cp", cp, "-d", classes, src).CombinedOutput()
	require.NoError(t, err, "javac: %s", out)

	node := startTestNode(t)
	txnTestTopic(t, node, "eos-in", 2)
	txnTestTopic(t, node, "eos-out", 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(node.addr), kgo.DefaultProduceTopic("eos-in"))
	require.NoError(t, err)
	defer cl.Close()
	var want []string
	for i := 0; i < n; i++ {
		v := fmt.Sprintf("rec-%d", i)
		want = append(want, strings.ToUpper(v))
		require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr())
	}

	res := run(t, "", java, "-cp", classes+":"+cp, "ExactlyOnce", node.addr, "eos-in", "eos-out", "eos-group", "eos-txn", fmt.Sprint(n))
	var moved, txns int
	_, err = fmt.Sscanf(strings.TrimSpace(res[strings.LastIndex(res, "moved"):]), "moved %d transactions %d", &moved, &txns)
	require.NoError(t, err, res)
	require.Equal(t, n, moved)

	require.ElementsMatch(t, want, txnConsumeAll(t, node, "eos-out", true), "exactly once")
	// A new bound for the checks: the first one also spanned the JVM run,
	// which at load 40 took most of it (the checks then met its deadline).
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	offs, err := adm.FetchOffsets(ctx, "eos-group")
	require.NoError(t, err)
	ends, err := adm.ListEndOffsets(ctx, "eos-in")
	require.NoError(t, err)
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset == 0 {
			return // nothing was consumed there, so nothing was committed
		}
		c, ok := offs.Lookup("eos-in", o.Partition)
		require.True(t, ok)
		require.Equal(t, o.Offset, c.At, "partition %d", o.Partition)
	})
	desc, err := adm.DescribeTransactions(ctx, "eos-txn")
	require.NoError(t, err)
	require.GreaterOrEqual(t, int(desc["eos-txn"].ProducerEpoch), txns, "transaction.version 2 bumps the epoch on every commit and abort")
}

// TestJavaTransactionalETLRebalance runs the compatibility matrix's
// eos-rebalance-consumer scenario (test/compat/java/Compat.java) against
// Spool: four Java 4.3.1 members of a KIP-848 group, each with its own
// transactional id, move records from one topic to another with
// sendOffsetsToTransaction while members join, leave and restart. Half of
// them abort their open transaction when partitions are revoked, before
// their buffered records reached the broker (an EndTxn abort of a
// transaction the coordinator never saw), and the heartbeat thread moves
// member epochs under sendOffsetsToTransaction. The scenario fails on a
// fenced or failed producer and checks exactly-once output itself.
func TestJavaTransactionalETLRebalance(t *testing.T) {
	lib := filepath.Join(compatCache(t), "java", "lib-4.3.1")
	tool(t, filepath.Join(lib, "kafka-clients-4.3.1.jar"))
	javac, java := tool(t, "javac"), tool(t, "java")
	classes := t.TempDir()
	compat := filepath.Join(repoRoot(t), "test", "compat", "java")
	cp := lib + "/*"
	out, err := exec.Command(javac, "-nowarn", "-encoding", "UTF-8", "-cp", cp, "-d", classes, filepath.Join(compat, "Compat.java")).CombinedOutput()
	require.NoError(t, err, "javac: %s", out)

	node := startTestNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 170*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, java, "-Xmx512m", "-Dlog4j2.configurationFile="+filepath.Join(compat, "log4j2.properties"),
		"-cp", classes+":"+cp, "Compat", "eos-rebalance-consumer", node.addr, "etl")
	res, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", res)
	require.Contains(t, string(res), "java eos-rebalance-consumer: ok")
}
