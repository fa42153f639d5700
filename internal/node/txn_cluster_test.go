package node_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/coordinator/group"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// Transactions and coordinators on a replicated cluster: three combined
// nodes with Kafka's defaults for the internal topics (replication factor
// 3, transaction.state.log.min.isr 2), a few internal partitions to keep
// the test light.

const txnClusterInternalPartitions = 3

func startTxnCluster(t *testing.T) *testCluster {
	t.Helper()
	c := newTestCluster(t, []clusterSpec{
		{1, "broker,controller", "voters"},
		{2, "broker,controller", "voters"},
		{3, "broker,controller", "voters"},
	},
		fmt.Sprintf("KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS=%d", txnClusterInternalPartitions),
		fmt.Sprintf("KAFKA_TRANSACTION_STATE_LOG_NUM_PARTITIONS=%d", txnClusterInternalPartitions),
		"KAFKA_MIN_INSYNC_REPLICAS=2",
	)
	for _, id := range []int32{1, 2, 3} {
		c.start(id)
	}
	for _, id := range []int32{1, 2, 3} {
		c.waitReady(id)
	}
	c.waitImages("three brokers unfenced", unfenced(1, 2, 3))
	return c
}

// seeds is every running broker's address.
func (c *testCluster) seeds() []string {
	var out []string
	for _, id := range []int32{1, 2, 3} {
		if c.node(id) != nil {
			out = append(out, c.nodes[id].addr())
		}
	}
	return out
}

// createSpreadTopic creates topic with RF 3 and waits until its
// partitions are led by distinct brokers everywhere (placement balances
// leaders; a preferred election restores them).
func (c *testCluster) createSpreadTopic(ctx context.Context, adm *kadm.Client, topic string, partitions int32) {
	t := c.t
	t.Helper()
	created, err := adm.CreateTopic(ctx, partitions, 3, nil, topic)
	require.NoError(t, err)
	require.NoError(t, created.Err)
	c.waitImages(topic+" led by distinct brokers", func(img *controller.MetadataImage) bool {
		ti := img.Topic(topic)
		if ti == nil {
			return false
		}
		leaders := map[int32]bool{}
		for _, p := range ti.Partitions {
			if p.Leader < 0 || len(p.ISR) != 3 {
				return false
			}
			leaders[p.Leader] = true
		}
		return len(leaders) == min(int(partitions), 3)
	})
}

// consumeToSentinels reads topic with read_committed until every
// partition has returned a record whose value starts with "sentinel"
// (written last, outside any transaction): a read_committed fetch returns
// it only once the last stable offset has passed every transaction before
// it, so what came before is all there is.
func consumeToSentinels(ctx context.Context, t *testing.T, seeds []string, topic string, partitions int32) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer cl.Close()
	var out []*kgo.Record
	done := map[int32]bool{}
	for len(done) < int(partitions) {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "sentinels seen on %v of %d partitions", done, partitions)
		fs.EachError(func(_ string, p int32, err error) { t.Logf("fetch %s-%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if strings.HasPrefix(string(r.Value), "sentinel") {
				done[r.Partition] = true
				return
			}
			out = append(out, r)
		})
	}
	return out
}

// writeSentinels writes one non-transactional record to every partition.
func writeSentinels(ctx context.Context, t *testing.T, seeds []string, topic string, partitions int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	defer cl.Close()
	for p := int32(0); p < partitions; p++ {
		require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte("sentinel")}).FirstErr())
	}
}

// waitLSOAtEnd waits until every partition's last stable offset (asked of
// its leader with read_committed) equals its high watermark: no
// transaction is left open on any leader.
func waitLSOAtEnd(ctx context.Context, t *testing.T, adm *kadm.Client, topic string) {
	t.Helper()
	var last string
	atEnd := func() bool {
		lso, err := adm.ListCommittedOffsets(ctx, topic)
		if err != nil || lso.Error() != nil {
			last = fmt.Sprint(err, lso.Error())
			return false
		}
		hw, err := adm.ListEndOffsets(ctx, topic)
		if err != nil || hw.Error() != nil {
			last = fmt.Sprint(err, hw.Error())
			return false
		}
		ok := true
		last = ""
		hw.Each(func(o kadm.ListedOffset) {
			l, found := lso.Lookup(o.Topic, o.Partition)
			ok = ok && found && l.Offset == o.Offset
			last += fmt.Sprintf(" %d: lso %d hw %d;", o.Partition, l.Offset, o.Offset)
		})
		return ok
	}
	if !assert.Eventually(t, atEnd, 30*time.Second, 10*time.Millisecond) {
		require.FailNow(t, "LSO != HW", "%s:%s", topic, last)
	}
}

