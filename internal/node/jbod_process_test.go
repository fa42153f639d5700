package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLogDirFailureProcesses: three `spool serve` processes, each with two
// log dirs, take an acks=all producer's writes; then one broker loses a
// dir (renamed away, as an unmount looks to the process) while the
// producer runs. The broker keeps running and serving its other dir; the
// controller moves the lost partitions' leadership to other ISR members;
// Kafka's kafka-log-dirs --describe shows the dir with its error; the
// broker's /metrics show one offline dir; no acknowledged record is lost.
func TestLogDirFailureProcesses(t *testing.T) {
	logDirsTool := kafkaTool(t, "kafka-log-dirs")
	c := newProcCluster(t, []procSpec{{1, "broker,controller"}, {2, "broker,controller"}, {3, "broker,controller"}},
		"KAFKA_REPLICA_HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS=200")
	const victimID = int32(2)
	dirs := twoLogDirsEach(t, c)
	metricsAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	c.procs[victimID].env = append(c.procs[victimID].env, "SPOOL_HTTP_ADDR="+metricsAddr)
	c.startAll()
	ctx := context.Background()
	adm := c.admin()
	const topic, partitions = "jbod", 6
	c.createTopic(ctx, adm, topic, partitions)

	acks, stop := produceFranz(t, ctx, c.seeds(), topic, partitions)
	acks.waitCount(t, 300, 60*time.Second, "before the failure")

	// Which partitions broker 2 keeps in its second dir.
	describeDirs := func() []logDirsBroker {
		t.Helper()
		out := runTool(t, logDirsTool, "--bootstrap-server", c.addr(1), "--describe", "--broker-list", "2", "--topic-list", topic)
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "{") {
				t.Logf("kafka-log-dirs --describe: %s", line)
				var d logDirsOutput
				require.NoError(t, json.Unmarshal([]byte(line), &d), line)
				return d.Brokers
			}
		}
		t.Fatalf("no JSON in kafka-log-dirs output:\n%s", out)
		return nil
	}
	before := describeDirs()
	require.Len(t, before, 1)
	require.Len(t, before[0].LogDirs, 2)
	var inB []int32
	for _, ld := range before[0].LogDirs {
		require.Empty(t, ld.Error) // null
		if ld.LogDir == dirs[victimID][1] {
			for _, p := range ld.Partitions {
				i := strings.LastIndexByte(p.Partition, '-')
				n, err := strconv.Atoi(p.Partition[i+1:])
				require.NoError(t, err)
				inB = append(inB, int32(n))
			}
		}
	}
	require.Len(t, inB, partitions/2, "half the victim's replicas are in its second dir")

	failed := time.Now()
	require.NoError(t, os.Rename(dirs[victimID][1], dirs[victimID][1]+".gone"))
	require.Eventually(t, func() bool {
		st := describe(ctx, adm, topic)
		if len(st) != partitions {
			return false
		}
		for _, p := range inB {
			s := st[p]
			if s.leader < 0 || s.leader == victimID || containsInt32(s.isr, victimID) {
				return false
			}
		}
		return true
	}, 30*time.Second, 50*time.Millisecond, "the lost dir's partitions move off broker %d", victimID)
	t.Logf("leadership and ISR moved %v after the dir disappeared", time.Since(failed))
	acks.waitCount(t, acks.count()+500, 60*time.Second, "after the failure")

	after := describeDirs()
	require.Len(t, after[0].LogDirs, 2)
	for _, ld := range after[0].LogDirs {
		if ld.LogDir == dirs[victimID][1] {
			require.Contains(t, ld.Error, "KafkaStorageException")
			require.Empty(t, ld.Partitions)
		} else {
			require.Empty(t, ld.Error)
			require.Len(t, ld.Partitions, partitions-len(inB))
		}
	}
	require.Equal(t, "1", scrapeGauge(t, metricsAddr, "kafka_log_logmanager_offlinelogdirectorycount"))
	require.Equal(t, strconv.Itoa(len(inB)), scrapeGauge(t, metricsAddr, "kafka_server_replicamanager_offlinereplicacount"))
	require.NotNil(t, c.procs[victimID].cmd)
	require.Nil(t, c.procs[victimID].cmd.ProcessState, "the broker keeps running")

	stop()
	got, fails := acks.snapshot()
	require.Empty(t, fails, "the producer gave up on records")
	verifyAcked(t, readAll(t, ctx, c.seeds(), adm, topic, partitions), got, func(a, b string) bool { return a < b })
}

type logDirsOutput struct {
	Brokers []logDirsBroker `json:"brokers"`
}

type logDirsBroker struct {
	Broker  int32 `json:"broker"`
	LogDirs []struct {
		LogDir     string `json:"logDir"`
		Error      string `json:"error"`
		Partitions []struct {
			Partition string `json:"partition"`
			Size      int64  `json:"size"`
		} `json:"partitions"`
	} `json:"logDirs"`
}

// scrapeGauge returns the value of an unlabelled series on /metrics.
func scrapeGauge(t *testing.T, addr, name string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			t.Logf("%s", line)
			return v
		}
	}
	t.Fatalf("%s not on /metrics", name)
	return ""
}

