package node_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
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
		"KAFKA_SHARE_COORDINATOR_STATE_TOPIC_NUM_PARTITIONS=3", "KAFKA_GROUP_SHARE_MIN_HEARTBEAT_INTERVAL_MS=100", "KAFKA_GROUP_SHARE_HEARTBEAT_INTERVAL_MS=200")
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
