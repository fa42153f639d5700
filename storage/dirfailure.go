package storage

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"slices"
	"syscall"

	"go.uber.org/zap"
)

// Log dir failure (JBOD, KIP-858), as Kafka's LogDirFailureChannel and
// LogManager.handleLogDirFailure: the first I/O error of a log in a dir
// (an append, a flush, a roll, a checkpoint write) takes the whole dir
// offline. Its logs are closed without flushing and forgotten; the dir
// gets no new logs and no checkpoints; the Manager refuses to reopen a
// log that was in it (ErrLogDirOffline) until the broker restarts, or,
// for a dir that failed because its file system was full, until space
// returns (dirrecovery.go). The other dirs keep working. The broker hears it through the handler set
// with OnDirFailure and reports the dir to the controller, which moves
// leadership of the dir's partitions to other replicas.
//
// Errors are reported from under a Log's locks, so reporting only queues
// the dir (dirFailed); one goroutine (dirFailureLoop) takes it offline.

// IsIOError reports whether err comes from the file system (Kafka's
// IOException): a failed open, read, write, sync, rename or mkdir.
// Logical errors (a corrupt batch, an offset out of range) are not, nor
// is a file closed under a concurrent call (a log being deleted or
// closed: os.ErrClosed).
func IsIOError(err error) bool {
	if err == nil || errors.Is(err, ErrClosed) || errors.Is(err, os.ErrClosed) {
		return false
	}
	var (
		pe *fs.PathError
		le *os.LinkError
		se *os.SyscallError
		en syscall.Errno
	)
	return errors.As(err, &pe) || errors.As(err, &le) || errors.As(err, &se) || errors.As(err, &en)
}

// OnDirFailure sets fn to run (on the Manager's failure goroutine) after a
// dir went offline, with the partitions whose logs it held. Set it before
// the logs take writes; nil clears it.
func (m *Manager) OnDirFailure(fn func(dir string, partitions []TopicPartition)) {
	m.failMu.Lock()
	m.onDirFailure = fn
	m.failMu.Unlock()
}

// dirFailed queues dir to go offline because of cause. It never blocks and
// may be called with any lock held.
func (m *Manager) dirFailed(dir string, cause error) {
	m.failMu.Lock()
	defer m.failMu.Unlock()
	if m.failing[dir] {
		return
	}
	m.failing[dir] = true
	m.failCause[dir] = cause
	m.logger.Error("I/O error in log dir; taking it offline", zap.String("dir", dir), zap.Error(cause),
		zap.Bool("no_space", IsNoSpace(cause)))
	m.failures <- dir // buffered for every dir, and each dir is sent once
}

func (m *Manager) dirFailureLoop(ctx context.Context) {
	defer m.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case dir := <-m.failures:
			m.failMu.Lock()
			cause := m.failCause[dir]
			m.failMu.Unlock()
			m.takeOffline(dir, cause)
		}
	}
}

// takeOffline closes and forgets the logs of dir and runs the handler.
// recoverMu is held throughout, so a dir coming back online (and its
// handler) never overlaps its going offline.
func (m *Manager) takeOffline(dir string, cause error) []TopicPartition {
	m.recoverMu.Lock()
	defer m.recoverMu.Unlock()
	m.mu.Lock()
	if _, done := m.offline[dir]; done || !slices.Contains(m.cfg.Dirs, dir) {
		m.mu.Unlock()
		return nil
	}
	m.offline[dir] = struct{}{}
	if IsNoSpace(cause) {
		m.full[dir] = true
	}
	var (
		tps  []TopicPartition
		logs []*Log
	)
	for tp, d := range m.dirOf {
		if d != dir {
			continue
		}
		tps = append(tps, tp)
		logs = append(logs, m.logs[tp])
		m.offlineLogs[tp] = dir
		delete(m.logs, tp)
		delete(m.dirOf, tp)
	}
	delete(m.perDir, dir)
	online := len(m.cfg.Dirs) - len(m.offline)
	m.mu.Unlock()
	for _, l := range logs {
		if m.cleaner != nil {
			m.cleaner.forget(l.tp)
		}
		_ = l.close(false) // the dir is failing: nothing more is written to it
	}
	slices.SortFunc(tps, func(a, b TopicPartition) int { return compareTP(a, b) })
	m.logger.Error("log dir is offline", zap.String("dir", dir), zap.Int("partitions", len(tps)),
		zap.Int("online_dirs", online), zap.NamedError("cause", cause), zap.Bool("recovers_when_space_returns", IsNoSpace(cause)))
	m.failMu.Lock()
	fn := m.onDirFailure
	m.failMu.Unlock()
	if fn != nil {
		fn(dir, tps)
	}
	return tps
}

func compareTP(a, b TopicPartition) int {
	if a.Topic != b.Topic {
		if a.Topic < b.Topic {
			return -1
		}
		return 1
	}
	return int(a.Partition - b.Partition)
}

// OfflineDirs returns the log dirs that failed, in log.dirs order.
func (m *Manager) OfflineDirs() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, d := range m.cfg.Dirs {
		if _, ok := m.offline[d]; ok {
			out = append(out, d)
		}
	}
	return out
}

// DirOffline reports whether dir failed.
func (m *Manager) DirOffline(dir string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.offline[dir]
	return ok
}

// LogOffline reports whether tp's log was in a dir that failed, and which.
func (m *Manager) LogOffline(tp TopicPartition) (dir string, offline bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, offline = m.offlineLogs[tp]
	return dir, offline
}

// OfflineLogs returns the partitions whose logs are in failed dirs, by dir.
func (m *Manager) OfflineLogs() map[TopicPartition]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[TopicPartition]string, len(m.offlineLogs))
	for tp, d := range m.offlineLogs {
		out[tp] = d
	}
	return out
}

// DirOf returns the log dir holding tp's open log.
func (m *Manager) DirOf(tp TopicPartition) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.dirOf[tp]
	return d, ok
}

// DirID returns dir's directory.id (ManagerConfig.DirIDs).
func (m *Manager) DirID(dir string) ([16]byte, bool) {
	if i := slices.Index(m.cfg.Dirs, dir); i >= 0 && i < len(m.cfg.DirIDs) {
		return m.cfg.DirIDs[i], true
	}
	return [16]byte{}, false
}

// Dirs returns the log dirs, online or not, in log.dirs order.
func (m *Manager) Dirs() []string { return slices.Clone(m.cfg.Dirs) }

// Cordoned reports whether dir takes no new logs (cordoned.log.dirs).
func (m *Manager) Cordoned(dir string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Contains(m.cordoned, dir)
}

// SetCordoned replaces the cordoned dirs (cordoned.log.dirs changed at
// runtime, Kafka's DynamicLogConfig): logs created from now on avoid
// them; logs already there stay. Names that are not log dirs are
// ignored. It reports whether the set changed.
func (m *Manager) SetCordoned(dirs []string) bool {
	var next []string
	for _, d := range m.cfg.Dirs {
		if slices.Contains(dirs, d) {
			next = append(next, d)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if slices.Equal(next, m.cordoned) {
		return false
	}
	m.cordoned = next
	return true
}
