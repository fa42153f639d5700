package protocol

import (
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/protocol/wire"
)

// reflectErrorCodes appends, by reflection, every non-zero int16 field
// named *ErrorCode in v, at any depth, in field order.
func reflectErrorCodes(v reflect.Value, out []int16) []int16 {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			out = reflectErrorCodes(v.Elem(), out)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Struct {
			for i := range v.Len() {
				out = reflectErrorCodes(v.Index(i), out)
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if f.Type.Kind() == reflect.Int16 && strings.HasSuffix(f.Name, "ErrorCode") {
				if c := int16(v.Field(i).Int()); c != 0 {
					out = append(out, c)
				}
				continue
			}
			out = reflectErrorCodes(v.Field(i), out)
		}
	}
	return out
}

// TestErrorCodesEveryVersion checks each response's generated ErrorCodes
// against what goes on the wire: the codes found by reflection in the
// response decoded from its own encoding at that version. So a code in a
// field the version does not encode is not reported, and none is missed.
func TestErrorCodesEveryVersion(t *testing.T) {
	for _, api := range APIs {
		t.Run(api.Name, func(t *testing.T) {
			for v := api.MinVersion; v <= api.MaxVersion; v++ {
				for i := range 6 {
					f := newFiller(uint64(api.Key)<<32 | uint64(v)<<16 | uint64(i) | 1<<15)
					resp := NewResponse(api.Key)
					f.fill(reflect.ValueOf(resp).Elem(), 0)
					decoded := NewResponse(api.Key)
					r := wire.NewReader(resp.AppendTo(nil, v))
					require.NoError(t, decoded.Decode(r, v))
					require.NoError(t, r.Complete())
					want := reflectErrorCodes(reflect.ValueOf(decoded), nil)
					var got []int16
					resp.ErrorCodes(v, func(code int16) { got = append(got, code) })
					require.Equal(t, want, got, "%s v%d", api.Name, v)
				}
			}
		})
	}
}

func TestErrorCodesSkipFieldsNotEncoded(t *testing.T) {
	// OffsetFetch v0-1 has no top-level ErrorCode: only the partitions'
	// codes are sent.
	resp := &OffsetFetchResponse{ErrorCode: 16, Topics: []OffsetFetchResponseTopic{
		{Partitions: []OffsetFetchResponsePartition{{ErrorCode: 16}, {ErrorCode: 0}, {ErrorCode: 16}}},
	}}
	var got []int16
	resp.ErrorCodes(1, func(code int16) { got = append(got, code) })
	require.Equal(t, []int16{16, 16}, got)
	got = nil
	resp.ErrorCodes(2, func(code int16) { got = append(got, code) })
	require.Equal(t, []int16{16, 16, 16}, got, "v2 adds the top-level code, after the topics in field order")
}
