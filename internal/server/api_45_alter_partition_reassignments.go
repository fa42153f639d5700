package server

import (
	"context"

	"time"

	"github.com/spool-broker/spool/auth/acl"
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
//   - A failure of the whole request (no reachable controller) is the
//     top-level ErrorCode; TimeoutMs bounds the wait for the controller.
//   - The response waits until this broker's image has the change.
//   - Authorization (authz.go): ALTER on the cluster
//     (CLUSTER_AUTHORIZATION_FAILED for the request and every partition).
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
	if !b.authorizeCluster(rc, acl.OpAlter) { // authz.go: the request and every partition refused
		msg := clusterAuthzMessage
		resp.ErrorCode, resp.ErrorMessage = errcode.ClusterAuthorizationFailed, &msg
		for _, t := range req.Topics {
			rt := protocol.AlterPartitionReassignmentsResponseReassignableTopicResponse{Name: t.Name}
			for _, p := range t.Partitions {
				rt.Partitions = append(rt.Partitions, protocol.AlterPartitionReassignmentsResponseReassignablePartitionResponse{
					PartitionIndex: p.PartitionIndex, ErrorCode: errcode.ClusterAuthorizationFailed, ErrorMessage: &msg})
			}
			resp.Responses = append(resp.Responses, rt)
		}
		return resp, nil
	}
	if req.TimeoutMs > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(req.TimeoutMs)*time.Millisecond)
		defer cancel()
	}
	var reqs []controller.Reassignment
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			var replicas []int32
			if p.Replicas != nil {
				replicas = make([]int32, len(p.Replicas))
				for i, id := range p.Replicas {
					replicas[i] = int32(id)
				}
			}
			reqs = append(reqs, controller.Reassignment{Topic: string(t.Name), Partition: p.PartitionIndex, Replicas: replicas})
		}
	}
	errs, err := b.ctrl.AlterPartitionReassignments(ctx, req.AllowReplicationFactorChange, reqs)
	if err != nil {
		code, msg := controllerErrorCode(err)
		resp.ErrorCode, resp.ErrorMessage = code, &msg
		return resp, nil
	}
	i := 0
	for _, t := range req.Topics {
		tr := protocol.AlterPartitionReassignmentsResponseReassignableTopicResponse{Name: t.Name}
		for _, p := range t.Partitions {
			pr := protocol.AlterPartitionReassignmentsResponseReassignablePartitionResponse{PartitionIndex: p.PartitionIndex}
			if errs[i] != nil {
				code, msg := controllerErrorCode(errs[i])
				pr.ErrorCode, pr.ErrorMessage = code, &msg
			}
			i++
			tr.Partitions = append(tr.Partitions, pr)
		}
		resp.Responses = append(resp.Responses, tr)
	}
	b.syncImage()
	return resp, nil
}
