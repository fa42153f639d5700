package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Cluster is a three-node combined-mode (broker,controller) cluster of one
// system, node i on 127.0.0.i with the same ports, every node started from
// the very same kind of server.properties (Spool reads Kafka's file
// unchanged) with Kafka's defaults for everything that is not an address:
// broker.heartbeat.interval.ms=2000, broker.session.timeout.ms=9000,
// replica.lag.time.max.ms=30000, offsets.topic.replication.factor=3.
// Extra properties (for example a shorter session timeout) go to both
// systems alike.
type Cluster struct {
	Name       string // "spool" or "kafka"
	Repo       string
	OutDir     string
	BrokerCPUs string
	Port       int
	CtrlPort   int
	// BasePort, when set, puts every node on 127.0.0.1 with its own ports:
	// node i listens on BasePort+10i (clients), BasePort+10i+1 (controller)
	// and, for Spool, BasePort+10i+2 (SPOOL_HTTP_ADDR: /metrics,
	// /debug/pprof). Port and CtrlPort are then unused.
	BasePort int
	Extra    map[string]string
	// Racks gives node i broker.rack=rack<i> and both systems Kafka's
	// rack-aware replica selector (KIP-392 fetch from follower), for
	// scenario R6.
	Racks bool

	root  string
	nodes [3]*clusterNode
}

type clusterNode struct {
	id     int
	props  string
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd has been waited for
	// relaunches counts relaunchIfExited's starts.
	relaunches int
}

func (c *Cluster) host(id int) string {
	if c.BasePort != 0 {
		return "127.0.0.1"
	}
	return fmt.Sprintf("127.0.0.%d", id)
}

func (c *Cluster) port(id int) int {
	if c.BasePort != 0 {
		return c.BasePort + 10*id
	}
	return c.Port
}

func (c *Cluster) ctrlPort(id int) int {
	if c.BasePort != 0 {
		return c.BasePort + 10*id + 1
	}
	return c.CtrlPort
}

// HTTPAddr is Spool node id's SPOOL_HTTP_ADDR (only with BasePort).
func (c *Cluster) HTTPAddr(id int) string { return fmt.Sprintf("127.0.0.1:%d", c.BasePort+10*id+2) }

// Addr is node id's client address.
func (c *Cluster) Addr(id int) string { return fmt.Sprintf("%s:%d", c.host(id), c.port(id)) }

// Bootstrap is node 1's client address; clients discover the others.
func (c *Cluster) Bootstrap() string { return c.Addr(1) }

// Pid is node id's process, 0 when it is not running.
func (c *Cluster) Pid(id int) int {
	if n := c.nodes[id-1]; n != nil && n.cmd != nil {
		return n.cmd.Process.Pid
	}
	return 0
}

// Pids are the running nodes' processes (the JVMs for Kafka).
func (c *Cluster) Pids() []int {
	var out []int
	for _, n := range c.nodes {
		if n != nil && n.cmd != nil {
			out = append(out, n.cmd.Process.Pid)
		}
	}
	return out
}

// CPUSeconds sums user+system CPU over the running nodes.
func (c *Cluster) CPUSeconds() float64 {
	var s float64
	for _, pid := range c.Pids() {
		v, _ := cpuSeconds(pid)
		s += v
	}
	return s
}

func (c *Cluster) properties(id int, dir string) string {
	var voters []string
	for i := 1; i <= 3; i++ {
		voters = append(voters, fmt.Sprintf("%d@%s:%d", i, c.host(i), c.ctrlPort(i)))
	}
	var b strings.Builder
	fmt.Fprintf(&b, `process.roles=broker,controller
node.id=%d
controller.quorum.voters=%s
listeners=PLAINTEXT://%s:%d,CONTROLLER://%s:%d
advertised.listeners=PLAINTEXT://%s:%d
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=%s
group.initial.rebalance.delay.ms=0
`, id, strings.Join(voters, ","), c.host(id), c.port(id), c.host(id), c.ctrlPort(id), c.host(id), c.port(id), filepath.Join(dir, "data"))
	if c.Racks {
		fmt.Fprintf(&b, "broker.rack=rack%d\nreplica.selector.class=org.apache.kafka.common.replica.RackAwareReplicaSelector\n", id)
	}
	for k, v := range c.Extra {
		fmt.Fprintf(&b, "%s=%s\n", k, v)
	}
	return b.String()
}

