package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/spool-broker/spool/metrics"
)

const deleteDirSuffix = "-delete"

// ManagerConfig configures a Manager. Zero durations take Kafka's defaults.
type ManagerConfig struct {
	// Dirs are the log.dirs.
	Dirs []string
	// Cordoned are the dirs that take no new logs (cordoned.log.dirs,
	// KIP-1066); existing logs in them keep working.
	Cordoned []string
	// DirIDs are the directory.id of each of Dirs (meta.properties), in
	// the same order; nil or short: unknown (the zero ID).
	DirIDs [][16]byte
	// Default is the Config of logs created without one.
	Default Config
	// RetentionCheckInterval is log.retention.check.interval.ms (5 min).
	RetentionCheckInterval time.Duration
	// FlushCheckInterval is how often flush.ms and rolled segments are
	// checked (log.flush.scheduler.interval.ms; 1s here).
	FlushCheckInterval time.Duration
	// CheckpointInterval is log.flush.offset.checkpoint.interval.ms and
	// log.flush.start.offset.checkpoint.interval.ms (60s).
	CheckpointInterval time.Duration
	// HighWatermarkCheckpointInterval is
	// replica.high.watermark.checkpoint.interval.ms (5s): how often each
	// dir's replication-offset-checkpoint is rewritten (only when a high
	// watermark changed). Close writes it too.
	HighWatermarkCheckpointInterval time.Duration
	// Registerer, if not nil, gets the storage metrics.
	Registerer prometheus.Registerer
	// ProducerIDExpiration is producer.id.expiration.ms (1 day): producer
	// state idle this long is dropped, every ProducerIDExpirationCheck
	// (producer.id.expiration.check.interval.ms, 10 min).
	ProducerIDExpiration      time.Duration
	ProducerIDExpirationCheck time.Duration
	// CleanerEnable is log.cleaner.enable: run the log cleaner, which
	// compacts logs whose Config.Compact is set (cleaner.go).
	CleanerEnable bool
	// CleanerBackoff is log.cleaner.backoff.ms (15s): the pause when no
	// log needs cleaning.
	CleanerBackoff time.Duration
	// CleanerDedupeBufferSize is log.cleaner.dedupe.buffer.size (128 MiB):
	// roughly the memory of one pass's key map; a pass whose map fills
	// stops at that segment and the next pass continues.
	CleanerDedupeBufferSize int64
	// RecoveryThreadsPerDir is num.recovery.threads.per.data.dir (2): how
	// many logs of one dir are opened (and recovered) at once at startup.
	// Opening an idle log is a handful of metadata syscalls (list the
	// directory, open the segments, read the epoch checkpoint); with tens
	// of thousands of logs one at a time is what made a restart slow.
	// 0 means 1.
	RecoveryThreadsPerDir int
	// FullDirCheckInterval is how often a log dir taken offline by a full
	// file system (ENOSPC) is checked for space
	// (spool.log.dir.full.check.interval.ms, 5s); see dirrecovery.go.
	FullDirCheckInterval time.Duration
	// FullDirRecoveryBytes is the free space such a dir needs before it
	// comes back online (spool.log.dir.full.recovery.bytes, 64 MiB), so a
	// dir with a few bytes free does not flap offline and online.
	FullDirRecoveryBytes int64

	// space replaces dirSpace in tests (nil: dirSpace).
	space func(dir string) (capacity, available uint64, ok bool)
	// moveRoundHook, if set (tests), runs after each of MoveLog's copy
	// rounds with the round's number (from 1; 0 for the last one, while
	// the log is paused) and the bytes it copied.
	moveRoundHook func(round int, copied int64)
}

