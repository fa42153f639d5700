package group

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
)

// streamsProtocolType is the protocol type ListGroups shows for streams
// groups (Kafka's StreamsGroup.PROTOCOL_TYPE).
const streamsProtocolType = "streams"

// Member states of a streams group member (Kafka's streams MemberState).
const (
	streamsStable          int8 = 0
	streamsUnrevokedTasks  int8 = 1 // waiting for the member to give active tasks up
	streamsUnreleasedTasks int8 = 2 // waiting for other members to give active tasks up
)

// streamsGroup is the KIP-1071 state of a group; group.streams is non-nil
// exactly for streams groups. Guarded by the shard's mu.
//
// Every change is written to __consumer_offsets as Kafka's streams group
// records (streams_records.go) before the heartbeat is answered, so after
// a coordinator move or restart the group has the same members, epochs,
// topology and assignments; members keep heartbeating at their epochs.
//
// Invariant: an active task is in the assigned or pending-revocation
// active set of at most one member.
type streamsGroup struct {
	epoch           int32 // group epoch: bumped when members, the topology or its topics change
	assignmentEpoch int32 // epoch of target; < epoch while a new target is due
	topology        *streamsTopology
	configured      *configuredTopology
	metadataKey     string // partition counts configured was computed from
	members         map[string]*streamsMember
	target          map[string]streamsTasks
	// endpointEpoch is bumped when the tasks a member with a user endpoint
	// holds change, or such a member joins, sets its endpoint or leaves, so
	// members learn the new partitionsByUserEndpoint. It stays 0 in a group
	// without endpoints, as in Kafka 4.3.1 (no PartitionsByUserEndpoint).
	endpointEpoch int32
	// shutdownRequested: a member asked the whole application to shut down.
	shutdownRequested bool
	// lastAssignmentConfigs are the assignment configs as of the last
	// epoch bump (Kafka's LastAssignmentConfigs, persisted with the epoch):
	// the target is computed with them, and a heartbeat that finds the
	// broker's differ (or none kept: a group Spool wrote before it kept
	// them) bumps the epoch.
	lastAssignmentConfigs map[string]string
	// delayTimer runs while the group waits
	// group.streams.initial.rebalance.delay.ms after a member joined it
	// empty, so more members can join before tasks are assigned (Kafka's
	// initial rebalance delay): meanwhile no target is computed, the group
	// epoch is ahead of the assignment epoch (Assigning) and heartbeats
	// answer ASSIGNMENT_DELAYED. When it fires, the target of the group
	// epoch is computed. nil when none runs; delaySeq invalidates older
	// timers. Not persisted: after a load the next heartbeat computes the
	// target, as in Kafka, whose timer does not survive a failover either.
	delayTimer *time.Timer
	delaySeq   uint64
	// assignmentTimestamp is when the target was computed (ms), written
	// with the target's epoch.
	assignmentTimestamp int64
	// metadataHash is the hash the log holds (streamsMetadataHash of the
	// metadataKey it was written with); compared once on load.
	metadataHash int64
	// persisted is what the log holds for the group (persisted.go).
	persisted persistedRecords
}

// streamsMember is one member of a streams group.
type streamsMember struct {
	id                 string
	rackID             *string
	clientID           string
	clientHost         string
	rebalanceTimeoutMs int32
	topologyEpoch      int32
	processID          string
	userEndpoint       *protocol.StreamsGroupHeartbeatRequestEndpoint
	clientTags         [][2]string
	taskOffsets        []protocol.StreamsGroupHeartbeatRequestTaskOffset
	taskEndOffsets     []protocol.StreamsGroupHeartbeatRequestTaskOffset

	epoch, previousEpoch int32
	state                int8
	assigned             streamsTasks
	pendingRevocation    taskSet // active tasks the member must give up
	// activeEpochs is the target epoch at which the member got each of
	// its active tasks (assigned or pending revocation): an offset commit
	// at an older member epoch passes for the tasks held since then.
	activeEpochs map[taskID]int32

	sessionSeq   uint64
	sessionTimer *time.Timer
	revokeSeq    uint64
	revokeTimer  *time.Timer
}

func newStreamsGroup() *streamsGroup {
	return &streamsGroup{members: map[string]*streamsMember{}, target: map[string]streamsTasks{}, persisted: persistedRecords{}}
}

// state is the group state as Kafka names it (StreamsGroupState).
func (sg *streamsGroup) state() string {
	switch {
	case len(sg.members) == 0:
		return "Empty"
	case !sg.configured.ready():
		return "NotReady"
	case sg.epoch > sg.assignmentEpoch:
		return "Assigning"
	}
	for _, m := range sg.members {
		if m.epoch != sg.assignmentEpoch || m.state != streamsStable {
			return "Reconciling"
		}
	}
	return "Stable"
}

func (sg *streamsGroup) sortedMembers() []*streamsMember { return membersByID(sg.members) }

// subscribesTo reports whether the topology reads topic (OffsetDelete's
// GROUP_SUBSCRIBED_TO_TOPIC).
func (sg *streamsGroup) subscribesTo(topic string) bool {
	if sg.configured != nil {
		for _, ts := range sg.configured.sources {
			if slices.Contains(ts, topic) {
				return true
			}
		}
	}
	return sg.topology != nil && slices.Contains(sg.topology.topicNames(), topic)
}

func (m *streamsMember) stopTimers() {
	m.sessionSeq++
	m.revokeSeq++
	if m.sessionTimer != nil {
		m.sessionTimer.Stop()
	}
	if m.revokeTimer != nil {
		m.revokeTimer.Stop()
	}
}

