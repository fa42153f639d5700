package controller

//lint:file-ignore ST1005 the text after each sentinel is Kafka's error message, which clients receive verbatim (see ErrorCode).

import (
	"fmt"
	"slices"
)

// Partition reassignment as Kafka's ReplicationControlManager runs it
// (KIP-455), in three phases:
//
//  1. Grow: the replica set becomes target followed by the current replicas
//     that are not in the target; AddingReplicas = target minus current,
//     RemovingReplicas = current minus target. Leader and ISR stay. The
//     brokers in AddingReplicas open the partition and fetch from the leader
//     (internal/server's reconcile does that for any replica).
//  2. Catch up: the leader adds each adding replica to the ISR through
//     AlterPartition once it has caught up, as for any replica.
//  3. Complete: when every adding replica is in the ISR, and the ISR keeps
//     a member of the target, one partition change sets the replicas to
//     the target, drops the removing replicas from the ISR, clears both
//     lists, and moves the leadership if the leader is being removed. The
//     removed brokers drop the partition on the next image.
//
// A reassignment that adds nothing completes in the request itself (phases 1
// and 3 in one record). A new target for a partition already being
// reassigned starts from the original replicas (the current ones minus
// AddingReplicas), so an adding replica that never caught up stays adding.
// Cancelling (nil Replicas) reverts to the original replicas; when no
// original replica is in the ISR the revert would leave the partition
// without an in-sync replica and is refused, unless unclean leader election
// is enabled for the topic, as Kafka's PartitionReassignmentRevert.

// ELR (KIP-966) across a reassignment: a change that sets the replicas
// computes the ELR from its ISR as any partition change does (Kafka's
// maybePopulateTargetElr: empty once the ISR is at min.insync.replicas,
// else the current ELR and ISR minus the new ISR), and then keeps in the
// ELR and LastKnownELR only members of the new replica set. Kafka 4.3.1
// does not do the last step, so there a replica removed by a reassignment
// stays in the ELR (it even joins it when it leaves an ISR below the
// minimum): it can never be elected (elections walk the replica set), it
// blocks the last-known-leader recovery (which needs an empty ELR), and a
// removed last known leader could be elected outside the replica set.
// Spool drops them; a removed broker deletes its copy, so it holds no
// records to lead with.

// Reassignment is one partition of AlterPartitionReassignments; nil
// Replicas cancels an ongoing reassignment.
type Reassignment struct {
	Topic     string
	Partition int32
	Replicas  []int32
}

// reassigning reports whether p has a reassignment in progress.
func reassigning(p *PartitionImage) bool {
	return len(p.AddingReplicas) > 0 || len(p.RemovingReplicas) > 0
}

// reassignTarget is the replica set an ongoing reassignment moves p to.
func reassignTarget(p *PartitionImage) []int32 { return minus(p.Replicas, p.RemovingReplicas) }

// reassignment validates one entry and returns the record that starts,
// replaces, completes or cancels it (nil when nothing changes).
func reassignment(img *MetadataImage, r Reassignment, allowRFChange bool, unclean func(topic string) bool) (Record, error) {
	t := img.topics[r.Topic]
	if t == nil || r.Partition < 0 || int(r.Partition) >= len(t.Partitions) {
		return nil, fmt.Errorf("%w: This server does not host this topic-partition.", ErrUnknownTopic)
	}
	p := t.Partitions[r.Partition]
	original := minus(p.Replicas, p.AddingReplicas)
	if r.Replicas == nil {
		if !reassigning(p) {
			return nil, fmt.Errorf("%w: No partition reassignment is in progress.", ErrNoReassignmentInProgress)
		}
		return revertReassignment(img, t, r.Partition, p, original, unclean != nil && unclean(t.Name))
	}
	if len(r.Replicas) == 0 {
		return nil, fmt.Errorf("%w: The manual partition assignment includes an empty replica list.", ErrInvalidReplicaAssignment)
	}
	seen := map[int32]bool{}
	for _, id := range r.Replicas {
		if seen[id] {
			return nil, fmt.Errorf("%w: The manual partition assignment includes the broker %d more than once.", ErrInvalidReplicaAssignment, id)
		}
		seen[id] = true
		if img.brokers[id] == nil {
			return nil, fmt.Errorf("%w: The manual partition assignment includes broker %d, but no such broker is registered.", ErrInvalidReplicaAssignment, id)
		}
	}
	if !allowRFChange && len(r.Replicas) != len(original) {
		return nil, fmt.Errorf("%w: The replication factor is changed from %d to %d", ErrInvalidReplicationFactor, len(original), len(r.Replicas))
	}
	if !reassigning(p) && slices.Equal(r.Replicas, p.Replicas) {
		return nil, nil
	}
	target := slices.Clone(r.Replicas)
	adding := minus(target, original)
	removing := minus(original, target)
	merged := append(slices.Clone(target), removing...)
	isr := intersect(p.ISR, merged)
	if len(isr) == 0 {
		return nil, fmt.Errorf("%w: The reassignment of %s-%d would leave it without an in-sync replica.", ErrInvalidReplicaAssignment, r.Topic, r.Partition)
	}
	if rec := completeReassignment(img, t.ID, r.Partition, p, target, isr, adding); rec != nil {
		return rec, nil
	}
	rec := &PartitionChangeRecord{
		TopicID: t.ID, PartitionID: r.Partition, Leader: NoLeaderChange, Replicas: merged,
		AddingReplicas: nonNil(adding), RemovingReplicas: nonNil(removing),
	}
	if !slices.Equal(isr, p.ISR) {
		rec.ISR = isr
	}
	if !slices.Contains(isr, p.Leader) {
		// The leader was an adding replica of the reassignment this one
		// replaces.
		rec.Leader = electAmong(img, p, merged, isr)
	}
	return rec, nil
}