const benchClusterID = "SpoolBenchCluster3nodw"

// Start formats fresh storage for every node (Kafka: kafka-storage format,
// a JVM each, in parallel) and starts the three nodes; it returns when
// every node lists three live brokers.
func (c *Cluster) Start(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	root, err := os.MkdirTemp("", "bench-cluster-"+c.Name+"-")
	if err != nil {
		return 0, err
	}
	c.root = root
	errs := make(chan error, 3)
	for i := range 3 {
		id := i + 1
		dir := filepath.Join(root, fmt.Sprintf("node%d", id))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return 0, err
		}
		n := &clusterNode{id: id, props: filepath.Join(dir, "server.properties")}
		c.nodes[i] = n
		if err := os.WriteFile(n.props, []byte(c.properties(id, dir)), 0o644); err != nil {
			return 0, err
		}
		go func() {
			if c.Name != "kafka" {
				errs <- nil
				return
			}
			out, err := exec.CommandContext(ctx, filepath.Join(c.Repo, "test/compat/bin/kafka-storage"),
				"format", "-t", benchClusterID, "-c", n.props).CombinedOutput()
			if err != nil {
				err = fmt.Errorf("kafka-storage format node %d: %w: %s", id, err, out)
			}
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			return 0, err
		}
	}
	for i := range 3 {
		if err := c.launch(i + 1); err != nil {
			return 0, err
		}
	}
	if err := c.waitBrokers(ctx, 3); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func (c *Cluster) launch(id int) error {
	n := c.nodes[id-1]
	var args []string
	if c.Name == "spool" {
		args = []string{filepath.Join(c.Repo, "bin/spool"), "serve", n.props}
	} else {
		args = []string{filepath.Join(c.Repo, "test/bench/kafka-java.sh"), "kafka.Kafka", n.props}
	}
	if c.BrokerCPUs != "" {
		if _, err := exec.LookPath("taskset"); err == nil {
			args = append([]string{"taskset", "-c", c.BrokerCPUs}, args...)
		}
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "CLUSTER_ID="+benchClusterID)
	if c.BasePort != 0 && c.Name == "spool" {
		cmd.Env = append(cmd.Env, "SPOOL_HTTP_ADDR="+c.HTTPAddr(id))
	}
	lf, err := os.OpenFile(filepath.Join(c.OutDir, fmt.Sprintf("cluster-%s-node%d.log", c.Name, id)), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer lf.Close()
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		return err
	}
	// kafka-java.sh and taskset exec, so the pid is the broker's.
	n.cmd = cmd
	exited := make(chan struct{})
	n.exited = exited
	go func() { _ = cmd.Wait(); close(exited) }()
	return nil
}

// relaunchIfExited starts node id again if its process has exited, and
// reports whether it did. A fixed port can still be held by an outgoing
// connection's local end when a node starts (if BasePort is set inside
// Linux's ephemeral range, 32768-60999; the default 24000 lies below it);
// the node then exits at once, and a second start finds the port free.
func (c *Cluster) relaunchIfExited(id int) (bool, error) {
	n := c.nodes[id-1]
	if n == nil || n.cmd == nil {
		return false, nil
	}
	select {
	case <-n.exited:
	default:
		return false, nil
	}
	n.relaunches++
	if n.relaunches > 3 {
		return false, fmt.Errorf("%s node %d keeps exiting; see %s", c.Name, id, c.OutDir)
	}
	n.cmd = nil
	return true, c.launch(id)
}

// Kill crashes node id (SIGKILL) and reaps it.
func (c *Cluster) Kill(id int) {
	n := c.nodes[id-1]
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Kill()
	<-n.exited
	n.cmd = nil
}

