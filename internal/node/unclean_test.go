package node_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spool-broker/spool/controller"
)

// TestUncleanLeaderElectionTruncates runs the controller's unclean leader
// election and the replicas' truncation together: three brokers and a
// separate three-node controller quorum. A follower dies and leaves the
// ISR, the leader writes on with the other ISR member, then both die. With
// unclean.leader.election.enable on the topic, the returning lagging
// replica is elected leader alone (a clean election would find no one) and
// takes writes; when the old ISR members come back they truncate what they
// alone had, by leader epoch, and follow it: every replica ends with the
// same log, missing the writes lost to the unclean election.
func TestUncleanLeaderElectionTruncates(t *testing.T) {
	c := newTestCluster(t, []clusterSpec{
		{1, "broker", "voters"}, {2, "broker", "voters"}, {3, "broker", "voters"},
		{4, "controller", "voters"}, {5, "controller", "voters"}, {6, "controller", "voters"},
	})
	for id := int32(1); id <= 6; id++ {
		c.start(id)
	}
	for id := int32(1); id <= 6; id++ {
		c.waitReady(id)
	}
	c.waitImages("brokers unfenced", unfenced(1, 2, 3))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const topic = "unclean"
	seeds := []string{c.nodes[1].addr(), c.nodes[2].addr(), c.nodes[3].addr()}
	adminCl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	require.NoError(t, err)
	defer adminCl.Close()
	adm := kadm.NewClient(adminCl)
	created, err := adm.CreateTopic(ctx, 1, 3, map[string]*string{
		"unclean.leader.election.enable": kadm.StringPtr("true"),
		"min.insync.replicas":            kadm.StringPtr("1"),
	}, topic)
	require.NoError(t, err)
	require.NoError(t, created.Err)
	part := func() *controller.PartitionImage { return c.image().Topic(topic).Partitions[0] }
	waitISR := func(want ...int32) {
		t.Helper()
		c.waitImages(fmt.Sprintf("ISR %v", want), func(img *controller.MetadataImage) bool {
			tp := img.Topic(topic)
			if tp == nil {
				return false
			}
			isr := slices.Sorted(slices.Values(tp.Partitions[0].ISR))
			return slices.Equal(isr, want) && tp.Partitions[0].Leader >= 0
		})
	}
	waitISR(1, 2, 3)
	leader := part().Leader
	var others []int32
	for _, r := range part().Replicas {
		if r != leader {
			others = append(others, r)
		}
	}
	inSync, lagging := others[0], others[1]

	produce := func(prefix string, n int) {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic),
			kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordDeliveryTimeout(60*time.Second))
		require.NoError(t, err)
		defer cl.Close()
		for i := range n {
			require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "%s%d", prefix, i)}).FirstErr())
		}
	}
	produce("a", 5)

	// The lagging replica dies: fenced, out of the ISR. The others go on.
	c.kill(lagging)
	waitISR(slices.Sorted(slices.Values([]int32{leader, inSync}))...)
	produce("b", 5)

	// Both ISR members die. No clean leader is left.
	c.kill(leader)
	c.kill(inSync)
	c.waitImages("no leader", func(img *controller.MetadataImage) bool { return img.Topic(topic).Partitions[0].Leader < 0 })
	epochBefore := part().LeaderEpoch

	// The lagging replica returns and is elected uncleanly, alone.
	c.start(lagging)
	c.waitReady(lagging)
	c.waitImages("unclean leader", func(img *controller.MetadataImage) bool {
		p := img.Topic(topic).Partitions[0]
		return p.Leader == lagging && slices.Equal(p.ISR, []int32{lagging})
	})
	require.Greater(t, part().LeaderEpoch, epochBefore)
	require.Equal(t, controller.LeaderRecovering, part().LeaderRecoveryState, "KIP-704: RECOVERING until the leader says otherwise")
	produce("c", 3)
	require.Equal(t, controller.LeaderRecovering, part().LeaderRecoveryState, "no follower to add yet")

	// The old ISR members return, truncate and follow; the leader's
	// first expansion records it RECOVERED.
	c.start(leader)
	c.start(inSync)
	c.waitReady(leader)
	c.waitReady(inSync)
	waitISR(1, 2, 3)
	require.Equal(t, controller.LeaderRecovered, part().LeaderRecoveryState)

	read := func() []string {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
		require.NoError(t, err)
		defer cl.Close()
		var end kadm.ListedOffset
		require.Eventually(t, func() bool { // the leader may have just moved
			ends, err := adm.ListEndOffsets(ctx, topic)
			if err != nil || ends.Error() != nil {
				return false
			}
			end, _ = ends.Lookup(topic, 0)
			return true
		}, 30*time.Second, 50*time.Millisecond)
		var out []string
		for int64(len(out)) < end.Offset {
			fs := cl.PollFetches(ctx)
			require.NoError(t, ctx.Err())
			fs.EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
		}
		return out
	}
	want := []string{"a0", "a1", "a2", "a3", "a4", "c0", "c1", "c2"}
	require.Equal(t, want, read(), "the writes after the lagging replica left the ISR are lost")

	// The unclean leader dies too; a truncated replica leads and has the
	// very same log.
	c.kill(lagging)
	c.waitImages("a truncated replica leads", func(img *controller.MetadataImage) bool {
		l := img.Topic(topic).Partitions[0].Leader
		return l == leader || l == inSync
	})
	require.Equal(t, want, read())
}