func streamsFail(code int16, msg string) *protocol.StreamsGroupHeartbeatResponse {
	if msg == "" {
		msg = errcode.Message(code)
	}
	return &protocol.StreamsGroupHeartbeatResponse{ErrorCode: code, ErrorMessage: &msg}
}

// validateStreamsHeartbeat is Kafka's check of a StreamsGroupHeartbeat
// request before it reaches the group.
func validateStreamsHeartbeat(req *protocol.StreamsGroupHeartbeatRequest) *protocol.StreamsGroupHeartbeatResponse {
	invalid := func(msg string) *protocol.StreamsGroupHeartbeatResponse {
		return streamsFail(errcode.InvalidRequest, msg)
	}
	switch {
	case req.GroupID == "":
		return invalid("GroupId can't be empty.")
	case req.MemberID == "":
		return invalid("MemberId can't be empty.")
	case req.InstanceID != nil:
		return invalid("Static members are not supported in streams groups.")
	case req.RackID != nil && *req.RackID == "":
		return invalid("RackId can't be empty.")
	}
	nullTasks := 0
	for _, ts := range [][]protocol.StreamsGroupHeartbeatRequestTaskIDs{req.ActiveTasks, req.StandbyTasks, req.WarmupTasks} {
		if ts == nil {
			nullTasks++
		}
	}
	if nullTasks != 0 && nullTasks != 3 {
		return invalid("If one task-type is non-null, all must be non-null.")
	}
	switch e := req.MemberEpoch; {
	case e == 0:
		if req.RebalanceTimeoutMs == -1 {
			return invalid("RebalanceTimeoutMs must be provided in first request.")
		}
		if nullTasks != 0 || len(req.ActiveTasks)+len(req.StandbyTasks)+len(req.WarmupTasks) > 0 {
			return invalid("ActiveTasks, StandbyTasks and WarmupTasks must be empty when (re-)joining.")
		}
		if req.Topology == nil {
			return invalid("Topology must be non-null when (re-)joining.")
		}
		if req.ProcessID == nil || *req.ProcessID == "" {
			return invalid("ProcessId can't be empty.")
		}
	case e > 0 || e == leaveEpoch:
		if req.Topology != nil && e != leaveEpoch {
			return invalid("Topology can only be provided when (re-)joining.")
		}
	case e == staticLeaveEpoch:
		return invalid("Static members are not supported in streams groups.")
	default:
		return invalid(fmt.Sprintf("MemberEpoch is %d, but must be greater than or equal to -2.", e))
	}
	if req.ProcessID != nil && *req.ProcessID == "" {
		return invalid("ProcessId can't be empty.")
	}
	return nil
}

// StreamsGroupHeartbeat handles a KIP-1071 StreamsGroupHeartbeat: joins
// (epoch 0, with the topology), heartbeats with task reconciliation, and
// leaves (-1).
func (c *Coordinator) StreamsGroupHeartbeat(ctx context.Context, clientID, clientHost string, req *protocol.StreamsGroupHeartbeatRequest) *protocol.StreamsGroupHeartbeatResponse {
	if r := validateStreamsHeartbeat(req); r != nil {
		return r
	}
	s, code := c.lockedShard(string(req.GroupID))
	if code != 0 {
		return streamsFail(code, "")
	}
	var create []StreamsInternalTopic
	resp := func() (resp *protocol.StreamsGroupHeartbeatResponse) {
		// Answer once the heartbeat's records are committed.
		defer s.unlockAndAwait(ctx, string(req.GroupID), func(wc int16) { resp = streamsFail(wc, "") })
		if req.MemberEpoch == leaveEpoch {
			return s.streamsLeaveLocked(req)
		}
		r, missing := s.streamsHeartbeatLocked(clientID, clientHost, req)
		create = missing
		return r
	}()
	if len(create) > 0 && c.cfg.CreateStreamsTopics != nil {
		// Like Kafka, the coordinator answers MISSING_INTERNAL_TOPICS and
		// the broker creates them in the background; a later heartbeat
		// sees them and the group gets its tasks. The goroutine belongs to
		// the coordinator: Close cancels and waits for it.
		c.mu.Lock()
		if !c.closed {
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				cctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
				defer cancel()
				c.cfg.CreateStreamsTopics(cctx, string(req.GroupID), create)
			}()
		}
		c.mu.Unlock()
	}
	return resp
}

// streamsNumStandbyReplicas is the assignment config Kafka 4.3.1 keeps in
// LastAssignmentConfigs.
const streamsNumStandbyReplicas = "num.standby.replicas"

// streamsAssignmentConfigs are the configs the task assignor runs with for
// groupID (Kafka's streamsGroupAssignmentConfigs): the group's
// streams.num.standby.replicas when set, else the broker's
// group.streams.num.standby.replicas.
func (s *shard) streamsAssignmentConfigs(groupID string) map[string]string {
	standby := s.c.cfg.StreamsNumStandbyReplicas
	if v, ok := s.c.groupInt(groupID, "streams.num.standby.replicas"); ok && v >= 0 {
		standby = v
	}
	return map[string]string{streamsNumStandbyReplicas: strconv.Itoa(standby)}
}

// streamsInitialDelay is the group's streams.initial.rebalance.delay.ms
// when set, else the broker's group.streams.initial.rebalance.delay.ms.
func (c *Coordinator) streamsInitialDelay(groupID string) time.Duration {
	if v, ok := c.groupInt(groupID, "streams.initial.rebalance.delay.ms"); ok && v >= 0 {
		return time.Duration(v) * time.Millisecond
	}
	return c.cfg.StreamsInitialDelay
}

