package storage

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/protocol/records"
)

// powerCut simulates a power cut under a directory tree, as the chaos
// harness's crash images do (docs/reliability.md): what a file held at its
// last fsync survives; whatever was written after it, and every file never
// fsynced, is lost. Durable content is kept per inode, so a file fsynced
// under a temporary name and renamed keeps it. Names themselves are taken
// as durable (ext4 commits them with the journal), which is the model most
// favourable to stale files: a rename or create is never what is lost.
//
// The kernel may also write a dirty file back on its own at any moment;
// writeBack records that for one file, so that a test can have a .log
// survive without the index written with it.
//
// Tests using it must not run in parallel with each other (one observer
// for the package); they are not marked parallel.
type powerCut struct {
	t    *testing.T
	root string

	mu      sync.Mutex
	durable map[uint64][]byte // inode -> content at its last fsync
}

func newPowerCut(t *testing.T, root string) *powerCut {
	p := &powerCut{t: t, root: root, durable: map[uint64][]byte{}}
	obs := func(path string) {
		if strings.HasPrefix(path, root+string(filepath.Separator)) {
			p.writeBack(path)
		}
	}
	require.True(t, fsyncObserver.CompareAndSwap(nil, &obs), "another power-loss test is running")
	t.Cleanup(func() { fsyncObserver.Store(nil) })
	return p
}

// writeBack makes path's current content durable (an fsync, or the
// kernel's writeback).
func (p *powerCut) writeBack(path string) {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return // a directory, or a file renamed away since
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	p.mu.Lock()
	p.durable[fi.Sys().(*syscall.Stat_t).Ino] = b
	p.mu.Unlock()
}

// cut replaces the tree with what survives the power cut. The files'
// writers must be stopped first (see crash).
func (p *powerCut) cut() {
	p.t.Helper()
	type file struct {
		path string
		ino  uint64
	}
	var files []file
	require.NoError(p.t, filepath.WalkDir(p.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		files = append(files, file{path, fi.Sys().(*syscall.Stat_t).Ino})
		return nil
	}))
	p.mu.Lock()
	durable := p.durable
	p.durable = map[uint64][]byte{} // new inodes from here
	p.mu.Unlock()
	for _, f := range files {
		b, ok := durable[f.ino]
		require.NoError(p.t, os.Remove(f.path))
		if ok {
			require.NoError(p.t, os.WriteFile(f.path, b, 0o644))
		}
	}
	for _, f := range files {
		p.writeBack(f.path)
	}
}

// txnAbort appends a transaction of pid (n records) and its abort marker
// as the leader and returns the index entry the abort must leave.
func txnAbort(t *testing.T, l *Log, pid int64, seq int32, n int) AbortedTxn {
	t.Helper()
	data, err := l.Append(producerBatch(t, pid, 0, seq, n, true), 0, nil)
	require.NoError(t, err)
	marker, err := l.Append(records.EndTxnMarker(pid, 0, false, 0, time.Now().UnixMilli()), 0, nil)
	require.NoError(t, err)
	return AbortedTxn{ProducerID: pid, FirstOffset: data.FirstOffset, LastOffset: marker.FirstOffset, LastStableOffset: marker.FirstOffset + 1}
}

