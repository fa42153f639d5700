package group

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/records"
	"github.com/spool-broker/spool/protocol/wire"
)

// Record types (key versions) of a share group in __consumer_offsets, as
// Kafka 4.3.1's ShareGroup*Key/Value schemas (kafka-group-coordinator jar).
// Keys are not flexible; values are version 0 and flexible.
//
//	10 ShareGroupMemberMetadata            key: group | member  value: ?rackId | clientId | clientHost |
//	                                                                   []string subscribedTopicNames
//	11 ShareGroupMetadata                  key: group           value: int32 epoch | int64 metadataHash
//	12 ShareGroupTargetAssignmentMetadata  key: group           value: int32 assignmentEpoch | tag 0 int64 timestamp
//	13 ShareGroupTargetAssignmentMember    key: group | member  value: []{uuid topicId | []int32 partitions}
//	14 ShareGroupCurrentMemberAssignment   key: group | member  value: int32 epoch | int32 previousEpoch | int8 state |
//	                                                                   []{uuid topicId | []int32 partitions}
//	15 ShareGroupStatePartitionMetadata    key: group           value: []{uuid | name | []int32} initializing |
//	                                                                   []{uuid | name | []int32} initialized |
//	                                                                   []{uuid | name} deleting
//
// Spool assigns a share group's partitions at once (there is no
// revocation), so a member's target and current assignment are the same
// and every member is at the group epoch. Record 15 lists the topics whose
// share partitions the group has state for as initialized, with all their
// partitions. Records are written with persistedRecords (persisted.go):
// after every change what differs from the log.
const (
	keyShareMemberMetadata    int16 = 10
	keyShareGroupMetadata     int16 = 11
	keyShareTargetMetadata    int16 = 12
	keyShareTargetMember      int16 = 13
	keyShareCurrentAssignment int16 = 14
	keyShareGroupTopics       int16 = 15 // ShareGroupStatePartitionMetadata
)

// isShareKeyVersion reports whether a key version is a share group record.
func isShareKeyVersion(v int16) bool {
	return v >= keyShareMemberMetadata && v <= keyShareGroupTopics
}

func shareKeyHasMember(kind int16) bool {
	return kind == keyShareMemberMetadata || kind == keyShareTargetMember || kind == keyShareCurrentAssignment
}

func encodeShareKey(kind int16, group, member string) []byte {
	b := wire.AppendInt16(nil, kind)
	b = wire.AppendString(b, group)
	if shareKeyHasMember(kind) {
		b = wire.AppendString(b, member)
	}
	return b
}

// The order of a share group's records in one write, and of tombstones, as
// Kafka writes them.
var (
	shareTombstoneOrder = []int16{keyShareCurrentAssignment, keyShareTargetMember, keyShareMemberMetadata, keyShareTargetMetadata, keyShareGroupTopics, keyShareGroupMetadata}
)

// sharePartitionsHash stands in for Kafka's metadata hash: a hash of the
// subscribed topics' partition counts the assignment was computed from,
// compared on load. It is not Kafka's value; either side reading the
// other's recomputes the assignment once.
func sharePartitionsHash(parts map[string]int32) int64 {
	if len(parts) == 0 {
		return 0
	}
	names := make([]string, 0, len(parts))
	for n := range parts {
		names = append(names, n)
	}
	sort.Strings(names)
	h := fnv.New64a()
	for _, n := range names {
		h.Write([]byte(n + ":" + strconv.Itoa(int(parts[n])) + ";"))
	}
	return int64(h.Sum64())
}

func sortedTopicIDs(a map[protocol.UUID][]int32) []protocol.UUID {
	ids := make([]protocol.UUID, 0, len(a))
	for id, ps := range a {
		if len(ps) > 0 {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return string(ids[i][:]) < string(ids[j][:]) })
	return ids
}

func appendSharePartitions(b []byte, a map[protocol.UUID][]int32) []byte {
	ids := sortedTopicIDs(a)
	b = wire.AppendCompactArrayLen(b, len(ids))
	for _, id := range ids {
		b = wire.AppendUUID(b, id)
		ps := append([]int32(nil), a[id]...)
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		b = wire.AppendCompactArrayLen(b, len(ps))
		for _, p := range ps {
			b = wire.AppendInt32(b, p)
		}
		b = wire.AppendUvarint(b, 0)
	}
	return b
}

