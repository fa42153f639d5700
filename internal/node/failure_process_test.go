package node_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/spool-broker/spool/coordinator/group"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
)

// mixedRoles is a cluster with every kind of node: two combined nodes, a
// controller-only voter (node 3) and a broker-only node (node 4) that
// follows the metadata log without voting. Brokers 1, 2 and 4 hold the
// replicas; controllers 1, 2 and 3 form the quorum.
var mixedRoles = []procSpec{{1, "broker,controller"}, {2, "broker,controller"}, {3, "controller"}, {4, "broker"}}

// TestPausedLeaderIsFenced pauses the leader of a partition with SIGSTOP
// while a franz-go producer writes with acks=all (replication factor 3,
// min.insync.replicas=2) to a cluster of mixed roles (mixedRoles). A
// paused process is not dead: its sockets stay open and it wakes with the
// state it had. The controller must fence it when its heartbeats stop
// (broker.session.timeout.ms) and move its leaderships within the ISR, so
// acknowledgements go on; after SIGCONT it must not acknowledge an acks=all
// write as the old leader, must learn the new leader epoch, truncate what it
// appended on its own and rejoin the ISR. Then it leads again (preferred
// election) and every acknowledged record is read back exactly once, in
// order.
func TestPausedLeaderIsFenced(t *testing.T) {
	c := newProcCluster(t, mixedRoles)
	c.startAll()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	adm := c.admin()
	const topic, partitions = "paused", 3
	c.createTopic(ctx, adm, topic, partitions)

	acks, stop := produceFranz(t, ctx, c.seeds(), topic, partitions)
	acks.waitCount(t, 300, 60*time.Second, "before the pause")
	before := describe(ctx, adm, topic)
	victimID := before[0].leader
	victim := c.procs[victimID]
	var led []int32
	for p, s := range before {
		if s.leader == victimID {
			led = append(led, p)
		}
	}
	t.Logf("SIGSTOP node %d, leader of partitions %v (epoch of partition 0: %d)", victimID, led, before[0].epoch)
	paused := time.Now()
	n := acks.count()
	victim.signal(t, syscall.SIGSTOP)

	// Fenced, its leaderships moved, and the producer carries on.
	others := slices.DeleteFunc(c.brokers(), func(id int32) bool { return id == victimID })
	// The session timeout is 2 s; a paused active controller adds an
	// election, and a loaded machine more.
	c.waitInSync(ctx, adm, topic, partitions, others, 60*time.Second)
	t.Logf("node %d out of every ISR %v after the pause", victimID, time.Since(paused))
	// Its sockets stayed open and its kernel accepted the controller's
	// probes: it was fenced by its session timing out, never by fast
	// fencing (controller/liveness.go).
	var expired bool
	for _, s := range c.specs {
		p := c.procs[s.id]
		expired = expired || p.logged("fencing broker because its session has timed out", victimID)
		require.False(t, p.logged("fencing broker because its heartbeat connection was closed and no process listens on its listeners", victimID))
		require.False(t, p.logged("fencing broker because no process listens on its listeners (checked when this controller became active)", victimID))
	}
	require.True(t, expired, "no controller logged that node %d's session timed out", victimID)
	for p, s := range describe(ctx, adm, topic) {
		require.NotEqual(t, victimID, s.leader, "partition %d", p)
	}
	acks.waitCount(t, n+300, 60*time.Second, "while node is paused")
	t.Logf("300 more acknowledgements %v after the pause", time.Since(paused))

	// Woken up, the old leader still believes in its leadership until
	// it hears otherwise: an acks=all write sent to it now must not be
	// acknowledged (the other replicas no longer fetch from it, and it is
	// not in the ISR the controller knows).
	require.NoError(t, victim.cmd.Process.Signal(syscall.SIGCONT))
	resumed := time.Now()
	batch, err := records.AppendBatch(nil, records.NewBatchOptions(), []records.Record{{Timestamp: time.Now().UnixMilli(), Value: []byte("stale")}})
	require.NoError(t, err)
	pr := rawRequest(t, c.addr(victimID), 9, &protocol.ProduceRequest{Acks: -1, TimeoutMs: 3000, TopicData: []protocol.ProduceRequestTopicProduceData{{
		Name: topic, PartitionData: []protocol.ProduceRequestPartitionProduceData{{Index: 0, Records: batch}},
	}}}).(*protocol.ProduceResponse)
	code := pr.Responses[0].PartitionResponses[0].ErrorCode
	t.Logf("acks=all produce to node %d right after SIGCONT: %s", victimID, errcode.Name(code))
	require.NotZero(t, code, "the resumed old leader acknowledged an acks=all write")

	// It learns the new leader epoch from the metadata log.
	require.Eventually(t, func() bool {
		md := rawMetadata(t, c.addr(victimID))
		for _, tp := range md.Topics {
			if tp.Name == nil || string(*tp.Name) != topic {
				continue
			}
			for _, p := range tp.Partitions {
				if p.PartitionIndex == 0 {
					return int32(p.LeaderID) != victimID && p.LeaderEpoch > before[0].epoch
				}
			}
		}
		return false
	}, 30*time.Second, 50*time.Millisecond, "node %d learns partition 0's new leader", victimID)

	// It catches up (truncating its own appends first) and rejoins.
	c.waitInSync(ctx, adm, topic, partitions, c.brokers(), 60*time.Second)
	t.Logf("node %d back in every ISR %v after SIGCONT", victimID, time.Since(resumed))

	// A preferred election hands it back partition 0 (it was the first
	// replica): what it serves as leader must be the committed log.
	_, err = adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, kadm.TopicsSet{topic: {0: {}}})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return describe(ctx, adm, topic)[0].leader == victimID }, 30*time.Second, 50*time.Millisecond,
		"node %d leads partition 0 again", victimID)
	acks.waitCount(t, acks.count()+300, 60*time.Second, "after the return")
	stop()

	got, failed := acks.snapshot()
	require.Empty(t, failed, "the producer gave up on records")
	logs := readAll(t, ctx, c.seeds(), adm, topic, partitions)
	for p, recs := range logs {
		for _, r := range recs {
			require.NotEqual(t, "stale", r.value, "partition %d keeps the write the paused leader took at offset %d", p, r.offset)
		}
	}
	verifyAcked(t, logs, got, func(a, b string) bool { return a < b })
	b, err := os.ReadFile(victim.log)
	require.NoError(t, err)
	t.Logf("node %d truncations after SIGCONT: %d", victimID, strings.Count(string(b), "truncat"))
}

