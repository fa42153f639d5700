package storage

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
)

// TestMoveLogRateBound: replica.alter.log.dirs.io.max.bytes.per.second
// (SetMoveRate) bounds MoveLog's live copy: 3 MiB at 1 MiB/s take at least
// the two seconds beyond the bucket's one-second burst (a lower bound
// only: a loaded machine is slower, never faster), and the moved log is
// whole. Unbounded, the same copy does not wait.
func TestMoveLogRateBound(t *testing.T) {
	root := t.TempDir()
	dirs := []string{filepath.Join(root, "a"), filepath.Join(root, "b")}
	var live int64
	cfg := ManagerConfig{Dirs: dirs, Default: testConfig(), moveRoundHook: func(round int, copied int64) {
		if round > 0 {
			live += copied
		}
	}}
	m, err := NewManager(cfg, zaptest.NewLogger(t))
	require.NoError(t, err)
	defer m.Close()
	tp := TopicPartition{"throttled", 0}
	l, err := m.GetOrCreateLog(tp, nil)
	require.NoError(t, err)
	fill(t, l, 3000, 1000, constTS) // about 3 MiB
	leo := l.LogEndOffset()

	const rate = 1 << 20
	m.SetMoveRate(rate)
	src, _ := m.DirOf(tp)
	dest := dirs[0]
	if src == dest {
		dest = dirs[1]
	}
	began := time.Now()
	nl, err := m.MoveLog(tp, dest, nil)
	took := time.Since(began)
	require.NoError(t, err)
	require.Greater(t, live, int64(2*rate), "the live rounds copied the log")
	floor := time.Duration(float64(live-rate) / rate * float64(time.Second))
	t.Logf("copied %d bytes live in %v (floor %v)", live, took, floor)
	require.GreaterOrEqual(t, took, floor*9/10, "the copy is held to the bound")
	require.Equal(t, leo, nl.LogEndOffset())

	// Unbounded (Kafka's default), back to the first dir: no waiting.
	m.SetMoveRate(1<<63 - 1)
	require.False(t, m.moveLimit.limited())
	_, err = m.MoveLog(tp, src, nil)
	require.NoError(t, err)
}

// TestMoveLimiterStopsWithContext: a copy waiting for the bound gives up
// when the Manager closes.
func TestMoveLimiterStopsWithContext(t *testing.T) {
	var lim moveLimiter
	lim.setRate(1) // one byte per second
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- lim.wait(ctx, moveChunk) }()
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
}
