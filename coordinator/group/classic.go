package group

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"sort"
	"time"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
)

// State is a classic group's state, spelled as Kafka spells it in
// DescribeGroups and ListGroups.
type State int8

const (
	stateEmpty State = iota
	statePreparingRebalance
	stateCompletingRebalance
	stateStable
	stateDead
)

func (s State) String() string {
	switch s {
	case stateEmpty:
		return "Empty"
	case statePreparingRebalance:
		return "PreparingRebalance"
	case stateCompletingRebalance:
		return "CompletingRebalance"
	case stateStable:
		return "Stable"
	}
	return "Dead"
}

type topicPartition struct {
	topic     string
	partition int32
}

type memberProtocol struct {
	name     string
	metadata []byte
}

// member is one member of a classic group. Guarded by its shard's mu.
type member struct {
	id               string
	instanceID       *string
	clientID         string
	clientHost       string
	rebalanceTimeout int32 // ms
	sessionTimeout   int32 // ms
	protocolType     string
	protocols        []memberProtocol
	assignment       []byte
	// joinCh is non-nil while the member's JoinGroup is parked (Kafka's
	// "awaiting join"); syncCh likewise for SyncGroup. Both have room for
	// the one response, so completing never blocks.
	joinCh chan *protocol.JoinGroupResponse
	syncCh chan *protocol.SyncGroupResponse
	// isNew marks a member that has not completed a join yet; its session
	// timer is the new-member join timeout.
	isNew   bool
	hbSeq   uint64 // invalidates older session timers
	hbTimer *time.Timer
	seq     uint64 // join order: members are listed in it
}

func (m *member) metadataFor(name string) []byte {
	for _, p := range m.protocols {
		if p.name == name {
			return p.metadata
		}
	}
	return nil
}

// matches reports whether protocols equal the member's, order included.
func (m *member) matches(protocols []memberProtocol) bool {
	if len(protocols) != len(m.protocols) {
		return false
	}
	for i := range protocols {
		if protocols[i].name != m.protocols[i].name || !bytes.Equal(protocols[i].metadata, m.protocols[i].metadata) {
			return false
		}
	}
	return true
}

// group is a classic-protocol group and its committed offsets. Guarded by
// its shard's mu.
type group struct {
	shard          *shard
	id             string
	state          State
	protocolType   string // "" for a simple group (offsets only)
	protocolName   string // selected protocol; "" when none
	generation     int32
	leader         string
	stateTimestamp int64 // ms when the state last changed; -1 unknown
	members        map[string]*member
	static         map[string]string      // group.instance.id → member id
	pending        map[string]*time.Timer // member ids handed out with MEMBER_ID_REQUIRED
	pendingSync    map[string]bool        // members yet to SyncGroup this generation
	newMemberAdded bool                   // a member joined during the initial delay
	initialDelay   bool                   // the initial rebalance delay is running
	joinSeq        uint64                 // invalidates older join timers
	joinTimer      *time.Timer
	syncSeq        uint64
	syncTimer      *time.Timer
	nextSeq        uint64
	offsets        map[topicPartition]OffsetValue
	// consumer is non-nil exactly when this is a KIP-848 consumer group
	// (consumer.go); the classic fields above are then unused.
	consumer *consumerGroup
	// share is non-nil exactly when this is a KIP-932 share group
	// (share.go); the classic fields are then unused too.
	share *shareGroup
	// streams is non-nil exactly when this is a KIP-1071 streams group
	// (streams.go); the classic fields are then unused too.
	streams *streamsGroup
}

func newGroup(s *shard, id string, now int64) *group {
	return &group{
		shard: s, id: id, state: stateEmpty, stateTimestamp: now,
		members: map[string]*member{}, static: map[string]string{}, pending: map[string]*time.Timer{},
		pendingSync: map[string]bool{}, offsets: map[topicPartition]OffsetValue{},
	}
}

func (g *group) now() int64 { return g.shard.c.now().UnixMilli() }

func (g *group) transitionLocked(st State) {
	g.state = st
	g.stateTimestamp = g.now()
}

// applyValue replaces the group's metadata with a replayed record. A group
// with members loads as Stable, as in Kafka.
func (g *group) applyValue(v GroupValue) {
	g.resetMetadata()
	g.protocolType = v.ProtocolType
	g.generation = v.Generation
	if v.Protocol != nil {
		g.protocolName = *v.Protocol
	}
	if v.Leader != nil {
		g.leader = *v.Leader
	}
	g.stateTimestamp = v.CurrentStateTimestamp
	for _, mv := range v.Members {
		m := &member{
			id: mv.MemberID, instanceID: mv.GroupInstanceID, clientID: mv.ClientID, clientHost: mv.ClientHost,
			rebalanceTimeout: mv.RebalanceTimeout, sessionTimeout: mv.SessionTimeout, protocolType: v.ProtocolType,
			protocols:  []memberProtocol{{name: g.protocolName, metadata: mv.Subscription}},
			assignment: mv.Assignment, seq: g.nextSeq,
		}
		g.nextSeq++
		g.members[m.id] = m
		if m.instanceID != nil {
			g.static[*m.instanceID] = m.id
		}
	}
	if len(g.members) > 0 {
		g.state = stateStable
	}
}

