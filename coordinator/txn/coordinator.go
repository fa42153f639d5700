package txn

import (
	"context"
	"math"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/coordinator/group"
	"github.com/spool-broker/spool/protocol/errcode"
)

// Log persists TransactionLogKey/Value records in __transaction_state.
type Log interface {
	// Append writes one record to the partition and returns once it is
	// committed.
	Append(ctx context.Context, partition int32, key, value []byte) error
	// Replay calls fn for every record of the partition, oldest first.
	Replay(ctx context.Context, partition int32, fn func(key, value []byte) error) error
}

// Markers writes COMMIT or ABORT control batches to a transaction's
// partitions (Kafka's TransactionMarkerChannelManager): it returns once
// every marker is written (a partition whose topic is gone needs none), or
// with an error when ctx ends or the partition leaders fenced the
// markers. The Coordinator never holds its lock while calling it.
type Markers interface {
	WriteMarkers(ctx context.Context, producerID int64, epoch int16, commit bool, coordinatorEpoch int32, parts []TopicPartition) error
}

// Config is the coordinator's share of the broker config.
type Config struct {
	NumPartitions int32         // transaction.state.log.num.partitions
	MaxTimeout    time.Duration // transaction.max.timeout.ms
	// AbortCheckInterval is
	// transaction.abort.timed.out.transaction.cleanup.interval.ms.
	AbortCheckInterval time.Duration
	// IDExpiration is transactional.id.expiration.ms: an id whose
	// transaction has been finished (or never begun) that long is removed.
	IDExpiration time.Duration
	// RemoveExpiredInterval is
	// transaction.remove.expired.transaction.cleanup.interval.ms.
	RemoveExpiredInterval time.Duration
	// NextProducerID hands out a new producer id.
	NextProducerID func(ctx context.Context) (int64, error)
	// TransactionVersion is the finalized transaction.version feature
	// level; from 2 on, TransactionLogValue is written at version 1, as
	// Kafka does. nil means 0.
	TransactionVersion func() int16
}

// Coordinator is Kafka's TransactionCoordinator for the __transaction_state
// partitions this broker leads.
//
// Concurrency: mu guards parts, txns, writing and completing. It is held
// for a whole operation except while a state record waits to be committed
// (writeLocked releases it; operations on the same id wait for writing[id]
// to end, so they apply in turn) and
// while markers are written (a completion goroutine per transaction,
// completing[id], with the transaction in PrepareCommit/PrepareAbort).
type Coordinator struct {
	cfg     Config
	log     Log
	markers Markers
	logger  *zap.Logger
	now     func() time.Time

	mu    sync.Mutex
	parts map[int32]*partitionState
	txns  map[string]*Metadata
	// writing holds the ids whose state record is being appended; the
	// channel is closed when the append is done.
	writing map[string]chan struct{}
	// completing holds the ids whose markers are being written; the
	// channel is closed when the completion ends (done or given up).
	completing map[string]chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type partitionState struct {
	epoch   int32 // coordinator epoch: the partition's leader epoch
	loading bool
	// ctx ends when the partition is unloaded or reloaded: the
	// completions started for its transactions stop.
	ctx    context.Context
	cancel context.CancelFunc
}

// completionWait bounds how long EndTxn and InitProducerId wait for a
// transaction's markers before answering; the completion goes on in the
// background (Kafka answers EndTxn without waiting at all).
const completionWait = 10 * time.Second

// stateWriteTimeout bounds the commit of a state record written by a
// background completion (Kafka: the coordinator's append timeout).
const stateWriteTimeout = 30 * time.Second

// New starts a coordinator; Close stops it.
func New(cfg Config, log Log, markers Markers, logger *zap.Logger) *Coordinator {
	if cfg.AbortCheckInterval <= 0 {
		cfg.AbortCheckInterval = 10 * time.Second
	}
	if cfg.IDExpiration <= 0 {
		cfg.IDExpiration = 7 * 24 * time.Hour
	}
	if cfg.RemoveExpiredInterval <= 0 {
		cfg.RemoveExpiredInterval = time.Hour
	}
	c := &Coordinator{
		cfg: cfg, log: log, markers: markers, logger: logger, now: time.Now,
		parts: map[int32]*partitionState{}, txns: map[string]*Metadata{},
		writing: map[string]chan struct{}{}, completing: map[string]chan struct{}{},
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.wg.Add(1)
	go c.run()
	return c
}

// Close stops the background work and waits for it.
func (c *Coordinator) Close() {
	c.cancel()
	c.wg.Wait()
}

// PartitionFor is the __transaction_state partition of a transactional id:
// Utils.abs(id.hashCode()) % numPartitions, as for groups.
func (c *Coordinator) PartitionFor(transactionalID string) int32 {
	return group.PartitionFor(transactionalID, c.cfg.NumPartitions)
}

// run aborts timed-out transactions, retries unfinished completions and
// removes expired transactional ids.
func (c *Coordinator) run() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.AbortCheckInterval)
	defer t.Stop()
	expire := time.NewTicker(c.cfg.RemoveExpiredInterval)
	defer expire.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
			c.abortTimedOut(c.ctx)
		case <-expire.C:
			c.removeExpired(c.ctx)
		}
	}
}