func readSharePartitions(r *wire.Reader) map[protocol.UUID][]int32 {
	out := map[protocol.UUID][]int32{}
	n := r.CompactArrayLen(18)
	for i := 0; i < n && r.Err() == nil; i++ {
		id := r.UUID()
		k := r.CompactArrayLen(4)
		ps := make([]int32, 0, max(k, 0))
		for j := 0; j < k && r.Err() == nil; j++ {
			ps = append(ps, r.Int32())
		}
		skipTags(r)
		if len(ps) > 0 {
			out[id] = ps
		}
	}
	return out
}

func encodeShareMemberValue(m *shareMember) []byte {
	b := wire.AppendInt16(nil, 0)
	b = wire.AppendCompactNullableString(b, m.rackID)
	b = wire.AppendCompactString(b, m.clientID)
	b = wire.AppendCompactString(b, m.clientHost)
	b = wire.AppendCompactArrayLen(b, len(m.topics))
	for _, t := range m.topics {
		b = wire.AppendCompactString(b, t)
	}
	return wire.AppendUvarint(b, 0)
}

func encodeShareGroupValue(epoch int32, metadataHash int64) []byte {
	b := wire.AppendInt16(nil, 0)
	b = wire.AppendInt32(b, epoch)
	b = wire.AppendInt64(b, metadataHash)
	return wire.AppendUvarint(b, 0)
}

func encodeShareCurrentValue(m *shareMember) []byte {
	b := wire.AppendInt16(nil, 0)
	b = wire.AppendInt32(b, m.epoch)
	b = wire.AppendInt32(b, m.previousEpoch)
	b = wire.AppendInt8(b, 0) // STABLE: nothing is ever revoked
	b = appendSharePartitions(b, m.assignment)
	return wire.AppendUvarint(b, 0)
}

func encodeShareTargetMemberValue(a map[protocol.UUID][]int32) []byte {
	b := wire.AppendInt16(nil, 0)
	b = appendSharePartitions(b, a)
	return wire.AppendUvarint(b, 0)
}

// encodeShareTopicsValue writes the initialized topics that still exist
// (a ShareGroupStatePartitionMetadataValue needs their ids) with all their
// partitions, sorted by name.
func encodeShareTopicsValue(topics map[string]bool, existing map[string]TopicMetadata) []byte {
	names := make([]string, 0, len(topics))
	for t := range topics {
		if _, ok := existing[t]; ok {
			names = append(names, t)
		}
	}
	sort.Strings(names)
	b := wire.AppendInt16(nil, 0)
	b = wire.AppendCompactArrayLen(b, 0) // InitializingTopics
	b = wire.AppendCompactArrayLen(b, len(names))
	for _, n := range names {
		t := existing[n]
		b = wire.AppendUUID(b, t.ID)
		b = wire.AppendCompactString(b, n)
		b = wire.AppendCompactArrayLen(b, int(t.Partitions))
		for p := int32(0); p < t.Partitions; p++ {
			b = wire.AppendInt32(b, p)
		}
		b = wire.AppendUvarint(b, 0)
	}
	b = wire.AppendCompactArrayLen(b, 0) // DeletingTopics
	return wire.AppendUvarint(b, 0)
}

// decodeShareTopicsValue reads the names of a
// ShareGroupStatePartitionMetadataValue's initializing and initialized
// topics. A value Spool wrote before it used Kafka's layout (int16 0 |
// []string names | tags) is read too.
func decodeShareTopicsValue(b []byte) (map[string]bool, error) {
	out := map[string]bool{}
	r := wire.NewReader(b)
	if err := readValueVersion(r, "share group state partition metadata"); err != nil {
		return nil, err
	}
	for list := 0; list < 2; list++ {
		n := r.CompactArrayLen(19)
		for i := 0; i < n && r.Err() == nil; i++ {
			r.UUID()
			name := r.CompactString()
			k := r.CompactArrayLen(4)
			for j := 0; j < k && r.Err() == nil; j++ {
				r.Int32()
			}
			skipTags(r)
			out[name] = true
		}
	}
	n := r.CompactArrayLen(18)
	for i := 0; i < n && r.Err() == nil; i++ {
		r.UUID()
		r.CompactString()
		skipTags(r)
	}
	if err := finish(r, "share group state partition metadata"); err == nil {
		return out, nil
	}
	old := wire.NewReader(b)
	old.Int16()
	out = map[string]bool{}
	n = old.CompactArrayLen(1)
	for i := 0; i < n && old.Err() == nil; i++ {
		out[old.CompactString()] = true
	}
	if err := finish(old, "share group state partition metadata"); err != nil {
		return nil, err
	}
	return out, nil
}

