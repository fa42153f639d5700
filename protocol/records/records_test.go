package records

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/golang/snappy"
	"github.com/stretchr/testify/require"
)

var allCodecs = []Compression{CompressionNone, CompressionGzip, CompressionSnappy, CompressionLZ4, CompressionZstd}

const testMax = 64 << 20

// sampleRecords covers null keys, null values (tombstones), empty values,
// headers with null values, and timestamps below the first one (negative
// deltas).
func sampleRecords(n int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		r := &recs[i]
		r.Timestamp = 1_700_000_000_000 + int64(i*7%13) - 5
		switch i % 5 {
		case 0:
			r.Key = nil
			r.Value = []byte(fmt.Sprintf("value-%d", i))
		case 1:
			r.Key = []byte(fmt.Sprintf("key-%d", i))
			r.Value = nil
		case 2:
			r.Key = []byte{}
			r.Value = []byte{}
		case 3:
			r.Key = []byte(fmt.Sprintf("k%d", i))
			r.Value = bytes.Repeat([]byte{byte(i)}, 300+i)
			r.Headers = []RecordHeader{{Key: []byte("h1"), Value: []byte("v1")}, {Key: []byte("null"), Value: nil}, {Key: []byte{}, Value: []byte{}}}
		case 4:
			r.Key = []byte("same-key")
			r.Value = []byte("x")
			r.Headers = []RecordHeader{{Key: []byte("trace"), Value: []byte(fmt.Sprint(i))}}
		}
	}
	return recs
}

// collect reads every record of batch into owned copies.
func collect(t testing.TB, batch []byte) []Record {
	t.Helper()
	var out []Record
	err := ForEachRecord(batch, testMax, func(r *Record) error {
		c := Record{Attributes: r.Attributes, Timestamp: r.Timestamp, OffsetDelta: r.OffsetDelta, Offset: r.Offset,
			Key: clone(r.Key), Value: clone(r.Value)}
		for _, h := range r.Headers {
			c.Headers = append(c.Headers, RecordHeader{Key: clone(h.Key), Value: clone(h.Value)})
		}
		out = append(out, c)
		return nil
	})
	require.NoError(t, err)
	return out
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

func requireSameRecords(t *testing.T, want, got []Record, baseOffset int64) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		w, g := want[i], got[i]
		require.Equal(t, w.Timestamp, g.Timestamp, "record %d", i)
		require.Equal(t, int32(i), g.OffsetDelta, "record %d", i)
		require.Equal(t, baseOffset+int64(i), g.Offset, "record %d", i)
		require.Equal(t, w.Key == nil, g.Key == nil, "record %d key nullness", i)
		require.Equal(t, w.Value == nil, g.Value == nil, "record %d value nullness", i)
		require.Equal(t, string(w.Key), string(g.Key), "record %d", i)
		require.Equal(t, string(w.Value), string(g.Value), "record %d", i)
		require.Len(t, g.Headers, len(w.Headers), "record %d", i)
		for j := range w.Headers {
			require.Equal(t, string(w.Headers[j].Key), string(g.Headers[j].Key))
			require.Equal(t, w.Headers[j].Value == nil, g.Headers[j].Value == nil)
			require.Equal(t, string(w.Headers[j].Value), string(g.Headers[j].Value))
		}
	}
}

func maxTimestamp(recs []Record) int64 {
	m := recs[0].Timestamp
	for _, r := range recs {
		m = max(m, r.Timestamp)
	}
	return m
}

func minTimestamp(recs []Record) int64 {
	m := recs[0].Timestamp
	for _, r := range recs {
		m = min(m, r.Timestamp)
	}
	return m
}

