package replication

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/storage"
)

// BrokerState is what the metadata says of another broker.
type BrokerState struct {
	Epoch                int64
	Fenced               bool
	InControlledShutdown bool
}

// BrokerLookup answers from the current metadata image; ok is false for a
// broker that is not registered.
type BrokerLookup func(id int32) (st BrokerState, ok bool)

// Config configures a Manager. Zero values take Kafka's defaults.
type Config struct {
	// NodeID is this broker's id.
	NodeID int32
	// ReplicaLagTimeMax is replica.lag.time.max.ms (30s): an ISR member
	// not caught up for this long is removed; the ISR is checked every
	// half of it.
	ReplicaLagTimeMax time.Duration
	// Clock measures ISR lag; nil is the wall clock.
	Clock Clock
	// AlterPartition sends ISR changes to the controller; nil means the
	// ISR never changes (every proposal counts as not attempted).
	AlterPartition AlterPartitionSender
	// AlterPartitionRetryBackoff is the pause before resending an
	// AlterPartition that failed with a retriable error (100ms).
	AlterPartitionRetryBackoff time.Duration
	// Brokers looks other brokers up in the metadata (ISR eligibility,
	// stale broker epochs); nil treats every broker as alive with its
	// epoch unknown.
	Brokers BrokerLookup
	// BrokerEpoch is this broker's registered epoch, sent with
	// AlterPartition and follower fetches; nil sends -1.
	BrokerEpoch func() int64
	// Endpoints reaches the leaders this broker follows; nil means no
	// replica fetcher runs (a single node never follows anyone).
	Endpoints EndpointFactory
	// Fetcher configures the replica fetchers.
	Fetcher FetcherConfig
	// LeaderThrottle and FollowerThrottle are the replication quotas
	// (leader/follower.replication.throttled.rate) for the replicas the
	// topics list in leader/follower.replication.throttled.replicas;
	// nil: never throttled (throttle.go).
	LeaderThrottle, FollowerThrottle Throttle
	// ReplicatedBytes, if set, is told the bytes of batches each follower
	// append wrote (Kafka's ReplicationBytesInPerSec, counted in
	// ReplicaFetcherThread.processPartitionData). It must not block.
	ReplicatedBytes func(topic string, n int)
}

// LeadershipHook learns when this broker starts leading a partition under a
// new leader epoch (leader true) or stops leading it. The group and
// transaction coordinators use it to load and unload the state kept in
// __consumer_offsets and __transaction_state. Hooks run on the goroutine
// applying metadata, outside every partition lock, and must not block:
// start loading asynchronously.
type LeadershipHook func(topic string, partition int32, leader bool, epoch int32)

// Manager owns the partition replicas this broker hosts, as Kafka's
// ReplicaManager does: it opens and removes them as metadata assigns them,
// applies leadership and ISR changes from the metadata (Apply), runs the
// periodic ISR shrink, sends ISR changes to the controller, and answers the
// leader side of replication (it implements LeaderEndpoint for followers).
//
// Apply and Remove are called by one goroutine at a time (the metadata
// follower); everything else is safe for concurrent use.
type Manager struct {
	env        *env
	logManager *storage.Manager
	lag        time.Duration

	// fetchers runs the follower side (nil without Config.Endpoints).
	fetchers *fetcherManager

	mu         sync.RWMutex
	partitions map[storage.TopicPartition]*Partition
	hooks      []LeadershipHook
}

// env is what every Partition of a Manager shares.
type env struct {
	nodeID            int32
	clock             Clock
	maxLagMs          int64
	alter             AlterPartitionSender
	alterRetryBackoff time.Duration
	brokers           BrokerLookup
	epoch             func() int64
	logger            *zap.Logger
	leaderThrottle    Throttle
	followerThrottle  Throttle
	replicatedBytes   func(topic string, n int)

	ctx    context.Context
	cancel context.CancelFunc
	// isrShrinks and isrExpands count committed ISR changes this broker
	// made as leader (metrics.go).
	isrShrinks, isrExpands atomic.Int64

	goMu   sync.Mutex // guards closed against wg.Add racing Close's Wait
	closed bool
	wg     sync.WaitGroup
}

func (e *env) nowMs() int64 { return e.clock.Now().UnixMilli() }

func (e *env) selfEpoch() int64 {
	if e.epoch == nil {
		return -1
	}
	return e.epoch()
}

// brokerEpoch is a broker's registered epoch, if it is registered.
func (e *env) brokerEpoch(id int32) (int64, bool) {
	if e.brokers == nil {
		return 0, false
	}
	st, ok := e.brokers(id)
	return st.Epoch, ok
}

// isrEligible is IsrEligible against the metadata.
func (e *env) isrEligible(id int32, s ReplicaState) bool {
	if e.brokers == nil {
		return IsrEligible(s, s.BrokerEpoch, true)
	}
	st, ok := e.brokers(id)
	return IsrEligible(s, st.Epoch, ok && !st.Fenced && !st.InControlledShutdown)
}

