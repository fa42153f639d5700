package replication

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/protocol/records"
	"github.com/spool-broker/spool/storage"
)

// A whole cluster in one test process (hashicorp/raft's MakeCluster, etcd
// raft's rafttest network): every broker is a Manager over a real
// storage.Manager in its own temp dir, fetching from its leaders through
// an InmemNetwork with per-link faults; an InmemController holds the
// partition states, and each broker applies them on its own metadata
// goroutine, in commit order, as a real broker follows the metadata log.
// The controller is broker 0 on the network, so a broker can be cut off
// from it (its AlterPartition requests and its metadata stop). ISR lag is
// measured with one ManualClock; nothing waits for a guessed duration.

// controllerID is the controller's address on the test network.
const controllerID = 0

type testCluster struct {
	t      *testing.T
	net    *InmemNetwork
	ctrl   *InmemController
	clock  *ManualClock
	minISR int32

	mu    sync.Mutex
	nodes map[int32]*clusterNode
	tps   []storage.TopicPartition
}

type clusterNode struct {
	c   *testCluster
	id  int32
	dir string

	logs *storage.Manager
	m    *Manager

	// The metadata queue: states published by the controller, applied in
	// order by run.
	mu      sync.Mutex
	queue   []stateUpdate
	cut     bool // cut off from the controller: updates are dropped
	wake    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
}

type stateUpdate struct {
	tp storage.TopicPartition
	st LeaderAndISR
}

// testFetcherConfig keeps follower long polls and error back-offs short,
// so tests move quickly without waiting for Kafka's defaults.
var testFetcherConfig = FetcherConfig{MaxWait: 50 * time.Millisecond, Backoff: 10 * time.Millisecond, MaxBytes: 64 << 10}

func newTestCluster(t *testing.T, n int, minISR int32) *testCluster {
	c := &testCluster{
		t: t, net: NewInmemNetwork(int64(n)), ctrl: NewInmemController(),
		clock: NewManualClock(time.Unix(1_000_000, 0)), minISR: minISR, nodes: map[int32]*clusterNode{},
	}
	c.ctrl.Subscribe(func(tp storage.TopicPartition, st LeaderAndISR) {
		c.mu.Lock()
		nodes := make([]*clusterNode, 0, len(c.nodes))
		for _, nd := range c.nodes {
			nodes = append(nodes, nd)
		}
		c.mu.Unlock()
		for _, nd := range nodes {
			nd.enqueue(stateUpdate{tp, st})
		}
	})
	for id := int32(1); id <= int32(n); id++ {
		c.start(id, t.TempDir())
	}
	t.Cleanup(func() {
		for _, nd := range c.all() {
			nd.crash()
		}
	})
	return c
}

func (c *testCluster) all() []*clusterNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*clusterNode, 0, len(c.nodes))
	for _, nd := range c.nodes {
		out = append(out, nd)
	}
	slices.SortFunc(out, func(a, b *clusterNode) int { return int(a.id - b.id) })
	return out
}

func (c *testCluster) node(id int32) *clusterNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[id]
}

// alterThroughNetwork is a broker's AlterPartition sender: the request and
// its answer cross the broker↔controller links.
type alterThroughNetwork struct {
	net  *InmemNetwork
	from int32
	ctrl *InmemController
}

func (a alterThroughNetwork) AlterPartition(ctx context.Context, req AlterPartitionRequest) (LeaderAndISR, error) {
	if err := a.net.cross(ctx, a.from, controllerID); err != nil {
		return LeaderAndISR{}, err
	}
	st, err := a.ctrl.AlterPartition(ctx, req)
	if err2 := a.net.cross(ctx, controllerID, a.from); err2 != nil {
		return LeaderAndISR{}, err2
	}
	return st, err
}

