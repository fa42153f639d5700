package group

import (
	"fmt"
	"hash/fnv"
	"sort"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/records"
	"github.com/spool-broker/spool/protocol/wire"
)

// Record types (key versions) of a streams group in __consumer_offsets, as
// Kafka 4.3.1's StreamsGroup*Key/Value schemas (kafka-group-coordinator
// jar). Keys are not flexible; values are version 0 and flexible (compact
// lengths, tagged fields). Type 18 (StreamsGroupPartitionMetadata, Kafka
// 4.0) is gone in 4.3.1 and skipped like any unknown type.
//
//	17 StreamsGroupMetadata          key: group           value: int32 epoch | int64 metadataHash |
//	                                                             tag 0 int32 validatedTopologyEpoch |
//	                                                             tag 1 []KeyValue lastAssignmentConfigs
//	19 StreamsGroupMemberMetadata    key: group | member  value: ?instanceId | ?rackId | clientId | clientHost |
//	                                                             int32 rebalanceTimeoutMs | int32 topologyEpoch |
//	                                                             processId | ?Endpoint{host, uint16 port} |
//	                                                             []KeyValue clientTags
//	20 StreamsGroupTargetAssignmentMetadata key: group    value: int32 assignmentEpoch | tag 0 int64 timestamp
//	21 StreamsGroupTargetAssignmentMember   key: group | member
//	                                                      value: []TaskIds active | standby | warmup
//	22 StreamsGroupCurrentMemberAssignment  key: group | member
//	                                                      value: int32 epoch | int32 previousEpoch | int8 state |
//	                                                             []TaskIds active | standby | warmup |
//	                                                             activePendingRevocation | standbyPending | warmupPending
//	23 StreamsGroupTopology          key: group           value: int32 epoch | []Subtopology (the heartbeat's topology)
//
//	TaskIds: subtopologyId | []int32 partitions | tag 0 ?[]int32 assignmentEpochs
//	         (current assignment's active sets only, one per partition)
//
// A streams group is written as Kafka writes it: after every change the
// group's records are compared with what the log already holds for it
// (streamsGroup.persisted) and the records that differ are appended, with
// tombstones for members that left; deleting or converting the group
// tombstones every record it has. Replaying the records rebuilds the group
// with its members, epochs, topology and assignments.
const (
	keyStreamsGroupMetadata     int16 = 17
	keyStreamsMemberMetadata    int16 = 19
	keyStreamsTargetMetadata    int16 = 20
	keyStreamsTargetMember      int16 = 21
	keyStreamsCurrentAssignment int16 = 22
	keyStreamsTopology          int16 = 23
)

// isStreamsKeyVersion reports whether a key version is a streams group record.
func isStreamsKeyVersion(v int16) bool {
	return v == keyStreamsGroupMetadata || (v >= keyStreamsMemberMetadata && v <= keyStreamsTopology)
}

func streamsKeyHasMember(kind int16) bool {
	return kind == keyStreamsMemberMetadata || kind == keyStreamsTargetMember || kind == keyStreamsCurrentAssignment
}

func encodeStreamsKey(kind int16, group, member string) []byte {
	b := wire.AppendInt16(nil, kind)
	b = wire.AppendString(b, group)
	if streamsKeyHasMember(kind) {
		b = wire.AppendString(b, member)
	}
	return b
}

func decodeStreamsKey(key []byte) (kind int16, group, member string, err error) {
	r := wire.NewReader(key)
	kind = r.Int16()
	group = r.String()
	if streamsKeyHasMember(kind) {
		member = r.String()
	}
	if err := r.Complete(); err != nil {
		return kind, group, member, fmt.Errorf("%w: streams group key version %d: %w", ErrCorruptRecord, kind, err)
	}
	return kind, group, member, nil
}

