package records

import (
	"encoding/binary"
	"fmt"
	"iter"
	"math"
)

// ErrInvalidRecord marks a batch that decodes but breaks a rule Kafka
// enforces on produced data (offset deltas not 0..n-1, record count
// mismatch): INVALID_RECORD at the edge rather than CORRUPT_MESSAGE. It wraps
// ErrCorrupt, so check it first.
var ErrInvalidRecord = fmt.Errorf("%w: invalid record", ErrCorrupt)

// minRecordSize is the smallest encoded v2 record: length, attributes,
// timestamp delta, offset delta, key length, value length, header count,
// one byte each.
const minRecordSize = 7

// Batches iterates over a concatenation of batches (v2) and top-level legacy
// messages (v0/v1), yielding each one's raw bytes, prefix included. It checks
// only framing: that each length is plausible and fits. A malformed or
// truncated entry yields a nil batch and an error, and ends the iteration.
func Batches(b []byte) iter.Seq2[[]byte, error] {
	return func(yield func([]byte, error) bool) {
		for len(b) > 0 {
			n, err := entrySize(b)
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(b[:n:n], nil) {
				return
			}
			b = b[n:]
		}
	}
}

// Magic returns the magic byte of the batch or legacy message at the start of
// b, or -1 if b is too short to hold one.
func Magic(b []byte) int8 {
	if len(b) <= magicOffset {
		return -1
	}
	return int8(b[magicOffset])
}

// entrySize returns the size of the batch or message at the start of b.
func entrySize(b []byte) (int, error) {
	if len(b) < LogOverhead+5 {
		return 0, fmt.Errorf("%w: %d trailing bytes", ErrShortBatch, len(b))
	}
	length := int32(binary.BigEndian.Uint32(b[LengthOffset:]))
	var minLen int32
	switch m := int8(b[magicOffset]); m {
	case 0:
		minLen = legacyMinSize(0)
	case 1:
		minLen = legacyMinSize(1)
	case 2:
		minLen = HeaderSize - LogOverhead
	default:
		return 0, fmt.Errorf("%w: %d", ErrUnsupportedMagic, m)
	}
	if length < minLen {
		return 0, fmt.Errorf("%w: length %d below minimum %d", ErrCorrupt, length, minLen)
	}
	n := LogOverhead + int(length)
	if n > len(b) {
		return 0, fmt.Errorf("%w: length %d, only %d bytes", ErrShortBatch, length, len(b)-LogOverhead)
	}
	return n, nil
}

// BatchInfo summarises a validated batch.
type BatchInfo struct {
	Magic int8
	// Header is the decoded v2 header; for legacy messages only BaseOffset
	// (first offset), LastOffsetDelta and Attributes (the wrapper's) are set.
	Header      Header
	Compression Compression
	// RecordCount is the number of records (inner messages for legacy).
	RecordCount int
	// MaxTimestamp is the largest record timestamp (CreateTime), or the
	// header's MaxTimestamp for LogAppendTime batches.
	MaxTimestamp int64
	// MinTimestamp is the smallest record timestamp, for the broker's
	// message.timestamp.before.max.ms check (CreateTime batches).
	MinTimestamp int64
	// HasNullKey reports whether any record has a null key, which a
	// compacted topic rejects.
	HasNullKey bool
}

