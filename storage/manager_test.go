package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
)

func newTestManager(t *testing.T, dirs []string) *Manager {
	t.Helper()
	return newTestManagerReg(t, dirs, nil)
}

func newTestManagerReg(t *testing.T, dirs []string, reg prometheus.Registerer) *Manager {
	t.Helper()
	m, err := NewManager(ManagerConfig{
		Registerer: reg,
		Dirs:       dirs, Default: testConfig(),
		RetentionCheckInterval: 20 * time.Millisecond,
		FlushCheckInterval:     20 * time.Millisecond,
		CheckpointInterval:     20 * time.Millisecond,
	}, zaptest.NewLogger(t))
	require.NoError(t, err)
	return m
}

func TestManager(t *testing.T) {
	dirs := []string{t.TempDir(), t.TempDir()}
	m := newTestManager(t, dirs)
	leos := map[TopicPartition]int64{}
	for p := range int32(4) {
		tp := TopicPartition{"orders", p}
		l, err := m.GetOrCreateLog(tp, nil)
		require.NoError(t, err)
		fill(t, l, 20*int(p+1), 100, constTS)
		leos[tp] = l.LogEndOffset()
	}
	// New partitions go to the dir with the fewest.
	for _, d := range dirs {
		ds, err := filepath.Glob(filepath.Join(d, "orders-*"))
		require.NoError(t, err)
		require.Len(t, ds, 2, d)
	}
	l0, _ := m.Log(TopicPartition{"orders", 0})
	l0.SetHighWatermark(l0.LogEndOffset())
	_, err := l0.DeleteRecordsBefore(5)
	require.NoError(t, err)

	// The periodic checkpoint writes both files.
	require.Eventually(t, func() bool {
		got, err := ReadOffsetCheckpoint(filepath.Join(m.dirOf[TopicPartition{"orders", 0}], LogStartOffsetCheckpointFile))
		return err == nil && got[TopicPartition{"orders", 0}] == 5
	}, 5*time.Second, 10*time.Millisecond)

	// Deleting renames to <topic>-<partition>.<uuid>-delete, then removes.
	require.NoError(t, m.DeleteLog(TopicPartition{"orders", 3}))
	_, ok := m.Log(TopicPartition{"orders", 3})
	require.False(t, ok)
	delete(leos, TopicPartition{"orders", 3})
	require.Eventually(t, func() bool {
		var left []string
		for _, d := range dirs {
			m1, _ := filepath.Glob(filepath.Join(d, "orders-3*"))
			left = append(left, m1...)
		}
		return len(left) == 0
	}, 5*time.Second, 10*time.Millisecond)
	require.ErrorIs(t, m.DeleteLog(TopicPartition{"orders", 3}), ErrLogNotFound)

	require.NoError(t, m.Close())
	for _, d := range dirs {
		require.FileExists(t, filepath.Join(d, CleanShutdownFile))
		rp, err := ReadOffsetCheckpoint(filepath.Join(d, RecoveryPointCheckpointFile))
		require.NoError(t, err)
		for tp, off := range rp {
			require.Equal(t, leos[tp], off, "recovery point of %s at close", tp)
		}
	}

	// Reopen: clean start, marker removed, logs back with their offsets.
	m2 := newTestManager(t, dirs)
	defer m2.Close()
	for _, d := range dirs {
		require.NoFileExists(t, filepath.Join(d, CleanShutdownFile))
	}
	require.Len(t, m2.Logs(), 3)
	for tp, leo := range leos {
		l, ok := m2.Log(tp)
		require.True(t, ok, tp)
		require.Equal(t, leo, l.LogEndOffset())
	}
	l0, _ = m2.Log(TopicPartition{"orders", 0})
	require.Equal(t, int64(5), l0.LogStartOffset())
}

