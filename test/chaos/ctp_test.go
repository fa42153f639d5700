package main

import (
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCheckCTP: every input record below the committed offset is in the
// output exactly once with its value; nothing at or above it is.
func TestCheckCTP(t *testing.T) {
	in := func(p int32, vals ...string) []*kgo.Record {
		var rs []*kgo.Record
		for i, v := range vals {
			rs = append(rs, &kgo.Record{Partition: p, Offset: int64(i), Value: []byte(v)})
		}
		return rs
	}
	out := func(p int32, off int64, v string) *kgo.Record {
		return &kgo.Record{Key: []byte(ctpKey(p, off)), Value: []byte(v)}
	}
	input := map[int32][]*kgo.Record{0: in(0, "a", "b", "c"), 1: in(1, "x", "y")}
	for _, tc := range []struct {
		name      string
		output    []*kgo.Record
		committed map[int32]int64
		want      int
	}{
		{"exactly once", []*kgo.Record{out(0, 0, "a"), out(0, 1, "b"), out(1, 0, "x")}, map[int32]int64{0: 2, 1: 1}, 0},
		{"nothing committed, nothing written", nil, nil, 0},
		{"consumed but missing", []*kgo.Record{out(0, 0, "a")}, map[int32]int64{0: 2}, 1},
		{"written twice", []*kgo.Record{out(0, 0, "a"), out(0, 0, "a")}, map[int32]int64{0: 1}, 1},
		{"written without its offsets committed", []*kgo.Record{out(0, 0, "a"), out(0, 1, "b")}, map[int32]int64{0: 1}, 1},
		{"another value", []*kgo.Record{out(1, 0, "z")}, map[int32]int64{1: 1}, 1},
		{"not from the transform", []*kgo.Record{{Key: []byte("junk"), Value: []byte("a")}}, nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, v := checkCTP(input, map[int32][]*kgo.Record{0: tc.output}, tc.committed)
			if len(v) != tc.want {
				t.Fatalf("violations %v, want %d", v, tc.want)
			}
		})
	}
}

// TestHostileBatch: the batch's length field covers what follows it, and
// its CRC (Castagnoli, from the attributes on) is right unless asked wrong.
func TestHostileBatch(t *testing.T) {
	for _, bad := range []bool{false, true} {
		b := hostileBatch("hostile-1", 1, bad)
		if got := int(binary.BigEndian.Uint32(b[8:12])); got != len(b)-12 {
			t.Fatalf("batch length %d, want %d", got, len(b)-12)
		}
		if b[16] != 2 {
			t.Fatalf("magic %d", b[16])
		}
		ok := binary.BigEndian.Uint32(b[17:21]) == crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli))
		if ok == bad {
			t.Fatalf("badCRC=%v but CRC right=%v", bad, ok)
		}
	}
}

func TestOffsetsPartitionFor(t *testing.T) {
	// Kafka 4.3.1 (Utils.abs(hashCode) % 50): java's hashCodes of these.
	for group, want := range map[string]int32{"chaos-group": 48, "chaos-group-848": 15, "my-group": 12, "polygenelubricants": 0} {
		if got := offsetsPartitionFor(group, 50); got != want {
			t.Errorf("%s: partition %d, want %d", group, got, want)
		}
	}
}
