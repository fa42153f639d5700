package server

import (
	"context"
	"fmt"
	"slices"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// AlterPartitionReassignments (key 45): versions 0-1.
//
// Behaviour:
//   - Each partition's new replica list is validated as Kafka's
//     ReplicationControlManager does (empty list, duplicate or unregistered
//     brokers: INVALID_REPLICA_ASSIGNMENT); null replicas cancel a
//     reassignment (NO_REASSIGNMENT_IN_PROGRESS if none). Unknown partitions
//     are UNKNOWN_TOPIC_OR_PARTITION.
//   - The response waits until this broker's image has the change.
//
// Version notes:
//   - v1: AllowReplicationFactorChange (v0 always allows it): a new
//     replica count is otherwise INVALID_REPLICATION_FACTOR.
//
// Where Spool differs from Kafka 4.3:
//   - Only a reordering of the same replicas completes; moving a partition
//     to or from a broker is INVALID_REPLICA_ASSIGNMENT (Spool does not
//     copy replicas between brokers yet).

func (b *Broker) handleAlterPartitionReassignments(ctx context.Context, rc *reqCtx, req *protocol.AlterPartitionReassignmentsRequest) (*protocol.AlterPartitionReassignmentsResponse, error) {
	resp := &protocol.AlterPartitionReassignmentsResponse{
		AllowReplicationFactorChange: req.AllowReplicationFactorChange,
		Responses:                    []protocol.AlterPartitionReassignmentsResponseReassignableTopicResponse{},
	}
	if rc.v == 0 {
		req.AllowReplicationFactorChange = true // v0 has no flag and allows it
	}
	changed := false
	for _, t := range req.Topics {
		tr := protocol.AlterPartitionReassignmentsResponseReassignableTopicResponse{Name: t.Name}
		for _, p := range t.Partitions {
			pr := protocol.AlterPartitionReassignmentsResponseReassignablePartitionResponse{PartitionIndex: p.PartitionIndex}
			code, msg, moved := b.reassign(ctx, string(t.Name), p.PartitionIndex, p.Replicas, req.AllowReplicationFactorChange)
			if code != 0 {
				pr.ErrorCode, pr.ErrorMessage = code, &msg
			}
			changed = changed || moved
			tr.Partitions = append(tr.Partitions, pr)
		}
		resp.Responses = append(resp.Responses, tr)
	}
	if changed {
		b.syncImage()
	}
	return resp, nil
}

// reassign validates a reassignment like Kafka's ReplicationControlManager.
// A reassignment completes at once when the target holds the same replicas
// (a reorder); moving data between brokers is not implemented yet.
func (b *Broker) reassign(ctx context.Context, topic string, partition int32, target []protocol.BrokerID, allowRFChange bool) (int16, string, bool) {
	img := b.ctrl.Image()
	t := img.Topic(topic)
	if t == nil || partition < 0 || int(partition) >= len(t.Partitions) {
		return errcode.UnknownTopicOrPartition, errcode.Message(errcode.UnknownTopicOrPartition), false
	}
	p := t.Partitions[partition]
	if target == nil { // cancel
		if len(p.AddingReplicas) == 0 && len(p.RemovingReplicas) == 0 {
			return errcode.NoReassignmentInProgress, errcode.Message(errcode.NoReassignmentInProgress), false
		}
		return 0, "", false
	}
	replicas := make([]int32, len(target))
	for i, id := range target {
		replicas[i] = int32(id)
	}
	if len(replicas) == 0 {
		return errcode.InvalidReplicaAssignment, "The manual partition assignment includes an empty replica list.", false
	}
	seen := map[int32]bool{}
	for _, id := range replicas {
		if seen[id] {
			return errcode.InvalidReplicaAssignment, fmt.Sprintf("The manual partition assignment includes the broker %d more than once.", id), false
		}
		seen[id] = true
		if img.Broker(id) == nil {
			return errcode.InvalidReplicaAssignment, fmt.Sprintf("The manual partition assignment includes broker %d, but no such broker is registered.", id), false
		}
	}
	if !allowRFChange && len(replicas) != len(p.Replicas) {
		return errcode.InvalidReplicationFactor, fmt.Sprintf("The replication factor is changed from %d to %d", len(p.Replicas), len(replicas)), false
	}
	if slices.Equal(replicas, p.Replicas) {
		return 0, "", false
	}
	for _, id := range replicas {
		if !slices.Contains(p.Replicas, id) {
			return errcode.InvalidReplicaAssignment, fmt.Sprintf("Moving partition %s-%d to broker %d is not supported: Spool does not copy replicas between brokers yet.", topic, partition, id), false
		}
	}
	for _, id := range p.Replicas {
		if !slices.Contains(replicas, id) {
			return errcode.InvalidReplicaAssignment, fmt.Sprintf("Removing broker %d from partition %s-%d is not supported yet.", id, topic, partition), false
		}
	}
	ch := controller.PartitionChange{TopicID: t.ID, Partition: partition, Leader: controller.NoLeaderChange, Replicas: replicas, PartitionEpoch: p.PartitionEpoch}
	if _, err := b.ctrl.ChangePartition(ctx, ch); err != nil {
		code, msg := controllerErrorCode(err)
		return code, msg, false
	}
	return 0, "", true
}
