package controller

import "errors"

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
	ErrInvalidUpdateVersion        = errors.New("controller: invalid partition update version")       // INVALID_UPDATE_VERSION
	ErrUnknownPartition            = errors.New("controller: unknown partition")                      // UNKNOWN_TOPIC_OR_PARTITION
	ErrIneligibleReplica           = errors.New("controller: ineligible replica")                     // INELIGIBLE_REPLICA
)
