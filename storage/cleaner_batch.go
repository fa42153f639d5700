package storage

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/spool-broker/spool/protocol/records"
)

// maxCleanerDecompressed bounds what the cleaner decompresses per batch.
// Batches were validated on append; this only guards against a corrupt file.
const maxCleanerDecompressed = 256 << 20

// txnTracker follows transactions through the batches of one cleaning pass,
// in offset order, the way Kafka's CleanedTransactionMetadata does: it knows
// from the .txnindex entries which transactions were aborted, so it can
// discard their data, and it notices which transactions still have data
// batches in the log, so their markers are kept.
type txnTracker struct {
	aborted []AbortedTxn // ascending by FirstOffset, not yet started
	// ongoingAborted: producer → whether a data batch of its aborted
	// transaction was seen in this pass.
	ongoingAborted map[int64]bool
	// ongoingCommitted: producers whose (committed) transaction had a data
	// batch in this pass.
	ongoingCommitted map[int64]bool
}

func newTxnTracker(aborted []AbortedTxn) *txnTracker {
	return &txnTracker{aborted: aborted, ongoingAborted: map[int64]bool{}, ongoingCommitted: map[int64]bool{}}
}

// startAbortedUpTo moves the aborted transactions that began at or before
// offset into ongoingAborted.
func (t *txnTracker) startAbortedUpTo(offset int64) {
	for len(t.aborted) > 0 && t.aborted[0].FirstOffset <= offset {
		if _, ok := t.ongoingAborted[t.aborted[0].ProducerID]; !ok {
			t.ongoingAborted[t.aborted[0].ProducerID] = false
		}
		t.aborted = t.aborted[1:]
	}
}

// dataBatch reports whether the transactional data batch h belongs to an
// aborted transaction (its records are discarded).
func (t *txnTracker) dataBatch(h *records.Header) bool {
	t.startAbortedUpTo(h.LastOffset())
	if !h.IsTransactional() || h.ProducerID < 0 {
		return false
	}
	if _, ok := t.ongoingAborted[h.ProducerID]; ok {
		t.ongoingAborted[h.ProducerID] = true
		return true
	}
	t.ongoingCommitted[h.ProducerID] = true
	return false
}

// marker ends the producer's transaction and reports whether the marker may
// be discarded: Kafka keeps a marker while data batches of its transaction
// were seen in this pass (they may still be in the log), and removes it, after
// delete.retention.ms, once none are.
func (t *txnTracker) marker(h *records.Header, typ records.ControlType) bool {
	t.startAbortedUpTo(h.LastOffset())
	switch typ {
	case records.ControlAbort:
		seen, ok := t.ongoingAborted[h.ProducerID]
		delete(t.ongoingAborted, h.ProducerID)
		return !(ok && seen)
	case records.ControlCommit:
		seen := t.ongoingCommitted[h.ProducerID]
		delete(t.ongoingCommitted, h.ProducerID)
		return !seen
	}
	return false
}

// controlType decodes the type of a control batch's (single) record.
func controlType(batch []byte) (records.ControlType, bool, error) {
	var typ records.ControlType
	found := false
	err := records.ForEachRecord(batch, maxCleanerDecompressed, func(r *records.Record) error {
		if found {
			return nil
		}
		c, err := records.ParseControlRecord(r.Key, r.Value)
		if err != nil {
			return err
		}
		typ, found = c.Type, true
		return nil
	})
	return typ, found, err
}

// hasDeleteHorizon reports whether the batch carries KIP-534's delete
// horizon, which then is its BaseTimestamp.
func hasDeleteHorizon(h *records.Header) bool { return h.Attributes&records.DeleteHorizonBit != 0 }

// batchFilter decides which records of one batch survive cleaning.
type batchFilter struct {
	now     int64
	horizon int64 // the delete horizon stamped on batches cleaned now
	keys    map[string]int64
	txns    *txnTracker
	// lastOfProducer maps an active producer to the last offset it wrote;
	// that batch stays, at least as an empty batch, so the producer's
	// sequence state survives a reload that replays the log.
	lastOfProducer map[int64]int64

	raw []byte // scratch: the retained records, uncompressed
}

// filterResult says what happened to a batch.
type filterResult struct {
	kept, removed int   // records
	horizon       int64 // delete horizon of the written batch, -1 if none
}