func TestManagerRecoversWithoutMarker(t *testing.T) {
	dir := t.TempDir()
	m := newTestManager(t, []string{dir})
	l, err := m.GetOrCreateLog(TopicPartition{"t", 0}, nil)
	require.NoError(t, err)
	fill(t, l, 30, 100, constTS)
	leo := l.LogEndOffset()
	require.NoError(t, m.Close())
	require.NoError(t, os.Remove(filepath.Join(dir, CleanShutdownFile)))
	active := l.Segments()[len(l.Segments())-1]
	appendToFile(t, segmentName(l.Dir(), active.BaseOffset(), logSuffix), []byte("torn write"))

	m2 := newTestManager(t, []string{dir})
	defer m2.Close()
	l2, ok := m2.Log(TopicPartition{"t", 0})
	require.True(t, ok)
	require.Equal(t, leo, l2.LogEndOffset())
	require.Equal(t, active.Size(), fileSize(t, segmentName(l.Dir(), active.BaseOffset(), logSuffix)))
}

func TestManagerRetentionLoop(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newTestManagerReg(t, []string{t.TempDir()}, reg)
	defer m.Close()
	cfg := testConfig()
	cfg.RetentionMs = 1000
	l, err := m.GetOrCreateLog(TopicPartition{"old", 0}, &cfg)
	require.NoError(t, err)
	fill(t, l, 60, 100, func(int) int64 { return time.Now().Add(-time.Hour).UnixMilli() })
	require.Eventually(t, func() bool {
		return len(l.Segments()) == 1 && l.LogStartOffset() == l.LogEndOffset()
	}, 5*time.Second, 10*time.Millisecond, fmt.Sprint(len(l.Segments())))
	// Rolled segments got flushed by the flush loop.
	require.Eventually(t, func() bool { return l.RecoveryPoint() == l.LogEndOffset() }, 5*time.Second, 10*time.Millisecond)

	// The retention pass counts deleted segments after it has removed them,
	// so the counters may trail the log state by a moment.
	gather := func() map[string]float64 {
		families, err := reg.Gather()
		require.NoError(t, err)
		got := map[string]float64{}
		for _, f := range families {
			for _, m := range f.GetMetric() {
				switch {
				case m.GetHistogram() != nil:
					got[f.GetName()] += float64(m.GetHistogram().GetSampleCount())
				case m.GetCounter() != nil:
					got[f.GetName()] += m.GetCounter().GetValue()
				}
			}
		}
		return got
	}
	require.Eventually(t, func() bool {
		got := gather()
		return got["spool_storage_fsync_seconds"] > 0 && got["spool_storage_segment_rolls_total"] > 0 &&
			got["spool_storage_segments_deleted_total"] > 0
	}, 5*time.Second, 10*time.Millisecond, "storage metrics: %v", gather())
}

// TestManagerLoadsOnRecoveryThreads: a dir's logs are opened on
// num.recovery.threads.per.data.dir goroutines, every one with its data,
// and an unopenable log fails the load with every opened log closed.
func TestManagerLoadsOnRecoveryThreads(t *testing.T) {
	for _, threads := range []int{0, 1, 4} {
		t.Run(fmt.Sprint(threads), func(t *testing.T) {
			dir := t.TempDir()
			cfg := ManagerConfig{Dirs: []string{dir}, Default: testConfig(), RecoveryThreadsPerDir: threads}
			m, err := NewManager(cfg, zaptest.NewLogger(t))
			require.NoError(t, err)
			leos := map[TopicPartition]int64{}
			for p := range int32(40) {
				tp := TopicPartition{"load", p}
				l, err := m.GetOrCreateLog(tp, nil)
				require.NoError(t, err)
				fill(t, l, int(p%3), 50, constTS) // a third of them stay empty
				leos[tp] = l.LogEndOffset()
			}
			require.NoError(t, m.Close())

			m, err = NewManager(cfg, zaptest.NewLogger(t))
			require.NoError(t, err)
			got := map[TopicPartition]int64{}
			for _, l := range m.Logs() {
				got[l.tp] = l.LogEndOffset()
			}
			require.Equal(t, leos, got)
			require.NoError(t, m.Close())

			// A log whose segment cannot be read fails the load.
			bad := filepath.Join(dir, "load-7", "00000000000000000000.log")
			require.NoError(t, os.Remove(bad))
			require.NoError(t, os.Mkdir(bad, 0o755))
			_, err = NewManager(cfg, zaptest.NewLogger(t))
			require.Error(t, err)
		})
	}
}

