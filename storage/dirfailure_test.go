package storage

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
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

// TestFullLogDirComesBack: a dir that failed because its file system was
// full (ENOSPC) stays offline while space is short, then comes back online
// by itself once space returns: its logs reopen with every record, the
// handler hears them, they take appends again, a log deleted while the dir
// was offline is removed from the disk, and the dir fails again at its
// next error. A dir that failed with another I/O error (EIO) stays offline
// whatever the free space.
func TestFullLogDirComesBack(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cause    error
		comeBack bool
	}{
		{"ENOSPC", syscall.ENOSPC, true},
		{"EDQUOT", syscall.EDQUOT, true},
		{"EIO", syscall.EIO, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			dirs := []string{filepath.Join(root, "a"), filepath.Join(root, "b")}
			var (
				hasSpace atomic.Bool
				probes   atomic.Int64
			)
			cfg := ManagerConfig{
				Dirs: dirs, Default: testConfig(),
				RetentionCheckInterval: time.Hour, FlushCheckInterval: time.Hour,
				CheckpointInterval: time.Hour, HighWatermarkCheckpointInterval: time.Hour,
				FullDirCheckInterval: 10 * time.Millisecond, FullDirRecoveryBytes: 1 << 20,
				space: func(dir string) (uint64, uint64, bool) {
					probes.Add(1)
					if hasSpace.Load() {
						return 1 << 30, 1 << 30, true
					}
					return 1 << 30, 1 << 10, true
				},
			}
			m, err := NewManager(cfg, zaptest.NewLogger(t))
			require.NoError(t, err)
			defer m.Close()
			var (
				mu             sync.Mutex
				failed, online = map[string][]TopicPartition{}, map[string][]TopicPartition{}
			)
			m.OnDirFailure(func(dir string, tps []TopicPartition) {
				mu.Lock()
				failed[dir] = tps
				mu.Unlock()
			})
			m.OnDirOnline(func(dir string, tps []TopicPartition) {
				mu.Lock()
				online[dir] = tps
				mu.Unlock()
			})
			var inB []TopicPartition
			ends := map[TopicPartition]int64{}
			for p := range int32(6) {
				tp := TopicPartition{"orders", p}
				l, err := m.GetOrCreateLog(tp, nil)
				require.NoError(t, err)
				fill(t, l, 20, 100, constTS)
				ends[tp] = l.LogEndOffset()
				if d, _ := m.DirOf(tp); d == dirs[1] {
					inB = append(inB, tp)
				}
			}
			require.Len(t, inB, 3)

			m.dirFailed(dirs[1], &os.PathError{Op: "write", Path: filepath.Join(dirs[1], "x"), Err: tc.cause})
			require.Eventually(t, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(failed[dirs[1]]) == 3
			}, 10*time.Second, 5*time.Millisecond)
			require.Equal(t, []string{dirs[1]}, m.OfflineDirs())
			if tc.comeBack {
				require.Equal(t, []string{dirs[1]}, m.FullDirs())
			} else {
				require.Empty(t, m.FullDirs())
			}
			// Deleted while offline (its topic deleted, say): the files stay
			// until the dir is back.
			require.NoError(t, m.DeleteLog(inB[2]))
			_, err = os.Stat(filepath.Join(dirs[1], inB[2].String()))
			require.NoError(t, err)

			// Short of space: checked, still offline.
			n := probes.Load()
			require.Eventually(t, func() bool { return !tc.comeBack || probes.Load() >= n+3 }, 10*time.Second, 5*time.Millisecond)
			require.Equal(t, []string{dirs[1]}, m.OfflineDirs())

			hasSpace.Store(true)
			if !tc.comeBack {
				// An EIO dir is never probed: it stays offline.
				require.Never(t, func() bool { return len(m.OfflineDirs()) == 0 }, 200*time.Millisecond, 10*time.Millisecond)
				_, err := m.GetOrCreateLog(inB[0], nil)
				require.ErrorIs(t, err, ErrLogDirOffline)
				return
			}
			require.Eventually(t, func() bool { return len(m.OfflineDirs()) == 0 }, 10*time.Second, 5*time.Millisecond)
			require.Empty(t, m.FullDirs())
			mu.Lock()
			require.Equal(t, inB[:2], online[dirs[1]])
			mu.Unlock()
			_, err = os.Stat(filepath.Join(dirs[1], inB[2].String()))
			require.ErrorIs(t, err, os.ErrNotExist, "the deleted log's files went with the recovery")
			for _, tp := range inB[:2] {
				l, ok := m.Log(tp)
				require.True(t, ok)
				require.Equal(t, ends[tp], l.LogEndOffset(), "%s lost records", tp)
				_, off := m.LogOffline(tp)
				require.False(t, off)
				fill(t, l, 5, 100, constTS)
				require.Greater(t, l.LogEndOffset(), ends[tp])
			}
			// The deleted one may be created anew (a new replica), anywhere.
			_, err = m.GetOrCreateLog(inB[2], nil)
			require.NoError(t, err)

			// Its next error takes it offline again.
			m.dirFailed(dirs[1], &os.PathError{Op: "write", Path: filepath.Join(dirs[1], "x"), Err: syscall.EIO})
			require.Eventually(t, func() bool { return len(m.OfflineDirs()) == 1 }, 10*time.Second, 5*time.Millisecond)
			require.Empty(t, m.FullDirs())
		})
	}
}