func values(rs []*kgo.Record) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, string(r.Value))
	}
	return out
}

// TestClusterTransactionsAcrossLeaders: a consume-transform-produce
// session moves records into a topic whose three partitions are led by
// three different brokers, committing offsets in the transaction
// (TxnOffsetCommit), and another producer aborts a transaction over the
// same partitions. The coordinator writes the markers on the other
// brokers with WriteTxnMarkers: a read_committed consumer sees exactly
// the committed records, every leader's LSO reaches its high watermark,
// and the group's offsets are committed.
func TestClusterTransactionsAcrossLeaders(t *testing.T) {
	c := startTxnCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	seeds := c.seeds()
	adm := newAdmin(t, seeds[0])
	c.createSpreadTopic(ctx, adm, "in", 1)
	c.createSpreadTopic(ctx, adm, "out", 3)

	const n = 30
	prod, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic("in"))
	require.NoError(t, err)
	for i := range n {
		require.NoError(t, prod.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "moved-%d", i)}).FirstErr())
	}
	prod.Close()

	// Committed: every record of "in" moved, 3 to 10 per transaction, each
	// transaction touching all three leaders.
	sess, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(seeds...), kgo.TransactionalID("mover"),
		kgo.ConsumerGroup("movers"), kgo.ConsumeTopics("in"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.DefaultProduceTopic("out"), kgo.FetchMaxPartitionBytes(400))
	require.NoError(t, err)
	defer sess.Close()
	moved, txns := 0, 0
	for moved < n {
		fs := sess.PollFetches(ctx)
		require.NoError(t, ctx.Err())
		if fs.NumRecords() == 0 {
			continue
		}
		require.NoError(t, sess.Begin())
		i := 0
		fs.EachRecord(func(r *kgo.Record) {
			sess.Produce(ctx, &kgo.Record{Partition: int32(i % 3), Value: r.Value}, nil)
			i++
		})
		committed, err := sess.End(ctx, kgo.TryCommit)
		require.NoError(t, err)
		require.True(t, committed)
		moved += fs.NumRecords()
		txns++
	}
	t.Logf("moved %d records in %d transactions", moved, txns)

	// Aborted: a second producer's transaction over the same partitions.
	aborter, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.TransactionalID("aborter"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	defer aborter.Close()
	require.NoError(t, aborter.BeginTransaction())
	for i := range 9 {
		require.NoError(t, aborter.ProduceSync(ctx, &kgo.Record{Topic: "out", Partition: int32(i % 3), Value: fmt.Appendf(nil, "aborted-%d", i)}).FirstErr())
	}
	require.NoError(t, aborter.EndTransaction(ctx, kgo.TryAbort))
	// The same producer commits afterwards.
	require.NoError(t, aborter.BeginTransaction())
	for i := range 3 {
		require.NoError(t, aborter.ProduceSync(ctx, &kgo.Record{Topic: "out", Partition: int32(i), Value: fmt.Appendf(nil, "after-abort-%d", i)}).FirstErr())
	}
	require.NoError(t, aborter.EndTransaction(ctx, kgo.TryCommit))

	waitLSOAtEnd(ctx, t, adm, "out")
	writeSentinels(ctx, t, seeds, "out", 3)
	got := values(consumeToSentinels(ctx, t, seeds, "out", 3))
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("moved-%d", i))
	}
	for i := range 3 {
		want = append(want, fmt.Sprintf("after-abort-%d", i))
	}
	require.ElementsMatch(t, want, got, "exactly the committed records")

	offs, err := adm.FetchOffsets(ctx, "movers")
	require.NoError(t, err)
	o, ok := offs.Lookup("in", 0)
	require.True(t, ok)
	require.EqualValues(t, n, o.At, "the transactional offsets were committed")

	// The coordinators really were spread: the markers crossed brokers.
	img := c.image()
	coord := img.Topic("__transaction_state").Partitions[group.PartitionFor("mover", txnClusterInternalPartitions)].Leader
	var remote []int32
	for _, p := range img.Topic("out").Partitions {
		if p.Leader != coord {
			remote = append(remote, p.Leader)
		}
	}
	require.Len(t, remote, 2, "two of out's leaders are not the coordinator %d", coord)

	// A partition deleted before the commit needs no marker: the
	// coordinator drops it, as Kafka does, and completes the transaction.
	c.createSpreadTopic(ctx, adm, "doomed", 1)
	require.NoError(t, aborter.BeginTransaction())
	require.NoError(t, aborter.ProduceSync(ctx, &kgo.Record{Topic: "doomed", Partition: 0, Value: []byte("lost")}).FirstErr())
	require.NoError(t, aborter.ProduceSync(ctx, &kgo.Record{Topic: "out", Partition: 0, Value: []byte("kept")}).FirstErr())
	deleted, err := adm.DeleteTopics(ctx, "doomed")
	require.NoError(t, err)
	require.NoError(t, deleted.Error())
	c.waitImages("doomed deleted", func(img *controller.MetadataImage) bool { return img.Topic("doomed") == nil })
	require.NoError(t, aborter.EndTransaction(ctx, kgo.TryCommit))
	waitLSOAtEnd(ctx, t, adm, "out")
	require.Eventually(t, func() bool {
		d, err := adm.DescribeTransactions(ctx, "aborter")
		if err != nil {
			return false
		}
		tx, ok := d["aborter"]
		return ok && tx.Err == nil && tx.State == "CompleteCommit"
	}, 30*time.Second, 10*time.Millisecond)
}

