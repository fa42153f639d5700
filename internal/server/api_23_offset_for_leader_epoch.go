package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

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
			if pr.ErrorCode != 0 {
				b.metrics.errors.WithLabelValues("OffsetForLeaderEpoch", errName(pr.ErrorCode)).Inc()
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
