package node_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/protocol"
)

// TestELRElectsReplicaWithCommittedRecords is KIP-966 end to end on
// in-process nodes: node 1 is the controller, brokers 2, 3, 4 hold the
// partition (min.insync.replicas 2) and broker 5 only answers. With the
// leader 2 and the others killed one by one, the ISR shrinks to [2] and
// the broker that left it below the minimum (3) is recorded in the ELR;
// when 2 dies too the ISR empties. Broker 3 restarted first then leads,
// though it was not the last ISR member, and every acknowledged
// (acks=all) record is there. DescribeTopicPartitions reports the ELR and
// the last known leader as Kafka 4.3.1 does.
func TestELRElectsReplicaWithCommittedRecords(t *testing.T) {
	c := newTestCluster(t, []clusterSpec{
		{1, "controller", "voters"},
		{2, "broker", "voters"},
		{3, "broker", "voters"},
		{4, "broker", "voters"},
		{5, "broker", "voters"},
	}, "KAFKA_MIN_INSYNC_REPLICAS=2", "KAFKA_AUTO_LEADER_REBALANCE_ENABLE=false")
	for id := int32(1); id <= 5; id++ {
		c.start(id)
	}
	for id := int32(1); id <= 5; id++ {
		c.waitReady(id)
	}
	c.waitImages("brokers unfenced", unfenced(2, 3, 4, 5))
	require.Equal(t, int16(1), c.image().Feature(controller.EligibleLeaderReplicasFeature))

	const topic = "elr"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cr := rawRequest(t, c.nodes[5].addr(), 7, &protocol.CreateTopicsRequest{
		Topics: []protocol.CreateTopicsRequestCreatableTopic{{Name: topic, NumPartitions: -1, ReplicationFactor: -1,
			Assignments: []protocol.CreateTopicsRequestCreatableReplicaAssignment{{PartitionIndex: 0, BrokerIDs: []protocol.BrokerID{2, 3, 4}}}}},
		TimeoutMs: 30000,
	}).(*protocol.CreateTopicsResponse)
	require.Zero(t, cr.Topics[0].ErrorCode)
	partition := func(img *controller.MetadataImage) *controller.PartitionImage {
		if ti := img.Topic(topic); ti != nil {
			return ti.Partitions[0]
		}
		return nil
	}
	c.waitImages("leader 2, full ISR", func(img *controller.MetadataImage) bool {
		p := partition(img)
		return p != nil && p.Leader == 2 && len(p.ISR) == 3
	})

	seeds := []string{c.nodes[2].addr(), c.nodes[3].addr(), c.nodes[5].addr()}
	produce := func(n int, prefix string) []string {
		cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite())
		require.NoError(t, err)
		defer cl.Close()
		var acked []string
		for i := range n {
			v := fmt.Sprintf("%s-%d", prefix, i)
			require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr())
			acked = append(acked, v)
		}
		return acked
	}
	acked := produce(20, "isr3")

	// 4 dies: the ISR [2,3] still meets the minimum, acks=all goes on.
	c.kill(4)
	c.waitImages("4 out of the ISR", func(img *controller.MetadataImage) bool {
		p := partition(img)
		return slices.Equal(p.ISR, []int32{2, 3}) && len(p.ELR) == 0
	})
	acked = append(acked, produce(20, "isr2")...)

	// 3 dies: the ISR [2] is below the minimum; 3 has every committed
	// record and joins the ELR.
	c.kill(3)
	c.waitImages("3 in the ELR", func(img *controller.MetadataImage) bool {
		p := partition(img)
		return slices.Equal(p.ISR, []int32{2}) && slices.Equal(p.ELR, []int32{3})
	})
	describe := func() protocol.DescribeTopicPartitionsResponsePartition {
		name := protocol.TopicName(topic)
		r := rawRequest(t, c.nodes[5].addr(), 0, &protocol.DescribeTopicPartitionsRequest{
			Topics: []protocol.DescribeTopicPartitionsRequestTopicRequest{{Name: name}}, ResponsePartitionLimit: 10,
		}).(*protocol.DescribeTopicPartitionsResponse)
		require.Len(t, r.Topics, 1)
		require.Len(t, r.Topics[0].Partitions, 1)
		return r.Topics[0].Partitions[0]
	}
	require.Eventually(t, func() bool {
		d := describe()
		return slices.Equal(d.EligibleLeaderReplicas, []protocol.BrokerID{3}) && len(d.LastKnownElr) == 0
	}, 30*time.Second, 10*time.Millisecond)

	// 2 dies: no ISR; 2 joins the ELR and is the last known leader.
	c.kill(2)
	c.waitImages("ISR empty", func(img *controller.MetadataImage) bool {
		p := partition(img)
		return p.Leader == controller.NoLeader && len(p.ISR) == 0 && len(p.ELR) == 2
	})
	require.Eventually(t, func() bool {
		d := describe()
		return d.LeaderID == -1 && len(d.IsrNodes) == 0 &&
			slices.Equal(d.LastKnownElr, []protocol.BrokerID{2}) && len(d.EligibleLeaderReplicas) == 2
	}, 30*time.Second, 10*time.Millisecond)

	// 3 returns first and leads: an ELR member, not the last ISR member.
	c.start(3)
	c.waitReady(3)
	c.waitImages("3 leads from the ELR", func(img *controller.MetadataImage) bool {
		p := partition(img)
		return p.Leader == 3 && slices.Equal(p.ISR, []int32{3}) && slices.Equal(p.ELR, []int32{2})
	})

	// Every acknowledged record is on the new leader. Its high watermark
	// moves once the ISR is back at the minimum (4 catches up from it).
	c.start(4)
	c.waitReady(4)
	c.waitImages("4 back in the ISR", func(img *controller.MetadataImage) bool {
		p := partition(img)
		return p.Leader == 3 && slices.Equal(p.ISR, []int32{3, 4}) && len(p.ELR) == 0
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.nodes[3].addr(), c.nodes[5].addr()), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer cl.Close()
	var got []string
	for len(got) < len(acked) {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "read %d of %d acknowledged records", len(got), len(acked))
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	require.Equal(t, acked, got)
}