// TestClusterTransactionCoordinatorFailover: the broker leading the
// transaction coordinator's __transaction_state partition crashes in the
// middle of a transaction. Another replica becomes leader, loads the
// state and coordinates: the producer commits the open transaction there,
// runs the next one, and a new instance (InitProducerId) fences the old
// one and carries on. A read_committed consumer sees exactly the committed
// records; every leader's LSO reaches its high watermark. The old
// coordinator, restarted, is a follower and answers NOT_COORDINATOR.
func TestClusterTransactionCoordinatorFailover(t *testing.T) {
	c := startTxnCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	seeds := c.seeds()
	adm := newAdmin(t, seeds[0])
	c.createSpreadTopic(ctx, adm, "out", 3)

	const txnID = "survivor"
	newProducer := func() *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...), kgo.TransactionalID(txnID), kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.TransactionTimeout(60*time.Second))
		require.NoError(t, err)
		t.Cleanup(cl.Close)
		return cl
	}
	produce := func(cl *kgo.Client, prefix string) []string {
		var vs []string
		for p := range int32(3) {
			v := fmt.Sprintf("%s-%d", prefix, p)
			require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: "out", Partition: p, Value: []byte(v)}).FirstErr())
			vs = append(vs, v)
		}
		return vs
	}
	var want []string
	p1 := newProducer()
	require.NoError(t, p1.BeginTransaction())
	want = append(want, produce(p1, "first")...)
	require.NoError(t, p1.EndTransaction(ctx, kgo.TryCommit))

	// Open a transaction, then crash its coordinator.
	require.NoError(t, p1.BeginTransaction())
	want = append(want, produce(p1, "open")...)
	statePart := group.PartitionFor(txnID, txnClusterInternalPartitions)
	coord := c.image().Topic("__transaction_state").Partitions[statePart].Leader
	t.Logf("killing coordinator %d (__transaction_state-%d) mid-transaction", coord, statePart)
	c.kill(coord)
	c.waitImages("coordinator partition moved", func(img *controller.MetadataImage) bool {
		p := img.Topic("__transaction_state").Partitions[statePart]
		return p.Leader >= 0 && p.Leader != coord
	})
	// The new coordinator loaded the Ongoing transaction: the producer
	// commits it there.
	require.NoError(t, p1.EndTransaction(ctx, kgo.TryCommit))
	require.NoError(t, p1.BeginTransaction())
	want = append(want, produce(p1, "after-failover")...)
	require.NoError(t, p1.EndTransaction(ctx, kgo.TryCommit))

	// An open transaction of p1 is aborted when a new instance starts.
	require.NoError(t, p1.BeginTransaction())
	produce(p1, "fenced")
	p2 := newProducer()
	require.NoError(t, p2.BeginTransaction())
	want = append(want, produce(p2, "second-instance")...)
	require.NoError(t, p2.EndTransaction(ctx, kgo.TryCommit))
	require.Error(t, p1.EndTransaction(ctx, kgo.TryCommit), "the old instance is fenced")

	waitLSOAtEnd(ctx, t, adm, "out")
	writeSentinels(ctx, t, c.seeds(), "out", 3)
	require.ElementsMatch(t, want, values(consumeToSentinels(ctx, t, c.seeds(), "out", 3)))

	// The old coordinator comes back as a follower of the partition: it
	// does not coordinate the id.
	c.start(coord)
	c.waitReady(coord)
	c.waitImages("old coordinator unfenced", unfenced(coord))
	find := adm.FindTxnCoordinators(ctx, txnID)
	r, ok := find[txnID]
	require.True(t, ok)
	require.NoError(t, r.Err)
	require.NotEqual(t, coord, r.NodeID, "FindCoordinator names the new leader")
	require.Eventually(t, func() bool {
		r := rawRequest(t, c.nodes[coord].addr(), 0, &protocol.DescribeTransactionsRequest{TransactionalIDs: []protocol.TransactionalID{txnID}}).(*protocol.DescribeTransactionsResponse)
		return len(r.TransactionStates) == 1 && r.TransactionStates[0].ErrorCode == errcode.NotCoordinator
	}, 30*time.Second, 10*time.Millisecond, "the old coordinator answers NOT_COORDINATOR")
	describe := rawRequest(t, c.nodes[r.NodeID].addr(), 0, &protocol.DescribeTransactionsRequest{TransactionalIDs: []protocol.TransactionalID{txnID}}).(*protocol.DescribeTransactionsResponse)
	require.Len(t, describe.TransactionStates, 1)
	require.Zero(t, describe.TransactionStates[0].ErrorCode)
	require.Equal(t, "CompleteCommit", describe.TransactionStates[0].TransactionState)
}

