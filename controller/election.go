package controller

import (
	"slices"
)

// Leader election policy, as Kafka's PartitionChangeBuilder computes it,
// with Eligible Leader Replicas (KIP-966) when the cluster finalized
// eligible.leader.replicas.version >= 1 (the default of a new cluster, as
// in Kafka 4.1+). Every leadership or ISR change the controller makes (a
// broker fenced, unfenced, unregistered or shutting down; ElectLeaders;
// AlterPartition) goes through partitionChange, so the rules live in one
// place.
//
// ELR (KIP-966): the high watermark does not move while the ISR is below
// min.insync.replicas (replication.HighWatermark), so a replica that leaves
// the ISR once it is below that minimum holds every committed record. Such
// replicas are kept as the partition's ELR; when the ISR empties, an
// unfenced ELR member may lead (cleanly: it becomes the ISR). The ISR may
// then be empty, and the last leader is kept as LastKnownELR; with neither
// ISR nor ELR it is elected again once unfenced, as before ELR the last
// ISR member was. Once the ISR is back at min.insync.replicas the ELR is
// cleared; an unclean election clears it too.

// Election is how a new leader may be chosen.
type Election int8

const (
	// ElectionPreferred elects the first replica if it is eligible, else
	// keeps the current leader if it still is, else the first eligible
	// replica.
	ElectionPreferred Election = 0
	// ElectionOnline keeps the current leader if it is eligible, else
	// elects the first eligible replica: one in the (target) ISR whose
	// broker is active, or with an empty ISR one in the ELR.
	ElectionOnline Election = 2
	// ElectionUnclean is ElectionOnline, and when no replica is eligible,
	// elects the first active replica, which then becomes the whole ISR
	// (possible data loss).
	ElectionUnclean Election = 1
)

// EligibleLeaderReplicasFeature is KIP-966's feature: level 1 tracks ELR.
const EligibleLeaderReplicasFeature = "eligible.leader.replicas.version"

// electionPolicy is what a partition change needs to know about its
// topic and the cluster.
type electionPolicy struct {
	// unclean reports whether a topic allows unclean leader election
	// (nil: none does).
	unclean func(topic string) bool
	// minISR is a topic's effective min.insync.replicas (nil: 1).
	minISR func(topic string) int
	// elr: eligible.leader.replicas.version >= 1 is finalized.
	elr bool
}

func (pol electionPolicy) election(topic string) Election {
	if pol.unclean != nil && pol.unclean(topic) {
		return ElectionUnclean
	}
	return ElectionOnline
}

func (pol electionPolicy) minISRFor(topic string) int {
	if pol.minISR == nil {
		return 1
	}
	return pol.minISR(topic)
}

// elrEnabled reports whether img finalized KIP-966's feature.
func elrEnabled(img *MetadataImage) bool { return img.Feature(EligibleLeaderReplicasFeature) >= 1 }

// changeInput describes one partition change to compute.
type changeInput struct {
	topicID   TopicID
	partition int32
	cur       *PartitionImage
	// targetISR is the ISR the change aims for (the current ISR minus a
	// departing broker, say). Without ELR an empty target leaves the ISR
	// unchanged: Kafka then never writes an empty ISR, so the last member
	// of a leaderless partition stays recorded. With ELR it is written.
	targetISR []int32
	// targetELR is the ELR the change computes (populateELR).
	targetELR []int32
	election  Election
	// acceptable reports whether a replica may lead: its broker is
	// registered, unfenced and not shutting down (with the exceptions the
	// caller builds in: a broker being fenced is never acceptable, one
	// being unfenced always is).
	acceptable func(replica int32) bool
	// elr and minISR: ELR tracking (eligible.leader.replicas.version >= 1)
	// and the topic's effective min.insync.replicas.
	elr    bool
	minISR int
	// uncleanShutdown are replicas whose broker restarted without proving
	// a clean shutdown (Kafka's uncleanShutdownReplicas): they may have
	// lost acknowledged records, so the change never keeps or puts them in
	// the ELR.
	uncleanShutdown []int32
	// targetRecovery is the leader recovery state an AlterPartition asks
	// for (nil: keep the partition's; Kafka's setTargetLeaderRecoveryState).
	targetRecovery *LeaderRecoveryState
}

