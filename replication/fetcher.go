package replication

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/storage"
)

// FetcherConfig is the replica fetcher's share of the broker config
// (Kafka's replica.fetch.* and num.replica.fetchers). Zero values take
// Kafka's defaults.
type FetcherConfig struct {
	// NumFetchers is num.replica.fetchers (1): fetcher goroutines per
	// source broker; a partition goes to one of them by hash.
	NumFetchers int
	// MaxBytes is replica.fetch.max.bytes (1 MiB): per partition; the
	// first batch is sent whole even if larger.
	MaxBytes int
	// MinBytes is replica.fetch.min.bytes (1) and MaxWait
	// replica.fetch.wait.max.ms (500ms): the leader holds a fetch until
	// MinBytes are there or MaxWait passed.
	MinBytes int
	MaxWait  time.Duration
	// ResponseMaxBytes is replica.fetch.response.max.bytes (10 MiB).
	ResponseMaxBytes int
	// Backoff is replica.fetch.backoff.ms (1s): the pause of a partition
	// (or of every partition, when the request failed) after an error.
	Backoff time.Duration
}

func (c FetcherConfig) withDefaults() FetcherConfig {
	if c.NumFetchers <= 0 {
		c.NumFetchers = 1
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 1 << 20
	}
	if c.MinBytes <= 0 {
		c.MinBytes = 1
	}
	if c.MaxWait < 0 {
		c.MaxWait = 0
	} else if c.MaxWait == 0 {
		c.MaxWait = 500 * time.Millisecond
	}
	if c.ResponseMaxBytes <= 0 {
		c.ResponseMaxBytes = 10 << 20
	}
	if c.Backoff <= 0 {
		c.Backoff = time.Second
	}
	return c
}

// EndpointFactory returns the LeaderEndpoint through which this broker
// reaches broker id (a TCP client to its inter-broker listener, or
// InmemNetwork.Endpoint in tests). Called once per fetcher goroutine.
type EndpointFactory func(id int32) LeaderEndpoint

// fetcherKey names one fetcher goroutine: its source broker and index.
type fetcherKey struct {
	leader int32
	index  int
}

// fetcherManager is Kafka's ReplicaFetcherManager: it assigns every
// partition this broker follows to one fetcher goroutine of its leader
// and stops fetchers left without partitions. Its methods are called by
// Manager.Apply and Remove (the metadata goroutine) and Close.
//
// Lock order: fetcherManager.mu, then a fetcher's mu; the fetcher
// goroutines take only their own mu (and partition locks, never while
// holding it).
type fetcherManager struct {
	env       *env
	cfg       FetcherConfig
	endpoints EndpointFactory

	mu       sync.Mutex
	closed   bool
	fetchers map[fetcherKey]*fetcher
	assigned map[storage.TopicPartition]fetcherKey
}

func newFetcherManager(e *env, cfg FetcherConfig, endpoints EndpointFactory) *fetcherManager {
	return &fetcherManager{
		env: e, cfg: cfg.withDefaults(), endpoints: endpoints,
		fetchers: map[fetcherKey]*fetcher{}, assigned: map[storage.TopicPartition]fetcherKey{},
	}
}

// fetcherIndex spreads partitions over a leader's fetchers (Kafka's
// getFetcherId: a hash of topic and partition).
func fetcherIndex(tp storage.TopicPartition, n int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(tp.Topic))
	return int((31*h.Sum32() + uint32(tp.Partition)) % uint32(n))
}

// add makes the fetcher of leader fetch p under leaderEpoch. A partition
// already fetched under that epoch keeps its state (metadata images
// repeat); a new epoch or leader starts over: truncation first.
func (fm *fetcherManager) add(p *Partition, leader, leaderEpoch int32) {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	if fm.closed {
		return
	}
	tp := p.tp
	key := fetcherKey{leader: leader, index: fetcherIndex(tp, fm.cfg.NumFetchers)}
	if old, ok := fm.assigned[tp]; ok && old != key {
		fm.removeLocked(tp)
	}
	f := fm.fetchers[key]
	if f == nil {
		f = newFetcher(fm, key)
		fm.fetchers[key] = f
		f.start()
	}
	fm.assigned[tp] = key
	f.addPartition(p, leaderEpoch)
}

// remove stops fetching tp (this broker leads it now, it has no leader,
// or it is no longer hosted here).
func (fm *fetcherManager) remove(tp storage.TopicPartition) {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	fm.removeLocked(tp)
}