// start brings broker id up over dir (a restart when dir has its logs)
// and has it catch up on every partition's current state.
func (c *testCluster) start(id int32, dir string) *clusterNode {
	t := c.t
	logs, err := storage.NewManager(storage.ManagerConfig{Dirs: []string{dir}, Default: storage.DefaultConfig()}, zaptest.NewLogger(t).Named(fmt.Sprint("broker-", id)))
	require.NoError(t, err)
	nd := &clusterNode{c: c, id: id, dir: dir, logs: logs, wake: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	nd.m = NewManager(Config{
		NodeID: id, Clock: c.clock, AlterPartition: alterThroughNetwork{c.net, id, c.ctrl}, AlterPartitionRetryBackoff: 5 * time.Millisecond,
		Brokers: c.ctrl.Lookup, Endpoints: func(leader int32) LeaderEndpoint { return c.net.Endpoint(id, leader) }, Fetcher: testFetcherConfig,
	}, logs, zaptest.NewLogger(t).Named(fmt.Sprint("broker-", id)))
	c.net.Register(id, nd.m)
	c.net.Connect(id)
	c.mu.Lock()
	c.nodes[id] = nd
	tps := slices.Clone(c.tps)
	c.mu.Unlock()
	go nd.run()
	for _, tp := range tps {
		if st, ok := c.ctrl.Get(tp); ok {
			nd.enqueue(stateUpdate{tp, st})
		}
	}
	return nd
}

// crash stops broker id at once: off the network, no more metadata, its
// fetchers and ISR work stopped, its logs closed (what reached the log
// survives, as after a process kill with the page cache intact).
func (nd *clusterNode) crash() {
	c := nd.c
	c.mu.Lock()
	if c.nodes[nd.id] != nd {
		c.mu.Unlock()
		return
	}
	delete(c.nodes, nd.id)
	c.mu.Unlock()
	c.net.Disconnect(nd.id)
	close(nd.stop)
	<-nd.stopped
	nd.m.Close()
	require.NoError(c.t, nd.logs.Close())
}

// restart brings a crashed broker back over its log dir.
func (nd *clusterNode) restart() *clusterNode {
	return nd.c.start(nd.id, nd.dir)
}

func (nd *clusterNode) enqueue(u stateUpdate) {
	nd.mu.Lock()
	if !nd.cut {
		nd.queue = append(nd.queue, u)
	}
	nd.mu.Unlock()
	select {
	case nd.wake <- struct{}{}:
	default:
	}
}

// setCut cuts the broker off from the controller's metadata, or restores
// it (then it catches up on every partition's current state).
func (nd *clusterNode) setCut(cut bool) {
	nd.mu.Lock()
	nd.cut = cut
	nd.mu.Unlock()
	if !cut {
		nd.c.mu.Lock()
		tps := slices.Clone(nd.c.tps)
		nd.c.mu.Unlock()
		for _, tp := range tps {
			if st, ok := nd.c.ctrl.Get(tp); ok {
				nd.enqueue(stateUpdate{tp, st})
			}
		}
	}
}

// run is the broker's metadata goroutine: the only caller of Apply.
func (nd *clusterNode) run() {
	defer close(nd.stopped)
	for {
		nd.mu.Lock()
		q := nd.queue
		nd.queue = nil
		nd.mu.Unlock()
		for _, u := range q {
			nd.apply(u)
		}
		select {
		case <-nd.stop:
			return
		case <-nd.wake:
		}
	}
}

func (nd *clusterNode) apply(u stateUpdate) {
	if !slices.Contains(u.st.Replicas, nd.id) {
		require.NoError(nd.c.t, nd.m.Remove(u.tp))
		return
	}
	p := nd.m.Partition(u.tp)
	if p == nil {
		var err error
		p, err = nd.m.Open(u.tp, [16]byte{7}, storage.DefaultConfig(), &config.LogSettings{MinInsyncReplicas: nd.c.minISR})
		require.NoError(nd.c.t, err)
	}
	nd.m.Apply(p, u.st)
}

func (nd *clusterNode) partition(tp storage.TopicPartition) *Partition {
	return nd.m.Partition(tp)
}

// createPartition makes tp with replicas (the first leads, all in the ISR)
// and waits until every replica applied it.
func (c *testCluster) createPartition(tp storage.TopicPartition, replicas ...int32) {
	c.mu.Lock()
	c.tps = append(c.tps, tp)
	c.mu.Unlock()
	st := LeaderAndISR{Leader: replicas[0], LeaderEpoch: 1, PartitionEpoch: 1, Replicas: replicas, ISR: slices.Clone(replicas)}
	c.ctrl.Set(tp, st)
	c.waitFor(func() bool {
		for _, id := range replicas {
			nd := c.node(id)
			if nd == nil {
				continue
			}
			p := nd.partition(tp)
			if p == nil || p.State().PartitionEpoch != 1 {
				return false
			}
		}
		return true
	}, "every replica applies %s", tp)
}

// waitFor waits until cond holds; a cluster test that needs longer than
// this is broken, not slow.
func (c *testCluster) waitFor(cond func() bool, msg string, args ...any) {
	c.t.Helper()
	require.Eventually(c.t, cond, 30*time.Second, 2*time.Millisecond, fmt.Sprintf(msg, args...))
}

// waitApplied waits until every live replica applied tp's current state.
func (c *testCluster) waitApplied(tp storage.TopicPartition) LeaderAndISR {
	c.t.Helper()
	st, _ := c.ctrl.Get(tp)
	c.waitFor(func() bool {
		for _, nd := range c.all() {
			nd.mu.Lock()
			cut := nd.cut
			nd.mu.Unlock()
			if cut || !slices.Contains(st.Replicas, nd.id) {
				continue
			}
			p := nd.partition(tp)
			if p == nil {
				return false
			}
			s := p.State()
			if s.PartitionEpoch < st.PartitionEpoch {
				return false
			}
		}
		return true
	}, "replicas apply %s at partition epoch %d", tp, st.PartitionEpoch)
	return st
}

// produce appends one batch of n records with values prefix-i to tp on
// broker id as leader.
func (c *testCluster) produce(id int32, tp storage.TopicPartition, acks int16, prefix string, n int) (AppendResult, error) {
	nd := c.node(id)
	if nd == nil {
		return AppendResult{}, ErrNotLeader
	}
	p := nd.partition(tp)
	if p == nil {
		return AppendResult{}, ErrNotLeader
	}
	recs := make([]records.Record, n)
	for i := range recs {
		recs[i] = records.Record{Timestamp: time.Now().UnixMilli(), Value: fmt.Appendf(nil, "%s-%d", prefix, i)}
	}
	b, err := records.AppendBatch(nil, records.NewBatchOptions(), recs)
	require.NoError(c.t, err)
	return p.AppendAsLeader(b, AppendOptions{RequiredAcks: acks})
}

// produceAcked appends with acks=all and waits for the acknowledgement.
func (c *testCluster) produceAcked(id int32, tp storage.TopicPartition, prefix string, n int) error {
	res, err := c.produce(id, tp, AcksAll, prefix, n)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return res.Wait(ctx)
}

// logRecord is one record as a log holds it.
type logRecord struct {
	Offset int64
	Epoch  int32
	Value  string
}

// readLog returns every record of p's log from its start to end (-1: the
// log end).
func readLog(t *testing.T, p *Partition, end int64) []logRecord {
	t.Helper()
	l := p.Log()
	if end < 0 {
		end = l.LogEndOffset()
	}
	var out []logRecord
	off := l.LogStartOffset()
	for off < end {
		res, err := l.Read(off, 1<<20, end, true)
		require.NoError(t, err)
		buf, err := res.ReadInto(nil)
		require.NoError(t, err)
		if len(buf) == 0 {
			break
		}
		for batch, err := range records.Batches(buf) {
			require.NoError(t, err)
			h, err := records.ParseHeader(batch)
			require.NoError(t, err)
			i := int64(0)
			require.NoError(t, records.ForEachRecord(batch, 1<<20, func(r *records.Record) error {
				if !h.IsControl() {
					out = append(out, logRecord{Offset: h.BaseOffset + i, Epoch: h.PartitionLeaderEpoch, Value: string(r.Value)})
				}
				i++
				return nil
			}))
			off = h.LastOffset() + 1
		}
	}
	return out
}

// waitInSync waits until tp's committed ISR is want, every live replica
// has the leader's whole log and the same high watermark, and returns the
// leader's records.
func (c *testCluster) waitInSync(tp storage.TopicPartition, want ...int32) []logRecord {
	c.t.Helper()
	c.waitFor(func() bool {
		st, _ := c.ctrl.Get(tp)
		if !sameSet(st.ISR, want) || st.Leader < 0 {
			return false
		}
		leader := c.node(st.Leader)
		if leader == nil || leader.partition(tp) == nil {
			return false
		}
		ls := leader.partition(tp).State()
		if ls.HighWatermark != ls.LogEndOffset || !sameSet(ls.ISR, want) {
			return false
		}
		for _, id := range want {
			nd := c.node(id)
			if nd == nil || nd.partition(tp) == nil {
				return false
			}
			s := nd.partition(tp).State()
			if s.LogEndOffset != ls.LogEndOffset || s.HighWatermark != ls.HighWatermark {
				return false
			}
		}
		return true
	}, "%s in sync with ISR %v", tp, want)
	st, _ := c.ctrl.Get(tp)
	leaderLog := readLog(c.t, c.node(st.Leader).partition(tp), -1)
	for _, id := range want {
		require.Equal(c.t, leaderLog, readLog(c.t, c.node(id).partition(tp), -1), "broker %d's log is the leader's", id)
	}
	return leaderLog
}

func sameSet(a, b []int32) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

// lagPastMax moves the clock past replica.lag.time.max.ms and waits until
// every broker in fresh has fetched from the leader since, so only the
// others are out of sync; then it runs the leader's ISR check.
func (c *testCluster) lagPastMax(tp storage.TopicPartition, fresh ...int32) {
	c.t.Helper()
	c.clock.Advance(31 * time.Second)
	now := c.clock.Now().UnixMilli()
	st, _ := c.ctrl.Get(tp)
	leader := c.node(st.Leader)
	c.waitFor(func() bool {
		for _, f := range leader.partition(tp).State().Followers {
			if slices.Contains(fresh, f.ID) && f.State.LastCaughtUpTimeMs < now {
				return false
			}
		}
		return true
	}, "followers %v fetch after the clock moved", fresh)
	leader.m.MaybeShrinkISRs()
}

// values lists the records' values.
func values(rs []logRecord) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Value
	}
	return out
}