// alive reports whether broker id is registered and not fenced (Kafka's
// hasAliveBroker); without a lookup every broker is.
func (e *env) alive(id int32) bool {
	if e.brokers == nil {
		return true
	}
	st, ok := e.brokers(id)
	return ok && !st.Fenced
}

// goFunc runs fn on a goroutine Close waits for; after Close it does
// nothing.
func (e *env) goFunc(fn func(ctx context.Context)) {
	e.goMu.Lock()
	defer e.goMu.Unlock()
	if e.closed {
		return
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		fn(e.ctx)
	}()
}

// sleep waits d or until ctx ends, and reports whether d passed.
func (e *env) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// NewManager returns a Manager for the logs of logs. Start begins the
// periodic ISR check; Close ends it and the AlterPartition requests in
// flight.
func NewManager(cfg Config, logs *storage.Manager, log *zap.Logger) *Manager {
	if cfg.ReplicaLagTimeMax <= 0 {
		cfg.ReplicaLagTimeMax = 30 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.AlterPartitionRetryBackoff <= 0 {
		cfg.AlterPartitionRetryBackoff = 100 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{
		env: &env{
			nodeID: cfg.NodeID, clock: cfg.Clock, maxLagMs: cfg.ReplicaLagTimeMax.Milliseconds(),
			alter: cfg.AlterPartition, alterRetryBackoff: cfg.AlterPartitionRetryBackoff,
			brokers: cfg.Brokers, epoch: cfg.BrokerEpoch, logger: log, ctx: ctx, cancel: cancel,
			leaderThrottle: cfg.LeaderThrottle, followerThrottle: cfg.FollowerThrottle,
			replicatedBytes: cfg.ReplicatedBytes,
		},
		logManager: logs,
		lag:        cfg.ReplicaLagTimeMax,
		partitions: make(map[storage.TopicPartition]*Partition),
	}
	if cfg.Endpoints != nil {
		m.fetchers = newFetcherManager(m.env, cfg.Fetcher, cfg.Endpoints)
	}
	return m
}

// NodeID is this broker's id.
func (m *Manager) NodeID() int32 { return m.env.nodeID }

// Start runs the ISR shrink check every half replica.lag.time.max.ms
// (Kafka's isr-expiration task) until Close.
func (m *Manager) Start() {
	m.env.goFunc(func(ctx context.Context) {
		t := time.NewTicker(m.lag / 2)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				m.MaybeShrinkISRs()
			}
		}
	})
}

// Close stops the ISR check and the replica fetchers, abandons
// AlterPartition requests in flight, and waits for their goroutines.
// Partitions stay usable (the logs are the storage Manager's to close).
func (m *Manager) Close() {
	if m.fetchers != nil {
		m.fetchers.close()
	}
	m.env.goMu.Lock()
	m.env.closed = true
	m.env.goMu.Unlock()
	m.env.cancel()
	m.env.wg.Wait()
}

// OnLeadership adds a hook; call before the first Apply.
func (m *Manager) OnLeadership(h LeadershipHook) {
	m.mu.Lock()
	m.hooks = append(m.hooks, h)
	m.mu.Unlock()
}

func (m *Manager) notify(p *Partition, leader bool, epoch int32) {
	m.mu.RLock()
	hooks := m.hooks
	m.mu.RUnlock()
	for _, h := range hooks {
		h(p.tp.Topic, p.tp.Partition, leader, epoch)
	}
}

// Partition returns the hosted partition, or nil.
func (m *Manager) Partition(tp storage.TopicPartition) *Partition {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.partitions[tp]
}

// Get returns the hosted partition of topic, or nil.
func (m *Manager) Get(topic string, partition int32) *Partition {
	return m.Partition(storage.TopicPartition{Topic: topic, Partition: partition})
}

// Partitions returns every hosted partition.
func (m *Manager) Partitions() []*Partition {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*Partition, 0, len(m.partitions))
	for _, p := range m.partitions {
		out = append(out, p)
	}
	return out
}

// Open hosts tp: it opens (or creates) its log with cfg and returns the
// partition, with no leader until Apply. settings is the topic's
// effective config (nil: defaults).
func (m *Manager) Open(tp storage.TopicPartition, topicID [16]byte, cfg storage.Config, settings *config.LogSettings) (*Partition, error) {
	if p := m.Partition(tp); p != nil {
		return p, nil
	}
	l, err := m.logManager.GetOrCreateLog(tp, &cfg)
	if err != nil {
		return nil, fmt.Errorf("replication: open %s: %w", tp, err)
	}
	// A log loaded at startup was opened with the broker's defaults; the
	// topic's own config (cleanup.policy=compact of __consumer_offsets,
	// say) applies from now.
	if err := l.SetConfig(cfg); err != nil {
		return nil, fmt.Errorf("replication: open %s: %w", tp, err)
	}
	p := newPartition(m.env, tp, topicID, l, settings)
	m.mu.Lock()
	defer m.mu.Unlock()
	if q := m.partitions[tp]; q != nil {
		return q, nil
	}
	m.partitions[tp] = p
	return p, nil
}

