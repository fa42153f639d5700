package protocol

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/protocol/wire"
)

// filler sets random values into generated (or kmsg) structs by reflection.
type filler struct {
	rng *rand.Rand
	// unknownTags adds unknown tagged fields to structs that keep them.
	unknownTags bool
}

func newFiller(seed uint64) *filler {
	return &filler{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (f *filler) fill(v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(f.rng.IntN(2) == 1)
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(f.rng.Uint64()) >> (64 - 8*v.Type().Size()))
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(f.rng.Uint64() >> (64 - 8*v.Type().Size()))
	case reflect.Float64:
		v.SetFloat(f.rng.Float64() * 1000)
	case reflect.String:
		v.SetString(f.str())
	case reflect.Array:
		for i := range v.Len() {
			f.fill(v.Index(i), depth)
		}
	case reflect.Pointer:
		if f.rng.IntN(4) == 0 || depth > 4 {
			v.SetZero()
			return
		}
		p := reflect.New(v.Type().Elem())
		f.fill(p.Elem(), depth+1)
		v.Set(p)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			if f.rng.IntN(5) == 0 {
				v.SetZero()
				return
			}
			b := make([]byte, f.rng.IntN(12))
			for i := range b {
				b[i] = byte(f.rng.Uint32())
			}
			v.SetBytes(b)
			return
		}
		if v.Type() == reflect.TypeFor[[]TaggedField]() {
			if f.unknownTags && f.rng.IntN(3) == 0 {
				v.Set(reflect.ValueOf([]TaggedField{{Tag: 100, Data: []byte("x")}, {Tag: 5000, Data: []byte{}}}))
			}
			return
		}
		if f.rng.IntN(6) == 0 || depth > 4 {
			v.SetZero()
			return
		}
		n := f.rng.IntN(3)
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			f.fill(s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Field(i).CanSet() {
				f.fill(v.Field(i), depth)
			}
		}
	}
}

func (f *filler) str() string {
	const letters = "abcdefghijklmnopqrstuvwxyz-._0123456789"
	b := make([]byte, f.rng.IntN(10))
	for i := range b {
		b[i] = letters[f.rng.IntN(len(letters))]
	}
	return string(b)
}

// roundTrip encodes m at v, decodes it into fresh (a new message of the
// same type), and checks that the re-encoding is byte-identical and that
// decoding it again gives a deep-equal value.
func roundTrip(t *testing.T, m, fresh, fresh2 interface {
	AppendTo([]byte, int16) []byte
	Decode(*wire.Reader, int16) error
}, v int16) []byte {
	t.Helper()
	b1 := m.AppendTo(nil, v)
	r := wire.NewReader(b1)
	require.NoError(t, fresh.Decode(r, v))
	require.NoError(t, r.Complete())
	b2 := fresh.AppendTo(nil, v)
	require.Equal(t, b1, b2, "re-encoding differs")
	r = wire.NewReader(b2)
	require.NoError(t, fresh2.Decode(r, v))
	require.NoError(t, r.Complete())
	require.Equal(t, fresh, fresh2)
	return b1
}

func TestRoundTripEveryVersion(t *testing.T) {
	const iterations = 6
	for _, api := range APIs {
		t.Run(api.Name, func(t *testing.T) {
			for v := api.MinVersion; v <= api.MaxVersion; v++ {
				for i := range iterations {
					f := newFiller(uint64(api.Key)<<32 | uint64(v)<<16 | uint64(i))
					f.unknownTags = i%2 == 1
					req := NewRequest(api.Key)
					f.fill(reflect.ValueOf(req).Elem(), 0)
					roundTrip(t, req, NewRequest(api.Key), NewRequest(api.Key), v)
					resp := NewResponse(api.Key)
					f.fill(reflect.ValueOf(resp).Elem(), 0)
					roundTrip(t, resp, NewResponse(api.Key), NewResponse(api.Key), v)
				}
				// Defaults alone must round-trip too.
				roundTrip(t, NewRequest(api.Key), NewRequest(api.Key), NewRequest(api.Key), v)
				roundTrip(t, NewResponse(api.Key), NewResponse(api.Key), NewResponse(api.Key), v)
			}
		})
	}
}

func TestRoundTripHeaders(t *testing.T) {
	for v := int16(0); v <= 2; v++ {
		for i := range 20 {
			f := newFiller(uint64(v)<<8 | uint64(i))
			f.unknownTags = true
			var h RequestHeader
			f.fill(reflect.ValueOf(&h).Elem(), 0)
			roundTrip(t, &h, new(RequestHeader), new(RequestHeader), v)
		}
	}
	for v := int16(0); v <= 1; v++ {
		for i := range 20 {
			f := newFiller(uint64(v)<<8 | uint64(i))
			f.unknownTags = true
			var h ResponseHeader
			f.fill(reflect.ValueOf(&h).Elem(), 0)
			roundTrip(t, &h, new(ResponseHeader), new(ResponseHeader), v)
		}
	}
}

