package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/wire"
)

// DefaultMaxRequestSize is Kafka's socket.request.max.bytes default (100 MiB).
const DefaultMaxRequestSize = 104857600

// ErrFrameSize means a frame's size prefix is negative or above the limit.
var ErrFrameSize = errors.New("protocol: invalid frame size")

// ReadFrame reads one size-prefixed frame from r and returns its payload
// (without the prefix). The size is checked against maxSize, and for being
// negative, before anything is allocated. The payload reuses buf when it is
// large enough, so callers may pass the previous frame back in.
func ReadFrame(r io.Reader, maxSize int32, buf []byte) ([]byte, error) {
	if cap(buf) < 4 {
		buf = make([]byte, 4, 512)
	}
	if _, err := io.ReadFull(r, buf[:4]); err != nil {
		return nil, err
	}
	size := int32(binary.BigEndian.Uint32(buf[:4]))
	if size < 0 || size > maxSize {
		return nil, fmt.Errorf("%w: %d bytes (max %d)", ErrFrameSize, size, maxSize)
	}
	if int(size) > cap(buf) {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}

// ParseRequest decodes a request frame (without its size prefix): the header
// at the version the API key and version call for, then the body.
//
// For an unknown API key (ErrUnknownAPIKey) or a version Spool does not
// know (ErrUnsupportedVersion) the returned header still carries the key,
// version, correlation id and (best effort) client id, so the server can
// answer: for ApiVersions that answer is UnsupportedAPIVersionsResponse
// written at v0. Byte fields of the request (records) alias frame.
func ParseRequest(frame []byte) (RequestHeader, Request, error) {
	var hdr RequestHeader
	hdr.Default()
	r := wire.NewReader(frame)
	if len(frame) < 8 {
		return hdr, nil, fmt.Errorf("protocol: request header: %w", wire.ErrShort)
	}
	key := int16(binary.BigEndian.Uint16(frame))
	version := int16(binary.BigEndian.Uint16(frame[2:]))
	api := LookupAPI(key)
	if api == nil || !api.Supports(version) {
		// Header v1 is a prefix of v2, so it parses whatever the version.
		_ = hdr.Decode(r, 1)
		hdr.RequestAPIKey, hdr.RequestAPIVersion = key, version
		hdr.CorrelationID = int32(binary.BigEndian.Uint32(frame[4:]))
		if api == nil {
			return hdr, nil, fmt.Errorf("%w: %d", ErrUnknownAPIKey, key)
		}
		return hdr, nil, fmt.Errorf("%w: %s v%d (supported %d-%d)", ErrUnsupportedVersion, api.Name, version, api.MinVersion, api.MaxVersion)
	}
	if err := hdr.Decode(r, RequestHeaderVersion(key, version)); err != nil {
		hdr.CorrelationID = int32(binary.BigEndian.Uint32(frame[4:]))
		return hdr, nil, fmt.Errorf("protocol: %s v%d request header: %w", api.Name, version, err)
	}
	req := NewRequest(key)
	if err := req.Decode(r, version); err != nil {
		return hdr, req, fmt.Errorf("protocol: %s v%d request: %w", api.Name, version, err)
	}
	// Bytes after the body are ignored, as Kafka's broker ignores them:
	// some clients send them (librdkafka 2.12 adds 3 to Metadata v13).
	return hdr, req, nil
}

// ParseRequestHeader decodes only the request header at the start of b,
// which may hold just a prefix of the frame, and returns the header's length,
// so a body can be read separately (ProduceReader). It fails for a key or
// version Spool does not know, and with wire.ErrShort when b ends inside the
// header; ParseRequest on the whole frame reports such requests properly.
func ParseRequestHeader(b []byte) (RequestHeader, int, error) {
	var hdr RequestHeader
	if len(b) < 4 {
		return hdr, 0, wire.ErrShort
	}
	key := int16(binary.BigEndian.Uint16(b))
	version := int16(binary.BigEndian.Uint16(b[2:]))
	hv := RequestHeaderVersion(key, version)
	if hv < 0 {
		return hdr, 0, fmt.Errorf("%w: key %d v%d", ErrUnsupportedVersion, key, version)
	}
	r := wire.NewReader(b)
	if err := hdr.Decode(r, hv); err != nil {
		return hdr, 0, err
	}
	return hdr, r.Offset(), nil
}

// DecodeResponse decodes a response frame (without size prefix) for key at
// version: the response header, then the body. It is the client-side
// counterpart of ParseRequest, used by tests and tools.
func DecodeResponse(frame []byte, key, version int16) (ResponseHeader, Response, error) {
	var hdr ResponseHeader
	hv := ResponseHeaderVersion(key, version)
	if hv < 0 {
		return hdr, nil, fmt.Errorf("%w: key %d v%d", ErrUnsupportedVersion, key, version)
	}
	r := wire.NewReader(frame)
	_ = hdr.Decode(r, hv)
	resp := NewResponse(key)
	_ = resp.Decode(r, version)
	if err := r.Complete(); err != nil {
		return hdr, resp, fmt.Errorf("protocol: key %d v%d response: %w", key, version, err)
	}
	return hdr, resp, nil
}

// AppendResponse appends a whole response frame to dst: the size prefix,
// the response header at the version apiKey/version calls for, and resp
// encoded at version. It fails only for a key or version Spool does not
// know, or a resp of another API.
func AppendResponse(dst []byte, correlationID int32, apiKey, version int16, resp Response) ([]byte, error) {
	hv := ResponseHeaderVersion(apiKey, version)
	if hv < 0 {
		return dst, fmt.Errorf("%w: key %d v%d", ErrUnsupportedVersion, apiKey, version)
	}
	if resp.APIKey() != apiKey {
		return dst, fmt.Errorf("protocol: response for key %d written as key %d", resp.APIKey(), apiKey)
	}
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	h := ResponseHeader{CorrelationID: correlationID}
	dst = h.AppendTo(dst, hv)
	dst = resp.AppendTo(dst, version)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst, nil
}

// AppendRequest appends a whole request frame to dst: the size prefix, hdr
// at the version its key and version call for, and req. hdr's key and
// version say how req is encoded.
func AppendRequest(dst []byte, hdr *RequestHeader, req Request) ([]byte, error) {
	hv := RequestHeaderVersion(hdr.RequestAPIKey, hdr.RequestAPIVersion)
	if hv < 0 {
		return dst, fmt.Errorf("%w: key %d v%d", ErrUnsupportedVersion, hdr.RequestAPIKey, hdr.RequestAPIVersion)
	}
	if req.APIKey() != hdr.RequestAPIKey {
		return dst, fmt.Errorf("protocol: request for key %d written as key %d", req.APIKey(), hdr.RequestAPIKey)
	}
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = hdr.AppendTo(dst, hv)
	dst = req.AppendTo(dst, hdr.RequestAPIVersion)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst, nil
}

// UnsupportedAPIVersionsResponse is Kafka's answer to an ApiVersions request
// at a version the broker does not know: error UNSUPPORTED_VERSION and the
// ApiVersions range the broker supports, so the client retries at a version
// both sides know. Write it at version 0:
//
//	dst, _ = AppendResponse(dst, hdr.CorrelationID, KeyApiVersions, 0, UnsupportedAPIVersionsResponse())
func UnsupportedAPIVersionsResponse() *ApiVersionsResponse {
	a := LookupAPI(KeyApiVersions)
	resp := new(ApiVersionsResponse)
	resp.Default()
	resp.ErrorCode = errcode.UnsupportedVersion
	resp.APIKeys = []ApiVersionsResponseAPIVersion{{APIKey: KeyApiVersions, MinVersion: a.MinVersion, MaxVersion: a.MaxStableVersion()}}
	return resp
}
