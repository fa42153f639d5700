package controller

//lint:file-ignore ST1005 the text after each sentinel is Kafka's error message, which clients receive verbatim (see ErrorCode): Kafka capitalizes it and ends it with a full stop.

import (
	"context"
	"fmt"
	"slices"

	"github.com/spool-broker/spool/storage"
)

// TopicPartition names one partition. It is storage.TopicPartition, the
// one name every package gives a partition.
type TopicPartition = storage.TopicPartition

// ElectLeaders runs a preferred or unclean leader election on each
// partition (nil: every partition) as Kafka's ReplicationControlManager
// does, and writes all the elections in one batch. It returns the
// partitions (parts, or every partition for nil) and an error for each:
// nil where the leader moved, ErrElectionNotNeeded where it already is
// where the election would put it. The last error is for the whole request
// (ErrNotController).
func (c *Controller) ElectLeaders(ctx context.Context, election Election, parts []TopicPartition) ([]TopicPartition, []error, error) {
	done, err := c.beginOp(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer done()
	img := c.Image()
	pol := c.policyFor(img)
	if parts == nil {
		for _, t := range img.Topics() {
			for i := range t.Partitions {
				parts = append(parts, TopicPartition{Topic: t.Name, Partition: int32(i)})
			}
		}
	}
	errs := make([]error, len(parts))
	var records []Record
	var elected []int
	seen := map[TopicPartition]bool{}
	for i, tp := range parts {
		t := img.topics[tp.Topic]
		if t == nil {
			errs[i] = fmt.Errorf("%w: No such topic as %s", ErrUnknownTopic, tp.Topic)
			continue
		}
		if tp.Partition < 0 || int(tp.Partition) >= len(t.Partitions) {
			errs[i] = fmt.Errorf("%w: No such partition as %s-%d", ErrUnknownPartition, tp.Topic, tp.Partition)
			continue
		}
		if seen[tp] {
			continue
		}
		seen[tp] = true
		p := t.Partitions[tp.Partition]
		if (election == ElectionPreferred && len(p.Replicas) > 0 && p.Leader == p.Replicas[0]) ||
			(election == ElectionUnclean && p.Leader >= 0) {
			errs[i] = fmt.Errorf("%w: Leader election not needed for topic partition.", ErrElectionNotNeeded)
			continue
		}
		rec := partitionChange(changeInput{
			topicID: t.ID, partition: tp.Partition, cur: p, targetISR: p.ISR, election: election,
			acceptable: onlineAcceptor(img, p, func(r int32) bool { return isActive(img, r) }),
			elr:        pol.elr, minISR: pol.minISRFor(tp.Topic),
		})
		if rec == nil {
			if election == ElectionPreferred {
				errs[i] = fmt.Errorf("%w: The preferred leader was not available.", ErrPreferredLeaderNotAvailable)
			} else {
				errs[i] = fmt.Errorf("%w: Eligible topic partition leaders are not available.", ErrEligibleLeadersNotAvailable)
			}
			continue
		}
		records = append(records, rec)
		elected = append(elected, i)
	}
	if _, err := c.apply(ctx, records); err != nil {
		for _, i := range elected {
			errs[i] = err
		}
	}
	return parts, errs, nil
}

// AlterPartitionReassignments starts, replaces or cancels reassignments as
// Kafka's ReplicationControlManager does (KIP-455; see reassign.go for the
// rules). The result for each entry is nil on success; the error is for the
// whole request (ErrNotController).
func (c *Controller) AlterPartitionReassignments(ctx context.Context, allowRFChange bool, reqs []Reassignment) ([]error, error) {
	done, err := c.beginOp(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	errs := make([]error, len(reqs))
	img := c.Image()
	pol := c.policyFor(img)
	var records []Record
	var changed []int
	for i, r := range reqs {
		rec, err := reassignment(img, r, allowRFChange, pol.unclean)
		if err != nil {
			errs[i] = err
			continue
		}
		if pc, ok := rec.(*PartitionChangeRecord); ok && pc != nil {
			reassignmentELR(pc, img.topics[r.Topic].Partitions[r.Partition], pol.elr, pol.minISRFor(r.Topic))
		}
		if rec != nil {
			records = append(records, rec)
			changed = append(changed, i)
		}
	}
	if _, err := c.apply(ctx, records); err != nil {
		for _, i := range changed {
			errs[i] = err
		}
	}
	return errs, nil
}

// ISRUpdate is one partition of an AlterPartition request: the leader asks
// for a new ISR, stating the epochs its view is based on.
type ISRUpdate struct {
	TopicID        TopicID
	Partition      int32
	LeaderEpoch    int32
	PartitionEpoch int32
	// NewISR lists the proposed ISR; BrokerEpochs, when not nil, holds
	// each member's broker epoch as the leader knows it (-1: unknown).
	NewISR       []int32
	BrokerEpochs []int64
	// LeaderRecoveryState is the leader's (AlterPartition v1+; RECOVERED
	// before): RECOVERED once it recovered from an unclean election.
	LeaderRecoveryState LeaderRecoveryState
}

// ISRUpdateResult is the partition's state after an accepted update, or
// Err.
type ISRUpdateResult struct {
	Err            error
	Leader         int32
	LeaderEpoch    int32
	ISR            []int32
	PartitionEpoch int32
	// LeaderRecoveryState is the partition's after the change.
	LeaderRecoveryState LeaderRecoveryState
}

// AlterPartition applies ISR changes a partition leader asks for, with
// Kafka's checks: the requester's broker epoch (else ErrStaleBrokerEpoch
// for the whole request), then per partition the leader and partition
// epochs, that the requester leads, and that every new ISR member is a
// replica on an active broker of the stated epoch. A leader recovering from
// an unclean election (KIP-704) may not grow the ISR beyond itself while it
// says RECOVERING, nor go back to RECOVERING once RECOVERED
// (INVALID_REQUEST); its RECOVERED is recorded with the change.
func (c *Controller) AlterPartition(ctx context.Context, brokerID int32, brokerEpoch int64, updates []ISRUpdate) ([]ISRUpdateResult, error) {
	done, err := c.beginOp(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	img := c.Image()
	if b := img.brokers[brokerID]; b == nil || (brokerEpoch >= 0 && b.Epoch != brokerEpoch) {
		return nil, fmt.Errorf("%w: broker %d epoch %d is not current", ErrStaleBrokerEpoch, brokerID, brokerEpoch)
	}
	results := make([]ISRUpdateResult, len(updates))
	pol := c.policyFor(img)
	var records []Record
	for i, u := range updates {
		res := &results[i]
		t := img.topicsByID[u.TopicID]
		if t == nil {
			res.Err = fmt.Errorf("%w: %x", ErrUnknownTopicID, u.TopicID)
			continue
		}
		if u.Partition < 0 || int(u.Partition) >= len(t.Partitions) {
			res.Err = fmt.Errorf("%w: %s-%d", ErrUnknownPartition, t.Name, u.Partition)
			continue
		}
		p := t.Partitions[u.Partition]
		if res.Err = validateISRUpdate(img, brokerID, t.Name, p, u); res.Err != nil {
			continue
		}
		res.Leader, res.LeaderEpoch, res.ISR, res.PartitionEpoch = p.Leader, p.LeaderEpoch, u.NewISR, p.PartitionEpoch
		res.LeaderRecoveryState = u.LeaderRecoveryState
		if reassigning(p) {
			// The last adding replica joining the ISR completes the
			// reassignment in the same change (reassign.go).
			if rec := completeReassignment(img, t.ID, u.Partition, p, reassignTarget(p), u.NewISR, p.AddingReplicas); rec != nil {
				if u.LeaderRecoveryState != p.LeaderRecoveryState {
					rec.LeaderRecoveryState = recoveryState(u.LeaderRecoveryState)
				}
				if rec.ISR == nil {
					rec.ISR = slices.Clone(p.ISR)
				}
				reassignmentELR(rec, p, pol.elr, pol.minISRFor(t.Name))
				res.ISR = rec.ISR
				if rec.Leader != NoLeaderChange {
					res.Leader, res.LeaderEpoch = rec.Leader, p.LeaderEpoch+1
				}
				records = append(records, rec)
				res.PartitionEpoch++
				continue
			}
		}
		// The leader stays (it is in its new ISR); with ELR the change
		// also moves members leaving an ISR below min.insync.replicas into
		// the ELR, and clears it once the ISR is back at the minimum.
		if rec := partitionChange(changeInput{
			topicID: t.ID, partition: u.Partition, cur: p, targetISR: slices.Clone(u.NewISR), election: ElectionOnline,
			acceptable: onlineAcceptor(img, p, func(r int32) bool { return r == p.Leader || isActive(img, r) }),
			elr:        pol.elr, minISR: pol.minISRFor(t.Name), targetRecovery: recoveryState(u.LeaderRecoveryState),
		}); rec != nil {
			if rec.Leader != NoLeaderChange {
				return nil, fmt.Errorf("controller: AlterPartition from leader %d of %s-%d would move the leader to %d", brokerID, t.Name, u.Partition, rec.Leader)
			}
			records = append(records, rec)
			res.PartitionEpoch++
		}
	}
	if _, err := c.apply(ctx, records); err != nil {
		return nil, err
	}
	return results, nil
}

func validateISRUpdate(img *MetadataImage, brokerID int32, topic string, p *PartitionImage, u ISRUpdate) error {
	switch {
	case u.LeaderEpoch > p.LeaderEpoch || u.PartitionEpoch > p.PartitionEpoch:
		// The leader knows newer state than this controller: it is likely
		// no longer the active one.
		return fmt.Errorf("%w: %s-%d is at leader epoch %d, partition epoch %d here", ErrNotController, topic, u.Partition, p.LeaderEpoch, p.PartitionEpoch)
	case u.LeaderEpoch < p.LeaderEpoch:
		return fmt.Errorf("%w: %s-%d is at leader epoch %d, not %d", ErrFencedLeaderEpoch, topic, u.Partition, p.LeaderEpoch, u.LeaderEpoch)
	case brokerID != p.Leader:
		return fmt.Errorf("%w: node %d is not the leader of %s-%d (the leader is %d)", ErrInvalidRequest, brokerID, topic, u.Partition, p.Leader)
	case u.PartitionEpoch < p.PartitionEpoch:
		return fmt.Errorf("%w: %s-%d is at partition epoch %d, not %d", ErrInvalidUpdateVersion, topic, u.Partition, p.PartitionEpoch, u.PartitionEpoch)
	}
	seen := map[int32]bool{}
	for _, r := range u.NewISR {
		if seen[r] || !slices.Contains(p.Replicas, r) {
			return fmt.Errorf("%w: invalid ISR %v for replicas %v", ErrInvalidRequest, u.NewISR, p.Replicas)
		}
		seen[r] = true
	}
	if !seen[p.Leader] {
		return fmt.Errorf("%w: the ISR %v does not include the leader %d", ErrInvalidRequest, u.NewISR, p.Leader)
	}
	switch s := u.LeaderRecoveryState; {
	case s != LeaderRecovered && s != LeaderRecovering:
		return fmt.Errorf("%w: unknown leader recovery state %d", ErrInvalidRequest, s)
	case s == LeaderRecovering && len(u.NewISR) > 1:
		return fmt.Errorf("%w: the ISR %v of %s-%d has more than one replica while the leader is still recovering from an unclean leader election",
			ErrInvalidRequest, u.NewISR, topic, u.Partition)
	case p.LeaderRecoveryState == LeaderRecovered && s == LeaderRecovering:
		return fmt.Errorf("%w: the leader recovery state of %s-%d cannot change from RECOVERED to RECOVERING", ErrInvalidRequest, topic, u.Partition)
	}
	for i, r := range u.NewISR {
		b := img.brokers[r]
		switch {
		case b == nil:
			return fmt.Errorf("%w: replica %d is not registered", ErrIneligibleReplica, r)
		case b.InControlledShutdown:
			return fmt.Errorf("%w: replica %d is shutting down", ErrIneligibleReplica, r)
		case b.Fenced:
			return fmt.Errorf("%w: replica %d is fenced", ErrIneligibleReplica, r)
		case !b.HasOnlineDir(p.Directory(r)):
			return fmt.Errorf("%w: replica %d is on an offline log dir", ErrIneligibleReplica, r)
		case i < len(u.BrokerEpochs) && u.BrokerEpochs[i] != -1 && u.BrokerEpochs[i] != b.Epoch:
			return fmt.Errorf("%w: replica %d: broker epoch mismatch: requested=%d VS expected=%d", ErrIneligibleReplica, r, u.BrokerEpochs[i], b.Epoch)
		}
	}
	return nil
}