// Manager owns the logs of one broker across its log dirs and the
// background work on them: retention, flushing, checkpoints, and removal of
// deleted logs. mu guards logs, dirOf and perDir; it is taken before any
// Log lock.
type Manager struct {
	cfg     ManagerConfig
	logger  *zap.Logger
	metrics *Metrics
	ctx     context.Context // ends when Close begins
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu     sync.Mutex
	closed bool
	logs   map[TopicPartition]*Log
	dirOf  map[TopicPartition]string // the log dir holding each log
	// perDir counts the logs in each dir, so placing a new log does not
	// walk dirOf (creating N partitions was O(N²) in it).
	perDir map[string]int

	cleaner *logCleaner // nil unless CleanerEnable

	// shutdownEpochs holds the broker epoch each dir's clean shutdown file
	// named when it was loaded (dirs without one are absent), and
	// previousEpoch what they prove together (PreviousBrokerEpoch). Both
	// are written only by NewManager. brokerEpoch is what Close writes.
	shutdownEpochs map[string]int64
	previousEpoch  int64
	brokerEpoch    atomic.Int64

	// hwMu serializes replication-offset-checkpoint writes; lastHW is
	// what each dir's file holds, so an unchanged one is not rewritten
	// (and fsynced) every interval. Taken alone, never with mu.
	hwMu   sync.Mutex
	lastHW map[string]map[TopicPartition]int64

	// offline are the dirs that failed and offlineLogs the partitions
	// whose logs were in them (dirfailure.go); guarded by mu.
	offline     map[string]struct{}
	offlineLogs map[TopicPartition]string
	// moving are the logs MoveLog is moving; preferred the dirs
	// AlterReplicaLogDirs chose for logs not created yet (move.go).
	moving    map[TopicPartition]bool
	preferred map[TopicPartition]string
	// moveLimit bounds MoveLog's live copy rounds (movelimit.go).
	moveLimit moveLimiter
	// cordoned are the dirs that take no new logs: cfg.Cordoned at start,
	// then what SetCordoned sets (cordoned.log.dirs changed without a
	// restart); guarded by mu.
	cordoned []string
	// creating are the logs GetOrCreateLog is creating without mu (their
	// dirs counted in perDir already); each channel closes when done.
	// creations counts them for Close.
	creating  map[TopicPartition]chan struct{}
	creations sync.WaitGroup
	// failures queues failed dirs to dirFailureLoop (one slot per dir).
	failures chan string
	// failMu guards failing (dirs queued or offline) and onDirFailure.
	// Taken alone, or under mu or a Log lock: nothing is taken under it.
	failMu       sync.Mutex
	failing      map[string]bool
	failCause    map[string]error // the first I/O error of each dir in failing
	onDirFailure func(dir string, partitions []TopicPartition)
	onDirOnline  func(dir string, partitions []TopicPartition)

	// full are the offline dirs whose file system was full (ENOSPC): they
	// come back online when space returns (dirrecovery.go); guarded by
	// mu. recoverMu serializes bringing them back.
	full      map[string]bool
	recoverMu sync.Mutex
	// space reports a dir's free bytes (dirSpace; tests replace it).
	space func(dir string) (capacity, available uint64, ok bool)
}

