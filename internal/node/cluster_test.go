package node_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap/zaptest"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/internal/node"
	"github.com/spool-broker/spool/internal/server"
	"github.com/spool-broker/spool/internal/spooltest"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// freePort is spooltest.FreePort: never the same port twice in a process.
func freePort(t testing.TB) int { return spooltest.FreePort(t) }

// testNode is one in-process node of a test cluster.
type testNode struct {
	id    int32
	roles string
	port  int // client listener, 0 on a controller-only node
	env   []string
	dir   string
	n     *node.Node
}

func (tn *testNode) addr() string { return fmt.Sprintf("127.0.0.1:%d", tn.port) }

func (tn *testNode) isBroker() bool { return strings.Contains(tn.roles, "broker") }

// testCluster is a whole cluster in one process: every node is a real
// node.Node on loopback ports.
type testCluster struct {
	t     *testing.T
	nodes map[int32]*testNode
	mu    sync.Mutex
}

// clusterSpec says each node's roles, and how it finds the quorum:
// "voters" (controller.quorum.voters) or "bootstrap"
// (controller.quorum.bootstrap.servers).
type clusterSpec struct {
	id    int32
	roles string
	find  string
}

// newTestCluster configures (but does not start) a cluster with short
// liveness timeouts: heartbeats every 100 ms, sessions of 1 s.
func newTestCluster(t *testing.T, specs []clusterSpec, extra ...string) *testCluster {
	c := &testCluster{t: t, nodes: map[int32]*testNode{}}
	cports := map[int32]int{}
	var voters, bootstrap []string
	for _, s := range specs {
		if strings.Contains(s.roles, "controller") {
			cports[s.id] = freePort(t)
			voters = append(voters, fmt.Sprintf("%d@127.0.0.1:%d", s.id, cports[s.id]))
			bootstrap = append(bootstrap, fmt.Sprintf("127.0.0.1:%d", cports[s.id]))
		}
	}
	var u [16]byte
	for i := range u {
		u[i] = byte(rand.IntN(256))
	}
	clusterID := base64.RawURLEncoding.EncodeToString(u[:])
	for _, s := range specs {
		tn := &testNode{id: s.id, roles: s.roles, dir: t.TempDir()}
		var listeners []string
		if tn.isBroker() {
			tn.port = freePort(t)
			listeners = append(listeners, "PLAINTEXT://"+tn.addr())
			tn.env = append(tn.env, "KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://"+tn.addr(), "KAFKA_INTER_BROKER_LISTENER_NAME=PLAINTEXT")
		}
		if p, ok := cports[s.id]; ok {
			listeners = append(listeners, fmt.Sprintf("CONTROLLER://127.0.0.1:%d", p))
		}
		find := "KAFKA_CONTROLLER_QUORUM_VOTERS=" + strings.Join(voters, ",")
		if s.find == "bootstrap" {
			find = "KAFKA_CONTROLLER_QUORUM_BOOTSTRAP_SERVERS=" + strings.Join(bootstrap, ",")
		}
		tn.env = append(tn.env,
			fmt.Sprintf("KAFKA_NODE_ID=%d", s.id),
			"KAFKA_PROCESS_ROLES="+s.roles,
			"KAFKA_LISTENERS="+strings.Join(listeners, ","),
			"KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER",
			"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
			find,
			"CLUSTER_ID="+clusterID,
			"KAFKA_LOG_DIRS="+tn.dir,
			"KAFKA_BROKER_HEARTBEAT_INTERVAL_MS=100",
			"KAFKA_BROKER_SESSION_TIMEOUT_MS=1000",
			"KAFKA_CONTROLLER_QUORUM_ELECTION_TIMEOUT_MS=500",
			"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS=0",
		)
		tn.env = append(tn.env, extra...)
		c.nodes[s.id] = tn
	}
	t.Cleanup(func() {
		for _, tn := range c.nodes {
			c.kill(tn.id)
		}
	})
	return c
}

// start starts a node; it does not wait for it to be ready.
func (c *testCluster) start(id int32, extraEnv ...string) {
	c.t.Helper()
	c.startWith(id, nil, extraEnv...)
}

// startWith starts a node registering its metrics with reg (nil: none).
func (c *testCluster) startWith(id int32, reg prometheus.Registerer, extraEnv ...string) {
	c.t.Helper()
	tn := c.nodes[id]
	cfg, _, err := config.Load("", append(append([]string{}, tn.env...), extraEnv...))
	require.NoError(c.t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := node.Start(ctx, cfg, reg, zaptest.NewLogger(c.t).Named(fmt.Sprintf("node%d", id)), server.NewNodeBroker)
	require.NoError(c.t, err)
	c.mu.Lock()
	tn.n = n
	c.mu.Unlock()
}

// waitReady waits until the node serves.
func (c *testCluster) waitReady(id int32) {
	c.t.Helper()
	select {
	case <-c.node(id).Ready():
	case <-time.After(60 * time.Second):
		c.t.Fatalf("node %d did not become ready", id)
	}
}

func (c *testCluster) node(id int32) *node.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[id].n
}

