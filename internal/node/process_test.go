package node_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/internal/spooltest"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	require.NoError(t, err)
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// commonPort returns a port free on every given loopback address.
func commonPort(t *testing.T, hosts []string) int {
	t.Helper()
	for range 50 {
		port := freePort(t)
		ok := true
		for _, h := range hosts {
			ln, err := net.Listen("tcp", net.JoinHostPort(h, strconv.Itoa(port)))
			if err != nil {
				ok = false
				break
			}
			ln.Close()
		}
		if ok {
			return port
		}
	}
	t.Fatal("no port free on every loopback address")
	return 0
}

// spoolProcess is one `spool serve` of a process cluster.
type spoolProcess struct {
	id   int32
	host string
	env  []string
	log  string
	cmd  *exec.Cmd
}

func (p *spoolProcess) start(t *testing.T, bin string) {
	t.Helper()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(t, err)
	defer f.Close()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = f, f
	require.NoError(t, cmd.Start())
	p.cmd = cmd
}

func (p *spoolProcess) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(sig))
	if sig == syscall.SIGKILL || sig == syscall.SIGTERM {
		_ = p.cmd.Wait()
		p.cmd = nil
	}
}

// describeQuorum asks a controller listener who leads the metadata quorum.
func describeQuorum(addr string) (leader int32, err error) {
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return -1, err
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	id := "test"
	hdr := protocol.RequestHeader{RequestAPIKey: protocol.KeyDescribeQuorum, RequestAPIVersion: 2, CorrelationID: 1, ClientID: &id}
	req := &protocol.DescribeQuorumRequest{Topics: []protocol.DescribeQuorumRequestTopicData{{TopicName: "__cluster_metadata", Partitions: []protocol.DescribeQuorumRequestPartitionData{{}}}}}
	frame, err := protocol.AppendRequest(nil, &hdr, req)
	if err != nil {
		return -1, err
	}
	if _, err := nc.Write(frame); err != nil {
		return -1, err
	}
	b, err := protocol.ReadFrame(nc, 1<<20, nil)
	if err != nil {
		return -1, err
	}
	_, r, err := protocol.DecodeResponse(b, protocol.KeyDescribeQuorum, 2)
	if err != nil {
		return -1, err
	}
	resp := r.(*protocol.DescribeQuorumResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return -1, fmt.Errorf("malformed DescribeQuorum response")
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		return int32(p.LeaderID), fmt.Errorf("%s (leader %d)", errcode.Name(p.ErrorCode), p.LeaderID)
	}
	return int32(p.LeaderID), nil
}

// runTool runs a Kafka command-line tool and returns its stdout.
func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s %s\nstdout:\n%s\nstderr:\n%s", filepath.Base(name), strings.Join(args, " "), out, stderr.String())
	return string(out)
}

// untilTool repeats ok, a check that runs a Kafka tool, until it holds,
// failing after tries attempts. Each attempt is a JVM run of seconds (tens
// at load 70), so the bound is on attempts: require.Eventually's
// wall-clock bound would give up on a run still in progress.
func untilTool(t *testing.T, tries int, what string, ok func() bool) {
	t.Helper()
	for i := 1; !ok(); i++ {
		require.Less(t, i, tries, what)
	}
}

var describeLine = regexp.MustCompile(`Partition: (\d+)\s+Leader: (-?\d+)\s+Replicas: ([\d,]+)\s+Isr: ([\d,]*)`)

