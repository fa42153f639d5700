package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/coordinator/share"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// DeleteShareGroupState (key 86): version 0.
//
// Inter-broker (the share coordinator).
//
// Behaviour:
//   - The share coordinator's delete: a tombstone for each share
//     partition's state in __share_group_state (DeleteGroups and
//     DeleteShareGroupOffsets of a share group end here).
//   - Authorization: CLUSTER_ACTION on the cluster.
//
// Where Spool differs from Kafka 4.3:
//   - A share partition without state is NONE (nothing to delete), and the
//     topic id and partition are not checked against the metadata; Kafka
//     4.3.1's spec lists GROUP_ID_NOT_FOUND, UNKNOWN_TOPIC_OR_PARTITION and
//     FENCED_STATE_EPOCH for this API, which Spool never answers. Kafka's
//     conditions for them were not compared.

func (sh *shareHandlers) handleDeleteShareGroupState(ctx context.Context, rc *reqCtx, req *protocol.DeleteShareGroupStateRequest) (*protocol.DeleteShareGroupStateResponse, error) {
	resp := &protocol.DeleteShareGroupStateResponse{Results: []protocol.DeleteShareGroupStateResponseDeleteStateResult{}}
	allowed := sh.b.authorizeCluster(rc, acl.OpClusterAction)
	for _, t := range req.Topics {
		tr := protocol.DeleteShareGroupStateResponseDeleteStateResult{TopicID: t.TopicID}
		for _, p := range t.Partitions {
			pr := protocol.DeleteShareGroupStateResponsePartitionResult{Partition: p.Partition}
			if !allowed {
				pr.ErrorCode = errcode.ClusterAuthorizationFailed
			} else {
				pr.ErrorCode = sh.store.Delete(ctx, share.Key{GroupID: req.GroupID, TopicID: [16]byte(t.TopicID), Partition: p.Partition})
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
