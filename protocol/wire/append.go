package wire

import (
	"encoding/binary"
	"math"
)

// AppendBool appends a BOOLEAN.
func AppendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// AppendInt8 appends an INT8.
func AppendInt8(dst []byte, v int8) []byte { return append(dst, byte(v)) }

// AppendInt16 appends an INT16.
func AppendInt16(dst []byte, v int16) []byte { return binary.BigEndian.AppendUint16(dst, uint16(v)) }

// AppendUint16 appends a UINT16.
func AppendUint16(dst []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(dst, v) }

// AppendInt32 appends an INT32.
func AppendInt32(dst []byte, v int32) []byte { return binary.BigEndian.AppendUint32(dst, uint32(v)) }

// AppendUint32 appends a UINT32.
func AppendUint32(dst []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(dst, v) }

// AppendInt64 appends an INT64.
func AppendInt64(dst []byte, v int64) []byte { return binary.BigEndian.AppendUint64(dst, uint64(v)) }

// AppendFloat64 appends a FLOAT64.
func AppendFloat64(dst []byte, v float64) []byte {
	return binary.BigEndian.AppendUint64(dst, math.Float64bits(v))
}

// AppendUUID appends a UUID.
func AppendUUID(dst []byte, v [16]byte) []byte { return append(dst, v[:]...) }

// AppendUvarint appends an UNSIGNED_VARINT.
func AppendUvarint(dst []byte, v uint32) []byte { return binary.AppendUvarint(dst, uint64(v)) }

// AppendVarint appends a zig-zag VARINT.
func AppendVarint(dst []byte, v int32) []byte { return binary.AppendVarint(dst, int64(v)) }

// AppendVarlong appends a zig-zag VARLONG.
func AppendVarlong(dst []byte, v int64) []byte { return binary.AppendVarint(dst, v) }

// AppendString appends a non-null STRING (INT16 length).
func AppendString(dst []byte, v string) []byte {
	dst = AppendInt16(dst, int16(len(v)))
	return append(dst, v...)
}

// AppendNullableString appends a STRING that may be null (length -1).
func AppendNullableString(dst []byte, v *string) []byte {
	if v == nil {
		return AppendInt16(dst, -1)
	}
	return AppendString(dst, *v)
}

// AppendCompactString appends a COMPACT_STRING.
func AppendCompactString(dst []byte, v string) []byte {
	dst = AppendUvarint(dst, uint32(len(v))+1)
	return append(dst, v...)
}

// AppendCompactNullableString appends a COMPACT_NULLABLE_STRING.
func AppendCompactNullableString(dst []byte, v *string) []byte {
	if v == nil {
		return AppendUvarint(dst, 0)
	}
	return AppendCompactString(dst, *v)
}

// AppendBytes appends BYTES (INT32 length); a nil slice is written as empty.
func AppendBytes(dst []byte, v []byte) []byte {
	dst = AppendInt32(dst, int32(len(v)))
	return append(dst, v...)
}

// AppendNullableBytes appends NULLABLE_BYTES: nil is null (-1).
func AppendNullableBytes(dst []byte, v []byte) []byte {
	if v == nil {
		return AppendInt32(dst, -1)
	}
	return AppendBytes(dst, v)
}

// AppendCompactBytes appends COMPACT_BYTES; a nil slice is written as empty.
func AppendCompactBytes(dst []byte, v []byte) []byte {
	dst = AppendUvarint(dst, uint32(len(v))+1)
	return append(dst, v...)
}

// AppendCompactNullableBytes appends COMPACT_NULLABLE_BYTES: nil is null (0).
func AppendCompactNullableBytes(dst []byte, v []byte) []byte {
	if v == nil {
		return AppendUvarint(dst, 0)
	}
	return AppendCompactBytes(dst, v)
}

// AppendArrayLen appends an ARRAY count; n < 0 means null.
func AppendArrayLen(dst []byte, n int) []byte { return AppendInt32(dst, int32(n)) }

// AppendCompactArrayLen appends a COMPACT_ARRAY count; n < 0 means null.
func AppendCompactArrayLen(dst []byte, n int) []byte { return AppendUvarint(dst, uint32(n+1)) }

// UvarintLen is the encoded size of v as an UNSIGNED_VARINT.
func UvarintLen(v uint32) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// VarintLen is the encoded size of v as a zig-zag VARINT.
func VarintLen(v int32) int { return UvarintLen(uint32(v<<1) ^ uint32(v>>31)) }

// VarlongLen is the encoded size of v as a zig-zag VARLONG.
func VarlongLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}
