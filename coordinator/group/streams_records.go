package group

import (
	"fmt"

	"github.com/spool-broker/spool/protocol/records"
	"github.com/spool-broker/spool/protocol/wire"
)

// keyStreamsGroupMetadata is the record type (key version) of Kafka's
// StreamsGroupMetadataKey/Value: the streams group and its epoch.
//
//	key:   int16 17 | string group
//	value: int16 0 | int32 epoch | int64 metadataHash | tags
//	       (tag 0: int32 validatedTopologyEpoch, written when >= 0;
//	       Kafka's tag 1, the last assignment configs, is not written)
//
// Spool persists only this record of a streams group: the group, its type
// and epoch survive a coordinator move or restart, empty; members, the
// topology and the assignments are in memory and rebuilt as members join
// again. Kafka's other streams records (types 15, 16, 18-21) are skipped
// on replay.
const keyStreamsGroupMetadata int16 = 17

func encodeStreamsGroupKey(group string) []byte {
	b := wire.AppendInt16(nil, keyStreamsGroupMetadata)
	return wire.AppendString(b, group)
}

func streamsGroupRecord(group string, epoch, validatedTopologyEpoch int32) records.Record {
	b := wire.AppendInt16(nil, 0)
	b = wire.AppendInt32(b, epoch)
	b = wire.AppendInt64(b, 0) // metadataHash: Spool compares partition counts instead
	if validatedTopologyEpoch >= 0 {
		b = wire.AppendUvarint(b, 1)
		b = wire.AppendUvarint(b, 0)
		b = wire.AppendUvarint(b, 4)
		b = wire.AppendInt32(b, validatedTopologyEpoch)
	} else {
		b = wire.AppendUvarint(b, 0)
	}
	return records.Record{Key: encodeStreamsGroupKey(group), Value: b}
}

func streamsGroupTombstone(group string) records.Record {
	return records.Record{Key: encodeStreamsGroupKey(group)}
}

// replayStreamsRecord applies a StreamsGroupMetadata record: the group
// becomes (or stays) an empty streams group at the record's epoch; a
// tombstone makes it a simple group again, or removes it without offsets.
func replayStreamsRecord(groups map[string]*group, key, value []byte) error {
	r := wire.NewReader(key)
	r.Int16()
	id := r.String()
	if err := r.Err(); err != nil {
		return fmt.Errorf("%w: streams group key: %w", ErrCorruptRecord, err)
	}
	g := groups[id]
	if value == nil {
		if g == nil || g.streams == nil {
			return nil
		}
		g.streams = nil
		g.resetMetadata()
		if len(g.offsets) == 0 {
			delete(groups, id)
		}
		return nil
	}
	v := wire.NewReader(value)
	if ver := v.Int16(); ver != 0 {
		return fmt.Errorf("%w: streams group metadata value version %d", ErrCorruptRecord, ver)
	}
	epoch := v.Int32()
	v.Int64()
	if err := v.Err(); err != nil {
		return fmt.Errorf("%w: streams group metadata value: %w", ErrCorruptRecord, err)
	}
	if g == nil {
		g = newGroup(nil, id, 0)
		groups[id] = g
	}
	if g.streams == nil {
		g.resetMetadata()
		g.consumer = nil
		g.streams = newStreamsGroup()
	}
	g.streams.epoch = epoch
	if len(g.streams.members) == 0 {
		// Nothing of a target is persisted: the next member's heartbeat
		// computes one past this epoch.
		g.streams.assignmentEpoch = epoch
	}
	return nil
}

// persistStreamsEpochLocked writes the group's epoch (Kafka's
// StreamsGroupMetadata record) after it moved.
func (s *shard) persistStreamsEpochLocked(g *group) int16 {
	validated := int32(-1)
	if sg := g.streams; sg.topology != nil && sg.configured.ready() {
		validated = sg.topology.epoch
	}
	return s.appendLocked([]records.Record{streamsGroupRecord(g.id, g.streams.epoch, validated)})
}
