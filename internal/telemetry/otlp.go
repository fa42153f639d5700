package telemetry

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// ErrMalformed is returned for a payload that is not a valid OTLP
// MetricsData protobuf. The PushTelemetry handler answers it with
// INVALID_RECORD, as Kafka does for a payload its exporter cannot read.
var ErrMalformed = errors.New("telemetry: malformed OTLP metrics payload")

// Kind is the OTLP data type of a metric Spool keeps.
type Kind uint8

const (
	KindGauge Kind = iota + 1
	KindSum
)

// Attr is one OTLP attribute, its value rendered as a string (OTLP
// AnyValue: string, bool, int and double as themselves; arrays, key-value
// lists and bytes as "" — Kafka's clients send none of them).
type Attr struct {
	Key, Value string
}

// Point is one OTLP NumberDataPoint with the metric it belongs to.
type Point struct {
	Metric string
	Kind   Kind
	// Delta: a Sum point carries the change since the previous push
	// (AGGREGATION_TEMPORALITY_DELTA) rather than the running total.
	Delta        bool
	Monotonic    bool
	Attrs        []Attr
	Value        float64
	TimeUnixNano uint64
}

// MetricsData is what Spool keeps of an OTLP MetricsData message: the
// resource attributes (of every ResourceMetrics, merged) and the number
// data points of Gauge and Sum metrics. Histogram, ExponentialHistogram
// and Summary metrics are counted in Skipped (Kafka's clients send none).
type MetricsData struct {
	Resource []Attr
	Points   []Point
	Skipped  int
}

// Protobuf wire types.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

// pbReader reads one protobuf message: a sequence of (tag, value). It
// never panics on bad input; every method reports ErrMalformed instead.
type pbReader struct {
	b []byte
}

func (r *pbReader) done() bool { return len(r.b) == 0 }

func (r *pbReader) uvarint() (uint64, error) {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		return 0, fmt.Errorf("%w: bad varint", ErrMalformed)
	}
	r.b = r.b[n:]
	return v, nil
}

// tag reads a field's key: its number and wire type.
func (r *pbReader) tag() (field uint64, wire int, err error) {
	k, err := r.uvarint()
	if err != nil {
		return 0, 0, err
	}
	field, wire = k>>3, int(k&7)
	if field == 0 {
		return 0, 0, fmt.Errorf("%w: field number 0", ErrMalformed)
	}
	return field, wire, nil
}

func (r *pbReader) bytes() ([]byte, error) {
	n, err := r.uvarint()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(r.b)) {
		return nil, fmt.Errorf("%w: length %d past the end (%d left)", ErrMalformed, n, len(r.b))
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v, nil
}

