package telemetry

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// pb builds protobuf messages for tests, field by field.
type pb []byte

func (b pb) tag(field, wire int) pb { return binary.AppendUvarint(b, uint64(field<<3|wire)) }
func (b pb) varint(field int, v uint64) pb {
	return binary.AppendUvarint(b.tag(field, wireVarint), v)
}
func (b pb) fixed64(field int, v uint64) pb {
	return binary.LittleEndian.AppendUint64(b.tag(field, wireFixed64), v)
}
func (b pb) double(field int, v float64) pb { return b.fixed64(field, math.Float64bits(v)) }
func (b pb) bytes(field int, v []byte) pb {
	return append(binary.AppendUvarint(b.tag(field, wireBytes), uint64(len(v))), v...)
}
func (b pb) str(field int, s string) pb { return b.bytes(field, []byte(s)) }

func kv(key string, value pb) pb { return pb(nil).str(1, key).bytes(2, value) }
func strValue(s string) pb       { return pb(nil).str(1, s) }
func intValue(v int64) pb        { return pb(nil).varint(3, uint64(v)) }

// craftedMetricsData is what a Java client pushes, in shape: resource
// attributes, one scope, a gauge with a double point, a delta monotonic
// sum with an int point and attributes, and a histogram (skipped), plus
// fields the reader does not know (must be skipped).
func craftedMetricsData() []byte {
	resource := pb(nil).bytes(1, kv("client_id", strValue("producer-1"))).bytes(1, kv("client_rack", strValue("r1")))
	gaugePoint := pb(nil).fixed64(3, 1700000000000000000).double(4, 12.5)
	gauge := pb(nil).str(1, "org.apache.kafka.producer.request.latency.avg").
		str(2, "The average request latency in ms").str(3, "ms").
		bytes(5, pb(nil).bytes(1, gaugePoint))
	sumPoint := pb(nil).bytes(7, kv("node_id", intValue(3))).bytes(7, kv("topic", strValue("t1"))).
		fixed64(2, 1).fixed64(3, 2).fixed64(6, uint64(int64(42)))
	// The name after the data: fields may come in any order.
	sum := pb(nil).bytes(7, pb(nil).bytes(1, sumPoint).varint(2, 1).varint(3, 1)).
		str(1, "org.apache.kafka.producer.record.send.total")
	hist := pb(nil).str(1, "some.histogram").bytes(9, pb(nil).varint(2, 2))
	scope := pb(nil).bytes(1, pb(nil).str(1, "org.apache.kafka")).
		bytes(2, gauge).bytes(2, sum).bytes(2, hist).
		varint(99, 7) // unknown field
	rm := pb(nil).bytes(1, resource).bytes(2, scope).str(3, "https://schema")
	return pb(nil).bytes(1, rm)
}

func TestDecodeMetricsData(t *testing.T) {
	md, err := DecodeMetricsData(craftedMetricsData())
	require.NoError(t, err)
	require.Equal(t, []Attr{{"client_id", "producer-1"}, {"client_rack", "r1"}}, md.Resource)
	require.Equal(t, 1, md.Skipped)
	require.Equal(t, []Point{
		{Metric: "org.apache.kafka.producer.request.latency.avg", Kind: KindGauge, Value: 12.5, TimeUnixNano: 1700000000000000000},
		{Metric: "org.apache.kafka.producer.record.send.total", Kind: KindSum, Delta: true, Monotonic: true,
			Attrs: []Attr{{"node_id", "3"}, {"topic", "t1"}}, Value: 42, TimeUnixNano: 2},
	}, md.Points)
}

func TestDecodeMetricsDataMalformed(t *testing.T) {
	good := craftedMetricsData()
	cases := map[string][]byte{
		"truncated":          good[:len(good)-3],
		"length past end":    pb(nil).tag(1, wireBytes).varint(0, 0)[:1],
		"huge length":        append(pb(nil).tag(1, wireBytes), 0xff, 0xff, 0xff, 0xff, 0x0f),
		"bad varint":         {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80},
		"group wire type":    pb(nil).tag(1, 3),
		"field zero":         {0x00, 0x01},
		"string as varint":   pb(nil).bytes(1, pb(nil).bytes(2, pb(nil).bytes(2, pb(nil).varint(1, 5)))),
		"double as varint":   pb(nil).bytes(1, pb(nil).bytes(2, pb(nil).bytes(2, pb(nil).str(1, "m").bytes(5, pb(nil).bytes(1, pb(nil).varint(4, 1)))))),
		"point without name": pb(nil).bytes(1, pb(nil).bytes(2, pb(nil).bytes(2, pb(nil).bytes(5, pb(nil).bytes(1, pb(nil).double(4, 1)))))),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeMetricsData(b)
			require.ErrorIs(t, err, ErrMalformed)
		})
	}
	md, err := DecodeMetricsData(nil)
	require.NoError(t, err, "an empty message is valid protobuf")
	require.Empty(t, md.Points)
}

func FuzzDecodeMetricsData(f *testing.F) {
	f.Add(craftedMetricsData())
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = DecodeMetricsData(b) })
}
