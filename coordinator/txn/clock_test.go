package txn

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/internal/spooltest"
	"github.com/spool-broker/spool/protocol/errcode"
)

// newClockedCoordinator is newTestCoordinator on clk, with transaction
// timeouts up to two days. The background loop runs only every 10s (the
// default), so the test drives abortTimedOut and removeExpired itself.
func newClockedCoordinator(t *testing.T, clk *spooltest.Clock, idExpiration time.Duration) (*Coordinator, *memMarkers) {
	c, mk := newTestCoordinator(t)
	c.mu.Lock()
	c.now = clk.Now // under mu: the background loop reads it under mu
	c.cfg.IDExpiration = idExpiration
	c.cfg.MaxTimeout = 48 * time.Hour
	c.mu.Unlock()
	return c, mk
}

// TestTransactionTimeoutByClock: an Ongoing transaction is aborted once it
// has been open longer than its timeout, not before, and its producer is
// fenced by an epoch bump (Kafka's abortTimedOutTransactions); the ABORT
// markers carry the bumped epoch.
func TestTransactionTimeoutByClock(t *testing.T) {
	ctx := context.Background()
	clk := spooltest.NewClock(time.UnixMilli(1_700_000_000_000))
	c, mk := newClockedCoordinator(t, clk, time.Hour)
	r := c.InitProducerID(ctx, "tx", 60_000, -1, -1)
	require.Zero(t, r.ErrorCode)
	tp := TopicPartition{Topic: "out", Partition: 0}
	require.Zero(t, c.AddPartitions(ctx, "tx", r.ProducerID, r.ProducerEpoch, []TopicPartition{tp}, 0))

	clk.Advance(time.Minute) // exactly the timeout: not over it yet (Kafka: start + timeout < now)
	c.abortTimedOut(ctx)
	m, code := c.Describe("tx")
	require.Zero(t, code)
	require.Equal(t, Ongoing, m.State)

	clk.Advance(time.Millisecond)
	c.abortTimedOut(ctx)
	// The markers are written in the background: wait for the completion.
	require.Eventually(t, func() bool {
		m, code = c.Describe("tx")
		return code == 0 && m.State == CompleteAbort
	}, 10*time.Second, time.Millisecond)
	require.Equal(t, r.ProducerEpoch+1, m.ProducerEpoch, "the producer is fenced")
	require.Equal(t, []marker{{r.ProducerID, r.ProducerEpoch + 1, false, []TopicPartition{tp}}}, mk.got)
	end := c.EndTxn(ctx, "tx", r.ProducerID, r.ProducerEpoch, true, 0)
	require.Equal(t, errcode.ProducerFenced, end.ErrorCode)
}

// TestTransactionalIDExpirationByClock: an id whose last transaction is
// finished is forgotten once transactional.id.expiration.ms has passed since
// its last update (at the boundary, as Kafka's <= test), not before; an
// Ongoing one never is. The next InitProducerId for
// a forgotten id gets a new producer id.
func TestTransactionalIDExpirationByClock(t *testing.T) {
	ctx := context.Background()
	clk := spooltest.NewClock(time.UnixMilli(1_700_000_000_000))
	c, _ := newClockedCoordinator(t, clk, time.Hour)
	idle := c.InitProducerID(ctx, "idle", 60_000, -1, -1)
	require.Zero(t, idle.ErrorCode)
	open := c.InitProducerID(ctx, "open", int32((24 * time.Hour).Milliseconds()), -1, -1)
	require.Zero(t, open.ErrorCode)
	require.Zero(t, c.AddPartitions(ctx, "open", open.ProducerID, open.ProducerEpoch, []TopicPartition{{Topic: "out", Partition: 0}}, 0))

	clk.Advance(time.Hour - time.Millisecond)
	c.removeExpired(ctx)
	_, code := c.Describe("idle")
	require.Zero(t, code)

	clk.Advance(time.Millisecond)
	c.removeExpired(ctx)
	_, code = c.Describe("idle")
	require.Equal(t, errcode.TransactionalIDNotFound, code)
	m, code := c.Describe("open")
	require.Zero(t, code)
	require.Equal(t, Ongoing, m.State, "an open transaction's id does not expire")

	again := c.InitProducerID(ctx, "idle", 60_000, -1, -1)
	require.Zero(t, again.ErrorCode)
	require.NotEqual(t, idle.ProducerID, again.ProducerID)
	require.Zero(t, again.ProducerEpoch)
}
