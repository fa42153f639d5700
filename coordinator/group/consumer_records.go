package group

import (
	"fmt"
	"sort"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/records"
	"github.com/spool-broker/spool/protocol/wire"
)

// KIP-848 record key versions (the key version is the record type). Keys
// are not flexible; values are version 0 and flexible (compact lengths,
// tagged fields), as in Kafka's ConsumerGroup*.json schemas.
const (
	keyConsumerGroupMetadata     = 3 // value: group epoch
	keyConsumerPartitionMetadata = 4 // subscription metadata; skipped (derived from the topic image)
	keyConsumerMemberMetadata    = 5 // value: subscription of a member
	keyConsumerTargetMetadata    = 6 // value: target assignment epoch
	keyConsumerTargetMember      = 7 // value: target assignment of a member
	keyConsumerCurrentAssignment = 8 // value: epochs, state and partitions of a member
)

// isConsumerKeyVersion reports whether a key version is a consumer group record.
func isConsumerKeyVersion(v int16) bool {
	return v >= keyConsumerGroupMetadata && v <= keyConsumerCurrentAssignment
}

// consumerKey is a decoded consumer group record key.
type consumerKey struct {
	kind   int16
	group  string
	member string // record types 5, 7 and 8
}

func hasMember(kind int16) bool {
	return kind == keyConsumerMemberMetadata || kind == keyConsumerTargetMember || kind == keyConsumerCurrentAssignment
}

func encodeConsumerKey(k consumerKey) []byte {
	b := wire.AppendInt16(nil, k.kind)
	b = wire.AppendString(b, k.group)
	if hasMember(k.kind) {
		b = wire.AppendString(b, k.member)
	}
	return b
}

func decodeConsumerKey(key []byte) (consumerKey, error) {
	r := wire.NewReader(key)
	k := consumerKey{kind: r.Int16()}
	k.group = r.String()
	if hasMember(k.kind) {
		k.member = r.String()
	}
	if err := r.Complete(); err != nil {
		return k, fmt.Errorf("%w: consumer group key version %d: %w", ErrCorruptRecord, k.kind, err)
	}
	return k, nil
}

// memberMetadata is a ConsumerGroupMemberMetadataValue.
type memberMetadata struct {
	instanceID         *string
	rackID             *string
	clientID           string
	clientHost         string
	topicNames         []string // sorted
	topicRegex         *string
	rebalanceTimeoutMs int32
	serverAssignor     *string
}

// currentAssignment is a ConsumerGroupCurrentMemberAssignmentValue.
type currentAssignment struct {
	epoch             int32
	previousEpoch     int32
	state             int8
	assigned          assignment
	pendingRevocation assignment
	// epochs is the assignment epoch of every partition in assigned and
	// pendingRevocation (KIP-1251; the records' tagged AssignmentEpochs):
	// the target assignment epoch at which the member got the partition.
	// An offset commit at a member epoch older than the member's current
	// one is accepted for a partition the member has held since that
	// epoch or earlier. Invariant: its keys are exactly the partitions of
	// assigned and pendingRevocation. nil reads as no epochs (empty
	// assignments).
	epochs map[topicPartitionID]int32
}

// partitionEpoch is the assignment epoch of a partition the member holds
// (assigned or pending revocation); ok is false when it holds none.
func (c currentAssignment) partitionEpoch(id protocol.UUID, p int32) (epoch int32, ok bool) {
	epoch, ok = c.epochs[topicPartitionID{id, p}]
	return epoch, ok
}