func (fm *fetcherManager) removeLocked(tp storage.TopicPartition) {
	key, ok := fm.assigned[tp]
	if !ok {
		return
	}
	delete(fm.assigned, tp)
	f := fm.fetchers[key]
	if f == nil {
		return
	}
	if f.removePartition(tp) == 0 {
		// Kafka's shutdownIdleFetcherThreads.
		delete(fm.fetchers, key)
		f.cancel()
	}
}

// close stops every fetcher; Manager.Close waits for their goroutines.
func (fm *fetcherManager) close() {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	fm.closed = true
	for key, f := range fm.fetchers {
		f.cancel()
		delete(fm.fetchers, key)
	}
	clear(fm.assigned)
}

// following reports the leader and epoch tp is fetched under, for tests.
func (fm *fetcherManager) following(tp storage.TopicPartition) (leader int32, ok bool) {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	key, ok := fm.assigned[tp]
	return key.leader, ok
}

// fetchState is one partition in a fetcher (Kafka's PartitionFetchState).
// p and leaderEpoch never change: a new epoch gets a new fetchState. The
// other fields belong to the fetcher goroutine.
type fetchState struct {
	p           *Partition
	leaderEpoch int32

	fetchOffset      int64
	lastFetchedEpoch int32
	// truncating: the log must first be truncated by leader epoch
	// (OffsetForLeaderEpoch), as when the partition starts following.
	truncating bool
	// fenced: the leader has a newer leader epoch than this state; wait
	// for the metadata to restart the partition.
	fenced       bool
	delayedUntil time.Time
	// lastErr is the last error logged for the partition, so a leader
	// that stays unreachable is not logged every backoff.
	lastErr string
	// pos is the state's index in fetcher.order (fetcher.mu).
	pos int
}

func (st *fetchState) ready(now time.Time) bool {
	return !st.fenced && !now.Before(st.delayedUntil)
}

// fetcher is one replica fetcher goroutine (Kafka's ReplicaFetcherThread)
// for the partitions it was given that one leader leads: truncate those
// that need it, then fetch from every ready partition in one request,
// append, repeat.
type fetcher struct {
	fm     *fetcherManager
	key    fetcherKey
	logger *zap.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{}

	mu    sync.Mutex
	parts map[storage.TopicPartition]*fetchState
	// order holds parts in a stable order (a removal moves the last one
	// into its place), so consecutive requests list the partitions alike;
	// gen counts changes of parts.
	order []*fetchState
	gen   uint64

	// lastErr is the last request-level error logged (fetcher goroutine
	// only), so an unreachable leader is logged once, not per partition
	// per backoff.
	lastErr string

	// The request of the last round, which the next round reuses while
	// no partition was added, removed, delayed, fenced or sent to
	// truncation: only the entries the answer changed are updated (and a
	// slice of log start offsets, round-robin), so a round with many idle
	// partitions costs in proportion to what changed. Fetcher goroutine
	// only.
	reqGen    uint64
	reqStates []*fetchState
	reqParts  []FetchPartition
	// rebuild: a partition left the set of those fetched (or the last
	// request was not the whole set); nextDue: when the first delayed
	// partition is due back; refresh: the log start offset cursor.
	rebuild   bool
	nextDue   time.Time
	refresh   int
	refreshAt time.Time
	// pending are the cached entries settle updated since the last
	// request.
	pending []int
}

// The cached request's log start offsets are refreshed a tenth at a time,
// every logStartRefreshEvery, so each is at most a second old: the
// follower's own retention moves its log start without the fetcher
// noticing, and the leader uses it only for DeleteRecords' low watermark,
// which a leader's log start move brings forward anyway (the answer
// carries it and the append moves the follower's).
const (
	logStartRefreshEvery  = 100 * time.Millisecond
	logStartRefreshSlices = 10
)

func newFetcher(fm *fetcherManager, key fetcherKey) *fetcher {
	ctx, cancel := context.WithCancel(fm.env.ctx)
	return &fetcher{
		fm: fm, key: key, ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1),
		logger: fm.env.logger.With(zap.Int32("leader", key.leader), zap.Int("fetcher", key.index)),
		parts:  map[storage.TopicPartition]*fetchState{},
	}
}

func (f *fetcher) start() {
	f.fm.env.goFunc(func(context.Context) { f.run(f.ctx) })
}