// NewManager opens every log found in cfg.Dirs (recovering them when a dir
// lacks the clean shutdown marker, which it then removes) and starts the
// background loops. Close stops them.
func NewManager(cfg ManagerConfig, logger *zap.Logger) (*Manager, error) {
	if len(cfg.Dirs) == 0 {
		return nil, errors.New("storage: no log dirs")
	}
	if err := cfg.Default.Validate(); err != nil {
		return nil, err
	}
	if cfg.RetentionCheckInterval <= 0 {
		cfg.RetentionCheckInterval = 5 * time.Minute
	}
	if cfg.FlushCheckInterval <= 0 {
		cfg.FlushCheckInterval = time.Second
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = time.Minute
	}
	if cfg.HighWatermarkCheckpointInterval <= 0 {
		cfg.HighWatermarkCheckpointInterval = 5 * time.Second
	}
	if cfg.ProducerIDExpiration <= 0 {
		cfg.ProducerIDExpiration = 24 * time.Hour
	}
	if cfg.ProducerIDExpirationCheck <= 0 {
		cfg.ProducerIDExpirationCheck = 10 * time.Minute
	}
	if cfg.CleanerBackoff <= 0 {
		cfg.CleanerBackoff = 15 * time.Second
	}
	if cfg.CleanerDedupeBufferSize <= 0 {
		cfg.CleanerDedupeBufferSize = 128 << 20
	}
	if cfg.FullDirCheckInterval <= 0 {
		cfg.FullDirCheckInterval = 5 * time.Second
	}
	if cfg.FullDirRecoveryBytes <= 0 {
		cfg.FullDirRecoveryBytes = 64 << 20
	}
	m := &Manager{
		cfg: cfg, logger: logger, cordoned: slices.Clone(cfg.Cordoned),
		logs: map[TopicPartition]*Log{}, dirOf: map[TopicPartition]string{}, perDir: map[string]int{},
		lastHW:  map[string]map[TopicPartition]int64{},
		offline: map[string]struct{}{}, offlineLogs: map[TopicPartition]string{},
		moving: map[TopicPartition]bool{}, preferred: map[TopicPartition]string{}, creating: map[TopicPartition]chan struct{}{},
		failures: make(chan string, len(cfg.Dirs)), failing: map[string]bool{}, failCause: map[string]error{},
		full: map[string]bool{}, space: cfg.space,
		shutdownEpochs: map[string]int64{},
	}
	if m.space == nil {
		m.space = dirSpace
	}
	m.brokerEpoch.Store(NoBrokerEpoch)
	if cfg.Registerer != nil {
		var err error
		if m.metrics, err = NewMetrics(cfg.Registerer); err != nil {
			return nil, fmt.Errorf("storage: register metrics: %w", err)
		}
		if err := metrics.Register(cfg.Registerer, logsCollector{m}); err != nil {
			return nil, fmt.Errorf("storage: register metrics: %w", err)
		}
	}
	for _, dir := range cfg.Dirs {
		err := m.loadDir(dir)
		if err != nil && IsIOError(err) && len(m.offline) < len(cfg.Dirs)-1 {
			// As Kafka's LogManager: a dir that cannot be loaded is offline
			// from the start, while another one works.
			m.logger.Error("cannot load log dir; it is offline", zap.String("dir", dir), zap.Error(err))
			m.offline[dir], m.failing[dir] = struct{}{}, true
			for tp, d := range m.dirOf {
				if d == dir {
					m.logs[tp].close(false)
					delete(m.logs, tp)
					delete(m.dirOf, tp)
				}
			}
			delete(m.perDir, dir)
			continue
		}
		if err != nil {
			for _, l := range m.logs {
				l.close(false)
			}
			return nil, err
		}
	}
	m.previousEpoch = previousBrokerEpoch(cfg.Dirs, m.offline, m.shutdownEpochs)
	ctx, cancel := context.WithCancel(context.Background())
	m.ctx, m.cancel = ctx, cancel
	m.wg.Add(1)
	go m.dirFailureLoop(ctx)
	m.goLoop(ctx, cfg.FullDirCheckInterval, func(time.Time) { m.recoverFullDirs() })
	m.goLoop(ctx, cfg.RetentionCheckInterval, m.retentionPass)
	m.goLoop(ctx, cfg.FlushCheckInterval, m.flushPass)
	m.goLoop(ctx, cfg.ProducerIDExpirationCheck, func(now time.Time) {
		for _, l := range m.Logs() {
			l.RemoveExpiredProducers(now.UnixMilli(), cfg.ProducerIDExpiration.Milliseconds())
		}
	})
	if cfg.CleanerEnable {
		m.cleaner = newLogCleaner(m, logger)
		m.wg.Add(1)
		go m.cleaner.run(ctx)
	}
	m.goLoop(ctx, cfg.CheckpointInterval, func(time.Time) {
		if err := m.writeCheckpoints(); err != nil {
			m.logger.Error("writing checkpoints", zap.Error(err))
		}
	})
	m.goLoop(ctx, cfg.HighWatermarkCheckpointInterval, func(time.Time) {
		if err := m.CheckpointHighWatermarks(); err != nil {
			m.logger.Error("writing high watermark checkpoints", zap.Error(err))
		}
	})
	return m, nil
}