// Terminate sends SIGTERM (a controlled shutdown for both systems) and
// waits up to two minutes for the exit.
func (c *Cluster) Terminate(id int) error {
	n := c.nodes[id-1]
	if n.cmd == nil {
		return nil
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	done := n.exited
	defer func() { n.cmd = nil }()
	select {
	case <-done:
		return nil
	case <-time.After(2 * time.Minute):
		_ = n.cmd.Process.Kill()
		<-done
		return fmt.Errorf("%s node %d did not exit within 2 min of SIGTERM", c.Name, id)
	}
}

// Restart starts a stopped node again on its storage.
func (c *Cluster) Restart(id int) error { return c.launch(id) }

// Stop stops every node and removes the storage.
func (c *Cluster) Stop() {
	for i := range 3 {
		if c.nodes[i] != nil {
			_ = c.Terminate(i + 1)
		}
	}
	if c.root != "" {
		os.RemoveAll(c.root)
	}
	c.root = ""
}

func (c *Cluster) client(opts ...kgo.Opt) (*kgo.Client, error) {
	var seeds []string
	for i := 1; i <= 3; i++ {
		seeds = append(seeds, c.Addr(i))
	}
	return kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, opts...)...)
}

// waitBrokers polls until the cluster lists want brokers.
func (c *Cluster) waitBrokers(ctx context.Context, want int) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var last error
	for {
		for _, n := range c.nodes {
			if n.cmd == nil {
				continue
			}
			if c.BasePort != 0 {
				if _, err := c.relaunchIfExited(n.id); err != nil {
					return err
				}
				continue
			}
			select {
			case <-n.exited:
				return fmt.Errorf("%s node %d exited; see %s", c.Name, n.id, c.OutDir)
			default:
			}
		}
		last = func() error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			defer cl.Close()
			pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
			defer pcancel()
			b, err := kadm.NewClient(cl).ListBrokers(pctx)
			if err != nil {
				return err
			}
			if len(b) != want {
				return fmt.Errorf("%d of %d brokers", len(b), want)
			}
			return nil
		}()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s cluster not ready: %w", c.Name, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// CreateTopic creates a replication-factor-3 topic with
// min.insync.replicas=2 and waits until every partition has a leader and
// three in-sync replicas.
func (c *Cluster) CreateTopic(ctx context.Context, topic string, partitions int) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	resp, err := adm.CreateTopic(ctx, int32(partitions), 3, map[string]*string{"min.insync.replicas": kadm.StringPtr("2")}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create %s: %w", topic, err)
	}
	return c.waitISR(ctx, topic, 3)
}

// Leaders returns each partition's leader.
func (c *Cluster) Leaders(ctx context.Context, topic string) (map[int32]int32, error) {
	cl, err := c.client()
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	md, err := kadm.NewClient(cl).Metadata(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := map[int32]int32{}
	for _, p := range md.Topics[topic].Partitions {
		out[p.Partition] = p.Leader
	}
	return out, nil
}

// waitISR waits until every partition of topic has a leader and isr
// in-sync replicas.
func (c *Cluster) waitISR(ctx context.Context, topic string, isr int) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for {
		ok := func() bool {
			cl, err := c.client()
			if err != nil {
				return false
			}
			defer cl.Close()
			md, err := kadm.NewClient(cl).Metadata(ctx, topic)
			if err != nil || len(md.Topics[topic].Partitions) == 0 {
				return false
			}
			for _, p := range md.Topics[topic].Partitions {
				if p.Leader < 0 || len(p.ISR) != isr || p.Err != nil {
					return false
				}
			}
			return true
		}()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %s never had %d in-sync replicas everywhere", c.Name, topic, isr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ActiveController asks the cluster (DescribeQuorum, which brokers of
// both systems forward) which node leads the metadata quorum.
func (c *Cluster) ActiveController(ctx context.Context) (int32, error) {
	cl, err := c.client()
	if err != nil {
		return -1, err
	}
	defer cl.Close()
	req := kmsg.NewPtrDescribeQuorumRequest()
	t := kmsg.NewDescribeQuorumRequestTopic()
	t.Topic = "__cluster_metadata"
	t.Partitions = []kmsg.DescribeQuorumRequestTopicPartition{kmsg.NewDescribeQuorumRequestTopicPartition()}
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return -1, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return -1, err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return -1, errors.New("malformed DescribeQuorum response")
	}
	return resp.Topics[0].Partitions[0].LeaderID, nil
}
