package controller

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAutoLeaderRebalance: leadership leaves a fenced broker; once it is
// back and in the ISR, the periodic check (auto.leader.rebalance.enable)
// returns leadership to it as the preferred replica, and only then.
func TestAutoLeaderRebalance(t *testing.T) {
	ctx := context.Background()
	cfg := soleConfig(t, t.TempDir())
	cfg.LeaderImbalanceCheckInterval = 20 * time.Millisecond
	c := openController(t, cfg)
	registerBrokers(t, c, 1, 2, 3)
	res := c.CreateTopics(ctx, []CreateTopic{{Name: "t", Assignments: map[int32][]int32{0: {1, 2, 3}}, NumPartitions: -1, ReplicationFactor: -1}}, false)
	require.NoError(t, res[0].Err)
	part := func() *PartitionImage { return c.Image().Topic("t").Partitions[0] }
	require.Equal(t, int32(1), part().Leader)

	require.NoError(t, c.SetBrokerFenced(ctx, 1, c.Image().Broker(1).Epoch, true))
	require.Equal(t, int32(2), part().Leader)
	require.Equal(t, []int32{2, 3}, part().ISR)
	require.NoError(t, c.SetBrokerFenced(ctx, 1, c.Image().Broker(1).Epoch, false))
	// Back but not in the ISR: the preferred replica cannot lead yet.
	require.Equal(t, []TopicPartition(nil), imbalancedPartitions(c.Image(), 10))
	require.Equal(t, int32(2), part().Leader)

	// The leader adds it back once it caught up: the next check moves
	// leadership to it.
	p := part()
	out, err := c.AlterPartition(ctx, 2, c.Image().Broker(2).Epoch, []ISRUpdate{{
		TopicID: res[0].TopicID, Partition: 0, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch, NewISR: []int32{2, 3, 1}}})
	require.NoError(t, err)
	require.NoError(t, out[0].Err)
	require.Eventually(t, func() bool { return part().Leader == 1 }, 30*time.Second, 5*time.Millisecond, "leadership back on the preferred replica")
}