// TestReassignLogDirsProcesses moves replicas between log dirs with Kafka's
// own tools on three `spool serve` processes with two dirs each:
// kafka-reassign-partitions --execute with log_dirs in the JSON (the
// replicas stay, broker 1's move to its other dir), --verify until it says
// the replica moves completed, kafka-log-dirs --describe shows them in
// their new dir, and every acknowledged record reads back.
func TestReassignLogDirsProcesses(t *testing.T) {
	runClass := kafkaTool(t, "kafka-run-class")
	reassign := func(args ...string) (string, error) {
		return runToolErr(runClass, append([]string{"org.apache.kafka.tools.reassign.ReassignPartitionsCommand"}, args...)...)
	}
	logDirsTool := kafkaTool(t, "kafka-log-dirs")
	c := newProcCluster(t, []procSpec{{1, "broker,controller"}, {2, "broker,controller"}, {3, "broker,controller"}})
	dirs := twoLogDirsEach(t, c)
	c.startAll()
	ctx := context.Background()
	adm := c.admin()
	const topic, partitions = "moves", 4
	c.createTopic(ctx, adm, topic, partitions)
	acks, stop := produceFranz(t, ctx, c.seeds(), topic, partitions)
	acks.waitCount(t, 300, 60*time.Second, "before the moves")

	where := func() map[int32]string { // partition → broker 1's dir for it
		out := runTool(t, logDirsTool, "--bootstrap-server", c.addr(1), "--describe", "--broker-list", "1", "--topic-list", topic)
		got := map[int32]string{}
		for _, line := range strings.Split(out, "\n") {
			if !strings.HasPrefix(line, "{") {
				continue
			}
			var d logDirsOutput
			require.NoError(t, json.Unmarshal([]byte(line), &d), line)
			for _, ld := range d.Brokers[0].LogDirs {
				for _, p := range ld.Partitions {
					n, err := strconv.Atoi(p.Partition[strings.LastIndexByte(p.Partition, '-')+1:])
					require.NoError(t, err)
					got[int32(n)] = ld.LogDir
				}
			}
		}
		return got
	}
	before := where()
	require.Len(t, before, partitions)
	other := map[string]string{dirs[1][0]: dirs[1][1], dirs[1][1]: dirs[1][0]}
	md, err := adm.Metadata(ctx, topic)
	require.NoError(t, err)
	type entry struct {
		Topic     string   `json:"topic"`
		Partition int32    `json:"partition"`
		Replicas  []int32  `json:"replicas"`
		LogDirs   []string `json:"log_dirs"`
	}
	var plan struct {
		Version    int     `json:"version"`
		Partitions []entry `json:"partitions"`
	}
	plan.Version = 1
	for _, p := range md.Topics[topic].Partitions.Sorted() {
		e := entry{Topic: topic, Partition: p.Partition, Replicas: p.Replicas}
		for _, r := range p.Replicas {
			if r == 1 {
				e.LogDirs = append(e.LogDirs, other[before[p.Partition]])
			} else {
				e.LogDirs = append(e.LogDirs, "any")
			}
		}
		plan.Partitions = append(plan.Partitions, e)
	}
	raw, err := json.Marshal(plan)
	require.NoError(t, err)
	planFile := filepath.Join(t.TempDir(), "plan.json")
	require.NoError(t, os.WriteFile(planFile, raw, 0o644))
	out, err := reassign("--bootstrap-server", c.addr(2), "--reassignment-json-file", planFile, "--execute")
	require.NoError(t, err, out)
	t.Logf("--execute:\n%s", out)
	require.Eventually(t, func() bool {
		out, err = reassign("--bootstrap-server", c.addr(2), "--reassignment-json-file", planFile, "--verify")
		return err == nil && strings.Count(out, "completed successfully") == partitions && !strings.Contains(out, "still in progress")
	}, 60*time.Second, time.Second, "--verify:\n%s", out)
	t.Logf("--verify:\n%s", out)
	after := where()
	for p := range int32(partitions) {
		require.Equal(t, other[before[p]], after[p], "partition %d on broker 1", p)
	}
	acks.waitCount(t, acks.count()+300, 60*time.Second, "after the moves")
	stop()
	got, fails := acks.snapshot()
	require.Empty(t, fails, "the producer gave up on records")
	verifyAcked(t, readAll(t, ctx, c.seeds(), adm, topic, partitions), got, func(a, b string) bool { return a < b })
}

// twoLogDirsEach gives every node of c two log dirs (log.dirs "a,b") and
// returns them by node id.
func twoLogDirsEach(t *testing.T, c *procCluster) map[int32][2]string {
	root := t.TempDir()
	dirs := map[int32][2]string{}
	for id, p := range c.procs {
		dirs[id] = [2]string{filepath.Join(root, fmt.Sprintf("n%d-a", id)), filepath.Join(root, fmt.Sprintf("n%d-b", id))}
		p.env = append(p.env, "KAFKA_LOG_DIRS="+dirs[id][0]+","+dirs[id][1])
	}
	return dirs
}
