package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestGroupTransactSession moves N records from one topic to another with
// consume-transform-produce transactions: exactly N arrive.
func TestGroupTransactSession(t *testing.T) {
	const n = 50
	node := startTestNode(t)
	txnTestTopic(t, node, "in", 1)
	txnTestTopic(t, node, "out", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	prod, err := kgo.NewClient(kgo.SeedBrokers(node.addr), kgo.DefaultProduceTopic("in"))
	require.NoError(t, err)
	for i := 0; i < n; i++ {
		require.NoError(t, prod.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprint(i))}).FirstErr())
	}
	prod.Close()

	sess, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(node.addr), kgo.TransactionalID("mover"),
		kgo.ConsumerGroup("movers"), kgo.ConsumeTopics("in"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DefaultProduceTopic("out"))
	require.NoError(t, err)
	defer sess.Close()
	moved := 0
	for moved < n && ctx.Err() == nil {
		fs := sess.PollFetches(ctx)
		if fs.NumRecords() == 0 {
			continue
		}
		require.NoError(t, sess.Begin())
		fs.EachRecord(func(r *kgo.Record) {
			sess.Produce(ctx, &kgo.Record{Value: r.Value}, nil)
		})
		committed, err := sess.End(ctx, kgo.TryCommit)
		require.NoError(t, err)
		if committed {
			moved += fs.NumRecords()
		}
	}
	require.Equal(t, n, moved)
	require.Len(t, txnConsumeAll(t, node, "out", true), n)
	adm, err := kgo.NewClient(kgo.SeedBrokers(node.addr))
	require.NoError(t, err)
	defer adm.Close()
	offs, err := kadm.NewClient(adm).FetchOffsets(ctx, "movers")
	require.NoError(t, err)
	o, ok := offs.Lookup("in", 0)
	require.True(t, ok)
	require.EqualValues(t, n, o.At, "the transactional offsets were committed")
}
