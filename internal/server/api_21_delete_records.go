package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// DeleteRecords (key 21): versions 0-2.
//
// Behaviour:
//   - On the partition's leader, moves the log start offset up to Offset
//     (-1: the high watermark); an offset below 0 or above the high
//     watermark is OFFSET_OUT_OF_RANGE. LowWatermark is the new log start
//     offset. Segments wholly below it are deleted.
//   - Authorization (authz.go): DELETE on each topic
//     (TOPIC_AUTHORIZATION_FAILED).
//
// Version notes:
//   - v2: flexible.
//
// Where Spool differs from Kafka 4.3:
//   - The answer is the leader's new log start offset at once; Kafka waits,
//     up to TimeoutMs, for every replica's and answers their minimum.

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