// streamsSessionTimeout is the group's streams.session.timeout.ms when
// set, else the broker's group.streams.session.timeout.ms.
func (c *Coordinator) streamsSessionTimeout(groupID string) time.Duration {
	return c.groupTimeout(groupID, "streams.session.timeout.ms", c.cfg.StreamsSessionTimeout)
}

// streamsGroupLocked returns the streams group for id, creating it when
// create is set. An empty classic or consumer group (offsets only) becomes
// a streams group, keeping its offsets.
func (s *shard) streamsGroupLocked(id string, create bool) (*group, int16, string) {
	g := s.groups[id]
	switch {
	case g == nil || g.state == stateDead:
		if !create {
			return nil, errcode.GroupIDNotFound, fmt.Sprintf("Streams group %s not found.", id)
		}
		g = newGroup(s, id, s.c.now().UnixMilli())
		g.streams = newStreamsGroup()
		s.groups[id] = g
		return g, 0, ""
	case g.streams != nil:
		return g, 0, ""
	case create && g.isEmpty() && g.consumer != nil:
		recs := g.consumerTombstonesLocked()
		if code := s.appendLocked(recs); code != 0 {
			return nil, code, ""
		}
		g.shutdownConsumerLocked()
		g.consumer = nil
		g.streams = newStreamsGroup()
		return g, 0, ""
	case create && g.isEmpty() && g.consumer == nil && g.share == nil:
		if g.protocolType != "" {
			if code := s.appendLocked([]records.Record{{Key: EncodeGroupKey(id)}}); code != 0 {
				return nil, code, ""
			}
		}
		g.protocolType, g.protocolName = "", ""
		g.streams = newStreamsGroup()
		s.c.logger.Info("converted the empty classic group to a streams group", zap.String("group", id))
		return g, 0, ""
	}
	return nil, errcode.GroupIDNotFound, fmt.Sprintf("Group %s is not a streams group.", id)
}

func taskSetOf(ts []protocol.StreamsGroupHeartbeatRequestTaskIDs) taskSet {
	out := taskSet{}
	for _, t := range ts {
		for _, p := range t.Partitions {
			out.add(taskID{t.SubtopologyID, p})
		}
	}
	return out
}

// ownedTasks are the tasks the request says the member owns, nil when it
// did not say (unchanged since its last heartbeat).
func ownedTasks(req *protocol.StreamsGroupHeartbeatRequest) *streamsTasks {
	if req.ActiveTasks == nil {
		return nil
	}
	return &streamsTasks{active: taskSetOf(req.ActiveTasks), standby: taskSetOf(req.StandbyTasks), warmup: taskSetOf(req.WarmupTasks)}
}

func isSubset(a, b taskSet) bool {
	for s, ps := range a {
		for _, p := range ps {
			if !b.has(taskID{s, p}) {
				return false
			}
		}
	}
	return true
}

func intersects(a, b taskSet) bool {
	for s, ps := range a {
		for _, p := range ps {
			if b.has(taskID{s, p}) {
				return true
			}
		}
	}
	return false
}

// streamsEpochInvalid is Kafka's throwIfStreamsGroupMemberEpochIsInvalid.
func streamsEpochInvalid(m *streamsMember, received int32, owned *streamsTasks) (int16, string) {
	if received > m.epoch {
		return errcode.FencedMemberEpoch, fmt.Sprintf("The streams group member has a greater member epoch (%d) than the one known by the group coordinator (%d). The member must abandon all its partitions and rejoin.", received, m.epoch)
	}
	if received < m.epoch {
		if received != m.previousEpoch || owned == nil || !isSubset(owned.active, m.assigned.active) ||
			!isSubset(owned.standby, m.assigned.standby) || !isSubset(owned.warmup, m.assigned.warmup) {
			return errcode.FencedMemberEpoch, fmt.Sprintf("The streams group member has a smaller member epoch (%d) than the one known by the group coordinator (%d). The member must abandon all its partitions and rejoin.", received, m.epoch)
		}
	}
	return 0, ""
}