func (f *fetcher) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *fetcher) addPartition(p *Partition, leaderEpoch int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.parts[p.tp]
	if old != nil && old.p == p && old.leaderEpoch == leaderEpoch {
		return
	}
	st := &fetchState{
		p: p, leaderEpoch: leaderEpoch,
		fetchOffset: p.log.LogEndOffset(), lastFetchedEpoch: p.log.LeaderEpochCache().LatestEpoch(),
		truncating: true,
	}
	if old != nil {
		st.pos = old.pos
		f.order[st.pos] = st
	} else {
		st.pos = len(f.order)
		f.order = append(f.order, st)
	}
	f.parts[p.tp] = st
	f.gen++
	f.signal()
}

// removePartition drops tp and returns how many partitions are left.
func (f *fetcher) removePartition(tp storage.TopicPartition) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st := f.parts[tp]; st != nil {
		last := len(f.order) - 1
		f.order[st.pos] = f.order[last]
		f.order[st.pos].pos = st.pos
		f.order[last] = nil
		f.order = f.order[:last]
		delete(f.parts, tp)
		f.gen++
	}
	return len(f.parts)
}

// current reports whether st is still tp's state in this fetcher.
func (f *fetcher) current(st *fetchState) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.parts[st.p.tp] == st
}

// snapshot returns the partitions in their stable order and the
// generation of the set.
func (f *fetcher) snapshot() ([]*fetchState, uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.order), f.gen
}

// generation is the generation of the set of partitions.
func (f *fetcher) generation() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gen
}

func (f *fetcher) run(ctx context.Context) {
	ep := f.fm.endpoints(f.key.leader)
	if c, ok := ep.(io.Closer); ok {
		defer c.Close()
	}
	f.logger.Debug("replica fetcher started")
	defer f.logger.Debug("replica fetcher stopped")
	f.rebuild = true
	for ctx.Err() == nil {
		now := time.Now()
		if !f.rebuild && f.generation() == f.reqGen && (f.nextDue.IsZero() || now.Before(f.nextDue)) {
			f.fetch(ctx, ep, nil)
			continue
		}
		states, gen := f.snapshot()
		var truncating, fetching []*fetchState
		next := time.Time{}
		for _, st := range states {
			switch {
			case st.fenced:
			case !st.ready(now):
				if next.IsZero() || st.delayedUntil.Before(next) {
					next = st.delayedUntil
				}
			case st.truncating:
				truncating = append(truncating, st)
			default:
				fetching = append(fetching, st)
			}
		}
		if len(truncating) > 0 {
			f.truncateByEpoch(ctx, ep, truncating)
			continue
		}
		if len(fetching) == 0 {
			f.idle(ctx, next)
			continue
		}
		f.rebuild, f.reqGen, f.nextDue = false, gen, next
		f.fetch(ctx, ep, fetching)
	}
}

// idle waits for a partition to be added, the first delayed one to be
// due, or the end.
func (f *fetcher) idle(ctx context.Context, next time.Time) {
	var timer <-chan time.Time
	if !next.IsZero() {
		t := time.NewTimer(time.Until(next))
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-ctx.Done():
	case <-f.wake:
	case <-timer:
	}
}

// requestFailed backs every partition of a failed request off, logging
// the failure once per distinct error.
func (f *fetcher) requestFailed(states []*fetchState, what string, err error) {
	if msg := err.Error(); msg != f.lastErr {
		f.lastErr = msg
		f.logger.Info("replica fetcher request failed; backing off", zap.String("request", what), zap.Int("partitions", len(states)),
			zap.Duration("backoff", f.fm.cfg.Backoff), zap.Error(err))
	}
	for _, st := range states {
		f.delay(st, nil)
	}
}

// metadataLagBackoff is how long a partition waits when its leader has
// not applied the leadership change yet (UNKNOWN_LEADER_EPOCH, or
// NOT_LEADER_OR_FOLLOWER from the broker the metadata names): that lasts
// milliseconds, and acks=all producers wait for this follower, so the
// full replica.fetch.backoff.ms would stall them for a second after every
// leadership change (Kafka waits the full backoff).
const metadataLagBackoff = 50 * time.Millisecond

