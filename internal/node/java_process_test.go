package node_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
)

// kafkaTool is the path of one of Kafka 4.3.1's command-line tools as
// test/compat/install.sh sets them up (bin/<tool> runs the tool's main class
// from the cached Kafka jars); the test fails when they are missing.
func kafkaTool(t *testing.T, name string) string {
	t.Helper()
	tool := filepath.Join(repoRoot(t), "test", "compat", "bin", name)
	_, err := os.Stat(tool)
	require.NoError(t, err, "%s is not installed: run make test-deps (test/compat/install.sh)", name)
	home, err := os.UserHomeDir()
	require.NoError(t, err)
	cache := os.Getenv("COMPAT_CACHE")
	if cache == "" {
		cache = filepath.Join(home, ".cache", "spool-compat")
	}
	_, err = os.Stat(filepath.Join(cache, "java", "lib-4.3.1", "kafka-tools-4.3.1.jar"))
	require.NoError(t, err, "Kafka 4.3.1 jars are not installed: run make test-deps (test/compat/install.sh)")
	return tool
}

// verifiableEvent is one JSON line of Kafka's VerifiableProducer or
// VerifiableConsumer (the tools Kafka's own system tests drive).
type verifiableEvent struct {
	Name      string `json:"name"`
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Value     string `json:"value"`
	Exception string `json:"exception"`
	Message   string `json:"message"`
	Count     int    `json:"count"`
}

// javaTool is a running Kafka tool whose stdout is parsed line by line.
type javaTool struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	events []verifiableEvent
	stderr strings.Builder
	done   chan struct{}
}

func startJavaTool(t *testing.T, tool string, args ...string) *javaTool {
	t.Helper()
	j := &javaTool{cmd: exec.Command(tool, args...), done: make(chan struct{})}
	j.cmd.Stderr = &j.stderr
	// The tool is a shell script that runs java as its child: signals go
	// to the whole process group.
	j.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := j.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, j.cmd.Start())
	go func() {
		defer close(j.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var e verifiableEvent
			if json.Unmarshal(sc.Bytes(), &e) != nil || e.Name == "" {
				continue // log4j lines
			}
			j.mu.Lock()
			j.events = append(j.events, e)
			j.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-j.cmd.Process.Pid, syscall.SIGKILL)
		<-j.done
		_ = j.cmd.Wait()
		if t.Failed() {
			t.Logf("%s stderr:\n%s", filepath.Base(tool), lastLines(j.stderr.String(), 30))
		}
	})
	return j
}

// count is how many events of the named kind the tool printed.
func (j *javaTool) count(name string) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	n := 0
	for _, e := range j.events {
		if e.Name == name {
			n++
		}
	}
	return n
}

func (j *javaTool) all(name string) []verifiableEvent {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []verifiableEvent
	for _, e := range j.events {
		if e.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// stop sends SIGTERM (the tools print their closing events from a
// shutdown hook) and waits for the exit and the last line.
func (j *javaTool) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, syscall.Kill(-j.cmd.Process.Pid, syscall.SIGTERM))
	select {
	case <-j.done:
	case <-time.After(60 * time.Second):
		t.Fatal("the Java tool did not exit within 60 s of SIGTERM")
	}
}

