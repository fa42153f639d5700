package group

import (
	"errors"
	"fmt"

	"github.com/spool-broker/spool/protocol/wire"
)

// ErrCorruptRecord means a __consumer_offsets record could not be decoded.
var ErrCorruptRecord = errors.New("group: corrupt __consumer_offsets record")

// Record key versions. Since KIP-848 the key version is the record type; a
// coordinator skips types it doesn't know (consumer-group records, share
// groups) so a log written by a newer Kafka still loads.
const (
	keyOffsetCommitV0  = 0
	keyOffsetCommit    = 1 // written by Kafka 4.3 and by Spool
	keyGroupMetadata   = 2
	valueOffsetCommit  = 3 // OffsetCommitValue without expireTimestamp
	valueOffsetExpire  = 1 // OffsetCommitValue with expireTimestamp
	valueGroupMetadata = 3
)

// OffsetKey is an OffsetCommitKey: which group, topic and partition an
// offset record is about.
type OffsetKey struct {
	Group     string
	Topic     string
	Partition int32
}

// OffsetValue is an OffsetCommitValue.
type OffsetValue struct {
	Offset          int64
	LeaderEpoch     int32 // -1 when unknown
	Metadata        string
	CommitTimestamp int64 // ms
	ExpireTimestamp int64 // ms; -1 unless the commit asked for a retention time
}

// GroupValue is a GroupMetadataValue: a classic group as of its last
// completed rebalance.
type GroupValue struct {
	ProtocolType          string
	Generation            int32
	Protocol              *string
	Leader                *string
	CurrentStateTimestamp int64 // ms; -1 when unknown
	Members               []MemberValue
}

// MemberValue is one member in a GroupMetadataValue.
type MemberValue struct {
	MemberID         string
	GroupInstanceID  *string
	ClientID         string
	ClientHost       string
	RebalanceTimeout int32
	SessionTimeout   int32
	Subscription     []byte
	Assignment       []byte
}

// EncodeOffsetKey writes an OffsetCommitKey at version 1, as Kafka 4.3 does.
func EncodeOffsetKey(k OffsetKey) []byte {
	b := wire.AppendInt16(nil, keyOffsetCommit)
	b = wire.AppendString(b, k.Group)
	b = wire.AppendString(b, k.Topic)
	return wire.AppendInt32(b, k.Partition)
}

// EncodeOffsetValue writes an OffsetCommitValue at version 3, or at version 1
// when the commit carries an explicit expire timestamp (Kafka's choice too).
func EncodeOffsetValue(v OffsetValue) []byte {
	if v.ExpireTimestamp >= 0 {
		b := wire.AppendInt16(nil, valueOffsetExpire)
		b = wire.AppendInt64(b, v.Offset)
		b = wire.AppendString(b, v.Metadata)
		b = wire.AppendInt64(b, v.CommitTimestamp)
		return wire.AppendInt64(b, v.ExpireTimestamp)
	}
	b := wire.AppendInt16(nil, valueOffsetCommit)
	b = wire.AppendInt64(b, v.Offset)
	b = wire.AppendInt32(b, v.LeaderEpoch)
	b = wire.AppendString(b, v.Metadata)
	return wire.AppendInt64(b, v.CommitTimestamp)
}

// EncodeGroupKey writes a GroupMetadataKey (key version 2).
func EncodeGroupKey(group string) []byte {
	b := wire.AppendInt16(nil, keyGroupMetadata)
	return wire.AppendString(b, group)
}

