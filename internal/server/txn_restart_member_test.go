package server

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestGroupTransactSessionMemberRestart runs two consume-transform-produce
// members (kgo GroupTransactSession) over four partitions and restarts one
// of them midway. Whatever was in flight when it stopped is aborted or
// re-done, so the output holds every input exactly once and the group's
// committed offsets reach the end of the input.
func TestGroupTransactSessionMemberRestart(t *testing.T) {
	const n = 400
	node := startTestNode(t)
	txnTestTopic(t, node, "mv-in", 4)
	txnTestTopic(t, node, "mv-out", 4)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	prod, err := kgo.NewClient(kgo.SeedBrokers(node.addr), kgo.DefaultProduceTopic("mv-in"))
	require.NoError(t, err)
	var recs []*kgo.Record
	for i := 0; i < n; i++ {
		recs = append(recs, &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint(i))})
	}
	require.NoError(t, prod.ProduceSync(ctx, recs...).FirstErr())
	prod.Close()

	var moved atomic.Int64
	member := func(ctx context.Context, id string) error {
		sess, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(node.addr), kgo.TransactionalID(id),
			kgo.ConsumerGroup("mv-group"), kgo.ConsumeTopics("mv-in"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DefaultProduceTopic("mv-out"),
			kgo.SessionTimeout(6*time.Second))
		if err != nil {
			return err
		}
		defer sess.Close()
		for ctx.Err() == nil && moved.Load() < n {
			fs := sess.PollRecords(ctx, 20)
			if fs.NumRecords() == 0 {
				continue
			}
			if err := sess.Begin(); err != nil {
				return err
			}
			fs.EachRecord(func(r *kgo.Record) {
				sess.Produce(ctx, &kgo.Record{Key: r.Key, Value: r.Value}, nil)
			})
			committed, err := sess.End(ctx, kgo.TryCommit)
			if err != nil && ctx.Err() == nil {
				return err
			}
			if committed {
				moved.Add(int64(fs.NumRecords()))
			}
		}
		return nil
	}

	var wg sync.WaitGroup
	errs := make(chan error, 3)
	start := func(ctx context.Context, id string) {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- member(ctx, id) }()
	}
	start(ctx, "mv-a")
	bctx, stopB := context.WithCancel(ctx)
	start(bctx, "mv-b")
	require.Eventually(t, func() bool { return moved.Load() >= n/4 }, 60*time.Second, 20*time.Millisecond)
	stopB() // member b stops mid-stream (its session closes) and comes back
	start(ctx, "mv-b")
	require.Eventually(t, func() bool { return moved.Load() >= n }, 60*time.Second, 20*time.Millisecond,
		"moved %d of %d", moved.Load())
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	out := txnConsumeAll(t, node, "mv-out", true)
	seen := map[string]int{}
	for _, v := range out {
		seen[v]++
	}
	for i := 0; i < n; i++ {
		require.Equal(t, 1, seen[fmt.Sprint(i)], "input %d must appear exactly once in the output", i)
	}
	require.Len(t, out, n)
	adm, err := kgo.NewClient(kgo.SeedBrokers(node.addr))
	require.NoError(t, err)
	defer adm.Close()
	actx, acancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer acancel()
	offs, err := kadm.NewClient(adm).FetchOffsets(actx, "mv-group")
	require.NoError(t, err)
	ends, err := kadm.NewClient(adm).ListEndOffsets(actx, "mv-in")
	require.NoError(t, err)
	ends.Each(func(e kadm.ListedOffset) {
		o, ok := offs.Lookup("mv-in", e.Partition)
		require.True(t, ok, "partition %d has a committed offset", e.Partition)
		require.Equal(t, e.Offset, o.At, "partition %d committed offset", e.Partition)
	})
}
