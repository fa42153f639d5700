package main

import (
	"bytes"
	"hash/crc32"
	"io"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestBuildBatch: the raw producer's batches decode as Kafka v2 batches
// with a valid CRC-32C, the records they claim, and (idempotent) the
// sequence setSequence writes, the CRC following it.
func TestBuildBatch(t *testing.T) {
	for _, codec := range []string{"none", "lz4", "zstd"} {
		b, err := buildBatch(newPayload(), 16, codec, 42, 3, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		setSequence(b, 1234)
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(b); err != nil {
			t.Fatalf("%s: %v", codec, err)
		}
		if int(rb.Length)+12 != len(b) || rb.Magic != 2 || rb.NumRecords != 16 || rb.LastOffsetDelta != 15 {
			t.Fatalf("%s: header %+v", codec, rb)
		}
		if rb.ProducerID != 42 || rb.ProducerEpoch != 3 || rb.FirstSequence != 1234 {
			t.Fatalf("%s: producer %d/%d seq %d", codec, rb.ProducerID, rb.ProducerEpoch, rb.FirstSequence)
		}
		if got := crc32.Checksum(b[batchAttrsOff:], castagnoli); uint32(rb.CRC) != got {
			t.Fatalf("%s: crc %x, computed %x", codec, uint32(rb.CRC), got)
		}
		recs := rb.Records
		switch codec {
		case "lz4":
			recs, err = io.ReadAll(lz4.NewReader(bytes.NewReader(recs)))
		case "zstd":
			var d *zstd.Decoder
			if d, err = zstd.NewReader(nil); err == nil {
				recs, err = d.DecodeAll(recs, nil)
			}
		}
		if err != nil {
			t.Fatalf("%s: decompress: %v", codec, err)
		}
		for i := range 16 {
			var r kmsg.Record
			n, ok := readVarintLen(recs)
			if !ok {
				t.Fatalf("%s: record %d: bad length", codec, i)
			}
			if err := r.ReadFrom(recs); err != nil {
				t.Fatalf("%s: record %d: %v", codec, i, err)
			}
			if r.OffsetDelta != int32(i) || len(r.Value) != recordSize || r.Key != nil {
				t.Fatalf("%s: record %d: offset delta %d, %d-byte value", codec, i, r.OffsetDelta, len(r.Value))
			}
			recs = recs[n:]
		}
		if len(recs) != 0 {
			t.Fatalf("%s: %d bytes after the records", codec, len(recs))
		}
	}
}

// readVarintLen is the size of the length-prefixed record at the start of b.
func readVarintLen(b []byte) (int, bool) {
	var ux uint64
	for i := 0; i < len(b) && i < 10; i++ {
		ux |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			l := int64(ux>>1) ^ -int64(ux&1)
			return i + 1 + int(l), true
		}
	}
	return 0, false
}
