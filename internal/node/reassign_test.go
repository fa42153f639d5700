package node_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/internal/cli"
)

// TestReassignmentMovesData moves a loaded partition from brokers {1,2,3}
// to {2,3,4} (KIP-455) while an acks=all producer keeps writing: broker 4
// copies the log from the leader, joins the ISR, the reassignment
// completes, leadership leaves broker 1 (the leader being removed) and
// broker 1 deletes its copy. Every acknowledged record is read back once,
// in order. Then the replication factor goes down to 2 by reassignment.
func TestReassignmentMovesData(t *testing.T) {
	c := newTestCluster(t, []clusterSpec{
		{1, "broker,controller", "voters"},
		{2, "broker,controller", "voters"},
		{3, "broker,controller", "voters"},
		{4, "broker", "voters"},
	}, "KAFKA_LOG_SEGMENT_BYTES=1048576")
	c.startAll(1, 2, 3, 4)
	seeds := []string{c.nodes[1].addr(), c.nodes[2].addr(), c.nodes[3].addr(), c.nodes[4].addr()}
	adm := newAdmin(t, seeds[1])
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	const topic = "moving"
	cr, err := adm.CreateTopic(ctx, 1, 3, map[string]*string{"min.insync.replicas": kadm.StringPtr("2")}, topic)
	require.NoError(t, err)
	require.NoError(t, cr.Err)
	// Put the partition on {1,2,3} with 1 leading, whatever the placement.
	moveTo(ctx, t, adm, topic, 1, 2, 3)
	waitPartition(t, c, topic, []int32{1, 2, 3}, func(leader int32) bool { return leader >= 1 && leader <= 3 })
	_, err = adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, kadm.TopicsSet{topic: {0: {}}})
	require.NoError(t, err)
	waitPartition(t, c, topic, []int32{1, 2, 3}, func(leader int32) bool { return leader == 1 })

	// An acks=all producer writes throughout, bounded in count and time.
	pr, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0), kgo.RecordRetries(1000))
	require.NoError(t, err)
	defer pr.Close()
	var (
		mu    sync.Mutex
		acked []string
		stop  = make(chan struct{})
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		deadline := time.Now().Add(5 * time.Minute)
		for i := 0; i < 50000 && time.Now().Before(deadline); i++ {
			select {
			case <-stop:
				return
			default:
			}
			v := "r" + strconv.Itoa(i) + "-" + string(make([]byte, 200))
			if err := pr.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err == nil {
				mu.Lock()
				acked = append(acked, v)
				mu.Unlock()
			}
		}
	}()
	ackedCount := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	require.Eventually(t, func() bool { return ackedCount() >= 300 }, 2*time.Minute, 10*time.Millisecond, "300 records before the move")

	moveTo(ctx, t, adm, topic, 2, 3, 4)
	// While the copy runs the reassignment is listed with what it adds and removes.
	lr, err := adm.ListPartitionReassignments(ctx, kadm.TopicsSet{topic: {0: {}}})
	require.NoError(t, err)
	if st, ok := lr[topic][0]; ok && len(st.AddingReplicas) > 0 {
		require.Equal(t, []int32{4}, st.AddingReplicas)
		require.Equal(t, []int32{1}, st.RemovingReplicas)
	}
	waitPartition(t, c, topic, []int32{2, 3, 4}, func(leader int32) bool { return leader >= 2 })
	require.Eventually(t, func() bool {
		lr, err := adm.ListPartitionReassignments(ctx, kadm.TopicsSet{topic: {0: {}}})
		return err == nil && len(lr) == 0
	}, 30*time.Second, 20*time.Millisecond, "no reassignment listed")
	require.Eventually(t, func() bool {
		_, err := os.Stat(filepath.Join(c.nodes[1].dir, topic+"-0"))
		return os.IsNotExist(err)
	}, 30*time.Second, 20*time.Millisecond, "broker 1 deletes its removed replica")
	before := ackedCount()
	require.Eventually(t, func() bool { return ackedCount() >= before+100 }, 2*time.Minute, 10*time.Millisecond, "writes go on after the move")

	// Down to RF 2: completes at once, no copy needed.
	moveTo(ctx, t, adm, topic, 3, 4)
	waitPartition(t, c, topic, []int32{3, 4}, func(leader int32) bool { return leader >= 3 })
	before = ackedCount()
	require.Eventually(t, func() bool { return ackedCount() >= before+50 }, 2*time.Minute, 10*time.Millisecond, "writes go on at RF 2")
	close(stop)
	<-done

	mu.Lock()
	want := slices.Clone(acked)
	mu.Unlock()
	cons, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer cons.Close()
	var got []string
	cctx, ccancel := context.WithTimeout(ctx, time.Minute)
	defer ccancel()
	seen := map[string]bool{}
	for !allSeen(seen, want) {
		fs := cons.PollFetches(cctx)
		require.NoError(t, cctx.Err(), "read back %d of %d acknowledged records", len(seen), len(want))
		fs.EachRecord(func(r *kgo.Record) {
			got = append(got, string(r.Value))
			seen[string(r.Value)] = true
		})
	}
	// Exactly once and in the order acknowledged (one partition, one
	// producer, synchronous sends); unacknowledged attempts may appear too.
	require.Equal(t, want, filterIn(got, want), "acknowledged records in order, once each")
}