// requireAckedOnce checks that every acknowledged value appears exactly
// once in rs.
func requireAckedOnce(t *testing.T, rs []logRecord, acked []string) {
	t.Helper()
	count := map[string]int{}
	for _, r := range rs {
		count[r.Value]++
	}
	for _, v := range acked {
		require.Equal(t, 1, count[v], "acknowledged record %q", v)
	}
	for v, n := range count {
		require.Equal(t, 1, n, "record %q", v)
	}
}

var ctp = storage.TopicPartition{Topic: "events", Partition: 0}

// TestClusterReplicates: three replicas, acks=all; followers append under
// the leader's batch epochs, learn the high watermark one fetch later, and
// every log ends identical.
func TestClusterReplicates(t *testing.T) {
	c := newTestCluster(t, 3, 2)
	c.createPartition(ctp, 1, 2, 3)
	var acked []string
	for i := range 20 {
		require.NoError(t, c.produceAcked(1, ctp, fmt.Sprint("a", i), 3))
		for j := range 3 {
			acked = append(acked, fmt.Sprintf("a%d-%d", i, j))
		}
	}
	got := c.waitInSync(ctp, 1, 2, 3)
	require.Equal(t, acked, values(got))
	for _, r := range got {
		require.Equal(t, int32(1), r.Epoch, "followers keep the leader's batch epochs")
	}
	require.Empty(t, c.ctrl.Requests(), "no ISR change: every follower kept up")
	leader, ok := c.node(2).m.Following(ctp)
	require.True(t, ok)
	require.Equal(t, int32(1), leader)
	_, ok = c.node(1).m.Following(ctp)
	require.False(t, ok, "the leader fetches from no one")
}