func clientTagsOf(kvs []protocol.StreamsGroupHeartbeatRequestKeyValue) [][2]string {
	out := [][2]string{}
	for _, kv := range kvs {
		out = append(out, [2]string{kv.Key, kv.Value})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

func sameEndpoint(a, b *protocol.StreamsGroupHeartbeatRequestEndpoint) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Host == b.Host && a.Port == b.Port
}

// streamsHeartbeatLocked runs a joining or ongoing member's heartbeat:
// initialize the topology (first member), find or create the member and
// check its epoch, apply the request, configure the topology against the
// cluster's topics, compute a new target past the group epoch, move the
// member towards its target, and answer. It returns the internal topics
// to create.
func (s *shard) streamsHeartbeatLocked(clientID, clientHost string, req *protocol.StreamsGroupHeartbeatRequest) (*protocol.StreamsGroupHeartbeatResponse, []StreamsInternalTopic) {
	c := s.c
	groupID := string(req.GroupID)
	joining := req.MemberEpoch == 0
	g, code, msg := s.streamsGroupLocked(groupID, joining)
	if code != 0 {
		return streamsFail(code, msg), nil
	}
	sg := g.streams
	m := sg.members[req.MemberID]
	if m == nil && !joining {
		return streamsFail(errcode.UnknownMemberID, fmt.Sprintf("Member %s is not a member of group %s.", req.MemberID, groupID)), nil
	}
	if m == nil && len(sg.members) >= c.cfg.StreamsMaxSize {
		return streamsFail(errcode.GroupMaxSizeReached, fmt.Sprintf("The streams group has reached its maximum capacity of %d members.", c.cfg.StreamsMaxSize)), nil
	}
	owned := ownedTasks(req)
	if m != nil && !joining {
		if code, msg := streamsEpochInvalid(m, req.MemberEpoch, owned); code != 0 {
			return streamsFail(code, msg), nil
		}
	}
	bump := false
	wasEmpty := len(sg.members) == 0
	assignedBefore := sg.assignmentEpoch
	// The first member initializes the topology; a member joining an
	// empty group brings it anew.
	if joining && (sg.topology == nil || len(sg.members) == 0) {
		t, err := newStreamsTopology(req.Topology)
		if err != nil {
			return streamsFail(errcode.StreamsInvalidTopology, err.Error()), nil
		}
		sg.topology = t
		sg.configured, sg.metadataKey = nil, ""
		bump = true
		c.logger.Info("streams group topology initialized", zap.String("group", groupID), zap.String("member", req.MemberID),
			zap.Int32("topology_epoch", t.epoch), zap.Int("subtopologies", len(t.subtopologies)))
	}
	if m == nil || joining {
		// A (re)join starts the member over: it holds nothing until
		// reconciled again.
		if m != nil {
			m.stopTimers()
		}
		nm := &streamsMember{id: req.MemberID, rebalanceTimeoutMs: -1, assigned: emptyStreamsTasks(), pendingRevocation: taskSet{},
			activeEpochs: map[taskID]int32{}, clientTags: [][2]string{}}
		if m != nil {
			nm.rackID, nm.processID, nm.userEndpoint, nm.clientTags = m.rackID, m.processID, m.userEndpoint, m.clientTags
		}
		if m == nil {
			bump = true
		}
		m = nm
		sg.members[m.id] = m
		if m.userEndpoint != nil {
			sg.endpointEpoch++
		}
	}
	// Metadata changes that matter to the assignment bump the group epoch.
	if req.RackID != nil && !sameString(req.RackID, m.rackID) {
		m.rackID, bump = req.RackID, true
	}
	if req.ProcessID != nil && *req.ProcessID != m.processID {
		m.processID, bump = *req.ProcessID, true
	}
	if req.ClientTags != nil {
		if tags := clientTagsOf(req.ClientTags); !slices.Equal(tags, m.clientTags) {
			m.clientTags, bump = tags, true
		}
	}
	if req.UserEndpoint != nil && !sameEndpoint(req.UserEndpoint, m.userEndpoint) {
		ep := *req.UserEndpoint
		m.userEndpoint = &ep
		sg.endpointEpoch++
	}
	if req.Topology != nil {
		m.topologyEpoch = req.Topology.Epoch
	}
	if req.RebalanceTimeoutMs != -1 {
		m.rebalanceTimeoutMs = req.RebalanceTimeoutMs
	}
	if req.TaskOffsets != nil {
		m.taskOffsets = slices.Clone(req.TaskOffsets)
	}
	if req.TaskEndOffsets != nil {
		m.taskEndOffsets = slices.Clone(req.TaskEndOffsets)
	}
	m.clientID, m.clientHost = clientID, clientHost
	if req.ShutdownApplication && !sg.shutdownRequested {
		sg.shutdownRequested = true
		c.logger.Info("streams group member requested the shutdown of the application", zap.String("group", groupID), zap.String("member", m.id))
	}

	// The topology against the cluster's topics.
	parts := map[string]int32{}
	for _, t := range c.topics() {
		parts[t.Name] = t.Partitions
	}
	if key := streamsMetadataKey(sg.topology, parts); sg.configured == nil || key != sg.metadataKey {
		if sg.configured != nil {
			bump = true
		}
		sg.configured, sg.metadataKey = configureStreamsTopology(sg.topology, parts), key
	}
	// Assignment configs that differ from those of the last epoch bump
	// (persisted: the broker's group.streams.num.standby.replicas changed
	// across a restart, or the group was written without them) trigger a
	// rebalance, as in Kafka.
	cfgs := s.streamsAssignmentConfigs(groupID)
	if !bump && !maps.Equal(cfgs, sg.lastAssignmentConfigs) {
		bump = true
		c.logger.Info("streams group assignment configs changed; triggering a rebalance", zap.String("group", groupID), zap.Any("configs", cfgs))
	}
	if bump {
		sg.epoch++
		sg.lastAssignmentConfigs = cfgs
	}
	// A member joining an empty group starts the initial rebalance delay
	// (Kafka schedules it when it bumps the epoch of an empty group). A
	// group that never had a target first gets an empty one at the
	// joining epoch and the group epoch moves on, so its first members
	// get a real member epoch meanwhile: Kafka 4.3.1 answers a new group's
	// first member epoch 1 with group epoch 2 and assignment epoch 1.
	if bump && wasEmpty && c.streamsInitialDelay(groupID) > 0 && sg.delayTimer == nil {
		if sg.assignmentEpoch == 0 {
			sg.target = map[string]streamsTasks{}
			sg.assignmentEpoch = sg.epoch
			sg.assignmentTimestamp = c.now().UnixMilli()
			sg.epoch++
		}
		s.scheduleStreamsInitialDelayLocked(g)
	}
	delayed := sg.delayTimer != nil
	if sg.epoch > sg.assignmentEpoch && !delayed {
		s.updateStreamsTargetLocked(sg)
	}

	before := m.assigned.clone()
	beforeState, beforeEpoch := m.state, m.epoch
	reconcileStreams(sg, m, owned)
	if !m.assigned.equal(before) && m.userEndpoint != nil {
		sg.endpointEpoch++
	}
	// Only a join, an epoch bump or a new target touch other members'
	// records; otherwise m's and the group's are all that can differ.
	only := m
	if joining || bump || sg.assignmentEpoch != assignedBefore {
		only = nil
	}
	if code := s.persistStreamsLocked(g, only); code != 0 {
		return streamsFail(code, ""), nil
	}
	s.scheduleStreamsSessionLocked(g, m)
	s.scheduleStreamsRevocationLocked(g, m, beforeState, beforeEpoch)
	if joining || bump {
		c.logger.Info("streams group member heartbeat changed the group", zap.String("group", groupID), zap.String("member", m.id),
			zap.Int32("group_epoch", sg.epoch), zap.Int32("member_epoch", m.epoch), zap.Bool("joined", joining))
	}

	resp := &protocol.StreamsGroupHeartbeatResponse{
		MemberID: m.id, MemberEpoch: m.epoch,
		HeartbeatIntervalMs:      int32(c.groupTimeout(groupID, "streams.heartbeat.interval.ms", c.cfg.StreamsHeartbeatInterval).Milliseconds()),
		EndpointInformationEpoch: sg.endpointEpoch,
		// AcceptableRecoveryLag and TaskOffsetIntervalMs stay 0: Kafka
		// 4.3.1 does not set them either (no warm-up tasks yet).
	}
	var statuses []protocol.StreamsGroupHeartbeatResponseStatus
	if sg.shutdownRequested {
		statuses = append(statuses, protocol.StreamsGroupHeartbeatResponseStatus{StatusCode: StreamsStatusShutdownApplication,
			StatusDetail: fmt.Sprintf("Streams group member %s encountered a fatal error and requested a shutdown for the entire application.", m.id)})
	}
	if m.topologyEpoch != sg.topology.epoch {
		statuses = append(statuses, protocol.StreamsGroupHeartbeatResponseStatus{StatusCode: StreamsStatusStaleTopology,
			StatusDetail: fmt.Sprintf("The member's topology epoch %d is behind the group's topology epoch %d.", m.topologyEpoch, sg.topology.epoch)})
	}
	if delayed {
		statuses = append(statuses, protocol.StreamsGroupHeartbeatResponseStatus{StatusCode: StreamsStatusAssignmentDelayed,
			StatusDetail: "Assignment delayed due to the configured initial rebalance delay."})
	}
	var missing []StreamsInternalTopic
	if ct := sg.configured; ct.hasStatus {
		statuses = append(statuses, protocol.StreamsGroupHeartbeatResponseStatus{StatusCode: ct.statusCode, StatusDetail: ct.statusDetail})
		missing = ct.missing
	}
	if statuses != nil {
		resp.Status = statuses
	}
	if joining || !m.assigned.equal(before) {
		resp.ActiveTasks = responseTasks(m.assigned.active)
		resp.StandbyTasks = responseTasks(m.assigned.standby)
		resp.WarmupTasks = responseTasks(m.assigned.warmup)
	}
	if req.EndpointInformationEpoch < sg.endpointEpoch {
		resp.PartitionsByUserEndpoint = sg.partitionsByUserEndpoint()
	}
	return resp, missing
}

func responseTasks(t taskSet) []protocol.StreamsGroupHeartbeatResponseTaskIDs {
	out := []protocol.StreamsGroupHeartbeatResponseTaskIDs{}
	subs := make([]string, 0, len(t))
	for s := range t {
		subs = append(subs, s)
	}
	sort.Strings(subs)
	for _, s := range subs {
		if len(t[s]) > 0 {
			out = append(out, protocol.StreamsGroupHeartbeatResponseTaskIDs{SubtopologyID: s, Partitions: slices.Clone(t[s])})
		}
	}
	return out
}

// partitionsByUserEndpoint is Kafka's EndpointToPartitionsManager: for
// each member with a user endpoint, the input partitions of its active
// and standby tasks.
func (sg *streamsGroup) partitionsByUserEndpoint() []protocol.StreamsGroupHeartbeatResponseEndpointToPartitions {
	out := []protocol.StreamsGroupHeartbeatResponseEndpointToPartitions{}
	if sg.configured == nil || sg.configured.sources == nil {
		return out
	}
	parts := func(ts taskSet) []protocol.StreamsGroupHeartbeatResponseTopicPartition {
		byTopic := map[string][]int32{}
		ts.each(func(t taskID) {
			for _, topic := range sg.configured.sources[t.subtopology] {
				byTopic[topic] = append(byTopic[topic], t.partition)
			}
		})
		names := make([]string, 0, len(byTopic))
		for n := range byTopic {
			names = append(names, n)
		}
		sort.Strings(names)
		res := []protocol.StreamsGroupHeartbeatResponseTopicPartition{}
		for _, n := range names {
			ps := byTopic[n]
			slices.Sort(ps)
			res = append(res, protocol.StreamsGroupHeartbeatResponseTopicPartition{Topic: protocol.TopicName(n), Partitions: slices.Compact(ps)})
		}
		return res
	}
	for _, m := range sg.sortedMembers() {
		if m.userEndpoint == nil {
			continue
		}
		out = append(out, protocol.StreamsGroupHeartbeatResponseEndpointToPartitions{
			UserEndpoint:      protocol.StreamsGroupHeartbeatResponseEndpoint{Host: m.userEndpoint.Host, Port: m.userEndpoint.Port},
			ActivePartitions:  parts(m.assigned.active),
			StandbyPartitions: parts(m.assigned.standby),
		})
	}
	return out
}

// updateStreamsTargetLocked computes the target assignment of the group
// epoch with the sticky task assignor; with a topology that is not ready
// every member's target is empty.
func (s *shard) updateStreamsTargetLocked(sg *streamsGroup) {
	tasks := map[string]int32{}
	if sg.configured.ready() {
		tasks = sg.configured.tasks
	}
	var in []stickyMember
	for _, m := range sg.sortedMembers() {
		in = append(in, stickyMember{id: m.id, processID: m.processID, previous: sg.target[m.id]})
	}
	standby := s.c.cfg.StreamsNumStandbyReplicas
	if n, err := strconv.Atoi(sg.lastAssignmentConfigs[streamsNumStandbyReplicas]); err == nil && n >= 0 {
		standby = n
	}
	sg.target = assignStreamsTasks(in, tasks, standby)
	sg.assignmentEpoch = sg.epoch
	sg.assignmentTimestamp = s.c.now().UnixMilli()
}

// reconcileStreams is Kafka's streams CurrentAssignmentBuilder: it moves m
// one step towards its target. Active tasks to give up go first (the
// member keeps its epoch until it stops reporting them); active tasks
// another member still holds are held back (UNRELEASED_TASKS) until
// released. Standby and warm-up tasks follow the target directly.
func reconcileStreams(sg *streamsGroup, m *streamsMember, owned *streamsTasks) {
	target, ok := sg.target[m.id]
	if !ok {
		target = emptyStreamsTasks()
	}
	targetEpoch := sg.assignmentEpoch
	switch m.state {
	case streamsStable:
		if m.epoch == targetEpoch {
			return
		}
	case streamsUnrevokedTasks:
		if owned == nil || intersects(owned.active, m.pendingRevocation) {
			return
		}
		for _, t := range taskIDs(m.pendingRevocation) {
			delete(m.activeEpochs, t)
		}
		m.pendingRevocation = taskSet{}
	}
	heldByOthers := func(t taskID) bool {
		for _, o := range sg.members {
			if o != m && (o.assigned.active.has(t) || o.pendingRevocation.has(t)) {
				return true
			}
		}
		return false
	}
	keep, revoke := taskSet{}, taskSet{}
	m.assigned.active.each(func(t taskID) {
		if target.active.has(t) {
			keep.add(t)
		} else {
			revoke.add(t)
		}
	})
	if revoke.size() > 0 && (owned == nil || intersects(owned.active, revoke)) {
		m.assigned.active = keep
		m.pendingRevocation = revoke
		m.state = streamsUnrevokedTasks
		// Standby and warm-up tasks wait with the epoch too.
		return
	}
	for _, t := range taskIDs(revoke) {
		delete(m.activeEpochs, t)
	}
	m.previousEpoch, m.epoch = m.epoch, targetEpoch
	unreleased := false
	target.active.each(func(t taskID) {
		if keep.has(t) {
			return
		}
		if heldByOthers(t) {
			unreleased = true
			return
		}
		keep.add(t)
		m.activeEpochs[t] = targetEpoch
	})
	m.assigned = streamsTasks{active: keep, standby: target.standby.clone(), warmup: target.warmup.clone()}
	m.pendingRevocation = taskSet{}
	m.state = streamsStable
	if unreleased {
		m.state = streamsUnreleasedTasks
	}
}

func taskIDs(t taskSet) []taskID {
	var out []taskID
	t.each(func(id taskID) { out = append(out, id) })
	return out
}

// scheduleStreamsSessionLocked (re)starts m's session timer: a member that
// stops heartbeating for group.streams.session.timeout.ms is removed.
func (s *shard) scheduleStreamsSessionLocked(g *group, m *streamsMember) {
	m.sessionSeq++
	seq := m.sessionSeq
	if m.sessionTimer != nil {
		m.sessionTimer.Stop()
	}
	m.sessionTimer = time.AfterFunc(s.c.streamsSessionTimeout(g.id), func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.unloaded || m.sessionSeq != seq || s.groups[g.id] != g || g.streams == nil || g.streams.members[m.id] != m {
			return
		}
		s.c.logger.Info("streams group member session expired", zap.String("group", g.id), zap.String("member", m.id))
		s.removeStreamsMemberLocked(g, m)
	})
}

