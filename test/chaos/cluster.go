package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	// clusterID is both clusters' id (a Kafka Uuid in base64url).
	clusterID      = "Ch4osKk3lLQ8yE7vS0a1bQ"
	clientPort     = 49092
	controllerPort = 49093
)

// node is one `spool serve` process in its own namespace. Its log file and
// log dir survive restarts.
type node struct {
	id      int
	dir     string // KAFKA_LOG_DIRS
	metaDir string // metadata.log.dir; "" for the first log dir
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has been reaped
}

// cluster owns the node processes. The mutex guards the nodes' cmd fields:
// the nemesis restarts nodes while the final cleanup may kill them.
type cluster struct {
	bin string
	// kind is "spool" or "kafka" (the reference: Apache Kafka 4.3.1 from
	// test/compat's jars, each node started by java_bg with a
	// server.properties from server_properties, as the compat kafka3 column).
	kind string
	repo string // for kafka: test/compat/lib/env.sh
	// heartbeatMs, sessionMs: broker.heartbeat.interval.ms and
	// broker.session.timeout.ms, the same for both kinds.
	heartbeatMs, sessionMs string
	out                    string
	nw                     *network
	env                    []string // common to every node
	mu                     sync.Mutex
	node                   []*node // index id-1
}

// newCluster lays out the nodes' dirs: under outDir, or on d's filesystems
// when d is not nil (d must be set up).
func newCluster(kind, repo, bin, outDir string, nw *network, d *disks, heartbeat, session time.Duration) (*cluster, error) {
	var voters []string
	for i := 1; i <= nw.nodes; i++ {
		voters = append(voters, fmt.Sprintf("%d@%s:%d", i, nw.host(i), controllerPort))
	}
	c := &cluster{heartbeatMs: fmt.Sprint(heartbeat.Milliseconds()), sessionMs: fmt.Sprint(session.Milliseconds()), kind: kind, repo: repo, out: outDir, bin: bin, nw: nw, env: []string{
		"KAFKA_PROCESS_ROLES=broker,controller",
		"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
		"KAFKA_CONTROLLER_QUORUM_VOTERS=" + strings.Join(voters, ","),
		"KAFKA_INTER_BROKER_LISTENER_NAME=PLAINTEXT",
		"KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER",
		"CLUSTER_ID=" + clusterID,
		"KAFKA_DEFAULT_REPLICATION_FACTOR=3",
		"KAFKA_MIN_INSYNC_REPLICAS=2",
		"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=3",
		"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR=3",
		"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR=2",
		"KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE=false",
		// Short liveness timeouts so that a fault is noticed within a
		// few seconds, as in internal/node's process tests.
		fmt.Sprintf("KAFKA_BROKER_HEARTBEAT_INTERVAL_MS=%d", heartbeat.Milliseconds()),
		fmt.Sprintf("KAFKA_BROKER_SESSION_TIMEOUT_MS=%d", session.Milliseconds()),
	}}
	for i := 1; i <= nw.nodes; i++ {
		n := &node{id: i, dir: filepath.Join(outDir, fmt.Sprintf("data%d", i)), logPath: filepath.Join(outDir, fmt.Sprintf("node%d.log", i))}
		if d != nil {
			n.dir, n.metaDir = d.dataDir(i), d.metaDir(i)
		}
		if err := os.MkdirAll(n.dir, 0o755); err != nil {
			return nil, err
		}
		c.node = append(c.node, n)
	}
	return c, nil
}

// kafkaOverrides are appended to test/compat's server.properties so that
// the reference runs with the same liveness timeouts and settings as Spool's
// nodes (c.env).
var kafkaOverrides = []string{
	"unclean.leader.election.enable=false",
	"auto.create.topics.enable=false",
	"offsets.topic.num.partitions=50",
	"transaction.state.log.num.partitions=50",
}