func (f *fetcher) delay(st *fetchState, err error) {
	d := f.fm.cfg.Backoff
	if errors.Is(err, ErrUnknownLeaderEpoch) || errors.Is(err, ErrNotLeader) {
		d = min(d, metadataLagBackoff)
	}
	st.delayedUntil = time.Now().Add(d)
	if err == nil {
		return
	}
	if msg := err.Error(); msg != st.lastErr {
		st.lastErr = msg
		// A leader that has not applied the metadata yet answers these
		// for a moment after every leadership change.
		level := zap.InfoLevel
		if errors.Is(err, ErrUnknownTopicOrPartition) || errors.Is(err, ErrUnknownLeaderEpoch) || errors.Is(err, ErrNotLeader) {
			level = zap.DebugLevel
		}
		f.logger.Log(level, "replica fetch failed; backing off", zap.String("partition", st.p.tp.String()),
			zap.Int32("leader_epoch", st.leaderEpoch), zap.Duration("backoff", f.fm.cfg.Backoff), zap.Error(err))
	}
}

// fence stops fetching st until new metadata restarts the partition: the
// leader is on a newer leader epoch than this broker knows (Kafka's
// onPartitionFenced).
func (f *fetcher) fence(st *fetchState, err error) {
	st.fenced = true
	f.logger.Info("leader has a newer leader epoch; waiting for metadata", zap.String("partition", st.p.tp.String()),
		zap.Int32("leader_epoch", st.leaderEpoch), zap.Error(err))
}

// handleError files a partition error of a fetch, OffsetForLeaderEpoch
// or ListOffsets answer.
func (f *fetcher) handleError(st *fetchState, err error) {
	switch {
	case errors.Is(err, ErrFencedLeaderEpoch):
		f.fence(st, err)
	case errors.Is(err, ErrNotFollower):
		// This broker's own state moved on; the metadata goroutine is
		// about to replace or remove st.
		st.fenced = true
	default:
		// UNKNOWN_LEADER_EPOCH (the leader has not seen the metadata
		// yet), NOT_LEADER_OR_FOLLOWER, unknown partition, storage
		// errors, an unreachable leader: try again after the backoff.
		f.delay(st, err)
	}
}

// truncateByEpoch asks the leader where this follower's latest epoch ends
// (OffsetForLeaderEpoch, KIP-101/279) and truncates there; a partition
// whose log has no epoch at all has nothing to truncate and starts
// fetching from its log end (it is never truncated to the high watermark).
func (f *fetcher) truncateByEpoch(ctx context.Context, ep LeaderEndpoint, states []*fetchState) {
	req := &OffsetForLeaderEpochRequest{ReplicaID: f.fm.env.nodeID}
	var asked []*fetchState
	for _, st := range states {
		latest := st.p.log.LeaderEpochCache().LatestEpoch()
		if latest < 0 {
			st.truncating = false
			st.fetchOffset, st.lastFetchedEpoch = st.p.log.LogEndOffset(), -1
			continue
		}
		asked = append(asked, st)
		req.Partitions = append(req.Partitions, OffsetForLeaderEpochPartition{
			TopicPartition: st.p.tp, CurrentLeaderEpoch: st.leaderEpoch, LeaderEpoch: latest,
		})
	}
	if len(asked) == 0 {
		return
	}
	resp, err := ep.OffsetForLeaderEpoch(ctx, req)
	if err != nil {
		if ctx.Err() == nil {
			f.requestFailed(asked, "OffsetForLeaderEpoch", err)
		}
		return
	}
	f.lastErr = ""
	for i, st := range asked {
		if i >= len(resp.Partitions) || !f.current(st) {
			continue
		}
		pr := resp.Partitions[i]
		if pr.Err != nil {
			f.handleError(st, pr.Err)
			continue
		}
		if pr.EndOffset < 0 {
			// The leader has no epoch at or below ours: compare log
			// ends instead (Kafka's out-of-range handling).
			f.resetOutOfRange(ctx, ep, st)
			continue
		}
		f.truncateTo(st, pr.EpochEndOffset, true)
	}
}

// truncateTo truncates st's log as the leader's epoch end offset e says
// and sets where to fetch next. After an OffsetForLeaderEpoch answer
// (byRequest) an incomplete truncation (KIP-279) asks again; after a
// fetch's diverging epoch the next fetch says whether more is needed, as
// in Kafka.
func (f *fetcher) truncateTo(st *fetchState, e EpochEndOffset, byRequest bool) {
	l := st.p.log
	ownEpoch, ownEnd := l.EndOffsetForEpoch(e.Epoch)
	offset, complete := truncationPoint(e.Epoch, e.EndOffset, ownEpoch, ownEnd, l.LogEndOffset())
	if err := st.p.TruncateAsFollower(st.leaderEpoch, offset); err != nil {
		f.handleError(st, err)
		return
	}
	st.fetchOffset = l.LogEndOffset()
	st.lastFetchedEpoch = l.LeaderEpochCache().LatestEpoch()
	st.truncating = byRequest && !complete
	st.lastErr = ""
}