func (r *pbReader) fixed64() (uint64, error) {
	if len(r.b) < 8 {
		return 0, fmt.Errorf("%w: truncated fixed64", ErrMalformed)
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v, nil
}

// skip passes over a value of the given wire type. Groups (3, 4), which
// proto3 never writes, are malformed.
func (r *pbReader) skip(wire int) error {
	switch wire {
	case wireVarint:
		_, err := r.uvarint()
		return err
	case wireFixed64:
		_, err := r.fixed64()
		return err
	case wireBytes:
		_, err := r.bytes()
		return err
	case wireFixed32:
		if len(r.b) < 4 {
			return fmt.Errorf("%w: truncated fixed32", ErrMalformed)
		}
		r.b = r.b[4:]
		return nil
	}
	return fmt.Errorf("%w: wire type %d", ErrMalformed, wire)
}

// each calls fn for every field of the message in b; fn reads the value
// of the fields it knows and returns handled=false for the others, which
// are skipped (unknown fields are legal protobuf).
func each(b []byte, fn func(r *pbReader, field uint64, wire int) (handled bool, err error)) error {
	r := &pbReader{b: b}
	for !r.done() {
		field, wire, err := r.tag()
		if err != nil {
			return err
		}
		handled, err := fn(r, field, wire)
		if err != nil {
			return err
		}
		if !handled {
			if err := r.skip(wire); err != nil {
				return err
			}
		}
	}
	return nil
}

// message reads a length-delimited field, checking its wire type.
func message(r *pbReader, wire int) ([]byte, error) {
	if wire != wireBytes {
		return nil, fmt.Errorf("%w: wire type %d for a message or string", ErrMalformed, wire)
	}
	return r.bytes()
}

// DecodeMetricsData reads an OTLP MetricsData protobuf
// (opentelemetry/proto/metrics/v1/metrics.proto):
//
//	MetricsData      { repeated ResourceMetrics resource_metrics = 1; }
//	ResourceMetrics  { Resource resource = 1; repeated ScopeMetrics scope_metrics = 2; }
//	Resource         { repeated KeyValue attributes = 1; }
//	ScopeMetrics     { repeated Metric metrics = 2; }
//	Metric           { string name = 1; Gauge gauge = 5; Sum sum = 7; Histogram histogram = 9;
//	                   ExponentialHistogram exponential_histogram = 10; Summary summary = 11; }
//	Gauge            { repeated NumberDataPoint data_points = 1; }
//	Sum              { repeated NumberDataPoint data_points = 1;
//	                   AggregationTemporality aggregation_temporality = 2; bool is_monotonic = 3; }
//	NumberDataPoint  { repeated KeyValue attributes = 7; fixed64 time_unix_nano = 3;
//	                   double as_double = 4; sfixed64 as_int = 6; }
//	KeyValue         { string key = 1; AnyValue value = 2; }
//	AnyValue         { string string_value = 1; bool bool_value = 2; int64 int_value = 3;
//	                   double double_value = 4; ... }
//
// Fields it does not use are skipped. Any structural error (truncation, a
// length past the end, a wrong wire type for a known field) is
// ErrMalformed.
func DecodeMetricsData(b []byte) (*MetricsData, error) {
	md := &MetricsData{}
	err := each(b, func(r *pbReader, field uint64, wire int) (bool, error) {
		if field != 1 {
			return false, nil
		}
		rm, err := message(r, wire)
		if err != nil {
			return true, err
		}
		return true, md.resourceMetrics(rm)
	})
	if err != nil {
		return nil, err
	}
	return md, nil
}

func (md *MetricsData) resourceMetrics(b []byte) error {
	return each(b, func(r *pbReader, field uint64, wire int) (bool, error) {
		switch field {
		case 1: // resource
			res, err := message(r, wire)
			if err != nil {
				return true, err
			}
			return true, each(res, func(r *pbReader, field uint64, wire int) (bool, error) {
				if field != 1 {
					return false, nil
				}
				kv, err := message(r, wire)
				if err != nil {
					return true, err
				}
				a, err := keyValue(kv)
				if err != nil {
					return true, err
				}
				md.Resource = append(md.Resource, a)
				return true, nil
			})
		case 2: // scope_metrics
			sm, err := message(r, wire)
			if err != nil {
				return true, err
			}
			return true, each(sm, func(r *pbReader, field uint64, wire int) (bool, error) {
				if field != 2 {
					return false, nil
				}
				m, err := message(r, wire)
				if err != nil {
					return true, err
				}
				return true, md.metric(m)
			})
		}
		return false, nil
	})
}

// metric reads one Metric. The name may come after the data (protobuf
// fields may be in any order), so points are collected first and named at
// the end.
func (md *MetricsData) metric(b []byte) error {
	var name string
	first := len(md.Points)
	err := each(b, func(r *pbReader, field uint64, wire int) (bool, error) {
		switch field {
		case 1:
			s, err := message(r, wire)
			if err != nil {
				return true, err
			}
			name = string(s)
			return true, nil
		case 5, 7: // gauge, sum
			data, err := message(r, wire)
			if err != nil {
				return true, err
			}
			kind := KindGauge
			if field == 7 {
				kind = KindSum
			}
			return true, md.numberData(data, kind)
		case 9, 10, 11: // histogram, exponential_histogram, summary
			if _, err := message(r, wire); err != nil {
				return true, err
			}
			md.Skipped++
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	if name == "" && len(md.Points) > first {
		return fmt.Errorf("%w: metric without a name", ErrMalformed)
	}
	for i := first; i < len(md.Points); i++ {
		md.Points[i].Metric = name
	}
	return nil
}

// numberData reads a Gauge or Sum message.
func (md *MetricsData) numberData(b []byte, kind Kind) error {
	first := len(md.Points)
	var delta, monotonic bool
	err := each(b, func(r *pbReader, field uint64, wire int) (bool, error) {
		switch field {
		case 1:
			dp, err := message(r, wire)
			if err != nil {
				return true, err
			}
			p, err := numberDataPoint(dp)
			if err != nil {
				return true, err
			}
			p.Kind = kind
			md.Points = append(md.Points, p)
			return true, nil
		case 2, 3:
			if kind != KindSum {
				return false, nil
			}
			if wire != wireVarint {
				return true, fmt.Errorf("%w: wire type %d for an enum or bool", ErrMalformed, wire)
			}
			v, err := r.uvarint()
			if err != nil {
				return true, err
			}
			if field == 2 {
				delta = v == 1 // AGGREGATION_TEMPORALITY_DELTA
			} else {
				monotonic = v != 0
			}
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	for i := first; i < len(md.Points); i++ {
		md.Points[i].Delta, md.Points[i].Monotonic = delta, monotonic
	}
	return nil
}

func numberDataPoint(b []byte) (Point, error) {
	var p Point
	err := each(b, func(r *pbReader, field uint64, wire int) (bool, error) {
		switch field {
		case 7:
			kv, err := message(r, wire)
			if err != nil {
				return true, err
			}
			a, err := keyValue(kv)
			if err != nil {
				return true, err
			}
			p.Attrs = append(p.Attrs, a)
			return true, nil
		case 3, 4, 6: // time_unix_nano, as_double, as_int
			if wire != wireFixed64 {
				return true, fmt.Errorf("%w: wire type %d for a fixed64 field", ErrMalformed, wire)
			}
			v, err := r.fixed64()
			if err != nil {
				return true, err
			}
			switch field {
			case 3:
				p.TimeUnixNano = v
			case 4:
				p.Value = math.Float64frombits(v)
			case 6:
				p.Value = float64(int64(v))
			}
			return true, nil
		}
		return false, nil
	})
	return p, err
}

func keyValue(b []byte) (Attr, error) {
	var a Attr
	err := each(b, func(r *pbReader, field uint64, wire int) (bool, error) {
		switch field {
		case 1:
			s, err := message(r, wire)
			if err != nil {
				return true, err
			}
			a.Key = string(s)
			return true, nil
		case 2:
			v, err := message(r, wire)
			if err != nil {
				return true, err
			}
			a.Value, err = anyValue(v)
			return true, err
		}
		return false, nil
	})
	return a, err
}

func anyValue(b []byte) (string, error) {
	var s string
	err := each(b, func(r *pbReader, field uint64, wire int) (bool, error) {
		switch field {
		case 1: // string_value
			v, err := message(r, wire)
			s = string(v)
			return true, err
		case 2, 3: // bool_value, int_value
			if wire != wireVarint {
				return true, fmt.Errorf("%w: wire type %d for a bool or int", ErrMalformed, wire)
			}
			v, err := r.uvarint()
			if field == 2 {
				s = strconv.FormatBool(v != 0)
			} else {
				s = strconv.FormatInt(int64(v), 10)
			}
			return true, err
		case 4: // double_value
			if wire != wireFixed64 {
				return true, fmt.Errorf("%w: wire type %d for a double", ErrMalformed, wire)
			}
			v, err := r.fixed64()
			s = strconv.FormatFloat(math.Float64frombits(v), 'g', -1, 64)
			return true, err
		}
		return false, nil
	})
	return s, err
}