func (g *group) resetMetadata() {
	g.state = stateEmpty
	g.protocolType, g.protocolName, g.leader = "", "", ""
	g.generation = 0
	g.members = map[string]*member{}
	g.static = map[string]string{}
	g.pendingSync = map[string]bool{}
}

// onLoadedLocked starts the session timers of members read from the log:
// members that don't come back are expired as usual.
func (g *group) onLoadedLocked() {
	for _, m := range g.members {
		g.rescheduleHeartbeatLocked(m, time.Duration(m.sessionTimeout)*time.Millisecond)
	}
}

// shutdownLocked stops every timer and answers parked requests with code.
func (g *group) shutdownLocked(code int16) {
	g.cancelJoinTimerLocked()
	g.cancelSyncTimerLocked()
	for id, t := range g.pending {
		t.Stop()
		delete(g.pending, id)
	}
	for _, m := range g.members {
		m.hbSeq++
		if m.hbTimer != nil {
			m.hbTimer.Stop()
		}
		g.completeJoinLocked(m, &protocol.JoinGroupResponse{ErrorCode: code, GenerationID: -1, MemberID: m.id})
		g.completeSyncLocked(m, &protocol.SyncGroupResponse{ErrorCode: code})
	}
}

func (g *group) completeJoinLocked(m *member, r *protocol.JoinGroupResponse) {
	if m.joinCh != nil {
		m.joinCh <- r
		m.joinCh = nil
	}
}

func (g *group) completeSyncLocked(m *member, r *protocol.SyncGroupResponse) {
	if m.syncCh != nil {
		m.syncCh <- r
		m.syncCh = nil
	}
}

// sortedMembers lists members in join order.
func (g *group) sortedMembers() []*member {
	out := make([]*member, 0, len(g.members))
	for _, m := range g.members {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

func (g *group) numAwaitingJoin() int {
	n := 0
	for _, m := range g.members {
		if m.joinCh != nil {
			n++
		}
	}
	return n
}

func (g *group) hasAllMembersJoined() bool {
	return g.numAwaitingJoin() == len(g.members) && len(g.pending) == 0
}

// rebalanceTimeout is the largest rebalance timeout of the members.
func (g *group) rebalanceTimeout() time.Duration {
	var max int32
	for _, m := range g.members {
		if m.rebalanceTimeout > max {
			max = m.rebalanceTimeout
		}
	}
	return time.Duration(max) * time.Millisecond
}

// supportsProtocols is Kafka's check that a joining member can be in the
// group: the first member needs a protocol type and protocols; later ones
// need the group's type and a protocol every current member supports.
func (g *group) supportsProtocols(protocolType string, protocols []memberProtocol) bool {
	if len(g.members) == 0 {
		return protocolType != "" && len(protocols) > 0
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, p := range protocols {
		n := 0
		for _, m := range g.members {
			if hasProtocol(m, p.name) {
				n++
			}
		}
		if n == len(g.members) {
			return true
		}
	}
	return false
}

func hasProtocol(m *member, name string) bool {
	for _, p := range m.protocols {
		if p.name == name {
			return true
		}
	}
	return false
}

// selectProtocol picks, among the protocols all members support, the one
// most members list first; ties go to the earliest member's preference.
func (g *group) selectProtocol() string {
	ms := g.sortedMembers()
	if len(ms) == 0 {
		return ""
	}
	var candidates []string
	for _, p := range ms[0].protocols {
		all := true
		for _, m := range ms[1:] {
			if !hasProtocol(m, p.name) {
				all = false
				break
			}
		}
		if all {
			candidates = append(candidates, p.name)
		}
	}
	votes := map[string]int{}
	for _, m := range ms {
		for _, p := range m.protocols {
			if contains(candidates, p.name) {
				votes[p.name]++
				break
			}
		}
	}
	best, bestVotes := "", -1
	for _, c := range candidates {
		if votes[c] > bestVotes {
			best, bestVotes = c, votes[c]
		}
	}
	return best
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (g *group) addMemberLocked(m *member) {
	if len(g.members) == 0 {
		g.protocolType = m.protocolType
	}
	m.seq = g.nextSeq
	g.nextSeq++
	g.members[m.id] = m
	if m.instanceID != nil {
		g.static[*m.instanceID] = m.id
	}
	if g.leader == "" {
		g.leader = m.id
	}
}

// removeLocked drops m from the group without triggering a rebalance.
func (g *group) removeLocked(m *member) {
	delete(g.members, m.id)
	if m.instanceID != nil && g.static[*m.instanceID] == m.id {
		delete(g.static, *m.instanceID)
	}
	delete(g.pendingSync, m.id)
	m.hbSeq++
	if m.hbTimer != nil {
		m.hbTimer.Stop()
	}
	g.completeSyncLocked(m, &protocol.SyncGroupResponse{ErrorCode: errcode.UnknownMemberID})
	if g.leader == m.id {
		g.leader = ""
		if ms := g.sortedMembers(); len(ms) > 0 {
			g.leader = ms[0].id
		}
	}
}

// removeMemberAndUpdateLocked removes m and moves the group on, as Kafka
// does when a member leaves or its session expires.
func (g *group) removeMemberAndUpdateLocked(m *member, reason string) {
	g.completeJoinLocked(m, &protocol.JoinGroupResponse{ErrorCode: errcode.UnknownMemberID, GenerationID: -1, MemberID: m.id})
	g.removeLocked(m)
	g.shard.c.logger.Info("member removed from group", zap.String("group", g.id), zap.String("member_id", m.id), zap.String("reason", reason))
	switch g.state {
	case stateStable, stateCompletingRebalance:
		g.prepareRebalanceLocked("removing member " + m.id + ": " + reason)
	case statePreparingRebalance:
		g.maybeCompleteJoinLocked()
	}
}

func (g *group) validateExistingMember(memberID string, instanceID *string) int16 {
	if instanceID == nil {
		if g.members[memberID] == nil {
			return errcode.UnknownMemberID
		}
		return 0
	}
	existing, ok := g.static[*instanceID]
	if !ok {
		return errcode.UnknownMemberID
	}
	if existing != memberID {
		return errcode.FencedInstanceID
	}
	return 0
}

// timers

func (g *group) afterLocked(d time.Duration, seq *uint64, fn func()) *time.Timer {
	*seq++
	want := *seq
	s := g.shard
	return time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.unloaded || s.groups[g.id] != g || *seq != want {
			return
		}
		fn()
	})
}

func (g *group) cancelJoinTimerLocked() {
	g.joinSeq++
	if g.joinTimer != nil {
		g.joinTimer.Stop()
		g.joinTimer = nil
	}
}

func (g *group) cancelSyncTimerLocked() {
	g.syncSeq++
	if g.syncTimer != nil {
		g.syncTimer.Stop()
		g.syncTimer = nil
	}
}

func (g *group) rescheduleHeartbeatLocked(m *member, d time.Duration) {
	if m.hbTimer != nil {
		m.hbTimer.Stop()
	}
	m.hbTimer = g.afterLocked(d, &m.hbSeq, func() {
		if g.members[m.id] != m {
			return
		}
		// A parked JoinGroup or SyncGroup counts as a heartbeat, except for
		// new members, whose join may be abandoned.
		if !m.isNew && (m.joinCh != nil || m.syncCh != nil) {
			return
		}
		g.removeMemberAndUpdateLocked(m, "session timeout expired")
	})
}

func (g *group) addPendingLocked(id string, d time.Duration) {
	var t *time.Timer
	s := g.shard
	t = time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.unloaded || s.groups[g.id] != g || g.pending[id] != t {
			return
		}
		delete(g.pending, id)
		g.maybeCompleteJoinLocked()
	})
	g.pending[id] = t
}

