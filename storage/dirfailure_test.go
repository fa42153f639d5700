package storage

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
)

// TestLogDirFailure takes one of two log dirs away (renamed, as an unmount
// looks to the process) and checks that the first I/O error in it (a
// checkpoint write, or a segment roll in an append) takes just that dir
// offline: its logs are closed and refused, new logs go to the other dir,
// which keeps working and alone gets the clean shutdown marker; after the
// dir is back, a restart loads every log.
func TestLogDirFailure(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trigger string // what hits the missing dir first
	}{
		{"checkpoint write", "checkpoint"},
		{"segment roll on append", "append"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			dirs := []string{filepath.Join(root, "a"), filepath.Join(root, "b")}
			cfg := ManagerConfig{
				Dirs: dirs, Default: testConfig(),
				RetentionCheckInterval: time.Hour, FlushCheckInterval: time.Hour,
				CheckpointInterval: time.Hour, HighWatermarkCheckpointInterval: time.Hour,
			}
			if tc.trigger == "checkpoint" {
				cfg.CheckpointInterval = 20 * time.Millisecond
			}
			m, err := NewManager(cfg, zaptest.NewLogger(t))
			require.NoError(t, err)
			var (
				mu     sync.Mutex
				failed = map[string][]TopicPartition{}
			)
			m.OnDirFailure(func(dir string, tps []TopicPartition) {
				mu.Lock()
				failed[dir] = tps
				mu.Unlock()
			})
			inB := []TopicPartition{}
			for p := range int32(4) {
				tp := TopicPartition{"orders", p}
				l, err := m.GetOrCreateLog(tp, nil)
				require.NoError(t, err)
				fill(t, l, 5, 100, constTS)
				if d, _ := m.DirOf(tp); d == dirs[1] {
					inB = append(inB, tp)
				}
			}
			require.Len(t, inB, 2)
			require.NoError(t, os.Rename(dirs[1], dirs[1]+".gone"))
			if tc.trigger == "append" {
				l, _ := m.Log(inB[0])
				var err error
				for i := 0; err == nil && i < 100; i++ { // 4 KiB segments: a roll comes soon
					_, err = l.Append(makeBatch(1, 1, 500), 5, nil)
				}
				require.Error(t, err)
				require.True(t, IsIOError(err), "%v", err)
			}
			require.Eventually(t, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(failed[dirs[1]]) == 2
			}, 10*time.Second, 10*time.Millisecond)
			mu.Lock()
			require.Equal(t, inB, failed[dirs[1]])
			mu.Unlock()
			require.Equal(t, []string{dirs[1]}, m.OfflineDirs())
			for _, tp := range inB {
				_, ok := m.Log(tp)
				require.False(t, ok)
				_, err := m.GetOrCreateLog(tp, nil)
				require.ErrorIs(t, err, ErrLogDirOffline)
				d, off := m.LogOffline(tp)
				require.True(t, off)
				require.Equal(t, dirs[1], d)
			}
			// The other dir keeps serving, and takes every new log.
			for _, l := range m.Logs() {
				fill(t, l, 3, 100, constTS)
			}
			for p := int32(10); p < 13; p++ {
				_, err := m.GetOrCreateLog(TopicPartition{"new", p}, nil)
				require.NoError(t, err)
				d, _ := m.DirOf(TopicPartition{"new", p})
				require.Equal(t, dirs[0], d)
			}
			m.SetBrokerEpoch(42)
			require.NoError(t, m.Close())
			_, err = os.Stat(filepath.Join(dirs[0], CleanShutdownFile))
			require.NoError(t, err)

			// The disk comes back: a restart loads all of it.
			require.NoError(t, os.Rename(dirs[1]+".gone", dirs[1]))
			m2, err := NewManager(cfg, zaptest.NewLogger(t))
			require.NoError(t, err)
			defer m2.Close()
			require.Empty(t, m2.OfflineDirs())
			require.Equal(t, NoBrokerEpoch, m2.PreviousBrokerEpoch(), "the failed dir wrote no clean shutdown file")
			for _, tp := range inB {
				l, ok := m2.Log(tp)
				require.True(t, ok)
				require.Positive(t, l.LogEndOffset())
			}
		})
	}
}

// TestLogDirOfflineAtStart: a dir that cannot be read at start is offline
// while another one loads; with every dir unreadable the Manager fails.
func TestLogDirOfflineAtStart(t *testing.T) {
	root := t.TempDir()
	good := filepath.Join(root, "good")
	bad := filepath.Join(root, "bad")
	require.NoError(t, os.WriteFile(bad, []byte("not a dir"), 0o644)) // MkdirAll fails: ENOTDIR
	m, err := NewManager(ManagerConfig{Dirs: []string{good, bad}, Default: testConfig()}, zaptest.NewLogger(t))
	require.NoError(t, err)
	require.Equal(t, []string{bad}, m.OfflineDirs())
	_, err = m.GetOrCreateLog(TopicPartition{"t", 0}, nil)
	require.NoError(t, err)
	m.SetBrokerEpoch(42)
	require.NoError(t, m.Close())

	// The good dir's clean shutdown file names epoch 42, but with a dir
	// offline the restart proves nothing (Kafka's
	// readBrokerEpochFromCleanShutdownFiles).
	m, err = NewManager(ManagerConfig{Dirs: []string{good, bad}, Default: testConfig()}, zaptest.NewLogger(t))
	require.NoError(t, err)
	require.Equal(t, NoBrokerEpoch, m.PreviousBrokerEpoch())
	require.NoError(t, m.Close())
	m, err = NewManager(ManagerConfig{Dirs: []string{good}, Default: testConfig()}, zaptest.NewLogger(t))
	require.NoError(t, err)
	require.Equal(t, NoBrokerEpoch, m.PreviousBrokerEpoch(), "the last stop wrote no epoch")
	require.NoError(t, m.Close())

	_, err = NewManager(ManagerConfig{Dirs: []string{bad}, Default: testConfig()}, zaptest.NewLogger(t))
	require.Error(t, err)
}