// TestClusterIdempotentProducerLeaderFailover: an idempotent producer
// writes with several batches in flight while the partition's leader
// crashes; a follower built the producer state (last sequences, epoch)
// from the replicated batches, so after the leader change the producer
// goes on with no OutOfOrderSequence and no duplicate: every acknowledged
// record is read back exactly once, in order.
func TestClusterIdempotentProducerLeaderFailover(t *testing.T) {
	c := startTxnCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	adm := newAdmin(t, c.seeds()[0])
	c.createSpreadTopic(ctx, adm, "idem", 1)
	leader := c.image().Topic("idem").Partitions[0].Leader

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...), kgo.DefaultProduceTopic("idem"),
		kgo.ProducerLinger(time.Millisecond), kgo.MaxBufferedRecords(64))
	require.NoError(t, err)
	defer cl.Close()

	var (
		mu    sync.Mutex
		acked = map[int]int64{} // record number → offset
		errs  []error
		wg    sync.WaitGroup
		stop  = make(chan struct{})
		sent  int
	)
	ackedCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	// Produce without pause (MaxBufferedRecords blocks Produce) until
	// stopped: batches are in flight when the leader dies.
	producing := make(chan struct{})
	go func() {
		defer close(producing)
		for i := 0; ; i++ {
			select {
			case <-stop:
				sent = i
				return
			default:
			}
			wg.Add(1)
			cl.Produce(ctx, &kgo.Record{Value: fmt.Appendf(nil, "%06d", i)}, func(r *kgo.Record, err error) {
				defer wg.Done()
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				acked[i] = r.Offset
			})
		}
	}()
	require.Eventually(t, func() bool { return ackedCount() >= 300 }, 30*time.Second, time.Millisecond)
	atKill := ackedCount()
	t.Logf("killing leader %d with %d records acknowledged", leader, atKill)
	c.kill(leader)
	c.waitImages("new leader", func(img *controller.MetadataImage) bool {
		p := img.Topic("idem").Partitions[0]
		return p.Leader >= 0 && p.Leader != leader
	})
	require.Eventually(t, func() bool { return ackedCount() >= atKill+300 }, 60*time.Second, time.Millisecond,
		"the producer carries on after the leader change")
	close(stop)
	<-producing
	wg.Wait()
	require.Empty(t, errs, "no produce error (OutOfOrderSequence, ...)")
	t.Logf("%d records sent, %d acknowledged", sent, len(acked))

	writeSentinels(ctx, t, c.seeds(), "idem", 1)
	got := consumeToSentinels(ctx, t, c.seeds(), "idem", 1)
	seen := map[string]int{}
	var last string
	for _, r := range got {
		v := string(r.Value)
		seen[v]++
		require.Equal(t, 1, seen[v], "record %s duplicated", v)
		require.Greater(t, v, last, "records in order")
		last = v
	}
	for i, off := range acked {
		require.Equal(t, 1, seen[fmt.Sprintf("%06d", i)], "acknowledged record %d (offset %d) read back once", i, off)
	}
	require.Len(t, got, sent, "every record sent was written once (all were acknowledged)")
	require.True(t, slices.IsSortedFunc(got, func(a, b *kgo.Record) int { return int(a.Offset - b.Offset) }))
}