// filter appends to dst what remains of batch: nothing, the batch as it was,
// or a rebuilt batch with the same offsets, producer fields and compression.
func (f *batchFilter) filter(dst, batch []byte, h *records.Header) ([]byte, filterResult, error) {
	res := filterResult{horizon: -1}
	hadHorizon := hasDeleteHorizon(h)
	if hadHorizon {
		res.horizon = h.BaseTimestamp
	}
	if h.IsControl() {
		typ, ok, err := controlType(batch)
		if err != nil {
			return dst, res, fmt.Errorf("%w: control batch at offset %d: %w", ErrCorrupt, h.BaseOffset, err)
		}
		discardable := ok && f.txns.marker(h, typ)
		switch {
		case !discardable:
			return append(dst, batch...), res, nil
		case hadHorizon && f.now >= h.BaseTimestamp:
			res.removed = int(h.RecordCount)
			res.horizon = -1
			return dst, res, nil
		case hadHorizon:
			return append(dst, batch...), res, nil
		}
		// Stamp the horizon: the marker goes delete.retention.ms from now.
		return f.rebuild(dst, batch, h, f.horizon, &res, func(*records.Record) bool { return true })
	}

	aborted := f.txns.dataBatch(h)
	keepTombstones := !hadHorizon || f.now < h.BaseTimestamp
	retain := func(r *records.Record) bool {
		if aborted || r.Key == nil { // Kafka drops keyless records from compacted logs
			return false
		}
		if last, ok := f.keys[string(r.Key)]; ok && r.Offset < last {
			return false
		}
		return r.Value != nil || keepTombstones
	}
	tombstones := false
	err := records.ForEachRecord(batch, maxCleanerDecompressed, func(r *records.Record) error {
		if retain(r) {
			res.kept++
			tombstones = tombstones || r.Value == nil
		} else {
			res.removed++
		}
		return nil
	})
	if err != nil {
		return dst, res, fmt.Errorf("%w: batch at offset %d: %w", ErrCorrupt, h.BaseOffset, err)
	}
	needHorizon := tombstones && !hadHorizon
	if !tombstones {
		res.horizon = -1 // nothing in the batch waits for its horizon
	}
	switch {
	case res.removed == 0 && !needHorizon:
		return append(dst, batch...), res, nil
	case res.kept == 0:
		res.horizon = -1
		if last, ok := f.lastOfProducer[h.ProducerID]; ok && h.ProducerID >= 0 && last == h.LastOffset() {
			return appendEmptyBatch(dst, h), res, nil
		}
		return dst, res, nil
	}
	// A rebuilt batch keeps its horizon only while it holds tombstones.
	horizon := int64(-1)
	if needHorizon {
		horizon = f.horizon
	} else if hadHorizon && tombstones {
		horizon = h.BaseTimestamp
	}
	return f.rebuild(dst, batch, h, horizon, &res, retain)
}

// rebuild writes a new batch holding the records retain accepts, keeping
// the batch's BaseOffset, LastOffsetDelta (so producer sequences still add
// up), leader epoch, producer fields, attributes and compression. With a
// horizon >= 0 the DeleteHorizonBit is set and BaseTimestamp holds it;
// record timestamps stay what they were, as deltas from the new base.
func (f *batchFilter) rebuild(dst, batch []byte, h *records.Header, horizon int64, res *filterResult, retain func(*records.Record) bool) ([]byte, filterResult, error) {
	base := int64(math.MinInt64)
	maxTS := int64(-1)
	if horizon >= 0 {
		base = horizon
	}
	count := 0
	f.raw = f.raw[:0]
	err := records.ForEachRecord(batch, maxCleanerDecompressed, func(r *records.Record) error {
		if !retain(r) {
			return nil
		}
		if base == math.MinInt64 {
			base = r.Timestamp
		}
		maxTS = max(maxTS, r.Timestamp)
		f.raw = records.AppendRecord(f.raw, r, r.Timestamp-base, r.OffsetDelta)
		count++
		return nil
	})
	if err != nil {
		return dst, *res, fmt.Errorf("%w: batch at offset %d: %w", ErrCorrupt, h.BaseOffset, err)
	}
	if h.LogAppendTime() {
		maxTS = h.MaxTimestamp
	}
	attrs := uint16(h.Attributes) &^ records.DeleteHorizonBit
	if horizon >= 0 {
		attrs |= records.DeleteHorizonBit
	}
	start := len(dst)
	dst = appendBatchHeader(dst, h, attrs, base, maxTS, int32(count))
	if codec := h.Compression(); codec == records.CompressionNone {
		dst = append(dst, f.raw...)
	} else if dst, err = records.Compress(dst, codec, f.raw); err != nil {
		return dst[:start], *res, fmt.Errorf("storage: recompress batch at offset %d: %w", h.BaseOffset, err)
	}
	finishBatch(dst[start:])
	res.horizon = horizon
	return dst, *res, nil
}

// appendEmptyBatch writes a batch with h's offsets and producer fields and
// no records, as Kafka keeps the last batch of an active producer.
func appendEmptyBatch(dst []byte, h *records.Header) []byte {
	start := len(dst)
	attrs := uint16(h.Attributes) &^ (records.CompressionMask | records.DeleteHorizonBit)
	dst = appendBatchHeader(dst, h, attrs, h.MaxTimestamp, h.MaxTimestamp, 0)
	finishBatch(dst[start:])
	return dst
}

// appendBatchHeader writes the 61-byte v2 header (layout in
// protocol/records/header.go) with length and CRC left for finishBatch.
func appendBatchHeader(dst []byte, h *records.Header, attrs uint16, baseTS, maxTS int64, count int32) []byte {
	be := binary.BigEndian
	dst = be.AppendUint64(dst, uint64(h.BaseOffset))
	dst = be.AppendUint32(dst, 0) // BatchLength
	dst = be.AppendUint32(dst, uint32(h.PartitionLeaderEpoch))
	dst = append(dst, 2)
	dst = be.AppendUint32(dst, 0) // CRC
	dst = be.AppendUint16(dst, attrs)
	dst = be.AppendUint32(dst, uint32(h.LastOffsetDelta))
	dst = be.AppendUint64(dst, uint64(baseTS))
	dst = be.AppendUint64(dst, uint64(maxTS))
	dst = be.AppendUint64(dst, uint64(h.ProducerID))
	dst = be.AppendUint16(dst, uint16(h.ProducerEpoch))
	dst = be.AppendUint32(dst, uint32(h.BaseSequence))
	return be.AppendUint32(dst, uint32(count))
}

// finishBatch fills in BatchLength (bytes 8-11) and the CRC (bytes 17-20).
func finishBatch(b []byte) {
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-records.LogOverhead))
	binary.BigEndian.PutUint32(b[17:], records.ComputeCRC(b))
}
