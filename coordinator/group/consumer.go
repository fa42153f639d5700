package group

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
)

// Member states of a consumer group member (Kafka's MemberState).
const (
	memberStable               int8 = 0
	memberUnrevokedPartitions  int8 = 1 // waiting for the member to give partitions up
	memberUnreleasedPartitions int8 = 2 // waiting for other members to give partitions up
)

// Special member epochs of ConsumerGroupHeartbeat.
const (
	leaveEpoch       = -1 // the member leaves the group
	staticLeaveEpoch = -2 // a static member leaves for now and keeps its assignment
)

// TopicMetadata is what the consumer group coordinator needs of a topic.
type TopicMetadata struct {
	Name       string
	ID         protocol.UUID
	Partitions int32
}

// consumerGroup is the KIP-848 state of a group; group.consumer is non-nil
// exactly for consumer groups. Guarded by the shard's mu. State changes
// only by replaying records (replayConsumerRecord), after they were
// appended, so memory never runs ahead of the log; timers are the
// exception as they are not persisted.
//
// Invariant: a partition is in the assigned or pending-revocation set of at
// most one member.
type consumerGroup struct {
	epoch           int32 // group epoch: bumped when subscriptions or subscribed topics change
	assignmentEpoch int32 // epoch of target; < epoch while a new target is due
	members         map[string]*consumerMember
	target          map[string]assignment
	// subscription is the partition count of each subscribed topic as of
	// the last epoch computation; a difference bumps the epoch. Not
	// persisted: after a load the first heartbeat adopts it.
	subscription      map[string]int32
	subscriptionKnown bool
}

// consumerMember is one member of a consumer group.
type consumerMember struct {
	id       string
	metadata memberMetadata
	current  currentAssignment
	regex    *regexp.Regexp // compiled metadata.topicRegex

	sessionSeq   uint64 // invalidates older session timers
	sessionTimer *time.Timer
	revokeSeq    uint64 // invalidates older revocation timers
	revokeTimer  *time.Timer
}

func newConsumerGroup() *consumerGroup {
	return &consumerGroup{members: map[string]*consumerMember{}, target: map[string]assignment{}}
}

func newConsumerMember(id string) *consumerMember {
	return &consumerMember{
		id:       id,
		metadata: memberMetadata{rebalanceTimeoutMs: -1},
		current:  emptyCurrentAssignment(),
	}
}

func emptyCurrentAssignment() currentAssignment {
	return currentAssignment{assigned: assignment{}, pendingRevocation: assignment{}, epochs: map[topicPartitionID]int32{}}
}

func (m *consumerMember) setMetadata(md memberMetadata) {
	m.metadata = md
	m.regex = nil
	if md.topicRegex != nil && *md.topicRegex != "" {
		m.regex, _ = compileTopicRegex(*md.topicRegex)
	}
}

// compileTopicRegex compiles a subscription regex; like Java's
// Pattern.matches it must match the whole topic name. Go's RE2 syntax is
// what RE2/J, which Kafka uses, accepts.
func compileTopicRegex(re string) (*regexp.Regexp, error) {
	return regexp.Compile("^(?:" + re + ")$")
}

// subscribes reports whether the member subscribes to topic, by name or
// by its regex (SubscribedTopicRegex, resolved by the coordinator).
//
// Like Kafka 4.3's TopicRegexResolver, a regex is matched against every
// topic of the metadata image, internal ones included: `__consumer_offsets`,
// `__.*` or `.*` get the internal topics too. (Clients that resolve a
// java.util.regex.Pattern themselves leave them out by
// exclude.internal.topics; the coordinator does not.) Kafka then drops the
// topics the member that triggered the resolution may not DESCRIBE; Spool
// has no authorizer, as Kafka without one, so nothing is dropped.
//
// Kafka resolves a group's regexes asynchronously when one is new, when
// topics were created since the last resolution (at most once every 10 s)
// and every group.consumer.regex.refresh.interval.ms; Spool matches at
// every heartbeat against the current topics (subscriptionOf), so a new
// topic is picked up by the next heartbeat of any member, no later than
// Kafka would.
func (m *consumerMember) subscribes(topic string) bool {
	if _, found := slices.BinarySearch(m.metadata.topicNames, topic); found {
		return true
	}
	return m.regex != nil && m.regex.MatchString(topic)
}

// copyMember is a detached copy (no timers) to compute an update on.
func (m *consumerMember) copyMember() *consumerMember {
	c := &consumerMember{id: m.id, metadata: m.metadata, regex: m.regex, current: m.current}
	c.metadata.topicNames = slices.Clone(m.metadata.topicNames)
	c.current.assigned = m.current.assigned.clone()
	c.current.pendingRevocation = m.current.pendingRevocation.clone()
	c.current.epochs = cloneEpochs(m.current.epochs)
	return c
}