// streamsMetadataHash stands in for Kafka's metadata hash: a hash of the
// partition counts the configured topology was computed from, so a load
// notices topics that changed while no coordinator watched. It is not
// Kafka's value; either side reading the other's hash recomputes and bumps
// the group epoch once.
func streamsMetadataHash(metadataKey string) int64 {
	if metadataKey == "" {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(metadataKey))
	return int64(h.Sum64())
}

func encodeStreamsGroupValue(epoch int32, metadataHash int64, validatedTopologyEpoch int32, lastConfigs map[string]string) []byte {
	b := wire.AppendInt16(nil, 0)
	b = wire.AppendInt32(b, epoch)
	b = wire.AppendInt64(b, metadataHash)
	tags := 0
	if validatedTopologyEpoch >= 0 {
		tags++
	}
	if lastConfigs != nil {
		tags++
	}
	b = wire.AppendUvarint(b, uint32(tags))
	if validatedTopologyEpoch >= 0 {
		b = wire.AppendUvarint(b, 0)
		b = wire.AppendUvarint(b, 4)
		b = wire.AppendInt32(b, validatedTopologyEpoch)
	}
	if lastConfigs != nil {
		// Tag 1, LastAssignmentConfigs: key/value pairs sorted by key.
		keys := make([]string, 0, len(lastConfigs))
		for k := range lastConfigs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var tag []byte
		tag = wire.AppendCompactArrayLen(tag, len(keys))
		for _, k := range keys {
			tag = wire.AppendCompactString(tag, k)
			tag = wire.AppendCompactString(tag, lastConfigs[k])
			tag = wire.AppendUvarint(tag, 0)
		}
		b = wire.AppendUvarint(b, 1)
		b = wire.AppendUvarint(b, uint32(len(tag)))
		b = append(b, tag...)
	}
	return b
}

// readLastAssignmentConfigs reads StreamsGroupMetadataValue's tag 1.
func readLastAssignmentConfigs(data []byte) (map[string]string, error) {
	r := wire.NewReader(data)
	out := map[string]string{}
	n := r.CompactArrayLen(3)
	for i := 0; i < n && r.Err() == nil; i++ {
		k, v := r.CompactString(), r.CompactString()
		skipTags(r)
		out[k] = v
	}
	if err := r.Complete(); err != nil {
		return nil, fmt.Errorf("%w: streams group last assignment configs: %w", ErrCorruptRecord, err)
	}
	return out, nil
}

func encodeStreamsMemberValue(m *streamsMember) []byte {
	b := wire.AppendInt16(nil, 0)
	b = wire.AppendCompactNullableString(b, nil) // InstanceId: streams groups have no static members
	b = wire.AppendCompactNullableString(b, m.rackID)
	b = wire.AppendCompactString(b, m.clientID)
	b = wire.AppendCompactString(b, m.clientHost)
	b = wire.AppendInt32(b, m.rebalanceTimeoutMs)
	b = wire.AppendInt32(b, m.topologyEpoch)
	b = wire.AppendCompactString(b, m.processID)
	if m.userEndpoint == nil {
		b = wire.AppendInt8(b, -1)
	} else {
		b = wire.AppendInt8(b, 1)
		b = wire.AppendCompactString(b, m.userEndpoint.Host)
		b = wire.AppendUint16(b, m.userEndpoint.Port)
		b = wire.AppendUvarint(b, 0)
	}
	b = wire.AppendCompactArrayLen(b, len(m.clientTags))
	for _, kv := range m.clientTags {
		b = wire.AppendCompactString(b, kv[0])
		b = wire.AppendCompactString(b, kv[1])
		b = wire.AppendUvarint(b, 0)
	}
	return wire.AppendUvarint(b, 0)
}

func encodeStreamsTargetMetadataValue(epoch int32, timestampMs int64) []byte {
	b := wire.AppendInt16(nil, 0)
	b = wire.AppendInt32(b, epoch)
	if timestampMs == 0 {
		return wire.AppendUvarint(b, 0)
	}
	b = wire.AppendUvarint(b, 1)
	b = wire.AppendUvarint(b, 0)
	b = wire.AppendUvarint(b, 8)
	return wire.AppendInt64(b, timestampMs)
}

