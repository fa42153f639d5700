package records

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"sync"
)

// Record is one v2 record. When building, Offset and OffsetDelta are ignored
// (records get deltas 0..n-1) and Timestamp is absolute. When reading, all
// fields are filled and the slices alias the batch or a pooled buffer.
type Record struct {
	Attributes  int8
	Timestamp   int64 // absolute, milliseconds
	OffsetDelta int32
	Offset      int64 // BaseOffset + OffsetDelta
	Key         []byte
	Value       []byte // nil = null (a tombstone on compacted topics)
	Headers     []RecordHeader
}

// RecordHeader is a record header. Kafka never allows a null key; a nil Value
// is a null value.
type RecordHeader struct {
	Key   []byte
	Value []byte
}

// BatchOptions are the batch-level fields of a built batch. Start from
// NewBatchOptions: the zero value means producer ID 0, which is a real ID.
type BatchOptions struct {
	BaseOffset           int64
	PartitionLeaderEpoch int32
	Compression          Compression
	LogAppendTime        bool
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	Transactional        bool
	Control              bool
}

// NewBatchOptions returns options for a plain, non-idempotent, uncompressed
// batch, as a producer without idempotence writes it.
func NewBatchOptions() BatchOptions {
	return BatchOptions{
		PartitionLeaderEpoch: NoPartitionLeaderEp,
		ProducerID:           NoProducerID,
		ProducerEpoch:        NoProducerEpoch,
		BaseSequence:         NoSequence,
	}
}

// ControlType is the type of a control record.
type ControlType int16

const (
	ControlAbort  ControlType = 0
	ControlCommit ControlType = 1
)

// ControlRecord is the decoded key and value of a control record.
type ControlRecord struct {
	Version          int16
	Type             ControlType
	CoordinatorEpoch int32
}

var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// maxPooledBuffer keeps one huge batch from pinning its buffer in a pool.
const maxPooledBuffer = 16 << 20

func getScratch() *[]byte { return scratchPool.Get().(*[]byte) }

func putScratch(b *[]byte) {
	if cap(*b) > maxPooledBuffer {
		return
	}
	*b = (*b)[:0]
	scratchPool.Put(b)
}

// AppendBatch appends a v2 batch holding recs to dst, compressed with
// o.Compression, with a correct CRC. The base timestamp is the first record's;
// MaxTimestamp is the largest record timestamp.
func AppendBatch(dst []byte, o BatchOptions, recs []Record) ([]byte, error) {
	if len(recs) == 0 {
		return dst, errors.New("records: a batch needs at least one record")
	}
	if len(recs) > math.MaxInt32 {
		return dst, errors.New("records: too many records")
	}
	attrs := uint16(o.Compression) & CompressionMask
	if o.LogAppendTime {
		attrs |= TimestampTypeBit
	}
	if o.Transactional {
		attrs |= TransactionalBit
	}
	if o.Control {
		attrs |= ControlBit
	}
	base := recs[0].Timestamp
	maxTS := base
	for i := range recs {
		maxTS = max(maxTS, recs[i].Timestamp)
	}

	start := len(dst)
	be := binary.BigEndian
	dst = be.AppendUint64(dst, uint64(o.BaseOffset))
	dst = be.AppendUint32(dst, 0) // BatchLength, below
	dst = be.AppendUint32(dst, uint32(o.PartitionLeaderEpoch))
	dst = append(dst, 2)
	dst = be.AppendUint32(dst, 0) // CRC, below
	dst = be.AppendUint16(dst, attrs)
	dst = be.AppendUint32(dst, uint32(len(recs)-1))
	dst = be.AppendUint64(dst, uint64(base))
	dst = be.AppendUint64(dst, uint64(maxTS))
	dst = be.AppendUint64(dst, uint64(o.ProducerID))
	dst = be.AppendUint16(dst, uint16(o.ProducerEpoch))
	dst = be.AppendUint32(dst, uint32(o.BaseSequence))
	dst = be.AppendUint32(dst, uint32(len(recs)))

	if o.Compression == CompressionNone {
		for i := range recs {
			dst = AppendRecord(dst, &recs[i], recs[i].Timestamp-base, int32(i))
		}
	} else {
		scratch := getScratch()
		for i := range recs {
			*scratch = AppendRecord(*scratch, &recs[i], recs[i].Timestamp-base, int32(i))
		}
		var err error
		dst, err = Compress(dst, o.Compression, *scratch)
		putScratch(scratch)
		if err != nil {
			return dst[:start], err
		}
	}
	batch := dst[start:]
	if len(batch)-LogOverhead > math.MaxInt32 {
		return dst[:start], errors.New("records: batch too large")
	}
	be.PutUint32(batch[LengthOffset:], uint32(len(batch)-LogOverhead))
	be.PutUint32(batch[crcOffset:], ComputeCRC(batch))
	return dst, nil
}

