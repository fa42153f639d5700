package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// OffsetForLeaderEpoch (key 23): versions 0-4.
//
// Behaviour:
//   - Only the partition's leader answers: for the requested LeaderEpoch,
//     the largest epoch at or below it in the leader epoch cache and the
//     offset where it ended (the log end for the current epoch), so a
//     follower or consumer knows where to truncate (KIP-101, KIP-320).
//   - CurrentLeaderEpoch (v2+) is checked: FENCED_LEADER_EPOCH when older
//     than the leader's, UNKNOWN_LEADER_EPOCH when newer.
//   - Authorization (authz.go): CLUSTER_ACTION on the cluster, else DESCRIBE
//     on each topic (TOPIC_AUTHORIZATION_FAILED).
//
// Version notes:
//   - v1: LeaderEpoch in the response. v2: CurrentLeaderEpoch. v3:
//     ReplicaID. v4: flexible.
//
// Where Spool differs from Kafka 4.3:
//   - Versions 0-1 are served (Kafka 4 dropped them).

func (b *Broker) handleOffsetForLeaderEpoch(ctx context.Context, rc *reqCtx, req *protocol.OffsetForLeaderEpochRequest) (*protocol.OffsetForLeaderEpochResponse, error) {
	resp := &protocol.OffsetForLeaderEpochResponse{}
	// CLUSTER_ACTION on the cluster (followers), else DESCRIBE on each
	// topic (authz.go).
	clusterAction := b.authorizeCluster(rc, acl.OpClusterAction)
	for _, t := range req.Topics {
		tr := protocol.OffsetForLeaderEpochResponseOffsetForLeaderTopicResult{Topic: t.Topic}
		allowed := clusterAction || b.authorize(rc, acl.OpDescribe, acl.ResourceTopic, string(t.Topic))
		for _, rp := range t.Partitions {
			pr := protocol.OffsetForLeaderEpochResponseEpochEndOffset{Partition: rp.Partition, LeaderEpoch: -1, EndOffset: -1}
			if !allowed {
				pr.ErrorCode = errcode.TopicAuthorizationFailed
			} else {
				b.endOffsetForEpoch(string(t.Topic), &rp, &pr)
			}
			tr.Partitions = append(tr.Partitions, pr)
		}
		resp.Topics = append(resp.Topics, tr)
	}
	return resp, nil
}

func (b *Broker) endOffsetForEpoch(topic string, rp *protocol.OffsetForLeaderEpochRequestOffsetForLeaderPartition, pr *protocol.OffsetForLeaderEpochResponseEpochEndOffset) {
	p := b.partition(topic, rp.Partition)
	if p == nil {
		pr.ErrorCode = b.missingPartitionCode(topic, rp.Partition)
		return
	}
	// Versions 0-1 have no CurrentLeaderEpoch; it decodes as -1 (no check).
	e, err := p.EndOffsetForEpoch(rp.CurrentLeaderEpoch, rp.LeaderEpoch)
	if err != nil {
		pr.ErrorCode = replicationErrorCode(err)
		return
	}
	pr.LeaderEpoch, pr.EndOffset = e.Epoch, e.EndOffset
}
