package records

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

const fuzzMax = 1 << 20

// validateSeeds are small well-formed inputs for FuzzValidate: a batch per
// codec, a txn marker, and legacy messages.
func validateSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, codec := range allCodecs {
		o := NewBatchOptions()
		o.Compression = codec
		o.ProducerID, o.ProducerEpoch, o.BaseSequence = 1, 0, 0
		b, err := AppendBatch(nil, o, sampleRecords(4))
		require.NoError(t, err)
		seeds = append(seeds, b)
	}
	seeds = append(seeds, EndTxnMarker(9, 1, true, 3, 1000))
	seeds = append(seeds, appendLegacy(nil, 0, 0, 0, 0, []byte("k"), []byte("v")))
	seeds = append(seeds, appendLegacy(nil, 0, 1, 0, 12, nil, []byte("v")))
	return append(seeds, legacySetSeed(t, 1, CompressionGzip))
}

func legacySetSeed(t testing.TB, magic int8, codec Compression) []byte {
	var inner []byte
	for i, m := range legacyMsgs {
		inner = appendLegacy(inner, int64(i), magic, 0, m.ts, m.key, m.value)
	}
	if codec == CompressionNone {
		return inner
	}
	v, err := Compress(nil, codec, inner)
	require.NoError(t, err)
	return appendLegacy(nil, 3, magic, int8(codec), 5, nil, v)
}

func legacySeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, magic := range []int8{0, 1} {
		for _, codec := range []Compression{CompressionNone, CompressionGzip, CompressionSnappy, CompressionLZ4} {
			seeds = append(seeds, legacySetSeed(t, magic, codec))
		}
	}
	return seeds
}

// TestWriteFuzzCorpus rewrites testdata/fuzz/<Fuzz>/ from the seed
// generators: RECORDS_WRITE_CORPUS=1 go test -run WriteFuzzCorpus.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("RECORDS_WRITE_CORPUS") == "" {
		t.Skip("set RECORDS_WRITE_CORPUS=1 to rewrite the committed seed corpus")
	}
	for name, seeds := range map[string][][]byte{"FuzzValidate": validateSeeds(t), "FuzzLegacy": legacySeeds(t)} {
		dir := filepath.Join("testdata", "fuzz", name)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		for i, s := range seeds {
			body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(s)) + ")\n"
			require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644))
		}
	}
}

func requireKnownError(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedMagic) && !errors.Is(err, ErrUnsupportedCompression) {
		t.Fatalf("error wraps no package error: %v", err)
	}
}

func FuzzValidate(f *testing.F) {
	for _, s := range validateSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := Validate(b, fuzzMax)
		n := 0
		ferr := ForEachRecord(b, fuzzMax, func(*Record) error { n++; return nil })
		if err != nil {
			requireKnownError(t, err)
		} else {
			// Whatever Validate accepts, the reader must read in full.
			if ferr != nil {
				t.Fatalf("Validate accepted what ForEachRecord rejects: %v", ferr)
			}
			if n != info.RecordCount {
				t.Fatalf("Validate counted %d records, ForEachRecord %d", info.RecordCount, n)
			}
		}
		if ferr != nil {
			requireKnownError(t, ferr)
		}
		for _, err := range Batches(b) {
			if err != nil {
				requireKnownError(t, err)
			}
		}
	})
}

func FuzzLegacy(f *testing.F) {
	for _, s := range legacySeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n := 0
		err := ForEachMessage(b, fuzzMax, func(*Message) error { n++; return nil })
		v2, uerr := UpConvert(nil, b, fuzzMax, CompressionNone)
		if err != nil {
			requireKnownError(t, err)
			if uerr == nil {
				t.Fatalf("UpConvert accepted what ForEachMessage rejects: %v", err)
			}
			return
		}
		if n == 0 {
			return
		}
		if uerr != nil {
			t.Fatalf("UpConvert failed on a decodable set: %v", uerr)
		}
		info, err := Validate(v2, fuzzMax)
		if err != nil {
			t.Fatalf("up-converted batch does not validate: %v", err)
		}
		if info.RecordCount != n {
			t.Fatalf("up-converted %d messages into %d records", n, info.RecordCount)
		}
	})
}

// benchBatch builds a batch of about size bytes of uncompressed records with
// values of valueSize bytes of loosely compressible text.
func benchBatch(b *testing.B, codec Compression, size, valueSize int) ([]byte, int) {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"kafka", "spool", "broker", "record", "batch", "offset", "leader", "epoch", "topic", "partition"}
	var recs []Record
	total := 0
	for total < size {
		v := make([]byte, 0, valueSize)
		for len(v) < valueSize {
			v = append(v, words[rng.IntN(len(words))]...)
			v = append(v, ' ', byte('0'+rng.IntN(10)))
		}
		r := Record{Key: []byte(fmt.Sprintf("key-%08d", len(recs))), Value: v[:valueSize], Timestamp: 1_700_000_000_000 + int64(len(recs))}
		total += valueSize + 20
		recs = append(recs, r)
	}
	o := NewBatchOptions()
	o.Compression = codec
	batch, err := AppendBatch(nil, o, recs)
	require.NoError(b, err)
	return batch, len(recs)
}

func BenchmarkValidate(b *testing.B) {
	for _, bc := range []struct {
		name      string
		codec     Compression
		valueSize int
	}{
		{"none/1KiB", CompressionNone, 1 << 10},
		{"none/100B", CompressionNone, 100},
		{"lz4/1KiB", CompressionLZ4, 1 << 10},
		{"zstd/1KiB", CompressionZstd, 1 << 10},
		{"lz4/100B", CompressionLZ4, 100},
		{"zstd/100B", CompressionZstd, 100},
	} {
		b.Run(bc.name, func(b *testing.B) {
			batch, n := benchBatch(b, bc.codec, 1<<20, bc.valueSize)
			b.ReportAllocs()
			b.SetBytes(int64(len(batch)))
			b.ReportMetric(float64(n), "records/op")
			for b.Loop() {
				if _, err := Validate(batch, 4<<20); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkForEachRecord(b *testing.B) {
	batch, _ := benchBatch(b, CompressionNone, 1<<20, 100)
	b.ReportAllocs()
	b.SetBytes(int64(len(batch)))
	for b.Loop() {
		if err := ForEachRecord(batch, 4<<20, func(*Record) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