func TestRoundTrip(t *testing.T) {
	for _, codec := range allCodecs {
		for _, n := range []int{1, 5, 1000} {
			t.Run(fmt.Sprintf("%s/%d", codec, n), func(t *testing.T) {
				recs := sampleRecords(n)
				o := NewBatchOptions()
				o.Compression = codec
				o.BaseOffset = 42
				o.ProducerID = 7001
				o.ProducerEpoch = 3
				o.BaseSequence = 99
				o.Transactional = true
				prefix := []byte("prefix")
				b, err := AppendBatch(append([]byte{}, prefix...), o, recs)
				require.NoError(t, err)
				require.Equal(t, prefix, b[:len(prefix)])
				batch := b[len(prefix):]

				require.NoError(t, VerifyCRC(batch))
				h, err := ParseHeader(batch)
				require.NoError(t, err)
				require.Equal(t, len(batch), h.Size())
				require.Equal(t, codec, h.Compression())
				require.True(t, h.IsTransactional())
				require.False(t, h.IsControl())
				require.Equal(t, int64(7001), h.ProducerID)
				require.Equal(t, int16(3), h.ProducerEpoch)
				require.Equal(t, int32(99), h.BaseSequence)
				require.Equal(t, int32(n), h.RecordCount)
				require.Equal(t, int32(n-1), h.LastOffsetDelta)
				require.Equal(t, recs[0].Timestamp, h.BaseTimestamp)
				require.Equal(t, maxTimestamp(recs), h.MaxTimestamp)

				info, err := Validate(batch, testMax)
				require.NoError(t, err)
				require.Equal(t, n, info.RecordCount)
				require.Equal(t, maxTimestamp(recs), info.MaxTimestamp)
				require.Equal(t, minTimestamp(recs), info.MinTimestamp)
				require.True(t, info.HasNullKey)
				require.Equal(t, codec, info.Compression)

				requireSameRecords(t, recs, collect(t, batch), 42)
			})
		}
	}
}

func TestValidateNoNullKey(t *testing.T) {
	recs := sampleRecords(10)
	for i := range recs {
		if recs[i].Key == nil {
			recs[i].Key = []byte("k")
		}
	}
	b, err := AppendBatch(nil, NewBatchOptions(), recs)
	require.NoError(t, err)
	info, err := Validate(b, testMax)
	require.NoError(t, err)
	require.False(t, info.HasNullKey)
}

func TestLogAppendTime(t *testing.T) {
	b, err := AppendBatch(nil, NewBatchOptions(), sampleRecords(3))
	require.NoError(t, err)
	SetLogAppendTime(b, 123)
	SetBaseOffset(b, 1000)
	SetPartitionLeaderEpoch(b, 9)
	info, err := Validate(b, testMax)
	require.NoError(t, err)
	require.Equal(t, int64(123), info.MaxTimestamp)
	require.Equal(t, int64(1000), info.Header.BaseOffset)
	require.Equal(t, int32(9), info.Header.PartitionLeaderEpoch)
	require.True(t, info.Header.LogAppendTime())
}

func TestEndTxnMarker(t *testing.T) {
	for _, commit := range []bool{false, true} {
		b := EndTxnMarker(5000, 2, commit, 17, 1234)
		info, err := Validate(b, testMax)
		require.NoError(t, err)
		require.Equal(t, 1, info.RecordCount)
		require.True(t, info.Header.IsControl())
		require.True(t, info.Header.IsTransactional())
		require.Equal(t, int64(5000), info.Header.ProducerID)
		require.Equal(t, int16(2), info.Header.ProducerEpoch)
		require.Equal(t, int32(NoSequence), info.Header.BaseSequence)
		require.Equal(t, int64(1234), info.MaxTimestamp)
		recs := collect(t, b)
		require.Len(t, recs, 1)
		require.Equal(t, 4, len(recs[0].Key))
		require.Equal(t, 6, len(recs[0].Value))
		c, err := ParseControlRecord(recs[0].Key, recs[0].Value)
		require.NoError(t, err)
		want := ControlAbort
		if commit {
			want = ControlCommit
		}
		require.Equal(t, ControlRecord{Version: 0, Type: want, CoordinatorEpoch: 17}, c)
	}
	_, err := ParseControlRecord([]byte{0, 0, 0}, nil)
	require.ErrorIs(t, err, ErrCorrupt)
	_, err = ParseControlRecord([]byte{0, 0, 0, 1}, []byte{0, 0})
	require.ErrorIs(t, err, ErrInvalidRecord)
}

