package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/coordinator/share"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// ReadShareGroupState (key 84): version 0.
//
// Inter-broker (the share coordinator).
//
// Behaviour:
//   - The share coordinator's read (coordinator/share.Store): the state of
//     each share partition this broker coordinates (it leads the key's
//     __share_group_state partition), else NOT_COORDINATOR;
//     COORDINATOR_LOAD_IN_PROGRESS while the partition loads. A share
//     partition never written answers start offset -1 and state epoch 0.
//   - Authorization: CLUSTER_ACTION on the cluster
//     (CLUSTER_AUTHORIZATION_FAILED per partition).
//
// Where Spool differs from Kafka 4.3:
//   - The request's LeaderEpoch is ignored: a read never answers
//     FENCED_LEADER_EPOCH (Kafka's ShareCoordinatorShard fences a read
//     whose leader epoch is older than the one recorded) and never records
//     it (whether Kafka 4.3 does was not compared).
//   - The topic id and partition are not checked against the metadata
//     (Kafka: UNKNOWN_TOPIC_OR_PARTITION; INVALID_REQUEST for a null topic
//     id or a negative partition); an unknown share partition answers as
//     one never written.

func (sh *shareHandlers) handleReadShareGroupState(ctx context.Context, rc *reqCtx, req *protocol.ReadShareGroupStateRequest) (*protocol.ReadShareGroupStateResponse, error) {
	resp := &protocol.ReadShareGroupStateResponse{Results: []protocol.ReadShareGroupStateResponseReadStateResult{}}
	allowed := sh.b.authorizeCluster(rc, acl.OpClusterAction)
	for _, t := range req.Topics {
		tr := protocol.ReadShareGroupStateResponseReadStateResult{TopicID: t.TopicID}
		for _, p := range t.Partitions {
			pr := protocol.ReadShareGroupStateResponsePartitionResult{Partition: p.Partition, StartOffset: -1, StateBatches: []protocol.ReadShareGroupStateResponseStateBatch{}}
			if !allowed {
				pr.ErrorCode = errcode.ClusterAuthorizationFailed
			} else {
				st, found, code := sh.store.Read(share.Key{GroupID: req.GroupID, TopicID: [16]byte(t.TopicID), Partition: p.Partition})
				pr.ErrorCode = code
				if code == 0 && found {
					pr.StateEpoch, pr.StartOffset = st.StateEpoch, st.StartOffset
					for _, b := range st.Batches {
						pr.StateBatches = append(pr.StateBatches, protocol.ReadShareGroupStateResponseStateBatch{
							FirstOffset: b.FirstOffset, LastOffset: b.LastOffset, DeliveryState: int8(b.DeliveryState), DeliveryCount: b.DeliveryCount,
						})
					}
				}
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
