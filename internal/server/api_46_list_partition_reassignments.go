package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// ListPartitionReassignments (key 46): version 0.
//
// Behaviour:
//   - Lists the partitions with adding or removing replicas, of every topic
//     for a null topic list; unknown topics and partitions are skipped, as
//     Kafka skips them.
//   - Authorization (authz.go): DESCRIBE on the cluster
//     (CLUSTER_AUTHORIZATION_FAILED).
//
// Where Spool differs from Kafka 4.3:
//   - None known: the one request field (Topics, null for all) is read
//     and every response field answered.

func (b *Broker) handleListPartitionReassignments(ctx context.Context, rc *reqCtx, req *protocol.ListPartitionReassignmentsRequest) (*protocol.ListPartitionReassignmentsResponse, error) {
	resp := &protocol.ListPartitionReassignmentsResponse{Topics: []protocol.ListPartitionReassignmentsResponseOngoingTopicReassignment{}}
	if !b.authorizeCluster(rc, acl.OpDescribe) { // authz.go
		msg := clusterAuthzMessage
		resp.ErrorCode, resp.ErrorMessage = errcode.ClusterAuthorizationFailed, &msg
		return resp, nil
	}
	img := b.image.Load()
	add := func(name string, partitions []int32) {
		t := img.Topic(name)
		if t == nil {
			return // Kafka skips unknown topics and partitions
		}
		ot := protocol.ListPartitionReassignmentsResponseOngoingTopicReassignment{Name: protocol.TopicName(name)}
		for _, i := range partitions {
			if i < 0 || int(i) >= len(t.Partitions) {
				continue
			}
			p := t.Partitions[i]
			if len(p.AddingReplicas) == 0 && len(p.RemovingReplicas) == 0 {
				continue
			}
			ot.Partitions = append(ot.Partitions, protocol.ListPartitionReassignmentsResponseOngoingPartitionReassignment{
				PartitionIndex: i, Replicas: brokerIDs(p.Replicas),
				AddingReplicas: brokerIDs(p.AddingReplicas), RemovingReplicas: brokerIDs(p.RemovingReplicas),
			})
		}
		if len(ot.Partitions) > 0 {
			resp.Topics = append(resp.Topics, ot)
		}
	}
	if req.Topics == nil {
		for _, t := range img.Topics() {
			all := make([]int32, len(t.Partitions))
			for i := range all {
				all[i] = int32(i)
			}
			add(t.Name, all)
		}
		return resp, nil
	}
	for _, t := range req.Topics {
		add(string(t.Name), t.PartitionIndexes)
	}
	return resp, nil
}