// removeExpired forgets transactional ids idle for IDExpiration whose last
// transaction is finished (Empty, CompleteCommit, CompleteAbort), writing a
// tombstone for each so a reload forgets them too (Kafka's
// removeExpiredTransactionalIds). The next InitProducerId for such an id
// starts afresh with a new producer id.
func (c *Coordinator) removeExpired(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cutoff := c.now().Add(-c.cfg.IDExpiration).UnixMilli()
	ids := make([]string, 0, len(c.txns))
	for id := range c.txns {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		m := c.txns[id]
		if _, _, code := c.checkLocked(id); code != 0 || m == nil || c.busyLocked(id) {
			continue
		}
		if m.State != Empty && m.State != CompleteCommit && m.State != CompleteAbort || m.UpdateMs > cutoff {
			continue
		}
		if code := c.appendLocked(ctx, id, nil); code != 0 {
			c.logger.Warn("cannot remove expired transactional id", zap.String("transactional_id", id), zap.Int16("error_code", code))
			continue
		}
		if c.txns[id] != m {
			continue // changed while the tombstone was written (unloaded)
		}
		delete(c.txns, id)
		c.logger.Info("transactional id expired", zap.String("transactional_id", id), zap.Int64("producer_id", m.ProducerID))
	}
}

// Load reads a __transaction_state partition this broker now leads, then
// completes the transactions it finds half-way through commit or abort.
func (c *Coordinator) Load(partition, epoch int32) {
	c.mu.Lock()
	if old := c.parts[partition]; old != nil {
		old.cancel()
	}
	st := &partitionState{epoch: epoch, loading: true}
	st.ctx, st.cancel = context.WithCancel(c.ctx)
	c.parts[partition] = st
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		loaded := map[string]*Metadata{}
		err := c.log.Replay(c.ctx, partition, func(key, value []byte) error {
			id, err := DecodeKey(key)
			if err != nil {
				return err
			}
			if value == nil {
				delete(loaded, id)
				return nil
			}
			m, err := DecodeValue(id, value)
			if err != nil {
				return err
			}
			if prev := loaded[id]; prev != nil && prev.ProducerID == m.ProducerID {
				m.LastProducerEpoch = prev.ProducerEpoch
			}
			loaded[id] = m
			return nil
		})
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.parts[partition] != st {
			return // unloaded or reloaded meanwhile
		}
		if err != nil {
			c.logger.Error("cannot load __transaction_state partition", zap.Int32("partition", partition), zap.Error(err))
			st.cancel()
			delete(c.parts, partition)
			return
		}
		for id, m := range loaded {
			if m.State == Dead {
				continue
			}
			c.txns[id] = m
		}
		st.loading = false
		c.logger.Info("transaction state loaded", zap.Int32("partition", partition), zap.Int("transactions", len(loaded)))
		for id, m := range loaded {
			if m.State == PrepareCommit || m.State == PrepareAbort {
				c.startCompletionLocked(c.txns[id])
			}
		}
	}()
}

