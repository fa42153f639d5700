package node_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestFullLogDirRecoversProcesses: three `spool serve` processes with two
// log dirs each take an acks=all producer's writes; broker 2's second dir
// is a small tmpfs of its own. Another writer fills that file system: the
// broker's next write there fails with ENOSPC and the dir goes offline
// (its partitions' leadership and ISR membership move to the other
// brokers) while the broker keeps serving its first dir. Then the filler
// is deleted: without a restart the dir comes back online, broker 2 hosts
// its partitions again, they catch up and rejoin every ISR, the gauges say
// no dir is offline, and no acknowledged record is lost. Needs root (it
// mounts the tmpfs).
func TestFullLogDirRecoversProcesses(t *testing.T) {
	c := newProcCluster(t, []procSpec{{1, "broker,controller"}, {2, "broker,controller"}, {3, "broker,controller"}},
		"KAFKA_REPLICA_HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS=200")
	const victimID = int32(2)
	dirs := twoLogDirsEach(t, c)
	small := dirs[victimID][1]
	require.NoError(t, os.MkdirAll(small, 0o755))
	require.NoError(t, syscall.Mount("tmpfs", small, "tmpfs", 0, "size=16m"), "mounting a tmpfs needs root")
	t.Cleanup(func() { _ = syscall.Unmount(small, syscall.MNT_DETACH) })
	metricsAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	c.procs[victimID].env = append(c.procs[victimID].env, "SPOOL_HTTP_ADDR="+metricsAddr,
		"KAFKA_SPOOL_LOG_DIR_FULL_CHECK_INTERVAL_MS=200", "KAFKA_SPOOL_LOG_DIR_FULL_RECOVERY_BYTES=4194304")
	c.startAll()
	ctx := context.Background()
	adm := c.admin()
	const topic, partitions = "full", 6
	c.createTopic(ctx, adm, topic, partitions)
	acks, stop := produceFranz(t, ctx, c.seeds(), topic, partitions)
	acks.waitCount(t, 300, 60*time.Second, "before the disk fills")

	// The partitions broker 2 keeps on the small file system.
	var inSmall []int32
	entries, err := os.ReadDir(small)
	require.NoError(t, err)
	for _, e := range entries {
		if p, ok := strings.CutPrefix(e.Name(), topic+"-"); ok && e.IsDir() {
			n, err := strconv.Atoi(p)
			require.NoError(t, err)
			inSmall = append(inSmall, int32(n))
		}
	}
	require.Len(t, inSmall, partitions/2, "half the victim's replicas are on the small file system")

	// Fill it.
	filler := filepath.Join(small, "filler")
	f, err := os.Create(filler)
	require.NoError(t, err)
	chunk := make([]byte, 256<<10)
	for {
		if _, err = f.Write(chunk); err != nil {
			break
		}
	}
	require.True(t, errors.Is(err, syscall.ENOSPC), "%v", err)
	require.NoError(t, f.Close())
	filled := time.Now()
	require.Eventually(t, func() bool {
		st := describe(ctx, adm, topic)
		if len(st) != partitions {
			return false
		}
		for _, p := range inSmall {
			if s := st[p]; s.leader < 0 || s.leader == victimID || containsInt32(s.isr, victimID) {
				return false
			}
		}
		return true
	}, 30*time.Second, 50*time.Millisecond, "the full dir's partitions move off broker %d", victimID)
	t.Logf("leadership and ISR moved %v after the file system filled", time.Since(filled))
	require.Equal(t, "1", scrapeGauge(t, metricsAddr, "kafka_log_logmanager_offlinelogdirectorycount"))
	acks.waitCount(t, acks.count()+300, 60*time.Second, "while the dir is full")
	require.Nil(t, c.procs[victimID].cmd.ProcessState, "the broker keeps running")

	// Space returns.
	require.NoError(t, os.Remove(filler))
	freed := time.Now()
	c.waitInSync(ctx, adm, topic, partitions, []int32{1, 2, 3}, 60*time.Second)
	t.Logf("every ISR was full again %v after space returned", time.Since(freed))
	require.Equal(t, "0", scrapeGauge(t, metricsAddr, "kafka_log_logmanager_offlinelogdirectorycount"))
	require.Equal(t, "0", scrapeGauge(t, metricsAddr, "kafka_server_replicamanager_offlinereplicacount"))
	entries, err = os.ReadDir(small)
	require.NoError(t, err)
	var back []int32
	for _, e := range entries {
		if p, ok := strings.CutPrefix(e.Name(), topic+"-"); ok {
			n, _ := strconv.Atoi(p)
			back = append(back, int32(n))
		}
	}
	slices.Sort(back)
	slices.Sort(inSmall)
	require.Equal(t, inSmall, back, "the partitions stay on the dir that came back")
	acks.waitCount(t, acks.count()+300, 60*time.Second, "after the dir came back")

	stop()
	got, fails := acks.snapshot()
	require.Empty(t, fails, "the producer gave up on records")
	verifyAcked(t, readAll(t, ctx, c.seeds(), adm, topic, partitions), got, func(a, b string) bool { return a < b })
}