// stop closes a node cleanly, with a controlled shutdown. kill closes it
// with an expired context: no controlled shutdown and no drain, like a
// crash of the broker role. Its logs still close and write the clean
// shutdown files, so its restart is a clean one for KIP-966 (it keeps its
// ELR places); TestELRUncleanRestartProcesses covers a real SIGKILL.
func (c *testCluster) stop(id int32) {
	c.mu.Lock()
	n := c.nodes[id].n
	c.nodes[id].n = nil
	c.mu.Unlock()
	if n == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(c.t, n.Close(ctx))
}

func (c *testCluster) kill(id int32) {
	c.mu.Lock()
	n := c.nodes[id].n
	c.nodes[id].n = nil
	c.mu.Unlock()
	if n == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no controlled shutdown, no graceful drain
	_ = n.Close(ctx)
}

// activeController returns the node whose controller is active.
func (c *testCluster) activeController() int32 {
	c.t.Helper()
	var id int32 = -1
	require.Eventually(c.t, func() bool {
		id = -1
		for _, tn := range c.nodes {
			n := c.node(tn.id)
			if n != nil && n.Controller() != nil && n.Controller().IsActive() {
				if id >= 0 {
					return false // two think they lead: wait for the old one to notice
				}
				id = tn.id
			}
		}
		return id >= 0
	}, 30*time.Second, 10*time.Millisecond, "no active controller")
	return id
}

// image is the active controller's image.
func (c *testCluster) image() *controller.MetadataImage {
	return c.node(c.activeController()).Controller().Image()
}

// waitImages waits until every running node's image satisfies ok.
func (c *testCluster) waitImages(what string, ok func(img *controller.MetadataImage) bool) {
	c.t.Helper()
	require.Eventually(c.t, func() bool {
		for _, tn := range c.nodes {
			if n := c.node(tn.id); n != nil && !ok(n.Metadata().Image()) {
				return false
			}
		}
		return true
	}, 30*time.Second, 10*time.Millisecond, what)
}

func unfenced(ids ...int32) func(img *controller.MetadataImage) bool {
	return func(img *controller.MetadataImage) bool {
		for _, id := range ids {
			if b := img.Broker(id); b == nil || b.Fenced {
				return false
			}
		}
		return true
	}
}

// createTopic creates a topic whose name is new to the cluster through
// adm. CreateTopics is not idempotent, and a lost answer is re-sent twice
// over: the broker re-sends a forwarded write after a broken connection or
// NOT_CONTROLLER (as Kafka's NodeToControllerRequestThread does), and kgo
// re-sends after a broken connection. When the first attempt committed,
// the retry is answered TOPIC_ALREADY_EXISTS, with Kafka as with Spool;
// that answer counts as success only if the topic then has exactly the
// layout asked for (nothing else in these tests creates the name).
func (c *testCluster) createTopic(ctx context.Context, adm *kadm.Client, partitions int32, replicationFactor int16, name string) {
	c.t.Helper()
	require.Nil(c.t, c.image().Topic(name), "topic %s is new to the cluster", name)
	created, err := adm.CreateTopic(ctx, partitions, replicationFactor, nil, name)
	require.NoError(c.t, err)
	if !errors.Is(created.Err, kerr.TopicAlreadyExists) {
		require.NoError(c.t, created.Err)
		return
	}
	topic := c.image().Topic(name)
	require.NotNil(c.t, topic, "TOPIC_ALREADY_EXISTS for %s, which the active controller does not know", name)
	require.Len(c.t, topic.Partitions, int(partitions), "partitions of %s", name)
	for i, p := range topic.Partitions {
		require.Len(c.t, p.Replicas, int(replicationFactor), "replicas of %s-%d", name, i)
	}
	c.t.Logf("CreateTopics %s: TOPIC_ALREADY_EXISTS from a retry of an attempt that had committed", name)
}