func TestBatches(t *testing.T) {
	var all []byte
	var want [][]byte
	for i, codec := range allCodecs {
		o := NewBatchOptions()
		o.Compression = codec
		o.BaseOffset = int64(i * 100)
		start := len(all)
		var err error
		all, err = AppendBatch(all, o, sampleRecords(i+1))
		require.NoError(t, err)
		want = append(want, all[start:])
	}
	// A legacy message in the middle of the stream.
	start := len(all)
	all = appendLegacy(all, 77, 1, 0, 5, []byte("k"), []byte("v"))
	want = append(want, all[start:])
	all = append(all, EndTxnMarker(1, 1, true, 1, 1)...)

	var got [][]byte
	for b, err := range Batches(all) {
		require.NoError(t, err)
		got = append(got, b)
		_, err = Validate(b, testMax)
		require.NoError(t, err)
	}
	require.Len(t, got, len(want)+1)
	for i := range want {
		require.Equal(t, want[i][:len(want[i])], got[i][:len(want[i])])
	}
	require.Equal(t, int8(1), Magic(got[len(want)-1]))

	// Early break works.
	n := 0
	for range Batches(all) {
		n++
		break
	}
	require.Equal(t, 1, n)

	// A truncated tail ends the iteration with an error.
	var errs []error
	for _, err := range Batches(all[:len(all)-3]) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], ErrCorrupt)
}

func TestCompressionRoundTrip(t *testing.T) {
	inputs := map[string][]byte{
		"empty":  {},
		"small":  []byte("hello, kafka"),
		"blocks": bytes.Repeat([]byte("0123456789abcdef-"), 20000), // several xerial chunks
	}
	for _, codec := range allCodecs {
		for name, in := range inputs {
			t.Run(codec.String()+"/"+name, func(t *testing.T) {
				c, err := Compress([]byte("x"), codec, in)
				require.NoError(t, err)
				require.Equal(t, byte('x'), c[0])
				out, err := Decompress([]byte("y"), codec, c[1:], len(in))
				require.NoError(t, err)
				require.Equal(t, "y"+string(in), string(out))
				if len(in) > 0 {
					_, err = Decompress(nil, codec, c[1:], len(in)-1)
					require.ErrorIs(t, err, ErrTooLarge)
				}
			})
		}
	}
}

func TestSnappyFraming(t *testing.T) {
	in := bytes.Repeat([]byte("abc"), 50000)
	c, err := Compress(nil, CompressionSnappy, in)
	require.NoError(t, err)
	require.Equal(t, xerialMagic, c[:8])
	require.Equal(t, uint32(1), binary.BigEndian.Uint32(c[8:]))
	require.Equal(t, uint32(1), binary.BigEndian.Uint32(c[12:]))

	raw := snappy.Encode(nil, in)
	out, err := Decompress(nil, CompressionSnappy, raw, len(in))
	require.NoError(t, err)
	require.Equal(t, in, out)

	for _, bad := range [][]byte{
		c[:12],                              // short header
		c[:18],                              // truncated chunk length
		append(c[:16:16], 0, 0, 0xff, 0xff), // chunk longer than the rest
		{0xff, 0xff, 0xff, 0xff, 0xff},      // garbage raw block
	} {
		_, err := Decompress(nil, CompressionSnappy, bad, 1<<20)
		require.ErrorIs(t, err, ErrCorrupt)
	}
}