func (g *group) removePendingLocked(id string) {
	if t, ok := g.pending[id]; ok {
		t.Stop()
		delete(g.pending, id)
	}
}

// rebalance steps

func (g *group) maybePrepareRebalanceOrCompleteJoinLocked(reason string) {
	switch g.state {
	case stateStable, stateCompletingRebalance, stateEmpty:
		g.prepareRebalanceLocked(reason)
	default:
		g.maybeCompleteJoinLocked()
	}
}

func (g *group) prepareRebalanceLocked(reason string) {
	if g.state == stateCompletingRebalance {
		g.resetAndPropagateAssignmentLocked(errcode.RebalanceInProgress)
	}
	g.cancelSyncTimerLocked()
	initial := g.state == stateEmpty
	g.transitionLocked(statePreparingRebalance)
	g.shard.c.logger.Info("preparing to rebalance group", zap.String("group", g.id), zap.Int32("generation", g.generation), zap.String("reason", reason))
	if initial {
		delay := g.shard.c.cfg.InitialRebalanceDelay
		remaining := max(g.rebalanceTimeout()-delay, 0)
		g.initialDelay = true
		g.scheduleInitialJoinLocked(delay, remaining)
		return
	}
	if g.hasAllMembersJoined() {
		g.completeRebalanceJoinLocked()
		return
	}
	g.joinTimer = g.afterLocked(g.rebalanceTimeout(), &g.joinSeq, g.completeRebalanceJoinLocked)
}

// scheduleInitialJoinLocked is group.initial.rebalance.delay.ms: a new
// group waits for more members, extending the wait while members keep
// arriving, up to the rebalance timeout.
func (g *group) scheduleInitialJoinLocked(delay, remaining time.Duration) {
	g.joinTimer = g.afterLocked(delay, &g.joinSeq, func() {
		if g.newMemberAdded && remaining != 0 {
			g.newMemberAdded = false
			next := min(g.shard.c.cfg.InitialRebalanceDelay, remaining)
			g.scheduleInitialJoinLocked(next, max(remaining-delay, 0))
			return
		}
		g.completeRebalanceJoinLocked()
	})
}

func (g *group) maybeCompleteJoinLocked() {
	if g.state == statePreparingRebalance && g.hasAllMembersJoined() && !g.initialDelay {
		g.completeRebalanceJoinLocked()
	}
}