// Unload forgets a partition this broker no longer leads.
func (c *Coordinator) Unload(partition int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.parts[partition]; st != nil {
		st.cancel() // stops the partition's completions
	}
	delete(c.parts, partition)
	for id := range c.txns {
		if c.PartitionFor(id) == partition {
			delete(c.txns, id)
		}
	}
}

// checkLocked answers whether this broker coordinates id now.
func (c *Coordinator) checkLocked(id string) (int32, *partitionState, int16) {
	p := c.PartitionFor(id)
	st := c.parts[p]
	switch {
	case st == nil:
		return p, nil, errcode.NotCoordinator
	case st.loading:
		return p, nil, errcode.CoordinatorLoadInProgress
	}
	return p, st, 0
}

// busyLocked reports whether id's state is being written or its markers
// are.
func (c *Coordinator) busyLocked(id string) bool {
	_, writing := c.writing[id]
	_, completing := c.completing[id]
	return writing || completing
}

// waitWriteLocked waits, releasing mu meanwhile, until no state record of
// id is being appended, so operations on one transaction apply in turn (as
// the lock held across the append made them). false: ctx ended first.
func (c *Coordinator) waitWriteLocked(ctx context.Context, id string) bool {
	for {
		ch, ok := c.writing[id]
		if !ok {
			return true
		}
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
		}
		c.mu.Lock()
		if ctx.Err() != nil {
			return false
		}
	}
}

// writeLocked persists m as id's new state and installs it. It releases
// mu while the record waits to be committed (writing[id] marks it, and
// other operations on id wait for it: waitWriteLocked); the caller must
// not rely on other transactions' state across the call.
func (c *Coordinator) writeLocked(ctx context.Context, m *Metadata) int16 {
	version := int16(0)
	if c.cfg.TransactionVersion != nil && c.cfg.TransactionVersion() >= 2 {
		version = 1
	}
	if code := c.appendLocked(ctx, m.TransactionalID, EncodeValue(m, version)); code != 0 {
		return code
	}
	c.txns[m.TransactionalID] = m
	return 0
}

// appendLocked appends id's record (value nil: a tombstone) without
// holding mu while it waits to be committed, and answers NOT_COORDINATOR
// when the append fails or the partition was unloaded or reloaded
// meanwhile (the new leader's state, loaded from the log, decides).
func (c *Coordinator) appendLocked(ctx context.Context, id string, value []byte) int16 {
	p := c.PartitionFor(id)
	st := c.parts[p]
	if st == nil {
		return errcode.NotCoordinator
	}
	done := make(chan struct{})
	c.writing[id] = done
	c.mu.Unlock()
	err := c.log.Append(ctx, p, EncodeKey(id), value)
	c.mu.Lock()
	delete(c.writing, id)
	close(done)
	if err != nil {
		c.logger.Warn("cannot write transaction state", zap.String("transactional_id", id), zap.Error(err))
		return errcode.NotCoordinator
	}
	if c.parts[p] != st {
		return errcode.NotCoordinator
	}
	return 0
}

// InitResult is InitProducerId's answer.
type InitResult struct {
	ErrorCode     int16
	ProducerID    int64
	ProducerEpoch int16
}

// InitProducerID serves InitProducerId for a transactional id. producerID
// and epoch are the producer's current ones (-1 when it has none, KIP-360).
//
// A transaction still open or being completed is ended first; until its
// markers are written the answer is CONCURRENT_TRANSACTIONS (the client
// retries), as Kafka's. InitProducerID waits up to completionWait for
// that completion and tries once more before answering so.
func (c *Coordinator) InitProducerID(ctx context.Context, id string, timeoutMs int32, producerID int64, epoch int16) InitResult {
	if timeoutMs <= 0 || time.Duration(timeoutMs)*time.Millisecond > c.cfg.MaxTimeout {
		return InitResult{ErrorCode: errcode.InvalidTransactionTimeout, ProducerID: -1, ProducerEpoch: -1}
	}
	for attempt := 0; ; attempt++ {
		c.mu.Lock()
		r, wait := c.initProducerIDLocked(ctx, id, timeoutMs, producerID, epoch)
		c.mu.Unlock()
		if wait == nil || attempt == 1 || !c.await(ctx, wait) {
			return r
		}
	}
}

