package protocol

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/protocol/errcode"
)

func sizePrefixed(b []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

func TestReadFrame(t *testing.T) {
	tests := []struct {
		name  string
		in    []byte
		max   int32
		want  []byte
		errIs error
	}{
		{"ok", sizePrefixed([]byte("abc")), 10, []byte("abc"), nil},
		{"empty", sizePrefixed(nil), 10, []byte{}, nil},
		{"too large", sizePrefixed(make([]byte, 11)), 10, nil, ErrFrameSize},
		{"negative", []byte{0xff, 0xff, 0xff, 0xfe, 1, 2}, 10, nil, ErrFrameSize},
		// A huge size must fail before any allocation or read.
		{"huge", []byte{0x7f, 0xff, 0xff, 0xff}, DefaultMaxRequestSize, nil, ErrFrameSize},
		{"short body", []byte{0, 0, 0, 5, 1, 2}, 10, nil, io.ErrUnexpectedEOF},
		{"eof", nil, 10, nil, io.EOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadFrame(bytes.NewReader(tc.in), tc.max, nil)
			if tc.errIs != nil {
				require.ErrorIs(t, err, tc.errIs)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	// The buffer is reused when large enough.
	buf := make([]byte, 0, 64)
	got, err := ReadFrame(bytes.NewReader(sizePrefixed([]byte("hello"))), 10, buf)
	require.NoError(t, err)
	require.Equal(t, &buf[:1][0], &got[0])
}

func TestParseRequestErrors(t *testing.T) {
	t.Run("unknown key keeps header", func(t *testing.T) {
		frame := []byte{0x7f, 0x00, 0, 1, 0, 0, 0, 42, 0, 2, 'c', 'l'}
		hdr, req, err := ParseRequest(frame)
		require.ErrorIs(t, err, ErrUnknownAPIKey)
		require.Nil(t, req)
		require.Equal(t, int32(42), hdr.CorrelationID)
		require.Equal(t, "cl", *hdr.ClientID)
	})
	t.Run("ApiVersions from the future", func(t *testing.T) {
		// v99 flexible header: key, version, correlation id, client id, tags,
		// then a body this broker cannot know.
		frame := []byte{0, 18, 0, 99, 0, 0, 0, 7, 0, 1, 'x', 0, 0xde, 0xad}
		hdr, req, err := ParseRequest(frame)
		require.ErrorIs(t, err, ErrUnsupportedVersion)
		require.Nil(t, req)
		require.Equal(t, KeyApiVersions, hdr.RequestAPIKey)
		require.Equal(t, int16(99), hdr.RequestAPIVersion)
		require.Equal(t, int32(7), hdr.CorrelationID)

		out, err := AppendResponse(nil, hdr.CorrelationID, KeyApiVersions, 0, UnsupportedAPIVersionsResponse())
		require.NoError(t, err)
		maxV := LookupAPI(KeyApiVersions).MaxStableVersion()
		want := []byte{
			0, 0, 0, 16, // size
			0, 0, 0, 7, // correlation id, header v0
			0, byte(errcode.UnsupportedVersion), // error code 35
			0, 0, 0, 1, // one api key
			0, 18, 0, 0, 0, byte(maxV), // ApiVersions 0..max
		}
		require.Equal(t, want, out)
	})
	t.Run("short", func(t *testing.T) {
		_, _, err := ParseRequest([]byte{0, 18})
		require.Error(t, err)
	})
	t.Run("trailing bytes are ignored, as by Kafka", func(t *testing.T) {
		frame, err := os.ReadFile(filepath.Join("testdata", "api_versions_v3.bin"))
		require.NoError(t, err)
		hdr, req, err := ParseRequest(frame)
		require.NoError(t, err)
		hdr2, req2, err := ParseRequest(append(frame, 0, 0, 0))
		require.NoError(t, err)
		require.Equal(t, hdr, hdr2)
		require.Equal(t, req, req2)
	})
}

func TestAppendResponseHeaderVersions(t *testing.T) {
	// Metadata v12 is flexible: header v1 carries an empty tag section.
	resp := NewResponse(KeyMetadata)
	out, err := AppendResponse(nil, 5, KeyMetadata, 12, resp)
	require.NoError(t, err)
	require.Equal(t, []byte{0, 0, 0, 5, 0}, out[4:9])
	hdr, got, err := DecodeResponse(out[4:], KeyMetadata, 12)
	require.NoError(t, err)
	require.Equal(t, int32(5), hdr.CorrelationID)
	require.Equal(t, resp.AppendTo(nil, 12), got.AppendTo(nil, 12))
	// ApiVersions v3 is flexible but its response header stays v0.
	out, err = AppendResponse(nil, 5, KeyApiVersions, 3, NewResponse(KeyApiVersions))
	require.NoError(t, err)
	require.Equal(t, []byte{0, 0, 0, 5, 0, 0}, out[4:10], "correlation id then the error code")
	_, err = AppendResponse(nil, 5, KeyApiVersions, 3, NewResponse(KeyMetadata))
	require.Error(t, err)
}

func FuzzParseRequest(f *testing.F) {
	for _, g := range goldenFrames {
		if b, err := os.ReadFile(filepath.Join("testdata", g.file)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		hdr, req, err := ParseRequest(frame)
		if err != nil {
			return
		}
		// Whatever parses must re-encode to something that parses to the
		// same encoding again.
		enc, err := AppendRequest(nil, &hdr, req)
		if err != nil {
			t.Fatal(err)
		}
		hdr2, req2, err := ParseRequest(enc[4:])
		if err != nil {
			t.Fatalf("re-encoded frame does not parse: %v", err)
		}
		enc2, err := AppendRequest(nil, &hdr2, req2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable")
		}
	})
}

func FuzzDecodeResponse(f *testing.F) {
	resp, _ := AppendResponse(nil, 1, KeyMetadata, 12, NewResponse(KeyMetadata))
	f.Add(int16(KeyMetadata), int16(12), resp[4:])
	f.Add(int16(KeyApiVersions), int16(0), []byte{0, 0, 0, 1, 0, 35, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, key, version int16, frame []byte) {
		_, r, err := DecodeResponse(frame, key, version)
		if err != nil {
			return
		}
		_ = r.AppendTo(nil, version)
	})
}