// completeRebalanceJoinLocked ends the join phase: members that didn't
// rejoin are dropped, a generation starts and every parked JoinGroup is
// answered.
func (g *group) completeRebalanceJoinLocked() {
	if g.state != statePreparingRebalance {
		return
	}
	g.cancelJoinTimerLocked()
	g.initialDelay, g.newMemberAdded = false, false
	for _, m := range g.sortedMembers() {
		if m.joinCh == nil {
			g.removeLocked(m)
		}
	}
	g.generation++
	if len(g.members) == 0 {
		g.protocolName = ""
		g.transitionLocked(stateEmpty)
		g.appendMetadataLocked(nil)
		return
	}
	if g.members[g.leader] == nil {
		g.leader = g.sortedMembers()[0].id
	}
	g.protocolName = g.selectProtocol()
	g.transitionLocked(stateCompletingRebalance)
	all := g.joinMembersLocked()
	for _, m := range g.sortedMembers() {
		r := g.joinResponseLocked(m.id)
		if m.id == g.leader {
			r.Members = all
		}
		g.completeJoinLocked(m, r)
		m.isNew = false
		g.rescheduleHeartbeatLocked(m, time.Duration(m.sessionTimeout)*time.Millisecond)
		g.pendingSync[m.id] = true
	}
	gen := g.generation
	g.syncTimer = g.afterLocked(g.rebalanceTimeout(), &g.syncSeq, func() { g.expirePendingSyncLocked(gen) })
}

func (g *group) joinResponseLocked(memberID string) *protocol.JoinGroupResponse {
	pt, pn := g.protocolType, g.protocolName
	return &protocol.JoinGroupResponse{
		GenerationID: g.generation, ProtocolType: &pt, ProtocolName: &pn,
		Leader: g.leader, MemberID: memberID, Members: []protocol.JoinGroupResponseMember{},
	}
}

func (g *group) joinMembersLocked() []protocol.JoinGroupResponseMember {
	var out []protocol.JoinGroupResponseMember
	for _, m := range g.sortedMembers() {
		out = append(out, protocol.JoinGroupResponseMember{
			MemberID: m.id, GroupInstanceID: m.instanceID, Metadata: nonNil(m.metadataFor(g.protocolName)),
		})
	}
	return out
}

// expirePendingSyncLocked drops members that didn't SyncGroup within the
// rebalance timeout and rebalances without them.
func (g *group) expirePendingSyncLocked(gen int32) {
	if gen != g.generation || (g.state != stateCompletingRebalance && g.state != stateStable) || len(g.pendingSync) == 0 {
		return
	}
	for id := range g.pendingSync {
		if m := g.members[id]; m != nil {
			g.removeLocked(m)
		}
	}
	g.pendingSync = map[string]bool{}
	g.prepareRebalanceLocked("members did not sync in time")
}

func (g *group) resetAndPropagateAssignmentLocked(code int16) {
	for _, m := range g.members {
		m.assignment = nil
		g.completeSyncLocked(m, &protocol.SyncGroupResponse{ErrorCode: code})
	}
}

// valueLocked is the group's GroupMetadataValue; assignments, when non-nil,
// override the members' current assignments.
func (g *group) valueLocked(assignments map[string][]byte) GroupValue {
	v := GroupValue{ProtocolType: g.protocolType, Generation: g.generation, CurrentStateTimestamp: g.stateTimestamp}
	if g.protocolName != "" {
		pn := g.protocolName
		v.Protocol = &pn
	}
	if g.leader != "" && len(g.members) > 0 {
		l := g.leader
		v.Leader = &l
	}
	for _, m := range g.sortedMembers() {
		a := m.assignment
		if assignments != nil {
			a = assignments[m.id]
		}
		v.Members = append(v.Members, MemberValue{
			MemberID: m.id, GroupInstanceID: m.instanceID, ClientID: m.clientID, ClientHost: m.clientHost,
			RebalanceTimeout: m.rebalanceTimeout, SessionTimeout: m.sessionTimeout,
			Subscription: m.metadataFor(g.protocolName), Assignment: a,
		})
	}
	return v
}

func (g *group) appendMetadataLocked(assignments map[string][]byte) int16 {
	rec := records.Record{Key: EncodeGroupKey(g.id), Value: EncodeGroupValue(g.valueLocked(assignments))}
	return g.shard.appendLocked([]records.Record{rec})
}

// JoinGroup handles a JoinGroup request at version v. It blocks until the
// join phase completes, ctx ends, or an error is known.
func (c *Coordinator) JoinGroup(ctx context.Context, v int16, clientID, clientHost string, req *protocol.JoinGroupRequest) *protocol.JoinGroupResponse {
	fail := func(code int16) *protocol.JoinGroupResponse {
		return &protocol.JoinGroupResponse{ErrorCode: code, GenerationID: -1, MemberID: req.MemberID}
	}
	if req.GroupID == "" {
		return fail(errcode.InvalidGroupID)
	}
	session := time.Duration(req.SessionTimeoutMs) * time.Millisecond
	if session < c.cfg.MinSessionTimeout || session > c.cfg.MaxSessionTimeout {
		return fail(errcode.InvalidSessionTimeout)
	}
	s, code := c.lockedShard(string(req.GroupID))
	if code != 0 {
		return fail(code)
	}
	resp, ch := s.joinLocked(v, clientID, clientHost, req)
	s.mu.Unlock()
	if ch != nil {
		select {
		case resp = <-ch:
		case <-ctx.Done():
			return fail(errcode.CoordinatorNotAvailable)
		}
	}
	if code := s.awaitGroup(ctx, string(req.GroupID)); code != 0 {
		return fail(code)
	}
	return resp
}

