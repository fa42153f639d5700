package server

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestGroupMembersRejoinAfterRestart restarts the broker under a live
// classic group: the members reconnect, rejoin, resume from their committed
// offsets, and the group ends Stable with both of them.
func TestGroupMembersRejoinAfterRestart(t *testing.T) {
	n := startTestNode(t)
	createTopic(t, n.addr, "rejoin", 4, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	consumers := make([]*kgo.Client, 2)
	for i := range consumers {
		cl, err := kgo.NewClient(kgo.SeedBrokers(n.addr), kgo.ConsumerGroup("rejoiners"), kgo.ConsumeTopics("rejoin"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.Balancers(kgo.RangeBalancer()),
			kgo.AutoCommitInterval(200*time.Millisecond), kgo.RetryTimeout(60*time.Second))
		require.NoError(t, err)
		consumers[i] = cl
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				fs := cl.PollFetches(ctx)
				fs.EachRecord(func(r *kgo.Record) {
					mu.Lock()
					seen[string(r.Value)] = true
					mu.Unlock()
				})
			}
		}()
	}
	defer func() {
		cancel()
		wg.Wait()
		for _, cl := range consumers {
			cl.Close()
		}
	}()
	produce := func(from, to int) {
		t.Helper()
		cl := newClient(t, n.addr, kgo.DefaultProduceTopic("rejoin"))
		var recs []*kgo.Record
		for i := from; i < to; i++ {
			recs = append(recs, &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint(i))})
		}
		require.NoError(t, cl.ProduceSync(ctx, recs...).FirstErr())
		cl.Close()
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(seen) }

	produce(0, 100)
	require.Eventually(t, func() bool { return count() == 100 }, 30*time.Second, 50*time.Millisecond)
	n.restart()
	produce(100, 200)
	require.Eventually(t, func() bool { return count() == 200 }, 60*time.Second, 50*time.Millisecond,
		"after the restart the members must rejoin and read the new records")

	adm := kadm.NewClient(newClient(t, n.addr))
	require.Eventually(t, func() bool {
		described, err := adm.DescribeGroups(ctx, "rejoiners")
		if err != nil {
			return false
		}
		g := described["rejoiners"]
		return g.State == "Stable" && len(g.Members) == 2
	}, 30*time.Second, 100*time.Millisecond, "the group is Stable with both members again")
}
