package node_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spool-broker/spool/controller"
)

// TestShareGroupsInCluster: share groups across three brokers. The topic's
// partitions and the __share_group_state partitions (one replica each) are
// spread over the brokers, so a partition leader's share-partition state
// is mostly written to and read from a share coordinator on another broker
// (WriteShareGroupState/ReadShareGroupState), and the group coordinator
// describes offsets it reads from the others.
func TestShareGroupsInCluster(t *testing.T) {
	c := newTestCluster(t, []clusterSpec{
		{1, "broker,controller", "voters"},
		{2, "broker,controller", "voters"},
		{3, "broker,controller", "voters"},
	}, "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=1", "KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS=3",
		"KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR=1", "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR=1",
		"KAFKA_SHARE_COORDINATOR_STATE_TOPIC_NUM_PARTITIONS=3", "KAFKA_GROUP_SHARE_HEARTBEAT_INTERVAL_MS=200",
		"KAFKA_GROUP_SHARE_MIN_HEARTBEAT_INTERVAL_MS=100")
	for id := int32(1); id <= 3; id++ {
		c.start(id)
	}
	for id := int32(1); id <= 3; id++ {
		c.waitReady(id)
	}
	c.waitImages("every broker unfenced", unfenced(1, 2, 3))
	addrs := []string{c.nodes[1].addr(), c.nodes[2].addr(), c.nodes[3].addr()}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	const topic, group, parts, per = "shared", "sg", 6, 10
	adm := newAdmin(t, addrs[0])
	created, err := adm.CreateTopic(ctx, parts, 1, nil, topic)
	require.NoError(t, err)
	require.NoError(t, created.Err)

	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	// Start every share partition at the log start.
	alter := kmsg.NewPtrAlterShareGroupOffsetsRequest()
	alter.GroupID = group
	at := kmsg.NewAlterShareGroupOffsetsRequestTopic()
	at.Topic = topic
	for p := int32(0); p < parts; p++ {
		at.Partitions = append(at.Partitions, kmsg.AlterShareGroupOffsetsRequestTopicPartition{Partition: p, StartOffset: 0})
	}
	alter.Topics = append(alter.Topics, at)
	require.Eventually(t, func() bool {
		r, err := alter.RequestWith(ctx, cl)
		if err != nil || r.ErrorCode != 0 {
			return false
		}
		for _, rp := range r.Topics[0].Partitions {
			if rp.ErrorCode != 0 {
				return false
			}
		}
		return true
	}, 60*time.Second, 100*time.Millisecond)

	var rs []*kgo.Record
	for p := int32(0); p < parts; p++ {
		for i := 0; i < per; i++ {
			rs = append(rs, &kgo.Record{Topic: topic, Partition: p, Value: []byte(fmt.Sprintf("p%d-%d", p, i))})
		}
	}
	require.NoError(t, cl.ProduceSync(ctx, rs...).FirstErr())

	var mu sync.Mutex
	seen := map[string]int{}
	cctx, ccancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		sc, err := kgo.NewClient(kgo.SeedBrokers(addrs[i]), kgo.ShareGroup(group), kgo.ConsumeTopics(topic), kgo.FetchMaxWait(200*time.Millisecond))
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer sc.Close() // acknowledges what the last poll returned
			for cctx.Err() == nil {
				sc.PollFetches(cctx).EachRecord(func(r *kgo.Record) {
					mu.Lock()
					seen[string(r.Value)]++
					mu.Unlock()
				})
			}
		}()
	}
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == parts*per
	}, 90*time.Second, 50*time.Millisecond)
	ccancel()
	wg.Wait()
	for v, n := range seen {
		require.Equal(t, 1, n, "%s delivered %d times", v, n)
	}

	// Every share partition's start offset reaches the end, as the group
	// coordinator reads it from the share coordinators.
	require.Eventually(t, func() bool {
		d := kmsg.NewPtrDescribeShareGroupOffsetsRequest()
		g := kmsg.NewDescribeShareGroupOffsetsRequestGroup()
		g.GroupID = group
		d.Groups = append(d.Groups, g)
		r, err := d.RequestWith(ctx, cl)
		if err != nil || len(r.Groups) != 1 || r.Groups[0].ErrorCode != 0 || len(r.Groups[0].Topics) != 1 {
			return false
		}
		done := 0
		for _, p := range r.Groups[0].Topics[0].Partitions {
			if p.ErrorCode == 0 && p.StartOffset == per && p.Lag == 0 {
				done++
			}
		}
		return done == parts
	}, 30*time.Second, 100*time.Millisecond)

	// Reset to the start through the group coordinator: the partition
	// leaders, on other brokers, reread the state when a member opens its
	// share session, and deliver everything again.
	require.Eventually(t, func() bool {
		r, err := alter.RequestWith(ctx, cl)
		if err != nil || r.ErrorCode != 0 {
			return false // the members may still be leaving
		}
		for _, rp := range r.Topics[0].Partitions {
			if rp.ErrorCode != 0 {
				return false
			}
		}
		return true
	}, 30*time.Second, 100*time.Millisecond)
	again := map[string]bool{}
	sc, err := kgo.NewClient(kgo.SeedBrokers(addrs[2]), kgo.ShareGroup(group), kgo.ConsumeTopics(topic), kgo.FetchMaxWait(200*time.Millisecond))
	require.NoError(t, err)
	defer sc.Close()
	require.Eventually(t, func() bool {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		defer pcancel()
		sc.PollFetches(pctx).EachRecord(func(r *kgo.Record) { again[string(r.Value)] = true })
		return len(again) == parts*per
	}, 60*time.Second, 10*time.Millisecond)
}

