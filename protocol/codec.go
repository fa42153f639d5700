package protocol

import (
	"errors"
	"fmt"

	"github.com/spool-broker/spool/protocol/wire"
)

// ErrUnsupportedVersion means a message was asked for at a version Spool has
// no definition of.
var ErrUnsupportedVersion = errors.New("protocol: unsupported version")

// ErrUnknownAPIKey means a request header named an API key Spool does not know.
var ErrUnknownAPIKey = errors.New("protocol: unknown API key")

// ErrNullField means a null length arrived for a field that is not nullable
// in the message's version.
var ErrNullField = errors.New("protocol: null value in a non-nullable field")

// UUID is Kafka's 128-bit UUID (topic ids, directory ids), raw on the wire.
type UUID [16]byte

// TaggedField is one entry of a flexible struct's tagged-field section that
// the decoder did not recognise. Data aliases the decoded input.
type TaggedField struct {
	Tag  uint32
	Data []byte
}

// Message is any generated request or response.
type Message interface {
	APIKey() int16
	// AppendTo appends the body encoded at version v; an unsupported version
	// appends nothing.
	AppendTo(dst []byte, v int16) []byte
	// Decode reads the body at version v. It never panics; strings are
	// copied, byte fields (records) alias r's input.
	Decode(r *wire.Reader, v int16) error
	// Default resets every field to the spec's default.
	Default()
}

// Request is a generated request body.
type Request interface {
	Message
	IsRequest()
}

// Response is a generated response body.
type Response interface {
	Message
	IsResponse()
	// ErrorCodes calls fn with each non-zero error code (every int16 field
	// named *ErrorCode, at any depth) that the encoding at version v
	// carries, in field order. The server counts the errors it sends
	// with it.
	ErrorCodes(v int16, fn func(code int16))
}

// Listener is a bit set of the server roles that accept an API.
type Listener uint8

// Listeners named by the specs.
const (
	ListenerBroker Listener = 1 << iota
	ListenerController
	ListenerZKBroker
)

// APIInfo describes one API key.
type APIInfo struct {
	Key  int16
	Name string
	// MinVersion..MaxVersion is every version Spool can decode, including
	// the old ones Kafka 4.x removed (KIP-896) and an unstable latest one.
	MinVersion, MaxVersion int16
	// CurrentMinVersion is the floor of Kafka 4.3.1; -1 when 4.3.1 has no
	// version of the API at all.
	CurrentMinVersion int16
	// FlexibleFrom is the first flexible (KIP-482) version, -1 if none.
	FlexibleFrom int16
	Listeners    Listener
	// LatestVersionUnstable means MaxVersion is still in development
	// upstream and must not be advertised.
	LatestVersionUnstable bool
}

// MaxStableVersion is the newest version to advertise in ApiVersions.
func (a *APIInfo) MaxStableVersion() int16 {
	if a.LatestVersionUnstable {
		return a.MaxVersion - 1
	}
	return a.MaxVersion
}

// Supports reports whether v is a version Spool can decode.
func (a *APIInfo) Supports(v int16) bool { return v >= a.MinVersion && v <= a.MaxVersion }

// IsFlexible reports whether version v uses the flexible encoding.
func (a *APIInfo) IsFlexible(v int16) bool { return a.FlexibleFrom >= 0 && v >= a.FlexibleFrom }

var apiByKey = func() map[int16]*APIInfo {
	m := make(map[int16]*APIInfo, len(APIs))
	for i := range APIs {
		m[APIs[i].Key] = &APIs[i]
	}
	return m
}()

// LookupAPI returns the table entry for key, or nil.
func LookupAPI(key int16) *APIInfo { return apiByKey[key] }

// RequestHeaderVersion is the request header version for key at version v,
// or -1 when the key or version is unknown. ControlledShutdown v0 uses
// header v0 (no client id); otherwise flexible versions use v2, others v1.
func RequestHeaderVersion(key, v int16) int16 {
	a := LookupAPI(key)
	if a == nil || !a.Supports(v) {
		return -1
	}
	if key == KeyControlledShutdown && v == 0 {
		return 0
	}
	if a.IsFlexible(v) {
		return 2
	}
	return 1
}