// TestDecompressionBomb checks that a small payload expanding far past the
// bound fails without allocating anywhere near its full size.
func TestDecompressionBomb(t *testing.T) {
	const huge = 64 << 20
	const limit = 1 << 20
	zeros := make([]byte, huge)
	for _, codec := range allCodecs[1:] {
		t.Run(codec.String(), func(t *testing.T) {
			bomb, err := Compress(nil, codec, zeros)
			require.NoError(t, err)
			require.Less(t, len(bomb), huge/16) // snappy tops out near 21:1

			// Warm the pools so that only the decompression itself counts.
			_, _ = Decompress(nil, codec, bomb, limit)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err = Decompress(nil, codec, bomb, limit)
			runtime.ReadMemStats(&after)
			require.ErrorIs(t, err, ErrTooLarge)
			require.ErrorIs(t, err, ErrCorrupt)
			require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(16*limit),
				"decompressing a bomb allocated %d bytes", after.TotalAlloc-before.TotalAlloc)

			// The same bomb inside a batch.
			o := NewBatchOptions()
			o.Compression = codec
			b, err := AppendBatch(nil, o, []Record{{Key: []byte("k"), Value: zeros[:8<<20]}})
			require.NoError(t, err)
			_, err = Validate(b, limit)
			require.ErrorIs(t, err, ErrTooLarge)
			err = ForEachRecord(b, limit, func(*Record) error { return nil })
			require.ErrorIs(t, err, ErrTooLarge)
			_, err = Validate(b, 9<<20)
			require.NoError(t, err)
		})
	}
}

func TestUnsupportedCodec(t *testing.T) {
	b, err := AppendBatch(nil, NewBatchOptions(), sampleRecords(2))
	require.NoError(t, err)
	binary.BigEndian.PutUint16(b[attrOffset:], 5)
	binary.BigEndian.PutUint32(b[crcOffset:], ComputeCRC(b))
	_, err = Validate(b, testMax)
	require.ErrorIs(t, err, ErrUnsupportedCompression)
	_, err = Compress(nil, 6, []byte("x"))
	require.ErrorIs(t, err, ErrUnsupportedCompression)
}

// fixCRC makes a hand-corrupted batch pass the CRC so the record decoder is
// what must catch the corruption.
func fixCRC(b []byte) []byte {
	if len(b) >= HeaderSize {
		binary.BigEndian.PutUint32(b[crcOffset:], ComputeCRC(b))
	}
	return b
}