// await waits for a completion, at most completionWait; false when it did
// not end in time.
func (c *Coordinator) await(ctx context.Context, done <-chan struct{}) bool {
	t := time.NewTimer(completionWait)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-ctx.Done():
	case <-t.C:
	}
	return false
}

// initProducerIDLocked is one attempt of InitProducerID; wait is the
// completion to wait for before another attempt (nil: answer now).
func (c *Coordinator) initProducerIDLocked(ctx context.Context, id string, timeoutMs int32, producerID int64, epoch int16) (_ InitResult, wait <-chan struct{}) {
	fail := func(code int16) InitResult { return InitResult{ErrorCode: code, ProducerID: -1, ProducerEpoch: -1} }
	if !c.waitWriteLocked(ctx, id) {
		return fail(errcode.ConcurrentTransactions), nil
	}
	if _, _, code := c.checkLocked(id); code != 0 {
		return fail(code), nil
	}
	cur := c.txns[id]
	if cur == nil {
		pid, err := c.cfg.NextProducerID(ctx)
		if err != nil {
			return fail(errcode.CoordinatorNotAvailable), nil
		}
		cur = &Metadata{TransactionalID: id, ProducerID: pid, PrevProducerID: -1, NextProducerID: -1, ProducerEpoch: -1,
			LastProducerEpoch: -1, TimeoutMs: timeoutMs, State: Empty, StartMs: -1}
	} else if producerID >= 0 {
		switch {
		case cur.ProducerID == producerID && cur.ProducerEpoch == epoch:
		case (cur.ProducerID == producerID || cur.PrevProducerID == producerID) && cur.LastProducerEpoch == epoch &&
			(cur.State == Empty || cur.State == CompleteCommit || cur.State == CompleteAbort):
			// A retry of an InitProducerId that already bumped the epoch.
			return InitResult{ProducerID: cur.ProducerID, ProducerEpoch: cur.ProducerEpoch}, nil
		case cur.ProducerID != producerID && cur.PrevProducerID != producerID:
			return fail(errcode.InvalidProducerIDMapping), nil
		default:
			return fail(errcode.ProducerFenced), nil
		}
	}
	switch cur.State {
	case PrepareCommit, PrepareAbort:
		// Markers not yet written; the client retries.
		return fail(errcode.ConcurrentTransactions), c.startCompletionLocked(cur)
	case Ongoing:
		// A new producer instance fences the old one: its transaction is
		// aborted under a bumped epoch, so late writes of the old one
		// fail; the client retries once the abort is complete.
		if r := c.endLocked(ctx, cur, false, true, cur.ClientTransactionVersion); r.ErrorCode != 0 {
			return fail(r.ErrorCode), nil
		}
		return fail(errcode.ConcurrentTransactions), c.completing[id]
	}
	next := cur.clone()
	bumpEpoch(next)
	if next.ProducerEpoch == math.MaxInt16 || cur.ProducerEpoch >= math.MaxInt16-1 {
		pid, err := c.cfg.NextProducerID(ctx)
		if err != nil {
			return fail(errcode.CoordinatorNotAvailable), nil
		}
		next.PrevProducerID, next.ProducerID, next.ProducerEpoch, next.LastProducerEpoch = cur.ProducerID, pid, 0, -1
	}
	next.TimeoutMs = timeoutMs
	next.State = Empty
	next.Partitions = nil
	next.StartMs = -1
	next.UpdateMs = c.now().UnixMilli()
	if code := c.writeLocked(ctx, next); code != 0 {
		return fail(code), nil
	}
	return InitResult{ProducerID: next.ProducerID, ProducerEpoch: next.ProducerEpoch}, nil
}

func bumpEpoch(m *Metadata) {
	m.LastProducerEpoch = m.ProducerEpoch
	m.ProducerEpoch++
}