func (m *Manager) loadDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("storage: log dir %s: %w", dir, err)
	}
	marker := filepath.Join(dir, CleanShutdownFile)
	_, err := os.Stat(marker)
	clean := err == nil
	if clean {
		// Read before loading removes it, as Kafka's BrokerServer reads
		// the epochs before LogManager.startup.
		if epoch, err := ReadCleanShutdownFile(dir); err == nil {
			m.shutdownEpochs[dir] = epoch
		} else {
			m.logger.Info("the clean shutdown file names no broker epoch", zap.String("dir", dir), zap.Error(err))
		}
	}
	cp := m.readDirCheckpoints(dir, clean)
	loaded := map[TopicPartition]int64{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("storage: log dir %s: %w", dir, err)
	}
	var work []dirLog
	seen := map[TopicPartition]bool{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if strings.HasSuffix(e.Name(), deleteDirSuffix) || strings.HasSuffix(e.Name(), futureDirSuffix) {
			if err := os.RemoveAll(path); err != nil {
				return fmt.Errorf("storage: remove deleted log %s: %w", path, err)
			}
			continue
		}
		tp, err := ParseLogDirName(e.Name())
		if err != nil {
			continue // not a log
		}
		if _, dup := m.logs[tp]; dup || seen[tp] {
			return fmt.Errorf("storage: %s found in two log dirs", tp)
		}
		seen[tp] = true
		work = append(work, dirLog{tp: tp, path: path})
	}
	if err := m.openDirLogs(dir, work, cp); err != nil {
		return err
	}
	for _, w := range work {
		tp, l := w.tp, w.log
		m.logs[tp], m.dirOf[tp] = l, dir
		m.perDir[dir]++
		if hw, ok := cp.hws[tp]; ok && hw == l.HighWatermark() {
			loaded[tp] = hw
		}
	}
	if len(loaded) == len(cp.hws) {
		m.lastHW[dir] = loaded // the file already says this: no rewrite until one moves
	}
	// The marker goes only after loading: a crash now must recover again.
	if err := os.Remove(marker); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("storage: remove clean shutdown marker: %w", err)
	}
	return syncDir(dir)
}

// dirLog is one log of a dir to open: its partition and directory, and
// once openDirLogs returns, the open log.
type dirLog struct {
	tp   TopicPartition
	path string
	log  *Log
	err  error
}

// dirCheckpoints are what a dir's checkpoint files say, to open its logs
// with; clean is whether the dir has the clean shutdown marker.
type dirCheckpoints struct {
	clean            bool
	rps, starts, hws map[TopicPartition]int64
}

// readDirCheckpoints reads dir's checkpoint files; clean is whether the
// dir has the clean shutdown marker (an unreadable recovery point
// checkpoint makes it unclean).
func (m *Manager) readDirCheckpoints(dir string, clean bool) dirCheckpoints {
	cp := dirCheckpoints{clean: clean}
	var err error
	if cp.rps, err = ReadOffsetCheckpoint(filepath.Join(dir, RecoveryPointCheckpointFile)); err != nil {
		m.logger.Warn("unreadable recovery point checkpoint, recovering from offset 0", zap.String("dir", dir), zap.Error(err))
		cp.rps, cp.clean = nil, false
	}
	if cp.starts, err = ReadOffsetCheckpoint(filepath.Join(dir, LogStartOffsetCheckpointFile)); err != nil {
		m.logger.Warn("unreadable log start offset checkpoint", zap.String("dir", dir), zap.Error(err))
		cp.starts = nil
	}
	// A missing or unreadable high watermark checkpoint starts every log
	// at its log start offset, as Kafka does (a leader with ISR {self}
	// moves it to the log end offset at once).
	if cp.hws, err = ReadOffsetCheckpoint(filepath.Join(dir, ReplicationOffsetCheckpointFile)); err != nil {
		m.logger.Warn("unreadable high watermark checkpoint", zap.String("dir", dir), zap.Error(err))
		cp.hws = nil
	}
	return cp
}

// openDirLogs opens (recovering as cp says) the logs of work, all in dir,
// on RecoveryThreadsPerDir goroutines; each takes the next index, and
// every one has returned before the results are read. On an error every
// log it opened is closed again and the first error returned.
func (m *Manager) openDirLogs(dir string, work []dirLog, cp dirCheckpoints) error {
	threads := max(m.cfg.RecoveryThreadsPerDir, 1)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(threads, len(work)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(len(work)); i = next.Add(1) - 1 {
				w := &work[i]
				w.log, w.err = OpenLog(w.path, m.cfg.Default, OpenOptions{
					CleanShutdown: cp.clean, RecoveryPoint: cp.rps[w.tp], LogStartOffset: cp.starts[w.tp], HighWatermark: cp.hws[w.tp],
					Metrics: m.metrics, OnIOError: m.ioErrorIn(dir),
				}, m.logger)
			}
		}()
	}
	wg.Wait()
	var firstErr error
	for _, w := range work {
		if w.err != nil && firstErr == nil {
			firstErr = w.err
		}
	}
	if firstErr != nil {
		for _, w := range work {
			if w.log != nil {
				w.log.close(false)
			}
		}
	}
	return firstErr
}