func TestCorruption(t *testing.T) {
	for _, codec := range allCodecs {
		t.Run(codec.String(), func(t *testing.T) {
			o := NewBatchOptions()
			o.Compression = codec
			good, err := AppendBatch(nil, o, sampleRecords(6))
			require.NoError(t, err)

			// Every single-byte flip under the CRC or in the length, magic
			// or CRC fields is caught; BaseOffset and PartitionLeaderEpoch
			// are outside the CRC by design.
			for i := range good {
				if i < LengthOffset || (i >= 12 && i < magicOffset) {
					continue
				}
				b := append([]byte{}, good...)
				b[i] ^= 0x41
				_, err := Validate(b, testMax)
				require.Error(t, err, "flip at %d", i)
				require.True(t, errors.Is(err, ErrCorrupt) || errors.Is(err, ErrUnsupportedMagic) ||
					errors.Is(err, ErrUnsupportedCompression), "flip at %d: %v", i, err)
				require.Error(t, ForEachRecord(b, testMax, func(*Record) error { return nil }))
			}
			// Every truncation.
			for n := range len(good) {
				_, err := Validate(good[:n], testMax)
				require.ErrorIs(t, err, ErrCorrupt, "truncated to %d", n)
			}
			// Flips with the CRC fixed up reach the record decoder: errors
			// or not, never a panic.
			for i := HeaderSize - 4; i < len(good); i++ {
				for _, x := range []byte{0x01, 0x80, 0xff} {
					b := append([]byte{}, good...)
					b[i] ^= x
					_, err := Validate(fixCRC(b), testMax)
					if err != nil {
						require.True(t, errors.Is(err, ErrCorrupt) || errors.Is(err, ErrUnsupportedCompression), "%v", err)
					}
					_ = ForEachRecord(b, testMax, func(*Record) error { return nil })
				}
			}
		})
	}

	good, err := AppendBatch(nil, NewBatchOptions(), sampleRecords(6))
	require.NoError(t, err)
	mutate := func(f func(b []byte) []byte) []byte { return fixCRC(f(append([]byte{}, good...))) }
	setCount := func(n int32) []byte {
		return mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[57:], uint32(n)); return b })
	}
	setLastDelta := func(b []byte, n int32) []byte { binary.BigEndian.PutUint32(b[23:], uint32(n)); return b }
	cases := map[string][]byte{
		"count zero":           setCount(0),
		"count negative":       setCount(-1),
		"count plus one":       fixCRC(setLastDelta(setCount(7), 6)),
		"count minus one":      fixCRC(setLastDelta(setCount(5), 4)),
		"count huge":           fixCRC(setLastDelta(setCount(1<<30), 1<<30-1)),
		"last delta mismatch":  mutate(func(b []byte) []byte { return setLastDelta(b, 9) }),
		"batch length too big": mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 1<<30); return b }),
		"batch length short":   mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 10); return b }),
		"batch length -1":      mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 0xffffffff); return b }),
		"trailing garbage": mutate(func(b []byte) []byte {
			b = append(b, 0, 0, 0)
			binary.BigEndian.PutUint32(b[8:], uint32(len(b)-LogOverhead))
			return b
		}),
		"first record length huge": mutate(func(b []byte) []byte {
			return append(append(b[:HeaderSize:HeaderSize], binary.AppendVarint(nil, 1<<40)...), b[HeaderSize+1:]...)
		}),
		"first record length negative": mutate(func(b []byte) []byte { b[HeaderSize] = 0x01; return b }),
		"offset delta 5": mutate(func(b []byte) []byte {
			b[HeaderSize+3] = 10 // zig-zag 5; the first record has a 1-byte timestamp delta
			return b
		}),
		"magic 3":       append(append([]byte{}, good[:16]...), append([]byte{3}, good[17:]...)...),
		"only a prefix": good[:LogOverhead+5],
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Validate(b, testMax)
			require.Error(t, err)
			require.True(t, errors.Is(err, ErrCorrupt) || errors.Is(err, ErrUnsupportedMagic), "%v", err)
		})
	}
	_, err = Validate(cases["offset delta 5"], testMax)
	require.ErrorIs(t, err, ErrInvalidRecord)
	// ForEachRecord accepts offset gaps (compacted batches).
	require.NoError(t, ForEachRecord(cases["offset delta 5"], testMax, func(*Record) error { return nil }))
	stop := errors.New("stop")
	require.Equal(t, stop, ForEachRecord(good, testMax, func(*Record) error { return stop }))
}

func TestValidateZeroAllocs(t *testing.T) {
	recs := make([]Record, 500)
	for i := range recs {
		recs[i] = Record{Key: []byte("key"), Value: make([]byte, 100), Headers: []RecordHeader{{Key: []byte("h"), Value: []byte("v")}}}
	}
	b, err := AppendBatch(nil, NewBatchOptions(), recs)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := Validate(b, testMax); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs)
	// ForEachRecord reuses the header slice: no allocation per record.
	allocs = testing.AllocsPerRun(50, func() {
		_ = ForEachRecord(b, testMax, func(*Record) error { return nil })
	})
	require.Less(t, allocs, 5.0)

	for _, codec := range allCodecs[1:] {
		o := NewBatchOptions()
		o.Compression = codec
		cb, err := AppendBatch(nil, o, recs)
		require.NoError(t, err)
		_, _ = Validate(cb, testMax)
		allocs := testing.AllocsPerRun(20, func() {
			if _, err := Validate(cb, testMax); err != nil {
				t.Fatal(err)
			}
		})
		// With warm pools a compressed batch costs a few allocations. Under -race,
		// sync.Pool discards Puts at random, so a run may build the codec afresh
		// (gzip: 44 allocations, zstd: 20); the bound then only says that the cost
		// does not grow with the records: fewer than one allocation per 10 records.
		bound := 20.0
		if raceEnabled {
			bound = float64(len(recs)) / 10
		}
		require.Less(t, allocs, bound, "%s: %v allocs for %d records", codec, allocs, len(recs))
	}
}