// electLeader returns the leader the election picks (NoLeader if none) and
// whether the pick is unclean (outside the target ISR and ELR).
func (in *changeInput) electLeader() (int32, bool) {
	valid := func(r int32) bool {
		return (slices.Contains(in.targetISR, r) || (len(in.targetISR) == 0 && slices.Contains(in.targetELR, r))) && in.acceptable(r)
	}
	replicas := in.cur.Replicas
	if in.election == ElectionPreferred {
		if len(replicas) > 0 && valid(replicas[0]) {
			return replicas[0], false
		}
		if in.cur.Leader >= 0 && valid(in.cur.Leader) {
			return in.cur.Leader, false
		}
		for _, r := range replicas[min(1, len(replicas)):] {
			if valid(r) {
				return r, false
			}
		}
		if r, ok := in.lastKnownLeader(); ok {
			return r, true
		}
		return NoLeader, false
	}
	if in.cur.Leader >= 0 && valid(in.cur.Leader) {
		return in.cur.Leader, false
	}
	for _, r := range replicas {
		if valid(r) {
			return r, false
		}
	}
	if r, ok := in.lastKnownLeader(); ok {
		return r, true
	}
	if in.election == ElectionUnclean {
		for _, r := range replicas {
			if in.acceptable(r) {
				return r, true
			}
		}
	}
	return NoLeader, false
}

// lastKnownLeader is the ELR "balanced recovery" pick: with ELR tracked
// and neither ISR nor ELR left, the partition's last leader (the only
// member of LastKnownELR) once it is acceptable again.
func (in *changeInput) lastKnownLeader() (int32, bool) {
	if !in.elr || len(in.targetISR) > 0 || len(in.targetELR) > 0 || len(in.cur.LastKnownELR) != 1 {
		return NoLeader, false
	}
	r := in.cur.LastKnownELR[0]
	return r, in.acceptable(r)
}

// populateELR is Kafka's maybePopulateTargetElr: with the target ISR at
// min.insync.replicas or more the ELR is empty; below it, the ELR is the
// current ELR plus the current ISR, minus the target ISR and minus the
// replicas of brokers that shut down uncleanly.
func populateELR(cur *PartitionImage, targetISR []int32, minISR int, uncleanShutdown []int32) []int32 {
	if len(targetISR) >= minISR {
		return nil
	}
	var elr []int32
	add := func(r int32) {
		if !slices.Contains(targetISR, r) && !slices.Contains(elr, r) && !slices.Contains(uncleanShutdown, r) {
			elr = append(elr, r)
		}
	}
	for _, r := range cur.ELR {
		add(r)
	}
	for _, r := range cur.ISR {
		add(r)
	}
	return elr
}

// partitionChange returns the record that moves the partition to its
// target ISR and elected leader, or nil when nothing would change. The
// leader epoch moves only with the leader (since metadata.version 3.6 an
// ISR shrink does not bump it).
func partitionChange(in changeInput) *PartitionChangeRecord {
	rec := &PartitionChangeRecord{TopicID: in.topicID, PartitionID: in.partition, Leader: NoLeaderChange}
	cur := in.cur
	in.targetELR = cur.ELR
	if in.elr {
		in.targetELR = populateELR(cur, in.targetISR, in.minISR, in.uncleanShutdown)
	}
	leader, unclean := in.electLeader()
	if leader != cur.Leader {
		rec.Leader = leader
		if slices.Contains(in.targetELR, leader) {
			// Elected from the ELR: it is the new ISR.
			in.targetISR = []int32{leader}
			in.targetELR = without(in.targetELR, leader)
		}
		if unclean {
			// An unclean election forces the ISR to the new leader, which
			// may have lost committed records, and marks it RECOVERING
			// (KIP-704) until it says it recovered.
			rec.ISR = []int32{leader}
			if cur.LeaderRecoveryState != LeaderRecovering {
				rec.LeaderRecoveryState = recoveryState(LeaderRecovering)
			}
		}
	}
	if rec.LeaderRecoveryState == nil && in.targetRecovery != nil && *in.targetRecovery != cur.LeaderRecoveryState {
		rec.LeaderRecoveryState = recoveryState(*in.targetRecovery)
	}
	// An unclean election, or ELR off, clears the ELR.
	if rec.ISR != nil || !in.elr {
		in.targetELR = nil
	}
	if !slices.Equal(in.targetELR, cur.ELR) {
		rec.ELR = nonNil(in.targetELR)
	}
	if rec.ISR == nil && (len(in.targetISR) > 0 || in.elr) && !slices.Equal(in.targetISR, cur.ISR) {
		rec.ISR = nonNil(slices.Clone(in.targetISR))
	}
	if in.elr {
		// The last leader is remembered when the ISR empties, and
		// forgotten once the partition has a leader again.
		switch {
		case rec.ISR != nil && len(rec.ISR) == 0:
			if len(cur.LastKnownELR) != 1 || cur.LastKnownELR[0] != cur.Leader {
				rec.LastKnownELR = []int32{cur.Leader}
			}
		case (rec.Leader >= 0 || (cur.Leader != NoLeader && rec.Leader != NoLeader)) && len(cur.LastKnownELR) > 0:
			rec.LastKnownELR = []int32{}
		}
	}
	if rec.Leader == NoLeaderChange && rec.ISR == nil && rec.ELR == nil && rec.LastKnownELR == nil && rec.LeaderRecoveryState == nil {
		return nil
	}
	return rec
}

// recoveryState returns a pointer to a copy of s, for a PartitionChangeRecord.
func recoveryState(s LeaderRecoveryState) *LeaderRecoveryState { return &s }

