package records

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"
)

// NoTimestamp is the timestamp of records that have none (magic 0).
const NoTimestamp = -1

// Legacy attribute bits (one byte).
const legacyTimestampTypeBit = 0x08

// Message is one decoded legacy (v0/v1) message. Offset is absolute even for
// messages inside a v1 wrapper. Key and Value alias the input or a pooled
// buffer.
type Message struct {
	Offset     int64
	Magic      int8
	Attributes int8
	Timestamp  int64 // NoTimestamp for magic 0
	Key        []byte
	Value      []byte
}

func legacyMinSize(magic int8) int32 {
	if magic == 0 {
		return 4 + 1 + 1 + 4 + 4 // crc, magic, attributes, key length, value length
	}
	return 4 + 1 + 1 + 8 + 4 + 4 // plus timestamp
}

// parseMessage decodes exactly one legacy message (entry is its full bytes,
// offset and size included) and checks its CRC.
func parseMessage(entry []byte) (Message, Compression, error) {
	var m Message
	if len(entry) < LogOverhead+5 {
		return m, 0, ErrShortBatch
	}
	be := binary.BigEndian
	m.Offset = int64(be.Uint64(entry))
	m.Magic = int8(entry[magicOffset])
	if m.Magic != 0 && m.Magic != 1 {
		return m, 0, fmt.Errorf("%w: %d in a legacy message set", ErrUnsupportedMagic, m.Magic)
	}
	if len(entry) < LogOverhead+int(legacyMinSize(m.Magic)) ||
		int(be.Uint32(entry[LengthOffset:])) != len(entry)-LogOverhead {
		return m, 0, fmt.Errorf("%w: bad legacy message size", ErrCorrupt)
	}
	if want, got := be.Uint32(entry[LogOverhead:]), crc32.ChecksumIEEE(entry[magicOffset:]); want != got {
		return m, 0, fmt.Errorf("%w: stored %08x, computed %08x", ErrCRC, want, got)
	}
	m.Attributes = int8(entry[magicOffset+1])
	p := magicOffset + 2
	m.Timestamp = NoTimestamp
	if m.Magic == 1 {
		m.Timestamp = int64(be.Uint64(entry[p:]))
		p += 8
	}
	var err error
	if m.Key, p, err = legacyBytes(entry, p); err != nil {
		return m, 0, fmt.Errorf("key: %w", err)
	}
	if m.Value, p, err = legacyBytes(entry, p); err != nil {
		return m, 0, fmt.Errorf("value: %w", err)
	}
	if p != len(entry) {
		return m, 0, fmt.Errorf("%w: %d bytes after legacy message value", ErrCorrupt, len(entry)-p)
	}
	codec := Compression(m.Attributes & CompressionMask)
	if codec > CompressionLZ4 {
		return m, 0, fmt.Errorf("%w: %d in a magic %d message", ErrUnsupportedCompression, codec, m.Magic)
	}
	return m, codec, nil
}

func legacyBytes(b []byte, p int) ([]byte, int, error) {
	if len(b)-p < 4 {
		return nil, p, fmt.Errorf("%w: truncated length", ErrCorrupt)
	}
	n := int32(binary.BigEndian.Uint32(b[p:]))
	p += 4
	if n == -1 {
		return nil, p, nil
	}
	if n < 0 || int(n) > len(b)-p {
		return nil, p, fmt.Errorf("%w: length %d with %d bytes left", ErrCorrupt, n, len(b)-p)
	}
	return b[p : p+int(n) : p+int(n)], p + int(n), nil
}