// ResponseHeaderVersion is the response header version for key at version
// v, or -1 when unknown. ApiVersions responses always use v0 so a client can
// read them before versions are negotiated; otherwise flexible versions use
// v1, others v0.
func ResponseHeaderVersion(key, v int16) int16 {
	a := LookupAPI(key)
	if a == nil || !a.Supports(v) {
		return -1
	}
	if key == KeyApiVersions {
		return 0
	}
	if a.IsFlexible(v) {
		return 1
	}
	return 0
}

func unsupported(name string, v int16) error {
	return fmt.Errorf("%w: %s v%d", ErrUnsupportedVersion, name, v)
}

func ptr[T any](v T) *T { return &v }

func appendString(dst []byte, s string, compact bool) []byte {
	if compact {
		return wire.AppendCompactString(dst, s)
	}
	return wire.AppendString(dst, s)
}

// appendNullableString writes nil as null when nullable, else as "".
func appendNullableString(dst []byte, s *string, compact, nullable bool) []byte {
	if s == nil {
		if !nullable {
			return appendString(dst, "", compact)
		}
		if compact {
			return wire.AppendUvarint(dst, 0)
		}
		return wire.AppendInt16(dst, -1)
	}
	return appendString(dst, *s, compact)
}

// appendBytes writes nil as null when nullable, else as empty.
func appendBytes(dst []byte, b []byte, compact, nullable bool) []byte {
	switch {
	case b == nil && nullable && compact:
		return wire.AppendUvarint(dst, 0)
	case b == nil && nullable:
		return wire.AppendInt32(dst, -1)
	case compact:
		return wire.AppendCompactBytes(dst, b)
	}
	return wire.AppendBytes(dst, b)
}

// appendArrayLen writes a count; n < 0 is null.
func appendArrayLen(dst []byte, n int, compact bool) []byte {
	if compact {
		return wire.AppendCompactArrayLen(dst, n)
	}
	return wire.AppendArrayLen(dst, n)
}

func readString(r *wire.Reader, compact bool) string {
	var s string
	var ok bool
	if compact {
		s, ok = r.CompactNullableString()
	} else {
		s, ok = r.NullableString()
	}
	if !ok && r.Err() == nil {
		r.Fail(ErrNullField)
	}
	return s
}

func readNullableString(r *wire.Reader, compact, nullable bool) *string {
	var s string
	var ok bool
	if compact {
		s, ok = r.CompactNullableString()
	} else {
		s, ok = r.NullableString()
	}
	if !ok {
		if !nullable && r.Err() == nil {
			r.Fail(ErrNullField)
		}
		return nil
	}
	return &s
}

// readBytes reads BYTES; the result aliases r's input and is non-nil unless
// null (or on error).
func readBytes(r *wire.Reader, compact, nullable bool) []byte {
	var b []byte
	if compact {
		b = r.CompactBytes()
	} else {
		b = r.Bytes()
	}
	if b == nil && !nullable && r.Err() == nil {
		r.Fail(ErrNullField)
	}
	return b
}

// readArrayLen reads a count bounded by the bytes left (see
// wire.Reader.ArrayLen); -1 means null or error.
func readArrayLen(r *wire.Reader, compact, nullable bool, minElem int) int {
	var n int
	if compact {
		n = r.CompactArrayLen(minElem)
	} else {
		n = r.ArrayLen(minElem)
	}
	if n < 0 && !nullable && r.Err() == nil {
		r.Fail(ErrNullField)
	}
	return n
}

func appendTag(dst []byte, t TaggedField) []byte {
	dst = wire.AppendUvarint(dst, t.Tag)
	dst = wire.AppendUvarint(dst, uint32(len(t.Data)))
	return append(dst, t.Data...)
}

func appendUnknownTags(dst []byte, tags []TaggedField) []byte {
	dst = wire.AppendUvarint(dst, uint32(len(tags)))
	for _, t := range tags {
		dst = appendTag(dst, t)
	}
	return dst
}

// insertSize inserts the uvarint length of dst[start:] at start, for tagged
// fields whose size is known only after encoding them.
func insertSize(dst []byte, start int) []byte {
	n := len(dst) - start
	l := wire.UvarintLen(uint32(n))
	for range l {
		dst = append(dst, 0)
	}
	copy(dst[start+l:], dst[start:start+n])
	wire.AppendUvarint(dst[start:start:start+l], uint32(n))
	return dst
}