// TestClusterReadCommittedAfterLeaderFailover: a transaction's records sit
// in a partition whose leader crashes before the transaction ends. The
// new leader built the producer state and the ongoing transaction from the
// replicated batches: its last stable offset stays at the transaction's
// first offset until the ABORT marker (sent by the coordinator to the new
// leader) lands, and read_committed skips the aborted range there, while
// the committed records around it are read.
func TestClusterReadCommittedAfterLeaderFailover(t *testing.T) {
	c := startTxnCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	adm := newAdmin(t, c.seeds()[0])
	c.createSpreadTopic(ctx, adm, "out", 3)

	const txnID = "crosser"
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...), kgo.TransactionalID(txnID), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	defer cl.Close()
	// The victim leads a partition of out but not the coordinator's
	// __transaction_state partition.
	require.Eventually(t, func() bool {
		r, ok := adm.FindTxnCoordinators(ctx, txnID)[txnID]
		return ok && r.Err == nil // creates __transaction_state
	}, 30*time.Second, 10*time.Millisecond)
	c.waitImages("__transaction_state led", func(img *controller.MetadataImage) bool {
		ti := img.Topic("__transaction_state")
		return ti != nil && ti.Partitions[group.PartitionFor(txnID, txnClusterInternalPartitions)].Leader >= 0
	})
	img := c.image()
	coord := img.Topic("__transaction_state").Partitions[group.PartitionFor(txnID, txnClusterInternalPartitions)].Leader
	part := int32(-1)
	for i, p := range img.Topic("out").Partitions {
		if p.Leader != coord {
			part = int32(i)
			break
		}
	}
	require.GreaterOrEqual(t, part, int32(0))
	victim := img.Topic("out").Partitions[part].Leader

	txn := func(prefix string, commit bool, beforeEnd func()) []string {
		require.NoError(t, cl.BeginTransaction())
		var vs []string
		for i := range 5 {
			v := fmt.Sprintf("%s-%d", prefix, i)
			require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: "out", Partition: part, Value: []byte(v)}).FirstErr())
			vs = append(vs, v)
		}
		if beforeEnd != nil {
			beforeEnd()
		}
		require.NoError(t, cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)))
		return vs
	}
	want := txn("before", true, nil)
	lsoAndHW := func() (int64, int64, bool) {
		lso, err := adm.ListCommittedOffsets(ctx, "out")
		if err != nil || lso.Error() != nil {
			return 0, 0, false
		}
		hw, err := adm.ListEndOffsets(ctx, "out")
		if err != nil || hw.Error() != nil {
			return 0, 0, false
		}
		l, _ := lso.Lookup("out", part)
		h, _ := hw.Lookup("out", part)
		return l.Offset, h.Offset, true
	}
	var openStart int64
	txn("aborted", false, func() {
		_, hw, ok := lsoAndHW()
		require.True(t, ok)
		openStart = hw - 5
		t.Logf("killing leader %d of out-%d with a transaction open at offset %d", victim, part, openStart)
		c.kill(victim)
		c.waitImages("new leader", func(img *controller.MetadataImage) bool {
			p := img.Topic("out").Partitions[part]
			return p.Leader >= 0 && p.Leader != victim
		})
		// The new leader holds the LSO at the open transaction's start.
		require.Eventually(t, func() bool {
			lso, hw, ok := lsoAndHW()
			return ok && lso == openStart && hw == openStart+5
		}, 30*time.Second, 10*time.Millisecond, "LSO held at %d on the new leader", openStart)
	})
	want = append(want, txn("after", true, nil)...)
	waitLSOAtEnd(ctx, t, adm, "out")
	writeSentinels(ctx, t, c.seeds(), "out", 3)
	got := consumeToSentinels(ctx, t, c.seeds(), "out", 3)
	require.Equal(t, want, values(got), "read_committed on the new leader skips the aborted range")
}

