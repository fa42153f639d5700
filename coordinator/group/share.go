package group

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// Share groups (KIP-932): ShareGroupHeartbeat and ShareGroupDescribe.
//
// A share group's members subscribe to topics by name; the simple assignor
// gives every subscribed partition to at least one member and shares
// partitions among members when there are more members than partitions
// (records are then handed out one acquisition at a time by the partition
// leaders, coordinator/share). There is no revocation step: a member takes
// its new assignment at once, as in Kafka, since a partition may be shared.
//
// The group, its members and their assignments are persisted as Kafka's
// share group records (share_records.go), written after every change, so
// members keep their epochs and assignments across a coordinator move.

const (
	shareProtocolType = "share"
	shareAssignorName = "simple"
)

// shareGroup is the share-group state of a group; group.share is non-nil
// exactly for share groups. Guarded by the shard's mu.
type shareGroup struct {
	epoch   int32
	members map[string]*shareMember
	// partitions is the partition count of each subscribed topic as of
	// the last assignment; a difference bumps the epoch.
	partitions map[string]int32
	// topics are the topics the group's share partitions were initialized
	// for (subscribed by a member, or set by AlterShareGroupOffsets), by
	// name; persisted (keyShareGroupTopics) so admin requests find them
	// once the members are gone.
	topics map[string]bool
	// assignmentTimestamp is when the assignment was computed (ms).
	assignmentTimestamp int64
	// metadataHash is the hash the log holds (sharePartitionsHash);
	// compared once on load.
	metadataHash int64
	// persisted is what the log holds for the group (persisted.go).
	persisted persistedRecords
}

// shareMember is one member of a share group.
type shareMember struct {
	id            string
	epoch         int32
	previousEpoch int32
	rackID        *string
	clientID      string
	clientHost    string
	topics        []string // sorted
	assignment    map[protocol.UUID][]int32
	sentEpoch     int32 // epoch of the assignment last sent; -1 none

	sessionSeq   uint64
	sessionTimer *time.Timer
}

func newShareGroup() *shareGroup {
	return &shareGroup{members: map[string]*shareMember{}, partitions: map[string]int32{}, topics: map[string]bool{}, persisted: persistedRecords{}}
}

func (sg *shareGroup) state() string {
	if len(sg.members) == 0 {
		return "Empty"
	}
	return "Stable"
}

func (sg *shareGroup) sortedMembers() []*shareMember { return membersByID(sg.members) }