func sameString(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func (a memberMetadata) equal(b memberMetadata) bool {
	return sameString(a.instanceID, b.instanceID) && sameString(a.rackID, b.rackID) &&
		a.clientID == b.clientID && a.clientHost == b.clientHost && slices.Equal(a.topicNames, b.topicNames) &&
		sameString(a.topicRegex, b.topicRegex) && a.rebalanceTimeoutMs == b.rebalanceTimeoutMs &&
		sameString(a.serverAssignor, b.serverAssignor)
}

func (a currentAssignment) equal(b currentAssignment) bool {
	return a.epoch == b.epoch && a.previousEpoch == b.previousEpoch && a.state == b.state &&
		a.assigned.equal(b.assigned) && a.pendingRevocation.equal(b.pendingRevocation) && maps.Equal(a.epochs, b.epochs)
}

// state is the group state as Kafka names it (ConsumerGroupState).
func (cg *consumerGroup) state() string {
	if len(cg.members) == 0 {
		return "Empty"
	}
	if cg.epoch > cg.assignmentEpoch {
		return "Assigning"
	}
	for _, m := range cg.members {
		if m.current.epoch != cg.assignmentEpoch || m.current.state != memberStable {
			return "Reconciling"
		}
	}
	return "Stable"
}

func (cg *consumerGroup) staticMember(instanceID string) *consumerMember {
	for _, m := range cg.members {
		if m.metadata.instanceID != nil && *m.metadata.instanceID == instanceID {
			return m
		}
	}
	return nil
}

func (cg *consumerGroup) subscribesTo(topic string) bool {
	for _, m := range cg.members {
		if m.subscribes(topic) {
			return true
		}
	}
	return false
}

func (cg *consumerGroup) sortedMembers() []*consumerMember { return membersByID(cg.members) }

// preferredAssignor is the server assignor most members asked for (ties by
// name), else the default: Kafka's computePreferredServerAssignor.
func (c *Coordinator) preferredAssignor(members []*consumerMember) string {
	counts := map[string]int{}
	for _, m := range members {
		if m.metadata.serverAssignor != nil {
			counts[*m.metadata.serverAssignor]++
		}
	}
	best, n := "", 0
	for name, k := range counts {
		if k > n || k == n && name < best {
			best, n = name, k
		}
	}
	if best == "" {
		return c.cfg.ConsumerAssignors[0]
	}
	return best
}

func (c *Coordinator) topics() []TopicMetadata {
	if c.cfg.Topics == nil {
		return nil
	}
	return c.cfg.Topics()
}

// subscriptionOf computes the subscribed topics (name → partitions) of
// members, which may differ from the group's (an updated member replaced).
func subscriptionOf(members []*consumerMember, topics []TopicMetadata) map[string]int32 {
	out := map[string]int32{}
	for _, t := range topics {
		for _, m := range members {
			if m.subscribes(t.Name) {
				out[t.Name] = t.Partitions
				break
			}
		}
	}
	return out
}

// heartbeatFail is a ConsumerGroupHeartbeat error answer.
func heartbeatFail(code int16, msg string) *protocol.ConsumerGroupHeartbeatResponse {
	r := &protocol.ConsumerGroupHeartbeatResponse{ErrorCode: code}
	if msg == "" {
		msg = errcode.Message(code)
	}
	r.ErrorMessage = &msg
	return r
}

// validateHeartbeat is Kafka's throwIfConsumerGroupHeartbeatRequestIsInvalid.
func (c *Coordinator) validateHeartbeat(v int16, req *protocol.ConsumerGroupHeartbeatRequest) *protocol.ConsumerGroupHeartbeatResponse {
	invalid := func(msg string) *protocol.ConsumerGroupHeartbeatResponse {
		return heartbeatFail(errcode.InvalidRequest, msg)
	}
	if v >= 1 && req.MemberID == "" {
		return invalid("MemberId can't be empty.")
	}
	if req.GroupID == "" {
		return invalid("GroupId can't be empty.")
	}
	if req.InstanceID != nil && *req.InstanceID == "" {
		return invalid("InstanceId can't be empty.")
	}
	if req.RackID != nil && *req.RackID == "" {
		return invalid("RackId can't be empty.")
	}
	switch e := req.MemberEpoch; {
	case e > 0 || e == leaveEpoch:
		if req.MemberID == "" {
			return invalid("MemberId can't be empty.")
		}
	case e == 0:
		if req.RebalanceTimeoutMs == -1 {
			return invalid("RebalanceTimeoutMs must be provided in first request.")
		}
		if req.TopicPartitions == nil || len(req.TopicPartitions) > 0 {
			return invalid("TopicPartitions must be empty when (re-)joining.")
		}
		// An empty subscription is a subscription: a Java consumer whose
		// Pattern matches no topic yet joins with no topic names.
		if req.SubscribedTopicNames == nil && req.SubscribedTopicRegex == nil {
			return invalid("Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining.")
		}
	case e == staticLeaveEpoch:
		if req.InstanceID == nil {
			return invalid("InstanceId can't be null.")
		}
	default:
		return invalid("MemberEpoch is invalid.")
	}
	if re := req.SubscribedTopicRegex; re != nil && *re != "" {
		if _, err := compileTopicRegex(*re); err != nil {
			return heartbeatFail(errcode.InvalidRegularExpression, fmt.Sprintf("SubscribedTopicRegex `%s` is not a valid regular expression: %v.", *re, err))
		}
	}
	if a := req.ServerAssignor; a != nil && !slices.Contains(c.cfg.ConsumerAssignors, *a) {
		return heartbeatFail(errcode.UnsupportedAssignor, fmt.Sprintf("ServerAssignor %s is not supported. Supported assignors: %s.",
			*a, strings.Join(c.cfg.ConsumerAssignors, ", ")))
	}
	return nil
}

// ConsumerGroupHeartbeat handles a KIP-848 ConsumerGroupHeartbeat at
// version v: joins (epoch 0), heartbeats and reconciliation (epoch > 0)
// and leaves (-1, or -2 for a static member that will come back).
func (c *Coordinator) ConsumerGroupHeartbeat(ctx context.Context, v int16, clientID, clientHost string, req *protocol.ConsumerGroupHeartbeatRequest) (resp *protocol.ConsumerGroupHeartbeatResponse) {
	if r := c.validateHeartbeat(v, req); r != nil {
		return r
	}
	s, code := c.lockedShard(string(req.GroupID))
	if code != 0 {
		return heartbeatFail(code, "")
	}
	defer s.unlockAndAwait(ctx, string(req.GroupID), func(wc int16) { resp = heartbeatFail(wc, "") })
	if req.MemberEpoch == leaveEpoch || req.MemberEpoch == staticLeaveEpoch {
		return s.consumerLeaveLocked(req)
	}
	return s.consumerHeartbeatLocked(clientID, clientHost, req)
}

// consumerGroupLocked returns the consumer group for id, creating it when
// create is set (a new group, or an empty classic group being converted:
// recs then get its tombstone). The group is only materialized when the
// records are replayed.
func (s *shard) consumerGroupLocked(id string, create bool, recs *[]records.Record) (*consumerGroup, int16, string) {
	g := s.groups[id]
	switch {
	case g == nil || g.state == stateDead:
		if !create {
			return nil, errcode.GroupIDNotFound, fmt.Sprintf("Consumer group %s not found.", id)
		}
		return newConsumerGroup(), 0, ""
	case g.consumer != nil:
		return g.consumer, 0, ""
	case g.share != nil:
		return nil, errcode.GroupIDNotFound, fmt.Sprintf("Group %s is not a consumer group.", id)
	case g.streams != nil && (!create || len(g.streams.members) > 0):
		return nil, errcode.GroupIDNotFound, fmt.Sprintf("Group %s is not a consumer group.", id)
	case g.streams != nil:
		// An empty streams group becomes a consumer group, keeping its
		// offsets.
		*recs = append(*recs, g.streamsTombstones()...)
		return newConsumerGroup(), 0, ""
	case create && g.state == stateEmpty:
		// Kafka deletes an empty classic group (its offsets stay) and
		// creates the consumer group in its place.
		if g.protocolType != "" {
			*recs = append(*recs, records.Record{Key: EncodeGroupKey(id)})
		}
		return newConsumerGroup(), 0, ""
	}
	return nil, errcode.GroupIDNotFound, fmt.Sprintf("Group %s is not a consumer group.", id)
}

// throwIfEpochInvalid is Kafka's member epoch check: a member may be one
// epoch behind if it owns no more than its assignment (the response that
// bumped it may have been lost).
func throwIfEpochInvalid(m *consumerMember, received int32, owned []protocol.ConsumerGroupHeartbeatRequestTopicPartitions) (int16, string) {
	cur := m.current.epoch
	if received > cur {
		return errcode.FencedMemberEpoch, fmt.Sprintf("The consumer group member has a greater member epoch (%d) than the one known by the group coordinator (%d). The member must abandon all its partitions and rejoin.", received, cur)
	}
	if received < cur && (received != m.current.previousEpoch || !ownsSubset(owned, m.current.assigned)) {
		return errcode.FencedMemberEpoch, fmt.Sprintf("The consumer group member has a smaller member epoch (%d) than the one known by the group coordinator (%d). The member must abandon all its partitions and rejoin.", received, cur)
	}
	return 0, ""
}

func ownsSubset(owned []protocol.ConsumerGroupHeartbeatRequestTopicPartitions, a assignment) bool {
	if owned == nil {
		return false
	}
	for _, t := range owned {
		for _, p := range t.Partitions {
			if !a.has(t.TopicID, p) {
				return false
			}
		}
	}
	return true
}

// ownsAny reports whether the owned partitions include any of a; unknown
// (nil owned) counts as yes.
func ownsAny(owned []protocol.ConsumerGroupHeartbeatRequestTopicPartitions, a assignment) bool {
	if owned == nil {
		return true
	}
	for _, t := range owned {
		for _, p := range t.Partitions {
			if a.has(t.TopicID, p) {
				return true
			}
		}
	}
	return false
}

// consumerHeartbeat carries one ConsumerGroupHeartbeat (other than a leave)
// through the phases of consumerHeartbeatLocked. It belongs to the call,
// which holds the shard's mu throughout.
type consumerHeartbeat struct {
	req     *protocol.ConsumerGroupHeartbeatRequest
	groupID string
	create  bool // MemberEpoch 0: the member joins, or rejoins from scratch
	cg      *consumerGroup

	// old is the member as the group knows it, nil if it is new; replaced
	// is a static member whose instance id moves to another member id;
	// updated is the member as this heartbeat leaves it.
	old, replaced, updated *consumerMember
	// md and prevMD are updated's metadata after and before the request.
	md, prevMD memberMetadata
	// bump: the group epoch moves (a member joined, or a subscription or
	// the assignor asked for changed).
	bump bool
	// members are the group's members as they will be; sub is their
	// subscription and subscriptionChanged whether it moved.
	members             []*consumerMember
	topics              []TopicMetadata
	sub                 map[string]int32
	subscriptionChanged bool
	groupEpoch          int32
	// targetEpoch and target are the target assignment updated moves to.
	targetEpoch int32
	target      assignment
	// before is updated's current assignment before reconciling.
	before currentAssignment
	recs   []records.Record // to append, in order
}

// consumerHeartbeatLocked runs a joining or ongoing member's heartbeat:
// find or create the member and check its epoch, apply the request to it,
// work out the group epoch and, past it, a new target assignment, move the
// member towards its target, then append the records and apply them.
func (s *shard) consumerHeartbeatLocked(clientID, clientHost string, req *protocol.ConsumerGroupHeartbeatRequest) *protocol.ConsumerGroupHeartbeatResponse {
	c := s.c
	hb := &consumerHeartbeat{req: req, groupID: string(req.GroupID), create: req.MemberEpoch == 0}
	cg, code, msg := s.consumerGroupLocked(hb.groupID, hb.create, &hb.recs)
	if code != 0 {
		return heartbeatFail(code, msg)
	}
	hb.cg = cg
	memberID := req.MemberID
	if memberID == "" {
		memberID = randomUUID() // v0: the coordinator names new members
	}
	if len(cg.members) >= c.cfg.ConsumerMaxSize && cg.members[memberID] == nil {
		return heartbeatFail(errcode.GroupMaxSizeReached, fmt.Sprintf("The consumer group has reached its maximum capacity of %d members.", c.cfg.ConsumerMaxSize))
	}
	if code, msg := hb.findMember(memberID); code != 0 {
		return heartbeatFail(code, msg)
	}
	hb.applyRequest(clientID, clientHost)
	hb.nextGroupEpoch(c.topics())
	c.updateTarget(hb)
	hb.reconcile()
	m, code := s.commitHeartbeatLocked(hb)
	if code != 0 {
		return heartbeatFail(code, "")
	}
	return hb.response(m, int32(c.cfg.ConsumerHeartbeatInterval.Milliseconds()))
}

// findMember finds the member, or creates it, and checks its epoch: it sets
// old, replaced and updated, or returns the error to answer.
func (hb *consumerHeartbeat) findMember(memberID string) (int16, string) {
	req, cg := hb.req, hb.cg
	if req.InstanceID == nil {
		hb.old = cg.members[memberID]
		switch {
		case hb.old == nil && !hb.create:
			return errcode.UnknownMemberID, fmt.Sprintf("Member %s is not a member of group %s.", memberID, hb.groupID)
		case hb.old == nil || hb.create:
			// A rejoin at epoch 0 starts over: the member has dropped its
			// partitions, so it holds nothing until reconciled again.
			hb.updated = newConsumerMember(memberID)
			if hb.old != nil {
				hb.updated.metadata = hb.old.metadata
				hb.updated.regex = hb.old.regex
				hb.updated.metadata.topicNames = slices.Clone(hb.old.metadata.topicNames)
			}
		default:
			if code, msg := throwIfEpochInvalid(hb.old, req.MemberEpoch, req.TopicPartitions); code != 0 {
				return code, msg
			}
			hb.updated = hb.old.copyMember()
		}
		return 0, ""
	}
	instanceID := *req.InstanceID
	existing := cg.staticMember(instanceID)
	if hb.create {
		switch {
		case existing == nil:
			hb.old = cg.members[memberID]
			hb.updated = newConsumerMember(memberID)
		case existing.current.epoch != staticLeaveEpoch:
			// Only an instance that left with epoch -2 may be taken
			// over, even by the same member id (Kafka's rule).
			return errcode.UnreleasedInstanceID, fmt.Sprintf("Static member %s with instance id %s cannot join the group because the instance id is owned by %s member.", memberID, instanceID, existing.id)
		default:
			// The static member comes back under a new member id and
			// keeps its assignment.
			hb.updated = existing.copyMember()
			hb.updated.id = memberID
			hb.updated.current.epoch, hb.updated.current.previousEpoch = 0, 0
			if existing.id != memberID {
				hb.replaced = existing
			} else {
				hb.old = existing
			}
		}
		return 0, ""
	}
	switch {
	case existing == nil:
		return errcode.UnknownMemberID, fmt.Sprintf("Instance id %s is unknown.", instanceID)
	case existing.id != memberID:
		return errcode.FencedInstanceID, fmt.Sprintf("Static member %s with instance id %s was fenced by member %s.", memberID, instanceID, existing.id)
	}
	if code, msg := throwIfEpochInvalid(existing, req.MemberEpoch, req.TopicPartitions); code != 0 {
		return code, msg
	}
	hb.old = existing
	hb.updated = existing.copyMember()
	return 0, ""
}

// applyRequest applies the request's changes to the member's metadata and
// records them; a new member or a changed subscription or assignor bumps
// the group epoch.
func (hb *consumerHeartbeat) applyRequest(clientID, clientHost string) {
	req := hb.req
	md := hb.updated.metadata
	if req.InstanceID != nil {
		md.instanceID = req.InstanceID
	}
	if req.RackID != nil {
		md.rackID = req.RackID
	}
	if req.RebalanceTimeoutMs != -1 {
		md.rebalanceTimeoutMs = req.RebalanceTimeoutMs
	}
	if req.ServerAssignor != nil {
		md.serverAssignor = req.ServerAssignor
	}
	if req.SubscribedTopicNames != nil {
		names := make([]string, 0, len(req.SubscribedTopicNames))
		for _, t := range req.SubscribedTopicNames {
			names = append(names, string(t))
		}
		sort.Strings(names)
		md.topicNames = slices.Compact(names)
	}
	if req.SubscribedTopicRegex != nil {
		if *req.SubscribedTopicRegex == "" {
			md.topicRegex = nil
		} else {
			md.topicRegex = req.SubscribedTopicRegex
		}
	}
	md.clientID, md.clientHost = clientID, clientHost
	prevMD := memberMetadata{rebalanceTimeoutMs: -1}
	if hb.old != nil {
		prevMD = hb.old.metadata
	} else if hb.replaced != nil {
		prevMD = hb.replaced.metadata
	}
	hb.updated.setMetadata(md)
	hb.md, hb.prevMD = md, prevMD

	if hb.replaced != nil {
		hb.recs = append(hb.recs, memberTombstones(hb.groupID, hb.replaced.id)...)
	}
	hb.bump = hb.old == nil && hb.replaced == nil
	if !md.equal(prevMD) || hb.replaced != nil || hb.old == nil {
		hb.recs = append(hb.recs, memberMetadataRecord(hb.groupID, hb.updated))
		if !slices.Equal(md.topicNames, prevMD.topicNames) || !sameString(md.topicRegex, prevMD.topicRegex) ||
			!sameString(md.serverAssignor, prevMD.serverAssignor) {
			hb.bump = true
		}
	}
}

// nextGroupEpoch works out the members as they will be, their
// subscription over topics, and the group epoch, bumped (and recorded) when
// a member joined or the subscription changed.
func (hb *consumerHeartbeat) nextGroupEpoch(topics []TopicMetadata) {
	cg, updated, replaced := hb.cg, hb.updated, hb.replaced
	members := make([]*consumerMember, 0, len(cg.members)+1)
	for _, m := range cg.members {
		if m.id != updated.id && (replaced == nil || m.id != replaced.id) {
			members = append(members, m)
		}
	}
	hb.members = append(members, updated)
	hb.topics = topics
	hb.sub = subscriptionOf(hb.members, topics)
	hb.subscriptionChanged = cg.subscriptionKnown && !maps.Equal(hb.sub, cg.subscription)
	hb.groupEpoch = cg.epoch
	if hb.bump || hb.subscriptionChanged {
		hb.groupEpoch++
		hb.recs = append(hb.recs, groupEpochRecord(hb.groupID, hb.groupEpoch))
	}
}

// updateTarget computes a new target assignment when the group epoch moved
// past the assignment epoch, recording the members' targets that changed,
// and sets the target the heartbeat's member moves to.
func (c *Coordinator) updateTarget(hb *consumerHeartbeat) {
	cg, updated, replaced := hb.cg, hb.updated, hb.replaced
	hb.targetEpoch = cg.assignmentEpoch
	hb.target = cg.target[updated.id]
	if replaced != nil {
		hb.target = cg.target[replaced.id]
	}
	if hb.groupEpoch > cg.assignmentEpoch {
		newTargets := c.computeTarget(cg, hb.members, replaced, hb.topics)
		for _, m := range hb.members {
			prev, ok := cg.target[m.id]
			if m == updated && replaced != nil {
				prev, ok = cg.target[replaced.id], false
			}
			if !ok || !prev.equal(newTargets[m.id]) {
				hb.recs = append(hb.recs, targetMemberRecord(hb.groupID, m.id, newTargets[m.id]))
			}
		}
		hb.recs = append(hb.recs, targetEpochRecord(hb.groupID, hb.groupEpoch))
		hb.targetEpoch = hb.groupEpoch
		hb.target = newTargets[updated.id]
	} else if replaced != nil {
		hb.recs = append(hb.recs, targetMemberRecord(hb.groupID, updated.id, hb.target))
	}
	if hb.target == nil {
		hb.target = assignment{}
	}
}

// reconcile moves the member towards its target one step and records its
// current assignment when it changed (or the member is new, replaced or
// rejoining).
func (hb *consumerHeartbeat) reconcile() {
	updated := hb.updated
	owners := partitionOwners(hb.members, updated.id)
	hb.before = updated.current
	next := reconcile(updated.current, hb.targetEpoch, hb.target, hb.req.TopicPartitions, owners)
	updated.current = next
	if !next.equal(hb.before) || hb.old == nil || hb.replaced != nil || hb.create {
		hb.recs = append(hb.recs, currentAssignmentRecord(hb.groupID, updated))
	}
}

// commitHeartbeatLocked appends the heartbeat's records and applies them,
// so the group's state changes only by replay, then restarts the member's
// timers. It returns the member as the group now holds it, or an error
// code.
func (s *shard) commitHeartbeatLocked(hb *consumerHeartbeat) (*consumerMember, int16) {
	c := s.c
	if len(hb.recs) > 0 {
		if code := s.appendLocked(hb.recs); code != 0 {
			return nil, code
		}
		if err := s.applyLocked(hb.groupID, hb.recs); err != nil {
			return nil, errcode.UnknownServerError
		}
	}
	g := s.groups[hb.groupID]
	live := g.consumer
	if !live.subscriptionKnown || hb.bump || hb.subscriptionChanged {
		live.subscription, live.subscriptionKnown = hb.sub, true
	}
	if hb.replaced != nil {
		hb.replaced.stopTimers()
	}
	m := live.members[hb.updated.id]
	if hb.old != nil && hb.old != m {
		hb.old.stopTimers()
	}
	s.scheduleSessionLocked(g, m)
	s.scheduleRevocationLocked(g, m, hb.before)
	if hb.create || hb.bump {
		c.logger.Info("consumer group member heartbeat changed the group", zap.String("group", hb.groupID), zap.String("member", m.id),
			zap.Int32("group_epoch", live.epoch), zap.Int32("member_epoch", m.current.epoch), zap.Bool("joined", hb.create))
	}
	return m, 0
}

// response answers the heartbeat for m, the member as the group now holds
// it: the assignment is sent in full on a join or a full heartbeat, and
// whenever it changed.
func (hb *consumerHeartbeat) response(m *consumerMember, heartbeatIntervalMs int32) *protocol.ConsumerGroupHeartbeatResponse {
	req := hb.req
	resp := &protocol.ConsumerGroupHeartbeatResponse{
		MemberID: &m.id, MemberEpoch: m.current.epoch,
		HeartbeatIntervalMs: heartbeatIntervalMs,
	}
	full := hb.create || (req.RebalanceTimeoutMs != -1 && (req.SubscribedTopicNames != nil || req.SubscribedTopicRegex != nil) && req.TopicPartitions != nil)
	if full || hb.old == nil || !hb.before.assigned.equal(m.current.assigned) {
		resp.Assignment = &protocol.ConsumerGroupHeartbeatResponseAssignment{}
		for _, id := range m.current.assigned.topicIDs() {
			resp.Assignment.TopicPartitions = append(resp.Assignment.TopicPartitions, protocol.ConsumerGroupHeartbeatResponseTopicPartitions{
				TopicID: id, Partitions: slices.Clone(m.current.assigned[id]),
			})
		}
		if resp.Assignment.TopicPartitions == nil {
			resp.Assignment.TopicPartitions = []protocol.ConsumerGroupHeartbeatResponseTopicPartitions{}
		}
	}
	return resp
}

// computeTarget runs the group's assignor over members; replaced (a static
// member taking a new id) passes its previous target to its successor.
func (c *Coordinator) computeTarget(cg *consumerGroup, members []*consumerMember, replaced *consumerMember, topics []TopicMetadata) map[string]assignment {
	ids := map[string]protocol.UUID{}
	parts := map[protocol.UUID]int32{}
	for _, t := range topics {
		ids[t.Name] = t.ID
	}
	in := make([]assignorMember, 0, len(members))
	for _, m := range members {
		am := assignorMember{id: m.id, instanceID: m.metadata.instanceID, topics: map[protocol.UUID]bool{}, previous: cg.target[m.id]}
		if replaced != nil && m.metadata.instanceID != nil && replaced.metadata.instanceID != nil && *m.metadata.instanceID == *replaced.metadata.instanceID {
			am.previous = cg.target[replaced.id]
		}
		for _, t := range topics {
			if m.subscribes(t.Name) {
				am.topics[t.ID] = true
				parts[t.ID] = t.Partitions
			}
		}
		in = append(in, am)
	}
	a := assignorByName(c.preferredAssignor(members))
	if a == nil {
		a = uniformAssignor{}
	}
	out := a.assign(in, parts)
	for _, m := range members {
		if out[m.id] == nil {
			out[m.id] = assignment{}
		}
	}
	return out
}

// partitionOwners maps every partition assigned to or being revoked from a
// member other than self to that member's epoch (Kafka's partition epochs).
func partitionOwners(members []*consumerMember, self string) map[topicPartitionID]int32 {
	out := map[topicPartitionID]int32{}
	for _, m := range members {
		if m.id == self {
			continue
		}
		for _, a := range []assignment{m.current.assigned, m.current.pendingRevocation} {
			for id, ps := range a {
				for _, p := range ps {
					out[topicPartitionID{id, p}] = m.current.epoch
				}
			}
		}
	}
	return out
}

// reconcile is Kafka's CurrentAssignmentBuilder: it moves a member one step
// towards its target. Partitions to revoke go first (the member keeps its
// epoch until it stops reporting them); partitions still owned by another
// member are held back (UNRELEASED_PARTITIONS) until released.
func reconcile(cur currentAssignment, targetEpoch int32, target assignment, owned []protocol.ConsumerGroupHeartbeatRequestTopicPartitions, owners map[topicPartitionID]int32) currentAssignment {
	switch cur.state {
	case memberStable:
		if cur.epoch == targetEpoch {
			return cur
		}
		return nextAssignment(cur, cur.epoch, targetEpoch, target, owned, owners)
	case memberUnrevokedPartitions:
		if ownsAny(owned, cur.pendingRevocation) {
			return cur
		}
		return nextAssignment(cur, cur.epoch+1, targetEpoch, target, owned, owners)
	case memberUnreleasedPartitions:
		return nextAssignment(cur, cur.epoch, targetEpoch, target, owned, owners)
	}
	// Unknown state: start the member over at the target epoch.
	return nextAssignment(emptyCurrentAssignment(), targetEpoch, targetEpoch, target, owned, owners)
}

func nextAssignment(cur currentAssignment, memberEpoch, targetEpoch int32, target assignment, owned []protocol.ConsumerGroupHeartbeatRequestTopicPartitions, owners map[topicPartitionID]int32) currentAssignment {
	assigned, revoke, pending := assignment{}, assignment{}, assignment{}
	unreleased := false
	ids := map[protocol.UUID]bool{}
	for id := range target {
		ids[id] = true
	}
	for id := range cur.assigned {
		ids[id] = true
	}
	for id := range ids {
		for _, p := range cur.assigned[id] {
			if target.has(id, p) {
				assigned.add(id, p)
			} else {
				revoke.add(id, p)
			}
		}
		for _, p := range target[id] {
			if cur.assigned.has(id, p) {
				continue
			}
			if _, taken := owners[topicPartitionID{id, p}]; taken {
				unreleased = true
				continue
			}
			pending.add(id, p)
		}
	}
	// Like Kafka's updateMemberEpoch, every step records the epoch it
	// leaves as the previous one. Partitions kept (or moved to pending
	// revocation) keep their assignment epoch.
	next := currentAssignment{epoch: memberEpoch, previousEpoch: cur.epoch, assigned: assigned, pendingRevocation: assignment{},
		epochs: map[topicPartitionID]int32{}}
	keepEpochs := func(a assignment) {
		for id, ps := range a {
			for _, p := range ps {
				next.epochs[topicPartitionID{id, p}] = cur.epochs[topicPartitionID{id, p}]
			}
		}
	}
	keepEpochs(assigned)
	if revoke.size() > 0 && ownsAny(owned, revoke) {
		next.state = memberUnrevokedPartitions
		next.pendingRevocation = revoke
		keepEpochs(revoke)
		return next
	}
	next.epoch = targetEpoch
	for id, ps := range pending {
		next.assigned.add(id, ps...)
		for _, p := range ps {
			next.epochs[topicPartitionID{id, p}] = targetEpoch // newly assigned
		}
	}
	next.state = memberStable
	if unreleased {
		next.state = memberUnreleasedPartitions
	}
	return next
}

// applyLocked replays records a live operation on group id appended into
// the shard's groups.
func (s *shard) applyLocked(id string, recs []records.Record) error {
	for _, r := range recs {
		if err := replayRecord(s.groups, r.Key, r.Value); err != nil {
			return err
		}
	}
	if g := s.groups[id]; g != nil && g.shard == nil {
		g.shard = s
	}
	return nil
}

func (m *consumerMember) stopTimers() {
	m.sessionSeq++
	m.revokeSeq++
	if m.sessionTimer != nil {
		m.sessionTimer.Stop()
	}
	if m.revokeTimer != nil {
		m.revokeTimer.Stop()
	}
}

// scheduleSessionLocked (re)starts m's session timer: a member that stops
// heartbeating for group.consumer.session.timeout.ms is removed.
func (s *shard) scheduleSessionLocked(g *group, m *consumerMember) {
	m.sessionSeq++
	seq := m.sessionSeq
	if m.sessionTimer != nil {
		m.sessionTimer.Stop()
	}
	m.sessionTimer = time.AfterFunc(s.c.cfg.ConsumerSessionTimeout, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.unloaded || m.sessionSeq != seq || s.groups[g.id] != g || g.consumer == nil || g.consumer.members[m.id] != m {
			return
		}
		s.c.logger.Info("consumer group member session expired", zap.String("group", g.id), zap.String("member", m.id))
		s.fenceMemberLocked(g, m)
	})
}

