package replication

import "errors"

// Errors returned by this package (ErrNotEnoughReplicas is in minisr.go). Handlers turn them into Kafka error codes
// (named after each); everything else wraps them with context.
var (
	// ErrNotLeader: this broker does not lead the partition, or the
	// replica asking is not one of its replicas (NOT_LEADER_OR_FOLLOWER).
	ErrNotLeader = errors.New("replication: not the leader of the partition")
	// ErrFencedLeaderEpoch: the request's leader epoch is older than this
	// broker's (FENCED_LEADER_EPOCH).
	ErrFencedLeaderEpoch = errors.New("replication: leader epoch is fenced")
	// ErrUnknownLeaderEpoch: the request's leader epoch is newer than this
	// broker's, or the replica asking is not (yet) in the replica set for
	// that epoch (UNKNOWN_LEADER_EPOCH).
	ErrUnknownLeaderEpoch = errors.New("replication: unknown leader epoch")
	// ErrNotEnoughReplicasAfterAppend: the batch was written and is
	// committed, but the ISR shrank below min.insync.replicas meanwhile
	// (NOT_ENOUGH_REPLICAS_AFTER_APPEND).
	ErrNotEnoughReplicasAfterAppend = errors.New("replication: not enough in-sync replicas after append")
	// ErrTimedOut: an acks=all append was not committed before its
	// deadline (REQUEST_TIMED_OUT).
	ErrTimedOut = errors.New("replication: timed out waiting for the high watermark")
	// ErrUnknownTopicOrPartition: this broker hosts no replica of the
	// partition (UNKNOWN_TOPIC_OR_PARTITION).
	ErrUnknownTopicOrPartition = errors.New("replication: unknown topic or partition")

	// Answers of the controller to an AlterPartition, with the Kafka
	// codes of the same names.
	ErrOperationNotAttempted = errors.New("replication: alter partition not attempted")
	ErrIneligibleReplica     = errors.New("replication: ineligible replica")
	ErrInvalidUpdateVersion  = errors.New("replication: invalid partition epoch")
	ErrInvalidRequest        = errors.New("replication: invalid request")

	// ErrUnreachable: the in-memory network dropped the request or its
	// answer, as a broken connection would.
	ErrUnreachable = errors.New("replication: broker unreachable")
)