func (s *shard) joinLocked(v int16, clientID, clientHost string, req *protocol.JoinGroupRequest) (*protocol.JoinGroupResponse, chan *protocol.JoinGroupResponse) {
	id := string(req.GroupID)
	g := s.groups[id]
	if g != nil && g.share != nil {
		return &protocol.JoinGroupResponse{ErrorCode: errcode.InconsistentGroupProtocol, GenerationID: -1, MemberID: req.MemberID}, nil
	}
	if g != nil && g.streams != nil {
		if len(g.streams.members) > 0 {
			return &protocol.JoinGroupResponse{ErrorCode: errcode.InconsistentGroupProtocol, GenerationID: -1, MemberID: req.MemberID}, nil
		}
		// An empty streams group becomes a classic group, keeping its
		// offsets (streams.go).
		recs := g.streamsTombstones()
		if code := s.appendLocked(recs); code != 0 {
			return &protocol.JoinGroupResponse{ErrorCode: code, GenerationID: -1, MemberID: req.MemberID}, nil
		}
		if err := s.applyLocked(id, recs); err != nil {
			return &protocol.JoinGroupResponse{ErrorCode: errcode.UnknownServerError, GenerationID: -1, MemberID: req.MemberID}, nil
		}
		g = s.groups[id]
	}
	if g != nil && g.consumer != nil {
		if len(g.consumer.members) > 0 {
			// Kafka would let classic members into the consumer group
			// (mixed groups); Spool doesn't support that.
			return &protocol.JoinGroupResponse{ErrorCode: errcode.InconsistentGroupProtocol, GenerationID: -1, MemberID: req.MemberID}, nil
		}
		// An empty consumer group becomes a classic group, keeping its
		// offsets (Kafka's maybeDeleteEmptyConsumerGroup).
		recs := g.consumerTombstonesLocked()
		if code := s.appendLocked(recs); code != 0 {
			return &protocol.JoinGroupResponse{ErrorCode: code, GenerationID: -1, MemberID: req.MemberID}, nil
		}
		g.shutdownConsumerLocked()
		if err := s.applyLocked(id, recs); err != nil {
			return &protocol.JoinGroupResponse{ErrorCode: errcode.UnknownServerError, GenerationID: -1, MemberID: req.MemberID}, nil
		}
		g = s.groups[id]
	}
	isNewGroup := g == nil
	unknown := req.MemberID == ""
	if g == nil {
		if !unknown {
			return &protocol.JoinGroupResponse{ErrorCode: errcode.UnknownMemberID, GenerationID: -1, MemberID: req.MemberID}, nil
		}
		g = newGroup(s, id, s.c.now().UnixMilli())
		s.groups[id] = g
	}
	jr := joinRequest{v: v, clientID: clientID, clientHost: clientHost, req: req}
	jr.protocols = make([]memberProtocol, len(req.Protocols))
	for i, p := range req.Protocols {
		jr.protocols[i] = memberProtocol{name: p.Name, metadata: append([]byte{}, p.Metadata...)}
	}
	jr.rebalanceTimeout = req.RebalanceTimeoutMs
	if v == 0 || jr.rebalanceTimeout <= 0 {
		jr.rebalanceTimeout = req.SessionTimeoutMs
	}
	var resp *protocol.JoinGroupResponse
	var ch chan *protocol.JoinGroupResponse
	switch {
	case !g.acceptJoiningMember(req.MemberID):
		if m := g.members[req.MemberID]; m != nil {
			g.removeLocked(m)
			g.maybeCompleteJoinLocked()
		}
		resp = &protocol.JoinGroupResponse{ErrorCode: errcode.GroupMaxSizeReached, GenerationID: -1}
	case unknown:
		resp, ch = g.joinNewMemberLocked(&jr)
	default:
		resp, ch = g.joinExistingMemberLocked(&jr)
	}
	if isNewGroup {
		rec := records.Record{Key: EncodeGroupKey(id), Value: EncodeGroupValue(GroupValue{CurrentStateTimestamp: g.stateTimestamp})}
		s.appendLocked([]records.Record{rec})
	}
	return resp, ch
}

type joinRequest struct {
	v                int16
	clientID         string
	clientHost       string
	req              *protocol.JoinGroupRequest
	protocols        []memberProtocol
	rebalanceTimeout int32
}

func (g *group) acceptJoiningMember(memberID string) bool {
	max := g.shard.c.cfg.MaxSize
	m := g.members[memberID]
	switch g.state {
	case stateEmpty, stateDead:
		return true
	case statePreparingRebalance:
		return (m != nil && m.joinCh != nil) || g.numAwaitingJoin() < max
	default:
		return m != nil || len(g.members) < max
	}
}

