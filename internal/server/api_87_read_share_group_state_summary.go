package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/coordinator/share"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// ReadShareGroupStateSummary (key 87): versions 0-1.
//
// Inter-broker (the share coordinator).
//
// Behaviour:
//   - A share partition's start offset, state epoch and leader epoch
//     without its state batches (start offset -1 when never written);
//     v1 DeliveryCompleteCount: the acknowledged and archived records past
//     the start offset.
//   - NOT_COORDINATOR when this broker does not lead the key's
//     __share_group_state partition, COORDINATOR_LOAD_IN_PROGRESS while it
//     loads.
//   - Authorization: CLUSTER_ACTION on the cluster.
//
// Version notes:
//   - v0 (KIP-932). v1 (KIP-1226) adds DeliveryCompleteCount per partition
//     to the response (computed from the state batches; not encoded in v0).
//
// Where Spool differs from Kafka 4.3:
//   - The request's LeaderEpoch is ignored (no FENCED_LEADER_EPOCH, which
//     Kafka 4.3.1's spec lists), and the topic id and partition are not
//     checked against the metadata (no UNKNOWN_TOPIC_OR_PARTITION).

func (sh *shareHandlers) handleReadShareGroupStateSummary(ctx context.Context, rc *reqCtx, req *protocol.ReadShareGroupStateSummaryRequest) (*protocol.ReadShareGroupStateSummaryResponse, error) {
	resp := &protocol.ReadShareGroupStateSummaryResponse{Results: []protocol.ReadShareGroupStateSummaryResponseReadStateSummaryResult{}}
	allowed := sh.b.authorizeCluster(rc, acl.OpClusterAction)
	for _, t := range req.Topics {
		tr := protocol.ReadShareGroupStateSummaryResponseReadStateSummaryResult{TopicID: t.TopicID}
		for _, p := range t.Partitions {
			pr := protocol.ReadShareGroupStateSummaryResponsePartitionResult{Partition: p.Partition, StartOffset: -1, LeaderEpoch: -1}
			if !allowed {
				pr.ErrorCode = errcode.ClusterAuthorizationFailed
			} else {
				st, found, code := sh.store.Read(share.Key{GroupID: req.GroupID, TopicID: [16]byte(t.TopicID), Partition: p.Partition})
				pr.ErrorCode = code
				if code == 0 && found {
					pr.StateEpoch, pr.LeaderEpoch, pr.StartOffset = st.StateEpoch, st.LeaderEpoch, st.StartOffset
					for _, b := range st.Batches {
						if b.DeliveryState == share.Acknowledged || b.DeliveryState == share.Archived {
							pr.DeliveryCompleteCount += int32(b.LastOffset - max(b.FirstOffset, st.StartOffset) + 1)
						}
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
