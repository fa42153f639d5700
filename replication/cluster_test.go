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
	t       *testing.T
	net     *InmemNetwork
	ctrl    *InmemController
	clock   *ManualClock
	minISR  int32
	fetcher FetcherConfig

	mu    sync.Mutex
	nodes map[int32]*clusterNode
	tps   []storage.TopicPartition
}

type clusterNode struct {
	c   *testCluster
	id  int32
	dir string

	logManager *storage.Manager
	m          *Manager

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
	return newTestClusterWith(t, n, minISR, testFetcherConfig)
}

func newTestClusterWith(t *testing.T, n int, minISR int32, fc FetcherConfig) *testCluster {
	c := &testCluster{
		t: t, net: NewInmemNetwork(int64(n)), ctrl: NewInmemController(),
		clock: NewManualClock(time.Unix(1_000_000, 0)), minISR: minISR, fetcher: fc, nodes: map[int32]*clusterNode{},
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
	nd := &clusterNode{c: c, id: id, dir: dir, logManager: logs, wake: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	nd.m = NewManager(Config{
		NodeID: id, Clock: c.clock, AlterPartition: alterThroughNetwork{c.net, id, c.ctrl}, AlterPartitionRetryBackoff: 5 * time.Millisecond,
		Brokers: c.ctrl.Lookup, Endpoints: func(leader int32) LeaderEndpoint { return c.net.Endpoint(id, leader) }, Fetcher: c.fetcher,
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
	require.NoError(c.t, nd.logManager.Close())
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
// has the leader's whole log, log start and high watermark, and returns
// the leader's records.
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
			if s.LogEndOffset != ls.LogEndOffset || s.HighWatermark != ls.HighWatermark ||
				nd.partition(tp).Log().LogStartOffset() != leader.partition(tp).Log().LogStartOffset() {
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

func valuesOf(prefix string, batches, perBatch int) []string {
	var out []string
	for i := range batches {
		for j := range perBatch {
			out = append(out, fmt.Sprintf("%s%d-%d", prefix, i, j))
		}
	}
	return out
}

func produceAll(t *testing.T, c *testCluster, leader int32, prefix string, batches, perBatch int) []string {
	t.Helper()
	for i := range batches {
		require.NoError(t, c.produceAcked(leader, ctp, fmt.Sprint(prefix, i), perBatch))
	}
	return valuesOf(prefix, batches, perBatch)
}

// cutLinks drops everything between a and b, both ways.
func (c *testCluster) cutLinks(a, b int32) {
	c.net.SetLink(a, b, Link{Drop: true})
	c.net.SetLink(b, a, Link{Drop: true})
}

// TestClusterFollowerLagsThenCatchesUp: a follower cut off from its leader
// holds acks=all back until replica.lag.time.max.ms passes; it leaves the
// ISR through AlterPartition, writes go on with min ISR 2, and once the
// link heals it catches up and is added back.
func TestClusterFollowerLagsThenCatchesUp(t *testing.T) {
	c := newTestCluster(t, 3, 2)
	c.createPartition(ctp, 1, 2, 3)
	acked := produceAll(t, c, 1, "before", 3, 2)
	c.waitInSync(ctp, 1, 2, 3)

	c.cutLinks(1, 3)
	res, err := c.produce(1, ctp, AcksAll, "during", 2)
	require.NoError(t, err)
	done := waitAsync(context.Background(), res)
	leader := c.node(1).partition(ctp)
	c.waitFor(func() bool { return c.node(2).partition(ctp).Log().LogEndOffset() == leader.Log().LogEndOffset() }, "follower 2 has it")
	requireNotDone(t, done)
	require.Equal(t, int64(6), leader.Log().HighWatermark(), "follower 3 holds the high watermark")

	c.lagPastMax(ctp, 2)
	require.NoError(t, requireDone(t, done))
	acked = append(acked, "during-0", "during-1")
	st := c.waitApplied(ctp)
	require.Equal(t, []int32{1, 2}, st.ISR)
	require.Equal(t, int32(2), st.PartitionEpoch)
	require.Equal(t, int32(1), st.LeaderEpoch, "an ISR change keeps the leader epoch")
	acked = append(acked, produceAll(t, c, 1, "while", 5, 4)...)

	c.net.Heal()
	got := c.waitInSync(ctp, 1, 2, 3)
	require.Equal(t, acked, values(got))
	reqs := c.ctrl.Requests()
	require.Len(t, reqs, 2)
	require.Equal(t, []int32{1, 2}, reqs[0].ISR)
	require.Equal(t, []int32{1, 2, 3}, reqs[1].ISR)
	require.Equal(t, int32(2), reqs[1].PartitionEpoch)
}

// TestClusterLeaderCrashMidAppend: the leader appends a batch no follower
// got and dies before acknowledging it; the controller elects a follower
// from the ISR, writes go on there, and the old leader restarts as a
// follower, truncates the unacknowledged batch by leader epoch and rejoins
// the ISR. Every acknowledged record is there exactly once.
func TestClusterLeaderCrashMidAppend(t *testing.T) {
	c := newTestCluster(t, 3, 2)
	c.createPartition(ctp, 1, 2, 3)
	acked := produceAll(t, c, 1, "a", 5, 2)
	c.waitInSync(ctp, 1, 2, 3)

	// The followers stop getting the leader's answers: what it appends
	// now reaches its log only.
	c.net.SetLink(1, 2, Link{Drop: true})
	c.net.SetLink(1, 3, Link{Drop: true})
	res, err := c.produce(1, ctp, AcksAll, "lost", 3)
	require.NoError(t, err)
	old := c.node(1)
	lostEnd := old.partition(ctp).Log().LogEndOffset()
	require.Equal(t, int64(13), lostEnd)
	old.crash()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	require.ErrorIs(t, res.Wait(ctx), ErrTimedOut, "never acknowledged")
	cancel()

	c.net.Heal()
	c.ctrl.Fence(1, true)
	st := c.ctrl.Elect(ctp, func(id int32) bool { return id != 1 }, false)
	require.Equal(t, int32(2), st.Leader)
	require.Equal(t, []int32{2, 3}, st.ISR)
	require.Equal(t, int32(2), st.LeaderEpoch)
	c.waitApplied(ctp)
	acked = append(acked, produceAll(t, c, 2, "b", 4, 2)...)

	old.restart()
	c.ctrl.Fence(1, false)
	got := c.waitInSync(ctp, 1, 2, 3)
	require.Equal(t, acked, values(got))
	requireAckedOnce(t, got, acked)
	for _, r := range got {
		require.Equal(t, r.Offset >= 10, r.Epoch == 2, "offset %d epoch %d", r.Offset, r.Epoch)
	}
}

// TestClusterPartitionIsolatesLeader: a leader cut off from its followers
// and the controller keeps believing it leads, but with min ISR 2 it
// acknowledges no acks=all write: its high watermark cannot move and its
// ISR shrink cannot reach the controller. The majority side elects a new
// leader and goes on; when the partition heals the old leader follows,
// drops what it never acknowledged and rejoins the ISR.
func TestClusterPartitionIsolatesLeader(t *testing.T) {
	c := newTestCluster(t, 3, 2)
	c.createPartition(ctp, 1, 2, 3)
	acked := produceAll(t, c, 1, "a", 3, 2)
	c.waitInSync(ctp, 1, 2, 3)

	c.net.Partition([]int32{1}, []int32{controllerID, 2, 3})
	old := c.node(1)
	old.setCut(true)
	p1 := old.partition(ctp)
	hw := p1.Log().HighWatermark()
	var pending []chan error
	isolatedWrite := func(i int) {
		res, err := c.produce(1, ctp, AcksAll, fmt.Sprint("isolated", i), 1)
		require.NoError(t, err, "the ISR it knows is still {1,2,3}")
		pending = append(pending, waitAsync(context.Background(), res))
	}
	isolatedWrite(0)
	// Its ISR check cannot reach the controller: the ISR it knows stays,
	// and so does its high watermark.
	c.clock.Advance(31 * time.Second)
	old.m.MaybeShrinkISRs()
	c.waitFor(func() bool { return c.net.Stats(1, controllerID).Dropped > 0 }, "the shrink is sent and lost")
	require.True(t, p1.State().AlterPartitionInFlight)
	require.Equal(t, []int32{1, 2, 3}, p1.State().ISR)
	isolatedWrite(1)

	c.ctrl.Fence(1, true)
	st := c.ctrl.Elect(ctp, func(id int32) bool { return id != 1 }, false)
	require.Equal(t, int32(2), st.Leader)
	c.waitApplied(ctp)
	acked = append(acked, produceAll(t, c, 2, "b", 3, 2)...)
	isolatedWrite(2)
	require.Equal(t, hw, p1.Log().HighWatermark(), "the isolated leader's high watermark never moved")
	for _, ch := range pending {
		requireNotDone(t, ch)
	}

	c.net.Heal()
	c.ctrl.Fence(1, false)
	old.setCut(false)
	for _, ch := range pending {
		require.ErrorIs(t, requireDone(t, ch), ErrNotLeader, "leadership moved: never acknowledged")
	}
	got := c.waitInSync(ctp, 1, 2, 3)
	require.Equal(t, acked, values(got))
	requireAckedOnce(t, got, acked)
}

// TestClusterFlappingLinks: five replicas, min ISR 3, every link drops a
// third of its messages and links go down and up at random while a
// producer writes; the ISR shrinks and expands as the clock jumps. Each
// acknowledged write is in every log exactly once, in order, once the
// network heals.
func TestClusterFlappingLinks(t *testing.T) {
	c := newTestCluster(t, 5, 3)
	c.createPartition(ctp, 1, 2, 3, 4, 5)
	for a := int32(1); a <= 5; a++ {
		for b := int32(1); b <= 5; b++ {
			if a != b {
				c.net.SetLink(a, b, Link{DropRate: 0.3})
			}
		}
	}
	stop := make(chan struct{})
	flapped := make(chan struct{})
	go func() {
		defer close(flapped)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(3 * time.Millisecond):
			}
			a, b := int32(2+i%4), int32(1)
			if i%2 == 1 {
				a, b = b, a
			}
			c.net.SetLink(a, b, Link{DropRate: 0.3, Drop: i%3 == 0})
		}
	}()
	var acked []string
	shrinks := 0
	for i := range 40 {
		res, err := c.produce(1, ctp, AcksAll, fmt.Sprint("f", i), 2)
		if err != nil {
			require.ErrorIs(t, err, ErrNotEnoughReplicas)
			c.waitFor(func() bool { return len(c.node(1).partition(ctp).State().ISR) >= 3 }, "followers rejoin the ISR")
			continue
		}
		if i%8 == 7 {
			// Before the followers fetched the append: they all lag.
			c.clock.Advance(31 * time.Second)
			c.node(1).m.MaybeShrinkISRs()
			shrinks++
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := res.Wait(ctx); err == nil {
			acked = append(acked, fmt.Sprintf("f%d-0", i), fmt.Sprintf("f%d-1", i))
		}
		cancel()
	}
	close(stop)
	<-flapped
	c.net.Heal()
	require.NotEmpty(t, acked)
	got := c.waitInSync(ctp, 1, 2, 3, 4, 5)
	var shrank, expanded bool
	for _, r := range c.ctrl.Requests() {
		shrank = shrank || len(r.ISR) < 5
		expanded = expanded || len(r.ISR) > 1
	}
	require.True(t, shrank && expanded, "the ISR shrank and expanded (%d lag checks)", shrinks)
	requireAckedOnce(t, got, acked)
	require.True(t, slices.IsSortedFunc(got, func(a, b logRecord) int { return int(a.Offset - b.Offset) }))
}

// TestClusterUncleanLeaderElection: with every ISR member down, a clean
// election leaves the partition leaderless; an unclean one elects the
// lagging replica, and the old ISR members restart as its followers and
// truncate to where its log diverged from theirs, by leader epoch.
func TestClusterUncleanLeaderElection(t *testing.T) {
	c := newTestCluster(t, 3, 1)
	c.createPartition(ctp, 1, 2, 3)
	shared := produceAll(t, c, 1, "a", 3, 2)
	c.waitInSync(ctp, 1, 2, 3)

	// 3 is cut off while the leader takes more: it falls behind (a
	// follower that has the whole log never counts as lagging).
	c.cutLinks(1, 3)
	_, err := c.produce(1, ctp, 1, "b", 2)
	require.NoError(t, err)
	c.lagPastMax(ctp, 2)
	c.waitFor(func() bool { st, _ := c.ctrl.Get(ctp); return sameSet(st.ISR, []int32{1, 2}) }, "3 leaves the ISR")
	c.waitApplied(ctp)
	lost := append([]string{"b-0", "b-1"}, produceAll(t, c, 1, "b", 3, 2)...)
	c.waitInSync(ctp, 1, 2)

	n1, n2 := c.node(1), c.node(2)
	n1.crash()
	n2.crash()
	c.net.Heal()
	c.ctrl.Fence(1, true)
	c.ctrl.Fence(2, true)
	alive := func(id int32) bool { return id == 3 }
	st := c.ctrl.Elect(ctp, alive, false)
	require.Equal(t, int32(-1), st.Leader, "no ISR member alive: a clean election finds no leader")
	st = c.ctrl.Elect(ctp, alive, true)
	require.Equal(t, int32(3), st.Leader)
	require.Equal(t, []int32{3}, st.ISR)
	require.Equal(t, int32(3), st.LeaderEpoch)
	c.waitApplied(ctp)
	after := produceAll(t, c, 3, "c", 2, 2)

	n1.restart()
	n2.restart()
	c.ctrl.Fence(1, false)
	c.ctrl.Fence(2, false)
	got := c.waitInSync(ctp, 1, 2, 3)
	require.Equal(t, append(slices.Clone(shared), after...), values(got))
	for _, v := range lost {
		require.NotContains(t, values(got), v, "written after 3 left the ISR: lost to the unclean election")
	}
}

// TestClusterStaleAlterPartition: the controller refuses ISR changes made
// from a stale partition epoch (INVALID_UPDATE_VERSION) or by a leader
// whose epoch is over (FENCED_LEADER_EPOCH); the leader waits for the
// metadata, then proposes again from the new state.
func TestClusterStaleAlterPartition(t *testing.T) {
	c := newTestCluster(t, 3, 1)
	c.createPartition(ctp, 1, 2, 3)
	produceAll(t, c, 1, "a", 2, 2)
	c.waitInSync(ctp, 1, 2, 3)
	n1 := c.node(1)

	// The partition epoch moves on while broker 1 does not hear of it.
	n1.setCut(true)
	st, _ := c.ctrl.Get(ctp)
	st.PartitionEpoch++
	c.ctrl.Set(ctp, st)
	c.cutLinks(1, 3)
	_, err := c.produce(1, ctp, 1, "b", 2)
	require.NoError(t, err)
	c.lagPastMax(ctp, 2)
	c.waitFor(func() bool { return len(c.ctrl.Requests()) == 1 }, "the shrink reaches the controller")
	req := c.ctrl.Requests()[0]
	require.Equal(t, int32(1), req.PartitionEpoch)
	require.Equal(t, []int32{1, 2}, req.ISR)
	got, _ := c.ctrl.Get(ctp)
	require.Equal(t, []int32{1, 2, 3}, got.ISR, "refused: stale partition epoch")
	c.waitFor(func() bool { return n1.partition(ctp).State().AlterPartitionInFlight }, "waiting for metadata")
	require.Never(t, func() bool { return len(c.ctrl.Requests()) > 1 }, 30*time.Millisecond, 5*time.Millisecond,
		"INVALID_UPDATE_VERSION is not retried")

	n1.setCut(false)
	c.waitApplied(ctp)
	require.False(t, n1.partition(ctp).State().AlterPartitionInFlight, "new metadata resets the proposal")
	n1.m.MaybeShrinkISRs()
	c.waitFor(func() bool { got, _ := c.ctrl.Get(ctp); return sameSet(got.ISR, []int32{1, 2}) }, "proposed again and committed")
	require.Equal(t, int32(2), c.ctrl.Requests()[1].PartitionEpoch)
	c.waitApplied(ctp)

	// Leadership moves to 2 while neither 1 nor 3 hears of it; 1 sees 3
	// catch up and proposes it for the ISR under its old leader epoch.
	n1.setCut(true)
	c.node(3).setCut(true)
	st, _ = c.ctrl.Get(ctp)
	st.Leader, st.LeaderEpoch, st.PartitionEpoch = 2, st.LeaderEpoch+1, st.PartitionEpoch+1
	c.ctrl.Set(ctp, st)
	c.net.Heal()
	c.waitFor(func() bool { return len(c.ctrl.Requests()) >= 3 && c.ctrl.Requests()[2].BrokerID == 1 }, "1 proposes adding 3")
	require.Equal(t, int32(1), c.ctrl.Requests()[2].LeaderEpoch)
	got, _ = c.ctrl.Get(ctp)
	require.Equal(t, int32(2), got.Leader)
	require.Equal(t, []int32{1, 2}, got.ISR, "refused: fenced leader epoch")

	n1.setCut(false)
	c.node(3).setCut(false)
	c.waitInSync(ctp, 1, 2, 3)
	require.Equal(t, int32(2), c.ctrl.Requests()[len(c.ctrl.Requests())-1].BrokerID, "the new leader added 3")
}

// TestClusterLeaderWithoutAppendsRejoins is chaos seed 7's stuck ISR: a
// broker becomes leader, records its new epoch's start at its log end, and
// loses leadership (paused past its session, fenced) before appending
// anything under it. As a follower its latest epoch is then one the new
// leader never had: the leader answers every fetch with a diverging epoch
// ending at the follower's log end, so the truncation removes no batch. It
// must still drop that empty epoch (Kafka's truncateTo), or the follower
// asks again at once with the same epoch, forever, and never rejoins the
// ISR.
func TestClusterLeaderWithoutAppendsRejoins(t *testing.T) {
	c := newTestCluster(t, 3, 2)
	c.createPartition(ctp, 1, 2, 3)
	acked := produceAll(t, c, 1, "a", 3, 2)
	c.waitInSync(ctp, 1, 2, 3)

	// Broker 3 leads epoch 2 and appends nothing.
	st, _ := c.ctrl.Get(ctp)
	st.Leader, st.LeaderEpoch, st.PartitionEpoch = 3, st.LeaderEpoch+1, st.PartitionEpoch+1
	c.ctrl.Set(ctp, st)
	c.waitApplied(ctp)
	p3 := c.node(3).partition(ctp)
	leo := p3.Log().LogEndOffset()
	require.Equal(t, storage.EpochEntry{Epoch: 2, StartOffset: leo}, lastEpoch(p3), "epoch 2 starts at the log end")

	// It is fenced: broker 1 leads epoch 3 without it and appends.
	st.Leader, st.LeaderEpoch, st.PartitionEpoch, st.ISR = 1, st.LeaderEpoch+1, st.PartitionEpoch+1, []int32{1, 2}
	c.ctrl.Set(ctp, st)
	c.waitApplied(ctp)
	acked = append(acked, produceAll(t, c, 1, "b", 3, 2)...)

	got := c.waitInSync(ctp, 1, 2, 3)
	require.Equal(t, acked, values(got))
	require.Equal(t, c.node(1).partition(ctp).Log().LeaderEpochCache().Entries(), p3.Log().LeaderEpochCache().Entries(),
		"broker 3 dropped its empty epoch 2")
}

func lastEpoch(p *Partition) storage.EpochEntry {
	es := p.Log().LeaderEpochCache().Entries()
	if len(es) == 0 {
		return storage.EpochEntry{Epoch: -1, StartOffset: -1}
	}
	return es[len(es)-1]
}

// producerBatch is an idempotent (or transactional) producer's batch of n
// records starting at sequence seq.
func producerBatch(t *testing.T, pid int64, seq int32, n int, txn bool, prefix string) []byte {
	t.Helper()
	o := records.NewBatchOptions()
	o.ProducerID, o.ProducerEpoch, o.BaseSequence, o.Transactional = pid, 0, seq, txn
	recs := make([]records.Record, n)
	for i := range recs {
		recs[i] = records.Record{Timestamp: time.Now().UnixMilli(), Value: fmt.Appendf(nil, "%s-%d", prefix, i)}
	}
	b, err := records.AppendBatch(nil, o, recs)
	require.NoError(t, err)
	return b
}

func appendWait(t *testing.T, p *Partition, b []byte) AppendResult {
	t.Helper()
	res, err := p.AppendAsLeader(b, AppendOptions{RequiredAcks: AcksAll})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, res.Wait(ctx))
	return res
}

// TestClusterProducerStateFailover: followers rebuild the producer state
// and the aborted-transaction index from the batches they replicate, so
// after a failover an idempotent producer's retry is recognised as a
// duplicate (no second copy, no OutOfOrderSequence) and read_committed
// readers get the same last stable offset and aborted transactions.
func TestClusterProducerStateFailover(t *testing.T) {
	c := newTestCluster(t, 3, 2)
	c.createPartition(ctp, 1, 2, 3)
	p1 := c.node(1).partition(ctp)
	var firsts []int64
	for i := range 4 {
		res := appendWait(t, p1, producerBatch(t, 77, int32(2*i), 2, false, fmt.Sprint("idem", i)))
		firsts = append(firsts, res.FirstOffset)
	}
	// An aborted transaction, then one still open.
	appendWait(t, p1, producerBatch(t, 88, 0, 2, true, "aborted"))
	appendWait(t, p1, records.EndTxnMarker(88, 0, false, 0, time.Now().UnixMilli()))
	open := appendWait(t, p1, producerBatch(t, 99, 0, 1, true, "open"))
	c.waitInSync(ctp, 1, 2, 3)
	leaderAborted := p1.Log().AbortedTransactions(0, p1.Log().LogEndOffset())
	require.Len(t, leaderAborted, 1)
	for _, id := range []int32{2, 3} {
		l := c.node(id).partition(ctp).Log()
		require.Equal(t, p1.Log().ActiveProducers(), l.ActiveProducers(), "broker %d's producer state", id)
		require.Equal(t, leaderAborted, l.AbortedTransactions(0, l.LogEndOffset()), "broker %d's aborted transactions", id)
		require.Equal(t, open.FirstOffset, l.LastStableOffset(), "broker %d: the open transaction bounds the LSO", id)
	}

	old := c.node(1)
	old.crash()
	c.ctrl.Fence(1, true)
	st := c.ctrl.Elect(ctp, func(id int32) bool { return id != 1 }, false)
	require.Equal(t, int32(2), st.Leader)
	c.waitApplied(ctp)
	p2 := c.node(2).partition(ctp)

	res := appendWait(t, p2, producerBatch(t, 77, 6, 2, false, "idem3"))
	require.True(t, res.Duplicate, "a retry of the last batch after failover")
	require.Equal(t, firsts[3], res.FirstOffset)
	res = appendWait(t, p2, producerBatch(t, 77, 8, 2, false, "idem4"))
	require.False(t, res.Duplicate)
	_, err := p2.AppendAsLeader(producerBatch(t, 77, 12, 2, false, "gap"), AppendOptions{RequiredAcks: AcksAll})
	require.ErrorIs(t, err, storage.ErrOutOfOrderSequence)

	info, err := p2.Read(ReadOptions{FetchOffset: 0, MaxBytes: 1 << 20, MinOneBatch: true, Isolation: ReadCommitted, ReplicaID: -1,
		CurrentLeaderEpoch: -1, LastFetchedEpoch: -1})
	require.NoError(t, err)
	require.Equal(t, open.FirstOffset, info.LastStableOffset)
	require.Equal(t, leaderAborted, info.Aborted)

	old.restart()
	c.ctrl.Fence(1, false)
	got := c.waitInSync(ctp, 1, 2, 3)
	n := 0
	for _, r := range got {
		if r.Value == "idem3-0" {
			n++
		}
	}
	require.Equal(t, 1, n, "no duplicate after failover")
}

// TestClusterDeleteRecords: DeleteRecords moves the leader's log start;
// followers follow it on their next fetch and the low watermark (smallest
// log start of the live replicas) reaches the offset only then. A follower
// that was down meanwhile finds its log end below the leader's log start
// (OFFSET_OUT_OF_RANGE), restarts its log there and rejoins the ISR.
func TestClusterDeleteRecords(t *testing.T) {
	c := newTestCluster(t, 3, 1)
	c.createPartition(ctp, 1, 2, 3)
	produceAll(t, c, 1, "a", 5, 2)
	c.waitInSync(ctp, 1, 2, 3)
	p1 := c.node(1).partition(ctp)

	start, err := p1.DeleteRecords(4)
	require.NoError(t, err)
	require.Equal(t, int64(4), start)
	c.waitFor(func() bool {
		low, err := p1.LowWatermark()
		return err == nil && low == 4
	}, "the followers report log start 4")
	for _, id := range []int32{2, 3} {
		require.Equal(t, int64(4), c.node(id).partition(ctp).Log().LogStartOffset(), "broker %d", id)
	}
	_, err = c.node(2).partition(ctp).LowWatermark()
	require.ErrorIs(t, err, ErrNotLeader)

	// Broker 3 goes down; the leader moves on without it and deletes
	// past everything 3 has.
	n3 := c.node(3)
	n3.crash()
	_, err = c.produce(1, ctp, 1, "b", 2)
	require.NoError(t, err)
	c.lagPastMax(ctp, 2)
	c.waitFor(func() bool { st, _ := c.ctrl.Get(ctp); return sameSet(st.ISR, []int32{1, 2}) }, "3 leaves the ISR")
	c.waitApplied(ctp)
	produceAll(t, c, 1, "c", 4, 2)
	c.waitInSync(ctp, 1, 2)
	_, err = p1.DeleteRecords(-1) // up to the high watermark
	require.NoError(t, err)
	require.Equal(t, int64(20), p1.Log().LogStartOffset())
	low, err := p1.LowWatermark()
	require.NoError(t, err)
	require.Less(t, low, int64(20), "broker 2 has not fetched since")

	n3.restart()
	got := c.waitInSync(ctp, 1, 2, 3)
	require.Empty(t, got, "everything was deleted")
	require.Equal(t, int64(20), c.node(3).partition(ctp).Log().LogStartOffset())
	require.Equal(t, int64(20), c.node(3).partition(ctp).Log().LogEndOffset())
	c.waitFor(func() bool {
		low, err := p1.LowWatermark()
		return err == nil && low == 20
	}, "low watermark 20")
}

// TestClusterSeveralFetchers: with num.replica.fetchers 2 a follower spreads
// the partitions of one leader over two fetcher goroutines by hash, each
// with its own connection, and stops a fetcher left without partitions.
func TestClusterSeveralFetchers(t *testing.T) {
	fc := testFetcherConfig
	fc.NumFetchers = 2
	c := newTestClusterWith(t, 2, 1, fc)
	var tps []storage.TopicPartition
	for i := range int32(6) {
		tp := storage.TopicPartition{Topic: "spread", Partition: i}
		tps = append(tps, tp)
		c.createPartition(tp, 1, 2)
	}
	for _, tp := range tps {
		res, err := c.produce(1, tp, AcksAll, tp.String(), 3)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		require.NoError(t, res.Wait(ctx))
		cancel()
	}
	fm := c.node(2).m.fetchers
	fm.mu.Lock()
	used := map[int]int{}
	for _, key := range fm.assigned {
		require.Equal(t, int32(1), key.leader)
		used[key.index]++
	}
	fetchers := len(fm.fetchers)
	fm.mu.Unlock()
	require.Len(t, used, 2, "both fetchers have partitions: %v", used)
	require.Equal(t, 2, fetchers)
	for _, tp := range tps {
		require.Equal(t, int64(3), c.node(2).partition(tp).Log().LogEndOffset())
	}
	// Leadership of every partition moves to broker 2: its fetchers stop.
	for _, tp := range tps {
		st, _ := c.ctrl.Get(tp)
		st.Leader, st.LeaderEpoch, st.PartitionEpoch = 2, st.LeaderEpoch+1, st.PartitionEpoch+1
		c.ctrl.Set(tp, st)
	}
	c.waitFor(func() bool {
		fm.mu.Lock()
		defer fm.mu.Unlock()
		return len(fm.fetchers) == 0 && len(fm.assigned) == 0
	}, "broker 2 fetches from no one")
	c.waitFor(func() bool {
		_, ok := c.node(1).m.Following(tps[0])
		return ok
	}, "broker 1 follows broker 2")
}