// moveTo reassigns partition 0 of topic to replicas and checks the answer.
func moveTo(ctx context.Context, t *testing.T, adm *kadm.Client, topic string, replicas ...int32) {
	t.Helper()
	var req kadm.AlterPartitionAssignmentsReq
	req.Assign(topic, 0, replicas)
	res, err := adm.AlterPartitionAssignments(ctx, req)
	require.NoError(t, err)
	for _, ps := range res {
		for _, p := range ps {
			require.NoError(t, p.Err, "reassign %s-0 to %v", topic, replicas)
		}
	}
}

// waitPartition waits until every node's image shows partition 0 of topic
// with exactly replicas, all in the ISR, no reassignment left, and a
// leader leaderOK accepts.
func waitPartition(t *testing.T, c *testCluster, topic string, replicas []int32, leaderOK func(int32) bool) {
	t.Helper()
	want := slices.Clone(replicas)
	slices.Sort(want)
	require.Eventually(t, func() bool {
		for _, tn := range c.nodes {
			n := c.node(tn.id)
			if n == nil {
				continue
			}
			tp := n.Metadata().Image().Topic(topic)
			if tp == nil {
				return false
			}
			p := tp.Partitions[0]
			isr := slices.Clone(p.ISR)
			slices.Sort(isr)
			if !slices.Equal(p.Replicas, replicas) || !slices.Equal(isr, want) || len(p.AddingReplicas) > 0 || len(p.RemovingReplicas) > 0 || !leaderOK(p.Leader) {
				return false
			}
		}
		return true
	}, 60*time.Second, 20*time.Millisecond, "%s-0 on %v with all in sync", topic, replicas)
}

func allSeen(seen map[string]bool, want []string) bool {
	for _, v := range want {
		if !seen[v] {
			return false
		}
	}
	return true
}

// filterIn keeps the members of got that are in want, in got's order.
func filterIn(got, want []string) []string {
	in := make(map[string]bool, len(want))
	for _, v := range want {
		in[v] = true
	}
	var out []string
	for _, v := range got {
		if in[v] {
			out = append(out, v)
		}
	}
	return out
}

// TestReassignmentThrottled adds a replica under a replication throttle as
// kafka-reassign-partitions.sh --execute --throttle sets it: the rates on
// every broker, the throttled replicas on the topic. The copy of ~6 MB at
// 1 MB/s cannot finish before the throttle allows it (a lower bound only:
// a loaded machine is slower, never faster); the in-sync replicas are not
// throttled, so acks=all produce keeps working throughout.
func TestReassignmentThrottled(t *testing.T) {
	c := newTestCluster(t, []clusterSpec{
		{1, "broker,controller", "voters"},
		{2, "broker,controller", "voters"},
		{3, "broker,controller", "voters"},
	}, "KAFKA_REPLICATION_QUOTA_WINDOW_NUM=2", "KAFKA_REPLICATION_QUOTA_WINDOW_SIZE_SECONDS=1")
	c.startAll(1, 2, 3)
	seeds := []string{c.nodes[1].addr(), c.nodes[2].addr(), c.nodes[3].addr()}
	adm := newAdmin(t, seeds[0])
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	const topic = "throttled"
	cr, err := adm.CreateTopic(ctx, 1, 2, nil, topic)
	require.NoError(t, err)
	require.NoError(t, cr.Err)
	moveTo(ctx, t, adm, topic, 1, 2)
	waitPartition(t, c, topic, []int32{1, 2}, func(leader int32) bool { return leader == 1 || leader == 2 })

	const total = 6 << 20
	pr, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))
	require.NoError(t, err)
	defer pr.Close()
	var recs []*kgo.Record
	for i := 0; i < total/1024; i++ {
		value := make([]byte, 1024) // incompressible: the log holds ~6 MB
		for j := range value {
			value[j] = byte(rand.IntN(256))
		}
		recs = append(recs, &kgo.Record{Value: value})
	}
	require.NoError(t, pr.ProduceSync(ctx, recs...).FirstErr())

	// What kafka-reassign-partitions.sh --throttle 1000000 sets.
	const rate = "1000000"
	var alters []kadm.AlterConfig
	for _, name := range []string{"leader.replication.throttled.rate", "follower.replication.throttled.rate"} {
		alters = append(alters, kadm.AlterConfig{Name: name, Value: kadm.StringPtr(rate)})
	}
	for id := int32(1); id <= 3; id++ {
		res, err := adm.AlterBrokerConfigs(ctx, alters, id)
		require.NoError(t, err)
		for _, r := range res {
			require.NoError(t, r.Err)
		}
	}
	res, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Name: "leader.replication.throttled.replicas", Value: kadm.StringPtr("0:1,0:2")},
		{Name: "follower.replication.throttled.replicas", Value: kadm.StringPtr("0:3")},
	}, topic)
	require.NoError(t, err)
	for _, r := range res {
		require.NoError(t, r.Err)
	}
	c.waitImages("throttles applied", func(img *controller.MetadataImage) bool {
		return img.Config(controller.ResourceTopic, topic)["follower.replication.throttled.replicas"] == "0:3" &&
			img.Config(controller.ResourceBroker, "3")["follower.replication.throttled.rate"] == rate
	})

	start := time.Now()
	moveTo(ctx, t, adm, topic, 1, 2, 3)
	// In-sync replicas are not throttled: acks=all goes on during the copy.
	require.NoError(t, pr.ProduceSync(ctx, &kgo.Record{Value: []byte("during the copy")}).FirstErr())
	waitPartition(t, c, topic, []int32{1, 2, 3}, func(leader int32) bool { return leader > 0 })
	took := time.Since(start)
	t.Logf("copied %d MB at a 1 MB/s throttle in %v", total>>20, took)
	// Two windows of one second allow about two seconds' worth at once;
	// the rest goes at the bound.
	require.GreaterOrEqual(t, took, 3*time.Second, "the copy must not outrun the throttle")
}

