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
	root := t.TempDir()
	dirs := map[int32][2]string{}
	for id, p := range c.procs {
		dirs[id] = [2]string{filepath.Join(root, fmt.Sprintf("n%d-a", id)), filepath.Join(root, fmt.Sprintf("n%d-b", id))}
		p.env = append(p.env, "KAFKA_LOG_DIRS="+dirs[id][0]+","+dirs[id][1])
	}
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