// validateLocked checks a request's producer id and epoch against id's
// state, as AddPartitionsToTxn and EndTxn do.
func (c *Coordinator) validateLocked(id string, producerID int64, epoch int16) (*Metadata, int16) {
	if _, _, code := c.checkLocked(id); code != 0 {
		return nil, code
	}
	cur := c.txns[id]
	switch {
	case cur == nil || cur.ProducerID != producerID:
		return nil, errcode.InvalidProducerIDMapping
	case cur.ProducerEpoch != epoch:
		return nil, errcode.ProducerFenced
	}
	return cur, 0
}

// AddPartitions adds partitions to id's transaction, starting one if none
// is open. The result is one code for all the partitions. tv is the
// client's transaction version: 2 when the add is implied by a KIP-890
// part 2 produce or TxnOffsetCommit, 0 for AddPartitionsToTxn and
// AddOffsetsToTxn; it is recorded with the transaction and decides whether
// its EndTxn bumps the epoch.
func (c *Coordinator) AddPartitions(ctx context.Context, id string, producerID int64, epoch int16, parts []TopicPartition, tv int16) int16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.waitWriteLocked(ctx, id) {
		return errcode.ConcurrentTransactions
	}
	cur, code := c.validateLocked(id, producerID, epoch)
	if code != 0 {
		return code
	}
	switch cur.State {
	case PrepareCommit, PrepareAbort:
		return errcode.ConcurrentTransactions
	case Dead, PrepareEpochFence:
		return errcode.InvalidTxnState
	}
	if cur.State == Ongoing {
		all := true
		for _, tp := range parts {
			all = all && cur.hasPartition(tp)
		}
		if all {
			return 0
		}
	}
	next := cur.clone()
	now := c.now().UnixMilli()
	if cur.State != Ongoing {
		next.Partitions = nil
		next.StartMs = now
	}
	for _, tp := range parts {
		next.addPartition(tp)
	}
	next.State = Ongoing
	next.UpdateMs = now
	next.ClientTransactionVersion = tv
	return c.writeLocked(ctx, next)
}

// VerifyPartitions is AddPartitionsToTxn with VerifyOnly (KIP-890 part 1):
// which of parts are in id's open transaction (0) and which are not
// (TRANSACTION_ABORTABLE, which the produce path turns into
// INVALID_TXN_STATE for clients older than produce v11). A transaction
// being completed answers CONCURRENT_TRANSACTIONS for all of them.
func (c *Coordinator) VerifyPartitions(id string, producerID int64, epoch int16, parts []TopicPartition) ([]int16, int16) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur, code := c.validateLocked(id, producerID, epoch)
	if code != 0 {
		return nil, code
	}
	if cur.State == PrepareCommit || cur.State == PrepareAbort {
		return nil, errcode.ConcurrentTransactions
	}
	out := make([]int16, len(parts))
	for i, tp := range parts {
		if cur.State != Ongoing || !cur.hasPartition(tp) {
			out[i] = errcode.TransactionAbortable
		}
	}
	return out, 0
}

// EndResult is EndTxn's answer: with transaction version 2 the producer
// continues with the bumped epoch (or a new producer id) returned here.
type EndResult struct {
	ErrorCode     int16
	ProducerID    int64
	ProducerEpoch int16
}