// TestRollingRestartUnderLoad restarts each node of a three-node cluster
// in turn with SIGTERM (controlled shutdown first: its leaderships move
// before it exits) while a franz-go producer writes with acks=all to a
// topic with replication factor 3 and min.insync.replicas=2. Every
// acknowledged record is read back exactly once, in order per partition.
// It logs each node's producer stall: the longest gap between two
// acknowledgements of one partition from the SIGTERM until the node is
// back in every ISR.
func TestRollingRestartUnderLoad(t *testing.T) {
	c := newProcCluster(t, []procSpec{{1, "broker,controller"}, {2, "broker,controller"}, {3, "broker,controller"}})
	c.startAll()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	adm := c.admin()
	const topic, partitions = "rolling", 6
	c.createTopic(ctx, adm, topic, partitions)

	acks, stop := produceFranz(t, ctx, c.seeds(), topic, partitions)
	acks.waitCount(t, 300, 60*time.Second, "before the restarts")
	stalls := map[int32]time.Duration{}
	for _, id := range c.brokers() {
		p := c.procs[id]
		n := acks.count()
		term := time.Now()
		p.signal(t, syscall.SIGTERM) // waits for the exit
		exited := time.Since(term)
		b, err := os.ReadFile(p.log)
		require.NoError(t, err)
		require.Contains(t, string(b), "controlled shutdown complete", "node %d", id)
		acks.waitCount(t, n+300, 60*time.Second, fmt.Sprintf("while node %d is down", id))
		p.start(t, c.bin)
		c.waitInSync(ctx, adm, topic, partitions, c.brokers(), 90*time.Second)
		back := time.Now()
		acks.waitCount(t, acks.count()+100, 60*time.Second, fmt.Sprintf("after node %d is back", id))
		gap, on := acks.maxGap(term.Add(-time.Second), back)
		stalls[id] = gap
		t.Logf("node %d: exited %v after SIGTERM, back in every ISR %v after it; longest producer stall %v (partition %d)",
			id, exited, back.Sub(term), gap, on)
	}
	stop()
	got, failed := acks.snapshot()
	require.Empty(t, failed, "the producer gave up on records")
	verifyAcked(t, readAll(t, ctx, c.seeds(), adm, topic, partitions), got, func(a, b string) bool { return a < b })
	for id, s := range stalls {
		// The target is 0.5 s on a quiet machine (docs/benchmarks.md); a
		// stall near the 30 s request timeout would mean a produce waited
		// on a replica that was gone.
		require.Less(t, s, 10*time.Second, "producer stall while node %d restarted", id)
	}
}

