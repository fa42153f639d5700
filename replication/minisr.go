package replication

import (
	"errors"
	"fmt"
)

// ErrNotEnoughReplicas rejects an acks=all write before it is appended: the
// ISR is smaller than the partition's effective min.insync.replicas
// (Kafka's NotEnoughReplicasException; NOT_ENOUGH_REPLICAS, code 19, at the
// edge).
var ErrNotEnoughReplicas = errors.New("replication: not enough in-sync replicas")

// AcksAll is the RequiredAcks of a Produce request that waits for the whole
// ISR (acks=all).
const AcksAll int16 = -1

// EffectiveMinISR is the min.insync.replicas a partition with replicaCount
// assigned replicas actually enforces: the configured minInsync capped at
// the replica count. Kafka accepts any min.insync.replicas >= 1 whatever the
// replication factor, and Partition.effectiveMinIsr takes
// min(min.insync.replicas, replicas) so that such a topic stays writable
// once every replica is in sync: an RF 1 topic with min.insync.replicas=2
// accepts acks=all writes on Kafka 4.3.1.
//
// replicaCount is the partition's full assignment, leader included (Kafka:
// remote replicas + 1, which counts replicas being added by a reassignment).
func EffectiveMinISR(minInsync, replicaCount int) int {
	return min(minInsync, replicaCount)
}

// CheckMinISR is the check Kafka's Partition.appendRecordsToLeader runs
// before appending as leader: an acks=all write is refused with
// ErrNotEnoughReplicas while the ISR is smaller than the effective minimum.
// Writes with acks=0 or acks=1 are never refused by it.
func CheckMinISR(acks int16, isrSize, replicaCount, minInsync int) error {
	if acks != AcksAll {
		return nil
	}
	if want := EffectiveMinISR(minInsync, replicaCount); isrSize < want {
		return fmt.Errorf("%w: the ISR has %d replicas, fewer than the min.isr requirement of %d", ErrNotEnoughReplicas, isrSize, want)
	}
	return nil
}