// EndTxn commits or aborts id's transaction: PrepareCommit/Abort is
// written, the markers go to every partition, then CompleteCommit/Abort.
// tv is the client's transaction version (2 for EndTxn v5+), and it picks
// the rules, as in Kafka's TransactionCoordinator.endTransaction:
//
//   - tv < 2: the epoch must be the current one and is never bumped; Empty
//     accepts nothing, a Complete state only a retry of its own outcome.
//   - tv 2 (KIP-890 part 2): every commit and abort bumps the epoch (a new
//     producer id once it is exhausted), the markers carry the bumped epoch
//     so a late write of the finished transaction is fenced, and a retry is
//     recognised by its epoch being one below the current one. An abort at
//     the current epoch is accepted in Empty, CompleteCommit and
//     CompleteAbort too: a transaction that never reached the coordinator
//     (its records were still in the client's buffer, or the produce that
//     would have added the partition failed) is aborted with no partitions,
//     and the producer goes on with the bumped epoch. The client cannot tell
//     whether its partitions were added, so it always sends the abort.
//
// Kafka's table for the states without an open transaction at tv 2
// (EB: epoch bump; retry: epoch one below the current one):
//
//	                 abort retry  abort current  commit retry  commit current
//	Empty            FENCED       EB             FENCED        INVALID_TXN_STATE
//	CompleteAbort    NONE         EB             INVALID       INVALID_TXN_STATE
//	CompleteCommit   INVALID      EB             NONE          INVALID_TXN_STATE
//
// The answer comes once the Prepare state is committed and the markers are
// written, or after completionWait with the markers still being written
// in the background (Kafka answers once the Prepare state is committed).
func (c *Coordinator) EndTxn(ctx context.Context, id string, producerID int64, epoch int16, commit bool, tv int16) EndResult {
	c.mu.Lock()
	r := c.endTxnLocked(ctx, id, producerID, epoch, commit, tv)
	wait := c.completing[id]
	c.mu.Unlock()
	if r.ErrorCode == 0 && wait != nil {
		c.await(ctx, wait)
	}
	return r
}

func (c *Coordinator) endTxnLocked(ctx context.Context, id string, producerID int64, epoch int16, commit bool, tv int16) EndResult {
	fail := func(code int16) EndResult { return EndResult{ErrorCode: code, ProducerID: -1, ProducerEpoch: -1} }
	if !c.waitWriteLocked(ctx, id) {
		return fail(errcode.ConcurrentTransactions)
	}
	if _, _, code := c.checkLocked(id); code != 0 {
		return fail(code)
	}
	cur := c.txns[id]
	if cur == nil {
		return fail(errcode.InvalidProducerIDMapping)
	}
	if tv < 2 {
		return c.endTxnV1Locked(ctx, cur, producerID, epoch, commit)
	}
	retryOnOverflow := cur.PrevProducerID == producerID && epoch == math.MaxInt16-1 && cur.ProducerEpoch == 0
	retryOnBump := int(cur.ProducerEpoch) == int(epoch)+1
	retry := retryOnBump || retryOnOverflow
	var valid bool
	switch cur.State {
	case PrepareCommit, PrepareAbort:
		valid = retryOnBump
	case CompleteCommit, CompleteAbort:
		valid = retry || epoch == cur.ProducerEpoch
	default: // Ongoing, Empty (Dead and PrepareEpochFence are never installed)
		valid = epoch == cur.ProducerEpoch
	}
	switch {
	case cur.ProducerID != producerID && !retryOnOverflow:
		return fail(errcode.InvalidProducerIDMapping)
	case !valid:
		return fail(errcode.ProducerFenced)
	}
	current := EndResult{ProducerID: cur.ProducerID, ProducerEpoch: cur.ProducerEpoch}
	switch cur.State {
	case Ongoing:
		return c.endLocked(ctx, cur, commit, false, tv)
	case Empty:
		if !commit {
			return c.endLocked(ctx, cur, false, false, tv)
		}
	case CompleteCommit:
		switch {
		case commit && retry:
			return current
		case !commit && !retry:
			return c.endLocked(ctx, cur, false, false, tv)
		}
	case CompleteAbort:
		switch {
		case !commit && retry:
			return current
		case !commit:
			return c.endLocked(ctx, cur, false, false, tv)
		}
	case PrepareCommit:
		if commit {
			return fail(errcode.ConcurrentTransactions)
		}
	case PrepareAbort:
		if !commit {
			return fail(errcode.ConcurrentTransactions)
		}
	}
	c.logger.Warn("end transaction in an invalid state", zap.String("transactional_id", id), zap.Stringer("state", cur.State),
		zap.Bool("commit", commit), zap.Int16("producer_epoch", epoch), zap.Int16("client_transaction_version", tv))
	return fail(errcode.InvalidTxnState)
}