// kafkaProps returns node i's server.properties path for the reference
// cluster, writing it (and formatting the node's log dir) on the first call.
func (c *cluster) kafkaProps(i int) (string, error) {
	n := c.node[i-1]
	props := filepath.Join(c.out, fmt.Sprintf("kafka%d.properties", i))
	if _, err := os.Stat(props); err == nil {
		return props, nil
	}
	var voters []string
	for j := 1; j <= len(c.node); j++ {
		voters = append(voters, fmt.Sprintf("%d@%s:%d", j, c.nw.host(j), controllerPort))
	}
	tmp := filepath.Join(c.out, fmt.Sprintf("kafka%d", i))
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return "", err
	}
	// server_properties writes 127.0.0.1 listeners and log.dirs=DIR/data:
	// the node's own address and log dir replace them.
	script := fmt.Sprintf(`source %q && server_properties %q %d %d %d %q`,
		filepath.Join(c.repo, "test/compat/lib/env.sh"), tmp, clientPort, controllerPort, i, strings.Join(voters, ","))
	if out, err := exec.Command("bash", "-c", script).CombinedOutput(); err != nil {
		return "", fmt.Errorf("server_properties: %w: %s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(tmp, "server.properties"))
	if err != nil {
		return "", err
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.HasPrefix(l, "log.dirs=") {
			l = "log.dirs=" + n.dir
			if n.metaDir != "" {
				lines = append(lines, "metadata.log.dir="+n.metaDir)
			}
		}
		if strings.HasPrefix(l, "controller.quorum.voters=") {
			lines = append(lines, l)
			continue
		}
		lines = append(lines, strings.ReplaceAll(l, "127.0.0.1", c.nw.host(i)))
	}
	lines = append(lines, kafkaOverrides...)
	lines = append(lines, "broker.heartbeat.interval.ms="+c.heartbeatMs, "broker.session.timeout.ms="+c.sessionMs)
	if err := os.WriteFile(props, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return "", err
	}
	format := fmt.Sprintf(`source %q && java_tool kafka.tools.StorageTool format -t %q -c %q`,
		filepath.Join(c.repo, "test/compat/lib/env.sh"), clusterID, props)
	if out, err := exec.Command("bash", "-c", format).CombinedOutput(); err != nil {
		return "", fmt.Errorf("kafka storage format: %w: %s", err, out)
	}
	return props, nil
}

// command is the process of node i, run in its namespace.
func (c *cluster) command(i int) (*exec.Cmd, error) {
	if c.kind == "kafka" {
		props, err := c.kafkaProps(i)
		if err != nil {
			return nil, err
		}
		// java_bg execs java in place, so the pid is the JVM's.
		script := fmt.Sprintf(`source %q && KAFKA_HEAP="-Xmx768m -Xms256m" java_bg kafka.Kafka %q`,
			filepath.Join(c.repo, "test/compat/lib/env.sh"), props)
		return exec.Command("ip", "netns", "exec", c.nw.ns(i), "bash", "-c", script), nil
	}
	n := c.node[i-1]
	h := c.nw.host(i)
	cmd := exec.Command("ip", "netns", "exec", c.nw.ns(i), c.bin, "serve")
	cmd.Env = append(os.Environ(), c.env...)
	cmd.Env = append(cmd.Env,
		fmt.Sprintf("KAFKA_NODE_ID=%d", i),
		fmt.Sprintf("KAFKA_LISTENERS=PLAINTEXT://%s:%d,CONTROLLER://%s:%d", h, clientPort, h, controllerPort),
		fmt.Sprintf("KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://%s:%d", h, clientPort),
		"KAFKA_LOG_DIRS="+n.dir)
	if n.metaDir != "" {
		cmd.Env = append(cmd.Env, "KAFKA_METADATA_LOG_DIR="+n.metaDir)
	}
	return cmd, nil
}

func (c *cluster) addr(i int) string { return fmt.Sprintf("%s:%d", c.nw.host(i), clientPort) }

func (c *cluster) seeds() []string {
	var s []string
	for i := 1; i <= len(c.node); i++ {
		s = append(s, c.addr(i))
	}
	return s
}

// start launches node i inside its namespace. `ip netns exec` execs the
// command in place, so the child's pid is spool's own and signals reach it.
func (c *cluster) start(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.node[i-1]
	if n.cmd != nil {
		return fmt.Errorf("node %d already running", i)
	}
	f, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd, err := c.command(i)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start node %d: %w", i, err)
	}
	n.cmd, n.exited = cmd, make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		_ = cmd.Wait()
		close(exited)
	}(cmd, n.exited)
	return nil
}