// scheduleRevocationLocked starts the rebalance timeout when m starts
// revoking partitions and stops it once it is done: a member that doesn't
// revoke in its rebalance timeout is removed.
func (s *shard) scheduleRevocationLocked(g *group, m *consumerMember, before currentAssignment) {
	if m.current.state != memberUnrevokedPartitions {
		m.revokeSeq++
		if m.revokeTimer != nil {
			m.revokeTimer.Stop()
			m.revokeTimer = nil
		}
		return
	}
	if before.state == memberUnrevokedPartitions && before.epoch == m.current.epoch && m.revokeTimer != nil {
		return
	}
	m.revokeSeq++
	seq, epoch := m.revokeSeq, m.current.epoch
	timeout := time.Duration(m.metadata.rebalanceTimeoutMs) * time.Millisecond
	if timeout <= 0 {
		timeout = s.c.cfg.ConsumerSessionTimeout
	}
	if m.revokeTimer != nil {
		m.revokeTimer.Stop()
	}
	m.revokeTimer = time.AfterFunc(timeout, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.unloaded || m.revokeSeq != seq || s.groups[g.id] != g || g.consumer == nil || g.consumer.members[m.id] != m {
			return
		}
		if m.current.state == memberUnrevokedPartitions && m.current.epoch == epoch {
			s.c.logger.Info("consumer group member did not revoke partitions in time", zap.String("group", g.id), zap.String("member", m.id))
			s.fenceMemberLocked(g, m)
		}
	})
}