// appendTaskIDs writes []TaskIds sorted by subtopology; with epochs (the
// active sets of a current assignment) each entry carries tag 0, the
// assignment epoch of every partition.
func appendTaskIDs(b []byte, t taskSet, epochs map[taskID]int32) []byte {
	subs := make([]string, 0, len(t))
	for s, ps := range t {
		if len(ps) > 0 {
			subs = append(subs, s)
		}
	}
	sort.Strings(subs)
	b = wire.AppendCompactArrayLen(b, len(subs))
	for _, s := range subs {
		ps := t[s]
		b = wire.AppendCompactString(b, s)
		var epochOf func(int32) int32
		if epochs != nil {
			epochOf = func(p int32) int32 { return epochs[taskID{s, p}] }
		}
		b = appendPartitionsWithEpochs(b, ps, epochOf)
	}
	return b
}

// readTaskIDs reads what appendTaskIDs writes. When epochs is non-nil the
// tagged assignment epochs go there; an entry without them (or with a
// length that does not match) gives its partitions defaultEpoch.
func readTaskIDs(r *wire.Reader, epochs map[taskID]int32, defaultEpoch int32) taskSet {
	out := taskSet{}
	n := r.CompactArrayLen(3)
	for i := 0; i < n && r.Err() == nil; i++ {
		s := r.CompactString()
		ps, es := readPartitionsWithEpochs(r)
		for j, p := range ps {
			out.add(taskID{s, p})
			if epochs != nil {
				e := defaultEpoch
				if es != nil {
					e = es[j]
				}
				epochs[taskID{s, p}] = e
			}
		}
	}
	return out
}

func encodeStreamsTargetMemberValue(t streamsTasks) []byte {
	b := wire.AppendInt16(nil, 0)
	b = appendTaskIDs(b, t.active, nil)
	b = appendTaskIDs(b, t.standby, nil)
	b = appendTaskIDs(b, t.warmup, nil)
	return wire.AppendUvarint(b, 0)
}

func encodeStreamsCurrentValue(m *streamsMember) []byte {
	b := wire.AppendInt16(nil, 0)
	b = wire.AppendInt32(b, m.epoch)
	b = wire.AppendInt32(b, m.previousEpoch)
	b = wire.AppendInt8(b, m.state)
	b = appendTaskIDs(b, m.assigned.active, m.activeEpochs)
	b = appendTaskIDs(b, m.assigned.standby, nil)
	b = appendTaskIDs(b, m.assigned.warmup, nil)
	b = appendTaskIDs(b, m.pendingRevocation, m.activeEpochs)
	b = appendTaskIDs(b, taskSet{}, nil) // standby and warm-up tasks are never pending revocation in Spool
	b = appendTaskIDs(b, taskSet{}, nil)
	return wire.AppendUvarint(b, 0)
}