// EncodeGroupValue writes a GroupMetadataValue at version 3.
func EncodeGroupValue(v GroupValue) []byte {
	b := wire.AppendInt16(nil, valueGroupMetadata)
	b = wire.AppendString(b, v.ProtocolType)
	b = wire.AppendInt32(b, v.Generation)
	b = wire.AppendNullableString(b, v.Protocol)
	b = wire.AppendNullableString(b, v.Leader)
	b = wire.AppendInt64(b, v.CurrentStateTimestamp)
	b = wire.AppendArrayLen(b, len(v.Members))
	for _, m := range v.Members {
		b = wire.AppendString(b, m.MemberID)
		b = wire.AppendNullableString(b, m.GroupInstanceID)
		b = wire.AppendString(b, m.ClientID)
		b = wire.AppendString(b, m.ClientHost)
		b = wire.AppendInt32(b, m.RebalanceTimeout)
		b = wire.AppendInt32(b, m.SessionTimeout)
		b = wire.AppendBytes(b, nonNil(m.Subscription))
		b = wire.AppendBytes(b, nonNil(m.Assignment))
	}
	return b
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// recordKind is what a __consumer_offsets key is about.
type recordKind int

const (
	kindOther recordKind = iota // a record type this coordinator skips
	kindOffset
	kindGroup
)

// decodeKey parses a record key. Unknown key versions are kindOther.
func decodeKey(key []byte) (recordKind, OffsetKey, error) {
	r := wire.NewReader(key)
	version := r.Int16()
	if r.Err() != nil {
		return kindOther, OffsetKey{}, fmt.Errorf("%w: key: %w", ErrCorruptRecord, r.Err())
	}
	var k OffsetKey
	var kind recordKind
	switch version {
	case keyOffsetCommitV0, keyOffsetCommit:
		kind = kindOffset
		k.Group = r.String()
		k.Topic = r.String()
		k.Partition = r.Int32()
	case keyGroupMetadata:
		kind = kindGroup
		k.Group = r.String()
	default:
		return kindOther, k, nil
	}
	if err := r.Complete(); err != nil {
		return kindOther, k, fmt.Errorf("%w: key version %d: %w", ErrCorruptRecord, version, err)
	}
	return kind, k, nil
}

// DecodeOffsetValue parses an OffsetCommitValue of any version 0-4.
func DecodeOffsetValue(b []byte) (OffsetValue, error) {
	r := wire.NewReader(b)
	v := OffsetValue{LeaderEpoch: -1, ExpireTimestamp: -1}
	version := r.Int16()
	if version < 0 || version > 4 {
		return v, fmt.Errorf("%w: offset value version %d", ErrCorruptRecord, version)
	}
	flexible := version >= 4
	v.Offset = r.Int64()
	if version >= 3 {
		v.LeaderEpoch = r.Int32()
	}
	v.Metadata = readString(r, flexible)
	v.CommitTimestamp = r.Int64()
	if version == 1 {
		v.ExpireTimestamp = r.Int64()
	}
	if flexible {
		skipTags(r)
	}
	if err := r.Complete(); err != nil {
		return v, fmt.Errorf("%w: offset value version %d: %w", ErrCorruptRecord, version, err)
	}
	return v, nil
}

// DecodeGroupValue parses a GroupMetadataValue of any version 0-4.
func DecodeGroupValue(b []byte) (GroupValue, error) {
	r := wire.NewReader(b)
	v := GroupValue{CurrentStateTimestamp: -1}
	version := r.Int16()
	if version < 0 || version > 4 {
		return v, fmt.Errorf("%w: group value version %d", ErrCorruptRecord, version)
	}
	flex := version >= 4
	v.ProtocolType = readString(r, flex)
	v.Generation = r.Int32()
	v.Protocol = readNullableString(r, flex)
	v.Leader = readNullableString(r, flex)
	if version >= 2 {
		v.CurrentStateTimestamp = r.Int64()
	}
	var n int
	if flex {
		n = r.CompactArrayLen(8)
	} else {
		n = r.ArrayLen(8)
	}
	for i := 0; i < n && r.Err() == nil; i++ {
		var m MemberValue
		m.MemberID = readString(r, flex)
		if version >= 3 {
			m.GroupInstanceID = readNullableString(r, flex)
		}
		m.ClientID = readString(r, flex)
		m.ClientHost = readString(r, flex)
		if version >= 1 {
			m.RebalanceTimeout = r.Int32()
		}
		m.SessionTimeout = r.Int32()
		if version == 0 {
			m.RebalanceTimeout = m.SessionTimeout
		}
		m.Subscription = readBytes(r, flex)
		m.Assignment = readBytes(r, flex)
		if flex {
			skipTags(r)
		}
		v.Members = append(v.Members, m)
	}
	if flex {
		skipTags(r)
	}
	if err := r.Complete(); err != nil {
		return v, fmt.Errorf("%w: group value version %d: %w", ErrCorruptRecord, version, err)
	}
	return v, nil
}

func readString(r *wire.Reader, flexible bool) string {
	if flexible {
		return r.CompactString()
	}
	return r.String()
}

func readNullableString(r *wire.Reader, flexible bool) *string {
	var s string
	var ok bool
	if flexible {
		s, ok = r.CompactNullableString()
	} else {
		s, ok = r.NullableString()
	}
	if !ok {
		return nil
	}
	return &s
}

// readBytes copies: decoded values outlive the log read buffer.
func readBytes(r *wire.Reader, flexible bool) []byte {
	var b []byte
	if flexible {
		b = r.CompactBytes()
	} else {
		b = r.Bytes()
	}
	return append([]byte{}, b...)
}

func skipTags(r *wire.Reader) {
	n := r.Uvarint()
	for i := uint32(0); i < n && r.Err() == nil; i++ {
		r.Uvarint()
		size := r.Uvarint()
		r.Raw(int(size))
	}
}
