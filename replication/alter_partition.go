package replication

import (
	"context"

	"github.com/spool-broker/spool/storage"
)

// LeaderAndISR is a partition's leadership and replica set as the
// controller committed it (Kafka's PartitionRegistration): what
// Manager.Apply takes from each metadata image and what an AlterPartition
// answers.
type LeaderAndISR struct {
	Leader         int32 // -1: no leader
	LeaderEpoch    int32
	PartitionEpoch int32
	Replicas       []int32
	ISR            []int32
	// LeaderRecoveryState is RECOVERING after an unclean election until
	// the leader's AlterPartition says RECOVERED (KIP-704).
	LeaderRecoveryState LeaderRecoveryState
}

// LeaderRecoveryState is KIP-704's state of a partition's leader (the
// controller's values).
type LeaderRecoveryState int8

const (
	LeaderRecovered  LeaderRecoveryState = 0
	LeaderRecovering LeaderRecoveryState = 1
)

// String is Kafka's name of the state.
func (s LeaderRecoveryState) String() string {
	if s == LeaderRecovering {
		return "RECOVERING"
	}
	return "RECOVERED"
}

// AlterPartitionRequest is a leader's proposal to change a partition's ISR
// (one partition of Kafka's AlterPartition request). LeaderEpoch and
// PartitionEpoch are the state it was computed from; the controller rejects
// it if either is stale.
type AlterPartitionRequest struct {
	BrokerID       int32
	BrokerEpoch    int64 // the leader's broker epoch; -1 when unknown
	TopicPartition storage.TopicPartition
	TopicID        [16]byte
	LeaderEpoch    int32
	PartitionEpoch int32
	ISR            []int32
	// LeaderRecoveryState is the leader's: RECOVERED, since a leader has
	// recovered before it proposes a change (Kafka's makeLeader).
	LeaderRecoveryState LeaderRecoveryState
}

// AlterPartitionSender delivers AlterPartition requests to the active
// controller (the controller client implements it; InmemController is the
// in-memory fake for tests).
//
// AlterPartition blocks until the controller answers or ctx ends. On
// success it returns the partition's state as the controller committed it
// (the partition epoch moved on; the ISR may differ from the proposal). The
// controller's refusals are returned as ErrOperationNotAttempted,
// ErrIneligibleReplica, ErrInvalidUpdateVersion, ErrFencedLeaderEpoch,
// ErrUnknownTopicOrPartition or ErrInvalidRequest (possibly wrapped); any
// other error is retried.
type AlterPartitionSender interface {
	AlterPartition(ctx context.Context, req AlterPartitionRequest) (LeaderAndISR, error)
}
