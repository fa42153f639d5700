package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrShort means the input ended inside a value.
var ErrShort = errors.New("wire: input ends inside a value")

// ErrInvalid means a value on the wire is impossible: a negative length that
// is not null, a count larger than the bytes left could hold, a varint that
// overflows.
var ErrInvalid = errors.New("wire: invalid value")

// ErrTrailing means a message was decoded but bytes were left over.
var ErrTrailing = errors.New("wire: trailing bytes after message")

// Reader decodes Kafka primitives from a byte slice. The zero value reads
// nothing; use NewReader. See the package comment for the error contract.
type Reader struct {
	b   []byte
	off int
	err error
}

// NewReader returns a Reader over b. Slices returned by Bytes-style methods
// alias b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Reset points r at b, clearing any error.
func (r *Reader) Reset(b []byte) { *r = Reader{b: b} }

// Err is the first error seen, or nil.
func (r *Reader) Err() error { return r.err }

// Len is the number of unread bytes.
func (r *Reader) Len() int { return len(r.b) - r.off }

// Offset is the number of bytes consumed so far.
func (r *Reader) Offset() int { return r.off }

// Remaining returns the unread bytes without consuming them.
func (r *Reader) Remaining() []byte { return r.b[r.off:] }

// Complete reports the first error, or ErrTrailing if bytes are left.
func (r *Reader) Complete() error {
	if r.err != nil {
		return r.err
	}
	if r.off != len(r.b) {
		return fmt.Errorf("%w: %d bytes", ErrTrailing, len(r.b)-r.off)
	}
	return nil
}

// Fail records err if no error was recorded yet.
func (r *Reader) Fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *Reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.err = ErrShort
		return nil
	}
	s := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return s
}

// Bool reads a BOOLEAN (any non-zero byte is true, as Kafka reads it).
func (r *Reader) Bool() bool {
	b := r.take(1)
	return b != nil && b[0] != 0
}

// Int8 reads an INT8.
func (r *Reader) Int8() int8 {
	b := r.take(1)
	if b == nil {
		return 0
	}
	return int8(b[0])
}

// Int16 reads an INT16.
func (r *Reader) Int16() int16 {
	b := r.take(2)
	if b == nil {
		return 0
	}
	return int16(binary.BigEndian.Uint16(b))
}

// Uint16 reads a UINT16.
func (r *Reader) Uint16() uint16 {
	b := r.take(2)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint16(b)
}

// Int32 reads an INT32.
func (r *Reader) Int32() int32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(b))
}

// Uint32 reads a UINT32.
func (r *Reader) Uint32() uint32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

// Int64 reads an INT64.
func (r *Reader) Int64() int64 {
	b := r.take(8)
	if b == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

// Float64 reads a FLOAT64.
func (r *Reader) Float64() float64 {
	b := r.take(8)
	if b == nil {
		return 0
	}
	return math.Float64frombits(binary.BigEndian.Uint64(b))
}

// UUID reads a UUID.
func (r *Reader) UUID() (u [16]byte) {
	b := r.take(16)
	if b != nil {
		copy(u[:], b)
	}
	return u
}

// Uvarint reads an UNSIGNED_VARINT that must fit in 32 bits.
func (r *Reader) Uvarint() uint32 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		if n == 0 {
			r.err = ErrShort
		} else {
			r.err = ErrInvalid
		}
		return 0
	}
	if v > math.MaxUint32 {
		r.err = ErrInvalid
		return 0
	}
	r.off += n
	return uint32(v)
}

// Varint reads a zig-zag VARINT that must fit in 32 bits.
func (r *Reader) Varint() int32 {
	v := r.Varlong()
	if v < math.MinInt32 || v > math.MaxInt32 {
		r.Fail(ErrInvalid)
		return 0
	}
	return int32(v)
}

// Varlong reads a zig-zag VARLONG.
func (r *Reader) Varlong() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		if n == 0 {
			r.err = ErrShort
		} else {
			r.err = ErrInvalid
		}
		return 0
	}
	r.off += n
	return v
}

// String reads a non-null STRING. A null (-1) is read as "".
func (r *Reader) String() string {
	s, _ := r.NullableString()
	return s
}

// NullableString reads a STRING; ok is false for null.
func (r *Reader) NullableString() (s string, ok bool) {
	n := int(r.Int16())
	if r.err != nil {
		return "", false
	}
	if n == -1 {
		return "", false
	}
	if n < 0 {
		r.err = ErrInvalid
		return "", false
	}
	b := r.take(n)
	if b == nil {
		return "", false
	}
	return string(b), true
}

// CompactString reads a non-null COMPACT_STRING. A null is read as "".
func (r *Reader) CompactString() string {
	s, _ := r.CompactNullableString()
	return s
}

// CompactNullableString reads a COMPACT_NULLABLE_STRING; ok is false for null.
func (r *Reader) CompactNullableString() (s string, ok bool) {
	n := r.Uvarint()
	if r.err != nil || n == 0 {
		return "", false
	}
	b := r.take(int(n - 1))
	if b == nil {
		return "", false
	}
	return string(b), true
}

// Bytes reads BYTES or NULLABLE_BYTES; null is nil, empty is a non-nil empty
// slice. The result aliases the input.
func (r *Reader) Bytes() []byte {
	n := int(r.Int32())
	if r.err != nil || n == -1 {
		return nil
	}
	if n < 0 {
		r.err = ErrInvalid
		return nil
	}
	return r.take(n)
}

// CompactBytes reads COMPACT_BYTES or COMPACT_NULLABLE_BYTES; null is nil.
// The result aliases the input.
func (r *Reader) CompactBytes() []byte {
	n := r.Uvarint()
	if r.err != nil || n == 0 {
		return nil
	}
	return r.take(int(n - 1))
}

// Raw reads exactly n bytes, aliasing the input.
func (r *Reader) Raw(n int) []byte { return r.take(n) }

// ArrayLen reads an ARRAY count. It returns -1 for null. minElem is the
// smallest encoded size of one element; a count that the remaining bytes
// could not hold is ErrInvalid, so callers can allocate the result safely.
func (r *Reader) ArrayLen(minElem int) int {
	n := int(r.Int32())
	return r.checkCount(n, minElem)
}

// CompactArrayLen reads a COMPACT_ARRAY count; -1 for null. See ArrayLen.
func (r *Reader) CompactArrayLen(minElem int) int {
	u := r.Uvarint()
	if r.err != nil {
		return -1
	}
	return r.checkCount(int(u)-1, minElem)
}

func (r *Reader) checkCount(n, minElem int) int {
	if r.err != nil {
		return -1
	}
	if n < -1 {
		r.err = ErrInvalid
		return -1
	}
	if minElem < 1 {
		minElem = 1
	}
	if n > 0 && n > r.Len()/minElem {
		r.err = ErrInvalid
		return -1
	}
	return n
}