// TestClusterProcesses runs three `spool serve` processes configured with
// the KAFKA_* variables of Kafka's 3-node combined docker-compose example
// (cluster/combined/plaintext), each node on its own loopback address with
// the same ports, as containers would have. Kafka's own kafka-topics tool
// creates a replication-factor-3 topic through one node and describes it
// through another; then the active controller gets SIGKILL and another
// takes over, and the killed node rejoins after a restart.
func TestClusterProcesses(t *testing.T) {
	topicsTool := filepath.Join(repoRoot(t), "test", "compat", "bin", "kafka-topics")
	_, err := os.Stat(topicsTool)
	require.NoError(t, err, "kafka-topics is not installed: run make test-deps (test/compat/install.sh)")
	home, err := os.UserHomeDir()
	require.NoError(t, err)
	cache := os.Getenv("COMPAT_CACHE")
	if cache == "" {
		cache = filepath.Join(home, ".cache", "spool-compat")
	}
	_, err = os.Stat(filepath.Join(cache, "java", "lib-4.3.1", "kafka-clients-4.3.1.jar"))
	require.NoError(t, err, "Kafka 4.3.1 jars are not installed: run make test-deps (test/compat/install.sh)")
	bin := spooltest.Build(t)

	hosts := []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}
	internalPort, controllerPort, hostPort := commonPort(t, hosts), commonPort(t, hosts), commonPort(t, hosts)
	t.Logf("ports: PLAINTEXT %d, CONTROLLER %d, PLAINTEXT_HOST %d", internalPort, controllerPort, hostPort)
	var voters []string
	for i, h := range hosts {
		voters = append(voters, fmt.Sprintf("%d@%s:%d", i+1, h, controllerPort))
	}
	procs := make([]*spoolProcess, 3)
	logDir := t.TempDir()
	for i, h := range hosts {
		procs[i] = &spoolProcess{id: int32(i + 1), host: h, log: filepath.Join(logDir, fmt.Sprintf("node%d.log", i+1)), env: []string{
			fmt.Sprintf("KAFKA_NODE_ID=%d", i+1),
			"KAFKA_PROCESS_ROLES=broker,controller",
			"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,PLAINTEXT_HOST:PLAINTEXT",
			"KAFKA_CONTROLLER_QUORUM_VOTERS=" + strings.Join(voters, ","),
			fmt.Sprintf("KAFKA_LISTENERS=PLAINTEXT://%s:%d,CONTROLLER://%s:%d,PLAINTEXT_HOST://%s:%d", h, internalPort, h, controllerPort, h, hostPort),
			"KAFKA_INTER_BROKER_LISTENER_NAME=PLAINTEXT",
			fmt.Sprintf("KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://%s:%d,PLAINTEXT_HOST://%s:%d", h, internalPort, h, hostPort),
			"KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER",
			"CLUSTER_ID=4L6g3nShT-eMCtK--X86sw",
			"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=1",
			"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS=0",
			"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR=1",
			"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR=1",
			"KAFKA_LOG_DIRS=" + t.TempDir(),
		}}
	}
	t.Cleanup(func() {
		for _, p := range procs {
			if p.cmd != nil {
				_ = p.cmd.Process.Kill()
				_ = p.cmd.Wait()
			}
		}
		if t.Failed() {
			for _, p := range procs {
				b, _ := os.ReadFile(p.log)
				t.Logf("node %d log:\n%s", p.id, lastLines(string(b), 60))
			}
		}
	})
	hostAddr := func(p *spoolProcess) string { return net.JoinHostPort(p.host, strconv.Itoa(hostPort)) }
	ctrlAddr := func(p *spoolProcess) string { return net.JoinHostPort(p.host, strconv.Itoa(controllerPort)) }

	// Start in an order where the first node waits for the others.
	for _, i := range []int{2, 0, 1} {
		procs[i].start(t, bin)
	}
	// Every running node lists want live brokers (asked directly, so no
	// client-side metadata cache is involved).
	waitBrokers := func(want int) {
		t.Helper()
		require.Eventually(t, func() bool {
			for _, p := range procs {
				if p.cmd == nil {
					continue
				}
				view, err := brokerIDs(hostAddr(p))
				if err != nil || len(view) != want {
					return false
				}
			}
			return true
		}, 60*time.Second, 100*time.Millisecond, "the cluster does not list %d live brokers", want)
	}
	waitBrokers(3)

	// kafka-topics creates through node 2 and describes through node 3.
	runTool(t, topicsTool, "--bootstrap-server", hostAddr(procs[1]), "--create", "--topic", "rf3", "--partitions", "6", "--replication-factor", "3")
	var desc string
	untilTool(t, 20, "node 3 describes the six partitions of rf3", func() bool {
		desc = runTool(t, topicsTool, "--bootstrap-server", hostAddr(procs[2]), "--describe", "--topic", "rf3")
		return len(describeLine.FindAllStringSubmatch(desc, -1)) == 6
	})
	t.Logf("kafka-topics --describe:\n%s", desc)
	require.Contains(t, desc, "ReplicationFactor: 3")
	leaders := map[string]int{}
	for _, m := range describeLine.FindAllStringSubmatch(desc, -1) {
		replicas := strings.Split(m[3], ",")
		require.Len(t, replicas, 3, m[0])
		require.ElementsMatch(t, []string{"1", "2", "3"}, replicas, m[0])
		require.Equal(t, replicas[0], m[2], "the preferred replica leads: %s", m[0])
		leaders[m[2]]++
	}
	require.Equal(t, map[string]int{"1": 2, "2": 2, "3": 2}, leaders, "leaders balanced")

	// SIGKILL the active controller: another voter takes over.
	var old int32 = -1
	require.Eventually(t, func() bool {
		id, err := describeQuorum(ctrlAddr(procs[0]))
		if err != nil && id < 0 {
			return false
		}
		old = id
		return id >= 1 && id <= 3
	}, 30*time.Second, 50*time.Millisecond)
	t.Logf("SIGKILL node %d, the active controller", old)
	killed := time.Now()
	procs[old-1].signal(t, syscall.SIGKILL)
	var next int32
	require.Eventually(t, func() bool {
		for _, p := range procs {
			if p.id == old {
				continue
			}
			if id, err := describeQuorum(ctrlAddr(p)); err == nil && id != old {
				next = id
				return true
			}
		}
		return false
	}, 30*time.Second, 50*time.Millisecond)
	t.Logf("node %d leads the quorum %v after the kill", next, time.Since(killed))
	var survivor *spoolProcess
	for _, p := range procs {
		if p.id != old && p.id != next {
			survivor = p // a node that is not the controller: writes through it are forwarded
		}
	}
	runTool(t, topicsTool, "--bootstrap-server", hostAddr(survivor), "--create", "--topic", "after-kill", "--partitions", "2", "--replication-factor", "2")
	waitBrokers(2) // the killed broker is fenced when its session runs out
	procs[old-1].start(t, bin)
	waitBrokers(3)
	untilTool(t, 20, "the restarted node lists after-kill and rf3", func() bool {
		out := runTool(t, topicsTool, "--bootstrap-server", hostAddr(procs[old-1]), "--list")
		return strings.Contains(out, "after-kill") && strings.Contains(out, "rf3")
	})

	// SIGTERM shuts a node down cleanly (controlled shutdown first).
	procs[next-1].signal(t, syscall.SIGTERM)
	b, err := os.ReadFile(procs[next-1].log)
	require.NoError(t, err)
	require.Contains(t, string(b), "controlled shutdown complete")
	require.Contains(t, string(b), "shutdown complete")
}

// brokerIDs asks one broker which brokers are live.
func brokerIDs(addr string) ([]int32, error) {
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	id := "test"
	hdr := protocol.RequestHeader{RequestAPIKey: protocol.KeyMetadata, RequestAPIVersion: 12, CorrelationID: 1, ClientID: &id}
	frame, err := protocol.AppendRequest(nil, &hdr, &protocol.MetadataRequest{Topics: []protocol.MetadataRequestTopic{}})
	if err != nil {
		return nil, err
	}
	if _, err := nc.Write(frame); err != nil {
		return nil, err
	}
	b, err := protocol.ReadFrame(nc, 1<<24, nil)
	if err != nil {
		return nil, err
	}
	_, r, err := protocol.DecodeResponse(b, protocol.KeyMetadata, 12)
	if err != nil {
		return nil, err
	}
	var ids []int32
	for _, br := range r.(*protocol.MetadataResponse).Brokers {
		ids = append(ids, int32(br.NodeID))
	}
	return ids, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
