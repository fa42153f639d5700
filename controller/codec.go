package controller

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// errShort is the sticky error of a reader that ran past its input.
var errShort = errors.New("controller: truncated record")

// The primitives below are the body encoding of every record (see doc.go):
// integers are zig-zag varints, lengths are uvarint(n+1) so that 0 means null.

func appendVarint(dst []byte, v int64) []byte { return binary.AppendVarint(dst, v) }

func appendUvarint(dst []byte, v uint64) []byte { return binary.AppendUvarint(dst, v) }

func appendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, 1)
	}
	return append(dst, 0)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s))+1)
	return append(dst, s...)
}

func appendNullableString(dst []byte, s *string) []byte {
	if s == nil {
		return append(dst, 0)
	}
	return appendString(dst, *s)
}

func appendBytes(dst, b []byte) []byte {
	if b == nil {
		return append(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(len(b))+1)
	return append(dst, b...)
}

// appendInt32s writes a nullable array of int32: nil encodes as null.
func appendInt32s(dst []byte, a []int32) []byte {
	if a == nil {
		return append(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(len(a))+1)
	for _, v := range a {
		dst = binary.AppendVarint(dst, int64(v))
	}
	return dst
}

func appendUUID(dst []byte, id [16]byte) []byte { return append(dst, id[:]...) }

// appendUUIDs writes a nullable array of UUIDs: nil encodes as null.
func appendUUIDs(dst []byte, a [][16]byte) []byte {
	if a == nil {
		return append(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(len(a))+1)
	for _, id := range a {
		dst = append(dst, id[:]...)
	}
	return dst
}

// reader decodes the primitives. Errors are sticky: callers decode a whole
// record and check err once (via complete).
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(errShort)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(errShort)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) int8() int8 { return int8(r.varint()) }

func (r *reader) int16() int16 { return int16(r.varint()) }

func (r *reader) int32() int32 { return int32(r.varint()) }

func (r *reader) int64() int64 { return r.varint() }

func (r *reader) bool() bool {
	if len(r.b) < 1 {
		r.fail(errShort)
		return false
	}
	v := r.b[0] != 0
	r.b = r.b[1:]
	return v
}

// span reads a uvarint(n+1) length prefix; ok is false for null.
func (r *reader) span() (b []byte, ok bool) {
	n := r.uvarint()
	if n == 0 || r.err != nil {
		return nil, false
	}
	n--
	if n > uint64(len(r.b)) {
		r.fail(errShort)
		return nil, false
	}
	b, r.b = r.b[:n:n], r.b[n:]
	return b, true
}

func (r *reader) string() string {
	b, _ := r.span()
	return string(b)
}

func (r *reader) nullableString() *string {
	b, ok := r.span()
	if !ok {
		return nil
	}
	s := string(b)
	return &s
}

func (r *reader) bytes() []byte {
	b, ok := r.span()
	if !ok {
		return nil
	}
	return append([]byte{}, b...)
}

// count reads an array length; -1 means null. It bounds n by the bytes left
// (every element takes at least one byte) so corrupt input cannot force a
// huge allocation.
func (r *reader) count() int {
	n := r.uvarint()
	if n == 0 || r.err != nil {
		return -1
	}
	n--
	if n > uint64(len(r.b)) {
		r.fail(errShort)
		return -1
	}
	return int(n)
}

func (r *reader) int32s() []int32 {
	n := r.count()
	if n < 0 {
		return nil
	}
	a := make([]int32, n)
	for i := range a {
		a[i] = r.int32()
	}
	return a
}

func (r *reader) uuids() [][16]byte {
	n := r.count()
	if n < 0 {
		return nil
	}
	if n*16 > len(r.b) {
		r.fail(errShort)
		return nil
	}
	a := make([][16]byte, n)
	for i := range a {
		a[i] = r.uuid()
	}
	return a
}

func (r *reader) uuid() (id [16]byte) {
	if len(r.b) < 16 {
		r.fail(errShort)
		return id
	}
	copy(id[:], r.b)
	r.b = r.b[16:]
	return id
}

// complete reports the sticky error, or an error if input is left over.
func (r *reader) complete() error {
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return fmt.Errorf("controller: %d trailing bytes in record", len(r.b))
	}
	return nil
}
