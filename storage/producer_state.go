package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/spool-broker/spool/protocol/records"
)

// Producer state errors (Kafka's ProducerAppendInfo). Each maps to the Kafka
// error code of the same name at the edge.
var (
	// ErrOutOfOrderSequence: a batch does not continue its producer's
	// sequence (OUT_OF_ORDER_SEQUENCE_NUMBER).
	ErrOutOfOrderSequence = errors.New("storage: out of order sequence number")
	// ErrInvalidProducerEpoch: the batch's producer epoch is older than the
	// one this partition has seen (INVALID_PRODUCER_EPOCH).
	ErrInvalidProducerEpoch = errors.New("storage: invalid producer epoch")
	// ErrInvalidTxnState: a non-transactional batch from a producer with an
	// open transaction (INVALID_TXN_STATE).
	ErrInvalidTxnState = errors.New("storage: invalid transaction state")
	// ErrCoordinatorFenced: a marker from an older transaction coordinator
	// epoch (TRANSACTION_COORDINATOR_FENCED).
	ErrCoordinatorFenced = errors.New("storage: transaction coordinator fenced")
	// ErrDuplicateSequence is matched by *DuplicateBatchError.
	ErrDuplicateSequence = errors.New("storage: duplicate sequence number")
)

// DuplicateBatchError rejects a retried batch that is already in the log;
// the producer is answered with the offsets the original got.
type DuplicateBatchError struct {
	FirstOffset, LastOffset int64
	Timestamp               int64
}

func (e *DuplicateBatchError) Error() string {
	return fmt.Sprintf("storage: duplicate batch, already at offsets %d-%d", e.FirstOffset, e.LastOffset)
}

// Is makes errors.Is(err, ErrDuplicateSequence) true.
func (e *DuplicateBatchError) Is(target error) bool { return target == ErrDuplicateSequence }

// maxBatchesPerProducer is how many recent batches are kept per producer to
// recognise retries (a producer has at most 5 requests in flight).
const maxBatchesPerProducer = 5

// BatchMetadata is what the duplicate check remembers of a batch.
type BatchMetadata struct {
	FirstSeq, LastSeq       int32
	FirstOffset, LastOffset int64
	Timestamp               int64
}

// ProducerEntry is one producer's state in one partition.
type ProducerEntry struct {
	ProducerID       int64
	Epoch            int16
	CoordinatorEpoch int32
	// CurrentTxnFirstOffset is the first offset of the producer's open
	// transaction in this partition, -1 when none is open.
	CurrentTxnFirstOffset int64
	// LastTimestamp is the max timestamp of the producer's last batch; an
	// entry idle for producer.id.expiration.ms is removed.
	LastTimestamp int64
	// Batches are the most recent batches, oldest first.
	Batches []BatchMetadata
}

// LastSeq is the last sequence written, records.NoSequence when none.
func (e *ProducerEntry) LastSeq() int32 {
	if len(e.Batches) == 0 {
		return records.NoSequence
	}
	return e.Batches[len(e.Batches)-1].LastSeq
}

// LastOffset is the last offset written by the producer, -1 when unknown.
func (e *ProducerEntry) LastOffset() int64 {
	if len(e.Batches) == 0 {
		return -1
	}
	return e.Batches[len(e.Batches)-1].LastOffset
}

func (e *ProducerEntry) clone() *ProducerEntry {
	c := *e
	c.Batches = append([]BatchMetadata(nil), e.Batches...)
	return &c
}

func (e *ProducerEntry) addBatch(m BatchMetadata) {
	if len(e.Batches) == maxBatchesPerProducer {
		e.Batches = append(e.Batches[:0], e.Batches[1:]...)
	}
	e.Batches = append(e.Batches, m)
	e.LastTimestamp = m.Timestamp
}

func (e *ProducerEntry) findDuplicate(epoch int16, firstSeq, lastSeq int32) *BatchMetadata {
	if epoch != e.Epoch {
		return nil
	}
	for i := range e.Batches {
		if e.Batches[i].FirstSeq == firstSeq && e.Batches[i].LastSeq == lastSeq {
			return &e.Batches[i]
		}
	}
	return nil
}

// AbortedTxn is an entry of a segment's .txnindex.
type AbortedTxn struct {
	ProducerID  int64
	FirstOffset int64
	LastOffset  int64 // the offset of the ABORT marker
	// LastStableOffset is the partition's LSO once this abort completed.
	LastStableOffset int64
}

// completedTxn is a transaction ended by a marker in the current append.
type completedTxn struct {
	producerID              int64
	firstOffset, lastOffset int64
	aborted                 bool
}

// producerStateManager is a partition's producer table, owned by Log.mu.
type producerStateManager struct {
	producers map[int64]*ProducerEntry
}