// ForEachMessage decodes a legacy (v0/v1) message set, verifying every CRC,
// and calls fn for each message in order. Compressed wrappers are opened
// (each bounded by maxDecompressed) and their inner messages reported with
// absolute offsets instead of the wrapper. m and its slices are valid only
// during the call. An error from fn stops the iteration and is returned as is.
func ForEachMessage(set []byte, maxDecompressed int, fn func(m *Message) error) error {
	for len(set) > 0 {
		n, err := entrySize(set)
		if err != nil {
			return err
		}
		m, codec, err := parseMessage(set[:n])
		if err != nil {
			return err
		}
		set = set[n:]
		if codec == CompressionNone {
			if err := fn(&m); err != nil {
				return err
			}
			continue
		}
		if err := forEachInner(&m, codec, maxDecompressed, fn); err != nil {
			return err
		}
	}
	return nil
}

// forEachInner reports the messages inside the compressed wrapper w.
func forEachInner(w *Message, codec Compression, maxDecompressed int, fn func(m *Message) error) error {
	if w.Value == nil {
		return fmt.Errorf("%w: compressed wrapper with a null value", ErrCorrupt)
	}
	value := w.Value
	if w.Magic == 0 && codec == CompressionLZ4 {
		value = fixLegacyLZ4(value)
	}
	scratch := getScratch()
	defer putScratch(scratch)
	inner, err := Decompress((*scratch)[:0], codec, value, maxDecompressed)
	*scratch = inner
	if err != nil {
		return err
	}
	// First pass: check every inner message and find the last offset, which
	// v1 needs to turn relative offsets into absolute ones.
	var count int
	var last int64
	for rest := inner; len(rest) > 0; count++ {
		n, err := entrySize(rest)
		if err != nil {
			return fmt.Errorf("inner message %d: %w", count, err)
		}
		m, c, err := parseMessage(rest[:n])
		if err != nil {
			return fmt.Errorf("inner message %d: %w", count, err)
		}
		if c != CompressionNone {
			return fmt.Errorf("%w: compressed message inside a compressed wrapper", ErrInvalidRecord)
		}
		if m.Magic != w.Magic {
			return fmt.Errorf("%w: magic %d message inside a magic %d wrapper", ErrInvalidRecord, m.Magic, w.Magic)
		}
		last = m.Offset
		rest = rest[n:]
	}
	if count == 0 {
		return fmt.Errorf("%w: compressed wrapper holds no messages", ErrInvalidRecord)
	}
	for rest := inner; len(rest) > 0; {
		n, _ := entrySize(rest)
		m, _, _ := parseMessage(rest[:n])
		rest = rest[n:]
		if w.Magic == 1 {
			m.Offset = w.Offset - last + m.Offset
			if w.Attributes&legacyTimestampTypeBit != 0 {
				m.Timestamp = w.Timestamp
				m.Attributes |= legacyTimestampTypeBit
			}
		}
		if err := fn(&m); err != nil {
			return err
		}
	}
	return nil
}

// validateLegacy is Validate for one top-level v0/v1 message.
func validateLegacy(entry []byte, maxDecompressed int) (BatchInfo, error) {
	info := BatchInfo{Magic: Magic(entry), MaxTimestamp: NoTimestamp}
	if len(entry) > magicOffset+1 {
		info.Header.Attributes = int16(entry[magicOffset+1])
		info.Compression = Compression(entry[magicOffset+1] & CompressionMask)
	}
	var first, prev int64
	info.MinTimestamp = math.MaxInt64
	err := ForEachMessage(entry, maxDecompressed, func(m *Message) error {
		if info.RecordCount == 0 {
			first = m.Offset
		} else if info.Magic == 1 && info.Compression != CompressionNone && m.Offset != prev+1 {
			return fmt.Errorf("%w: inner offsets not consecutive", ErrInvalidRecord)
		}
		prev = m.Offset
		info.RecordCount++
		info.MaxTimestamp = max(info.MaxTimestamp, m.Timestamp)
		info.MinTimestamp = min(info.MinTimestamp, m.Timestamp)
		if m.Key == nil {
			info.HasNullKey = true
		}
		return nil
	})
	if err != nil {
		return info, err
	}
	info.Header.Magic = info.Magic
	info.Header.BaseOffset = first
	info.Header.LastOffsetDelta = int32(prev - first)
	return info, nil
}