func (g *group) joinNewMemberLocked(jr *joinRequest) (*protocol.JoinGroupResponse, chan *protocol.JoinGroupResponse) {
	fail := func(code int16) *protocol.JoinGroupResponse {
		return &protocol.JoinGroupResponse{ErrorCode: code, GenerationID: -1, MemberID: jr.req.MemberID}
	}
	if g.state == stateDead {
		return fail(errcode.CoordinatorNotAvailable), nil
	}
	if !g.supportsProtocols(jr.req.ProtocolType, jr.protocols) {
		return fail(errcode.InconsistentGroupProtocol), nil
	}
	newID := jr.clientID + "-" + randomUUID()
	if inst := jr.req.GroupInstanceID; inst != nil {
		if oldID, ok := g.static[*inst]; ok {
			return g.replaceStaticMemberLocked(jr, oldID, newID)
		}
		return nil, g.addMemberAndRebalanceLocked(jr, newID)
	}
	if jr.v >= 4 {
		// KIP-394: hand out the id first; the member joins with it.
		g.addPendingLocked(newID, time.Duration(jr.req.SessionTimeoutMs)*time.Millisecond)
		return &protocol.JoinGroupResponse{ErrorCode: errcode.MemberIDRequired, GenerationID: -1, MemberID: newID}, nil
	}
	return nil, g.addMemberAndRebalanceLocked(jr, newID)
}

func (g *group) joinExistingMemberLocked(jr *joinRequest) (*protocol.JoinGroupResponse, chan *protocol.JoinGroupResponse) {
	memberID := jr.req.MemberID
	fail := func(code int16) *protocol.JoinGroupResponse {
		return &protocol.JoinGroupResponse{ErrorCode: code, GenerationID: -1, MemberID: memberID}
	}
	if g.state == stateDead {
		return fail(errcode.CoordinatorNotAvailable), nil
	}
	if !g.supportsProtocols(jr.req.ProtocolType, jr.protocols) {
		return fail(errcode.InconsistentGroupProtocol), nil
	}
	if _, ok := g.pending[memberID]; ok {
		return nil, g.addMemberAndRebalanceLocked(jr, memberID)
	}
	if code := g.validateExistingMember(memberID, jr.req.GroupInstanceID); code != 0 {
		return fail(code), nil
	}
	m := g.members[memberID]
	switch g.state {
	case statePreparingRebalance:
		ch := g.updateMemberLocked(m, jr)
		g.maybeCompleteJoinLocked()
		return nil, ch
	case stateCompletingRebalance:
		if m.matches(jr.protocols) {
			// The member lost the JoinGroup response: send it again.
			r := g.joinResponseLocked(m.id)
			if m.id == g.leader {
				r.Members = g.joinMembersLocked()
			}
			return r, nil
		}
		ch := g.updateMemberLocked(m, jr)
		g.prepareRebalanceLocked("member " + m.id + " changed its protocols")
		return nil, ch
	case stateStable:
		if m.id == g.leader || !m.matches(jr.protocols) {
			ch := g.updateMemberLocked(m, jr)
			g.prepareRebalanceLocked("leader or member with new protocols rejoined: " + m.id)
			return nil, ch
		}
		return g.joinResponseLocked(m.id), nil
	}
	return fail(errcode.UnknownMemberID), nil
}

// updateMemberLocked takes a rejoining member's new protocols and timeouts
// and parks its JoinGroup.
func (g *group) updateMemberLocked(m *member, jr *joinRequest) chan *protocol.JoinGroupResponse {
	m.protocols = jr.protocols
	m.rebalanceTimeout = jr.rebalanceTimeout
	m.sessionTimeout = jr.req.SessionTimeoutMs
	g.completeJoinLocked(m, &protocol.JoinGroupResponse{ErrorCode: errcode.RebalanceInProgress, GenerationID: -1, MemberID: m.id})
	m.joinCh = make(chan *protocol.JoinGroupResponse, 1)
	return m.joinCh
}

func (g *group) addMemberAndRebalanceLocked(jr *joinRequest, memberID string) chan *protocol.JoinGroupResponse {
	m := &member{
		id: memberID, instanceID: jr.req.GroupInstanceID, clientID: jr.clientID, clientHost: jr.clientHost,
		rebalanceTimeout: jr.rebalanceTimeout, sessionTimeout: jr.req.SessionTimeoutMs,
		protocolType: jr.req.ProtocolType, protocols: jr.protocols, isNew: true,
		joinCh: make(chan *protocol.JoinGroupResponse, 1),
	}
	if g.initialDelay {
		g.newMemberAdded = true
	}
	g.addMemberLocked(m)
	// New members can't heartbeat while parked: bound the join instead.
	g.rescheduleHeartbeatLocked(m, g.shard.c.cfg.NewMemberJoinTimeout)
	g.removePendingLocked(memberID)
	ch := m.joinCh // captured first: completing the join clears m.joinCh
	g.maybePrepareRebalanceOrCompleteJoinLocked("adding member " + memberID)
	return ch
}