// TestSpoolReassignCommand runs `spool reassign` against a cluster: with a
// throttle it moves a loaded partition, shows progress until done, and
// removes the throttle; --list and --cancel answer as the Kafka tool's.
func TestSpoolReassignCommand(t *testing.T) {
	c := newTestCluster(t, []clusterSpec{
		{1, "broker,controller", "voters"},
		{2, "broker,controller", "voters"},
		{3, "broker,controller", "voters"},
	})
	c.startAll(1, 2, 3)
	seeds := []string{c.nodes[1].addr(), c.nodes[2].addr(), c.nodes[3].addr()}
	adm := newAdmin(t, seeds[0])
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cr, err := adm.CreateTopic(ctx, 1, 1, nil, "cmd")
	require.NoError(t, err)
	require.NoError(t, cr.Err)
	moveTo(ctx, t, adm, "cmd", 1)
	waitPartition(t, c, "cmd", []int32{1}, func(leader int32) bool { return leader == 1 })
	pr, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic("cmd"))
	require.NoError(t, err)
	defer pr.Close()
	var recs []*kgo.Record
	for i := 0; i < 2000; i++ {
		v := make([]byte, 1024)
		for j := range v {
			v[j] = byte(rand.IntN(256))
		}
		recs = append(recs, &kgo.Record{Value: v})
	}
	require.NoError(t, pr.ProduceSync(ctx, recs...).FirstErr())

	run := func(args ...string) (int, string, string) {
		var out, errOut strings.Builder
		code := cli.Run(ctx, &cli.Env{Stdout: &out, Stderr: &errOut}, append(args, "--bootstrap-server", seeds[1]))
		return code, out.String(), errOut.String()
	}
	code, out, errOut := run("reassign", "cmd:0=2,3", "--throttle", "50000000")
	require.Equal(t, 0, code, "stdout: %s\nstderr: %s", out, errOut)
	require.Contains(t, out, "partition cmd-0: reassignment started")
	require.Contains(t, errOut, "100%", "progress reaches 100%")
	require.Contains(t, errOut, "1/1 partitions done")
	require.Contains(t, errOut, "throttle removed")
	t.Logf("spool reassign progress:\n%s", errOut)
	waitPartition(t, c, "cmd", []int32{2, 3}, func(leader int32) bool { return leader == 2 || leader == 3 })
	img := c.image()
	require.Empty(t, img.Config(controller.ResourceTopic, "cmd")["follower.replication.throttled.replicas"], "throttle removed from the topic")
	require.Empty(t, img.Config(controller.ResourceBroker, "2")["leader.replication.throttled.rate"], "throttle removed from the brokers")

	code, out, _ = run("reassign", "--list")
	require.Equal(t, 0, code)
	require.Equal(t, "no reassignment in progress\n", out)
	code, _, errOut = run("reassign", "--cancel", "cmd:0")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "NO_REASSIGNMENT_IN_PROGRESS")
	code, _, errOut = run("reassign", "cmd:0=9")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "INVALID_REPLICA_ASSIGNMENT")
	code, _, _ = run("reassign", "cmd=1")
	require.Equal(t, 2, code, "usage error")
}

// startAll starts the nodes and waits until they serve and every broker
// among them is registered and unfenced.
func (c *testCluster) startAll(ids ...int32) {
	c.t.Helper()
	for _, id := range ids {
		c.start(id)
	}
	var brokers []int32
	for _, id := range ids {
		c.waitReady(id)
		if c.nodes[id].isBroker() {
			brokers = append(brokers, id)
		}
	}
	c.waitImages(fmt.Sprintf("brokers %v unfenced", brokers), unfenced(brokers...))
}