// TestCordonedLogDirs: cordoned dirs (cordoned.log.dirs, KIP-1066) take no
// new logs while their existing logs keep working; with every dir
// cordoned, a new log is refused with Kafka's message.
func TestCordonedLogDirs(t *testing.T) {
	root := t.TempDir()
	dirs := []string{filepath.Join(root, "a"), filepath.Join(root, "b")}
	m, err := NewManager(ManagerConfig{Dirs: dirs, Default: testConfig()}, zaptest.NewLogger(t))
	require.NoError(t, err)
	for p := range int32(2) {
		_, err := m.GetOrCreateLog(TopicPartition{"old", p}, nil)
		require.NoError(t, err)
	}
	require.NoError(t, m.Close())

	m, err = NewManager(ManagerConfig{Dirs: dirs, Default: testConfig(), Cordoned: dirs[1:]}, zaptest.NewLogger(t))
	require.NoError(t, err)
	require.True(t, m.Cordoned(dirs[1]))
	require.False(t, m.Cordoned(dirs[0]))
	for p := range int32(4) {
		_, err := m.GetOrCreateLog(TopicPartition{"new", p}, nil)
		require.NoError(t, err)
		d, _ := m.DirOf(TopicPartition{"new", p})
		require.Equal(t, dirs[0], d)
	}
	for _, l := range m.Logs() {
		fill(t, l, 3, 100, constTS) // a cordoned dir's logs still take writes
	}
	require.NoError(t, m.Close())

	m, err = NewManager(ManagerConfig{Dirs: dirs, Default: testConfig(), Cordoned: dirs}, zaptest.NewLogger(t))
	require.NoError(t, err)
	defer m.Close()
	_, err = m.GetOrCreateLog(TopicPartition{"none", 0}, nil)
	require.ErrorIs(t, err, ErrNoLogDir)
	require.ErrorContains(t, err, "No log directories available. Tried "+dirs[0]+", "+dirs[1])
	_, ok := m.Log(TopicPartition{"old", 1})
	require.True(t, ok)
}

// TestMoveLog moves a log to the other log dir: same offsets, high
// watermark and log start offset, the old copy gone, appends continue, and
// a restart finds it in its new dir; a -future dir left by a crash is
// removed at start; a path that is no log dir is refused.
func TestMoveLog(t *testing.T) {
	root := t.TempDir()
	dirs := []string{filepath.Join(root, "a"), filepath.Join(root, "b")}
	cfg := ManagerConfig{Dirs: dirs, Default: testConfig()}
	m, err := NewManager(cfg, zaptest.NewLogger(t))
	require.NoError(t, err)
	tp := TopicPartition{"m", 0}
	l, err := m.GetOrCreateLog(tp, nil)
	require.NoError(t, err)
	fill(t, l, 100, 100, constTS)
	_, err = l.DeleteRecordsBefore(7)
	require.NoError(t, err)
	src, _ := m.DirOf(tp)
	dest := dirs[0]
	if src == dest {
		dest = dirs[1]
	}
	leo, hw := l.LogEndOffset(), l.HighWatermark()
	_, err = m.MoveLog(tp, filepath.Join(root, "elsewhere"), nil)
	require.ErrorIs(t, err, ErrLogDirNotFound)
	detached := false
	nl, err := m.MoveLog(tp, dest, func() {
		detached = true
		_, err := m.GetOrCreateLog(tp, nil)
		require.ErrorIs(t, err, ErrLogMoving)
	})
	require.NoError(t, err)
	require.True(t, detached)
	d, _ := m.DirOf(tp)
	require.Equal(t, dest, d)
	require.Equal(t, leo, nl.LogEndOffset())
	require.Equal(t, hw, nl.HighWatermark())
	require.Equal(t, int64(7), nl.LogStartOffset())
	_, err = os.Stat(filepath.Join(src, tp.String()))
	require.ErrorIs(t, err, os.ErrNotExist)
	fill(t, nl, 10, 100, constTS)
	leo = nl.LogEndOffset()
	require.NoError(t, m.Close())

	require.NoError(t, os.Mkdir(filepath.Join(src, tp.String()+".0123-future"), 0o755))
	m2, err := NewManager(cfg, zaptest.NewLogger(t))
	require.NoError(t, err)
	defer m2.Close()
	l2, ok := m2.Log(tp)
	require.True(t, ok)
	require.Equal(t, leo, l2.LogEndOffset())
	d, _ = m2.DirOf(tp)
	require.Equal(t, dest, d)
	_, err = os.Stat(filepath.Join(src, tp.String()+".0123-future"))
	require.ErrorIs(t, err, os.ErrNotExist)
}