// UpConvert converts a legacy v0/v1 message set into one v2 batch appended to
// dst, compressed with codec, as the broker does for old producers. Keys,
// values and timestamps are kept (magic 0 has none: NoTimestamp); offsets are
// renumbered 0..n-1 from the first message's offset, since the broker assigns
// offsets anyway.
func UpConvert(dst, set []byte, maxDecompressed int, codec Compression) ([]byte, error) {
	type span struct {
		ts                int64
		keyAt, keyLen     int // keyLen -1 = null
		valueAt, valueLen int
		offset            int64
	}
	var (
		arena []byte
		spans []span
	)
	err := ForEachMessage(set, maxDecompressed, func(m *Message) error {
		s := span{ts: m.Timestamp, offset: m.Offset, keyLen: -1, valueLen: -1}
		if m.Key != nil {
			s.keyAt, s.keyLen = len(arena), len(m.Key)
			arena = append(arena, m.Key...)
		}
		if m.Value != nil {
			s.valueAt, s.valueLen = len(arena), len(m.Value)
			arena = append(arena, m.Value...)
		}
		spans = append(spans, s)
		return nil
	})
	if err != nil {
		return dst, err
	}
	if len(spans) == 0 {
		return dst, fmt.Errorf("%w: empty message set", ErrInvalidRecord)
	}
	recs := make([]Record, len(spans))
	for i, s := range spans {
		recs[i].Timestamp = s.ts
		if s.keyLen >= 0 {
			recs[i].Key = arena[s.keyAt : s.keyAt+s.keyLen : s.keyAt+s.keyLen]
		}
		if s.valueLen >= 0 {
			recs[i].Value = arena[s.valueAt : s.valueAt+s.valueLen : s.valueAt+s.valueLen]
		}
	}
	o := NewBatchOptions()
	o.BaseOffset = spans[0].offset
	o.Compression = codec
	return AppendBatch(dst, o, recs)
}

// lz4FrameMagic starts every LZ4 frame.
const lz4FrameMagic = 0x184D2204

// fixLegacyLZ4 returns a copy of a magic-0 LZ4 wrapper value with the frame
// descriptor checksum recomputed. Clients before Kafka 0.10 hashed the frame
// magic into that checksum (KAFKA-3160), and magic-0 data keeps the mistake
// for compatibility, so brokers ignore the field for magic 0. Values that are
// not a plausible frame are returned unchanged for the decoder to reject.
func fixLegacyLZ4(value []byte) []byte {
	if len(value) < 7 || binary.LittleEndian.Uint32(value) != lz4FrameMagic {
		return value
	}
	flg := value[4]
	hcAt := 6
	if flg&0x08 != 0 { // content size present
		hcAt += 8
	}
	if flg&0x01 != 0 { // dictionary ID present
		hcAt += 4
	}
	if len(value) <= hcAt {
		return value
	}
	fixed := append([]byte(nil), value...)
	fixed[hcAt] = byte(xxh32(fixed[4:hcAt]) >> 8) // hcAt-4 <= 14 bytes
	return fixed
}

// xxh32 is XXH32 with seed 0 for inputs shorter than 16 bytes, which an LZ4
// frame descriptor always is (at most 14).
func xxh32(b []byte) uint32 {
	const (
		p1 = 2654435761
		p2 = 2246822519
		p3 = 3266489917
		p4 = 668265263
		p5 = 374761393
	)
	h := uint32(p5) + uint32(len(b))
	for ; len(b) >= 4; b = b[4:] {
		h = bits.RotateLeft32(h+binary.LittleEndian.Uint32(b)*p3, 17) * p4
	}
	for _, c := range b {
		h = bits.RotateLeft32(h+uint32(c)*p5, 11) * p1
	}
	h ^= h >> 15
	h *= p2
	h ^= h >> 13
	h *= p3
	h ^= h >> 16
	return h
}