func newProducerStateManager() *producerStateManager {
	return &producerStateManager{producers: map[int64]*ProducerEntry{}}
}

// firstUnstableOffset is the first offset of the earliest open transaction,
// -1 when none is open.
func (m *producerStateManager) firstUnstableOffset() int64 {
	first := int64(-1)
	for _, e := range m.producers {
		if o := e.CurrentTxnFirstOffset; o >= 0 && (first < 0 || o < first) {
			first = o
		}
	}
	return first
}

// producerAppend collects the updates of one append; they are applied to
// the table only once the batches are written.
type producerAppend struct {
	m         *producerStateManager
	updated   map[int64]*ProducerEntry
	completed []completedTxn
}

func (m *producerStateManager) begin() *producerAppend {
	return &producerAppend{m: m}
}

func (a *producerAppend) entry(pid int64) (cur, upd *ProducerEntry) {
	cur = a.m.producers[pid]
	if upd = a.updated[pid]; upd != nil {
		return cur, upd
	}
	if cur != nil {
		upd = cur.clone()
	} else {
		upd = &ProducerEntry{ProducerID: pid, Epoch: records.NoProducerEpoch, CoordinatorEpoch: -1, CurrentTxnFirstOffset: -1}
	}
	if a.updated == nil {
		a.updated = map[int64]*ProducerEntry{}
	}
	a.updated[pid] = upd
	return cur, upd
}

// add checks one batch as Kafka's ProducerAppendInfo does and records its
// effect. validate is true for batches from clients and coordinators (the
// leader's appends) and false when replaying the log. batch is needed only
// for control batches (to read the marker).
func (a *producerAppend) add(h *records.Header, batch []byte, validate bool) error {
	if h.ProducerID < 0 || h.Magic < 2 {
		return nil
	}
	cur, upd := a.entry(h.ProducerID)
	if h.IsControl() {
		return a.addMarker(h, batch, upd, validate)
	}
	lastSeq := h.BaseSequence
	if h.BaseSequence >= 0 {
		lastSeq = int32((int64(h.BaseSequence) + int64(h.LastOffsetDelta)) % (1 << 31))
	}
	if validate {
		if h.ProducerEpoch < upd.Epoch {
			return fmt.Errorf("%w: producer %d epoch %d is older than %d", ErrInvalidProducerEpoch, h.ProducerID, h.ProducerEpoch, upd.Epoch)
		}
		if d := upd.findDuplicate(h.ProducerEpoch, h.BaseSequence, lastSeq); d != nil && h.BaseSequence >= 0 {
			return &DuplicateBatchError{FirstOffset: d.FirstOffset, LastOffset: d.LastOffset, Timestamp: d.Timestamp}
		}
		// A coordinator's transactional write (TxnOffsetCommit) carries no
		// sequence; Kafka checks sequences of client appends only.
		if h.BaseSequence != records.NoSequence {
			if err := checkSequence(cur, upd, h); err != nil {
				return err
			}
		}
		if !h.IsTransactional() && upd.CurrentTxnFirstOffset >= 0 {
			return fmt.Errorf("%w: producer %d sent a non-transactional batch inside a transaction", ErrInvalidTxnState, h.ProducerID)
		}
	}
	if h.ProducerEpoch != upd.Epoch {
		upd.Epoch = h.ProducerEpoch
		upd.Batches = upd.Batches[:0]
	}
	upd.addBatch(BatchMetadata{FirstSeq: h.BaseSequence, LastSeq: lastSeq, FirstOffset: h.BaseOffset, LastOffset: h.LastOffset(), Timestamp: h.MaxTimestamp})
	if h.IsTransactional() && upd.CurrentTxnFirstOffset < 0 {
		upd.CurrentTxnFirstOffset = h.BaseOffset
	}
	return nil
}

// checkSequence is Kafka's rule: a new epoch starts at sequence 0 (unless
// the producer is unknown here); within an epoch the batch continues the
// last sequence. A producer this partition has no state for (new, expired
// or removed with its segments) may start at any sequence (KIP-360).
func checkSequence(cur, upd *ProducerEntry, h *records.Header) error {
	if h.ProducerEpoch != upd.Epoch {
		if h.BaseSequence != 0 && upd.Epoch != records.NoProducerEpoch {
			return fmt.Errorf("%w: producer %d new epoch %d must start at sequence 0, got %d",
				ErrOutOfOrderSequence, h.ProducerID, h.ProducerEpoch, h.BaseSequence)
		}
		return nil
	}
	last := upd.LastSeq()
	if cur == nil || cur.Epoch == records.NoProducerEpoch {
		return nil
	}
	if !inSequence(last, h.BaseSequence) {
		return fmt.Errorf("%w: producer %d epoch %d: sequence %d does not follow %d",
			ErrOutOfOrderSequence, h.ProducerID, h.ProducerEpoch, h.BaseSequence, last)
	}
	return nil
}

