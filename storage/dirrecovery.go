package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"go.uber.org/zap"
)

// A full log dir comes back without a restart (Spool; Kafka 4.3 needs one).
//
// Kafka takes a log dir offline on any IOException, a full file system
// included, and only a broker restart brings it back. Spool tells a full
// file system (ENOSPC, EDQUOT) from other I/O errors: such a dir goes
// offline the same way (its logs closed without flushing, its partitions
// KAFKA_STORAGE_ERROR here and led elsewhere), and is remembered as full.
// Every FullDirCheckInterval the Manager checks the free space of each full
// dir; once it has FullDirRecoveryBytes free and takes a probe write
// (written, fsynced and removed: the file system accepts writes again), the
// dir is loaded again as at startup (recovery from the dir's recovery
// point checkpoint, which truncates a batch the full disk left half
// written) and is online: it takes new logs and checkpoints again, and the
// handler set with OnDirOnline hears which partitions it holds.
//
// Only the logs the dir held when it failed and that are still the
// Manager's come back (offlineLogs); a log deleted while the dir was
// offline (its partition deleted or reassigned away) is removed from the
// disk then, as are leftover -delete and -future directories. Nothing that
// was acknowledged is lost: an append that failed was not acknowledged,
// and everything before it is in the page cache (the process did not
// stop) or on disk.
//
// A dir that failed for another reason (EIO, unmounted, unreadable) stays
// offline until the broker restarts, as in Kafka.

// IsNoSpace reports whether err is a full file system or an exhausted
// quota (ENOSPC, EDQUOT): the log dir failure it causes is recoverable.
func IsNoSpace(err error) bool {
	return err != nil && (errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT))
}

// OnDirOnline sets fn to run (on the Manager's goroutine that brought it
// back) after a full dir came back online, with the partitions whose logs
// were in it and may be opened again: those it holds again, open, and any
// whose directory was gone from it (GetOrCreateLog creates them afresh).
// nil clears it.
func (m *Manager) OnDirOnline(fn func(dir string, partitions []TopicPartition)) {
	m.failMu.Lock()
	m.onDirOnline = fn
	m.failMu.Unlock()
}

// FullDirs returns the offline dirs that failed because they were full and
// come back online when space returns, in log.dirs order.
func (m *Manager) FullDirs() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, d := range m.cfg.Dirs {
		if m.full[d] {
			out = append(out, d)
		}
	}
	return out
}

// recoverFullDirs brings back every full dir that has space again.
func (m *Manager) recoverFullDirs() {
	for _, dir := range m.FullDirs() {
		_, avail, ok := m.space(dir)
		if !ok || avail < uint64(m.cfg.FullDirRecoveryBytes) {
			continue
		}
		if err := probeWrite(dir); err != nil {
			m.logger.Debug("a full log dir does not take writes yet", zap.String("dir", dir), zap.Error(err))
			continue
		}
		if err := m.bringOnline(dir); err != nil && !errors.Is(err, ErrClosed) {
			m.logger.Warn("a full log dir has space again but cannot be loaded; it stays offline", zap.String("dir", dir), zap.Error(err))
		}
	}
}

// probeSize is how much probeWrite writes.
const probeSize = 64 << 10

// probeWrite writes, fsyncs and removes a file in dir.
func probeWrite(dir string) error {
	path := filepath.Join(dir, ".spool-space-probe")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(make([]byte, probeSize))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if rerr := os.Remove(path); err == nil {
		err = rerr
	}
	return err
}

// bringOnline loads the logs full dir held when it failed and puts the dir
// back online. An error leaves it offline (and full: tried again later).
func (m *Manager) bringOnline(dir string) error {
	m.recoverMu.Lock()
	defer m.recoverMu.Unlock()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	if !m.full[dir] {
		m.mu.Unlock()
		return nil
	}
	want := map[TopicPartition]bool{}
	for tp, d := range m.offlineLogs {
		if d == dir {
			want[tp] = true
		}
	}
	m.mu.Unlock()

	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("storage: log dir %s: %w", dir, err)
	}
	var work []dirLog
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		tp, perr := ParseLogDirName(e.Name())
		switch {
		case strings.HasSuffix(e.Name(), deleteDirSuffix), strings.HasSuffix(e.Name(), futureDirSuffix):
		case perr != nil:
			continue // not a log
		case want[tp]:
			work = append(work, dirLog{tp: tp, path: path})
			continue
		}
		// Deleted while the dir was offline, or left by a move or a
		// deletion the failure interrupted.
		if err := os.RemoveAll(path); err != nil {
			return fmt.Errorf("storage: remove deleted log %s: %w", path, err)
		}
		m.logger.Info("removed a log deleted while its dir was offline", zap.String("dir", path))
	}
	// The logs were closed without flushing: recover them from the
	// recovery point, as after a crash.
	if err := m.openDirLogs(dir, work, m.readDirCheckpoints(dir, false)); err != nil {
		return err
	}
	if err := syncDir(dir); err != nil {
		for _, w := range work {
			w.log.close(false)
		}
		return fmt.Errorf("storage: log dir %s: %w", dir, err)
	}

	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		for _, w := range work {
			w.log.close(false)
		}
		return ErrClosed
	}
	var (
		tps   []TopicPartition
		stale []*Log
	)
	m.perDir[dir] = 0 // a creation the failure cut short may have left it below
	for _, w := range work {
		if m.offlineLogs[w.tp] != dir {
			stale = append(stale, w.log) // deleted while it loaded
			continue
		}
		delete(m.offlineLogs, w.tp)
		m.logs[w.tp], m.dirOf[w.tp] = w.log, dir
		m.perDir[dir]++
		tps = append(tps, w.tp)
	}
	// A log the dir held but whose directory is gone is created afresh
	// (in any dir) when its replica is opened again; it then fetches from
	// the leader.
	for tp := range want {
		if m.offlineLogs[tp] == dir {
			delete(m.offlineLogs, tp)
			tps = append(tps, tp)
		}
	}
	delete(m.offline, dir)
	delete(m.full, dir)
	online := len(m.cfg.Dirs) - len(m.offline)
	m.mu.Unlock()

	m.hwMu.Lock()
	delete(m.lastHW, dir) // rewritten at the next interval
	m.hwMu.Unlock()
	for _, l := range stale {
		l.close(false)
		if err := os.RemoveAll(l.dir); err != nil {
			m.logger.Warn("removing a log deleted while its dir was offline", zap.String("dir", l.dir), zap.Error(err))
		}
	}
	m.failMu.Lock()
	delete(m.failing, dir) // its next I/O error takes it offline again
	delete(m.failCause, dir)
	fn := m.onDirOnline
	m.failMu.Unlock()
	slices.SortFunc(tps, compareTP)
	m.logger.Warn("a full log dir has space again and is back online", zap.String("dir", dir),
		zap.Int("partitions", len(tps)), zap.Int("online_dirs", online))
	if fn != nil {
		fn(dir, tps)
	}
	return nil
}