// encodeStreamsTopologyValue writes the topology the first member sent
// (StreamsGroupTopologyValue has the heartbeat's Topology layout).
func encodeStreamsTopologyValue(t *protocol.StreamsGroupHeartbeatRequestTopology) []byte {
	info := func(b []byte, ts []protocol.StreamsGroupHeartbeatRequestTopicInfo) []byte {
		b = wire.AppendCompactArrayLen(b, len(ts))
		for _, ti := range ts {
			b = wire.AppendCompactString(b, string(ti.Name))
			b = wire.AppendInt32(b, ti.Partitions)
			b = wire.AppendInt16(b, ti.ReplicationFactor)
			b = wire.AppendCompactArrayLen(b, len(ti.TopicConfigs))
			for _, kv := range ti.TopicConfigs {
				b = wire.AppendCompactString(b, kv.Key)
				b = wire.AppendCompactString(b, kv.Value)
				b = wire.AppendUvarint(b, 0)
			}
			b = wire.AppendUvarint(b, 0)
		}
		return b
	}
	strs := func(b []byte, ss []string) []byte {
		b = wire.AppendCompactArrayLen(b, len(ss))
		for _, s := range ss {
			b = wire.AppendCompactString(b, s)
		}
		return b
	}
	names := func(ns []protocol.TopicName) []string {
		out := make([]string, 0, len(ns))
		for _, n := range ns {
			out = append(out, string(n))
		}
		return out
	}
	int16s := func(b []byte, is []int16) []byte {
		b = wire.AppendCompactArrayLen(b, len(is))
		for _, i := range is {
			b = wire.AppendInt16(b, i)
		}
		return b
	}
	b := wire.AppendInt16(nil, 0)
	b = wire.AppendInt32(b, t.Epoch)
	b = wire.AppendCompactArrayLen(b, len(t.Subtopologies))
	for _, st := range t.Subtopologies {
		b = wire.AppendCompactString(b, st.SubtopologyID)
		b = strs(b, names(st.SourceTopics))
		b = strs(b, st.SourceTopicRegex)
		b = info(b, st.StateChangelogTopics)
		b = strs(b, names(st.RepartitionSinkTopics))
		b = info(b, st.RepartitionSourceTopics)
		b = wire.AppendCompactArrayLen(b, len(st.CopartitionGroups))
		for _, cg := range st.CopartitionGroups {
			b = int16s(b, cg.SourceTopics)
			b = int16s(b, cg.SourceTopicRegex)
			b = int16s(b, cg.RepartitionSourceTopics)
			b = wire.AppendUvarint(b, 0)
		}
		b = wire.AppendUvarint(b, 0)
	}
	return wire.AppendUvarint(b, 0)
}

func decodeStreamsTopologyValue(v []byte) (*protocol.StreamsGroupHeartbeatRequestTopology, error) {
	r := wire.NewReader(v)
	if err := readValueVersion(r, "streams group topology"); err != nil {
		return nil, err
	}
	info := func() []protocol.StreamsGroupHeartbeatRequestTopicInfo {
		out := []protocol.StreamsGroupHeartbeatRequestTopicInfo{}
		n := r.CompactArrayLen(9)
		for i := 0; i < n && r.Err() == nil; i++ {
			ti := protocol.StreamsGroupHeartbeatRequestTopicInfo{Name: protocol.TopicName(r.CompactString()), Partitions: r.Int32(), ReplicationFactor: r.Int16()}
			k := r.CompactArrayLen(3)
			for j := 0; j < k && r.Err() == nil; j++ {
				ti.TopicConfigs = append(ti.TopicConfigs, protocol.StreamsGroupHeartbeatRequestKeyValue{Key: r.CompactString(), Value: r.CompactString()})
				skipTags(r)
			}
			skipTags(r)
			out = append(out, ti)
		}
		return out
	}
	strs := func() []string {
		out := []string{}
		n := r.CompactArrayLen(1)
		for i := 0; i < n && r.Err() == nil; i++ {
			out = append(out, r.CompactString())
		}
		return out
	}
	names := func() []protocol.TopicName {
		out := []protocol.TopicName{}
		for _, s := range strs() {
			out = append(out, protocol.TopicName(s))
		}
		return out
	}
	int16s := func() []int16 {
		out := []int16{}
		n := r.CompactArrayLen(2)
		for i := 0; i < n && r.Err() == nil; i++ {
			out = append(out, r.Int16())
		}
		return out
	}
	t := &protocol.StreamsGroupHeartbeatRequestTopology{Epoch: r.Int32()}
	n := r.CompactArrayLen(7)
	for i := 0; i < n && r.Err() == nil; i++ {
		st := protocol.StreamsGroupHeartbeatRequestSubtopology{SubtopologyID: r.CompactString()}
		st.SourceTopics = names()
		st.SourceTopicRegex = strs()
		st.StateChangelogTopics = info()
		st.RepartitionSinkTopics = names()
		st.RepartitionSourceTopics = info()
		k := r.CompactArrayLen(4)
		for j := 0; j < k && r.Err() == nil; j++ {
			cg := protocol.StreamsGroupHeartbeatRequestCopartitionGroup{SourceTopics: int16s(), SourceTopicRegex: int16s(), RepartitionSourceTopics: int16s()}
			skipTags(r)
			st.CopartitionGroups = append(st.CopartitionGroups, cg)
		}
		skipTags(r)
		t.Subtopologies = append(t.Subtopologies, st)
	}
	return t, finish(r, "streams group topology")
}