// resetOutOfRange is Kafka's fetchOffsetAndTruncate after
// OFFSET_OUT_OF_RANGE: if the leader's log ends before this follower's
// (an unclean leader change), truncate to its end; if the leader's log
// starts after this follower's end (retention or DeleteRecords), restart
// the log there; otherwise fetch on from the log end.
func (f *fetcher) resetOutOfRange(ctx context.Context, ep LeaderEndpoint, st *fetchState) {
	list := func(ts int64) (int64, error) {
		resp, err := ep.ListOffsets(ctx, &ListOffsetsRequest{ReplicaID: f.fm.env.nodeID, Partitions: []ListOffsetsPartition{
			{TopicPartition: st.p.tp, CurrentLeaderEpoch: st.leaderEpoch, Timestamp: ts},
		}})
		if err != nil {
			return -1, err
		}
		if len(resp.Partitions) != 1 {
			return -1, ErrInvalidRequest
		}
		return resp.Partitions[0].Offset, resp.Partitions[0].Err
	}
	leaderEnd, err := list(LatestTimestamp)
	if err != nil {
		if ctx.Err() == nil {
			f.handleError(st, err)
		}
		return
	}
	if !f.current(st) {
		return
	}
	l := st.p.log
	leo := l.LogEndOffset()
	if leaderEnd < leo {
		f.logger.Warn("leader's log ends before this follower's; truncating to it", zap.String("partition", st.p.tp.String()),
			zap.Int64("leader_log_end_offset", leaderEnd), zap.Int64("log_end_offset", leo))
		if err := st.p.TruncateAsFollower(st.leaderEpoch, leaderEnd); err != nil {
			f.handleError(st, err)
			return
		}
	} else {
		leaderStart, err := list(EarliestTimestamp)
		if err != nil {
			if ctx.Err() == nil {
				f.handleError(st, err)
			}
			return
		}
		if !f.current(st) {
			return
		}
		if leaderStart > leo {
			if err := st.p.TruncateFullyAsFollower(st.leaderEpoch, leaderStart); err != nil {
				f.handleError(st, err)
				return
			}
		}
	}
	st.truncating = false
	st.fetchOffset = l.LogEndOffset()
	st.lastFetchedEpoch = l.LeaderEpochCache().LatestEpoch()
	st.lastErr = ""
}

// fetch sends one Fetch and applies the answer: for states, a request of
// exactly them (rebuilt); for nil, the last round's request with the
// entries the last answer changed brought up to date. While the follower
// replication quota is exceeded, throttled partitions (replicas outside
// the ISR listed in follower.replication.throttled.replicas) are left out
// of a one-off request; with nothing left the fetcher waits a backoff, as
// Kafka's does with an empty fetch.
func (f *fetcher) fetch(ctx context.Context, ep LeaderEndpoint, states []*fetchState) {
	cfg := f.fm.cfg
	var changed []int
	if states != nil {
		f.pending = f.pending[:0]
		f.reqStates = states
		f.reqParts = make([]FetchPartition, len(states))
		for i, st := range states {
			f.reqParts[i] = f.requestEntry(st)
		}
	} else {
		changed = f.refreshLogStarts()
	}
	states, parts := f.reqStates, f.reqParts
	if quota := f.fm.env.followerThrottle; quota != nil && quota.Exceeded() {
		var keptStates []*fetchState
		var keptParts []FetchPartition
		for i, st := range states {
			if !st.p.followerThrottled() {
				keptStates = append(keptStates, st)
				keptParts = append(keptParts, parts[i])
			}
		}
		f.rebuild = true // the next request is the whole set again
		if len(keptStates) == 0 {
			f.idle(ctx, time.Now().Add(cfg.Backoff))
			return
		}
		states, parts, changed = keptStates, keptParts, nil
	}
	req := &FetchRequest{
		ReplicaID: f.fm.env.nodeID, BrokerEpoch: f.fm.env.selfEpoch(),
		MaxWait: cfg.MaxWait, MinBytes: cfg.MinBytes, MaxBytes: cfg.ResponseMaxBytes,
		Partitions: parts, Changed: changed, Sparse: true,
	}
	resp, err := ep.Fetch(ctx, req)
	if err != nil {
		if ctx.Err() == nil {
			f.requestFailed(states, "Fetch", err)
			f.rebuild = true
		}
		return
	}
	f.lastErr = ""
	for k := range resp.Partitions {
		if ctx.Err() != nil {
			return
		}
		pr := &resp.Partitions[k]
		i := k
		if resp.Sparse {
			i = pr.Index
		}
		if pr.Unchanged || i < 0 || i >= len(states) {
			continue
		}
		st := states[i]
		// A partition removed or restarted meanwhile ignores the answer
		// (and its epoch check would refuse the append anyway).
		if !f.current(st) || st.fetchOffset != parts[i].FetchOffset {
			continue
		}
		if len(pr.Records) > 0 && f.fm.env.followerThrottle != nil && st.p.followerThrottled() {
			f.fm.env.followerThrottle.Record(len(pr.Records))
		}
		f.apply(ctx, ep, st, pr)
		f.settle(st, i)
	}
}