func cloneEpochs(m map[topicPartitionID]int32) map[topicPartitionID]int32 {
	out := make(map[topicPartitionID]int32, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func appendCompactNullable(b []byte, s *string) []byte { return wire.AppendCompactNullableString(b, s) }

func encodeEpochValue(epoch int32) []byte {
	b := wire.AppendInt16(nil, 0)
	b = wire.AppendInt32(b, epoch)
	return wire.AppendUvarint(b, 0)
}

func encodeMemberMetadata(m memberMetadata) []byte {
	b := wire.AppendInt16(nil, 0)
	b = appendCompactNullable(b, m.instanceID)
	b = appendCompactNullable(b, m.rackID)
	b = wire.AppendCompactString(b, m.clientID)
	b = wire.AppendCompactString(b, m.clientHost)
	b = wire.AppendCompactArrayLen(b, len(m.topicNames))
	for _, t := range m.topicNames {
		b = wire.AppendCompactString(b, t)
	}
	b = appendCompactNullable(b, m.topicRegex)
	b = wire.AppendInt32(b, m.rebalanceTimeoutMs)
	b = appendCompactNullable(b, m.serverAssignor)
	return wire.AppendUvarint(b, 0)
}

// appendAssignment writes []TopicPartitions: topic id and partitions, sorted
// by topic id so the encoding is deterministic.
func appendAssignment(b []byte, a assignment) []byte {
	ids := a.topicIDs()
	b = wire.AppendCompactArrayLen(b, len(ids))
	for _, id := range ids {
		b = wire.AppendUUID(b, id)
		ps := a[id]
		b = wire.AppendCompactArrayLen(b, len(ps))
		for _, p := range ps {
			b = wire.AppendInt32(b, p)
		}
		b = wire.AppendUvarint(b, 0)
	}
	return b
}

func encodeTargetMember(a assignment) []byte {
	b := wire.AppendInt16(nil, 0)
	b = appendAssignment(b, a)
	return wire.AppendUvarint(b, 0)
}

func encodeCurrentAssignment(c currentAssignment) []byte {
	b := wire.AppendInt16(nil, 0)
	b = wire.AppendInt32(b, c.epoch)
	b = wire.AppendInt32(b, c.previousEpoch)
	b = wire.AppendInt8(b, c.state)
	b = appendAssignmentWithEpochs(b, c.assigned, c.epochs)
	b = appendAssignmentWithEpochs(b, c.pendingRevocation, c.epochs)
	return wire.AppendUvarint(b, 0)
}

// appendAssignmentWithEpochs is appendAssignment for the current
// assignment's TopicPartitions, which carry each partition's assignment
// epoch in tagged field 0 (AssignmentEpochs, a nullable int32 array as long
// as Partitions), as Kafka 4.3 writes them.
func appendAssignmentWithEpochs(b []byte, a assignment, epochs map[topicPartitionID]int32) []byte {
	ids := a.topicIDs()
	b = wire.AppendCompactArrayLen(b, len(ids))
	for _, id := range ids {
		b = wire.AppendUUID(b, id)
		b = appendPartitionsWithEpochs(b, a[id], func(p int32) int32 { return epochs[topicPartitionID{id, p}] })
	}
	return b
}

// appendPartitionsWithEpochs appends partitions (a compact int32 array)
// and, when epochOf is set, the tagged field 0 Kafka 4.3 writes after them
// in assignments: AssignmentEpochs, each partition's assignment epoch (a
// nullable int32 array as long as the partitions); else no tagged field.
func appendPartitionsWithEpochs(b []byte, ps []int32, epochOf func(int32) int32) []byte {
	b = wire.AppendCompactArrayLen(b, len(ps))
	for _, p := range ps {
		b = wire.AppendInt32(b, p)
	}
	if epochOf == nil {
		return wire.AppendUvarint(b, 0)
	}
	tag := wire.AppendCompactArrayLen(nil, len(ps))
	for _, p := range ps {
		tag = wire.AppendInt32(tag, epochOf(p))
	}
	b = wire.AppendUvarint(b, 1) // one tagged field
	b = wire.AppendUvarint(b, 0) // tag 0: AssignmentEpochs
	b = wire.AppendUvarint(b, uint32(len(tag)))
	return append(b, tag...)
}

// readPartitionsWithEpochs reads what appendPartitionsWithEpochs writes;
// epochs is nil without the tagged field, or when it is null, unreadable
// or not as long as the partitions (then the caller applies its default,
// as Kafka does for records written before KIP-1251).
func readPartitionsWithEpochs(r *wire.Reader) (ps, epochs []int32) {
	m := r.CompactArrayLen(4)
	ps = make([]int32, 0, max(m, 0))
	for j := 0; j < m && r.Err() == nil; j++ {
		ps = append(ps, r.Int32())
	}
	tags := r.Uvarint()
	for j := uint32(0); j < tags && r.Err() == nil; j++ {
		tag, size := r.Uvarint(), r.Uvarint()
		data := r.Raw(int(size))
		if tag != 0 {
			continue
		}
		tr := wire.NewReader(data)
		k := tr.CompactArrayLen(4)
		epochs = make([]int32, 0, max(k, 0))
		for x := 0; x < k && tr.Err() == nil; x++ {
			epochs = append(epochs, tr.Int32())
		}
		if tr.Err() != nil || k < 0 {
			epochs = nil
		}
	}
	if len(epochs) != len(ps) {
		epochs = nil
	}
	return ps, epochs
}

func readCompactNullable(r *wire.Reader) *string {
	s, ok := r.CompactNullableString()
	if !ok {
		return nil
	}
	return &s
}

func readValueVersion(r *wire.Reader, what string) error {
	if v := r.Int16(); r.Err() == nil && v != 0 {
		return fmt.Errorf("%w: %s value version %d", ErrCorruptRecord, what, v)
	}
	return nil
}

func finish(r *wire.Reader, what string) error {
	skipTags(r)
	if err := r.Complete(); err != nil {
		return fmt.Errorf("%w: %s value: %w", ErrCorruptRecord, what, err)
	}
	return nil
}

func decodeEpochValue(b []byte, what string) (int32, error) {
	r := wire.NewReader(b)
	if err := readValueVersion(r, what); err != nil {
		return 0, err
	}
	e := r.Int32()
	return e, finish(r, what)
}

func decodeMemberMetadata(b []byte) (memberMetadata, error) {
	r := wire.NewReader(b)
	var m memberMetadata
	if err := readValueVersion(r, "consumer member metadata"); err != nil {
		return m, err
	}
	m.instanceID = readCompactNullable(r)
	m.rackID = readCompactNullable(r)
	m.clientID = r.CompactString()
	m.clientHost = r.CompactString()
	n := r.CompactArrayLen(1)
	for i := 0; i < n && r.Err() == nil; i++ {
		m.topicNames = append(m.topicNames, r.CompactString())
	}
	sort.Strings(m.topicNames)
	m.topicRegex = readCompactNullable(r)
	m.rebalanceTimeoutMs = r.Int32()
	m.serverAssignor = readCompactNullable(r)
	return m, finish(r, "consumer member metadata") // ClassicMemberMetadata is tag 0: skipped
}

func readAssignment(r *wire.Reader) assignment {
	a := assignment{}
	n := r.CompactArrayLen(17)
	for i := 0; i < n && r.Err() == nil; i++ {
		id := r.UUID()
		m := r.CompactArrayLen(4)
		ps := make([]int32, 0, max(m, 0))
		for j := 0; j < m && r.Err() == nil; j++ {
			ps = append(ps, r.Int32())
		}
		skipTags(r)
		a.add(id, ps...)
	}
	return a
}

func decodeTargetMember(b []byte) (assignment, error) {
	r := wire.NewReader(b)
	if err := readValueVersion(r, "consumer target assignment"); err != nil {
		return nil, err
	}
	a := readAssignment(r)
	return a, finish(r, "consumer target assignment")
}

func decodeCurrentAssignment(b []byte) (currentAssignment, error) {
	r := wire.NewReader(b)
	c := currentAssignment{epochs: map[topicPartitionID]int32{}}
	if err := readValueVersion(r, "consumer current assignment"); err != nil {
		return c, err
	}
	c.epoch = r.Int32()
	c.previousEpoch = r.Int32()
	c.state = r.Int8()
	c.assigned = readAssignmentWithEpochs(r, c.epoch, c.epochs)
	c.pendingRevocation = readAssignmentWithEpochs(r, c.epoch, c.epochs)
	return c, finish(r, "consumer current assignment")
}

// readAssignmentWithEpochs reads what appendAssignmentWithEpochs writes
// into epochs. A record without AssignmentEpochs (written before KIP-1251,
// or with a length that does not match) gives every partition the member
// epoch, as Kafka does.
func readAssignmentWithEpochs(r *wire.Reader, memberEpoch int32, epochs map[topicPartitionID]int32) assignment {
	a := assignment{}
	n := r.CompactArrayLen(17)
	for i := 0; i < n && r.Err() == nil; i++ {
		id := r.UUID()
		ps, es := readPartitionsWithEpochs(r)
		for j, p := range ps {
			e := memberEpoch
			if es != nil {
				e = es[j]
			}
			epochs[topicPartitionID{id, p}] = e
		}
		a.add(id, ps...)
	}
	return a
}

// Record builders. Each returns one record; a nil value is a tombstone.

func groupEpochRecord(group string, epoch int32) records.Record {
	return records.Record{Key: encodeConsumerKey(consumerKey{kind: keyConsumerGroupMetadata, group: group}), Value: encodeEpochValue(epoch)}
}

func targetEpochRecord(group string, epoch int32) records.Record {
	return records.Record{Key: encodeConsumerKey(consumerKey{kind: keyConsumerTargetMetadata, group: group}), Value: encodeEpochValue(epoch)}
}

func memberMetadataRecord(group string, m *consumerMember) records.Record {
	return records.Record{Key: encodeConsumerKey(consumerKey{kind: keyConsumerMemberMetadata, group: group, member: m.id}), Value: encodeMemberMetadata(m.metadata)}
}

func targetMemberRecord(group, member string, a assignment) records.Record {
	return records.Record{Key: encodeConsumerKey(consumerKey{kind: keyConsumerTargetMember, group: group, member: member}), Value: encodeTargetMember(a)}
}

func currentAssignmentRecord(group string, m *consumerMember) records.Record {
	return records.Record{Key: encodeConsumerKey(consumerKey{kind: keyConsumerCurrentAssignment, group: group, member: m.id}), Value: encodeCurrentAssignment(m.current)}
}

func consumerTombstone(kind int16, group, member string) records.Record {
	return records.Record{Key: encodeConsumerKey(consumerKey{kind: kind, group: group, member: member})}
}

// memberTombstones removes a member, in Kafka's order: current
// assignment, target assignment, then subscription.
func memberTombstones(group, member string) []records.Record {
	return []records.Record{
		consumerTombstone(keyConsumerCurrentAssignment, group, member),
		consumerTombstone(keyConsumerTargetMember, group, member),
		consumerTombstone(keyConsumerMemberMetadata, group, member),
	}
}

// replayConsumerRecord applies one consumer group record to groups. A
// record for a group that is classic (or absent) makes it a consumer group
// keeping its offsets; the ConsumerGroupMetadata tombstone makes it a
// simple group again (or removes it when it has no offsets).
func replayConsumerRecord(groups map[string]*group, key, value []byte) error {
	k, err := decodeConsumerKey(key)
	if err != nil {
		return err
	}
	g := groups[k.group]
	if value == nil {
		if g == nil || g.consumer == nil {
			return nil
		}
		cg := g.consumer
		switch k.kind {
		case keyConsumerGroupMetadata:
			g.consumer = nil
			g.resetMetadata()
			if len(g.offsets) == 0 {
				delete(groups, k.group)
			}
		case keyConsumerTargetMetadata:
			cg.assignmentEpoch = 0
		case keyConsumerMemberMetadata:
			delete(cg.members, k.member)
		case keyConsumerTargetMember:
			delete(cg.target, k.member)
		case keyConsumerCurrentAssignment:
			if m := cg.members[k.member]; m != nil {
				m.current = emptyCurrentAssignment()
			}
		}
		return nil
	}
	if k.kind == keyConsumerPartitionMetadata {
		return nil
	}
	if g == nil {
		g = newGroup(nil, k.group, 0)
		groups[k.group] = g
	}
	if g.consumer == nil {
		g.resetMetadata()
		g.consumer = newConsumerGroup()
	}
	cg := g.consumer
	member := func() *consumerMember {
		m := cg.members[k.member]
		if m == nil {
			m = newConsumerMember(k.member)
			cg.members[k.member] = m
		}
		return m
	}
	switch k.kind {
	case keyConsumerGroupMetadata:
		cg.epoch, err = decodeEpochValue(value, "consumer group metadata")
	case keyConsumerTargetMetadata:
		cg.assignmentEpoch, err = decodeEpochValue(value, "consumer target assignment metadata")
	case keyConsumerMemberMetadata:
		var md memberMetadata
		if md, err = decodeMemberMetadata(value); err == nil {
			member().setMetadata(md)
		}
	case keyConsumerTargetMember:
		var a assignment
		if a, err = decodeTargetMember(value); err == nil {
			cg.target[k.member] = a
		}
	case keyConsumerCurrentAssignment:
		var c currentAssignment
		if c, err = decodeCurrentAssignment(value); err == nil {
			member().current = c
		}
	}
	return err
}