// Validate checks one batch as the broker must before appending it: framing,
// CRC, codec, and that the records decode to exactly RecordCount well-formed
// records with offset deltas 0..n-1. Compressed records are decompressed
// once into a pooled buffer, bounded by maxDecompressed bytes. v2 batches are
// validated without allocating per record (without allocating at all when
// uncompressed). Legacy v0/v1 messages are validated too, wrappers included.
func Validate(batch []byte, maxDecompressed int) (BatchInfo, error) {
	var info BatchInfo
	n, err := entrySize(batch)
	if err != nil {
		return info, err
	}
	if n != len(batch) {
		return info, fmt.Errorf("%w: %d bytes after the batch", ErrCorrupt, len(batch)-n)
	}
	info.Magic = Magic(batch)
	if info.Magic < 2 {
		return validateLegacy(batch, maxDecompressed)
	}
	h, err := ParseHeader(batch)
	if err != nil {
		return info, err
	}
	info.Header = h
	info.Compression = h.Compression()
	if err := VerifyCRC(batch); err != nil {
		return info, err
	}
	if h.RecordCount <= 0 {
		return info, fmt.Errorf("%w: batch has %d records", ErrInvalidRecord, h.RecordCount)
	}
	if h.LastOffsetDelta != h.RecordCount-1 {
		return info, fmt.Errorf("%w: last offset delta %d with %d records", ErrInvalidRecord, h.LastOffsetDelta, h.RecordCount)
	}
	data, scratch, err := recordsSection(batch, h, maxDecompressed)
	if scratch != nil {
		defer putScratch(scratch)
	}
	if err != nil {
		return info, err
	}
	if int64(h.RecordCount)*minRecordSize > int64(len(data)) {
		return info, fmt.Errorf("%w: %d records cannot fit in %d bytes", ErrCorrupt, h.RecordCount, len(data))
	}
	rr := recordReader{b: data}
	var rec Record
	maxTS, minTS := int64(math.MinInt64), int64(math.MaxInt64)
	for i := range h.RecordCount {
		if err := rr.next(&rec, h.BaseTimestamp, false); err != nil {
			return info, fmt.Errorf("record %d: %w", i, err)
		}
		if rec.OffsetDelta != i {
			return info, fmt.Errorf("%w: record %d has offset delta %d", ErrInvalidRecord, i, rec.OffsetDelta)
		}
		maxTS = max(maxTS, rec.Timestamp)
		minTS = min(minTS, rec.Timestamp)
		if rec.Key == nil {
			info.HasNullKey = true
		}
	}
	if rr.off != len(rr.b) {
		return info, fmt.Errorf("%w: %d bytes after %d records", ErrInvalidRecord, len(rr.b)-rr.off, h.RecordCount)
	}
	if h.IsControl() && h.RecordCount != 1 {
		return info, fmt.Errorf("%w: control batch with %d records", ErrInvalidRecord, h.RecordCount)
	}
	info.RecordCount = int(h.RecordCount)
	info.MaxTimestamp, info.MinTimestamp = maxTS, minTS
	if h.LogAppendTime() {
		info.MaxTimestamp, info.MinTimestamp = h.MaxTimestamp, h.MaxTimestamp
	}
	return info, nil
}

// ForEachRecord verifies the CRC of one batch and calls fn for each record in
// order. Unlike Validate it accepts offset gaps (compacted batches). r, its
// slices and its Headers are reused and valid only during the call. Legacy
// messages are reported as records with Attributes 0 and no headers. An error
// from fn stops the iteration and is returned as is.
func ForEachRecord(batch []byte, maxDecompressed int, fn func(r *Record) error) error {
	n, err := entrySize(batch)
	if err != nil {
		return err
	}
	if n != len(batch) {
		return fmt.Errorf("%w: %d bytes after the batch", ErrCorrupt, len(batch)-n)
	}
	if Magic(batch) < 2 {
		var rec Record
		return ForEachMessage(batch, maxDecompressed, func(m *Message) error {
			rec = Record{Timestamp: m.Timestamp, Offset: m.Offset, Key: m.Key, Value: m.Value}
			return fn(&rec)
		})
	}
	h, err := ParseHeader(batch)
	if err != nil {
		return err
	}
	if err := VerifyCRC(batch); err != nil {
		return err
	}
	if h.RecordCount < 0 {
		return fmt.Errorf("%w: batch has %d records", ErrCorrupt, h.RecordCount)
	}
	data, scratch, err := recordsSection(batch, h, maxDecompressed)
	if scratch != nil {
		defer putScratch(scratch)
	}
	if err != nil {
		return err
	}
	if int64(h.RecordCount)*minRecordSize > int64(len(data)) {
		return fmt.Errorf("%w: %d records cannot fit in %d bytes", ErrCorrupt, h.RecordCount, len(data))
	}
	rr := recordReader{b: data}
	var rec Record
	for i := range h.RecordCount {
		if err := rr.next(&rec, h.BaseTimestamp, true); err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
		rec.Offset = h.BaseOffset + int64(rec.OffsetDelta)
		if err := fn(&rec); err != nil {
			return err
		}
	}
	if rr.off != len(rr.b) {
		return fmt.Errorf("%w: %d bytes after %d records", ErrCorrupt, len(rr.b)-rr.off, h.RecordCount)
	}
	return nil
}