// requestEntry is st's entry in a Fetch.
func (f *fetcher) requestEntry(st *fetchState) FetchPartition {
	return FetchPartition{
		TopicPartition: st.p.tp, TopicID: st.p.topicID, FetchOffset: st.fetchOffset,
		LogStartOffset: st.p.log.LogStartOffset(), CurrentLeaderEpoch: st.leaderEpoch,
		LastFetchedEpoch: st.lastFetchedEpoch, MaxBytes: f.fm.cfg.MaxBytes,
	}
}

// settle brings the cached request entry of st (index i of the cached
// request, if it is that one) up to date after its answer was applied,
// or has the next round rebuild the request when st is no longer fetched
// (delayed, fenced, truncating).
func (f *fetcher) settle(st *fetchState, i int) {
	if i >= len(f.reqStates) || f.reqStates[i] != st {
		return
	}
	if st.fenced || st.truncating || !st.delayedUntil.IsZero() && time.Now().Before(st.delayedUntil) {
		f.rebuild = true
		return
	}
	f.reqParts[i] = f.requestEntry(st)
	f.pending = append(f.pending, i)
}

// refreshLogStarts returns the entries of the cached request changed since
// it was last sent: those settle updated and, every logStartRefreshEvery,
// those of the next slice of entries whose log start offset moved.
func (f *fetcher) refreshLogStarts() []int {
	changed := append([]int{}, f.pending...)
	f.pending = f.pending[:0]
	now := time.Now()
	if now.Before(f.refreshAt) {
		return changed
	}
	f.refreshAt = now.Add(logStartRefreshEvery)
	n := len(f.reqParts)
	for range min(n, (n+logStartRefreshSlices-1)/logStartRefreshSlices) {
		if f.refresh >= n {
			f.refresh = 0
		}
		i := f.refresh
		f.refresh++
		if start := f.reqStates[i].p.log.LogStartOffset(); start != f.reqParts[i].LogStartOffset {
			f.reqParts[i].LogStartOffset = start
			changed = append(changed, i)
		}
	}
	return changed
}

// apply is one partition of a fetch answer (Kafka's processFetchRequest
// and processPartitionData).
func (f *fetcher) apply(ctx context.Context, ep LeaderEndpoint, st *fetchState, pr *FetchPartitionResponse) {
	switch {
	case pr.Unchanged:
		return
	case errors.Is(pr.Err, storage.ErrOffsetOutOfRange):
		f.resetOutOfRange(ctx, ep, st)
		return
	case pr.Err != nil:
		f.handleError(st, pr.Err)
		return
	case pr.DivergingEpoch != nil:
		f.truncateTo(st, *pr.DivergingEpoch, false)
		return
	}
	info, err := st.p.AppendAsFollower(FollowerData{
		LeaderEpoch: st.leaderEpoch, Records: pr.Records, HighWatermark: pr.HighWatermark, LogStartOffset: pr.LogStartOffset,
	})
	if err != nil {
		f.handleError(st, err)
		return
	}
	if info.Appended == 0 && len(pr.Records) > 0 {
		// Nothing usable (a partial batch only, or batches of an epoch
		// this broker has not learned of yet): do not spin on it.
		f.delay(st, fmt.Errorf("%s: leader sent %d bytes but no batch this follower may append", st.p.tp, len(pr.Records)))
		return
	}
	st.lastErr = ""
	if info.Appended > 0 {
		st.fetchOffset = info.LogEndOffset
		st.lastFetchedEpoch = info.LatestEpoch
	}
}
