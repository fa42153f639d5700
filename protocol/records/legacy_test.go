package records

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/stretchr/testify/require"
)

// appendLegacy writes one v0/v1 message by hand, as an old producer would.
func appendLegacy(dst []byte, offset int64, magic, attrs int8, ts int64, key, value []byte) []byte {
	be := binary.BigEndian
	dst = be.AppendUint64(dst, uint64(offset))
	sizeAt := len(dst)
	dst = be.AppendUint32(dst, 0)
	crcAt := len(dst)
	dst = be.AppendUint32(dst, 0)
	dst = append(dst, byte(magic), byte(attrs))
	if magic == 1 {
		dst = be.AppendUint64(dst, uint64(ts))
	}
	for _, b := range [][]byte{key, value} {
		if b == nil {
			dst = be.AppendUint32(dst, 0xffffffff)
			continue
		}
		dst = be.AppendUint32(dst, uint32(len(b)))
		dst = append(dst, b...)
	}
	be.PutUint32(dst[sizeAt:], uint32(len(dst)-sizeAt-4))
	be.PutUint32(dst[crcAt:], crc32.ChecksumIEEE(dst[crcAt+4:]))
	return dst
}

type legacyMsg struct {
	key, value []byte
	ts         int64
}

var legacyMsgs = []legacyMsg{
	{[]byte("k0"), []byte("v0"), 1000},
	{nil, []byte("v1-null-key"), 1002},
	{[]byte("k2"), nil, 1001},
	{[]byte{}, []byte{}, 1003},
}

// legacySet builds a message set. Uncompressed sets get absolute offsets from
// base; compressed ones one wrapper whose inner offsets are relative (v1) or
// absolute (v0), with the wrapper at the last absolute offset.
func legacySet(t *testing.T, magic int8, codec Compression, base int64, wrapperAttrs int8, wrapperTS int64) []byte {
	t.Helper()
	var inner []byte
	for i, m := range legacyMsgs {
		off := base + int64(i)
		if magic == 1 && codec != CompressionNone {
			off = int64(i)
		}
		inner = appendLegacy(inner, off, magic, 0, m.ts, m.key, m.value)
	}
	if codec == CompressionNone {
		return inner
	}
	value, err := Compress(nil, codec, inner)
	require.NoError(t, err)
	last := base + int64(len(legacyMsgs)) - 1
	return appendLegacy(nil, last, magic, int8(codec)|wrapperAttrs, wrapperTS, nil, value)
}

func TestLegacyDecodeAndUpConvert(t *testing.T) {
	for _, magic := range []int8{0, 1} {
		for _, codec := range []Compression{CompressionNone, CompressionGzip, CompressionSnappy, CompressionLZ4} {
			t.Run(fmt.Sprintf("v%d/%s", magic, codec), func(t *testing.T) {
				set := legacySet(t, magic, codec, 100, 0, 5000)
				var got []Message
				err := ForEachMessage(set, testMax, func(m *Message) error {
					c := *m
					c.Key, c.Value = clone(m.Key), clone(m.Value)
					got = append(got, c)
					return nil
				})
				require.NoError(t, err)
				require.Len(t, got, len(legacyMsgs))
				for i, w := range legacyMsgs {
					g := got[i]
					require.Equal(t, int64(100+i), g.Offset)
					require.Equal(t, magic, g.Magic)
					require.Equal(t, w.key == nil, g.Key == nil)
					require.Equal(t, w.value == nil, g.Value == nil)
					require.Equal(t, string(w.key), string(g.Key))
					require.Equal(t, string(w.value), string(g.Value))
					if magic == 0 {
						require.Equal(t, int64(NoTimestamp), g.Timestamp)
					} else {
						require.Equal(t, w.ts, g.Timestamp)
					}
				}

				// Validate each top-level entry as the Produce handler would.
				total := 0
				for b, err := range Batches(set) {
					require.NoError(t, err)
					info, err := Validate(b, testMax)
					require.NoError(t, err)
					require.Equal(t, magic, info.Magic)
					require.Equal(t, codec, info.Compression)
					total += info.RecordCount
					if codec != CompressionNone {
						require.True(t, info.HasNullKey)
						require.Equal(t, int64(100), info.Header.BaseOffset)
						require.Equal(t, int32(3), info.Header.LastOffsetDelta)
						if magic == 1 {
							require.Equal(t, int64(1003), info.MaxTimestamp)
						}
					}
				}
				require.Equal(t, len(legacyMsgs), total)

				for _, target := range []Compression{CompressionNone, CompressionZstd} {
					v2, err := UpConvert(nil, set, testMax, target)
					require.NoError(t, err)
					info, err := Validate(v2, testMax)
					require.NoError(t, err)
					require.Equal(t, len(legacyMsgs), info.RecordCount)
					require.Equal(t, target, info.Compression)
					require.True(t, info.HasNullKey)
					want := make([]Record, len(legacyMsgs))
					for i, m := range legacyMsgs {
						want[i] = Record{Key: m.key, Value: m.value, Timestamp: m.ts}
						if magic == 0 {
							want[i].Timestamp = NoTimestamp
						}
					}
					requireSameRecords(t, want, collect(t, v2), 100)
				}
			})
		}
	}
}

func TestLegacyLogAppendTimeWrapper(t *testing.T) {
	set := legacySet(t, 1, CompressionGzip, 10, legacyTimestampTypeBit, 7777)
	var ts []int64
	require.NoError(t, ForEachMessage(set, testMax, func(m *Message) error {
		ts = append(ts, m.Timestamp)
		return nil
	}))
	require.Equal(t, []int64{7777, 7777, 7777, 7777}, ts)
}

