package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/coordinator/share"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// InitializeShareGroupState (key 83): version 0.
//
// Inter-broker (the share coordinator).
//
// Behaviour:
//   - Sets a share partition's state to the given start offset and state
//     epoch with no in-flight records (a ShareSnapshot in
//     __share_group_state). An older state epoch than the one held is
//     FENCED_STATE_EPOCH; NOT_COORDINATOR when this broker does not lead
//     the key's partition.
//   - Authorization: CLUSTER_ACTION on the cluster.
//
// Where Spool differs from Kafka 4.3:
//   - Neither the topic id nor the partition is checked against the
//     metadata (Kafka's share coordinator answers UNKNOWN_TOPIC_OR_PARTITION
//     or INVALID_REQUEST for its reads and writes). A state epoch equal to
//     the one held is combined as a WriteShareGroupState would be, not
//     refused; Kafka's check here was not compared.

func (sh *shareHandlers) handleInitializeShareGroupState(ctx context.Context, rc *reqCtx, req *protocol.InitializeShareGroupStateRequest) (*protocol.InitializeShareGroupStateResponse, error) {
	resp := &protocol.InitializeShareGroupStateResponse{Results: []protocol.InitializeShareGroupStateResponseInitializeStateResult{}}
	allowed := sh.b.authorizeCluster(rc, acl.OpClusterAction)
	for _, t := range req.Topics {
		tr := protocol.InitializeShareGroupStateResponseInitializeStateResult{TopicID: t.TopicID}
		for _, p := range t.Partitions {
			pr := protocol.InitializeShareGroupStateResponsePartitionResult{Partition: p.Partition}
			if !allowed {
				pr.ErrorCode = errcode.ClusterAuthorizationFailed
			} else {
				k := share.Key{GroupID: req.GroupID, TopicID: [16]byte(t.TopicID), Partition: p.Partition}
				pr.ErrorCode = sh.store.Write(ctx, k, share.State{StateEpoch: p.StateEpoch, StartOffset: p.StartOffset})
			}
			if pr.ErrorCode != 0 {
				msg := errcode.Message(pr.ErrorCode)
				pr.ErrorMessage = &msg
			}
			tr.Partitions = append(tr.Partitions, pr)
		}
		resp.Results = append(resp.Results, tr)
	}
	return resp, nil
}