// fenceMemberLocked removes m from the group and bumps the group epoch so
// the others get its partitions (Kafka's consumerGroupFenceMember).
func (s *shard) fenceMemberLocked(g *group, m *consumerMember) int16 {
	recs := memberTombstones(g.id, m.id)
	recs = append(recs, groupEpochRecord(g.id, g.consumer.epoch+1))
	if code := s.appendLocked(recs); code != 0 {
		return code
	}
	m.stopTimers()
	if err := s.applyLocked(g.id, recs); err != nil {
		return errcode.UnknownServerError
	}
	return 0
}

func (s *shard) consumerLeaveLocked(req *protocol.ConsumerGroupHeartbeatRequest) *protocol.ConsumerGroupHeartbeatResponse {
	groupID := string(req.GroupID)
	g := s.groups[groupID]
	if g == nil || g.state == stateDead {
		return heartbeatFail(errcode.GroupIDNotFound, fmt.Sprintf("Consumer group %s not found.", groupID))
	}
	if g.consumer == nil {
		return heartbeatFail(errcode.GroupIDNotFound, fmt.Sprintf("Group %s is not a consumer group.", groupID))
	}
	cg := g.consumer
	resp := &protocol.ConsumerGroupHeartbeatResponse{MemberID: &req.MemberID, MemberEpoch: req.MemberEpoch}
	var m *consumerMember
	if req.InstanceID == nil {
		m = cg.members[req.MemberID]
		if m == nil {
			return heartbeatFail(errcode.UnknownMemberID, fmt.Sprintf("Member %s is not a member of group %s.", req.MemberID, groupID))
		}
	} else {
		m = cg.staticMember(*req.InstanceID)
		switch {
		case m == nil:
			return heartbeatFail(errcode.UnknownMemberID, fmt.Sprintf("Instance id %s is unknown.", *req.InstanceID))
		case m.id != req.MemberID:
			return heartbeatFail(errcode.FencedInstanceID, fmt.Sprintf("Static member %s with instance id %s was fenced by member %s.", req.MemberID, *req.InstanceID, m.id))
		}
		if req.MemberEpoch == staticLeaveEpoch {
			// The static member keeps its assignment for when it comes
			// back; its session timer still runs.
			u := m.copyMember()
			u.current.epoch = staticLeaveEpoch
			u.current.pendingRevocation = assignment{}
			// Kafka resets the kept partitions' assignment epochs: the
			// instance that comes back starts over at epoch 0.
			u.current.epochs = map[topicPartitionID]int32{}
			for id, ps := range u.current.assigned {
				for _, p := range ps {
					u.current.epochs[topicPartitionID{id, p}] = 0
				}
			}
			recs := []records.Record{currentAssignmentRecord(groupID, u)}
			if code := s.appendLocked(recs); code != 0 {
				return heartbeatFail(code, "")
			}
			if err := s.applyLocked(groupID, recs); err != nil {
				return heartbeatFail(errcode.UnknownServerError, "")
			}
			s.scheduleRevocationLocked(g, m, m.current)
			s.c.logger.Info("static consumer group member left for now", zap.String("group", groupID), zap.String("member", m.id))
			return resp
		}
	}
	if code := s.fenceMemberLocked(g, m); code != 0 {
		return heartbeatFail(code, "")
	}
	s.c.logger.Info("consumer group member left", zap.String("group", groupID), zap.String("member", m.id))
	return resp
}