func TestIsNoSpace(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{syscall.ENOSPC, true},
		{&os.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}, true},
		{fmt.Errorf("storage: append: %w", &os.PathError{Op: "write", Path: "/x", Err: syscall.EDQUOT}), true},
		{&os.PathError{Op: "write", Path: "/x", Err: syscall.EIO}, false},
		{ErrCorrupt, false},
	} {
		require.Equal(t, tc.want, IsNoSpace(tc.err), "%v", tc.err)
	}
}

// TestIndexStoreFault: a store into an index mapping whose page the kernel
// cannot back raises SIGBUS; the index turns it into an error wrapping
// ENOSPC (a full file system's dir then fails as full) instead of
// crashing the broker. Here the page is gone because the file was cut
// short under the mapping, which faults the same way.
func TestIndexStoreFault(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "00000000000000000000.index")
	x, _, err := openIndex(dir, indexSuffix, offsetIndexEntrySize, 0, 1<<16)
	require.NoError(t, err)
	idx := offsetIndex{x}
	defer idx.close()
	const perPage = 4096 / offsetIndexEntrySize
	for i := range int64(perPage) {
		require.NoError(t, idx.append(10*(i+1), 100*i))
	}
	// The first page stays; the next entry's page is gone.
	require.NoError(t, os.Truncate(path, 4096))
	err = idx.append(10*(perPage+1), 100*perPage)
	require.Error(t, err)
	require.True(t, IsNoSpace(err), "%v", err)
	require.True(t, IsIOError(err), "%v", err)
	require.Equal(t, perPage, idx.len(), "the failed entry is not counted")
	require.Equal(t, offsetEntry{offset: 10 * perPage, position: 100 * (perPage - 1)}, idx.lookup(1<<20))
}

// TestMoveLogLive: MoveLog copies while the log keeps taking appends (in
// one case after a truncation, as a follower truncating to its leader
// does), takes it out of service only for the last round, and the moved
// log holds exactly what the log held when it was detached.
func TestMoveLogLive(t *testing.T) {
	for _, tc := range []struct {
		name     string
		truncate bool
	}{
		{"appends", false},
		{"a truncation and appends", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			dirs := []string{filepath.Join(root, "a"), filepath.Join(root, "b")}
			tp := TopicPartition{"live", 0}
			var (
				l      *Log
				rounds []int
				paused int64 // bytes the last round copied
			)
			cfg := ManagerConfig{Dirs: dirs, Default: testConfig(), moveRoundHook: func(round int, copied int64) {
				if round == 0 {
					paused = copied
					return
				}
				rounds = append(rounds, round)
				if round == 1 { // the log serves on during the copy
					if tc.truncate {
						require.NoError(t, l.TruncateTo(l.LogEndOffset()-40))
					}
					fill(t, l, 30, 100, constTS)
				}
			}}
			m, err := NewManager(cfg, zaptest.NewLogger(t))
			require.NoError(t, err)
			defer m.Close()
			l, err = m.GetOrCreateLog(tp, nil)
			require.NoError(t, err)
			fill(t, l, 1200, 1000, constTS) // over liveCopyDoneBytes: a second round follows
			src, _ := m.DirOf(tp)
			dest := dirs[0]
			if src == dest {
				dest = dirs[1]
			}
			var (
				atDetach []byte
				leo, hw  int64
			)
			var inDetached time.Duration
			nl, err := m.MoveLog(tp, dest, func() {
				began := time.Now()
				require.Equal(t, []int{1, 2}, rounds, "detached after the live rounds")
				_, atDetach = readBatches(t, mustRead(t, l))
				leo, hw = l.LogEndOffset(), l.HighWatermark()
				inDetached = time.Since(began)
			})
			t.Logf("the test's detached callback took %v", inDetached)
			require.NoError(t, err)
			if tc.truncate {
				require.Greater(t, paused, int64(1<<20), "after a truncation the last round copies every file whole")
			} else {
				require.Less(t, paused, int64(64<<10), "the last round copies only what changed since the live ones")
			}
			require.Equal(t, leo, nl.LogEndOffset())
			require.Equal(t, hw, nl.HighWatermark())
			_, moved := readBatches(t, mustRead(t, nl))
			require.Equal(t, atDetach, moved, "the moved log is the log as detached")
			d, _ := m.DirOf(tp)
			require.Equal(t, dest, d)
			fill(t, nl, 5, 100, constTS)
			require.Greater(t, nl.LogEndOffset(), leo)
		})
	}
}

func mustRead(t *testing.T, l *Log) ReadResult {
	t.Helper()
	r, err := l.Read(l.LogStartOffset(), 1<<30, math.MaxInt64, true)
	require.NoError(t, err)
	return r
}