// endTxnV1Locked is EndTxn for clients before transaction version 2
// (Kafka's endTransactionWithTV1): the epoch is the current one and is not
// bumped, and only a retry of a transaction's own outcome is accepted once
// it is complete.
func (c *Coordinator) endTxnV1Locked(ctx context.Context, cur *Metadata, producerID int64, epoch int16, commit bool) EndResult {
	fail := func(code int16) EndResult { return EndResult{ErrorCode: code, ProducerID: -1, ProducerEpoch: -1} }
	switch {
	case cur.ProducerID != producerID:
		return fail(errcode.InvalidProducerIDMapping)
	case cur.ProducerEpoch != epoch:
		return fail(errcode.ProducerFenced)
	}
	switch cur.State {
	case Ongoing:
		return c.endLocked(ctx, cur, commit, false, 0)
	case CompleteCommit:
		if commit {
			return EndResult{ProducerID: -1, ProducerEpoch: -1}
		}
	case CompleteAbort:
		if !commit {
			return EndResult{ProducerID: -1, ProducerEpoch: -1}
		}
	case PrepareCommit:
		if commit {
			return fail(errcode.ConcurrentTransactions)
		}
	case PrepareAbort:
		if !commit {
			return fail(errcode.ConcurrentTransactions)
		}
	}
	c.logger.Warn("end transaction in an invalid state", zap.String("transactional_id", cur.TransactionalID), zap.Stringer("state", cur.State),
		zap.Bool("commit", commit), zap.Int16("producer_epoch", epoch), zap.Int16("client_transaction_version", 0))
	return fail(errcode.InvalidTxnState)
}

// endLocked moves an Ongoing transaction (or, for a transaction version 2
// abort, one in Empty, CompleteCommit or CompleteAbort) to
// PrepareCommit/PrepareAbort and completes it. fence bumps the epoch to
// fence the producer (a timeout or a new InitProducerId); otherwise tv 2
// bumps it as every KIP-890 EndTxn does, moving to a new producer id once
// the epoch is exhausted.
func (c *Coordinator) endLocked(ctx context.Context, cur *Metadata, commit, fence bool, tv int16) EndResult {
	fail := func(code int16) EndResult { return EndResult{ErrorCode: code, ProducerID: -1, ProducerEpoch: -1} }
	next := cur.clone()
	switch {
	case fence:
		bumpEpoch(next)
	case tv >= 2:
		if cur.ProducerEpoch >= math.MaxInt16-1 {
			pid, err := c.cfg.NextProducerID(ctx)
			if err != nil {
				return fail(errcode.CoordinatorNotAvailable)
			}
			next.NextProducerID = pid
		}
		bumpEpoch(next)
		next.ClientTransactionVersion = tv
	}
	next.State = PrepareAbort
	if commit {
		next.State = PrepareCommit
	}
	next.UpdateMs = c.now().UnixMilli()
	if cur.State != Ongoing {
		// A transaction version 2 abort of a transaction that added no
		// partition: it starts and ends now, with no markers to write.
		next.Partitions, next.StartMs = nil, next.UpdateMs
	}
	if code := c.writeLocked(ctx, next); code != 0 {
		return fail(code)
	}
	c.startCompletionLocked(next)
	if next.NextProducerID >= 0 {
		return EndResult{ProducerID: next.NextProducerID}
	}
	return EndResult{ProducerID: next.ProducerID, ProducerEpoch: next.ProducerEpoch}
}

// startCompletionLocked starts writing the markers of a PrepareCommit or
// PrepareAbort transaction m (the installed state of its id) in the
// background, unless that is under way, and returns the channel closed
// when the attempt ends; nil when this broker does not coordinate m's
// partition.
func (c *Coordinator) startCompletionLocked(m *Metadata) <-chan struct{} {
	id := m.TransactionalID
	if ch, ok := c.completing[id]; ok {
		return ch
	}
	st := c.parts[c.PartitionFor(id)]
	if st == nil || st.loading {
		return nil
	}
	ch := make(chan struct{})
	c.completing[id] = ch
	c.wg.Add(1)
	go c.complete(st, m, ch)
	return ch
}