// onLoadedConsumerLocked starts the session timers of loaded members.
func (s *shard) onLoadedConsumerLocked(g *group) {
	for _, m := range g.consumer.members {
		s.scheduleSessionLocked(g, m)
	}
}

// shutdownConsumerLocked stops the timers of a consumer group.
func (g *group) shutdownConsumerLocked() {
	if g.consumer == nil {
		return
	}
	for _, m := range g.consumer.members {
		m.stopTimers()
	}
}

// consumerTombstonesLocked deletes the consumer group's records (Kafka's
// createGroupTombstoneRecords): members, then the group's own records.
func (g *group) consumerTombstonesLocked() []records.Record {
	var recs []records.Record
	for _, m := range g.consumer.sortedMembers() {
		recs = append(recs, memberTombstones(g.id, m.id)...)
	}
	return append(recs,
		consumerTombstone(keyConsumerPartitionMetadata, g.id, ""),
		consumerTombstone(keyConsumerTargetMetadata, g.id, ""),
		consumerTombstone(keyConsumerGroupMetadata, g.id, ""))
}

// validateConsumerCommitLocked is ConsumerGroup.validateOffsetCommit
// (Kafka 4.3, with KIP-1251's assignment epochs). A commit at the member's
// epoch passes. One at an older epoch passes only if every partition it
// commits is assigned to the member (or being revoked from it) since that
// epoch or earlier: the member reconciled meanwhile but still owns what it
// consumed, so a commit racing a heartbeat is not failed. Anything else is
// STALE_MEMBER_EPOCH, which TxnOffsetCommit turns into ILLEGAL_GENERATION
// (the producer does not know the former).
func (s *shard) validateConsumerCommitLocked(g *group, req CommitRequest) int16 {
	cg := g.consumer
	if req.Generation < 0 && len(cg.members) == 0 {
		return 0
	}
	// TxnOffsetCommit need not name a member: without one it is not checked.
	if req.Transactional && req.Generation == -1 && req.MemberID == "" && req.InstanceID == nil {
		return 0
	}
	m := cg.members[req.MemberID]
	if m == nil {
		return errcode.UnknownMemberID
	}
	if req.Version < 9 && !req.Transactional {
		return errcode.UnsupportedVersion
	}
	stale := errcode.StaleMemberEpoch
	if req.Transactional && !req.TxnMemberErrors {
		stale = errcode.IllegalGeneration
	}
	switch {
	case req.Generation == m.current.epoch:
		return 0
	case req.Generation > m.current.epoch:
		return stale
	}
	ids := map[string]protocol.UUID{}
	for _, t := range s.c.topics() {
		ids[t.Name] = t.ID
	}
	for _, o := range req.Offsets {
		id, ok := ids[o.Topic]
		if !ok {
			return stale
		}
		if e, ok := m.current.partitionEpoch(id, o.Partition); !ok || req.Generation < e {
			return stale
		}
	}
	return 0
}

