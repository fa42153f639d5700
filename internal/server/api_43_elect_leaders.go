package server

import (
	"context"

	"fmt"
	"time"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// ElectLeaders (key 43): versions 0-2.
//
// Behaviour:
//   - The controller runs the elections as Kafka's ReplicationControlManager
//     does and writes them in one batch: PREFERRED (0) moves leadership to
//     the first replica if it is in the ISR and alive
//     (PREFERRED_LEADER_NOT_AVAILABLE otherwise); UNCLEAN (1) elects a live
//     replica only for a partition without a leader
//     (ELIGIBLE_LEADERS_NOT_AVAILABLE if none). A partition that needs no
//     election gets ELECTION_NOT_NEEDED; an unknown election type is
//     INVALID_REQUEST for every partition.
//   - A null partition list means every partition, and then only the
//     partitions where an election happened or failed are reported.
//   - A failure of the whole request (no reachable controller) is the
//     top-level ErrorCode; TimeoutMs bounds the wait for the controller.
//   - The response waits until this broker's image has the new leaders.
//   - Authorization (authz.go): ALTER on the cluster
//     (CLUSTER_AUTHORIZATION_FAILED for the request and every partition
//     named).
//
// Version notes:
//   - v1: ElectionType (v0 is always preferred, KIP-460) and a top-level
//     ErrorCode. v2: flexible.
//
// Where Spool differs from Kafka 4.3:
//   - None known: every field of v0-v2 is read and answered. The
//     controller's election rules were followed from
//     ReplicationControlManager, the errors of a timed-out wait not
//     compared.

// Election types (ElectLeaders v1+; v0 is always preferred).
const (
	electionPreferred = 0
	electionUnclean   = 1
)

func (b *Broker) handleElectLeaders(ctx context.Context, rc *reqCtx, req *protocol.ElectLeadersRequest) (*protocol.ElectLeadersResponse, error) {
	resp := &protocol.ElectLeadersResponse{ReplicaElectionResults: []protocol.ElectLeadersResponseReplicaElectionResult{}}
	electionType := req.ElectionType
	if rc.v == 0 {
		electionType = electionPreferred
	}
	if !b.authorizeCluster(rc, acl.OpAlter) { // authz.go: every partition named, and the request, refused
		resp.ErrorCode = errcode.ClusterAuthorizationFailed
		msg := clusterAuthzMessage
		for _, t := range req.TopicPartitions {
			res := protocol.ElectLeadersResponseReplicaElectionResult{Topic: t.Topic}
			for _, p := range t.Partitions {
				res.PartitionResult = append(res.PartitionResult, protocol.ElectLeadersResponsePartitionResult{PartitionID: p,
					ErrorCode: errcode.ClusterAuthorizationFailed, ErrorMessage: &msg})
			}
			resp.ReplicaElectionResults = append(resp.ReplicaElectionResults, res)
		}
		return resp, nil
	}
	if electionType != electionPreferred && electionType != electionUnclean {
		msg := fmt.Sprintf("Unknown election type %d", electionType)
		for _, t := range req.TopicPartitions {
			res := protocol.ElectLeadersResponseReplicaElectionResult{Topic: t.Topic}
			for _, p := range t.Partitions {
				res.PartitionResult = append(res.PartitionResult, protocol.ElectLeadersResponsePartitionResult{PartitionID: p, ErrorCode: errcode.InvalidRequest, ErrorMessage: &msg})
			}
			resp.ReplicaElectionResults = append(resp.ReplicaElectionResults, res)
		}
		return resp, nil
	}
	if req.TimeoutMs > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(req.TimeoutMs)*time.Millisecond)
		defer cancel()
	}
	// A null list elects every partition; Kafka then reports only the
	// partitions where an election was needed.
	all := req.TopicPartitions == nil
	var parts []controller.TopicPartition
	if !all {
		parts = []controller.TopicPartition{}
		for _, t := range req.TopicPartitions {
			for _, p := range t.Partitions {
				parts = append(parts, controller.TopicPartition{Topic: string(t.Topic), Partition: p})
			}
		}
	}
	parts, errs, err := b.ctrl.ElectLeaders(ctx, controller.Election(electionType), parts)
	if err != nil {
		resp.ErrorCode, _ = controllerErrorCode(err)
		return resp, nil
	}
	changed := false
	for i, tp := range parts {
		code, msg := int16(0), ""
		if errs[i] != nil {
			code, msg = controllerErrorCode(errs[i])
		} else {
			changed = true
		}
		if all && code == errcode.ElectionNotNeeded {
			continue
		}
		pr := protocol.ElectLeadersResponsePartitionResult{PartitionID: tp.Partition, ErrorCode: code}
		if code != 0 {
			pr.ErrorMessage = &msg
		}
		n := len(resp.ReplicaElectionResults)
		if n > 0 && string(resp.ReplicaElectionResults[n-1].Topic) == tp.Topic {
			resp.ReplicaElectionResults[n-1].PartitionResult = append(resp.ReplicaElectionResults[n-1].PartitionResult, pr)
			continue
		}
		resp.ReplicaElectionResults = append(resp.ReplicaElectionResults, protocol.ElectLeadersResponseReplicaElectionResult{
			Topic: protocol.TopicName(tp.Topic), PartitionResult: []protocol.ElectLeadersResponsePartitionResult{pr},
		})
	}
	if changed {
		b.syncImage()
	}
	return resp, nil
}