// streamsTombstoneOrder is the order of a group's tombstones in one write,
// ahead of its records: current assignment before target before member, as
// Kafka removes a member. The records themselves follow Kafka's order
// within a heartbeat (topology, member, group epoch, target, current
// assignment), the order recordsLocked builds them in.
var streamsTombstoneOrder = []int16{keyStreamsCurrentAssignment, keyStreamsTargetMember, keyStreamsMemberMetadata, keyStreamsTargetMetadata, keyStreamsTopology, keyStreamsGroupMetadata}

// recordsLocked are the records the group's state is made of, in Kafka's
// order within a heartbeat, members sorted by id: every record, or with only set
// the group's own records and only's (what a heartbeat that moved neither
// the membership nor the target can have changed). scope is the keys
// covered: nil for every record.
func (sg *streamsGroup) recordsLocked(group string, only *streamsMember) (out []records.Record, scope map[string]bool) {
	add := func(kind int16, member string, v []byte) {
		key := encodeStreamsKey(kind, group, member)
		if scope != nil {
			scope[string(key)] = true
		}
		if v != nil {
			out = append(out, records.Record{Key: key, Value: v})
		}
	}
	members := sg.sortedMembers()
	targets := make([]string, 0, len(sg.target))
	for id := range sg.target {
		targets = append(targets, id)
	}
	sort.Strings(targets)
	if only != nil {
		scope = map[string]bool{}
		members = []*streamsMember{only}
		targets = []string{only.id}
	}
	if sg.topology != nil {
		add(keyStreamsTopology, "", sg.topology.record)
	} else {
		add(keyStreamsTopology, "", nil)
	}
	for _, m := range members {
		add(keyStreamsMemberMetadata, m.id, encodeStreamsMemberValue(m))
	}
	validated := int32(-1)
	if sg.topology != nil && sg.configured.ready() {
		validated = sg.topology.epoch
	}
	add(keyStreamsGroupMetadata, "", encodeStreamsGroupValue(sg.epoch, streamsMetadataHash(sg.metadataKey), validated, sg.lastAssignmentConfigs))
	for _, id := range targets {
		if t, ok := sg.target[id]; ok {
			add(keyStreamsTargetMember, id, encodeStreamsTargetMemberValue(t))
		} else {
			add(keyStreamsTargetMember, id, nil)
		}
	}
	add(keyStreamsTargetMetadata, "", encodeStreamsTargetMetadataValue(sg.assignmentEpoch, sg.assignmentTimestamp))
	for _, m := range members {
		add(keyStreamsCurrentAssignment, m.id, encodeStreamsCurrentValue(m))
	}
	return out, scope
}

// streamsTombstones is every tombstone deleting or converting g needs.
func (g *group) streamsTombstones() []records.Record {
	metadata := encodeStreamsKey(keyStreamsGroupMetadata, g.id, "")
	if g.streams == nil {
		return []records.Record{{Key: metadata}}
	}
	return g.streams.persisted.tombstones(streamsTombstoneOrder, metadata)
}

// persistStreamsLocked writes what changed in g since its last write (or
// load), in Kafka's order: every record compared, or, with only set, the
// group's own records and only's (a heartbeat that changed neither the
// membership nor the target: then no other member's records can have
// changed, and the write costs one member, not the whole group). A
// non-zero code means nothing was written: the changes stay in memory, as
// when a write fails elsewhere (this broker is losing the partition), and
// a later change writes them again.
func (s *shard) persistStreamsLocked(g *group, only *streamsMember) int16 {
	want, scope := g.streams.recordsLocked(g.id, only)
	return s.writeDiffLocked(g.streams.persisted, want, streamsTombstoneOrder, scope)
}