// recordsLocked are the records the share group's state is made of, in
// Kafka's write order, members sorted by id: every record, or with only
// set the group's own records and only's (a heartbeat that did not bump
// the epoch changes no other member). existing is the cluster's topics by
// name; scope is the keys covered, nil for every record.
func (sg *shareGroup) recordsLocked(group string, existing map[string]TopicMetadata, only *shareMember) (out []records.Record, scope map[string]bool) {
	add := func(kind int16, member string, v []byte) {
		key := encodeShareKey(kind, group, member)
		if scope != nil {
			scope[string(key)] = true
		}
		if v != nil {
			out = append(out, records.Record{Key: key, Value: v})
		}
	}
	members := sg.sortedMembers()
	if only != nil {
		scope = map[string]bool{}
		members = []*shareMember{only}
	}
	for _, m := range members {
		add(keyShareMemberMetadata, m.id, encodeShareMemberValue(m))
	}
	add(keyShareGroupMetadata, "", encodeShareGroupValue(sg.epoch, sharePartitionsHash(sg.partitions)))
	for _, m := range members {
		add(keyShareTargetMember, m.id, encodeShareTargetMemberValue(m.assignment))
	}
	add(keyShareTargetMetadata, "", encodeStreamsTargetMetadataValue(sg.epoch, sg.assignmentTimestamp)) // same layout as streams'
	for _, m := range members {
		add(keyShareCurrentAssignment, m.id, encodeShareCurrentValue(m))
	}
	if len(sg.topics) > 0 {
		add(keyShareGroupTopics, "", encodeShareTopicsValue(sg.topics, existing))
	} else {
		add(keyShareGroupTopics, "", nil)
	}
	return out, scope
}

// shareTombstones is every tombstone deleting g needs.
func (g *group) shareTombstones() []records.Record {
	metadata := encodeShareKey(keyShareGroupMetadata, g.id, "")
	if g.share == nil {
		return []records.Record{{Key: metadata}}
	}
	return g.share.persisted.tombstones(shareTombstoneOrder, metadata)
}

// persistShareLocked writes what changed in g since its last write (or
// load): every record compared, or with only set the group's own and
// only's. A non-zero code means nothing was written: the change stays in
// memory and the next one writes it again.
func (s *shard) persistShareLocked(g *group, only *shareMember) int16 {
	want, scope := g.share.recordsLocked(g.id, s.c.topicsByName(), only)
	return s.writeDiffLocked(g.share.persisted, want, shareTombstoneOrder, scope)
}