// TestClusterGroupCoordinatorFailover: the broker leading a consumer
// group's __consumer_offsets partition crashes. Another replica loads the
// group's offsets and coordinates it: FindCoordinator names it, the
// consumer goes on from its committed offset (no record read twice or
// skipped), and the old broker, restarted as a follower, answers
// NOT_COORDINATOR for the group.
func TestClusterGroupCoordinatorFailover(t *testing.T) {
	c := startTxnCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	adm := newAdmin(t, c.seeds()[0])
	c.createSpreadTopic(ctx, adm, "events", 1)
	prod, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...), kgo.DefaultProduceTopic("events"))
	require.NoError(t, err)
	defer prod.Close()
	const n = 40
	for i := range n {
		require.NoError(t, prod.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "%03d", i)}).FirstErr())
	}

	const groupID = "readers"
	consume := func(upTo int) []string {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...), kgo.ConsumerGroup(groupID), kgo.ConsumeTopics("events"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(), kgo.FetchMaxPartitionBytes(100))
		require.NoError(t, err)
		defer cl.Close()
		var got []string
		for len(got) < upTo {
			fs := cl.PollRecords(ctx, upTo-len(got))
			require.NoError(t, ctx.Err())
			fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
			require.NoError(t, cl.CommitUncommittedOffsets(ctx))
		}
		cl.LeaveGroup()
		return got
	}
	first := consume(15)
	statePart := group.PartitionFor(groupID, txnClusterInternalPartitions)
	coord := c.image().Topic("__consumer_offsets").Partitions[statePart].Leader
	t.Logf("killing group coordinator %d (__consumer_offsets-%d)", coord, statePart)
	c.kill(coord)
	c.waitImages("coordinator partition moved", func(img *controller.MetadataImage) bool {
		p := img.Topic("__consumer_offsets").Partitions[statePart]
		return p.Leader >= 0 && p.Leader != coord
	})
	rest := consume(n - 15)
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("%03d", i))
	}
	require.Equal(t, want, append(first, rest...), "the group went on from its committed offset")

	adm = newAdmin(t, c.seeds()[0]) // a fresh client: the old one may still name the dead coordinator
	offs, err := adm.FetchOffsets(ctx, groupID)
	require.NoError(t, err)
	o, ok := offs.Lookup("events", 0)
	require.True(t, ok)
	require.EqualValues(t, n, o.At)

	c.start(coord)
	c.waitReady(coord)
	c.waitImages("old coordinator unfenced", unfenced(coord))
	find := adm.FindGroupCoordinators(ctx, groupID)
	r, ok := find[groupID]
	require.True(t, ok)
	require.NoError(t, r.Err)
	require.NotEqual(t, coord, r.NodeID, "FindCoordinator names the new leader")
	require.Eventually(t, func() bool {
		r := rawRequest(t, c.nodes[coord].addr(), 8, &protocol.OffsetFetchRequest{Groups: []protocol.OffsetFetchRequestGroup{{GroupID: groupID}}}).(*protocol.OffsetFetchResponse)
		return len(r.Groups) == 1 && r.Groups[0].ErrorCode == errcode.NotCoordinator
	}, 30*time.Second, 10*time.Millisecond, "the old coordinator answers NOT_COORDINATOR")
}