// goLoop runs fn every interval until ctx ends.
func (m *Manager) goLoop(ctx context.Context, interval time.Duration, fn func(now time.Time)) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				fn(now)
			}
		}
	}()
}

// Logs returns the open logs.
func (m *Manager) Logs() []*Log {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Log, 0, len(m.logs))
	for _, l := range m.logs {
		out = append(out, l)
	}
	return out
}

// Log returns the log of tp, if open.
func (m *Manager) Log(tp TopicPartition) (*Log, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.logs[tp]
	return l, ok
}

// GetOrCreateLog returns tp's log, creating it with cfg (nil: the default)
// in the log dir holding the fewest partitions. Safe for concurrent use:
// the files of a new log are created without holding the manager's lock,
// so a burst of new partitions (CreateTopics, a reassignment) can be
// created in parallel; a second caller for the same partition waits for
// the first.
func (m *Manager) GetOrCreateLog(tp TopicPartition, cfg *Config) (*Log, error) {
	m.mu.Lock()
	for {
		if m.closed {
			m.mu.Unlock()
			return nil, ErrClosed
		}
		if l, ok := m.logs[tp]; ok {
			m.mu.Unlock()
			return l, nil
		}
		ch, ok := m.creating[tp]
		if !ok {
			break
		}
		m.mu.Unlock()
		<-ch
		m.mu.Lock()
	}
	defer m.mu.Unlock()
	if d, ok := m.offlineLogs[tp]; ok {
		return nil, fmt.Errorf("%w: %s is in %s", ErrLogDirOffline, tp, d)
	}
	if m.moving[tp] {
		return nil, fmt.Errorf("%w: %s", ErrLogMoving, tp)
	}
	if strings.ContainsAny(tp.Topic, `/\`) || tp.Topic == "" || tp.Topic == "." || tp.Topic == ".." || tp.Partition < 0 {
		return nil, fmt.Errorf("storage: invalid partition %q", tp)
	}
	dir := ""
	for _, d := range m.cfg.Dirs {
		if _, off := m.offline[d]; !off && !slices.Contains(m.cordoned, d) && (dir == "" || m.perDir[d] < m.perDir[dir]) {
			dir = d
		}
	}
	if d, ok := m.preferred[tp]; ok {
		delete(m.preferred, tp)
		if _, off := m.offline[d]; !off {
			dir = d
		}
	}
	if dir == "" {
		// Kafka's LogManager.nextLogDirs finds none either.
		return nil, fmt.Errorf("%w: No log directories available. Tried %s", ErrNoLogDir, strings.Join(m.cfg.Dirs, ", "))
	}
	c := m.cfg.Default
	if cfg != nil {
		c = *cfg
	}
	done := make(chan struct{})
	m.creating[tp] = done
	m.perDir[dir]++
	m.creations.Add(1)
	m.mu.Unlock()
	l, err := OpenLog(filepath.Join(dir, tp.String()), c, OpenOptions{CleanShutdown: true, Metrics: m.metrics, OnIOError: m.ioErrorIn(dir)}, m.logger)
	m.mu.Lock() // the deferred Unlock releases it
	delete(m.creating, tp)
	close(done)
	m.creations.Done()
	_, off := m.offline[dir]
	switch {
	case err != nil:
		m.perDir[dir]--
		if IsIOError(err) {
			m.dirFailed(dir, err)
		}
		return nil, err
	case m.closed || off:
		// Close or the dir's failure came meanwhile and did not see it.
		m.perDir[dir]--
		_ = l.close(!off)
		if off {
			return nil, fmt.Errorf("%w: %s is in %s", ErrLogDirOffline, tp, dir)
		}
		return nil, ErrClosed
	}
	m.logs[tp], m.dirOf[tp] = l, dir
	return l, nil
}

// SetTopicConfig applies cfg to every open partition of topic.
func (m *Manager) SetTopicConfig(topic string, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	for _, l := range m.Logs() {
		if l.tp.Topic == topic {
			if err := l.SetConfig(cfg); err != nil {
				return err
			}
		}
	}
	return nil
}

// DeleteLog closes tp's log, renames its directory to
// <topic>-<partition>.<uuid>-delete and removes it after file.delete.delay.ms
// (leftovers are removed at the next start).
func (m *Manager) DeleteLog(tp TopicPartition) error {
	m.mu.Lock()
	l, ok := m.logs[tp]
	if ok {
		m.perDir[m.dirOf[tp]]--
		delete(m.logs, tp)
		delete(m.dirOf, tp)
	}
	_, wasOffline := m.offlineLogs[tp]
	delete(m.offlineLogs, tp) // its files go with the failed dir
	m.mu.Unlock()
	if !ok && wasOffline {
		return nil
	}
	if !ok {
		return fmt.Errorf("%w: %s", ErrLogNotFound, tp)
	}
	if m.cleaner != nil {
		m.cleaner.forget(tp)
	}
	if err := l.close(false); err != nil {
		return err
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return fmt.Errorf("storage: delete %s: %w", tp, err)
	}
	to := fmt.Sprintf("%s.%s%s", l.dir, hex.EncodeToString(id[:]), deleteDirSuffix)
	if err := os.Rename(l.dir, to); err != nil {
		return fmt.Errorf("storage: delete %s: %w", tp, err)
	}
	if err := syncDir(filepath.Dir(l.dir)); err != nil {
		return fmt.Errorf("storage: delete %s: %w", tp, err)
	}
	m.logger.Info("log scheduled for deletion", zap.Stringer("partition", tp), zap.String("dir", to))
	delay := time.Duration(l.cfg.Load().FileDeleteDelayMs) * time.Millisecond
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil // removed at the next start
	}
	m.wg.Add(1) // under mu, so never after Close's Wait began
	go func() {
		defer m.wg.Done()
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-m.ctx.Done():
			return // removed at the next start
		}
		if err := os.RemoveAll(to); err != nil {
			m.logger.Warn("removing deleted log", zap.String("dir", to), zap.Error(err))
		}
	}()
	return nil
}

func (m *Manager) retentionPass(now time.Time) {
	for _, l := range m.Logs() {
		if n, err := l.DeleteOldSegments(now); err != nil && !errors.Is(err, ErrClosed) {
			l.logger.Error("retention", zap.Error(err))
			l.reportIOError(err)
		} else if n > 0 {
			l.logger.Info("retention deleted segments", zap.Int("segments", n))
		}
	}
}

func (m *Manager) flushPass(now time.Time) {
	for _, l := range m.Logs() {
		if err := l.maybeFlush(now); err != nil && !errors.Is(err, ErrClosed) {
			l.logger.Error("flush", zap.Error(err))
			l.reportIOError(err)
		}
	}
}

// writeCheckpoints writes each dir's recovery point and log start offset
// checkpoint files.
func (m *Manager) writeCheckpoints() error {
	m.mu.Lock()
	rps := map[string]map[TopicPartition]int64{}
	starts := map[string]map[TopicPartition]int64{}
	dirs := m.onlineDirsLocked()
	for _, d := range dirs {
		rps[d], starts[d] = map[TopicPartition]int64{}, map[TopicPartition]int64{}
	}
	for tp, l := range m.logs {
		d := m.dirOf[tp]
		rps[d][tp] = l.RecoveryPoint()
		starts[d][tp] = l.LogStartOffset()
	}
	m.mu.Unlock()
	var errs []error
	for _, d := range dirs {
		err := WriteOffsetCheckpoint(filepath.Join(d, RecoveryPointCheckpointFile), rps[d])
		if err == nil {
			err = WriteOffsetCheckpoint(filepath.Join(d, LogStartOffsetCheckpointFile), starts[d])
		}
		if err != nil {
			errs = append(errs, err)
			if IsIOError(err) {
				m.dirFailed(d, err)
			}
		}
	}
	return errors.Join(errs...)
}

// onlineDirsLocked returns the dirs that have not failed. The caller
// holds mu.
func (m *Manager) onlineDirsLocked() []string {
	out := make([]string, 0, len(m.cfg.Dirs))
	for _, d := range m.cfg.Dirs {
		if _, off := m.offline[d]; !off {
			out = append(out, d)
		}
	}
	return out
}

// ioErrorIn is the OnIOError of the logs in dir.
func (m *Manager) ioErrorIn(dir string) func(error) {
	return func(err error) { m.dirFailed(dir, err) }
}

// CheckpointHighWatermarks writes each dir's replication-offset-checkpoint
// with the high watermark of every log in it, skipping a dir whose values
// are what its file already holds. Safe to call concurrently; the Manager
// calls it every HighWatermarkCheckpointInterval and from Close.
func (m *Manager) CheckpointHighWatermarks() error {
	m.mu.Lock()
	hws := map[string]map[TopicPartition]int64{}
	dirs := m.onlineDirsLocked()
	for _, d := range dirs {
		hws[d] = map[TopicPartition]int64{}
	}
	for tp, l := range m.logs {
		hws[m.dirOf[tp]][tp] = l.HighWatermark()
	}
	m.mu.Unlock()
	m.hwMu.Lock()
	defer m.hwMu.Unlock()
	var errs []error
	for _, d := range dirs {
		if last, ok := m.lastHW[d]; ok && maps.Equal(last, hws[d]) {
			continue
		}
		if err := WriteOffsetCheckpoint(filepath.Join(d, ReplicationOffsetCheckpointFile), hws[d]); err != nil {
			delete(m.lastHW, d)
			errs = append(errs, err)
			if IsIOError(err) {
				m.dirFailed(d, err)
			}
			continue
		}
		m.lastHW[d] = hws[d]
	}
	return errors.Join(errs...)
}

// closeParallelism is how many logs Close closes at once. Closing a log
// that took writes costs fsyncs (producer snapshot, segment, indexes);
// issued together they share the file system's journal commits instead of
// each waiting for its own, which with thousands of partitions is most of
// the shutdown time.
const closeParallelism = 16

// closeLogs closes logs, closeParallelism at a time, and returns the errors.
func closeLogs(logs []*Log) []error {
	errs := make([]error, len(logs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(closeParallelism, len(logs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = logs[i].Close()
			}
		}()
	}
	for i := range logs {
		next <- i
	}
	close(next)
	wg.Wait()
	return errs
}

// Close stops the background loops, closes (and flushes) every log, writes
// the checkpoints and then the clean shutdown marker of each dir, naming
// the broker epoch set by SetBrokerEpoch.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	m.cancel()
	m.wg.Wait()
	m.creations.Wait() // a log created meanwhile is closed by its creator
	errs := closeLogs(m.Logs())
	if err := m.writeCheckpoints(); err != nil {
		errs = append(errs, err)
	}
	if err := m.CheckpointHighWatermarks(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return err // no marker: the next start recovers
	}
	m.mu.Lock()
	dirs := m.onlineDirsLocked()
	m.mu.Unlock()
	epoch := m.brokerEpoch.Load()
	for _, d := range dirs {
		if err := WriteCleanShutdownFile(d, epoch); err != nil {
			return fmt.Errorf("storage: write clean shutdown marker: %w", err)
		}
	}
	return nil
}

// SetBrokerEpoch records the broker epoch Close writes into the clean
// shutdown files (Kafka's LogManager.shutdown(brokerEpoch)); until called
// it is NoBrokerEpoch, which proves nothing at the next start.
func (m *Manager) SetBrokerEpoch(epoch int64) { m.brokerEpoch.Store(epoch) }

// PreviousBrokerEpoch is the broker epoch the last orderly stop wrote into
// every log dir's clean shutdown file, for BrokerRegistration (KIP-966),
// or NoBrokerEpoch when it cannot be proven: a dir without the file (a
// crash), unreadable, disagreeing with another, or offline at start.
func (m *Manager) PreviousBrokerEpoch() int64 { return m.previousEpoch }
