package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// deleteRecordsHighWatermark in a DeleteRecords request means "up to the
// high watermark".
const deleteRecordsHighWatermark = -1

func (b *Broker) handleDeleteRecords(ctx context.Context, rc *reqCtx, req *protocol.DeleteRecordsRequest) (*protocol.DeleteRecordsResponse, error) {
	resp := &protocol.DeleteRecordsResponse{}
	for _, t := range req.Topics {
		tr := protocol.DeleteRecordsResponseDeleteRecordsTopicResult{Name: t.Name}
		allowed := b.authorize(rc, acl.OpDelete, acl.ResourceTopic, string(t.Name)) // authz.go
		for _, rp := range t.Partitions {
			pr := protocol.DeleteRecordsResponseDeleteRecordsPartitionResult{PartitionIndex: rp.PartitionIndex, LowWatermark: -1}
			if allowed {
				b.deleteRecords(string(t.Name), rp.PartitionIndex, rp.Offset, &pr)
			} else {
				pr.ErrorCode = errcode.TopicAuthorizationFailed
			}
			if pr.ErrorCode != 0 {
				pr.LowWatermark = -1
				b.metrics.errors.WithLabelValues("DeleteRecords", errName(pr.ErrorCode)).Inc()
			}
			tr.Partitions = append(tr.Partitions, pr)
		}
		resp.Topics = append(resp.Topics, tr)
	}
	return resp, nil
}

func (b *Broker) deleteRecords(topic string, partition int32, offset int64, pr *protocol.DeleteRecordsResponseDeleteRecordsPartitionResult) {
	p := b.partition(topic, partition)
	if p == nil {
		pr.ErrorCode = b.missingPartitionCode(topic, partition)
		return
	}
	if !p.IsLeader() {
		pr.ErrorCode = errcode.NotLeaderOrFollower
		return
	}
	hw := p.Log().HighWatermark()
	if offset == deleteRecordsHighWatermark {
		offset = hw
	}
	if offset < 0 || offset > hw {
		pr.ErrorCode = errcode.OffsetOutOfRange
		return
	}
	low, err := p.Log().DeleteRecordsBefore(offset)
	if err != nil {
		pr.ErrorCode = storageErrorCode(err)
		return
	}
	pr.LowWatermark = low
}