// Apply makes p follow the metadata's st (Kafka's becomeLeaderOrFollower
// for one partition): leader when st names this broker, follower
// otherwise. A state older than the one applied is ignored; one the same
// is a no-op. Leadership hooks run when this broker starts a new leader
// epoch or stops leading. A follower whose leader or leader epoch changed
// (re)starts fetching from the new leader, truncating first; a leader, or
// a partition without a leader, stops fetching.
func (m *Manager) Apply(p *Partition, st LeaderAndISR) {
	if st.Leader == m.env.nodeID {
		// Kafka stops the fetcher before makeLeader; the partition lock
		// and leader epoch would refuse a late follower append anyway.
		if m.fetchers != nil {
			m.fetchers.remove(p.tp)
		}
		if p.makeLeader(st) {
			m.notify(p, true, st.LeaderEpoch)
		}
		return
	}
	ch := p.makeFollower(st)
	if ch.restart && m.fetchers != nil {
		if st.Leader >= 0 && slices.Contains(st.Replicas, m.env.nodeID) {
			m.fetchers.add(p, st.Leader, st.LeaderEpoch)
		} else {
			m.fetchers.remove(p.tp)
		}
	}
	if ch.wasLeader {
		m.notify(p, false, st.LeaderEpoch)
	}
}

// Following reports which leader this broker fetches tp from, if any.
func (m *Manager) Following(tp storage.TopicPartition) (leader int32, ok bool) {
	if m.fetchers == nil {
		return -1, false
	}
	return m.fetchers.following(tp)
}

// Remove stops hosting tp: the partition stops serving (waiting appends
// fail, waiting fetches wake), the hooks hear it stopped leading, and its
// log is deleted.
func (m *Manager) Remove(tp storage.TopicPartition) error {
	m.mu.Lock()
	p := m.partitions[tp]
	delete(m.partitions, tp)
	m.mu.Unlock()
	if p == nil {
		if _, offline := m.logManager.LogOffline(tp); offline {
			_ = m.logManager.DeleteLog(tp) // forgets it; the files stay on the failed dir
		}
		return nil
	}
	if m.fetchers != nil {
		m.fetchers.remove(tp)
	}
	if p.remove() {
		m.notify(p, false, -1)
	}
	if err := m.logManager.DeleteLog(tp); err != nil && !errors.Is(err, storage.ErrLogNotFound) {
		return fmt.Errorf("replication: delete %s: %w", tp, err)
	}
	return nil
}

// MarkOffline stops hosting tps, whose logs were in a log dir that failed
// (storage took the dir offline and closed them): each partition stops
// serving as Remove does, but its log is not deleted. Open refuses them
// from then on (storage.ErrLogDirOffline), and requests for them get
// KAFKA_STORAGE_ERROR (Offline), as Kafka's HostedPartition.Offline.
func (m *Manager) MarkOffline(tps []storage.TopicPartition) {
	for _, tp := range tps {
		m.Suspend(tp)
	}
}

// Suspend stops hosting tp as Remove does but keeps its log, which the
// caller may then close (a move to another log dir); Open hosts it again.
func (m *Manager) Suspend(tp storage.TopicPartition) {
	m.mu.Lock()
	p := m.partitions[tp]
	delete(m.partitions, tp)
	m.mu.Unlock()
	if p == nil {
		return
	}
	if m.fetchers != nil {
		m.fetchers.remove(tp)
	}
	if p.remove() {
		m.notify(p, false, -1)
	}
}

// Offline reports whether tp's replica is on a log dir that failed.
func (m *Manager) Offline(tp storage.TopicPartition) bool {
	if m.logManager == nil {
		return false
	}
	_, off := m.logManager.LogOffline(tp)
	return off
}

// MaybeIncrementHighWatermarks recomputes the high watermark of every
// partition this broker leads, completing the acks=all appends it now
// covers: the broker calls it when other brokers' liveness changed in the
// metadata (ISR eligibility of caught-up followers outside the ISR).
func (m *Manager) MaybeIncrementHighWatermarks() {
	for _, p := range m.Partitions() {
		p.maybeIncrementHighWatermark()
	}
}

// MaybeShrinkISRs runs MaybeShrinkISR on every partition (Start does it
// periodically; tests call it after moving a ManualClock).
func (m *Manager) MaybeShrinkISRs() {
	for _, p := range m.Partitions() {
		p.MaybeShrinkISR()
	}
}

// NowMs is the time on the clock follower progress is measured with, for
// ReadOptions.QuietFetchMs.
func (m *Manager) NowMs() int64 { return m.env.nowMs() }
