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

func txnTestTopic(t *testing.T, n *testNode, topic string, partitions int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.addr))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, topic)
	require.NoError(t, err)
}

// consumeAll reads topic from the start until it has gone quiet.
func txnConsumeAll(t *testing.T, n *testNode, topic string, committed bool) []string {
	t.Helper()
	opts := []kgo.Opt{kgo.SeedBrokers(n.addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
	if committed {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	require.NoError(t, err)
	defer cl.Close()
	var out []string
	// Until the first record arrives the client may still be connecting
	// (after a broker restart, on a loaded machine): wait up to 8 s. After
	// that, 1.5 s without records means the end.
	first := time.Now().Add(8 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		if ctx.Err() != nil && fs.NumRecords() == 0 && (len(out) > 0 || time.Now().After(first)) {
			return out
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
	}
}

func produceTxn(t *testing.T, cl *kgo.Client, topic, prefix string, count int, commit bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, cl.BeginTransaction())
	for i := 0; i < count; i++ {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: int32(i % 2), Value: []byte(fmt.Sprintf("%s-%d", prefix, i))}, nil)
	}
	require.NoError(t, cl.Flush(ctx))
	require.NoError(t, cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)))
}

func TestIdempotentProduce(t *testing.T) {
	n := startTestNode(t)
	txnTestTopic(t, n, "idem", 1)
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.addr), kgo.DefaultProduceTopic("idem"))
	require.NoError(t, err)
	defer cl.Close()
	ctx := context.Background()
	for i := 0; i < 50; i++ {
		require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprint(i))}).FirstErr())
	}
	require.Len(t, txnConsumeAll(t, n, "idem", false), 50)
	producers, err := kadm.NewClient(cl).DescribeProducers(ctx, kadm.TopicsSet{"idem": {0: {}}})
	require.NoError(t, err)
	require.Len(t, producers["idem"].Partitions[0].ActiveProducers, 1)
}

func TestTransactionsAbortThenCommit(t *testing.T) {
	n := startTestNode(t)
	txnTestTopic(t, n, "txn", 2)
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.addr), kgo.TransactionalID("tx-1"))
	require.NoError(t, err)
	defer cl.Close()
	produceTxn(t, cl, "txn", "aborted", 6, false)
	produceTxn(t, cl, "txn", "committed", 4, true)

	committed := txnConsumeAll(t, n, "txn", true)
	require.ElementsMatch(t, []string{"committed-0", "committed-1", "committed-2", "committed-3"}, committed)
	require.Len(t, txnConsumeAll(t, n, "txn", false), 10)

	adm := kadm.NewClient(cl)
	ctx := context.Background()
	desc, err := adm.DescribeTransactions(ctx, "tx-1")
	require.NoError(t, err)
	require.Equal(t, "CompleteCommit", desc["tx-1"].State)
	list, err := adm.ListTransactions(ctx, nil, []string{"CompleteCommit"})
	require.NoError(t, err)
	require.Contains(t, list.TransactionalIDs(), "tx-1")

	// The transaction's state and the aborted index survive a restart.
	n.restart()
	require.ElementsMatch(t, committed, txnConsumeAll(t, n, "txn", true))
	cl2, err := kgo.NewClient(kgo.SeedBrokers(n.addr), kgo.TransactionalID("tx-1"))
	require.NoError(t, err)
	defer cl2.Close()
	produceTxn(t, cl2, "txn", "again", 2, true)
	require.Len(t, txnConsumeAll(t, n, "txn", true), 6)
}

func TestTransactionTimeoutAbortsAndFences(t *testing.T) {
	n := startTestNode(t, "KAFKA_TRANSACTION_ABORT_TIMED_OUT_TRANSACTION_CLEANUP_INTERVAL_MS=200")
	txnTestTopic(t, n, "slow", 1)
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.addr), kgo.TransactionalID("tx-slow"), kgo.TransactionTimeout(time.Second))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, cl.BeginTransaction())
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: "slow", Value: []byte("late")}).FirstErr())
	adm := kadm.NewClient(cl)
	offs, err := adm.ListEndOffsets(ctx, "slow")
	require.NoError(t, err)
	require.Equal(t, int64(1), offs["slow"][0].Offset)

	// Once the 1s timeout passes, the coordinator's next check aborts the
	// transaction and bumps the epoch.
	require.Eventually(t, func() bool {
		desc, err := adm.DescribeTransactions(ctx, "tx-slow")
		return err == nil && desc["tx-slow"].State == "CompleteAbort"
	}, 20*time.Second, 20*time.Millisecond)
	err = cl.EndTransaction(ctx, kgo.TryCommit)
	require.Error(t, err, "the timed-out producer is fenced")
	require.Empty(t, txnConsumeAll(t, n, "slow", true))
	desc, err := adm.DescribeTransactions(ctx, "tx-slow")
	require.NoError(t, err)
	require.Equal(t, "CompleteAbort", desc["tx-slow"].State)
}

func TestInitProducerIDTimeoutValidation(t *testing.T) {
	n := startTestNode(t, "KAFKA_TRANSACTION_MAX_TIMEOUT_MS=5000")
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.addr), kgo.TransactionalID("tx-big"), kgo.TransactionTimeout(10*time.Second))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err = cl.BeginTransaction(); err == nil { // franz-go may initialize the producer id lazily
		err = cl.ProduceSync(ctx, &kgo.Record{Topic: "any", Value: []byte("x")}).FirstErr()
	}
	require.ErrorContains(t, err, "INVALID_TRANSACTION_TIMEOUT")
}