// TestPausedGroupCoordinatorDeposed is finding 3 of docs/reliability.md as a
// regression test. The coordinator of a group is paused (SIGSTOP) until the
// controller fences it and another broker leads the group's
// __consumer_offsets partition; a commit goes to the new coordinator; then
// the old one is woken. As in Kafka (BrokerMetadataPublisher calls the group
// coordinator's onResignation only when it applies the metadata delta that
// moved the partition; until then CoordinatorRuntime serves reads from its
// last committed state), the old coordinator may answer an OffsetFetch with
// its last state while it still believes it leads; once it has learnt of the
// new leader it must answer NOT_COORDINATOR, and never offsets again.
func TestPausedGroupCoordinatorDeposed(t *testing.T) {
	c := newProcCluster(t, []procSpec{{1, "broker,controller"}, {2, "broker,controller"}, {3, "broker,controller"}},
		"KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS=3")
	c.startAll()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	adm := c.admin()
	const topic, groupID = "deposed", "deposed-group"
	c.createTopic(ctx, adm, topic, 1)
	commit := func(adm *kadm.Client, at int64) {
		t.Helper()
		require.Eventually(t, func() bool {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			offs := make(kadm.Offsets)
			offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: at, LeaderEpoch: -1})
			r, err := adm.CommitOffsets(cctx, groupID, offs)
			return err == nil && r.Ok()
		}, 60*time.Second, 100*time.Millisecond, "commit of offset %d", at)
	}
	commit(adm, 10)
	find := adm.FindGroupCoordinators(ctx, groupID)[groupID]
	require.NoError(t, find.Err)
	old := find.NodeID
	statePart := group.PartitionFor(groupID, 3)
	// leaderAt is the leader and leader epoch of the group's partition in
	// node id's own metadata.
	leaderAt := func(id int32) (int32, int32) {
		name := protocol.TopicName("__consumer_offsets")
		md := rawRequest(t, c.addr(id), 12, &protocol.MetadataRequest{Topics: []protocol.MetadataRequestTopic{{Name: &name}}}).(*protocol.MetadataResponse)
		for _, tp := range md.Topics {
			for _, p := range tp.Partitions {
				if p.PartitionIndex == statePart {
					return int32(p.LeaderID), p.LeaderEpoch
				}
			}
		}
		return -1, -1
	}
	leader, epoch := leaderAt(old)
	require.Equal(t, old, leader)
	t.Logf("SIGSTOP node %d, coordinator of %s (__consumer_offsets-%d, epoch %d)", old, groupID, statePart, epoch)
	c.procs[old].signal(t, syscall.SIGSTOP)

	var other int32 = 1
	if other == old {
		other = 2
	}
	require.Eventually(t, func() bool {
		l, e := leaderAt(other)
		return l >= 0 && l != old && e > epoch
	}, 60*time.Second, 50*time.Millisecond, "the group's partition moves away from node %d", old)
	adm2 := newAdmin(t, c.addr(other)) // a client that never knew the paused node as coordinator
	commit(adm2, 20)

	require.NoError(t, c.procs[old].cmd.Process.Signal(syscall.SIGCONT))
	fetch := func() (int16, int64) {
		r := rawRequest(t, c.addr(old), 8, &protocol.OffsetFetchRequest{Groups: []protocol.OffsetFetchRequestGroup{{GroupID: groupID}}}).(*protocol.OffsetFetchResponse)
		require.Len(t, r.Groups, 1)
		g := r.Groups[0]
		if g.ErrorCode != 0 {
			return g.ErrorCode, -1
		}
		for _, tp := range g.Topics {
			for _, p := range tp.Partitions {
				if p.PartitionIndex == 0 {
					return 0, p.CommittedOffset
				}
			}
		}
		return 0, -1
	}
	// Every answer is checked in order until 20 NOT_COORDINATOR answers:
	// a polled condition (one OffsetFetch per tick) with a 60 s deadline.
	var stale, learnt int
	pollCtx, stopPoll := context.WithTimeout(context.Background(), 60*time.Second)
	defer stopPoll()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for learnt < 20 && pollCtx.Err() == nil {
		select {
		case <-tick.C:
		case <-pollCtx.Done():
			continue
		}
		code, off := fetch()
		switch {
		case code == errcode.NotCoordinator:
			learnt++
		case code != 0:
			// COORDINATOR_LOAD_IN_PROGRESS or another retriable code.
		case learnt > 0:
			require.Failf(t, "offsets from a deposed coordinator after it answered NOT_COORDINATOR", "offset %d", off)
		case off == 20:
			require.Failf(t, "the old coordinator has the new commit", "it should not lead")
		default:
			require.EqualValues(t, 10, off, "a stale answer is the coordinator's last committed state")
			stale++
		}
	}
	require.Equal(t, 20, learnt, "node %d never answered NOT_COORDINATOR", old)
	l, e := leaderAt(old)
	require.NotEqual(t, old, l)
	require.Greater(t, e, epoch)
	t.Logf("node %d: %d stale answers (offset 10) before it learnt of the new leader, then NOT_COORDINATOR", old, stale)

	o, err := adm2.FetchOffsets(ctx, groupID)
	require.NoError(t, err)
	got, ok := o.Lookup(topic, 0)
	require.True(t, ok)
	require.EqualValues(t, 20, got.At, "the new coordinator has the acknowledged commit")
}
