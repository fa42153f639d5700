package node_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
)

// TestCreateTopicVisibleEverywhere: once CreateTopics has answered, every
// broker knows the topic, whichever broker served the creation and however
// far behind the others' metadata is (issue 12: kafka-go's Writer failed
// with UNKNOWN_TOPIC_OR_PARTITION on a broker that had not applied the new
// topic yet). Kafka answers that code in that window; Spool's brokers catch
// up with the committed metadata log first. Three combined nodes (the
// spool3 compat shape) and a broker-only observer; each round creates a
// topic through one broker and asks every other one at once, by Metadata
// and by an acks=1 Produce to its leader.
func TestCreateTopicVisibleEverywhere(t *testing.T) {
	c := newTestCluster(t, []clusterSpec{
		{1, "broker,controller", "voters"},
		{2, "broker,controller", "voters"},
		{3, "broker,controller", "voters"},
		{4, "broker", "voters"},
	})
	brokers := []int32{1, 2, 3, 4}
	for _, id := range brokers {
		c.start(id)
	}
	for _, id := range brokers {
		c.waitReady(id)
	}
	c.waitImages("every broker registered and unfenced", unfenced(brokers...))

	const rounds = 24
	for i := range rounds {
		topic := fmt.Sprintf("fresh-%d", i)
		via := brokers[i%len(brokers)]
		cr := rawRequest(t, c.nodes[via].addr(), 7, &protocol.CreateTopicsRequest{
			Topics:    []protocol.CreateTopicsRequestCreatableTopic{{Name: protocol.TopicName(topic), NumPartitions: 1, ReplicationFactor: 3}},
			TimeoutMs: 30000,
		}).(*protocol.CreateTopicsResponse)
		require.Len(t, cr.Topics, 1)
		require.Zero(t, cr.Topics[0].ErrorCode, "create %s via %d", topic, via)

		name := protocol.TopicName(topic)
		leader := int32(-1)
		for _, id := range brokers {
			md := rawRequest(t, c.nodes[id].addr(), 12, &protocol.MetadataRequest{
				Topics: []protocol.MetadataRequestTopic{{Name: &name}},
			}).(*protocol.MetadataResponse)
			require.Len(t, md.Topics, 1)
			require.Zero(t, md.Topics[0].ErrorCode, "broker %d answers Metadata for %s created via %d", id, topic, via)
			require.Len(t, md.Topics[0].Partitions, 1)
			leader = int32(md.Topics[0].Partitions[0].LeaderID)
		}
		require.Contains(t, brokers, leader)

		// The leader takes the first write at once, or answers a code a
		// client retries (never UNKNOWN_TOPIC_OR_PARTITION).
		var code int16
		require.Eventually(t, func() bool {
			code = produceOne(t, c.nodes[leader].addr(), topic)
			return code != errcode.NotLeaderOrFollower
		}, 30*time.Second, 5*time.Millisecond)
		require.Zero(t, code, "broker %d answers Produce to %s created via %d", leader, topic, via)
	}
}

// produceOne sends one acks=1 record to partition 0 of topic at addr and
// returns the partition's error code.
func produceOne(t *testing.T, addr, topic string) int16 {
	t.Helper()
	batch, err := records.AppendBatch(nil, records.NewBatchOptions(), []records.Record{{Value: []byte("v"), Timestamp: time.Now().UnixMilli()}})
	require.NoError(t, err)
	pr := rawRequest(t, addr, 9, &protocol.ProduceRequest{
		Acks: 1, TimeoutMs: 10000,
		TopicData: []protocol.ProduceRequestTopicProduceData{{
			Name:          protocol.TopicName(topic),
			PartitionData: []protocol.ProduceRequestPartitionProduceData{{Index: 0, Records: batch}},
		}},
	}).(*protocol.ProduceResponse)
	require.Len(t, pr.Responses, 1)
	require.Len(t, pr.Responses[0].PartitionResponses, 1)
	return pr.Responses[0].PartitionResponses[0].ErrorCode
}