// replaceStaticMemberLocked is KIP-345's restart of a static member: the
// new member id takes over the old member's place and assignment, and the
// old id is fenced.
func (g *group) replaceStaticMemberLocked(jr *joinRequest, oldID, newID string) (*protocol.JoinGroupResponse, chan *protocol.JoinGroupResponse) {
	old := g.members[oldID]
	fenced := &protocol.JoinGroupResponse{ErrorCode: errcode.FencedInstanceID, GenerationID: -1, MemberID: oldID}
	g.completeJoinLocked(old, fenced)
	g.completeSyncLocked(old, &protocol.SyncGroupResponse{ErrorCode: errcode.FencedInstanceID})
	old.hbSeq++
	if old.hbTimer != nil {
		old.hbTimer.Stop()
	}
	m := &member{
		id: newID, instanceID: old.instanceID, clientID: jr.clientID, clientHost: jr.clientHost,
		rebalanceTimeout: jr.rebalanceTimeout, sessionTimeout: jr.req.SessionTimeoutMs,
		protocolType: jr.req.ProtocolType, protocols: jr.protocols, assignment: old.assignment, seq: old.seq,
	}
	delete(g.members, oldID)
	g.members[newID] = m
	g.static[*m.instanceID] = newID
	if g.leader == oldID {
		g.leader = newID
	}
	if g.pendingSync[oldID] {
		delete(g.pendingSync, oldID)
		g.pendingSync[newID] = true
	}
	g.rescheduleHeartbeatLocked(m, time.Duration(m.sessionTimeout)*time.Millisecond)
	switch g.state {
	case stateStable:
		if g.selectProtocol() == g.protocolName {
			// Same protocol: no rebalance; the member keeps its assignment.
			if code := g.appendMetadataLocked(nil); code != 0 {
				return &protocol.JoinGroupResponse{ErrorCode: code, GenerationID: -1, MemberID: jr.req.MemberID}, nil
			}
			r := g.joinResponseLocked(newID)
			if newID == g.leader && jr.v >= 9 {
				// KIP-814: the leader gets the members but must not reassign.
				r.Members = g.joinMembersLocked()
				r.SkipAssignment = true
			}
			return r, nil
		}
	}
	ch := make(chan *protocol.JoinGroupResponse, 1)
	m.joinCh = ch
	switch g.state {
	case stateStable:
		g.prepareRebalanceLocked("static member " + *m.instanceID + " changed the selected protocol")
	case stateCompletingRebalance:
		g.prepareRebalanceLocked("static member " + *m.instanceID + " rejoined during CompletingRebalance")
	default:
		g.maybeCompleteJoinLocked()
	}
	return nil, ch
}

// SyncGroup handles a SyncGroup request; members other than the leader
// wait for the leader's assignment.
func (c *Coordinator) SyncGroup(ctx context.Context, v int16, req *protocol.SyncGroupRequest) *protocol.SyncGroupResponse {
	s, code := c.lockedShard(string(req.GroupID))
	if code != 0 {
		return &protocol.SyncGroupResponse{ErrorCode: code}
	}
	resp, ch := s.syncLocked(req)
	s.mu.Unlock()
	if ch != nil {
		select {
		case resp = <-ch:
		case <-ctx.Done():
			return &protocol.SyncGroupResponse{ErrorCode: errcode.CoordinatorNotAvailable}
		}
	}
	if code := s.awaitGroup(ctx, string(req.GroupID)); code != 0 {
		return &protocol.SyncGroupResponse{ErrorCode: code}
	}
	return resp
}

func (s *shard) syncLocked(req *protocol.SyncGroupRequest) (*protocol.SyncGroupResponse, chan *protocol.SyncGroupResponse) {
	fail := func(code int16) (*protocol.SyncGroupResponse, chan *protocol.SyncGroupResponse) {
		return &protocol.SyncGroupResponse{ErrorCode: code}, nil
	}
	g := s.groups[string(req.GroupID)]
	switch {
	case g == nil || g.consumer != nil || g.streams != nil || g.share != nil:
		return fail(errcode.UnknownMemberID)
	case g.state == stateDead:
		return fail(errcode.CoordinatorNotAvailable)
	}
	if code := g.validateExistingMember(req.MemberID, req.GroupInstanceID); code != 0 {
		return fail(code)
	}
	switch {
	case req.GenerationID != g.generation:
		return fail(errcode.IllegalGeneration)
	case req.ProtocolType != nil && *req.ProtocolType != g.protocolType,
		req.ProtocolName != nil && *req.ProtocolName != g.protocolName:
		return fail(errcode.InconsistentGroupProtocol)
	}
	m := g.members[req.MemberID]
	switch g.state {
	case stateEmpty:
		return fail(errcode.UnknownMemberID)
	case statePreparingRebalance:
		return fail(errcode.RebalanceInProgress)
	case stateStable:
		g.removePendingSyncLocked(m.id)
		g.rescheduleHeartbeatLocked(m, time.Duration(m.sessionTimeout)*time.Millisecond)
		return g.syncResponseLocked(m), nil
	}
	// CompletingRebalance
	g.completeSyncLocked(m, &protocol.SyncGroupResponse{ErrorCode: errcode.RebalanceInProgress})
	m.syncCh = make(chan *protocol.SyncGroupResponse, 1)
	ch := m.syncCh
	g.removePendingSyncLocked(m.id)
	if m.id != g.leader {
		return nil, ch
	}
	assignments := map[string][]byte{}
	for _, a := range req.Assignments {
		if g.members[a.MemberID] != nil {
			assignments[a.MemberID] = append([]byte{}, a.Assignment...)
		}
	}
	for id := range g.members {
		if assignments[id] == nil {
			assignments[id] = []byte{}
		}
	}
	if code := g.appendMetadataLocked(assignments); code != 0 {
		g.resetAndPropagateAssignmentLocked(code)
		g.prepareRebalanceLocked("cannot persist the assignment")
		return nil, ch
	}
	for _, mm := range g.members {
		mm.assignment = assignments[mm.id]
		g.completeSyncLocked(mm, g.syncResponseLocked(mm))
	}
	g.transitionLocked(stateStable)
	return nil, ch
}

