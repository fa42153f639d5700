package server

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spool-broker/spool/internal/spooltest"
	"github.com/spool-broker/spool/protocol/records"
)

// processEnv configures a single-node spool serve subprocess on fresh
// loopback ports with its data in dataDir; extra adds KAFKA_* variables.
func processEnv(t *testing.T, dataDir string, extra ...string) (addr string, env []string) {
	port, cport := freePort(t), freePort(t)
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	env = append([]string{
		fmt.Sprintf("KAFKA_LISTENERS=PLAINTEXT://%s,CONTROLLER://127.0.0.1:%d", addr, cport),
		fmt.Sprintf("KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://%s", addr),
		"KAFKA_NODE_ID=1", "KAFKA_PROCESS_ROLES=broker,controller",
		"KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER",
		fmt.Sprintf("KAFKA_CONTROLLER_QUORUM_VOTERS=1@127.0.0.1:%d", cport),
		"KAFKA_LOG_DIRS=" + dataDir,
		"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=1", "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR=1", "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR=1",
	}, extra...)
	return addr, env
}

// process is a spool serve subprocess.
type process struct {
	cmd  *exec.Cmd
	addr string
	log  string
}

func startProcess(t *testing.T, bin string, env []string, addr, logPath string) *process {
	t.Helper()
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(t, err)
	defer f.Close()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	require.NoError(t, cmd.Start())
	p := &process{cmd: cmd, addr: addr, log: logPath}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	listening := pollUntil(30*time.Second, 50*time.Millisecond, func() bool {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	if !listening {
		logs, _ := os.ReadFile(logPath)
		t.Fatalf("spool did not start listening on %s:\n%s", addr, logs)
	}
	return p
}

// TestKillDuringProduce SIGKILLs the broker process in the middle of a
// produce loop with log.flush.interval.messages=1. After a restart every
// acknowledged record is readable, in order, with no gap before it, and no
// batch served fails its CRC.
func TestKillDuringProduce(t *testing.T) {
	bin := spooltest.Build(t)
	dir := t.TempDir()
	addr, env := processEnv(t, filepath.Join(dir, "data"), "KAFKA_LOG_FLUSH_INTERVAL_MESSAGES=1")
	logPath := filepath.Join(dir, "spool.log")
	p := startProcess(t, bin, env, addr, logPath)
	createTopic(t, addr, "crash", 1, nil)

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("crash"),
		kgo.DisableIdempotentWrite(), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MaxBufferedRecords(64), kgo.ProducerLinger(0), kgo.RecordRetries(0),
		kgo.RecordDeliveryTimeout(5*time.Second))
	require.NoError(t, err)
	var mu sync.Mutex
	acked := map[int]bool{}
	maxAcked := -1
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			cl.Produce(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}, func(r *kgo.Record, err error) {
				if err != nil {
					return
				}
				v, _ := strconv.Atoi(string(r.Value))
				mu.Lock()
				acked[v] = true
				maxAcked = max(maxAcked, v)
				mu.Unlock()
			})
		}
	}()
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) > 2000 }, 30*time.Second, 10*time.Millisecond)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	_ = p.cmd.Wait()
	cancel()
	wg.Wait()
	cl.Close()
	mu.Lock()
	nAcked := len(acked)
	mu.Unlock()
	t.Logf("killed after %d acknowledged records (highest %d)", nAcked, maxAcked)

	startProcess(t, bin, env, addr, logPath)
	// Read everything back with raw fetches, verifying every batch's CRC.
	reader := newClient(t, addr)
	var values []int
	offset := int64(0)
	rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer rcancel()
	for {
		req := fetchRequest(t, reader, "crash", offset, 0)
		resp, err := req.RequestWith(rctx, reader)
		require.NoError(t, err)
		pr := resp.Topics[0].Partitions[0]
		require.EqualValues(t, 0, pr.ErrorCode)
		if len(pr.RecordBatches) == 0 {
			break
		}
		for batch, err := range records.Batches(pr.RecordBatches) {
			require.NoError(t, err)
			require.NoError(t, records.VerifyCRC(batch), "a corrupt batch was served")
			require.NoError(t, records.ForEachRecord(batch, 1<<26, func(r *records.Record) error {
				require.Equal(t, offset, r.Offset, "offsets are contiguous")
				v, err := strconv.Atoi(string(r.Value))
				require.NoError(t, err)
				values = append(values, v)
				offset++
				return nil
			}))
		}
	}
	// Records were produced in order on one partition: what survives must
	// be exactly 0, 1, 2, ... k with every acknowledged record included.
	for i, v := range values {
		require.Equal(t, i, v, "record %d holds value %d: a gap or reordering survived the crash", i, v)
	}
	require.GreaterOrEqual(t, len(values)-1, maxAcked, "acknowledged record %d lost (only %d survived)", maxAcked, len(values))
	logs, _ := os.ReadFile(logPath)
	require.NotContains(t, string(logs), `"level":"panic"`)
}

// TestSigtermShutsDownCleanly sends SIGTERM to a serving broker: it exits 0,
// leaves the clean-shutdown marker, and the next start recovers nothing and
// serves everything that was written.
func TestSigtermShutsDownCleanly(t *testing.T) {
	bin := spooltest.Build(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	addr, env := processEnv(t, filepath.Join(dir, "data"))
	logPath := filepath.Join(dir, "spool.log")
	p := startProcess(t, bin, env, addr, logPath)
	createTopic(t, addr, "term", 2, nil)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("term"))
	require.NoError(t, err)
	var recs []*kgo.Record
	for i := 0; i < 1000; i++ {
		recs = append(recs, &kgo.Record{Value: []byte(strconv.Itoa(i))})
	}
	require.NoError(t, cl.ProduceSync(context.Background(), recs...).FirstErr())
	cl.Close()

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	waitErr := make(chan error, 1)
	go func() { waitErr <- p.cmd.Wait() }()
	select {
	case err := <-waitErr:
		require.NoError(t, err, "spool must exit 0 on SIGTERM")
	case <-time.After(30 * time.Second):
		t.Fatal("spool did not exit within 30 s of SIGTERM")
	}
	_, err = os.Stat(filepath.Join(data, ".kafka_cleanshutdown"))
	require.NoError(t, err, "a clean shutdown leaves the marker")

	startProcess(t, bin, env, addr, logPath)
	got := consumeAll(t, addr, "term", 1000)
	require.Len(t, got, 1000)
	logs, err := os.ReadFile(logPath)
	require.NoError(t, err)
	require.Contains(t, string(logs), `"clean_shutdown":true`, "the restart trusts the clean shutdown and rescans nothing")
}
