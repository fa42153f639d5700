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
// members (kgo GroupTransactSession) over four partitions and stops one of
// them abruptly midway (its context is cancelled, possibly inside a
// transaction), then starts it again. A transaction the stopped member left
// open is aborted, either by its successor's InitProducerId or by the
// transaction timeout, so once the group's committed offsets reach the end
// of the input and the output's last stable offsets reach its high
// watermarks, the output holds every input exactly once.
//
// The members' own "committed" results are not used as the measure: a
// cancelled End can report failure for a commit the coordinator completed,
// which is why the test reads the group's offsets and the output instead.
func TestGroupTransactSessionMemberRestart(t *testing.T) {
	const n = 400
	node := startTestNode(t, "KAFKA_TRANSACTION_ABORT_TIMED_OUT_TRANSACTION_CLEANUP_INTERVAL_MS=200")
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

	var moved atomic.Int64 // records in transactions a member saw commit; a lower bound
	member := func(ctx context.Context, id string) error {
		sess, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(node.addr), kgo.TransactionalID(id),
			kgo.ConsumerGroup("mv-group"), kgo.ConsumeTopics("mv-in"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DefaultProduceTopic("mv-out"),
			kgo.SessionTimeout(6*time.Second), kgo.TransactionTimeout(3*time.Second))
		if err != nil {
			return err
		}
		defer sess.Close()
		for ctx.Err() == nil {
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

	adm, err := kgo.NewClient(kgo.SeedBrokers(node.addr))
	require.NoError(t, err)
	defer adm.Close()
	kadmc := kadm.NewClient(adm)
	var ends kadm.ListedOffsets
	ends, err = kadmc.ListEndOffsets(ctx, "mv-in")
	require.NoError(t, err)
	lag := func() (behind int64) {
		offs, err := kadmc.FetchOffsets(ctx, "mv-group")
		if err != nil {
			return -1
		}
		ends.Each(func(e kadm.ListedOffset) {
			o, ok := offs.Lookup("mv-in", e.Partition)
			if !ok {
				behind += e.Offset
			} else {
				behind += e.Offset - o.At
			}
		})
		return behind
	}
	require.Eventually(t, func() bool { return lag() == 0 }, 60*time.Second, 50*time.Millisecond,
		"the group's committed offsets must reach the end of the input (%d of %d records seen committed by members)", moved.Load(), n)
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	// Every transaction on the output has ended (committed, aborted by a
	// successor or by its timeout): last stable offsets equal high watermarks.
	actx, acancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer acancel()
	require.Eventually(t, func() bool {
		hw, err1 := kadmc.ListEndOffsets(actx, "mv-out")
		lso, err2 := kadmc.ListCommittedOffsets(actx, "mv-out")
		if err1 != nil || err2 != nil {
			return false
		}
		same := true
		hw.Each(func(h kadm.ListedOffset) {
			l, ok := lso.Lookup("mv-out", h.Partition)
			same = same && ok && l.Offset == h.Offset
		})
		return same
	}, 25*time.Second, 50*time.Millisecond, "open transactions on mv-out must end")

	out := txnConsumeAll(t, node, "mv-out", true)
	seen := map[string]int{}
	for _, v := range out {
		seen[v]++
	}
	for i := 0; i < n; i++ {
		require.Equal(t, 1, seen[fmt.Sprint(i)], "input %d must appear exactly once in the output", i)
	}
	require.Len(t, out, n)
}
