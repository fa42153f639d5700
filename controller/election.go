package controller

import (
	"slices"
)

// Leader election policy, as Kafka's PartitionChangeBuilder computes it with
// Eligible Leader Replicas (KIP-966) disabled. Every leadership or ISR
// change the controller makes on its own (a broker fenced, unfenced,
// unregistered or shutting down; ElectLeaders) goes through
// partitionChange, so the rules live in one place.

// Election is how a new leader may be chosen.
type Election int8

const (
	// ElectionPreferred elects the first replica if it is eligible, else
	// keeps the current leader if it still is, else the first eligible
	// replica.
	ElectionPreferred Election = 0
	// ElectionOnline keeps the current leader if it is eligible, else
	// elects the first eligible replica: one in the (target) ISR whose
	// broker is active.
	ElectionOnline Election = 2
	// ElectionUnclean is ElectionOnline, and when no ISR member is
	// eligible, elects the first active replica outside the ISR, which
	// then becomes the whole ISR (possible data loss).
	ElectionUnclean Election = 1
)

// changeInput describes one partition change to compute.
type changeInput struct {
	topicID   TopicID
	partition int32
	cur       *PartitionImage
	// targetISR is the ISR the change aims for (the current ISR minus a
	// departing broker, say). An empty target leaves the ISR unchanged:
	// without ELR, Kafka never writes an empty ISR, so the last member of
	// a leaderless partition stays recorded.
	targetISR []int32
	election  Election
	// acceptable reports whether a replica may lead: its broker is
	// registered, unfenced and not shutting down (with the exceptions the
	// caller builds in: a broker being fenced is never acceptable, one
	// being unfenced always is).
	acceptable func(replica int32) bool
}

// electLeader returns the leader the election picks (NoLeader if none) and
// whether the pick is unclean (outside the target ISR).
func (in *changeInput) electLeader() (int32, bool) {
	valid := func(r int32) bool { return slices.Contains(in.targetISR, r) && in.acceptable(r) }
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
	if in.election == ElectionUnclean {
		for _, r := range replicas {
			if in.acceptable(r) {
				return r, true
			}
		}
	}
	return NoLeader, false
}

// partitionChange returns the record that moves the partition to its
// target ISR and elected leader, or nil when nothing would change. The
// leader epoch moves only with the leader (since metadata.version 3.6 an
// ISR shrink does not bump it).
func partitionChange(in changeInput) *PartitionChangeRecord {
	rec := &PartitionChangeRecord{TopicID: in.topicID, PartitionID: in.partition, Leader: NoLeaderChange}
	leader, unclean := in.electLeader()
	if leader != in.cur.Leader {
		rec.Leader = leader
		if unclean {
			rec.ISR = []int32{leader}
		}
	}
	if rec.ISR == nil && len(in.targetISR) > 0 && !slices.Equal(in.targetISR, in.cur.ISR) {
		rec.ISR = slices.Clone(in.targetISR)
	}
	if rec.Leader == NoLeaderChange && rec.ISR == nil {
		return nil
	}
	return rec
}

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

// leadershipChanges is Kafka's generateLeaderAndIsrUpdates: for every
// partition that match selects, it removes brokerToRemove (if >= 0) from
// the target ISR and from the candidate leaders, treats brokerToAdd (if >=
// 0) as active although the image may still show it fenced, and elects
// with ElectionOnline, or ElectionUnclean where unclean(topic) allows.
func leadershipChanges(img *MetadataImage, brokerToRemove, brokerToAdd int32,
	match func(p *PartitionImage) bool, unclean func(topic string) bool) []Record {
	acceptable := func(r int32) bool {
		return r != brokerToRemove && (r == brokerToAdd || isActive(img, r))
	}
	var out []Record
	for _, t := range img.Topics() {
		election := ElectionOnline
		electionSet := false
		for i, p := range t.Partitions {
			if !match(p) {
				continue
			}
			if !electionSet {
				electionSet = true
				if unclean != nil && unclean(t.Name) {
					election = ElectionUnclean
				}
			}
			target := p.ISR
			if brokerToRemove >= 0 {
				target = without(p.ISR, brokerToRemove)
			}
			if rec := partitionChange(changeInput{
				topicID: t.ID, partition: int32(i), cur: p, targetISR: target,
				election: election, acceptable: acceptable,
			}); rec != nil {
				out = append(out, rec)
			}
		}
	}
	return out
}

// inISR matches partitions whose ISR holds id.
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
