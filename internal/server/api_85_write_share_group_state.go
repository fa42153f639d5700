package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/coordinator/share"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// WriteShareGroupState (key 85): versions 0-1.
//
// Inter-broker (the share coordinator).
//
// Behaviour:
//   - The share coordinator's write (coordinator/share.Store.Write): the
//     request's state batches are combined into the share partition's
//     state (start offset and leader epoch -1: unchanged) once committed to
//     __share_group_state, as a ShareUpdate record of what changed, or a
//     ShareSnapshot for the first write, a newer state epoch, and after
//     share.coordinator.snapshot.update.records.per.snapshot updates.
//     A state epoch older than the one held is FENCED_STATE_EPOCH;
//     NOT_COORDINATOR when this broker does not lead the key's partition.
//   - Authorization: CLUSTER_ACTION on the cluster.
//
// Version notes:
//   - v0 (KIP-932). v1 (KIP-1226) adds DeliveryCompleteCount per partition
//     to the request.
//
// Where Spool differs from Kafka 4.3:
//   - v1 DeliveryCompleteCount is ignored (the state batches say it).
//   - A newer state epoch replaces the state with a snapshot (Kafka keeps
//     the state epoch on writes; Spool's own resets write through here).
//   - The partition's LeaderEpoch is stored but not checked: no
//     FENCED_LEADER_EPOCH for an older one (Kafka's ShareCoordinatorShard
//     fences it), and the topic id and partition are not checked against
//     the metadata (Kafka: UNKNOWN_TOPIC_OR_PARTITION; INVALID_REQUEST for
//     a null topic id or a negative partition).

func (sh *shareHandlers) handleWriteShareGroupState(ctx context.Context, rc *reqCtx, req *protocol.WriteShareGroupStateRequest) (*protocol.WriteShareGroupStateResponse, error) {
	resp := &protocol.WriteShareGroupStateResponse{Results: []protocol.WriteShareGroupStateResponseWriteStateResult{}}
	allowed := sh.b.authorizeCluster(rc, acl.OpClusterAction)
	for _, t := range req.Topics {
		tr := protocol.WriteShareGroupStateResponseWriteStateResult{TopicID: t.TopicID}
		for _, p := range t.Partitions {
			pr := protocol.WriteShareGroupStateResponsePartitionResult{Partition: p.Partition}
			if !allowed {
				pr.ErrorCode = errcode.ClusterAuthorizationFailed
			} else {
				st := share.State{StateEpoch: p.StateEpoch, LeaderEpoch: p.LeaderEpoch, StartOffset: p.StartOffset}
				for _, b := range p.StateBatches {
					st.Batches = append(st.Batches, share.StateBatch{FirstOffset: b.FirstOffset, LastOffset: b.LastOffset,
						DeliveryState: share.RecordState(b.DeliveryState), DeliveryCount: b.DeliveryCount})
				}
				pr.ErrorCode = sh.store.Write(ctx, share.Key{GroupID: req.GroupID, TopicID: [16]byte(t.TopicID), Partition: p.Partition}, st)
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
