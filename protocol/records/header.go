package records

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Layout of a v2 record batch header (61 bytes), all big-endian:
//
//	offset  size  field
//	     0     8  BaseOffset
//	     8     4  BatchLength           bytes after this field
//	    12     4  PartitionLeaderEpoch
//	    16     1  Magic                 2
//	    17     4  CRC                   CRC-32C of bytes 21..end
//	    21     2  Attributes
//	    23     4  LastOffsetDelta
//	    27     8  BaseTimestamp
//	    35     8  MaxTimestamp
//	    43     8  ProducerID
//	    51     2  ProducerEpoch
//	    53     4  BaseSequence
//	    57     4  RecordCount
//	    61     …  records
const (
	HeaderSize = 61
	// LengthOffset is where BatchLength sits; a batch occupies
	// LengthOffset+4+BatchLength bytes.
	LengthOffset = 8
	// LogOverhead is the BaseOffset and BatchLength prefix that every
	// message-set entry (v0, v1 and v2) begins with.
	LogOverhead = 12
	magicOffset = 16
	crcOffset   = 17
	attrOffset  = 21
)

// Attribute bits of a v2 batch.
const (
	CompressionMask     = 0x07
	TimestampTypeBit    = 0x08 // LogAppendTime when set
	TransactionalBit    = 0x10
	ControlBit          = 0x20
	DeleteHorizonBit    = 0x40
	NoProducerID        = -1
	NoProducerEpoch     = -1
	NoSequence          = -1
	NoPartitionLeaderEp = -1
)

// Compression codecs, as carried in the low attribute bits.
type Compression int8

const (
	CompressionNone   Compression = 0
	CompressionGzip   Compression = 1
	CompressionSnappy Compression = 2
	CompressionLZ4    Compression = 3
	CompressionZstd   Compression = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors returned while reading batches. Callers map them to Kafka codes at
// the edge (CORRUPT_MESSAGE, INVALID_RECORD, UNSUPPORTED_COMPRESSION_TYPE).
var (
	ErrCorrupt          = errors.New("records: corrupt batch")
	ErrCRC              = fmt.Errorf("%w: CRC mismatch", ErrCorrupt)
	ErrShortBatch       = fmt.Errorf("%w: batch shorter than its header", ErrCorrupt)
	ErrUnsupportedMagic = errors.New("records: unsupported magic byte")
)

// Header is the decoded fixed part of a v2 batch. Decoding it touches only the
// first 61 bytes; it never looks at the records.
type Header struct {
	BaseOffset           int64
	BatchLength          int32
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	RecordCount          int32
}

// Size is the number of bytes the whole batch occupies, prefix included.
func (h *Header) Size() int { return LogOverhead + int(h.BatchLength) }

// LastOffset is the offset of the batch's last record.
func (h *Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Compression is the codec of the records section.
func (h *Header) Compression() Compression { return Compression(h.Attributes & CompressionMask) }

// IsTransactional reports whether the batch belongs to a transaction.
func (h *Header) IsTransactional() bool { return h.Attributes&TransactionalBit != 0 }

// IsControl reports whether the batch holds control records (txn markers).
func (h *Header) IsControl() bool { return h.Attributes&ControlBit != 0 }

// LogAppendTime reports whether timestamps are broker append time.
func (h *Header) LogAppendTime() bool { return h.Attributes&TimestampTypeBit != 0 }

// ParseHeader decodes the v2 header at the start of b. It checks the magic
// byte and that b holds at least the header; it does not check the CRC.
func ParseHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < LogOverhead+5 {
		return h, ErrShortBatch
	}
	if m := int8(b[magicOffset]); m != 2 {
		return h, fmt.Errorf("%w: %d", ErrUnsupportedMagic, m)
	}
	if len(b) < HeaderSize {
		return h, ErrShortBatch
	}
	be := binary.BigEndian
	h.BaseOffset = int64(be.Uint64(b[0:]))
	h.BatchLength = int32(be.Uint32(b[8:]))
	h.PartitionLeaderEpoch = int32(be.Uint32(b[12:]))
	h.Magic = int8(b[16])
	h.CRC = be.Uint32(b[17:])
	h.Attributes = int16(be.Uint16(b[21:]))
	h.LastOffsetDelta = int32(be.Uint32(b[23:]))
	h.BaseTimestamp = int64(be.Uint64(b[27:]))
	h.MaxTimestamp = int64(be.Uint64(b[35:]))
	h.ProducerID = int64(be.Uint64(b[43:]))
	h.ProducerEpoch = int16(be.Uint16(b[51:]))
	h.BaseSequence = int32(be.Uint32(b[53:]))
	h.RecordCount = int32(be.Uint32(b[57:]))
	if h.BatchLength < HeaderSize-LogOverhead {
		return h, fmt.Errorf("%w: batch length %d below header size", ErrCorrupt, h.BatchLength)
	}
	return h, nil
}

// ComputeCRC returns the CRC-32C that a v2 batch's CRC field must hold: the
// checksum of everything from the attributes to the end of the batch.
// b must be exactly one batch.
func ComputeCRC(b []byte) uint32 { return crc32.Checksum(b[attrOffset:], castagnoli) }

// VerifyCRC checks the CRC of the single v2 batch b (prefix included).
func VerifyCRC(b []byte) error {
	if len(b) < HeaderSize {
		return ErrShortBatch
	}
	want := binary.BigEndian.Uint32(b[crcOffset:])
	if got := ComputeCRC(b); got != want {
		return fmt.Errorf("%w: stored %08x, computed %08x", ErrCRC, want, got)
	}
	return nil
}

// SetBaseOffset rewrites the BaseOffset of the batch at the start of b. The
// base offset is outside the CRC, so the batch stays valid: this is how the
// broker assigns offsets without re-encoding.
func SetBaseOffset(b []byte, off int64) { binary.BigEndian.PutUint64(b[0:], uint64(off)) }

// SetPartitionLeaderEpoch rewrites the leader epoch, also outside the CRC.
func SetPartitionLeaderEpoch(b []byte, epoch int32) {
	binary.BigEndian.PutUint32(b[12:], uint32(epoch))
}

// SetLogAppendTime switches a batch to LogAppendTime with MaxTimestamp ts and
// recomputes the CRC, which covers both fields.
func SetLogAppendTime(b []byte, ts int64) {
	be := binary.BigEndian
	attrs := be.Uint16(b[attrOffset:]) | TimestampTypeBit
	be.PutUint16(b[attrOffset:], attrs)
	be.PutUint64(b[35:], uint64(ts))
	be.PutUint32(b[crcOffset:], ComputeCRC(b))
}