// scheduleStreamsRevocationLocked starts the rebalance timeout when m
// starts revoking tasks and stops it once it is done: a member that does
// not revoke in its rebalance timeout is removed.
func (s *shard) scheduleStreamsRevocationLocked(g *group, m *streamsMember, beforeState int8, beforeEpoch int32) {
	if m.state != streamsUnrevokedTasks {
		m.revokeSeq++
		if m.revokeTimer != nil {
			m.revokeTimer.Stop()
			m.revokeTimer = nil
		}
		return
	}
	if beforeState == streamsUnrevokedTasks && beforeEpoch == m.epoch && m.revokeTimer != nil {
		return
	}
	m.revokeSeq++
	seq, epoch := m.revokeSeq, m.epoch
	timeout := time.Duration(m.rebalanceTimeoutMs) * time.Millisecond
	if timeout <= 0 {
		timeout = s.c.streamsSessionTimeout(g.id)
	}
	if m.revokeTimer != nil {
		m.revokeTimer.Stop()
	}
	m.revokeTimer = time.AfterFunc(timeout, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.unloaded || m.revokeSeq != seq || s.groups[g.id] != g || g.streams == nil || g.streams.members[m.id] != m {
			return
		}
		if m.state == streamsUnrevokedTasks && m.epoch == epoch {
			s.c.logger.Info("streams group member did not revoke tasks in time", zap.String("group", g.id), zap.String("member", m.id))
			s.removeStreamsMemberLocked(g, m)
		}
	})
}