func newReplayedStreamsMember(id string) *streamsMember {
	return &streamsMember{id: id, rebalanceTimeoutMs: -1, assigned: emptyStreamsTasks(), pendingRevocation: taskSet{},
		activeEpochs: map[taskID]int32{}, clientTags: [][2]string{}}
}

// replayStreamsRecord applies one streams group record. A record for a
// group that is not a streams group (or absent) makes it one, keeping its
// offsets; the StreamsGroupMetadata tombstone makes it a simple group again
// (or removes it when it has no offsets).
func replayStreamsRecord(groups map[string]*group, key, value []byte) error {
	kind, id, memberID, err := decodeStreamsKey(key)
	if err != nil {
		return err
	}
	g := groups[id]
	if value == nil {
		if g == nil || g.streams == nil {
			return nil
		}
		sg := g.streams
		sg.persisted.replayed(key, nil)
		switch kind {
		case keyStreamsGroupMetadata:
			g.streams = nil
			g.resetMetadata()
			if len(g.offsets) == 0 {
				delete(groups, id)
			}
		case keyStreamsMemberMetadata:
			delete(sg.members, memberID)
		case keyStreamsTargetMetadata:
			sg.assignmentEpoch, sg.assignmentTimestamp = 0, 0
		case keyStreamsTargetMember:
			delete(sg.target, memberID)
		case keyStreamsCurrentAssignment:
			if m := sg.members[memberID]; m != nil {
				m.epoch, m.previousEpoch, m.state = 0, 0, streamsStable
				m.assigned, m.pendingRevocation, m.activeEpochs = emptyStreamsTasks(), taskSet{}, map[taskID]int32{}
			}
		case keyStreamsTopology:
			sg.topology, sg.configured, sg.metadataKey = nil, nil, ""
		}
		return nil
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
	sg := g.streams
	member := func() *streamsMember {
		m := sg.members[memberID]
		if m == nil {
			m = newReplayedStreamsMember(memberID)
			sg.members[memberID] = m
		}
		return m
	}
	r := wire.NewReader(value)
	switch kind {
	case keyStreamsGroupMetadata:
		if err := readValueVersion(r, "streams group metadata"); err != nil {
			return err
		}
		epoch, hash := r.Int32(), r.Int64()
		var last map[string]string
		tags := r.Uvarint()
		for i := uint32(0); i < tags && r.Err() == nil; i++ {
			tag, size := r.Uvarint(), r.Uvarint()
			data := r.Raw(int(size))
			if tag == 1 && r.Err() == nil {
				var err error
				if last, err = readLastAssignmentConfigs(data); err != nil {
					return err
				}
			}
		}
		if err := r.Complete(); err != nil {
			return fmt.Errorf("%w: streams group metadata value: %w", ErrCorruptRecord, err)
		}
		sg.epoch, sg.metadataHash, sg.lastAssignmentConfigs = epoch, hash, last
	case keyStreamsMemberMetadata:
		if err := readValueVersion(r, "streams member metadata"); err != nil {
			return err
		}
		readCompactNullable(r) // InstanceId
		rack := readCompactNullable(r)
		clientID, clientHost := r.CompactString(), r.CompactString()
		rebalanceTimeout, topologyEpoch := r.Int32(), r.Int32()
		processID := r.CompactString()
		var ep *protocol.StreamsGroupHeartbeatRequestEndpoint
		if r.Int8() >= 0 {
			ep = &protocol.StreamsGroupHeartbeatRequestEndpoint{Host: r.CompactString(), Port: r.Uint16()}
			skipTags(r)
		}
		tags := [][2]string{}
		n := r.CompactArrayLen(3)
		for i := 0; i < n && r.Err() == nil; i++ {
			tags = append(tags, [2]string{r.CompactString(), r.CompactString()})
			skipTags(r)
		}
		if err := finish(r, "streams member metadata"); err != nil {
			return err
		}
		m := member()
		m.rackID, m.clientID, m.clientHost = rack, clientID, clientHost
		m.rebalanceTimeoutMs, m.topologyEpoch, m.processID = rebalanceTimeout, topologyEpoch, processID
		m.userEndpoint, m.clientTags = ep, tags
	case keyStreamsTargetMetadata:
		if err := readValueVersion(r, "streams target assignment metadata"); err != nil {
			return err
		}
		epoch := r.Int32()
		var ts int64
		tags := r.Uvarint()
		for i := uint32(0); i < tags && r.Err() == nil; i++ {
			tag, size := r.Uvarint(), r.Uvarint()
			data := r.Raw(int(size))
			if tag == 0 && len(data) == 8 {
				ts = wire.NewReader(data).Int64()
			}
		}
		if err := r.Complete(); err != nil {
			return fmt.Errorf("%w: streams target assignment metadata value: %w", ErrCorruptRecord, err)
		}
		sg.assignmentEpoch, sg.assignmentTimestamp = epoch, ts
	case keyStreamsTargetMember:
		if err := readValueVersion(r, "streams target assignment"); err != nil {
			return err
		}
		t := streamsTasks{active: readTaskIDs(r, nil, 0), standby: readTaskIDs(r, nil, 0), warmup: readTaskIDs(r, nil, 0)}
		if err := finish(r, "streams target assignment"); err != nil {
			return err
		}
		sg.target[memberID] = t
	case keyStreamsCurrentAssignment:
		if err := readValueVersion(r, "streams current assignment"); err != nil {
			return err
		}
		epoch, prev, state := r.Int32(), r.Int32(), r.Int8()
		epochs := map[taskID]int32{}
		assigned := streamsTasks{active: readTaskIDs(r, epochs, epoch), standby: readTaskIDs(r, nil, 0), warmup: readTaskIDs(r, nil, 0)}
		pending := readTaskIDs(r, epochs, epoch)
		readTaskIDs(r, nil, 0) // standby and warm-up tasks pending revocation: Spool revokes
		readTaskIDs(r, nil, 0) // them at once, so a Kafka log's are dropped
		if err := finish(r, "streams current assignment"); err != nil {
			return err
		}
		m := member()
		m.epoch, m.previousEpoch, m.state = epoch, prev, state
		m.assigned, m.pendingRevocation, m.activeEpochs = assigned, pending, epochs
	case keyStreamsTopology:
		spec, err := decodeStreamsTopologyValue(value)
		if err != nil {
			return err
		}
		t, err := newStreamsTopology(spec)
		if err != nil {
			return fmt.Errorf("%w: streams group topology: %w", ErrCorruptRecord, err)
		}
		sg.topology, sg.configured, sg.metadataKey = t, nil, ""
	default:
		return nil
	}
	sg.persisted.replayed(key, value)
	return nil
}

// onLoadedStreamsLocked makes a replayed streams group live: the topology
// is configured against the cluster's topics again (a different metadata
// hash means topics changed meanwhile: the next heartbeat bumps the
// epoch), members get their session timers back, and members that were
// revoking tasks their rebalance timeout.
func (s *shard) onLoadedStreamsLocked(g *group) {
	sg := g.streams
	if sg.topology != nil {
		parts := map[string]int32{}
		for _, t := range s.c.topics() {
			parts[t.Name] = t.Partitions
		}
		key := streamsMetadataKey(sg.topology, parts)
		sg.configured = configureStreamsTopology(sg.topology, parts)
		sg.metadataKey = key
		if streamsMetadataHash(key) != sg.metadataHash {
			sg.metadataKey = "" // differs from any key: the next heartbeat bumps the epoch
		}
	}
	for _, m := range sg.members {
		s.scheduleStreamsSessionLocked(g, m)
		s.scheduleStreamsRevocationLocked(g, m, streamsStable, -1)
	}
}