// TestJavaClientKillLeader is Kafka's system-test pattern with Kafka's
// own tools against three `spool serve` processes: VerifiableProducer
// (the Java client, acks=all, idempotent by default) writes to a topic with
// replication factor 3 and min.insync.replicas=2 while the leader of
// partition 0 gets SIGKILL and is restarted; then VerifiableConsumer reads
// the topic. Every record the producer reported acknowledged
// (producer_send_success) is read back exactly once, at its offset, in
// order per partition, and the killed node rejoins every ISR.
func TestJavaClientKillLeader(t *testing.T) {
	producerTool := kafkaTool(t, "kafka-verifiable-producer")
	consumerTool := kafkaTool(t, "kafka-verifiable-consumer")
	c := newProcCluster(t, []procSpec{{1, "broker,controller"}, {2, "broker,controller"}, {3, "broker,controller"}})
	c.startAll()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	adm := c.admin()
	const topic, partitions = "java-acked", 3
	c.createTopic(ctx, adm, topic, partitions)
	bootstrap := strings.Join(c.seeds(), ",")

	cfg := filepath.Join(t.TempDir(), "producer.properties")
	require.NoError(t, os.WriteFile(cfg, []byte("delivery.timeout.ms=120000\nlinger.ms=0\n"), 0o644))
	prod := startJavaTool(t, producerTool, "--bootstrap-server", bootstrap, "--topic", topic,
		"--acks", "-1", "--throughput", "1000", "--max-messages", "-1", "--command-config", cfg)
	waitAcks := func(n int, what string) {
		t.Helper()
		require.Eventually(t, func() bool { return prod.count("producer_send_success") >= n }, 90*time.Second, 20*time.Millisecond,
			"VerifiableProducer acknowledgements %s", what)
	}
	waitAcks(500, "before the kill")

	victimID := describe(ctx, adm, topic)[0].leader
	victim := c.procs[victimID]
	n := prod.count("producer_send_success")
	t.Logf("SIGKILL node %d, leader of partition 0 (%d acknowledged)", victimID, n)
	killed := time.Now()
	victim.signal(t, syscall.SIGKILL)
	others := slices.DeleteFunc(c.brokers(), func(id int32) bool { return id == victimID })
	c.waitInSync(ctx, adm, topic, partitions, others, 30*time.Second)
	t.Logf("node %d out of every ISR %v after the kill", victimID, time.Since(killed))
	waitAcks(n+500, "after the kill")
	t.Logf("500 more acknowledgements %v after the kill", time.Since(killed))
	victim.start(t, c.bin)
	c.waitInSync(ctx, adm, topic, partitions, c.brokers(), 90*time.Second)
	t.Logf("node %d back in every ISR %v after the kill", victimID, time.Since(killed))
	waitAcks(prod.count("producer_send_success")+500, "after the restart")
	prod.stop(t)
	acked := prod.all("producer_send_success")
	errs := prod.all("producer_send_error")
	t.Logf("VerifiableProducer: %d acknowledged, %d send errors", len(acked), len(errs))
	for i, e := range errs {
		if i < 5 {
			t.Logf("send error: %s %s", e.Exception, e.Message)
		}
	}

	// VerifiableConsumer reads everything in the log (it stops by itself
	// after --max-messages).
	ends, err := adm.ListEndOffsets(ctx, topic)
	require.NoError(t, err)
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	cons := startJavaTool(t, consumerTool, "--bootstrap-server", bootstrap, "--topic", topic, "--group-id", "verify",
		"--reset-policy", "earliest", "--verbose", "--max-messages", strconv.FormatInt(total, 10))
	select {
	case <-cons.done:
	case <-time.After(120 * time.Second):
		t.Fatalf("VerifiableConsumer read %d of %d records in 120 s", cons.count("record_data"), total)
	}
	logs := map[int32][]ackedRecord{}
	for _, e := range cons.all("record_data") {
		require.Equal(t, topic, e.Topic)
		logs[e.Partition] = append(logs[e.Partition], ackedRecord{partition: e.Partition, offset: e.Offset, value: e.Value})
	}
	for p := range logs {
		slices.SortStableFunc(logs[p], func(a, b ackedRecord) int { return int(a.offset - b.offset) })
	}
	var got []ackedRecord
	for _, e := range acked {
		require.Equal(t, topic, e.Topic)
		got = append(got, ackedRecord{partition: e.Partition, offset: e.Offset, value: e.Value})
	}
	// VerifiableProducer sends increasing integers.
	verifyAcked(t, logs, got, func(a, b string) bool {
		x, err1 := strconv.Atoi(a)
		y, err2 := strconv.Atoi(b)
		return err1 == nil && err2 == nil && x < y
	})
	require.Equal(t, int(total), len(cons.all("record_data")), "VerifiableConsumer records")
}