// removeStreamsMemberLocked removes m and bumps the group epoch so the
// others get its tasks (Kafka's streamsGroupFenceMember). The target is
// recomputed at the next heartbeat of any member.
func (s *shard) removeStreamsMemberLocked(g *group, m *streamsMember) {
	sg := g.streams
	m.stopTimers()
	delete(sg.members, m.id)
	delete(sg.target, m.id)
	sg.epoch++
	if m.userEndpoint != nil {
		sg.endpointEpoch++
	}
	// A failed write means this broker lost the partition: the group goes
	// with it.
	s.persistStreamsLocked(g, nil)
	if len(sg.members) == 0 {
		// Kafka clears the shutdown request with the last member.
		sg.shutdownRequested = false
	}
}

func (s *shard) streamsLeaveLocked(req *protocol.StreamsGroupHeartbeatRequest) *protocol.StreamsGroupHeartbeatResponse {
	groupID := string(req.GroupID)
	g, code, msg := s.streamsGroupLocked(groupID, false)
	if code != 0 {
		return streamsFail(code, msg)
	}
	m := g.streams.members[req.MemberID]
	if m == nil {
		return streamsFail(errcode.UnknownMemberID, fmt.Sprintf("Member %s is not a member of group %s.", req.MemberID, groupID))
	}
	s.removeStreamsMemberLocked(g, m)
	s.c.logger.Info("streams group member left", zap.String("group", groupID), zap.String("member", m.id))
	return &protocol.StreamsGroupHeartbeatResponse{MemberID: req.MemberID, MemberEpoch: leaveEpoch}
}