// TestTxnIndexSurvivesPowerLoss: every way an aborted transaction's
// .txnindex entry could be lost to a power cut while the .log bytes that
// need it survive (chaos finding 6, seed 4106: a replica's index lacked
// 713 aborts its .log held, and read_committed consumers were shown their
// records). After the cut and an unclean load from the checkpointed
// recovery point, the index lists exactly the aborts of the log.
func TestTxnIndexSurvivesPowerLoss(t *testing.T) {
	tests := []struct {
		name string
		// run writes the log; it returns the aborts it wrote (including
		// any it truncated away), how many of the first ones the log must
		// still hold after the cut, and the recovery point the Manager
		// would have checkpointed.
		run func(t *testing.T, l *Log, p *powerCut) (aborts []AbortedTxn, kept int, rp int64)
	}{{
		// Seed 4106, node 2: aborts appended, then a clean shutdown (the
		// .log fsynced, a producer snapshot written at the log end), then
		// the power cut. The index was never fsynced with its segment,
		// and the replay from the snapshot at the log end wrote nothing.
		name: "clean shutdown then power cut",
		run: func(t *testing.T, l *Log, p *powerCut) ([]AbortedTxn, int, int64) {
			want := []AbortedTxn{txnAbort(t, l, 7, 0, 3), txnAbort(t, l, 7, 3, 2)}
			require.NoError(t, l.Close())
			return want, len(want), l.RecoveryPoint()
		},
	}, {
		// A flush (the recovery point passes the aborts), more appends,
		// a crash: the flush must have taken the index with the .log.
		name: "flush then power cut",
		run: func(t *testing.T, l *Log, p *powerCut) ([]AbortedTxn, int, int64) {
			want := []AbortedTxn{txnAbort(t, l, 7, 0, 3)}
			require.NoError(t, l.Flush())
			rp := l.RecoveryPoint()
			_, err := l.Append(producerBatch(t, 8, 0, 0, 1, false), 0, nil)
			require.NoError(t, err)
			return want, len(want), rp
		},
	}, {
		// A roll writes (and fsyncs) a producer snapshot at the new
		// segment's base; the kernel writes both .log files back, not
		// the old segment's index; no flush: the recovery point is 0.
		// Recovery must not replay from the snapshot past the abort.
		name: "roll, writeback of the logs only, power cut",
		run: func(t *testing.T, l *Log, p *powerCut) ([]AbortedTxn, int, int64) {
			want := []AbortedTxn{txnAbort(t, l, 7, 0, 3)}
			require.NoError(t, l.Roll())
			want = append(want, txnAbort(t, l, 7, 3, 2))
			for _, s := range l.Segments() {
				p.writeBack(segmentName(l.Dir(), s.BaseOffset(), logSuffix))
			}
			return want, len(want), 0
		},
	}, {
		// Node 2's sequence in seed 4106: a full disk takes the log dir
		// offline (its logs closed without a flush), the reload once
		// space returns loads it unclean from the checkpointed recovery
		// point, more aborts follow, a clean shutdown, the power cut.
		name: "disk-full reload, clean shutdown, power cut",
		run: func(t *testing.T, l *Log, p *powerCut) ([]AbortedTxn, int, int64) {
			want := []AbortedTxn{txnAbort(t, l, 7, 0, 3)}
			rp := l.RecoveryPoint()
			require.NoError(t, l.close(false))
			l2 := openTestLog(t, l.Dir(), l.Config(), OpenOptions{RecoveryPoint: rp})
			want = append(want, txnAbort(t, l2, 7, 3, 2))
			require.NoError(t, l2.Close())
			return want, len(want), l2.RecoveryPoint()
		},
	}, {
		// A follower's truncation replays the producer state from a
		// snapshot and writes the index entries after it again, below a
		// recovery point that has already passed them; the clean
		// shutdown's flush then finds nothing to sync. (The truncation
		// of the .log is not fsynced, as in Kafka, so the truncated abort
		// may come back with its batches: replication truncates it
		// again. The index must then list it too.)
		name: "follower truncation, clean shutdown, power cut",
		run: func(t *testing.T, l *Log, p *powerCut) ([]AbortedTxn, int, int64) {
			want := []AbortedTxn{txnAbort(t, l, 7, 0, 3)}
			require.NoError(t, l.Close()) // snapshot at the log end
			l2 := openTestLog(t, l.Dir(), l.Config(), OpenOptions{CleanShutdown: true, RecoveryPoint: l.RecoveryPoint()})
			want = append(want, txnAbort(t, l2, 7, 3, 2), txnAbort(t, l2, 7, 5, 1))
			require.NoError(t, l2.Flush())
			// Diverged from the new leader: the last abort goes.
			require.NoError(t, l2.TruncateTo(want[2].LastOffset))
			require.NoError(t, l2.Close())
			return want, 2, l2.RecoveryPoint()
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "txn-0")
			p := newPowerCut(t, root)
			l := openTestLog(t, dir, testConfig(), OpenOptions{})
			aborts, kept, rp := tc.run(t, l, p)
			if !l.closed {
				crash(t, l)
			}
			p.cut()

			l = openTestLog(t, dir, testConfig(), OpenOptions{RecoveryPoint: rp})
			leo := l.LogEndOffset()
			require.Greater(t, leo, aborts[kept-1].LastOffset, "the .log kept the abort markers")
			var want []AbortedTxn // the aborts whose markers the log holds
			for _, a := range aborts {
				if a.LastOffset < leo {
					want = append(want, a)
				}
			}
			require.Equal(t, want, l.AbortedTransactions(0, leo))
			// What the load rebuilt is durable: a second cut right after it
			// changes nothing.
			crash(t, l)
			p.cut()
			l = openTestLog(t, dir, testConfig(), OpenOptions{RecoveryPoint: l.RecoveryPoint()})
			require.Equal(t, want, l.AbortedTransactions(0, l.LogEndOffset()))
			require.NoError(t, l.Close())
		})
	}
}

