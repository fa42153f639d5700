package storage

import (
	"errors"
	"fmt"
	"os"
	"sort"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/protocol/records"
)

// commitProducerAppendLocked applies an append's producer updates once its
// batches are written to seg: aborted transactions go to seg's .txnindex and
// the first unstable offset moves.
func (l *Log) commitProducerAppendLocked(pa *producerAppend, seg *Segment) error {
	pa.commit()
	for _, txn := range pa.completed {
		if !txn.aborted {
			continue
		}
		if err := seg.txnIndex.append(AbortedTxn{
			ProducerID: txn.producerID, FirstOffset: txn.firstOffset, LastOffset: txn.lastOffset,
			LastStableOffset: l.producers.lastStableOffsetAfter(txn),
		}); err != nil {
			return err
		}
	}
	if pa.updated != nil {
		l.firstUnstable.Store(l.producers.firstUnstableOffset())
	}
	return nil
}

// loadProducerStateLocked rebuilds the producer table: from the newest
// snapshot at or below limit (and the log end offset), replaying the
// batches after it, which rewrites their .txnindex entries (they are
// dropped first) and fsyncs them. Snapshots past the log end (left by a
// truncation or a crash) are deleted.
//
// After an unclean shutdown limit is the base offset of the first segment
// recovery re-validated, as Kafka's LogLoader rebuilds the producer state
// of each recovered segment from a snapshot at or below its base and
// rebuilds its transaction index: the .txnindex entries of batches past
// the recovery point may be lost to a power cut while the .log bytes and a
// newer snapshot (fsynced when written) survive, and a replay from that
// snapshot would never write them again (chaos finding 6: 713 aborts
// missing from one replica's index, read_committed consumers shown their
// records).
func (l *Log) loadProducerStateLocked(limit int64) error {
	l.producers = newProducerStateManager()
	leo := l.logEndOffset
	start := l.segments[0].baseOffset
	if err := deleteSnapshots(l.dir, func(off int64) bool { return off > leo }); err != nil {
		return fmt.Errorf("storage: delete producer snapshots: %w", err)
	}
	offs, err := snapshotOffsets(l.dir)
	if err != nil {
		return err
	}
	for len(offs) > 0 && offs[len(offs)-1] > limit {
		offs = offs[:len(offs)-1]
	}
	from := start
	for i := len(offs) - 1; i >= 0; i-- {
		path := segmentName(l.dir, offs[i], snapshotSuffix)
		b, err := os.ReadFile(path)
		if err == nil {
			var m map[int64]*ProducerEntry
			if m, err = decodeSnapshot(b); err == nil {
				l.producers.producers = m
				from = max(offs[i], start)
				break
			}
		}
		l.logger.Warn("discarding unreadable producer snapshot", zap.Int64("offset", offs[i]), zap.Error(err))
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	replayed, err := l.replayProducersLocked(from)
	if err != nil {
		return err
	}
	l.snapshotOffset = from // a restart now would load the same table
	l.firstUnstable.Store(l.producers.firstUnstableOffset())
	if replayed > 0 || len(l.producers.producers) > 0 {
		l.logger.Info("producer state loaded", zap.Int64("snapshot_offset", from),
			zap.Int("replayed_batches", replayed), zap.Int("producers", len(l.producers.producers)))
	}
	return nil
}

// replayProducersLocked feeds every producer batch from offset from to the
// end of the log into the table, without validation (the log is the truth).
func (l *Log) replayProducersLocked(from int64) (int, error) {
	n := 0
	var buf []byte
	for i, s := range l.segments {
		if i+1 < len(l.segments) && l.segments[i+1].baseOffset <= from {
			continue
		}
		if err := s.txnIndex.truncateTo(from); err != nil {
			return n, err
		}
		var pos int64
		if from > s.baseOffset {
			pos = s.offsetIndex.lookup(from).position
		}
		limit := s.Size()
		hs := newHeaderScanner(s)
		for pos < limit {
			h, err := hs.at(pos, limit)
			if err != nil {
				hs.release()
				return n, err
			}
			size := int64(h.Size())
			if h.LastOffset() >= from && h.ProducerID >= 0 && h.Magic >= 2 {
				var batch []byte
				if h.IsControl() {
					buf = grow(buf, int(size))
					if err := readFull(s.log, buf, pos); err != nil {
						hs.release()
						return n, err
					}
					batch = buf
				}
				pa := l.producers.begin()
				if err := pa.add(&h, batch, false); err != nil {
					hs.release()
					return n, err
				}
				if err := l.commitProducerAppendLocked(pa, s); err != nil {
					hs.release()
					return n, err
				}
				n++
			}
			pos += size
		}
		hs.release()
		// The entries just written are below the log end, which the
		// recovery point may already have passed (a follower's
		// truncation, a load that syncs the recovered segments before
		// the replay, a clean shutdown whose flush finds nothing new).
		if err := s.txnIndex.sync(); err != nil {
			return n, err
		}
	}
	return n, nil
}

// LastStableOffset is the offset below which every transaction is decided:
// the first offset of the earliest open transaction, capped by the high
// watermark. read_committed consumers read up to it.
func (l *Log) LastStableOffset() int64 {
	hw := l.HighWatermark()
	if fu := l.firstUnstable.Load(); fu >= 0 && fu < hw {
		return fu
	}
	return hw
}

// AbortedTransactions lists the aborted transactions overlapping offsets
// [start, end), for a read_committed fetch that read that range. Safe to
// call concurrently with anything.
func (l *Log) AbortedTransactions(start, end int64) []AbortedTxn {
	l.stateMu.RLock()
	segs := l.segments
	l.stateMu.RUnlock()
	i := max(sort.Search(len(segs), func(i int) bool { return segs[i].baseOffset > start })-1, 0)
	var out []AbortedTxn
	for ; i < len(segs); i++ {
		// A marker follows its transaction's data, so an abort of a
		// transaction that began in the range may sit in any later segment.
		out = segs[i].txnIndex.collect(out, start, end)
	}
	return out
}

// ProducerState describes an active producer for DescribeProducers.
type ProducerState struct {
	ProducerID            int64
	Epoch                 int16
	LastSequence          int32
	LastTimestamp         int64
	CoordinatorEpoch      int32
	CurrentTxnStartOffset int64
}

// ActiveProducers lists the producers this partition has state for.
func (l *Log) ActiveProducers() []ProducerState {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]ProducerState, 0, len(l.producers.producers))
	for _, e := range l.producers.producers {
		out = append(out, ProducerState{
			ProducerID: e.ProducerID, Epoch: e.Epoch, LastSequence: e.LastSeq(), LastTimestamp: e.LastTimestamp,
			CoordinatorEpoch: e.CoordinatorEpoch, CurrentTxnStartOffset: e.CurrentTxnFirstOffset,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ProducerID < out[j].ProducerID })
	return out
}

// RemoveExpiredProducers drops producers with no open transaction whose last
// write is older than expirationMs (producer.id.expiration.ms).
func (l *Log) RemoveExpiredProducers(nowMs, expirationMs int64) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0
	}
	n := l.producers.removeExpired(nowMs, expirationMs)
	if n > 0 {
		l.snapshotOffset = -1 // the snapshot still has them
	}
	return n
}

// ProducerEpoch reports the epoch this partition last saw from producerID.
func (l *Log) ProducerEpoch(producerID int64) (int16, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.producers.producers[producerID]; ok {
		return e.Epoch, true
	}
	return records.NoProducerEpoch, false
}

// HasOngoingTransaction reports whether producerID has a transaction open in
// this partition at epoch: its later transactional batches need no
// verification with the coordinator (KIP-890 part 1).
func (l *Log) HasOngoingTransaction(producerID int64, epoch int16) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.producers.producers[producerID]
	return ok && e.Epoch == epoch && e.CurrentTxnFirstOffset >= 0
}