// scheduleStreamsInitialDelayLocked starts g's initial rebalance delay;
// when it is over the target of the group epoch is computed and written,
// unless the group emptied or has no configured topology meanwhile (as
// Kafka's computeDelayedTargetAssignment).
func (s *shard) scheduleStreamsInitialDelayLocked(g *group) {
	sg := g.streams
	sg.delaySeq++
	seq := sg.delaySeq
	sg.delayTimer = time.AfterFunc(s.c.streamsInitialDelay(g.id), func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.unloaded || s.groups[g.id] != g || g.streams != sg || sg.delaySeq != seq {
			return
		}
		sg.delayTimer = nil
		if len(sg.members) == 0 || sg.configured == nil || sg.epoch <= sg.assignmentEpoch {
			return
		}
		s.updateStreamsTargetLocked(sg)
		if code := s.persistStreamsLocked(g, nil); code != 0 {
			s.c.logger.Warn("cannot write a streams group's delayed target assignment", zap.String("group", g.id), zap.Int16("error_code", code))
			return
		}
		s.c.logger.Info("streams group initial rebalance delay is over", zap.String("group", g.id), zap.Int32("group_epoch", sg.epoch))
	})
}

// shutdownStreamsLocked stops the timers of a streams group.
func (g *group) shutdownStreamsLocked() {
	if g.streams == nil {
		return
	}
	g.streams.delaySeq++
	if g.streams.delayTimer != nil {
		g.streams.delayTimer.Stop()
	}
	for _, m := range g.streams.members {
		m.stopTimers()
	}
}

// validateStreamsCommitLocked is StreamsGroup.validateOffsetCommit: as for
// consumer groups, a commit at the member's epoch passes, and one at an
// older epoch passes when every committed partition belongs to an active
// task the member has held since that epoch or earlier.
func (s *shard) validateStreamsCommitLocked(g *group, req CommitRequest) int16 {
	sg := g.streams
	if req.Generation < 0 && len(sg.members) == 0 {
		return 0
	}
	if req.Transactional && req.Generation == -1 && req.MemberID == "" && req.InstanceID == nil {
		return 0
	}
	m := sg.members[req.MemberID]
	if m == nil {
		return errcode.UnknownMemberID
	}
	if req.Version < 9 && !req.Transactional {
		return errcode.UnsupportedVersion
	}
	stale := errcode.StaleMemberEpoch
	if req.Transactional {
		stale = errcode.IllegalGeneration
	}
	switch {
	case req.Generation == m.epoch:
		return 0
	case req.Generation > m.epoch || sg.configured == nil:
		return stale
	}
	for _, o := range req.Offsets {
		ok := false
		for t, e := range m.activeEpochs {
			if t.partition == o.Partition && e <= req.Generation && slices.Contains(sg.configured.sources[t.subtopology], o.Topic) {
				ok = true
				break
			}
		}
		if !ok {
			return stale
		}
	}
	return 0
}

func describeTasks(t taskSet) []protocol.StreamsGroupDescribeResponseTaskIDs {
	out := []protocol.StreamsGroupDescribeResponseTaskIDs{}
	for _, r := range responseTasks(t) {
		out = append(out, protocol.StreamsGroupDescribeResponseTaskIDs{SubtopologyID: r.SubtopologyID, Partitions: r.Partitions})
	}
	return out
}

func describeAssignment(a streamsTasks) protocol.StreamsGroupDescribeResponseAssignment {
	return protocol.StreamsGroupDescribeResponseAssignment{
		ActiveTasks: describeTasks(a.active), StandbyTasks: describeTasks(a.standby), WarmupTasks: describeTasks(a.warmup),
	}
}