// SubscribedTopics lists the topics some member of share group id
// subscribes to or that its share partitions were initialized for (admin
// describe of a group without explicit topics).
func (c *Coordinator) SubscribedTopics(id string) ([]string, int16) {
	s, code := c.lockedShard(id)
	if code != 0 {
		return nil, code
	}
	defer s.mu.Unlock()
	g := s.groups[id]
	if g == nil || g.share == nil {
		return nil, errcode.GroupIDNotFound
	}
	seen := map[string]bool{}
	var out []string
	for t := range g.share.topics {
		seen[t] = true
		out = append(out, t)
	}
	for _, m := range g.share.members {
		for _, t := range m.topics {
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	sort.Strings(out)
	return out, 0
}

// IsShareGroup reports whether id is a share group, and the error code when
// the coordinator cannot say (not loaded here).
func (c *Coordinator) IsShareGroup(id string) (bool, int16) {
	s, code := c.lockedShard(id)
	if code != 0 {
		return false, code
	}
	defer s.mu.Unlock()
	g := s.groups[id]
	return g != nil && g.share != nil, 0
}

// ShareGroupEmpty reports whether share group id exists and has no
// members (what DeleteShareGroupOffsets requires); a group of another type
// is GROUP_ID_NOT_FOUND.
func (c *Coordinator) ShareGroupEmpty(id string) (exists, empty bool, code int16) {
	s, code := c.lockedShard(id)
	if code != 0 {
		return false, false, code
	}
	defer s.mu.Unlock()
	g := s.groups[id]
	if g == nil || g.state == stateDead {
		return false, true, 0
	}
	if g.share == nil {
		return true, false, errcode.GroupIDNotFound
	}
	return true, len(g.share.members) == 0, 0
}

func shareHeartbeatFail(code int16, msg string) *protocol.ShareGroupHeartbeatResponse {
	r := &protocol.ShareGroupHeartbeatResponse{ErrorCode: code}
	if msg == "" {
		msg = errcode.Message(code)
	}
	r.ErrorMessage = &msg
	return r
}

// ShareGroupHeartbeat serves ShareGroupHeartbeat (key 76): joining
// (epoch 0), heartbeats, subscription changes and leaving (epoch -1).
func (c *Coordinator) ShareGroupHeartbeat(ctx context.Context, v int16, clientID, clientHost string, req *protocol.ShareGroupHeartbeatRequest) *protocol.ShareGroupHeartbeatResponse {
	switch {
	case req.GroupID == "":
		return shareHeartbeatFail(errcode.InvalidRequest, "GroupId can't be empty.")
	case req.MemberID == "":
		return shareHeartbeatFail(errcode.InvalidRequest, "MemberId can't be empty.")
	case req.MemberEpoch < leaveEpoch:
		return shareHeartbeatFail(errcode.InvalidRequest, "MemberEpoch is invalid.")
	case req.MemberEpoch == 0 && len(req.SubscribedTopicNames) == 0:
		return shareHeartbeatFail(errcode.InvalidRequest, "SubscribedTopicNames must be set in first request.")
	}
	id := string(req.GroupID)
	s, code := c.lockedShard(id)
	if code != 0 {
		return shareHeartbeatFail(code, "")
	}
	defer s.mu.Unlock()
	g := s.groups[id]
	if g != nil && g.state != stateDead && g.share == nil {
		// Kafka converts nothing into a share group: a classic or
		// consumer group of this id stays what it is.
		if !(req.MemberEpoch == 0 && g.consumer == nil && g.streams == nil && g.state == stateEmpty && g.protocolType == "" && len(g.offsets) == 0) {
			return shareHeartbeatFail(errcode.GroupIDNotFound, fmt.Sprintf("Group %s is not a share group.", id))
		}
	}
	if req.MemberEpoch == leaveEpoch {
		return s.shareLeaveLocked(g, req.MemberID)
	}
	created := false
	if g == nil || g.state == stateDead || g.share == nil {
		if req.MemberEpoch != 0 {
			return shareHeartbeatFail(errcode.UnknownMemberID, fmt.Sprintf("Member %s is not a member of group %s.", req.MemberID, id))
		}
		g = newGroup(s, id, s.c.now().UnixMilli())
		g.share = newShareGroup()
		created = true
	}
	sg := g.share
	m := sg.members[req.MemberID]
	switch {
	case m == nil && req.MemberEpoch != 0:
		return shareHeartbeatFail(errcode.UnknownMemberID, fmt.Sprintf("Member %s is not a member of group %s.", req.MemberID, id))
	case m != nil && req.MemberEpoch != 0 && req.MemberEpoch != m.epoch:
		cmp := "greater"
		if req.MemberEpoch < m.epoch {
			cmp = "smaller"
		}
		return shareHeartbeatFail(errcode.FencedMemberEpoch, fmt.Sprintf("The share group member has a %s member epoch (%d) than the one known by the group coordinator (%d). The member must abandon all its partitions and rejoin.", cmp, req.MemberEpoch, m.epoch))
	}
	bump := created
	if m == nil && len(sg.members) >= s.c.cfg.ShareMaxSize {
		return shareHeartbeatFail(errcode.GroupMaxSizeReached, fmt.Sprintf("The share group has reached its maximum capacity of %d members.", s.c.cfg.ShareMaxSize))
	}
	if m == nil {
		m = &shareMember{id: req.MemberID, sentEpoch: -1}
		bump = true
	} else if req.MemberEpoch == 0 {
		m.sentEpoch = -1 // a rejoin with the same id: send the assignment again
	}
	if req.SubscribedTopicNames != nil {
		topics := make([]string, 0, len(req.SubscribedTopicNames))
		for _, t := range req.SubscribedTopicNames {
			topics = append(topics, string(t))
		}
		sort.Strings(topics)
		topics = compactSorted(topics)
		if !equalStrings(topics, m.topics) {
			m.topics = topics
			bump = true
		}
	}
	if req.RackID != nil {
		m.rackID = req.RackID
	}
	m.clientID, m.clientHost = clientID, clientHost
	// Partition counts of the subscribed topics changed: a new epoch.
	topicMeta := s.c.topicsByName()
	if sharePartitionsChanged(sg, topicMeta) {
		bump = true
	}
	if bump {
		sg.members[m.id] = m
		sg.epoch++
		sg.assignLocked(topicMeta)
		sg.assignmentTimestamp = s.c.now().UnixMilli()
		s.addShareTopicsLocked(g, m.topics, topicMeta)
	}
	only := m
	if bump {
		only = nil
	}
	if code := s.persistShareLocked(g, only); code != 0 {
		return shareHeartbeatFail(code, "")
	}
	if created {
		s.groups[id] = g
	}
	s.scheduleShareSessionLocked(g, m)
	resp := &protocol.ShareGroupHeartbeatResponse{
		MemberID:            &m.id,
		MemberEpoch:         m.epoch,
		HeartbeatIntervalMs: int32(s.c.groupTimeout(id, "share.heartbeat.interval.ms", s.c.cfg.ShareHeartbeatInterval) / time.Millisecond),
	}
	if m.sentEpoch != m.epoch {
		a := &protocol.ShareGroupHeartbeatResponseAssignment{TopicPartitions: []protocol.ShareGroupHeartbeatResponseTopicPartitions{}}
		ids := make([]protocol.UUID, 0, len(m.assignment))
		for tid := range m.assignment {
			ids = append(ids, tid)
		}
		sort.Slice(ids, func(i, j int) bool { return string(ids[i][:]) < string(ids[j][:]) })
		for _, tid := range ids {
			a.TopicPartitions = append(a.TopicPartitions, protocol.ShareGroupHeartbeatResponseTopicPartitions{TopicID: tid, Partitions: m.assignment[tid]})
		}
		resp.Assignment = a
		m.sentEpoch = m.epoch
	}
	return resp
}

func compactSorted(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// topicsByName indexes Config.Topics.
func (c *Coordinator) topicsByName() map[string]TopicMetadata {
	out := map[string]TopicMetadata{}
	if c.cfg.Topics == nil {
		return out
	}
	for _, t := range c.cfg.Topics() {
		out[t.Name] = t
	}
	return out
}

func sharePartitionsChanged(sg *shareGroup, topics map[string]TopicMetadata) bool {
	for _, m := range sg.members {
		for _, t := range m.topics {
			if topics[t].Partitions != sg.partitions[t] {
				return true
			}
		}
	}
	return false
}

// assignLocked runs the simple assignor over the members' subscriptions
// and gives every member the group epoch. For each topic, with S
// subscribers (by member id) and P partitions: when S <= P partition i
// goes to subscriber i mod S, otherwise subscriber j gets partition
// j mod P, so every partition has a consumer and partitions are shared
// only when there are more members than partitions.
func (sg *shareGroup) assignLocked(topics map[string]TopicMetadata) {
	members := sg.sortedMembers()
	subscribers := map[string][]*shareMember{}
	for _, m := range members {
		m.assignment = map[protocol.UUID][]int32{}
		if m.epoch != sg.epoch {
			m.previousEpoch, m.epoch = m.epoch, sg.epoch
		}
		for _, t := range m.topics {
			subscribers[t] = append(subscribers[t], m)
		}
	}
	sg.partitions = map[string]int32{}
	for t, subs := range subscribers {
		md, ok := topics[t]
		if !ok || md.Partitions == 0 {
			continue
		}
		sg.partitions[t] = md.Partitions
		n, p := len(subs), int(md.Partitions)
		if n <= p {
			for i := 0; i < p; i++ {
				m := subs[i%n]
				m.assignment[md.ID] = append(m.assignment[md.ID], int32(i))
			}
			continue
		}
		for j, m := range subs {
			m.assignment[md.ID] = append(m.assignment[md.ID], int32(j%p))
		}
	}
}

// addShareTopicsLocked adds the existing topics of names to the group's
// initialized topics (written with the group's next records).
func (s *shard) addShareTopicsLocked(g *group, names []string, existing map[string]TopicMetadata) {
	for _, t := range names {
		if _, ok := existing[t]; ok {
			g.share.topics[t] = true
		}
	}
}

// SetShareGroupTopic adds (AlterShareGroupOffsets) or removes
// (DeleteShareGroupOffsets) topic in share group id's initialized topics.
func (c *Coordinator) SetShareGroupTopic(id, topic string, add bool) int16 {
	s, code := c.lockedShard(id)
	if code != 0 {
		return code
	}
	defer s.mu.Unlock()
	g := s.groups[id]
	if g == nil || g.share == nil {
		return errcode.GroupIDNotFound
	}
	if g.share.topics[topic] == add {
		return 0
	}
	next := map[string]bool{}
	for t := range g.share.topics {
		next[t] = true
	}
	if add {
		next[topic] = true
	} else {
		delete(next, topic)
	}
	prev := g.share.topics
	g.share.topics = next
	if code := s.persistShareLocked(g, nil); code != 0 {
		g.share.topics = prev
		return code
	}
	return 0
}

// shareLeaveLocked removes member id (epoch -1).
func (s *shard) shareLeaveLocked(g *group, memberID string) *protocol.ShareGroupHeartbeatResponse {
	if g == nil || g.share == nil || g.share.members[memberID] == nil {
		return shareHeartbeatFail(errcode.UnknownMemberID, fmt.Sprintf("Member %s is not a member of group %s.", memberID, groupIDOf(g)))
	}
	if code := s.removeShareMemberLocked(g, g.share.members[memberID]); code != 0 {
		return shareHeartbeatFail(code, "")
	}
	return &protocol.ShareGroupHeartbeatResponse{MemberID: &memberID, MemberEpoch: leaveEpoch}
}

func groupIDOf(g *group) string {
	if g == nil {
		return ""
	}
	return g.id
}

// removeShareMemberLocked removes m, bumps the epoch, reassigns and tells
// the share partitions (Config.ShareMemberRemoved) to release what m holds.
func (s *shard) removeShareMemberLocked(g *group, m *shareMember) int16 {
	sg := g.share
	sg.epoch++
	if m.sessionTimer != nil {
		m.sessionTimer.Stop()
	}
	delete(sg.members, m.id)
	sg.assignLocked(s.c.topicsByName())
	sg.assignmentTimestamp = s.c.now().UnixMilli()
	if s.c.cfg.ShareMemberRemoved != nil {
		s.c.cfg.ShareMemberRemoved(g.id, m.id)
	}
	// A failed write leaves the member gone here and its records in the
	// log until the group's next write (this broker is losing the
	// partition, or the write is retried with the next change).
	return s.persistShareLocked(g, nil)
}

// scheduleShareSessionLocked (re)starts m's session timer
// (group.share.session.timeout.ms): a member that stops heartbeating is
// removed.
func (s *shard) scheduleShareSessionLocked(g *group, m *shareMember) {
	m.sessionSeq++
	seq := m.sessionSeq
	if m.sessionTimer != nil {
		m.sessionTimer.Stop()
	}
	m.sessionTimer = time.AfterFunc(s.c.groupTimeout(g.id, "share.session.timeout.ms", s.c.cfg.ShareSessionTimeout), func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.unloaded || m.sessionSeq != seq || s.groups[g.id] != g || g.share == nil || g.share.members[m.id] != m {
			return
		}
		if code := s.removeShareMemberLocked(g, m); code != 0 {
			s.c.logger.Warn("cannot remove expired share group member", zap.String("group", g.id), zap.String("member", m.id), zap.Int16("error_code", code))
			return
		}
		s.c.logger.Info("share group member session expired", zap.String("group", g.id), zap.String("member", m.id))
	})
}

// groupTimeout is the group's config name (milliseconds) when set (GROUP
// resources: kafka-configs --entity-type groups), else def.
func (c *Coordinator) groupTimeout(group, name string, def time.Duration) time.Duration {
	if v, ok := c.groupInt(group, name); ok && v > 0 {
		return time.Duration(v) * time.Millisecond
	}
	return def
}

// groupInt is the group's integer config name when set.
func (c *Coordinator) groupInt(group, name string) (int, bool) {
	if c.cfg.GroupConfig == nil {
		return 0, false
	}
	v, err := strconv.ParseInt(c.cfg.GroupConfig(group)[name], 10, 32)
	return int(v), err == nil
}

// shutdownShareLocked stops the timers of a share group.
func (g *group) shutdownShareLocked() {
	if g.share == nil {
		return
	}
	for _, m := range g.share.members {
		if m.sessionTimer != nil {
			m.sessionTimer.Stop()
		}
	}
}

// ShareGroupDescription is one group of a ShareGroupDescribe answer.
type ShareGroupDescription = protocol.ShareGroupDescribeResponseDescribedGroup

// DescribeShareGroup describes one share group as ShareGroupDescribe
// (key 77) answers it; topic names come from Config.Topics.
func (c *Coordinator) DescribeShareGroup(id string) ShareGroupDescription {
	d := ShareGroupDescription{GroupID: protocol.GroupID(id), Members: []protocol.ShareGroupDescribeResponseMember{}, AuthorizedOperations: -2147483648}
	s, code := c.lockedShard(id)
	if code != 0 {
		d.ErrorCode = code
		return d
	}
	defer s.mu.Unlock()
	g := s.groups[id]
	if g == nil || g.state == stateDead {
		d.ErrorCode = errcode.GroupIDNotFound
		msg := fmt.Sprintf("Group %s not found.", id)
		d.ErrorMessage = &msg
		return d
	}
	if g.share == nil {
		d.ErrorCode = errcode.GroupIDNotFound
		msg := fmt.Sprintf("Group %s is not a share group.", id)
		d.ErrorMessage = &msg
		return d
	}
	sg := g.share
	d.GroupState, d.GroupEpoch, d.AssignmentEpoch, d.AssignorName = sg.state(), sg.epoch, sg.epoch, shareAssignorName
	names := map[protocol.UUID]string{}
	if c.cfg.Topics != nil {
		for _, t := range c.cfg.Topics() {
			names[t.ID] = t.Name
		}
	}
	for _, m := range sg.sortedMembers() {
		dm := protocol.ShareGroupDescribeResponseMember{
			MemberID: m.id, RackID: m.rackID, MemberEpoch: m.epoch, ClientID: m.clientID, ClientHost: m.clientHost,
			SubscribedTopicNames: []protocol.TopicName{},
			Assignment:           protocol.ShareGroupDescribeResponseAssignment{TopicPartitions: []protocol.ShareGroupDescribeResponseTopicPartitions{}},
		}
		for _, t := range m.topics {
			dm.SubscribedTopicNames = append(dm.SubscribedTopicNames, protocol.TopicName(t))
		}
		for tid, parts := range m.assignment {
			dm.Assignment.TopicPartitions = append(dm.Assignment.TopicPartitions, protocol.ShareGroupDescribeResponseTopicPartitions{
				TopicID: tid, TopicName: protocol.TopicName(names[tid]), Partitions: parts,
			})
		}
		sort.Slice(dm.Assignment.TopicPartitions, func(i, j int) bool {
			return dm.Assignment.TopicPartitions[i].TopicName < dm.Assignment.TopicPartitions[j].TopicName
		})
		d.Members = append(d.Members, dm)
	}
	return d
}

// EnsureShareGroup creates share group id, empty, unless it exists
// (AlterShareGroupOffsets on a new group). A group of another type is
// GROUP_ID_NOT_FOUND, a share group with members NON_EMPTY_GROUP.
func (c *Coordinator) EnsureShareGroup(id string) int16 {
	s, code := c.lockedShard(id)
	if code != 0 {
		return code
	}
	defer s.mu.Unlock()
	g := s.groups[id]
	switch {
	case g != nil && g.state != stateDead && g.share != nil:
		if len(g.share.members) > 0 {
			return errcode.NonEmptyGroup
		}
		return 0
	case g != nil && g.state != stateDead && (g.consumer != nil || g.streams != nil || g.protocolType != "" || len(g.offsets) > 0):
		return errcode.GroupIDNotFound
	}
	// Kafka's group starts at epoch 1 here: initializing share partitions
	// bumps the epoch (a first member then gets 2).
	g = newGroup(s, id, s.c.now().UnixMilli())
	g.share = newShareGroup()
	g.share.epoch = 1
	if code := s.persistShareLocked(g, nil); code != 0 {
		return code
	}
	s.groups[id] = g
	return 0
}