// EndTxnMarker returns a control batch holding one COMMIT or ABORT marker for
// the producer, as the transaction coordinator writes it to each partition.
func EndTxnMarker(producerID int64, epoch int16, commit bool, coordinatorEpoch int32, ts int64) []byte {
	typ := ControlAbort
	if commit {
		typ = ControlCommit
	}
	key := binary.BigEndian.AppendUint16(make([]byte, 0, 4), 0)
	key = binary.BigEndian.AppendUint16(key, uint16(typ))
	value := binary.BigEndian.AppendUint16(make([]byte, 0, 6), 0)
	value = binary.BigEndian.AppendUint32(value, uint32(coordinatorEpoch))
	o := NewBatchOptions()
	o.ProducerID = producerID
	o.ProducerEpoch = epoch
	o.Transactional = true
	o.Control = true
	b, err := AppendBatch(nil, o, []Record{{Timestamp: ts, Key: key, Value: value}})
	if err != nil { // only possible for an empty or oversized batch
		panic(fmt.Sprintf("records: building txn marker: %v", err))
	}
	return b
}

// ParseControlRecord decodes a control record's key and value. The value is
// read only for ABORT and COMMIT markers, which are the types that carry one.
func ParseControlRecord(key, value []byte) (ControlRecord, error) {
	var c ControlRecord
	if len(key) < 4 {
		return c, fmt.Errorf("%w: control record key of %d bytes", ErrInvalidRecord, len(key))
	}
	c.Version = int16(binary.BigEndian.Uint16(key))
	c.Type = ControlType(binary.BigEndian.Uint16(key[2:]))
	if c.Type == ControlAbort || c.Type == ControlCommit {
		if len(value) < 6 {
			return c, fmt.Errorf("%w: txn marker value of %d bytes", ErrInvalidRecord, len(value))
		}
		c.CoordinatorEpoch = int32(binary.BigEndian.Uint32(value[2:]))
	}
	return c, nil
}

// AppendRecord appends r in the v2 record format (length-prefixed) with the
// given timestamp and offset deltas; the batch header is the caller's.
func AppendRecord(dst []byte, r *Record, tsDelta int64, offDelta int32) []byte {
	n := 1 + varlongLen(tsDelta) + varlongLen(int64(offDelta)) +
		bytesLen(r.Key) + bytesLen(r.Value) + varlongLen(int64(len(r.Headers)))
	for i := range r.Headers {
		n += varlongLen(int64(len(r.Headers[i].Key))) + len(r.Headers[i].Key) + bytesLen(r.Headers[i].Value)
	}
	dst = binary.AppendVarint(dst, int64(n))
	dst = append(dst, byte(r.Attributes))
	dst = binary.AppendVarint(dst, tsDelta)
	dst = binary.AppendVarint(dst, int64(offDelta))
	dst = appendVarBytes(dst, r.Key)
	dst = appendVarBytes(dst, r.Value)
	dst = binary.AppendVarint(dst, int64(len(r.Headers)))
	for i := range r.Headers {
		dst = binary.AppendVarint(dst, int64(len(r.Headers[i].Key)))
		dst = append(dst, r.Headers[i].Key...)
		dst = appendVarBytes(dst, r.Headers[i].Value)
	}
	return dst
}

func appendVarBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}

func bytesLen(b []byte) int {
	if b == nil {
		return 1
	}
	return varlongLen(int64(len(b))) + len(b)
}

// varlongLen is the size of v as a zig-zag varint.
func varlongLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	return (bits.Len64(u|1) + 6) / 7
}