// signal sends sig to node i; for SIGKILL it also waits until the process is
// reaped and marks the node stopped.
func (c *cluster) signal(i int, sig syscall.Signal) error {
	c.mu.Lock()
	n := c.node[i-1]
	cmd, exited := n.cmd, n.exited
	c.mu.Unlock()
	if cmd == nil {
		return fmt.Errorf("node %d not running", i)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %v to node %d: %w", sig, i, err)
	}
	if sig == syscall.SIGKILL {
		<-exited
		c.mu.Lock()
		n.cmd = nil
		c.mu.Unlock()
	}
	return nil
}

// terminate sends SIGTERM to node i (a controlled shutdown) and waits up to
// limit for it to exit, then SIGKILLs it; exited is false when it had to be
// killed. The node is stopped afterwards either way.
func (c *cluster) terminate(i int, limit time.Duration) (exited bool, err error) {
	c.mu.Lock()
	n := c.node[i-1]
	cmd, done := n.cmd, n.exited
	c.mu.Unlock()
	if cmd == nil {
		return true, nil
	}
	// SIGCONT first, in case a pause fault left it stopped.
	_ = cmd.Process.Signal(syscall.SIGCONT)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return false, fmt.Errorf("SIGTERM to node %d: %w", i, err)
	}
	t := time.NewTimer(limit)
	defer t.Stop()
	exited = true
	select {
	case <-done:
	case <-t.C:
		exited = false
		_ = cmd.Process.Kill()
		<-done
	}
	c.mu.Lock()
	n.cmd = nil
	c.mu.Unlock()
	return exited, nil
}

// running reports whether node i's process is alive (started and not exited).
func (c *cluster) running(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.node[i-1]
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// stopAll kills every node (SIGCONT first, in case one is paused).
func (c *cluster) stopAll() {
	for i := 1; i <= len(c.node); i++ {
		c.mu.Lock()
		cmd := c.node[i-1].cmd
		c.mu.Unlock()
		if cmd != nil {
			_ = cmd.Process.Signal(syscall.SIGCONT)
			_ = c.signal(i, syscall.SIGKILL)
		}
	}
}

// partitionState is one partition's leader and ISR as metadata reports it.
type partitionState struct {
	leader int32
	isr    []int32
}

func describeTopic(ctx context.Context, adm *kadm.Client, topic string) (map[int32]partitionState, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		return nil, err
	}
	t, ok := md.Topics[topic]
	if !ok || t.Err != nil {
		return nil, fmt.Errorf("topic %s: %v", topic, t.Err)
	}
	out := map[int32]partitionState{}
	for _, p := range t.Partitions {
		out[p.Partition] = partitionState{leader: p.Leader, isr: p.ISR}
	}
	return out, nil
}

// underReplicated lists every partition of every topic, internal ones
// included, that has no leader or whose ISR is not its whole replica set, as
// "topic-p leader L isr [..] replicas [..]"; the cluster has healed when the
// list is empty.
func underReplicated(ctx context.Context, adm *kadm.Client) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	md, err := adm.Metadata(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range md.Topics.Sorted() {
		if t.Err != nil {
			out = append(out, fmt.Sprintf("%s: %v", t.Topic, t.Err))
			continue
		}
		for _, p := range t.Partitions.Sorted() {
			if p.Err != nil || p.Leader < 0 || !sameMembers(p.ISR, p.Replicas) {
				out = append(out, fmt.Sprintf("%s-%d leader %d isr %v replicas %v", t.Topic, p.Partition, p.Leader, p.ISR, p.Replicas))
			}
		}
	}
	return out, nil
}

func sameMembers(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// waitFor polls cond every 200 ms until it is true or the deadline passes.
func waitFor(ctx context.Context, d time.Duration, what string, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
}

// brokersUp reports whether node i answers Metadata listing every node.
func (c *cluster) brokersUp(ctx context.Context, i int) bool {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.addr(i)), kgo.DialTimeout(time.Second), kgo.RequestRetries(0))
	if err != nil {
		return false
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	md, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	return err == nil && len(md.Brokers) == len(c.node)
}

// dump sends SIGQUIT to node i (the Go runtime prints every goroutine's
// stack to the node's log and exits) and waits for it to exit, killing it
// after 10 s; the node is then stopped.
func (c *cluster) dump(i int) {
	c.mu.Lock()
	n := c.node[i-1]
	cmd, exited := n.cmd, n.exited
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGCONT)
	_ = cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
	c.mu.Lock()
	n.cmd = nil
	c.mu.Unlock()
}