func newAdmin(t *testing.T, addr string) *kadm.Client {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// rawRequest sends one request to addr and nowhere else.
func rawRequest(t *testing.T, addr string, version int16, req protocol.Request) protocol.Response {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer nc.Close()
	// A hang guard past the 30 s request timeouts the tests send (a
	// CreateTopics at load 70 took longer than the 10 s this once was).
	_ = nc.SetDeadline(time.Now().Add(45 * time.Second))
	id := "test"
	hdr := protocol.RequestHeader{RequestAPIKey: req.APIKey(), RequestAPIVersion: version, CorrelationID: 1, ClientID: &id}
	frame, err := protocol.AppendRequest(nil, &hdr, req)
	require.NoError(t, err)
	_, err = nc.Write(frame)
	require.NoError(t, err)
	resp, err := protocol.ReadFrame(nc, 1<<26, nil)
	require.NoError(t, err)
	_, r, err := protocol.DecodeResponse(resp, req.APIKey(), version)
	require.NoError(t, err)
	return r
}

// rawMetadata sends one Metadata request to addr and nowhere else.
func rawMetadata(t *testing.T, addr string) *protocol.MetadataResponse {
	t.Helper()
	return rawRequest(t, addr, 12, &protocol.MetadataRequest{}).(*protocol.MetadataResponse)
}

// metadataView is what a Metadata response says about a topic, for
// comparing brokers' answers.
func metadataView(r *protocol.MetadataResponse, topic string) string {
	var sb strings.Builder
	var brokers []int32
	for _, b := range r.Brokers {
		brokers = append(brokers, int32(b.NodeID))
	}
	slices.Sort(brokers)
	fmt.Fprintf(&sb, "brokers=%v", brokers)
	for _, t := range r.Topics {
		if t.Name == nil || string(*t.Name) != topic {
			continue
		}
		fmt.Fprintf(&sb, " id=%x", t.TopicID)
		for _, p := range t.Partitions {
			fmt.Fprintf(&sb, " %d:leader=%d,epoch=%d,replicas=%v,isr=%v", p.PartitionIndex, p.LeaderID, p.LeaderEpoch, p.ReplicaNodes, p.IsrNodes)
		}
	}
	return sb.String()
}

// TestClusterInProcess runs a five-node cluster in one process: nodes 1
// and 2 combined (broker,controller), node 3 controller only, node 4 broker
// only finding the quorum through controller.quorum.voters, node 5 broker
// only through controller.quorum.bootstrap.servers. It checks registration
// in any start order, forwarding of metadata writes from every broker,
// agreement of every broker's Metadata, failover of the active controller,
// fencing of a silent broker with its leaderships moved within the ISR,
// its return, and a controlled shutdown. It checks metadata only;
// replicated data is TestReplicationProcessesKillLeader's.
func TestClusterInProcess(t *testing.T) {
	c := newTestCluster(t, []clusterSpec{
		{1, "broker,controller", "voters"},
		{2, "broker,controller", "voters"},
		{3, "controller", "voters"},
		{4, "broker", "voters"},
		{5, "broker", "bootstrap"},
	})
	brokers := []int32{1, 2, 4, 5}

	// Any start order; brokers wait for the quorum on their own.
	order := []int32{1, 2, 3, 4, 5}
	rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	t.Logf("start order %v", order)
	for _, id := range order {
		c.start(id)
	}
	for _, id := range order {
		c.waitReady(id)
	}
	c.waitImages("every broker registered and unfenced", unfenced(brokers...))
	for _, id := range brokers {
		require.Len(t, c.node(id).Addrs(), 1)
	}
	require.Nil(t, c.node(3).Addrs(), "a controller-only node has no client listener")
	require.Nil(t, c.image().Broker(3), "a controller-only node does not register as a broker")

	// CreateTopics and AlterConfigs sent to brokers that are not the
	// active controller (the broker-only nodes never are) are forwarded.
	adm5 := newAdmin(t, c.nodes[5].addr())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c.createTopic(ctx, adm5, 8, 3, "orders")
	// A forwarded write is visible on the broker that forwarded it when
	// the response arrives, as a local write is.
	require.NotNil(t, c.node(5).Metadata().Image().Topic("orders"))
	adm4 := newAdmin(t, c.nodes[4].addr())
	alter, err := adm4.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: kadm.StringPtr("60000")}}, "orders")
	require.NoError(t, err)
	require.NoError(t, alter[0].Err)
	c.waitImages("topic and config everywhere", func(img *controller.MetadataImage) bool {
		return img.Topic("orders") != nil && img.Config(controller.ResourceTopic, "orders")["retention.ms"] == "60000"
	})
	topic := c.image().Topic("orders")
	leaders := map[int32]int{}
	for _, p := range topic.Partitions {
		require.Len(t, p.Replicas, 3)
		require.ElementsMatch(t, p.Replicas, p.ISR)
		leaders[p.Leader]++
	}
	require.GreaterOrEqual(t, len(leaders), 3, "leaders spread over brokers: %v", leaders)

	// Every broker answers Metadata the same way.
	var want string
	require.Eventually(t, func() bool {
		views := map[string]bool{}
		for _, id := range brokers {
			views[metadataView(rawMetadata(t, c.nodes[id].addr()), "orders")] = true
		}
		if len(views) != 1 {
			return false
		}
		for v := range views {
			want = v
		}
		return strings.Contains(want, "brokers=[1 2 4 5]")
	}, 30*time.Second, 20*time.Millisecond)
	t.Logf("metadata: %s", want)

	// Metadata's ControllerID is, as in Kafka 4.3, an unfenced broker
	// (KRaftMetadataCache.getRandomAliveBrokerId): one the client can
	// resolve in the brokers list, never the controller-only node 3.
	for _, id := range brokers {
		md := rawMetadata(t, c.nodes[id].addr())
		require.Contains(t, brokers, int32(md.ControllerID), "ControllerID from broker %d", id)
	}

	// A consumer fetch sent to a broker without a replica is answered
	// NOT_LEADER_OR_FOLLOWER naming the real leader and its epoch, with
	// the leader's endpoint (KIP-951). (A follower would serve it: Fetch
	// v11+ reads from followers, KIP-392.)
	orders := c.image().Topic("orders")
	p0 := orders.Partitions[0]
	var follower int32 = -1
	for _, id := range brokers {
		if !slices.Contains(p0.Replicas, id) {
			follower = id
			break
		}
	}
	require.GreaterOrEqual(t, follower, int32(0))
	var lastFetch string
	if !assert.Eventually(t, func() bool {
		fr := rawRequest(t, c.nodes[follower].addr(), 16, &protocol.FetchRequest{
			ReplicaID: -1, MaxWaitMs: 0, MaxBytes: 1 << 20, SessionEpoch: -1,
			Topics: []protocol.FetchRequestFetchTopic{{TopicID: protocol.UUID(orders.ID), Partitions: []protocol.FetchRequestFetchPartition{{
				Partition: 0, CurrentLeaderEpoch: -1, LastFetchedEpoch: -1, LogStartOffset: -1, PartitionMaxBytes: 1 << 20,
			}}}},
		}).(*protocol.FetchResponse)
		if len(fr.Responses) != 1 || len(fr.Responses[0].Partitions) != 1 {
			lastFetch = fmt.Sprintf("%+v", fr)
			return false
		}
		pd := fr.Responses[0].Partitions[0]
		lastFetch = fmt.Sprintf("error %d, current leader %+v, endpoints %+v", pd.ErrorCode, pd.CurrentLeader, fr.NodeEndpoints)
		if pd.ErrorCode != errcode.NotLeaderOrFollower || int32(pd.CurrentLeader.LeaderID) != p0.Leader ||
			pd.CurrentLeader.LeaderEpoch != p0.LeaderEpoch || len(fr.NodeEndpoints) != 1 {
			return false
		}
		ep := fr.NodeEndpoints[0]
		return int32(ep.NodeID) == p0.Leader && fmt.Sprintf("%s:%d", ep.Host, ep.Port) == c.nodes[p0.Leader].addr()
	}, 30*time.Second, 20*time.Millisecond) {
		t.Fatalf("fetch from broker %d, without a replica, names leader %d: last answer %s", follower, p0.Leader, lastFetch)
	}

	// Brokers forward DescribeQuorum to the active controller.
	leader := c.activeController()
	require.Eventually(t, func() bool {
		dq := rawRequest(t, c.nodes[5].addr(), 2, &protocol.DescribeQuorumRequest{Topics: []protocol.DescribeQuorumRequestTopicData{{
			TopicName: "__cluster_metadata", Partitions: []protocol.DescribeQuorumRequestPartitionData{{}},
		}}}).(*protocol.DescribeQuorumResponse)
		if dq.ErrorCode != 0 || len(dq.Topics) != 1 {
			return false
		}
		p := dq.Topics[0].Partitions[0]
		var observers []int32
		for _, o := range p.Observers {
			observers = append(observers, int32(o.ReplicaID))
		}
		slices.Sort(observers)
		// Every voter's log end is known (not -1), and none is past the
		// leader's.
		var leaderEnd int64 = -1
		for _, v := range p.CurrentVoters {
			if int32(v.ReplicaID) == leader {
				leaderEnd = v.LogEndOffset
			}
		}
		for _, v := range p.CurrentVoters {
			if v.LogEndOffset <= 0 || v.LogEndOffset > leaderEnd || v.LastFetchTimestamp <= 0 || v.LastCaughtUpTimestamp <= 0 {
				return false
			}
		}
		return p.ErrorCode == 0 && int32(p.LeaderID) == leader && p.HighWatermark > 0 && len(p.CurrentVoters) == 3 &&
			slices.Equal(observers, []int32{4, 5}) && len(dq.Nodes) == 3
	}, 30*time.Second, 20*time.Millisecond)

	// Kill the active controller: another voter takes over, and writes
	// through any broker keep working.
	old := c.activeController()
	t.Logf("killing active controller %d", old)
	c.kill(old)
	next := c.activeController()
	require.NotEqual(t, old, next)
	c.createTopic(ctx, adm5, 4, 2, "after-failover")
	c.waitImages("topic created after failover", func(img *controller.MetadataImage) bool { return img.Topic("after-failover") != nil })
	if c.nodes[old].isBroker() {
		// Its broker stopped heartbeating with it: fenced.
		c.waitImages("killed combined node fenced", func(img *controller.MetadataImage) bool {
			b := img.Broker(old)
			return b != nil && b.Fenced
		})
	}
	c.start(old)
	c.waitReady(old)
	c.waitImages("every broker back", unfenced(brokers...))

	// A broker that stops heartbeating (no controlled shutdown) is fenced
	// within the session timeout, and each partition it led gets a new
	// leader from its ISR; it leaves the ISR of every partition. The
	// victim is a broker-only node that leads something now (a slow
	// machine may have fenced one briefly during the failover, which
	// moved its leaderships).
	c.createTopic(ctx, adm5, 8, 3, "fence-me")
	c.waitImages("fence-me everywhere", func(img *controller.MetadataImage) bool { return img.Topic("fence-me") != nil })
	img := c.image()
	victim := int32(4)
	if !slices.ContainsFunc(img.Topic("fence-me").Partitions, func(p *controller.PartitionImage) bool { return p.Leader == 4 }) {
		victim = 5
	}
	var led []int32
	for i, p := range img.Topic("fence-me").Partitions {
		if p.Leader == victim {
			led = append(led, int32(i))
		}
	}
	require.NotEmpty(t, led, "broker %d leads some partition of fence-me", victim)
	killed := time.Now()
	c.kill(victim)
	c.waitImages("victim fenced, leaderships moved", func(img *controller.MetadataImage) bool {
		if b := img.Broker(victim); b == nil || !b.Fenced {
			return false
		}
		for _, p := range img.Topic("fence-me").Partitions {
			if p.Leader == victim || slices.Contains(p.ISR, victim) {
				return false
			}
		}
		return true
	})
	t.Logf("broker %d fenced and its leaderships moved %v after it stopped", victim, time.Since(killed))
	img = c.image()
	for _, i := range led {
		p := img.Topic("fence-me").Partitions[i]
		require.GreaterOrEqual(t, p.Leader, int32(0), "partition %d has a leader", i)
		require.Contains(t, p.Replicas, p.Leader)
		require.Contains(t, p.ISR, p.Leader)
	}

	// Restarted, it catches up on metadata and is unfenced.
	c.start(victim)
	c.waitReady(victim)
	c.waitImages("broker unfenced again", unfenced(victim))

	// Controlled shutdown: when Close returns, the controller has already
	// moved every leadership away from the broker.
	c.createTopic(ctx, adm5, 8, 3, "spread")
	c.waitImages("spread everywhere", func(img *controller.MetadataImage) bool { return img.Topic("spread") != nil })
	leadsSomething := func(img *controller.MetadataImage, id int32) bool {
		for _, name := range []string{"spread", "orders", "after-failover"} {
			for _, p := range img.Topic(name).Partitions {
				if p.Leader == id {
					return true
				}
			}
		}
		return false
	}
	victim = -1
	for _, id := range []int32{5, 4, 2, 1} {
		if id != c.activeController() && leadsSomething(c.image(), id) {
			victim = id
			break
		}
	}
	require.GreaterOrEqual(t, victim, int32(0))
	// Give it leaderships again with a preferred election where it is the
	// first replica.
	_, err = adm5.ElectLeaders(ctx, kadm.ElectPreferredReplica, nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return leadsSomething(c.image(), victim) }, 30*time.Second, 10*time.Millisecond,
		"broker %d leads nothing after a preferred election", victim)
	c.stop(victim)
	img = c.image()
	require.False(t, leadsSomething(img, victim), "broker %d still leads after its controlled shutdown", victim)
	require.Eventually(t, func() bool { return c.image().Broker(victim).Fenced }, 30*time.Second, 10*time.Millisecond,
		"broker %d fenced after its controlled shutdown", victim)
}
