package server

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spool-broker/spool/internal/spooltest"
)

// TestKillDuringTransaction SIGKILLs the broker between AddPartitionsToTxn
// (records produced and acknowledged) and EndTxn. After a restart the
// transaction is entirely aborted: read_committed sees none of it, and a
// new producer with the same transactional id commits normally.
func TestKillDuringTransaction(t *testing.T) {
	bin := spooltest.Build(t)
	dir := t.TempDir()
	addr, env := processEnv(t, filepath.Join(dir, "data"), "KAFKA_TRANSACTION_ABORT_TIMED_OUT_TRANSACTION_CLEANUP_INTERVAL_MS=200")
	logPath := filepath.Join(dir, "spool.log")
	p := startProcess(t, bin, env, addr, logPath)
	createTopic(t, addr, "crashtx", 2, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID("crash-tx"), kgo.TransactionTimeout(3*time.Second))
	require.NoError(t, err)
	require.NoError(t, cl.BeginTransaction())
	for i := 0; i < 10; i++ {
		require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: "crashtx", Partition: int32(i % 2), Value: []byte(fmt.Sprint(i))}).FirstErr())
	}
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	_ = p.cmd.Wait()
	cl.Close()

	startProcess(t, bin, env, addr, logPath)
	n := &testNode{t: t, addr: addr}
	require.Len(t, txnConsumeAll(t, n, "crashtx", false), 10)
	// The open transaction holds back read_committed until it is aborted
	// (by its timeout or by the next InitProducerId for the id).
	cl2, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID("crash-tx"))
	require.NoError(t, err)
	defer cl2.Close()
	produceTxn(t, cl2, "crashtx", "after", 4, true)
	require.ElementsMatch(t, []string{"after-0", "after-1", "after-2", "after-3"}, txnConsumeAll(t, n, "crashtx", true))
}