func inSequence(last, next int32) bool {
	return next == last+1 || (next == 0 && last == 1<<31-1)
}

func (a *producerAppend) addMarker(h *records.Header, batch []byte, upd *ProducerEntry, validate bool) error {
	var marker records.ControlRecord
	n := 0
	err := records.ForEachRecord(batch, 1<<20, func(r *records.Record) error {
		n++
		var err error
		marker, err = records.ParseControlRecord(r.Key, r.Value)
		return err
	})
	if err != nil {
		return fmt.Errorf("%w: control batch at %d: %w", ErrInvalidBatches, h.BaseOffset, err)
	}
	if n != 1 {
		return fmt.Errorf("%w: control batch at %d has %d records", ErrInvalidBatches, h.BaseOffset, n)
	}
	if marker.Type != records.ControlAbort && marker.Type != records.ControlCommit {
		return nil // other control types carry no transaction state
	}
	if validate {
		if h.ProducerEpoch < upd.Epoch {
			return fmt.Errorf("%w: marker for producer %d epoch %d, current %d", ErrInvalidProducerEpoch, h.ProducerID, h.ProducerEpoch, upd.Epoch)
		}
		if marker.CoordinatorEpoch < upd.CoordinatorEpoch {
			return fmt.Errorf("%w: marker coordinator epoch %d < %d", ErrCoordinatorFenced, marker.CoordinatorEpoch, upd.CoordinatorEpoch)
		}
	}
	if h.ProducerEpoch != upd.Epoch {
		upd.Epoch = h.ProducerEpoch
		upd.Batches = upd.Batches[:0]
	}
	upd.CoordinatorEpoch = marker.CoordinatorEpoch
	upd.LastTimestamp = h.MaxTimestamp
	if upd.CurrentTxnFirstOffset >= 0 {
		a.completed = append(a.completed, completedTxn{
			producerID: h.ProducerID, firstOffset: upd.CurrentTxnFirstOffset, lastOffset: h.BaseOffset,
			aborted: marker.Type == records.ControlAbort,
		})
		upd.CurrentTxnFirstOffset = -1
	}
	return nil
}

// commit applies the collected updates to the table.
func (a *producerAppend) commit() {
	for pid, e := range a.updated {
		a.m.producers[pid] = e
	}
}

// lastStableOffsetAfter is the LSO once txn completed (Kafka's
// ProducerStateManager.lastStableOffset): the earliest other open
// transaction's first offset, else the offset after the marker.
func (m *producerStateManager) lastStableOffsetAfter(txn completedTxn) int64 {
	first := int64(-1)
	for pid, e := range m.producers {
		if pid == txn.producerID {
			continue
		}
		if o := e.CurrentTxnFirstOffset; o >= 0 && (first < 0 || o < first) {
			first = o
		}
	}
	if first >= 0 && first < txn.lastOffset+1 {
		return first
	}
	return txn.lastOffset + 1
}

// removeExpired drops producers without an open transaction whose last
// batch is older than expiration.
func (m *producerStateManager) removeExpired(nowMs, expirationMs int64) int {
	n := 0
	for pid, e := range m.producers {
		if e.CurrentTxnFirstOffset < 0 && nowMs-e.LastTimestamp >= expirationMs {
			delete(m.producers, pid)
			n++
		}
	}
	return n
}

// # Snapshot files
//
// <20-digit offset>.snapshot holds the producer table as of that offset, in
// Kafka's format (version 1): all integers big-endian, the CRC is CRC-32C of
// every byte after it.
//
//	+-------------+---------+---------------+
//	| version i16 | crc u32 | entries i32 n |  then n entries:
//	+-------------+---------+---------------+
//	| ProducerId i64 | ProducerEpoch i16 | LastSequence i32 | LastOffset i64 |
//	| OffsetDelta i32 | Timestamp i64 | CoordinatorEpoch i32 | CurrentTxnFirstOffset i64 |
//
// Like Kafka, only each producer's last batch survives a snapshot, so after
// a restart only a retry of the last batch is recognised as a duplicate.

const (
	snapshotSuffix     = ".snapshot"
	snapshotVersion    = 1
	snapshotHeaderSize = 2 + 4 + 4
	snapshotEntrySize  = 8 + 2 + 4 + 8 + 4 + 8 + 4 + 8
)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