// TestGetOrCreateLogConcurrent: logs are created without the manager's
// lock, in parallel: every caller for one partition gets the same log,
// the dirs stay balanced, and a Close while creations run leaves no log
// behind unclosed (the next start finds every one of them).
func TestGetOrCreateLogConcurrent(t *testing.T) {
	dirs := []string{t.TempDir(), t.TempDir()}
	cfg := ManagerConfig{Dirs: dirs, Default: testConfig()}
	m, err := NewManager(cfg, zaptest.NewLogger(t))
	require.NoError(t, err)
	const parts, callers = 40, 3
	got := make([][callers]*Log, parts)
	var wg sync.WaitGroup
	for p := range parts {
		for c := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l, err := m.GetOrCreateLog(TopicPartition{"burst", int32(p)}, nil)
				if err == nil {
					got[p][c] = l
				}
			}()
		}
	}
	wg.Wait()
	for p := range parts {
		require.NotNil(t, got[p][0], "partition %d", p)
		for c := 1; c < callers; c++ {
			require.Same(t, got[p][0], got[p][c], "partition %d: one log for every caller", p)
		}
	}
	require.Len(t, m.Logs(), parts)
	for _, d := range dirs {
		ds, err := filepath.Glob(filepath.Join(d, "burst-*"))
		require.NoError(t, err)
		require.Len(t, ds, parts/2, d)
	}

	// Close while more are being created: each creation either lands
	// before Close closes the logs or is refused with ErrClosed.
	created := make(chan TopicPartition, parts)
	refused := make(chan error, parts)
	for p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tp := TopicPartition{"late", int32(p)}
			if _, err := m.GetOrCreateLog(tp, nil); err == nil {
				created <- tp
			} else {
				refused <- err
			}
		}()
	}
	require.NoError(t, m.Close())
	wg.Wait()
	close(created)
	close(refused)
	for err := range refused {
		require.ErrorIs(t, err, ErrClosed)
	}
	m, err = NewManager(cfg, zaptest.NewLogger(t))
	require.NoError(t, err)
	defer m.Close()
	for tp := range created {
		_, ok := m.Log(tp)
		require.True(t, ok, "%s was created before Close", tp)
	}
}

// TestFlushAfterDeleteLog: the flusher may hold a log DeleteLog has just
// closed and renamed (it took the list of logs first). Its flush answers
// ErrClosed, which the flusher ignores, not an I/O error from syncing
// closed files or writing a checkpoint into the renamed directory, which
// took the whole log dir offline (seen in a loaded TestManager run).
func TestFlushAfterDeleteLog(t *testing.T) {
	dir := t.TempDir()
	m := newTestManager(t, []string{dir})
	defer m.Close()
	tp := TopicPartition{"orders", 0}
	l, err := m.GetOrCreateLog(tp, nil)
	require.NoError(t, err)
	fill(t, l, 50, 100, constTS)
	require.Less(t, l.RecoveryPoint(), l.LogEndOffset(), "appends not yet flushed")
	require.NoError(t, m.DeleteLog(tp))
	require.ErrorIs(t, l.maybeFlush(time.Now().Add(time.Hour)), ErrClosed)
	require.ErrorIs(t, l.Flush(), ErrClosed)
	m.mu.Lock()
	_, offline := m.offline[dir]
	m.mu.Unlock()
	require.False(t, offline, "the log dir stays online")
}