// recordsSection returns the batch's records, decompressed into a pooled
// buffer (returned so the caller can release it) when the batch is compressed.
func recordsSection(batch []byte, h Header, maxDecompressed int) ([]byte, *[]byte, error) {
	data := batch[HeaderSize:]
	codec := h.Compression()
	if codec == CompressionNone {
		return data, nil, nil
	}
	if codec > CompressionZstd {
		return nil, nil, fmt.Errorf("%w: %d", ErrUnsupportedCompression, codec)
	}
	scratch := getScratch()
	out, err := Decompress((*scratch)[:0], codec, data, maxDecompressed)
	*scratch = out
	if err != nil {
		return nil, scratch, err
	}
	return out, scratch, nil
}

// recordReader walks the records section of a v2 batch.
type recordReader struct {
	b   []byte
	off int
}

func (r *recordReader) varlong() (int64, bool) {
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		return 0, false
	}
	r.off += n
	return v, true
}

func (r *recordReader) varint() (int32, bool) {
	v, ok := r.varlong()
	if !ok || v < math.MinInt32 || v > math.MaxInt32 {
		return 0, false
	}
	return int32(v), true
}

// bytes reads a varint length and that many bytes; length -1 is null.
func (r *recordReader) bytes(nullable bool) ([]byte, error) {
	n, ok := r.varint()
	if !ok {
		return nil, fmt.Errorf("%w: bad length varint", ErrCorrupt)
	}
	if n == -1 && nullable {
		return nil, nil
	}
	if n < 0 || int(n) > len(r.b)-r.off {
		return nil, fmt.Errorf("%w: length %d with %d bytes left", ErrCorrupt, n, len(r.b)-r.off)
	}
	b := r.b[r.off : r.off+int(n) : r.off+int(n)]
	r.off += int(n)
	return b, nil
}

// next decodes one record into rec. Headers are collected only when
// wantHeaders is set; otherwise they are checked and skipped, so that
// validation never grows a slice.
func (r *recordReader) next(rec *Record, baseTS int64, wantHeaders bool) error {
	length, ok := r.varint()
	if !ok {
		return fmt.Errorf("%w: bad record length varint", ErrCorrupt)
	}
	if length < minRecordSize-1 || int(length) > len(r.b)-r.off {
		return fmt.Errorf("%w: record length %d with %d bytes left", ErrCorrupt, length, len(r.b)-r.off)
	}
	end := r.off + int(length)
	outer := r.b
	r.b = r.b[:end] // the record's fields must stay inside its length; restored on success

	rec.Attributes = int8(r.b[r.off])
	r.off++
	tsDelta, ok := r.varlong()
	if !ok {
		return fmt.Errorf("%w: bad timestamp delta", ErrCorrupt)
	}
	rec.Timestamp = baseTS + tsDelta
	if rec.OffsetDelta, ok = r.varint(); !ok {
		return fmt.Errorf("%w: bad offset delta", ErrCorrupt)
	}
	var err error
	if rec.Key, err = r.bytes(true); err != nil {
		return fmt.Errorf("key: %w", err)
	}
	if rec.Value, err = r.bytes(true); err != nil {
		return fmt.Errorf("value: %w", err)
	}
	count, ok := r.varint()
	if !ok || count < 0 || int(count) > (len(r.b)-r.off)/2 {
		return fmt.Errorf("%w: bad header count %d", ErrCorrupt, count)
	}
	rec.Headers = rec.Headers[:0]
	for range count {
		k, err := r.bytes(false)
		if err != nil {
			return fmt.Errorf("header key: %w", err)
		}
		v, err := r.bytes(true)
		if err != nil {
			return fmt.Errorf("header value: %w", err)
		}
		if wantHeaders {
			rec.Headers = append(rec.Headers, RecordHeader{Key: k, Value: v})
		}
	}
	if r.off != end {
		return fmt.Errorf("%w: record length %d, fields take %d", ErrCorrupt, length, int(length)-(end-r.off))
	}
	r.b = outer
	return nil
}