// ConsumerGroupDescription is a ConsumerGroupDescribe answer for one group.
type ConsumerGroupDescription struct {
	ErrorCode       int16
	ErrorMessage    string
	State           string
	Epoch           int32
	AssignmentEpoch int32
	AssignorName    string
	Members         []ConsumerMemberDescription
}

// ConsumerMemberDescription is one member of a ConsumerGroupDescription.
// Assignments are by topic ID; the broker adds the names.
type ConsumerMemberDescription struct {
	MemberID         string
	InstanceID       *string
	RackID           *string
	MemberEpoch      int32
	ClientID         string
	ClientHost       string
	TopicNames       []string
	TopicRegex       *string
	Assignment       map[protocol.UUID][]int32
	TargetAssignment map[protocol.UUID][]int32
}

// DescribeConsumerGroup describes a consumer group; a classic or unknown
// group is GROUP_ID_NOT_FOUND, as in Kafka (clients then fall back to
// DescribeGroups).
func (c *Coordinator) DescribeConsumerGroup(ctx context.Context, groupID string) (d ConsumerGroupDescription) {
	s, code := c.lockedShard(groupID)
	if code != 0 {
		return ConsumerGroupDescription{ErrorCode: code}
	}
	defer s.unlockAndAwait(ctx, groupID, func(wc int16) { d = ConsumerGroupDescription{ErrorCode: wc} })
	g := s.groups[groupID]
	switch {
	case g == nil || g.state == stateDead:
		return ConsumerGroupDescription{ErrorCode: errcode.GroupIDNotFound, ErrorMessage: fmt.Sprintf("Group %s not found.", groupID)}
	case g.consumer == nil:
		return ConsumerGroupDescription{ErrorCode: errcode.GroupIDNotFound, ErrorMessage: fmt.Sprintf("Group %s is not a consumer group.", groupID)}
	}
	cg := g.consumer
	members := cg.sortedMembers()
	d = ConsumerGroupDescription{
		State: cg.state(), Epoch: cg.epoch, AssignmentEpoch: cg.assignmentEpoch, AssignorName: c.preferredAssignor(members),
	}
	for _, m := range members {
		d.Members = append(d.Members, ConsumerMemberDescription{
			MemberID: m.id, InstanceID: m.metadata.instanceID, RackID: m.metadata.rackID, MemberEpoch: m.current.epoch,
			ClientID: m.metadata.clientID, ClientHost: m.metadata.clientHost, TopicNames: slices.Clone(m.metadata.topicNames),
			TopicRegex: m.metadata.topicRegex, Assignment: m.current.assigned.clone(), TargetAssignment: cg.target[m.id].clone(),
		})
	}
	return d
}
