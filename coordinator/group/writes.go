package group

import (
	"context"
	"errors"
	"time"

	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/wire"
)

// Writes and their completion, as Kafka's CoordinatorRuntime does them:
// an operation validates, appends its records and applies them to the
// shard's state under shard.mu (so the log's order is the order the state
// changed and no check can be invalidated before its write), then releases
// the lock and only then waits for the high watermark to cover the write
// before answering. A follower that is slow to replicate delays the answers
// that depend on its write, not the shard: other groups of the partition
// go on.
//
// No answer exposes state that is not committed yet: every operation on a
// group answers only once the group's latest write is committed (Kafka
// completes every write operation, records or not, once the partition's
// last written offset is committed; Spool narrows that to the group the
// answer is about, since a group's answers depend on no other group's
// state). A write that is appended but whose wait fails (timeout, ISR below
// min.insync.replicas, leadership lost) stays applied: its record is in
// the leader's log, so memory still equals the log; if leadership moves
// the shard is unloaded and the new leader replays its own log.

// defaultWriteTimeout is offsets.commit.timeout.ms's default: how long a
// write waits for the high watermark before its answer is
// COORDINATOR_NOT_AVAILABLE (the write stays in the log). Kafka 4.3's
// CoordinatorRuntime bounds every write (OffsetCommit, TxnOffsetCommit,
// JoinGroup, SyncGroup, heartbeats of KIP-848 groups, ...) by this one
// timeout, and its TimeoutException (REQUEST_TIMED_OUT) reaches clients as
// COORDINATOR_NOT_AVAILABLE (CoordinatorOperationExceptionHelper).
const defaultWriteTimeout = 5 * time.Second

// Committed waits until an appended batch is committed: the high watermark
// of the __consumer_offsets partition covers it. It is called once, with no
// coordinator lock held.
type Committed func(ctx context.Context) error

// pendingWrite is one append of a shard waiting for the high watermark.
type pendingWrite struct {
	done chan struct{}
	code int16 // the answer's code when the write failed; set before done closes
}

// wait blocks until w is committed (0) or failed (its code); ctx ending
// first answers COORDINATOR_NOT_AVAILABLE. A nil w is committed.
func (w *pendingWrite) wait(ctx context.Context) int16 {
	if w == nil {
		return 0
	}
	select {
	case <-w.done:
		return w.code
	case <-ctx.Done():
		return errcode.CoordinatorNotAvailable
	}
}

// writeErrorCode is the answer for a failed __consumer_offsets write, as
// Kafka's GroupCoordinatorService normalizes it: NOT_COORDINATOR when this
// broker no longer leads the partition, COORDINATOR_NOT_AVAILABLE otherwise
// (NOT_ENOUGH_REPLICAS, timeouts, storage errors).
func writeErrorCode(err error) int16 {
	if errors.Is(err, ErrNotLeader) {
		return errcode.NotCoordinator
	}
	return errcode.CoordinatorNotAvailable
}

// trackLocked makes commit the latest pending write of every group keyed
// in keys and starts its completion; nil commit means already committed.
// Completion runs on its own goroutine, bounded by the shard's context
// (cancelled when the shard is unloaded) and Config.WriteTimeout.
func (s *shard) trackLocked(keys [][]byte, commit Committed) {
	if commit == nil {
		return
	}
	w := &pendingWrite{done: make(chan struct{})}
	var ids []string
	for _, k := range keys {
		if id, ok := keyGroup(k); ok && (len(ids) == 0 || ids[len(ids)-1] != id) {
			ids = append(ids, id)
			s.pending[id] = w
		}
	}
	go func() {
		ctx, cancel := context.WithTimeout(s.ctx, s.c.cfg.WriteTimeout)
		err := commit(ctx)
		cancel()
		// Finish under mu: an operation that made or read this write
		// before it finished (under mu) waits for it and gets its code;
		// later ones no longer find it.
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			w.code = writeErrorCode(err)
			if s.ctx.Err() != nil {
				w.code = errcode.NotCoordinator
			}
		}
		close(w.done)
		for _, id := range ids {
			if s.pending[id] == w {
				delete(s.pending, id)
			}
		}
	}()
}

// pendingLocked is group id's latest write still waiting, or nil. A write
// that has failed is gone once finished: only the answers that waited for
// it report the failure; later ones see the state, which includes it (it
// is in the log).
func (s *shard) pendingLocked(id string) *pendingWrite {
	return s.pending[id]
}

// unlockAndAwait releases s.mu and waits until group id's latest write is
// committed; fail is called with the code to answer when it is not. Use it
// as the deferred unlock of an operation on one group, so the answer leaves
// only once the state it reflects is committed.
func (s *shard) unlockAndAwait(ctx context.Context, id string, fail func(code int16)) {
	w := s.pendingLocked(id)
	s.mu.Unlock()
	if code := w.wait(ctx); code != 0 {
		fail(code)
	}
}

// awaitGroup waits until group id's latest write in s is committed: for
// answers completed by another goroutine (parked JoinGroup/SyncGroup).
func (s *shard) awaitGroup(ctx context.Context, id string) int16 {
	s.mu.Lock()
	w := s.pendingLocked(id)
	s.mu.Unlock()
	return w.wait(ctx)
}

// keyGroup is the group id a __consumer_offsets record key names: every key
// this package writes (offset, group metadata, KIP-848 records) is an int16
// version or type followed by the group id as an int16-length string.
func keyGroup(key []byte) (string, bool) {
	r := wire.NewReader(key)
	r.Int16()
	id := r.String()
	if r.Err() != nil {
		return "", false
	}
	return id, true
}