func encodeSnapshot(producers map[int64]*ProducerEntry) []byte {
	pids := make([]int64, 0, len(producers))
	for pid := range producers {
		pids = append(pids, pid)
	}
	sort.Slice(pids, func(i, j int) bool { return pids[i] < pids[j] })
	be := binary.BigEndian
	b := make([]byte, snapshotHeaderSize, snapshotHeaderSize+len(pids)*snapshotEntrySize)
	be.PutUint16(b, snapshotVersion)
	be.PutUint32(b[6:], uint32(len(pids)))
	for _, pid := range pids {
		e := producers[pid]
		lastSeq, lastOffset, delta := int32(records.NoSequence), int64(-1), int32(0)
		if n := len(e.Batches); n > 0 {
			last := e.Batches[n-1]
			lastSeq, lastOffset, delta = last.LastSeq, last.LastOffset, int32(last.LastOffset-last.FirstOffset)
		}
		b = be.AppendUint64(b, uint64(pid))
		b = be.AppendUint16(b, uint16(e.Epoch))
		b = be.AppendUint32(b, uint32(lastSeq))
		b = be.AppendUint64(b, uint64(lastOffset))
		b = be.AppendUint32(b, uint32(delta))
		b = be.AppendUint64(b, uint64(e.LastTimestamp))
		b = be.AppendUint32(b, uint32(e.CoordinatorEpoch))
		b = be.AppendUint64(b, uint64(e.CurrentTxnFirstOffset))
	}
	be.PutUint32(b[2:], crc32.Checksum(b[6:], crc32c))
	return b
}

func decodeSnapshot(b []byte) (map[int64]*ProducerEntry, error) {
	be := binary.BigEndian
	if len(b) < snapshotHeaderSize {
		return nil, fmt.Errorf("%w: snapshot of %d bytes", ErrCorrupt, len(b))
	}
	if v := be.Uint16(b); v != snapshotVersion {
		return nil, fmt.Errorf("%w: snapshot version %d", ErrCorrupt, v)
	}
	if crc32.Checksum(b[6:], crc32c) != be.Uint32(b[2:]) {
		return nil, fmt.Errorf("%w: snapshot CRC mismatch", ErrCorrupt)
	}
	n := int(be.Uint32(b[6:]))
	if n < 0 || len(b) != snapshotHeaderSize+n*snapshotEntrySize {
		return nil, fmt.Errorf("%w: snapshot of %d bytes for %d entries", ErrCorrupt, len(b), n)
	}
	out := make(map[int64]*ProducerEntry, n)
	for p := b[snapshotHeaderSize:]; len(p) > 0; p = p[snapshotEntrySize:] {
		e := &ProducerEntry{
			ProducerID:            int64(be.Uint64(p)),
			Epoch:                 int16(be.Uint16(p[8:])),
			LastTimestamp:         int64(be.Uint64(p[26:])),
			CoordinatorEpoch:      int32(be.Uint32(p[34:])),
			CurrentTxnFirstOffset: int64(be.Uint64(p[38:])),
		}
		lastSeq, lastOffset, delta := int32(be.Uint32(p[10:])), int64(be.Uint64(p[14:])), int32(be.Uint32(p[22:]))
		if lastOffset >= 0 {
			firstSeq := lastSeq
			if lastSeq >= 0 {
				firstSeq = int32((int64(lastSeq) - int64(delta) + 1<<31) % (1 << 31))
			}
			e.Batches = []BatchMetadata{{FirstSeq: firstSeq, LastSeq: lastSeq, FirstOffset: lastOffset - int64(delta), LastOffset: lastOffset, Timestamp: e.LastTimestamp}}
		}
		out[e.ProducerID] = e
	}
	return out, nil
}

// writeSnapshot writes <offset>.snapshot durably (WriteFileDurably: tmp,
// fsync, rename, fsync of the directory). Recovery never needs a snapshot
// to be there (it replays from an older one, or from the log start), but
// a snapshot that is there must be whole.
func writeSnapshot(dir string, offset int64, producers map[int64]*ProducerEntry) error {
	path := segmentName(dir, offset, snapshotSuffix)
	if err := WriteFileDurably(path, encodeSnapshot(producers), 0o644); err != nil {
		os.Remove(path + ".tmp")
		return fmt.Errorf("storage: write producer snapshot %d: %w", offset, err)
	}
	return nil
}

// snapshotOffsets lists the snapshot files of dir, ascending.
func snapshotOffsets(dir string) ([]int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var offs []int64
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, snapshotSuffix) {
			continue
		}
		off, err := strconv.ParseInt(strings.TrimSuffix(name, snapshotSuffix), 10, 64)
		if err != nil {
			continue
		}
		offs = append(offs, off)
	}
	sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
	return offs, nil
}

// deleteSnapshots removes the snapshot files whose offset keep rejects.
func deleteSnapshots(dir string, drop func(off int64) bool) error {
	offs, err := snapshotOffsets(dir)
	if err != nil {
		return err
	}
	for _, off := range offs {
		if drop(off) {
			if err := os.Remove(filepath.Join(dir, fmt.Sprintf("%020d%s", off, snapshotSuffix))); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}
