package server

import (
	"errors"
	"strings"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/internal/telemetry"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
	"github.com/spool-broker/spool/replication"
	"github.com/spool-broker/spool/storage"
)

// Go errors become Kafka error codes here, at the edge: storage,
// replication, the controller and record validation return wrapped sentinel
// errors, and the handlers map them with these functions. The codes a
// response carries are counted once, when the request is dispatched
// (conn.countErrors), not by the handlers.

// controllerErrorCode maps a controller error to its Kafka code and the
// message Kafka would send: the text the controller wrapped around its
// sentinel, without Spool's package prefixes.
func controllerErrorCode(err error) (int16, string) {
	code, msg := controller.ErrorCode(err)
	return code, strings.TrimSuffix(msg, ": "+config.ErrUnknownTopicConfig.Error())
}

// replicationErrorCode is the Kafka code of an error from an append or read
// through package replication; storage's errors fall through to
// storageErrorCode.
func replicationErrorCode(err error) int16 {
	switch {
	case errors.Is(err, replication.ErrNotLeader):
		return errcode.NotLeaderOrFollower
	case errors.Is(err, replication.ErrFencedLeaderEpoch):
		return errcode.FencedLeaderEpoch
	case errors.Is(err, replication.ErrUnknownLeaderEpoch):
		return errcode.UnknownLeaderEpoch
	case errors.Is(err, replication.ErrNotEnoughReplicas):
		return errcode.NotEnoughReplicas
	case errors.Is(err, replication.ErrNotEnoughReplicasAfterAppend):
		return errcode.NotEnoughReplicasAfterAppend
	case errors.Is(err, replication.ErrTimedOut):
		return errcode.RequestTimedOut
	case errors.Is(err, replication.ErrUnknownTopicOrPartition):
		return errcode.UnknownTopicOrPartition
	}
	return storageErrorCode(err)
}

func recordErrorCode(err error) int16 {
	switch {
	case errors.Is(err, records.ErrUnsupportedMagic):
		return errcode.UnsupportedForMessageFormat
	case errors.Is(err, records.ErrInvalidRecord):
		return errcode.InvalidRecord
	default:
		return errcode.CorruptMessage
	}
}

// missingPartitionCode is the error for a partition this broker doesn't host.
func (b *Broker) missingPartitionCode(topic string, partition int32) int16 {
	t := b.image.Load().Topic(topic)
	if t == nil || partition < 0 || int(partition) >= len(t.Partitions) {
		return errcode.UnknownTopicOrPartition
	}
	if b.replicas.Offline(storage.TopicPartition{Topic: topic, Partition: partition}) {
		return errcode.KafkaStorageError // its log dir failed (Kafka's HostedPartition.Offline)
	}
	return errcode.NotLeaderOrFollower
}

func storageErrorCode(err error) int16 {
	switch {
	case errors.Is(err, storage.ErrOffsetOutOfRange):
		return errcode.OffsetOutOfRange
	case errors.Is(err, storage.ErrCorrupt):
		return errcode.CorruptMessage
	case errors.Is(err, storage.ErrOutOfOrderSequence):
		return errcode.OutOfOrderSequenceNumber
	case errors.Is(err, storage.ErrInvalidProducerEpoch):
		return errcode.InvalidProducerEpoch
	case errors.Is(err, storage.ErrInvalidTxnState):
		return errcode.InvalidTxnState
	case errors.Is(err, storage.ErrCoordinatorFenced):
		return errcode.TransactionCoordinatorFenced
	case errors.Is(err, errTxnVerification):
		return errcode.InvalidTxnState
	default:
		return errcode.KafkaStorageError
	}
}

// aclErrorFields turns a controller ACL result into Kafka's code and
// message.
func aclErrorFields(err error) (int16, *string) {
	if err == nil {
		return errcode.None, nil
	}
	var ae *acl.Error
	if errors.As(err, &ae) {
		return ae.Code, &ae.Message
	}
	code, msg := controllerErrorCode(err)
	return code, &msg
}

// telemetryErrorCode is the Kafka code of an error from package telemetry.
func telemetryErrorCode(err error) int16 {
	switch {
	case err == nil:
		return errcode.None
	case errors.Is(err, telemetry.ErrThrottled):
		return errcode.ThrottlingQuotaExceeded
	case errors.Is(err, telemetry.ErrUnknownSubscriptionID):
		return errcode.UnknownSubscriptionID
	case errors.Is(err, telemetry.ErrTooLarge):
		return errcode.TelemetryTooLarge
	case errors.Is(err, telemetry.ErrUnsupportedCompression):
		return errcode.UnsupportedCompressionType
	case errors.Is(err, telemetry.ErrMalformed):
		return errcode.InvalidRecord
	}
	return errcode.InvalidRequest
}
