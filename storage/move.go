package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

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

// MoveLog moves tp's log to log dir dest (AlterReplicaLogDirs). The copy
// is made while the log keeps serving, as Kafka copies into a future log:
// rounds copy its segment files into dest/<tp>.<hex>-future (a segment's
// .log is append-only, so a round after the first copies only what was
// appended since), until a round finds little new (liveCopyDoneBytes) or
// after maxLiveCopyRounds. Only then is the log taken out of the Manager's
// map (GetOrCreateLog answers ErrLogMoving from then on) and detached
// called, before it is closed: the caller stops using the old *Log there
// (replication.Manager.Suspend). The closed log's last appends and its
// small files (indexes, producer snapshots, the leader epoch checkpoint)
// are copied, everything fsynced, the future dir renamed to dest/<tp>, the
// old directory deleted, and the log opened from its new place, which
// MoveLog returns. The pause is that last round, not the whole copy. A
// truncation during the live rounds (a follower truncating to its
// leader) makes the last round copy every file whole, as the first did.
//
// A failure during the live rounds leaves the log serving where it was;
// one after detached leaves it where it was, open again. dest taking no
// I/O error is the caller's to check (the Manager takes a dir with an I/O
// error offline as usual).
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
	if m.moving[tp] {
		m.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrLogMoving, tp)
	}
	m.moving[tp] = true
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.moving, tp)
		m.mu.Unlock()
	}()

	var id [16]byte
	_, _ = rand.Read(id[:])
	future := filepath.Join(dest, fmt.Sprintf("%s.%s%s", tp, hex.EncodeToString(id[:]), futureDirSuffix))
	final := filepath.Join(dest, tp.String())
	failed := func(err error) error {
		_ = os.RemoveAll(future)
		var de *copyDestError
		if errors.As(err, &de) && IsIOError(de.err) {
			m.dirFailed(dest, de.err)
		}
		return fmt.Errorf("storage: move %s to %s: %w", tp, dest, err)
	}

	// The live rounds: the log serves meanwhile.
	began := time.Now()
	truncations := l.truncationCount()
	if err := os.Mkdir(future, 0o755); err != nil {
		return nil, failed(&copyDestError{err})
	}
	var (
		copied  map[string]copiedFile
		rounds  int
		liveOut int64
	)
	for rounds < maxLiveCopyRounds {
		var n int64
		var err error
		copied, n, err = syncCopy(m.ctx, &m.moveLimit, l.dir, future, copied, true, true)
		if err != nil {
			return nil, failed(err)
		}
		rounds++
		liveOut += n
		if m.cfg.moveRoundHook != nil {
			m.cfg.moveRoundHook(rounds, n)
		}
		if n < liveCopyDoneBytes {
			break
		}
	}

	// What the live rounds wrote is made durable before the pause, which
	// then fsyncs only what its own round writes; so is the log itself,
	// whose Close in the pause then has little to flush.
	if err := syncFiles(future, nil); err != nil {
		return nil, failed(&copyDestError{err})
	}
	if err := l.Flush(); err != nil && !errors.Is(err, ErrClosed) {
		l.reportIOError(err)
		return nil, failed(err)
	}

	// The pause: out of the map, detached, closed, the last round.
	m.mu.Lock()
	if m.logs[tp] != l {
		m.mu.Unlock()
		// Deleted, or its dir failed, during the live rounds.
		_ = os.RemoveAll(future)
		return nil, fmt.Errorf("%w: %s (gone while it was being moved)", ErrLogNotFound, tp)
	}
	delete(m.logs, tp)
	delete(m.dirOf, tp)
	m.perDir[src]--
	m.mu.Unlock()
	paused := time.Now()
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
		_ = os.RemoveAll(future)
		return nil, fmt.Errorf("storage: move %s: %w", tp, err)
	}
	_, last, err := syncCopy(m.ctx, nil, l.dir, future, copied, l.truncationCount() == truncations, false)
	if err == nil && m.cfg.moveRoundHook != nil {
		m.cfg.moveRoundHook(0, last)
	}
	if err == nil {
		if err = os.Rename(future, final); err != nil {
			err = &copyDestError{err}
		}
	}
	if err == nil {
		if err = syncDir(dest); err != nil {
			err = &copyDestError{err}
		}
	}
	if err != nil {
		err = failed(err)
		if nl, rerr := reopen(src, l.dir); rerr == nil {
			return nl, err
		}
		return nil, err
	}
	// The copy is complete and durable: the old directory goes (removed
	// once the log serves from its new place).
	gone := fmt.Sprintf("%s.%s%s", l.dir, hex.EncodeToString(id[:]), deleteDirSuffix)
	renamed := os.Rename(l.dir, gone) == nil
	if renamed {
		_ = syncDir(src)
	}
	nl, err := reopen(dest, final)
	if err != nil {
		return nil, fmt.Errorf("storage: move %s to %s: %w", tp, dest, err)
	}
	pause := time.Since(paused)
	if renamed {
		if err := os.RemoveAll(gone); err != nil {
			m.logger.Warn("removing a moved log's old directory", zap.String("dir", gone), zap.Error(err))
		}
	}
	m.logger.Info("log moved to another log dir", zap.Stringer("partition", tp), zap.String("from", src), zap.String("to", dest),
		zap.Int("live_rounds", rounds), zap.Int64("live_bytes", liveOut), zap.Int64("paused_bytes", last),
		zap.Duration("took", time.Since(began)), zap.Duration("paused", pause))
	return nl, nil
}

const (
	// maxLiveCopyRounds bounds MoveLog's copy rounds while the log serves;
	// a round that copied less than liveCopyDoneBytes ends them sooner.
	maxLiveCopyRounds = 10
	liveCopyDoneBytes = 1 << 20
)

