package storage

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"

	"go.uber.org/zap"
)

// futureDirSuffix ends the name of a log being copied to another log dir
// (AlterReplicaLogDirs): <topic>-<partition>.<32 hex>-future, as Kafka
// names its future logs. One left by a crash is removed at the next start.
const futureDirSuffix = "-future"

var (
	// ErrLogDirNotFound means a dir named for a log is not one of
	// log.dirs; maps to LOG_DIR_NOT_FOUND.
	ErrLogDirNotFound = errors.New("storage: not a log dir")
	// ErrLogMoving is returned for a log being moved to another dir.
	ErrLogMoving = errors.New("storage: log moving to another log dir")
)

// SetPreferredDir makes dest the dir of tp's log when it is created
// (AlterReplicaLogDirs for a replica this broker does not hold yet, as
// Kafka's LogManager.maybeUpdatePreferredLogDir). dest must be a log dir.
func (m *Manager) SetPreferredDir(tp TopicPartition, dest string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !slices.Contains(m.cfg.Dirs, dest) {
		return fmt.Errorf("%w: %s", ErrLogDirNotFound, dest)
	}
	m.preferred[tp] = dest
	return nil
}

// MoveLog moves tp's log to log dir dest (AlterReplicaLogDirs): it closes
// the log (flushing it), copies its files to dest/<tp>.<hex>-future,
// fsyncs them, renames that to dest/<tp>, deletes the old directory, and
// opens the log from its new place, which it returns. detached runs once
// the log is out of the Manager's map (GetOrCreateLog answers
// ErrLogMoving from then on), before it is closed: the caller stops using
// the old *Log there (replication.Manager.Suspend). A failure before the rename leaves the log where it was, open
// again; dest taking no I/O error is the caller's to check (the Manager
// takes a dir with an I/O error offline as usual).
func (m *Manager) MoveLog(tp TopicPartition, dest string, detached func()) (*Log, error) {
	m.mu.Lock()
	if !slices.Contains(m.cfg.Dirs, dest) {
		m.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrLogDirNotFound, dest)
	}
	if _, off := m.offline[dest]; off {
		m.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrLogDirOffline, dest)
	}
	l, ok := m.logs[tp]
	src := m.dirOf[tp]
	if !ok {
		m.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrLogNotFound, tp)
	}
	if src == dest {
		m.mu.Unlock()
		return l, nil
	}
	// Out of the map while it moves: GetOrCreateLog refuses it
	// (ErrLogMoving) rather than create an empty one.
	delete(m.logs, tp)
	delete(m.dirOf, tp)
	m.perDir[src]--
	m.moving[tp] = true
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.moving, tp)
		m.mu.Unlock()
	}()
	if detached != nil {
		detached()
	}

	cfg := l.Config()
	hw, start := l.HighWatermark(), l.LogStartOffset()
	if m.cleaner != nil {
		m.cleaner.forget(tp)
	}
	reopen := func(dir, path string) (*Log, error) {
		nl, err := OpenLog(path, cfg, OpenOptions{
			CleanShutdown: true, RecoveryPoint: math.MaxInt64, LogStartOffset: start, HighWatermark: hw,
			Metrics: m.metrics, OnIOError: m.ioErrorIn(dir),
		}, m.logger)
		if err != nil {
			return nil, err
		}
		m.mu.Lock()
		m.logs[tp], m.dirOf[tp] = nl, dir
		m.perDir[dir]++
		m.mu.Unlock()
		return nl, nil
	}
	if err := l.Close(); err != nil {
		l.reportIOError(err)
		return nil, fmt.Errorf("storage: move %s: %w", tp, err)
	}
	var id [16]byte
	_, _ = rand.Read(id[:])
	future := filepath.Join(dest, fmt.Sprintf("%s.%s%s", tp, hex.EncodeToString(id[:]), futureDirSuffix))
	final := filepath.Join(dest, tp.String())
	err := copyDir(l.dir, future)
	if err == nil {
		err = os.Rename(future, final)
	}
	if err == nil {
		err = syncDir(dest)
	}
	if err != nil {
		_ = os.RemoveAll(future)
		if IsIOError(err) {
			m.dirFailed(dest, err)
		}
		if nl, rerr := reopen(src, l.dir); rerr == nil {
			return nl, fmt.Errorf("storage: move %s to %s: %w", tp, dest, err)
		}
		return nil, fmt.Errorf("storage: move %s to %s: %w", tp, dest, err)
	}
	// The copy is complete and durable: the old directory goes.
	gone := fmt.Sprintf("%s.%s%s", l.dir, hex.EncodeToString(id[:]), deleteDirSuffix)
	if err := os.Rename(l.dir, gone); err == nil {
		_ = syncDir(src)
		if err := os.RemoveAll(gone); err != nil {
			m.logger.Warn("removing a moved log's old directory", zap.String("dir", gone), zap.Error(err))
		}
	}
	nl, err := reopen(dest, final)
	if err != nil {
		return nil, fmt.Errorf("storage: move %s to %s: %w", tp, dest, err)
	}
	m.logger.Info("log moved to another log dir", zap.Stringer("partition", tp), zap.String("from", src), zap.String("to", dest))
	return nl, nil
}

// copyDir copies the regular files of src into the new directory dst and
// fsyncs them and dst.
func copyDir(src, dst string) error {
	if err := os.Mkdir(dst, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	return syncDir(dst)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