func TestUnknownTagsPreserved(t *testing.T) {
	req := NewRequest(KeyMetadata).(*MetadataRequest)
	req.UnknownTags = []TaggedField{{Tag: 7, Data: []byte("seven")}, {Tag: 300, Data: []byte{1, 2}}}
	b := req.AppendTo(nil, 12)
	var got MetadataRequest
	require.NoError(t, got.Decode(wire.NewReader(b), 12))
	require.Equal(t, req.UnknownTags, got.UnknownTags)
	require.Equal(t, b, got.AppendTo(nil, 12))
}

func TestUnsupportedVersion(t *testing.T) {
	for _, api := range APIs {
		for _, v := range []int16{api.MinVersion - 1, api.MaxVersion + 1, -1, 0x7fff} {
			if api.Supports(v) {
				continue
			}
			req := NewRequest(api.Key)
			require.Empty(t, req.AppendTo(nil, v), "%s v%d", api.Name, v)
			require.ErrorIs(t, req.Decode(wire.NewReader([]byte{0, 0, 0, 0}), v), ErrUnsupportedVersion)
			resp := NewResponse(api.Key)
			require.ErrorIs(t, resp.Decode(wire.NewReader(nil), v), ErrUnsupportedVersion)
		}
	}
}

func TestDefaults(t *testing.T) {
	f := NewRequest(KeyFetch).(*FetchRequest)
	require.Equal(t, BrokerID(-1), f.ReplicaID, "ReplicaId defaults to -1")
	require.Equal(t, int32(0x7fffffff), f.MaxBytes)
	// A field absent in the decoded version takes its default.
	f.MaxBytes = 5
	b := f.AppendTo(nil, 2) // MaxBytes is v3+
	var got FetchRequest
	require.NoError(t, got.Decode(wire.NewReader(b), 2))
	require.Equal(t, int32(0x7fffffff), got.MaxBytes)

	m := NewRequest(KeyMetadata).(*MetadataRequest)
	require.True(t, m.AllowAutoTopicCreation)
	require.Nil(t, m.Topics, "null topics means all topics")
	b = m.AppendTo(nil, 1)
	require.Equal(t, []byte{0xff, 0xff, 0xff, 0xff}, b, "null array at v1")
	m.Topics = []MetadataRequestTopic{}
	require.Equal(t, []byte{0, 0, 0, 0}, m.AppendTo(nil, 1), "empty array at v1")
}

func TestNullInNonNullableFieldFails(t *testing.T) {
	// ApiVersions v3 request: ClientSoftwareName is a non-nullable compact string.
	var req ApiVersionsRequest
	err := req.Decode(wire.NewReader([]byte{0, 1, 0}), 3)
	require.ErrorIs(t, err, ErrNullField)
}

func TestHeaderVersions(t *testing.T) {
	for _, tc := range []struct {
		key, v      int16
		reqH, respH int16
	}{
		{KeyApiVersions, 3, 2, 0},
		{KeyApiVersions, 2, 1, 0},
		{KeyProduce, 9, 2, 1},
		{KeyProduce, 8, 1, 0},
		{KeyMetadata, 12, 2, 1},
		{KeyControlledShutdown, 0, 0, 0},
		{KeyControlledShutdown, 1, 1, 0},
		{KeyFetch, 99, -1, -1},
		{-5, 0, -1, -1},
	} {
		t.Run(fmt.Sprintf("%d_v%d", tc.key, tc.v), func(t *testing.T) {
			require.Equal(t, tc.reqH, RequestHeaderVersion(tc.key, tc.v))
			require.Equal(t, tc.respH, ResponseHeaderVersion(tc.key, tc.v))
		})
	}
}

func TestAPITable(t *testing.T) {
	produce := LookupAPI(KeyProduce)
	require.Equal(t, "Produce", produce.Name)
	require.Equal(t, int16(0), produce.MinVersion, "old versions come from 3.9.2")
	require.Equal(t, int16(3), produce.CurrentMinVersion)
	require.Equal(t, int16(9), produce.FlexibleFrom)
	require.NotZero(t, produce.Listeners&ListenerBroker)
	for i, a := range APIs {
		if i > 0 {
			require.Less(t, APIs[i-1].Key, a.Key)
		}
		require.LessOrEqual(t, a.MinVersion, a.MaxVersion)
		require.NotNil(t, NewRequest(a.Key))
		require.NotNil(t, NewResponse(a.Key))
		require.Equal(t, a.Key, NewRequest(a.Key).APIKey())
	}
	require.Nil(t, NewRequest(-1))
	require.Nil(t, NewResponse(30000))
}

func TestSensitiveFieldsRedacted(t *testing.T) {
	req := &SaslAuthenticateRequest{AuthBytes: []byte("\x00user\x00hunter2")}
	for _, s := range []string{fmt.Sprint(req), fmt.Sprintf("%+v", *req), fmt.Sprintf("%v", []SaslAuthenticateRequest{*req})} {
		require.NotContains(t, s, "hunter2")
		require.Contains(t, s, "<redacted>")
	}
	up := AlterUserScramCredentialsRequestScramCredentialUpsertion{Name: "alice", Salt: []byte("salty"), SaltedPassword: []byte("secret")}
	s := fmt.Sprintf("%+v", &AlterUserScramCredentialsRequest{Upsertions: []AlterUserScramCredentialsRequestScramCredentialUpsertion{up}})
	require.Contains(t, s, "alice")
	require.NotContains(t, s, "salty")
	require.NotContains(t, s, "secret")
}