// copyDestError marks an error writing the copy (in the destination dir),
// as opposed to reading the log being moved.
type copyDestError struct{ err error }

func (e *copyDestError) Error() string { return e.err.Error() }
func (e *copyDestError) Unwrap() error { return e.err }

// copiedFile is what a copy round made of one source file: its inode and
// how many of its bytes the copy holds.
type copiedFile struct {
	ino  uint64
	size int64
}

// syncCopy brings dst up to the regular files of src and returns what it
// holds and how many bytes it copied. With prev, the last round's result,
// and appendOnly (the log was not truncated since), a file that is the
// same (inode) with the same size is not copied again, and a segment .log
// that grew has only its new tail copied (anything else that rewrites a
// segment, the cleaner's swap, replaces the file). A live round (the log
// serving) copies only the files liveCopyable allows, up to the length
// they had when looked at; the last round
// (the log closed) copies the rest too, removes from dst what src no
// longer has, and fsyncs what it wrote and dst (MoveLog fsyncs the live
// rounds' files before it). lim, if not nil, bounds the copy's rate.
func syncCopy(ctx context.Context, lim *moveLimiter, src, dst string, prev map[string]copiedFile, appendOnly, live bool) (map[string]copiedFile, int64, error) {
	entries, err := os.ReadDir(src)
	if err != nil {
		return nil, 0, err
	}
	out := make(map[string]copiedFile, len(entries))
	written := map[string]bool{} // what this round wrote to
	var total int64
	// The active segment is the one with the highest base offset; its
	// indexes change in place, the others' only by a truncation.
	active := ""
	for _, e := range entries {
		if base, ok := strings.CutSuffix(e.Name(), logSuffix); ok && base > active {
			active = base
		}
	}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || strings.HasSuffix(name, deletedSuffix) {
			continue
		}
		if live && !liveCopyable(name, active) {
			continue // changes in place: the last round copies it
		}
		fi, err := os.Stat(filepath.Join(src, name))
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted meanwhile (retention)
		}
		if err != nil {
			return nil, 0, err
		}
		var ino uint64
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			ino = uint64(st.Ino)
		}
		from := int64(0)
		if p, ok := prev[name]; ok && appendOnly && strings.HasSuffix(name, logSuffix) && p.ino == ino && fi.Size() >= p.size {
			from = p.size
		}
		if p, ok := prev[name]; ok && appendOnly && p.ino == ino && p.size == fi.Size() {
			out[name] = p // unchanged since the last round
			continue
		}
		written[name] = true
		n, err := copyRange(ctx, lim, filepath.Join(src, name), filepath.Join(dst, name), from, fi.Size())
		if errors.Is(err, os.ErrNotExist) && live {
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		total += n
		out[name] = copiedFile{ino: ino, size: from + n}
	}
	if live {
		return out, total, nil
	}
	have, err := os.ReadDir(dst)
	if err != nil {
		return nil, 0, &copyDestError{err}
	}
	for _, e := range have {
		if _, ok := out[e.Name()]; !ok {
			if err := os.Remove(filepath.Join(dst, e.Name())); err != nil {
				return nil, 0, &copyDestError{err}
			}
		}
	}
	if err := syncFiles(dst, written); err != nil {
		return nil, 0, &copyDestError{err}
	}
	return out, total, nil
}

// syncFiles fsyncs the files of dir named in only (nil: every file), then
// dir itself.
func syncFiles(dir string, only map[string]bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if only != nil && !only[e.Name()] {
			continue
		}
		if err := syncPath(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return syncDir(dir)
}

// liveCopyable reports whether a live round copies the file name: a
// segment's .log (append-only), and the indexes of segments before the
// active one, whose base offset is active (20 digits, as in the names).
func liveCopyable(name, active string) bool {
	if strings.HasSuffix(name, logSuffix) {
		return true
	}
	for _, suffix := range []string{indexSuffix, timeIndexSuffix, txnIndexSuffix} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			return base < active
		}
	}
	return false
}

// copyRange makes dst hold src's bytes [0, to), copying [from, to): dst
// already holds the first from bytes (from 0: dst is created or emptied).
// With lim bounding the rate, it copies moveChunk bytes at a time, each
// once lim allows.
func copyRange(ctx context.Context, lim *moveLimiter, src, dst string, from, to int64) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	flags := os.O_CREATE | os.O_WRONLY
	if from == 0 {
		flags |= os.O_TRUNC
	}
	out, err := os.OpenFile(dst, flags, 0o644)
	if err != nil {
		return 0, &copyDestError{err}
	}
	defer out.Close()
	if from > 0 {
		if err := out.Truncate(from); err != nil {
			return 0, &copyDestError{err}
		}
	}
	if from == to {
		return 0, nil
	}
	if _, err := in.Seek(from, io.SeekStart); err != nil {
		return 0, err
	}
	if _, err := out.Seek(from, io.SeekStart); err != nil {
		return 0, &copyDestError{err}
	}
	var n int64
	if lim != nil && lim.limited() {
		for n < to-from && err == nil {
			chunk := min(to-from-n, moveChunk)
			if err = lim.wait(ctx, int(chunk)); err != nil {
				return n, err
			}
			var c int64
			c, err = io.CopyN(out, in, chunk)
			n += c
		}
	} else {
		n, err = io.CopyN(out, in, to-from)
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			// Shorter than it was (truncated meanwhile): the last round,
			// which sees appendOnly false, copies it whole.
			return n, nil
		}
		// Which side failed is not told apart here; a write error is
		// the likelier with a healthy source.
		return n, &copyDestError{err}
	}
	return n, out.Close()
}

func syncPath(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := syncFile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
