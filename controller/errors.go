package controller

import (
	"context"
	"errors"
	"strings"

	"github.com/spool-broker/spool/protocol/errcode"
)

// Validation and state errors. Calls wrap them with Kafka's message text; the
// request handler maps them to Kafka error codes with errors.Is.
var (
	ErrNotController               = errors.New("controller: this node is not the active controller") // NOT_CONTROLLER
	ErrTopicExists                 = errors.New("controller: topic already exists")                   // TOPIC_ALREADY_EXISTS
	ErrUnknownTopic                = errors.New("controller: unknown topic")                          // UNKNOWN_TOPIC_OR_PARTITION
	ErrUnknownTopicID              = errors.New("controller: unknown topic id")                       // UNKNOWN_TOPIC_ID
	ErrInvalidTopic                = errors.New("controller: invalid topic")                          // INVALID_TOPIC_EXCEPTION
	ErrInvalidPartitions           = errors.New("controller: invalid partitions")                     // INVALID_PARTITIONS
	ErrInvalidReplicationFactor    = errors.New("controller: invalid replication factor")             // INVALID_REPLICATION_FACTOR
	ErrInvalidReplicaAssignment    = errors.New("controller: invalid replica assignment")             // INVALID_REPLICA_ASSIGNMENT
	ErrInvalidConfig               = errors.New("controller: invalid config")                         // INVALID_CONFIG
	ErrInvalidRequest              = errors.New("controller: invalid request")                        // INVALID_REQUEST
	ErrTopicDeletionDisabled       = errors.New("controller: topic deletion is disabled")             // TOPIC_DELETION_DISABLED
	ErrBrokerIDNotRegistered       = errors.New("controller: broker is not registered")               // BROKER_ID_NOT_REGISTERED
	ErrStaleBrokerEpoch            = errors.New("controller: stale broker epoch")                     // STALE_BROKER_EPOCH
	ErrDuplicateBrokerRegistration = errors.New("controller: duplicate broker registration")          // DUPLICATE_BROKER_REGISTRATION
	ErrInconsistentClusterID       = errors.New("controller: inconsistent cluster id")                // INCONSISTENT_CLUSTER_ID
	ErrInvalidUpdateVersion        = errors.New("controller: invalid partition update version")       // INVALID_UPDATE_VERSION
	ErrUnknownPartition            = errors.New("controller: unknown partition")                      // UNKNOWN_TOPIC_OR_PARTITION
	ErrIneligibleReplica           = errors.New("controller: ineligible replica")                     // INELIGIBLE_REPLICA
	ErrFencedLeaderEpoch           = errors.New("controller: fenced leader epoch")                    // FENCED_LEADER_EPOCH
	ErrNewLeaderElected            = errors.New("controller: new leader elected")                     // NEW_LEADER_ELECTED
	ErrElectionNotNeeded           = errors.New("controller: election not needed")                    // ELECTION_NOT_NEEDED
	ErrPreferredLeaderNotAvailable = errors.New("controller: preferred leader not available")         // PREFERRED_LEADER_NOT_AVAILABLE
	ErrEligibleLeadersNotAvailable = errors.New("controller: eligible leaders not available")         // ELIGIBLE_LEADERS_NOT_AVAILABLE
	ErrNoReassignmentInProgress    = errors.New("controller: no reassignment in progress")            // NO_REASSIGNMENT_IN_PROGRESS
	ErrRequestTimedOut             = errors.New("controller: request timed out")                      // REQUEST_TIMED_OUT
	ErrUnknownServerError          = errors.New("controller: unknown server error")                   // UNKNOWN_SERVER_ERROR
	ErrNotLeaderOrFollower         = errors.New("controller: not a replica")                          // NOT_LEADER_OR_FOLLOWER
)

// errorCodes pairs each sentinel with its Kafka error code, most specific
// first. It is used both ways: ErrorCode when answering a controller RPC,
// CodeError when a forwarded call's response comes back.
var errorCodes = []struct {
	err  error
	code int16
}{
	{ErrNotController, errcode.NotController},
	{ErrTopicExists, errcode.TopicAlreadyExists},
	{ErrUnknownTopicID, errcode.UnknownTopicID},
	{ErrUnknownTopic, errcode.UnknownTopicOrPartition},
	{ErrUnknownPartition, errcode.UnknownTopicOrPartition},
	{ErrInvalidTopic, errcode.InvalidTopicException},
	{ErrInvalidPartitions, errcode.InvalidPartitions},
	{ErrInvalidReplicationFactor, errcode.InvalidReplicationFactor},
	{ErrInvalidReplicaAssignment, errcode.InvalidReplicaAssignment},
	{ErrInvalidConfig, errcode.InvalidConfig},
	{ErrInvalidRequest, errcode.InvalidRequest},
	{ErrTopicDeletionDisabled, errcode.TopicDeletionDisabled},
	{ErrBrokerIDNotRegistered, errcode.BrokerIDNotRegistered},
	{ErrStaleBrokerEpoch, errcode.StaleBrokerEpoch},
	{ErrDuplicateBrokerRegistration, errcode.DuplicateBrokerRegistration},
	{ErrInconsistentClusterID, errcode.InconsistentClusterID},
	{ErrInvalidUpdateVersion, errcode.InvalidUpdateVersion},
	{ErrIneligibleReplica, errcode.IneligibleReplica},
	{ErrFencedLeaderEpoch, errcode.FencedLeaderEpoch},
	{ErrNewLeaderElected, errcode.NewLeaderElected},
	{ErrElectionNotNeeded, errcode.ElectionNotNeeded},
	{ErrPreferredLeaderNotAvailable, errcode.PreferredLeaderNotAvailable},
	{ErrEligibleLeadersNotAvailable, errcode.EligibleLeadersNotAvailable},
	{ErrNoReassignmentInProgress, errcode.NoReassignmentInProgress},
	{ErrRequestTimedOut, errcode.RequestTimedOut},
	{ErrThrottlingQuotaExceeded, errcode.ThrottlingQuotaExceeded},
	{ErrUnsupportedVersion, errcode.UnsupportedVersion},
	{ErrNotLeaderOrFollower, errcode.NotLeaderOrFollower},
}

// ErrorCode maps an error of this package to its Kafka code and the message
// Kafka would send: the text wrapped around the sentinel. Nil is 0 and an
// unknown error is UNKNOWN_SERVER_ERROR with its text.
func ErrorCode(err error) (int16, string) {
	if err == nil {
		return 0, ""
	}
	for _, m := range errorCodes {
		if errors.Is(err, m.err) {
			return m.code, strings.TrimPrefix(err.Error(), m.err.Error()+": ")
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return errcode.RequestTimedOut, err.Error()
	}
	return errcode.UnknownServerError, err.Error()
}

// CodeError turns a Kafka error code and message from a controller RPC
// response back into this package's sentinel, wrapped with the message, so
// a forwarded call fails exactly as a local one would. Code 0 is nil.
func CodeError(code int16, msg *string) error {
	if code == 0 {
		return nil
	}
	text := errcode.Message(code)
	if msg != nil && *msg != "" {
		text = *msg
	}
	for _, m := range errorCodes {
		if m.code == code {
			return &codedError{sentinel: m.err, msg: text}
		}
	}
	return &codedError{sentinel: ErrUnknownServerError, msg: errcode.Name(code) + ": " + text}
}

// codedError is a sentinel with Kafka's message, as CodeError builds it.
type codedError struct {
	sentinel error
	msg      string
}

func (e *codedError) Error() string { return e.sentinel.Error() + ": " + e.msg }
func (e *codedError) Unwrap() error { return e.sentinel }