// complete writes m's markers, without mu, then its CompleteCommit or
// CompleteAbort. A failure leaves the Prepare state in place, and the
// background loop tries again; an unload of the partition stops it (the
// new coordinator completes the transaction when it loads the state).
func (c *Coordinator) complete(st *partitionState, m *Metadata, done chan struct{}) {
	defer c.wg.Done()
	id := m.TransactionalID
	commit := m.State == PrepareCommit
	err := c.markers.WriteMarkers(st.ctx, m.ProducerID, m.ProducerEpoch, commit, st.epoch, m.Partitions)
	c.mu.Lock()
	defer c.mu.Unlock()
	defer func() {
		delete(c.completing, id)
		close(done)
	}()
	if err != nil {
		if st.ctx.Err() == nil {
			c.logger.Warn("cannot write transaction markers; will retry", zap.String("transactional_id", id), zap.Error(err))
		}
		return
	}
	if c.parts[c.PartitionFor(id)] != st || c.txns[id] != m {
		return // unloaded, or no longer this transaction
	}
	next := m.clone()
	next.State = CompleteAbort
	if commit {
		next.State = CompleteCommit
	}
	next.Partitions = nil
	next.UpdateMs = c.now().UnixMilli()
	if m.NextProducerID >= 0 {
		// The exhausted producer id retires; the producer goes on with the
		// new one from epoch 0 (EndTxn returned it).
		next.PrevProducerID, next.ProducerID, next.ProducerEpoch = m.ProducerID, m.NextProducerID, 0
		next.LastProducerEpoch, next.NextProducerID = -1, -1
	}
	ctx, cancel := context.WithTimeout(st.ctx, stateWriteTimeout)
	defer cancel()
	c.writeLocked(ctx, next)
}

// abortTimedOut aborts Ongoing transactions older than their timeout,
// fencing their producer with an epoch bump (Kafka's
// abortTimedOutTransactions), and retries unfinished completions.
func (c *Coordinator) abortTimedOut(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now().UnixMilli()
	ids := make([]string, 0, len(c.txns))
	for id := range c.txns {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		m := c.txns[id]
		if _, _, code := c.checkLocked(id); code != 0 || m == nil || c.writing[id] != nil {
			continue
		}
		switch {
		case m.State == Ongoing && now-m.StartMs > int64(m.TimeoutMs):
			c.logger.Info("aborting timed-out transaction", zap.String("transactional_id", id),
				zap.Int64("producer_id", m.ProducerID), zap.Int16("producer_epoch", m.ProducerEpoch))
			c.endLocked(ctx, m, false, true, m.ClientTransactionVersion)
		case m.State == PrepareCommit || m.State == PrepareAbort:
			c.startCompletionLocked(m)
		}
	}
}

// Describe returns a copy of id's state; code is NOT_COORDINATOR,
// COORDINATOR_LOAD_IN_PROGRESS or TRANSACTIONAL_ID_NOT_FOUND on failure.
func (c *Coordinator) Describe(id string) (*Metadata, int16) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, _, code := c.checkLocked(id); code != 0 {
		return nil, code
	}
	m := c.txns[id]
	if m == nil {
		return nil, errcode.TransactionalIDNotFound
	}
	return m.clone(), 0
}

// Filter selects transactions for ListTransactions; zero values match all.
type Filter struct {
	States      []State
	ProducerIDs []int64
	// MinDuration: only transactions running at least this long (KIP-994).
	MinDuration time.Duration
}

// List returns the transactions this broker coordinates that match f.
func (c *Coordinator) List(f Filter) []*Metadata {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now().UnixMilli()
	var out []*Metadata
	for id, m := range c.txns {
		if _, _, code := c.checkLocked(id); code != 0 {
			continue
		}
		if len(f.States) > 0 && !containsState(f.States, m.State) {
			continue
		}
		if len(f.ProducerIDs) > 0 && !containsInt64(f.ProducerIDs, m.ProducerID) {
			continue
		}
		if f.MinDuration > 0 && (m.State != Ongoing || now-m.StartMs < f.MinDuration.Milliseconds()) {
			continue
		}
		out = append(out, m.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TransactionalID < out[j].TransactionalID })
	return out
}

func containsState(s []State, x State) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func containsInt64(s []int64, x int64) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}