// syncRecorder lists the paths under root fsynced since it was made
// (files and directories), in order.
type syncRecorder struct {
	mu    sync.Mutex
	paths []string
}

func newSyncRecorder(t *testing.T, root string) *syncRecorder {
	r := &syncRecorder{}
	obs := func(path string) {
		if path == root || strings.HasPrefix(path, root+string(filepath.Separator)) {
			r.mu.Lock()
			r.paths = append(r.paths, path)
			r.mu.Unlock()
		}
	}
	require.True(t, fsyncObserver.CompareAndSwap(nil, &obs), "another power-loss test is running")
	t.Cleanup(func() { fsyncObserver.Store(nil) })
	return r
}

// take returns the paths recorded so far and forgets them.
func (r *syncRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.paths
	r.paths = nil
	return p
}

// TestFlushSyncsWhatItMustKeep: a flush fsyncs each segment's .log and
// .txnindex (the offset and time indexes, rebuilt by recovery, when they
// hold entries), and the log's directory when a segment was created since
// the last flush (Kafka's LocalLog.flush); producer snapshots are written durably
// (the file, then the directory).
func TestFlushSyncsWhatItMustKeep(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "txn-0")
	r := newSyncRecorder(t, root)
	l := openTestLog(t, dir, testConfig(), OpenOptions{})
	t.Cleanup(func() { l.Close() })
	txnAbort(t, l, 7, 0, 3)
	require.NoError(t, l.Flush())
	synced := r.take()
	for _, want := range []string{
		segmentName(dir, 0, logSuffix), segmentName(dir, 0, txnIndexSuffix), dir,
	} {
		require.Contains(t, synced, want)
	}

	// Appends to the same segment: its files again, no directory.
	txnAbort(t, l, 7, 3, 1)
	require.NoError(t, l.Flush())
	synced = r.take()
	require.Contains(t, synced, segmentName(dir, 0, txnIndexSuffix))
	require.NotContains(t, synced, dir)

	// A roll: the snapshot and its directory at once; the new segment's
	// directory entries at the next flush.
	require.NoError(t, l.Roll())
	base := l.LogEndOffset()
	synced = r.take()
	require.Equal(t, []string{segmentName(dir, base, snapshotSuffix) + ".tmp", dir}, synced)
	txnAbort(t, l, 7, 4, 2)
	require.NoError(t, l.Flush())
	synced = r.take()
	require.Contains(t, synced, segmentName(dir, base, logSuffix))
	require.Contains(t, synced, segmentName(dir, base, txnIndexSuffix))
	require.Contains(t, synced, dir)
}