// replayShareRecord applies one share group record. A ShareGroupMetadata
// tombstone removes the group (its offsets, if any, stay).
func replayShareRecord(groups map[string]*group, key, value []byte) error {
	r := wire.NewReader(key)
	kind := r.Int16()
	id := r.String()
	var memberID string
	if shareKeyHasMember(kind) {
		memberID = r.String()
	}
	if err := r.Complete(); err != nil {
		return fmt.Errorf("%w: share group key version %d: %w", ErrCorruptRecord, kind, err)
	}
	g := groups[id]
	if value == nil {
		if g == nil || g.share == nil {
			return nil
		}
		sg := g.share
		sg.persisted.replayed(key, nil)
		switch kind {
		case keyShareGroupMetadata:
			g.share = nil
			if len(g.offsets) == 0 {
				delete(groups, id)
			}
		case keyShareMemberMetadata:
			delete(sg.members, memberID)
		case keyShareCurrentAssignment, keyShareTargetMember:
			if m := sg.members[memberID]; m != nil && kind == keyShareCurrentAssignment {
				m.assignment = map[protocol.UUID][]int32{}
			}
		case keyShareGroupTopics:
			sg.topics = map[string]bool{}
		}
		return nil
	}
	if g == nil {
		g = newGroup(nil, id, 0)
		groups[id] = g
	}
	if g.share == nil {
		g.resetMetadata()
		g.share = newShareGroup()
	}
	sg := g.share
	member := func() *shareMember {
		m := sg.members[memberID]
		if m == nil {
			m = &shareMember{id: memberID, assignment: map[protocol.UUID][]int32{}}
			sg.members[memberID] = m
		}
		return m
	}
	v := wire.NewReader(value)
	switch kind {
	case keyShareGroupMetadata:
		if err := readValueVersion(v, "share group metadata"); err != nil {
			return err
		}
		epoch, hash := v.Int32(), v.Int64()
		if err := finish(v, "share group metadata"); err != nil {
			return err
		}
		sg.epoch, sg.metadataHash = epoch, hash
	case keyShareMemberMetadata:
		if err := readValueVersion(v, "share member metadata"); err != nil {
			return err
		}
		rack := readCompactNullable(v)
		clientID, clientHost := v.CompactString(), v.CompactString()
		var topics []string
		n := v.CompactArrayLen(1)
		for i := 0; i < n && v.Err() == nil; i++ {
			topics = append(topics, v.CompactString())
		}
		if err := finish(v, "share member metadata"); err != nil {
			return err
		}
		sort.Strings(topics)
		m := member()
		m.rackID, m.clientID, m.clientHost, m.topics = rack, clientID, clientHost, compactSorted(topics)
	case keyShareTargetMetadata:
		if err := readValueVersion(v, "share target assignment metadata"); err != nil {
			return err
		}
		v.Int32() // the assignment epoch is the group epoch
		ts := int64(0)
		tags := v.Uvarint()
		for i := uint32(0); i < tags && v.Err() == nil; i++ {
			tag, size := v.Uvarint(), v.Uvarint()
			data := v.Raw(int(size))
			if tag == 0 && len(data) == 8 {
				ts = wire.NewReader(data).Int64()
			}
		}
		if err := v.Complete(); err != nil {
			return fmt.Errorf("%w: share target assignment metadata value: %w", ErrCorruptRecord, err)
		}
		sg.assignmentTimestamp = ts
	case keyShareTargetMember:
		// The target is the current assignment in Spool: checked, not kept.
		if err := readValueVersion(v, "share target assignment"); err != nil {
			return err
		}
		readSharePartitions(v)
		if err := finish(v, "share target assignment"); err != nil {
			return err
		}
	case keyShareCurrentAssignment:
		if err := readValueVersion(v, "share current assignment"); err != nil {
			return err
		}
		epoch, prev := v.Int32(), v.Int32()
		v.Int8()
		a := readSharePartitions(v)
		if err := finish(v, "share current assignment"); err != nil {
			return err
		}
		m := member()
		m.epoch, m.previousEpoch, m.assignment = epoch, prev, a
	case keyShareGroupTopics:
		topics, err := decodeShareTopicsValue(value)
		if err != nil {
			return err
		}
		sg.topics = topics
	default:
		return nil
	}
	sg.persisted.replayed(key, value)
	return nil
}

// onLoadedShareLocked makes a replayed share group live: members get
// their session timers back and count as having been sent their
// assignment; the partition counts the assignment was computed from are
// taken from the cluster when they hash as the log says (otherwise the
// next heartbeat reassigns).
func (s *shard) onLoadedShareLocked(g *group) {
	sg := g.share
	topics := s.c.topicsByName()
	parts := map[string]int32{}
	for _, m := range sg.members {
		m.sentEpoch = m.epoch
		for _, t := range m.topics {
			if md, ok := topics[t]; ok && md.Partitions > 0 {
				parts[t] = md.Partitions
			}
		}
		s.scheduleShareSessionLocked(g, m)
	}
	if sharePartitionsHash(parts) == sg.metadataHash {
		sg.partitions = parts
	}
}