// without returns ids minus id, as a new slice.
func without(ids []int32, id int32) []int32 {
	out := make([]int32, 0, len(ids))
	for _, x := range ids {
		if x != id {
			out = append(out, x)
		}
	}
	return out
}

// isActive reports whether a broker may lead and take new replicas:
// registered, unfenced and not in controlled shutdown (Kafka's
// ClusterControlManager.isActive).
func isActive(img *MetadataImage, id int32) bool {
	b := img.brokers[id]
	return b != nil && !b.Fenced && !b.InControlledShutdown
}

// onlineAcceptor is Kafka's LeaderAcceptor: replica r of p may lead only
// if acceptable(r) and its broker has r's log dir online. A replica on a
// failed (or full) dir holds no servable log, so it is never elected.
func onlineAcceptor(img *MetadataImage, p *PartitionImage, acceptable func(r int32) bool) func(r int32) bool {
	return func(r int32) bool {
		if !acceptable(r) {
			return false
		}
		b := img.brokers[r]
		return b != nil && b.HasOnlineDir(p.Directory(r))
	}
}

// leadershipChanges is Kafka's generateLeaderAndIsrUpdates: for every
// partition that match selects, it removes brokerToRemove (if >= 0) from
// the target ISR and from the candidate leaders, treats brokerToAdd (if >=
// 0) as active although the image may still show it fenced, and elects
// with ElectionOnline, or ElectionUnclean where the policy allows.
func leadershipChanges(img *MetadataImage, brokerToRemove, brokerToAdd int32,
	match func(p *PartitionImage) bool, pol electionPolicy) []Record {
	return generateLeaderAndIsrUpdates(img, brokerToRemove, brokerToAdd, -1, match, pol)
}

// uncleanShutdownChanges is Kafka's handleBrokerShutdown for a broker that
// registers a new incarnation without proving a clean shutdown, with ELR
// on: every partition whose ISR or ELR holds id loses it from both (it may
// have lost records it acknowledged), and it is not elected. Its
// LastKnownELR entries stay, as in Kafka 4.3.1 (balanced recovery elects
// the last known leader only once no ISR or ELR member is left, and then
// uncleanly).
func uncleanShutdownChanges(img *MetadataImage, id int32, pol electionPolicy) []Record {
	return generateLeaderAndIsrUpdates(img, -1, -1, id, func(p *PartitionImage) bool {
		return slices.Contains(p.ISR, id) || slices.Contains(p.ELR, id)
	}, pol)
}

// generateLeaderAndIsrUpdates is Kafka's method of that name:
// brokerWithUncleanShutdown (if >= 0) is removed from the target ISR as
// brokerToRemove is, from the candidate leaders, and from the ELR.
func generateLeaderAndIsrUpdates(img *MetadataImage, brokerToRemove, brokerToAdd, brokerWithUncleanShutdown int32,
	match func(p *PartitionImage) bool, pol electionPolicy) []Record {
	acceptable := func(r int32) bool {
		return r != brokerToRemove && r != brokerWithUncleanShutdown && (r == brokerToAdd || isActive(img, r))
	}
	var unclean []int32
	if brokerWithUncleanShutdown >= 0 {
		unclean = []int32{brokerWithUncleanShutdown}
	}
	var out []Record
	for _, t := range img.Topics() {
		election, minISR := ElectionOnline, 1
		policySet := false
		for i, p := range t.Partitions {
			if !match(p) {
				continue
			}
			if !policySet {
				policySet = true
				election, minISR = pol.election(t.Name), pol.minISRFor(t.Name)
			}
			target := p.ISR
			if brokerToRemove >= 0 {
				target = without(target, brokerToRemove)
			}
			if brokerWithUncleanShutdown >= 0 {
				target = without(target, brokerWithUncleanShutdown)
			}
			if rec := partitionChange(changeInput{
				topicID: t.ID, partition: int32(i), cur: p, targetISR: target,
				election: election, acceptable: onlineAcceptor(img, p, acceptable), elr: pol.elr, minISR: minISR,
				uncleanShutdown: unclean,
			}); rec != nil {
				out = append(out, rec)
			}
		}
	}
	return out
}

// inISR matches partitions whose ISR holds id. A broker in a partition's
// ELR only stays there when fenced, as in Kafka: it still holds every
// committed record, and it is not acceptable as a leader while fenced.
func inISR(id int32) func(p *PartitionImage) bool {
	return func(p *PartitionImage) bool { return slices.Contains(p.ISR, id) }
}

// leaderless matches partitions without a leader.
func leaderless(p *PartitionImage) bool { return p.Leader < 0 }

// hasLeaderships reports whether broker id leads any partition.
func hasLeaderships(img *MetadataImage, id int32) bool {
	for _, t := range img.topics {
		for _, p := range t.Partitions {
			if p.Leader == id {
				return true
			}
		}
	}
	return false
}
