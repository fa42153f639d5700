package share

import (
	"encoding/base64"
	"fmt"

	"github.com/spool-broker/spool/protocol/wire"
)

// Record formats of __share_group_state, Kafka's ShareSnapshotKey/Value
// (type 0) and ShareUpdateKey/Value (type 1). The key's leading int16 is
// the record type; values are version 0, flexible (tagged fields; Spool
// writes none, so DeliveryCompleteCount reads as its default -1).
//
//	key:      int16 type | string groupId | uuid topicId | int32 partition
//	snapshot: int16 0 | int32 snapshotEpoch | int32 stateEpoch | int32 leaderEpoch |
//	          int64 startOffset | int64 createTimestamp | int64 writeTimestamp |
//	          compact array of batch | tags
//	update:   int16 0 | int32 snapshotEpoch | int32 leaderEpoch |
//	          int64 startOffset (-1: unchanged) | compact array of batch | tags
//	batch:    int64 firstOffset | int64 lastOffset | int8 deliveryState |
//	          int16 deliveryCount | tags
//
// A snapshot is a share partition's whole state; an update carries the
// batches that changed since the state before it and is combined into it
// on replay (combineBatches). A tombstone is a snapshot key with a null
// value.
const (
	keyShareSnapshot int16 = 0
	keyShareUpdate   int16 = 1
)

// snapshotValue is a ShareSnapshotValue.
type snapshotValue struct {
	SnapshotEpoch   int32
	State           State
	CreateTimestamp int64
	WriteTimestamp  int64
}

// updateValue is a ShareUpdateValue.
type updateValue struct {
	SnapshotEpoch int32
	LeaderEpoch   int32
	StartOffset   int64
	Batches       []StateBatch
}

func encodeStateKey(kind int16, k Key) []byte {
	b := wire.AppendInt16(nil, kind)
	b = wire.AppendString(b, k.GroupID)
	b = append(b, k.TopicID[:]...)
	return wire.AppendInt32(b, k.Partition)
}

// decodeStateKey returns the record type and key; ok is false for a record
// type the store does not read.
func decodeStateKey(b []byte) (kind int16, k Key, ok bool, err error) {
	r := wire.NewReader(b)
	kind = r.Int16()
	if r.Err() == nil && kind != keyShareSnapshot && kind != keyShareUpdate {
		return kind, k, false, nil
	}
	k.GroupID = r.String()
	k.TopicID = r.UUID()
	k.Partition = r.Int32()
	if err := r.Complete(); err != nil {
		return kind, k, false, fmt.Errorf("%w: key: %w", ErrCorruptRecord, err)
	}
	return kind, k, true, nil
}

func encodeSnapshotValue(v snapshotValue) []byte {
	b := wire.AppendInt16(nil, 0)
	b = wire.AppendInt32(b, v.SnapshotEpoch)
	b = wire.AppendInt32(b, v.State.StateEpoch)
	b = wire.AppendInt32(b, v.State.LeaderEpoch)
	b = wire.AppendInt64(b, v.State.StartOffset)
	b = wire.AppendInt64(b, v.CreateTimestamp)
	b = wire.AppendInt64(b, v.WriteTimestamp)
	b = appendBatches(b, v.State.Batches)
	return wire.AppendUvarint(b, 0)
}

func decodeSnapshotValue(b []byte) (snapshotValue, error) {
	r := wire.NewReader(b)
	var v snapshotValue
	if ver := r.Int16(); r.Err() == nil && ver != 0 {
		return v, fmt.Errorf("%w: snapshot value version %d", ErrCorruptRecord, ver)
	}
	v.SnapshotEpoch = r.Int32()
	v.State.StateEpoch = r.Int32()
	v.State.LeaderEpoch = r.Int32()
	v.State.StartOffset = r.Int64()
	v.CreateTimestamp = r.Int64()
	v.WriteTimestamp = r.Int64()
	v.State.Batches = readBatches(r)
	skipTags(r)
	if err := r.Complete(); err != nil {
		return v, fmt.Errorf("%w: snapshot value: %w", ErrCorruptRecord, err)
	}
	return v, nil
}

func encodeUpdateValue(v updateValue) []byte {
	b := wire.AppendInt16(nil, 0)
	b = wire.AppendInt32(b, v.SnapshotEpoch)
	b = wire.AppendInt32(b, v.LeaderEpoch)
	b = wire.AppendInt64(b, v.StartOffset)
	b = appendBatches(b, v.Batches)
	return wire.AppendUvarint(b, 0)
}

func decodeUpdateValue(b []byte) (updateValue, error) {
	r := wire.NewReader(b)
	var v updateValue
	if ver := r.Int16(); r.Err() == nil && ver != 0 {
		return v, fmt.Errorf("%w: update value version %d", ErrCorruptRecord, ver)
	}
	v.SnapshotEpoch = r.Int32()
	v.LeaderEpoch = r.Int32()
	v.StartOffset = r.Int64()
	v.Batches = readBatches(r)
	skipTags(r)
	if err := r.Complete(); err != nil {
		return v, fmt.Errorf("%w: update value: %w", ErrCorruptRecord, err)
	}
	return v, nil
}

func appendBatches(b []byte, batches []StateBatch) []byte {
	b = wire.AppendCompactArrayLen(b, len(batches))
	for _, sb := range batches {
		b = wire.AppendInt64(b, sb.FirstOffset)
		b = wire.AppendInt64(b, sb.LastOffset)
		b = append(b, byte(sb.DeliveryState))
		b = wire.AppendInt16(b, sb.DeliveryCount)
		b = wire.AppendUvarint(b, 0)
	}
	return b
}

func readBatches(r *wire.Reader) []StateBatch {
	n := r.CompactArrayLen(19)
	var out []StateBatch
	for i := 0; i < n && r.Err() == nil; i++ {
		var sb StateBatch
		sb.FirstOffset = r.Int64()
		sb.LastOffset = r.Int64()
		sb.DeliveryState = RecordState(r.Int8())
		sb.DeliveryCount = r.Int16()
		skipTags(r)
		out = append(out, sb)
	}
	return out
}

// skipTags skips a tagged-field section.
func skipTags(r *wire.Reader) {
	n := r.Uvarint()
	for i := uint32(0); i < n && r.Err() == nil; i++ {
		r.Uvarint()
		r.Raw(int(r.Uvarint()))
	}
}

// base64UUID is Kafka's Uuid.toString: URL-safe base64 without padding.
func base64UUID(u [16]byte) string { return base64.RawURLEncoding.EncodeToString(u[:]) }