func TestLegacyCorruption(t *testing.T) {
	good := legacySet(t, 1, CompressionGzip, 0, 0, 1)
	for i := range good {
		if i < LengthOffset {
			continue // the offset is outside the CRC
		}
		b := append([]byte{}, good...)
		b[i] ^= 0x10
		_, err := Validate(b, testMax)
		require.Error(t, err, "flip at %d", i)
		_, err = UpConvert(nil, b, testMax, CompressionNone)
		require.Error(t, err, "flip at %d", i)
	}
	for n := range len(good) {
		_, err := Validate(good[:n], testMax)
		require.ErrorIs(t, err, ErrCorrupt, "truncated to %d", n)
		_ = ForEachMessage(good[:n], testMax, func(*Message) error { return nil })
	}

	inner := appendLegacy(nil, 0, 1, 0, 1, nil, []byte("x"))
	gz := func(b []byte) []byte { c, _ := Compress(nil, CompressionGzip, b); return c }
	nested := appendLegacy(nil, 0, 1, int8(CompressionGzip), 1, nil, gz(inner))
	relative := append(appendLegacy(nil, 0, 1, 0, 1, nil, []byte("a")), appendLegacy(nil, 5, 1, 0, 1, nil, []byte("b"))...)
	cases := map[string][]byte{
		"nested compression": appendLegacy(nil, 0, 1, int8(CompressionGzip), 1, nil, gz(nested)),
		"magic mismatch":     appendLegacy(nil, 0, 1, int8(CompressionGzip), 1, nil, gz(appendLegacy(nil, 0, 0, 0, 0, nil, []byte("x")))),
		"null wrapper value": appendLegacy(nil, 0, 1, int8(CompressionGzip), 1, nil, nil),
		"empty wrapper":      appendLegacy(nil, 0, 1, int8(CompressionGzip), 1, nil, gz(nil)),
		"garbage wrapper":    appendLegacy(nil, 0, 1, int8(CompressionGzip), 1, nil, []byte("not gzip")),
		"zstd in v1":         appendLegacy(nil, 0, 1, int8(CompressionZstd), 1, nil, []byte("x")),
		"inner gap":          appendLegacy(nil, 5, 1, int8(CompressionGzip), 1, nil, gz(relative)),
		"v2 inside wrapper":  appendLegacy(nil, 0, 1, int8(CompressionGzip), 1, nil, gz(EndTxnMarker(1, 1, true, 1, 1))),
		"key length -2": func() []byte {
			b := appendLegacy(nil, 0, 0, 0, 0, []byte("k"), nil)
			binary.BigEndian.PutUint32(b[18:], 0xfffffffe)
			binary.BigEndian.PutUint32(b[12:], crc32.ChecksumIEEE(b[16:]))
			return b
		}(),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Validate(b, testMax)
			require.Error(t, err)
			_, err = UpConvert(nil, b, testMax, CompressionNone)
			if name != "inner gap" { // gaps are fine to convert, not to accept from a producer
				require.Error(t, err)
			}
		})
	}
	_, err := Validate(cases["inner gap"], testMax)
	require.ErrorIs(t, err, ErrInvalidRecord)

	// A gzip bomb inside a legacy wrapper.
	bomb := appendLegacy(nil, 0, 1, int8(CompressionGzip), 1, nil, gz(make([]byte, 32<<20)))
	_, err = Validate(bomb, 1<<20)
	require.ErrorIs(t, err, ErrTooLarge)
	_, err = UpConvert(nil, bomb, 1<<20, CompressionNone)
	require.ErrorIs(t, err, ErrTooLarge)
}

// TestLegacyLZ4BrokenChecksum decodes a magic-0 LZ4 wrapper whose frame
// descriptor checksum covers the frame magic too, as pre-0.10 clients wrote.
func TestLegacyLZ4BrokenChecksum(t *testing.T) {
	var inner []byte
	for i := range 3 {
		inner = appendLegacy(inner, int64(i), 0, 0, 0, []byte("k"), []byte(fmt.Sprint("v", i)))
	}
	frame, err := Compress(nil, CompressionLZ4, inner)
	require.NoError(t, err)
	flg := frame[4]
	hcAt := 6
	if flg&0x08 != 0 {
		hcAt += 8
	}
	// Our xxh32 agrees with the checksum pierrec/lz4 wrote.
	require.Equal(t, frame[hcAt], byte(xxh32(frame[4:hcAt])>>8))
	require.Equal(t, uint32(0x02cc5d05), xxh32(nil))
	require.Equal(t, uint32(0x32d153ff), xxh32([]byte("abc")))

	broken := append([]byte{}, frame...)
	broken[hcAt] = byte(xxh32(broken[:hcAt]) >> 8) // magic included: the KAFKA-3160 bug
	require.NotEqual(t, frame[hcAt], broken[hcAt], "pick a payload whose checksums differ")
	for _, v := range [][]byte{frame, broken} {
		set := appendLegacy(nil, 2, 0, int8(CompressionLZ4), 0, nil, v)
		info, err := Validate(set, testMax)
		require.NoError(t, err)
		require.Equal(t, 3, info.RecordCount)
	}
	// v1 gets no such leniency.
	_, err = Validate(appendLegacy(nil, 2, 1, int8(CompressionLZ4), 0, nil, broken), testMax)
	require.ErrorIs(t, err, ErrCorrupt)
}