// shareStateCoordinator finds the share coordinator of key
// ("group:topicId:partition") through any live broker.
func shareStateCoordinator(ctx context.Context, cl *kgo.Client, key string) (int32, error) {
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorType = 2 // SHARE
	fc.CoordinatorKeys = []string{key}
	r, err := fc.RequestWith(ctx, cl)
	if err != nil {
		return -1, err
	}
	if len(r.Coordinators) != 1 {
		return -1, fmt.Errorf("%d coordinators answered", len(r.Coordinators))
	}
	if err := kerr.ErrorForCode(r.Coordinators[0].ErrorCode); err != nil {
		return -1, err
	}
	return r.Coordinators[0].NodeID, nil
}

// TestShareStateCoordinatorFailover: a share partition's state written as
// a ShareSnapshot and ShareUpdate records (a snapshot every 3 updates) to a
// __share_group_state replicated on three brokers, which is not compacted,
// is read back whole from the share coordinator that takes over when the
// first one's broker is killed: the new leader replays the snapshot and
// combines the updates after it.
func TestShareStateCoordinatorFailover(t *testing.T) {
	c := newTestCluster(t, []clusterSpec{
		{1, "broker,controller", "voters"},
		{2, "broker,controller", "voters"},
		{3, "broker,controller", "voters"},
	}, "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR=3", "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR=2",
		"KAFKA_SHARE_COORDINATOR_STATE_TOPIC_NUM_PARTITIONS=3", "KAFKA_SHARE_COORDINATOR_SNAPSHOT_UPDATE_RECORDS_PER_SNAPSHOT=3")
	c.startAll(1, 2, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...))
	require.NoError(t, err)
	t.Cleanup(cl.Close)

	const group = "sg-fo"
	topicID := [16]byte{7, 7, 7}
	key := fmt.Sprintf("%s:%s:0", group, base64.RawURLEncoding.EncodeToString(topicID[:]))
	var coord int32
	require.Eventually(t, func() bool {
		coord, err = shareStateCoordinator(ctx, cl, key)
		return err == nil
	}, 60*time.Second, 50*time.Millisecond, "a share coordinator (creates __share_group_state)")

	type batch struct {
		first, last int64
		state       int8
		count       int16
	}
	// write sends one WriteShareGroupState with the whole state, as
	// Spool's share partitions do, retrying while the coordinator loads.
	write := func(start int64, batches ...batch) {
		req := kmsg.NewPtrWriteShareGroupStateRequest()
		req.GroupID = group
		tp := kmsg.NewWriteShareGroupStateRequestTopicPartition()
		tp.StateEpoch, tp.LeaderEpoch, tp.StartOffset, tp.DeliveryCompleteCount = 1, -1, start, -1
		for _, b := range batches {
			tp.StateBatches = append(tp.StateBatches, kmsg.WriteShareGroupStateRequestTopicPartitionStateBatch{
				FirstOffset: b.first, LastOffset: b.last, DeliveryState: b.state, DeliveryCount: b.count})
		}
		rt := kmsg.NewWriteShareGroupStateRequestTopic()
		rt.TopicID, rt.Partitions = topicID, []kmsg.WriteShareGroupStateRequestTopicPartition{tp}
		req.Topics = append(req.Topics, rt)
		require.Eventually(t, func() bool {
			r, err := req.RequestWith(ctx, cl.Broker(int(coord)))
			return err == nil && r.Topics[0].Partitions[0].ErrorCode == 0
		}, 30*time.Second, 50*time.Millisecond)
	}
	// read answers the coordinator's state as "start:first-last/state@count ...".
	read := func(node int32) (string, bool) {
		req := kmsg.NewPtrReadShareGroupStateRequest()
		req.GroupID = group
		rt := kmsg.NewReadShareGroupStateRequestTopic()
		rt.TopicID = topicID
		rt.Partitions = []kmsg.ReadShareGroupStateRequestTopicPartition{{Partition: 0, LeaderEpoch: -1}}
		req.Topics = append(req.Topics, rt)
		r, err := req.RequestWith(ctx, cl.Broker(int(node)))
		if err != nil || r.Topics[0].Partitions[0].ErrorCode != 0 {
			return "", false
		}
		p := r.Topics[0].Partitions[0]
		s := fmt.Sprintf("epoch %d start %d:", p.StateEpoch, p.StartOffset)
		for _, b := range p.StateBatches {
			s += fmt.Sprintf(" %d-%d/%d@%d", b.FirstOffset, b.LastOffset, b.DeliveryState, b.DeliveryCount)
		}
		return s, true
	}
	write(0, batch{0, 9, 0, 1})                                         // snapshot
	write(0, batch{0, 3, 2, 1}, batch{4, 9, 0, 1})                      // update
	write(4, batch{4, 5, 0, 2}, batch{6, 9, 0, 1}, batch{10, 12, 0, 1}) // update
	write(4, batch{4, 4, 4, 2}, batch{5, 5, 2, 2}, batch{6, 12, 0, 1})  // update
	write(6, batch{6, 12, 0, 1}, batch{13, 13, 0, 1})                   // snapshot
	write(6, batch{6, 8, 2, 1}, batch{9, 13, 0, 1})                     // update
	want := "epoch 1 start 6: 6-8/2@1 9-13/0@1"
	got, ok := read(coord)
	require.True(t, ok)
	require.Equal(t, want, got)

	c.waitImages("__share_group_state in sync", func(img *controller.MetadataImage) bool {
		ti := img.Topic("__share_group_state")
		if ti == nil {
			return false
		}
		for _, p := range ti.Partitions {
			if len(p.ISR) != 3 {
				return false
			}
		}
		return img.Config(controller.ResourceTopic, "__share_group_state")["cleanup.policy"] == "delete"
	})
	t.Logf("killing node %d, the share coordinator of %s", coord, key)
	c.kill(coord)
	cl2, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...))
	require.NoError(t, err)
	t.Cleanup(cl2.Close)
	cl = cl2
	require.Eventually(t, func() bool {
		id, err := shareStateCoordinator(ctx, cl2, key)
		if err != nil || id == coord {
			return false
		}
		got, ok = read(id)
		return ok
	}, 60*time.Second, 50*time.Millisecond, "the new share coordinator answers")
	require.Equal(t, want, got)
}