// completeReassignment returns the record that finishes a reassignment of p
// to target given the ISR isr and the replicas being added, or nil when it
// cannot finish yet: an adding replica is not in the ISR, no target replica
// is, or the leader must move and no target replica in the ISR may lead.
func completeReassignment(img *MetadataImage, id TopicID, partition int32, p *PartitionImage, target, isr, adding []int32) *PartitionChangeRecord {
	for _, a := range adding {
		if !slices.Contains(isr, a) {
			return nil
		}
	}
	newISR := intersect(isr, target)
	if len(newISR) == 0 {
		return nil
	}
	rec := &PartitionChangeRecord{
		TopicID: id, PartitionID: partition, Leader: NoLeaderChange, Replicas: slices.Clone(target),
		AddingReplicas: []int32{}, RemovingReplicas: []int32{},
	}
	if !slices.Equal(newISR, p.ISR) {
		rec.ISR = newISR
	}
	if p.Leader < 0 || !slices.Contains(newISR, p.Leader) {
		leader := electAmong(img, p, target, newISR)
		if leader == NoLeader && p.Leader >= 0 {
			return nil
		}
		if leader != p.Leader {
			rec.Leader = leader
		}
	}
	return rec
}

// revertReassignment cancels p's reassignment: back to the original
// replicas, adding replicas out of the ISR.
func revertReassignment(img *MetadataImage, t *TopicImage, partition int32, p *PartitionImage, original []int32, unclean bool) (Record, error) {
	isr := intersect(p.ISR, original)
	if len(isr) == 0 {
		if !unclean {
			return nil, fmt.Errorf("%w: Unable to revert partition assignment for %s-%d because it would cause the partition to have no in-sync replicas.",
				ErrInvalidReplicaAssignment, t.Name, partition)
		}
		for _, r := range original {
			if isActive(img, r) {
				isr = append(isr, r)
			}
		}
		if len(isr) == 0 {
			return nil, fmt.Errorf("%w: Unable to revert partition assignment for %s-%d because none of its original replicas is alive.",
				ErrInvalidReplicaAssignment, t.Name, partition)
		}
	}
	rec := &PartitionChangeRecord{
		TopicID: t.ID, PartitionID: partition, Leader: NoLeaderChange, Replicas: original,
		AddingReplicas: []int32{}, RemovingReplicas: []int32{},
	}
	if !slices.Equal(isr, p.ISR) {
		rec.ISR = isr
	}
	if p.Leader < 0 || !slices.Contains(isr, p.Leader) {
		if leader := electAmong(img, p, original, isr); leader != p.Leader {
			rec.Leader = leader
		}
	}
	return rec, nil
}

// electAmong elects p's leader from replicas (in their order) restricted to
// the ISR isr and active brokers with the replica's dir online; NoLeader
// when none qualifies.
func electAmong(img *MetadataImage, p *PartitionImage, replicas, isr []int32) int32 {
	cur := *p
	cur.Replicas = replicas
	in := changeInput{cur: &cur, targetISR: isr, election: ElectionOnline, acceptable: onlineAcceptor(img, p, func(r int32) bool { return isActive(img, r) })}
	leader, _ := in.electLeader()
	return leader
}

// minus returns the members of a not in b, in a's order.
func minus(a, b []int32) []int32 {
	out := make([]int32, 0, len(a))
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// intersect returns the members of a also in b, in a's order.
func intersect(a, b []int32) []int32 {
	out := make([]int32, 0, len(a))
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// nonNil returns a, or an empty list for nil: in a PartitionChangeRecord
// nil means "unchanged" and an empty list clears.
func nonNil(a []int32) []int32 {
	if a == nil {
		return []int32{}
	}
	return a
}

// reassignmentELR sets the ELR and LastKnownELR of rec, a change of p's
// replica set, by the rules above; elr and minISR are the cluster's ELR
// setting and the topic's effective min.insync.replicas.
func reassignmentELR(rec *PartitionChangeRecord, p *PartitionImage, elr bool, minISR int) {
	if !elr || rec.Replicas == nil {
		return
	}
	isr := p.ISR
	if rec.ISR != nil {
		isr = rec.ISR
	}
	target := intersect(populateELR(p, isr, minISR, nil), rec.Replicas)
	if !slices.Equal(target, nonNil(p.ELR)) {
		rec.ELR = target
	}
	leader := p.Leader
	if rec.Leader != NoLeaderChange {
		leader = rec.Leader
	}
	lastKnown := intersect(p.LastKnownELR, rec.Replicas)
	if leader >= 0 {
		lastKnown = []int32{} // a partition with a leader remembers none
	}
	if !slices.Equal(lastKnown, nonNil(p.LastKnownELR)) {
		rec.LastKnownELR = lastKnown
	}
}