func (g *group) removePendingSyncLocked(id string) {
	delete(g.pendingSync, id)
	if len(g.pendingSync) == 0 {
		g.cancelSyncTimerLocked()
	}
}

func (g *group) syncResponseLocked(m *member) *protocol.SyncGroupResponse {
	pt, pn := g.protocolType, g.protocolName
	return &protocol.SyncGroupResponse{ProtocolType: &pt, ProtocolName: &pn, Assignment: nonNil(m.assignment)}
}

// Heartbeat handles a Heartbeat request and returns its error code.
func (c *Coordinator) Heartbeat(ctx context.Context, req *protocol.HeartbeatRequest) (code int16) {
	s, code := c.lockedShard(string(req.GroupID))
	if code != 0 {
		return code
	}
	defer s.unlockAndAwait(ctx, string(req.GroupID), func(wc int16) { code = wc })
	g := s.groups[string(req.GroupID)]
	switch {
	case g == nil || g.consumer != nil || g.streams != nil || g.share != nil:
		return errcode.UnknownMemberID
	case g.state == stateDead:
		return errcode.CoordinatorNotAvailable
	}
	if code := g.validateExistingMember(req.MemberID, req.GroupInstanceID); code != 0 {
		return code
	}
	if req.GenerationID != g.generation {
		return errcode.IllegalGeneration
	}
	m := g.members[req.MemberID]
	switch g.state {
	case stateEmpty:
		return errcode.UnknownMemberID
	case statePreparingRebalance:
		g.rescheduleHeartbeatLocked(m, time.Duration(m.sessionTimeout)*time.Millisecond)
		return errcode.RebalanceInProgress
	}
	g.rescheduleHeartbeatLocked(m, time.Duration(m.sessionTimeout)*time.Millisecond)
	return 0
}

// LeaveGroup handles a LeaveGroup request at version v (v3+ batches
// members; earlier versions name one member and answer at the top level).
func (c *Coordinator) LeaveGroup(ctx context.Context, v int16, req *protocol.LeaveGroupRequest) (resp *protocol.LeaveGroupResponse) {
	idents := req.Members
	if v < 3 {
		idents = []protocol.LeaveGroupRequestMemberIdentity{{MemberID: req.MemberID}}
	}
	resp = &protocol.LeaveGroupResponse{}
	s, code := c.lockedShard(string(req.GroupID))
	if code != 0 {
		resp.ErrorCode = code
		return resp
	}
	defer s.unlockAndAwait(ctx, string(req.GroupID), func(wc int16) { resp = &protocol.LeaveGroupResponse{ErrorCode: wc} })
	g := s.groups[string(req.GroupID)]
	switch {
	case g == nil:
		resp.ErrorCode = errcode.UnknownMemberID
		return resp
	case g.consumer != nil || g.streams != nil || g.share != nil:
		// No classic members in consumer groups: each one is unknown.
		for _, id := range idents {
			resp.Members = append(resp.Members, protocol.LeaveGroupResponseMemberResponse{
				MemberID: id.MemberID, GroupInstanceID: id.GroupInstanceID, ErrorCode: errcode.UnknownMemberID,
			})
		}
		if v < 3 {
			resp.ErrorCode, resp.Members = errcode.UnknownMemberID, nil
		}
		return resp
	case g.state == stateDead:
		resp.ErrorCode = errcode.CoordinatorNotAvailable
		return resp
	}
	for _, id := range idents {
		mr := protocol.LeaveGroupResponseMemberResponse{MemberID: id.MemberID, GroupInstanceID: id.GroupInstanceID}
		mr.ErrorCode = g.leaveLocked(id.MemberID, id.GroupInstanceID)
		resp.Members = append(resp.Members, mr)
	}
	if v < 3 {
		resp.ErrorCode = resp.Members[0].ErrorCode
		resp.Members = nil
	}
	return resp
}

func (g *group) leaveLocked(memberID string, instanceID *string) int16 {
	if memberID == "" && instanceID != nil {
		existing, ok := g.static[*instanceID]
		if !ok {
			return errcode.UnknownMemberID
		}
		memberID = existing
	}
	if _, ok := g.pending[memberID]; ok && instanceID == nil {
		g.removePendingLocked(memberID)
		g.maybeCompleteJoinLocked()
		return 0
	}
	if code := g.validateExistingMember(memberID, instanceID); code != 0 {
		return code
	}
	g.removeMemberAndUpdateLocked(g.members[memberID], "the member left the group")
	return 0
}

// randomUUID is a version 4 UUID in Java's UUID.toString form.
func randomUUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