func describeTopicInfos(ts []streamsTopicInfo) []protocol.StreamsGroupDescribeResponseTopicInfo {
	out := []protocol.StreamsGroupDescribeResponseTopicInfo{}
	for _, t := range ts {
		ti := protocol.StreamsGroupDescribeResponseTopicInfo{Name: protocol.TopicName(t.name), Partitions: t.partitions,
			ReplicationFactor: t.replicationFactor, TopicConfigs: []protocol.StreamsGroupDescribeResponseKeyValue{}}
		for _, kv := range t.configs {
			ti.TopicConfigs = append(ti.TopicConfigs, protocol.StreamsGroupDescribeResponseKeyValue{Key: kv[0], Value: kv[1]})
		}
		out = append(out, ti)
	}
	return out
}

func describeTaskOffsets(ts []protocol.StreamsGroupHeartbeatRequestTaskOffset) []protocol.StreamsGroupDescribeResponseTaskOffset {
	out := []protocol.StreamsGroupDescribeResponseTaskOffset{}
	for _, t := range ts {
		out = append(out, protocol.StreamsGroupDescribeResponseTaskOffset{SubtopologyID: t.SubtopologyID, Partition: t.Partition, Offset: t.Offset})
	}
	return out
}

// DescribeStreamsGroup describes a streams group (StreamsGroupDescribe);
// other and unknown groups are GROUP_ID_NOT_FOUND, as in Kafka. The
// broker fills in the authorized operations.
func (c *Coordinator) DescribeStreamsGroup(ctx context.Context, groupID string) (d protocol.StreamsGroupDescribeResponseDescribedGroup) {
	d = protocol.StreamsGroupDescribeResponseDescribedGroup{GroupID: protocol.GroupID(groupID), Members: []protocol.StreamsGroupDescribeResponseMember{}}
	s, code := c.lockedShard(groupID)
	if code != 0 {
		d.ErrorCode = code
		return d
	}
	defer s.unlockAndAwait(ctx, groupID, func(wc int16) {
		d = protocol.StreamsGroupDescribeResponseDescribedGroup{GroupID: protocol.GroupID(groupID), ErrorCode: wc,
			Members: []protocol.StreamsGroupDescribeResponseMember{}}
	})
	g := s.groups[groupID]
	fail := func(msg string) protocol.StreamsGroupDescribeResponseDescribedGroup {
		d.ErrorCode, d.ErrorMessage = errcode.GroupIDNotFound, &msg
		return d
	}
	switch {
	case g == nil || g.state == stateDead:
		return fail(fmt.Sprintf("Group %s not found.", groupID))
	case g.streams == nil:
		return fail(fmt.Sprintf("Group %s is not a streams group.", groupID))
	}
	sg := g.streams
	d.GroupState, d.GroupEpoch, d.AssignmentEpoch = sg.state(), sg.epoch, sg.assignmentEpoch
	if t := sg.topology; t != nil {
		d.Topology = &protocol.StreamsGroupDescribeResponseTopology{Epoch: t.epoch, Subtopologies: []protocol.StreamsGroupDescribeResponseSubtopology{}}
		for _, st := range t.subtopologies {
			ds := protocol.StreamsGroupDescribeResponseSubtopology{SubtopologyID: st.id, SourceTopics: []protocol.TopicName{},
				RepartitionSinkTopics: []protocol.TopicName{}, StateChangelogTopics: describeTopicInfos(st.changelogTopics),
				RepartitionSourceTopics: describeTopicInfos(st.repartitionSource)}
			srcs := st.sourceTopics
			if sg.configured != nil && sg.configured.tasks != nil {
				srcs = st.sources(map[string]int32{})
				for _, n := range sg.configured.sources[st.id] {
					if !slices.ContainsFunc(st.repartitionSource, func(r streamsTopicInfo) bool { return r.name == n }) {
						srcs = append(srcs, n)
					}
				}
				sort.Strings(srcs)
				srcs = slices.Compact(srcs)
			}
			for _, n := range srcs {
				ds.SourceTopics = append(ds.SourceTopics, protocol.TopicName(n))
			}
			for _, n := range st.repartitionSinks {
				ds.RepartitionSinkTopics = append(ds.RepartitionSinkTopics, protocol.TopicName(n))
			}
			d.Topology.Subtopologies = append(d.Topology.Subtopologies, ds)
		}
	}
	for _, m := range sg.sortedMembers() {
		dm := protocol.StreamsGroupDescribeResponseMember{
			MemberID: m.id, MemberEpoch: m.epoch, RackID: m.rackID, ClientID: m.clientID, ClientHost: m.clientHost,
			TopologyEpoch: m.topologyEpoch, ProcessID: m.processID, ClientTags: []protocol.StreamsGroupDescribeResponseKeyValue{},
			TaskOffsets: describeTaskOffsets(m.taskOffsets), TaskEndOffsets: describeTaskOffsets(m.taskEndOffsets),
			Assignment: describeAssignment(m.assigned),
		}
		if t, ok := sg.target[m.id]; ok {
			dm.TargetAssignment = describeAssignment(t)
		} else {
			dm.TargetAssignment = describeAssignment(emptyStreamsTasks())
		}
		if m.userEndpoint != nil {
			dm.UserEndpoint = &protocol.StreamsGroupDescribeResponseEndpoint{Host: m.userEndpoint.Host, Port: m.userEndpoint.Port}
		}
		for _, kv := range m.clientTags {
			dm.ClientTags = append(dm.ClientTags, protocol.StreamsGroupDescribeResponseKeyValue{Key: kv[0], Value: kv[1]})
		}
		d.Members = append(d.Members, dm)
	}
	return d
}
