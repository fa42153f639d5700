package server

import (
	"context"
	"time"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/replication"
)

// DeleteRecords (key 21): versions 0-2.
//
// Behaviour:
//   - On the partition's leader, moves the log start offset up to Offset
//     (-1: the high watermark); an offset below 0 or above the high
//     watermark is OFFSET_OUT_OF_RANGE. Segments wholly below it are
//     deleted. Followers follow the log start on their next fetch.
//   - As Kafka's DelayedDeleteRecords, the answer waits, up to TimeoutMs,
//     until the low watermark (the smallest log start offset of the leader
//     and its live followers) reaches Offset, and carries it as
//     LowWatermark; still short then: REQUEST_TIMED_OUT; leadership moved
//     meanwhile: NOT_LEADER_OR_FOLLOWER.
//   - Internal topics (__consumer_offsets, __transaction_state,
//     __share_group_state) are refused with INVALID_TOPIC_EXCEPTION, a
//     topic whose cleanup.policy lacks delete with POLICY_VIOLATION, as
//     Kafka's ReplicaManager and Partition.deleteRecordsOnLeader do.
//   - Authorization (authz.go): DELETE on each topic
//     (TOPIC_AUTHORIZATION_FAILED).
//
// Version notes:
//   - v2: flexible.
//
// Where Spool differs from Kafka 4.3:
//   - None known.

// deleteRecordsHighWatermark in a DeleteRecords request means "up to the
// high watermark".
const deleteRecordsHighWatermark = -1

func (b *Broker) handleDeleteRecords(ctx context.Context, rc *reqCtx, req *protocol.DeleteRecordsRequest) (*protocol.DeleteRecordsResponse, error) {
	resp := &protocol.DeleteRecordsResponse{}
	var pending []pendingDelete
	for _, t := range req.Topics {
		tr := protocol.DeleteRecordsResponseDeleteRecordsTopicResult{Name: t.Name}
		allowed := b.authorize(rc, acl.OpDelete, acl.ResourceTopic, string(t.Name)) // authz.go
		for _, rp := range t.Partitions {
			pr := protocol.DeleteRecordsResponseDeleteRecordsPartitionResult{PartitionIndex: rp.PartitionIndex, LowWatermark: -1}
			if !allowed {
				pr.ErrorCode = errcode.TopicAuthorizationFailed
			} else if p, required := b.deleteRecords(string(t.Name), rp.PartitionIndex, rp.Offset, &pr); p != nil {
				pending = append(pending, pendingDelete{p: p, required: required, topic: len(resp.Topics), partition: len(tr.Partitions)})
			}
			tr.Partitions = append(tr.Partitions, pr)
		}
		resp.Topics = append(resp.Topics, tr)
	}
	b.awaitLowWatermarks(ctx, resp, pending, req.TimeoutMs)
	for _, t := range resp.Topics {
		for i := range t.Partitions {
			if pr := &t.Partitions[i]; pr.ErrorCode != 0 {
				pr.LowWatermark = -1
			}
		}
	}
	return resp, nil
}

// pendingDelete is a partition whose DeleteRecords waits for its followers.
type pendingDelete struct {
	p                *replication.Partition
	required         int64
	topic, partition int
}

// deleteRecords moves the leader's log start offset and fills pr; it
// returns the partition and the offset its low watermark must reach when
// the followers have yet to follow.
func (b *Broker) deleteRecords(topic string, partition int32, offset int64, pr *protocol.DeleteRecordsResponseDeleteRecordsPartitionResult) (*replication.Partition, int64) {
	// As Kafka's ReplicaManager, before anything else: a client never moves
	// the log start of an internal topic (the share coordinator prunes
	// __share_group_state itself, through shareStateLog).
	if isInternalTopic(topic) || topic == shareGroupStateTopic {
		pr.ErrorCode = errcode.InvalidTopicException
		return nil, 0
	}
	p := b.partition(topic, partition)
	if p == nil {
		pr.ErrorCode = b.missingPartitionCode(topic, partition)
		return nil, 0
	}
	if !p.IsLeader() {
		pr.ErrorCode = errcode.NotLeaderOrFollower
		return nil, 0
	}
	// Kafka's Partition.deleteRecordsOnLeader: only a log whose
	// cleanup.policy includes delete may lose its head.
	if !p.Settings().Delete() {
		pr.ErrorCode = errcode.PolicyViolation
		return nil, 0
	}
	if offset == deleteRecordsHighWatermark {
		offset = p.Log().HighWatermark()
	}
	if _, err := p.DeleteRecords(offset); err != nil {
		pr.ErrorCode = replicationErrorCode(err)
		return nil, 0
	}
	low, err := p.LowWatermark()
	if err != nil {
		pr.ErrorCode = replicationErrorCode(err)
		return nil, 0
	}
	pr.LowWatermark = low
	if low >= offset {
		return nil, 0
	}
	return p, offset
}

// awaitLowWatermarks waits, up to the request's timeout, until every
// pending partition's low watermark (the smallest log start offset of its
// live replicas) reaches the requested offset, as Kafka's
// DelayedDeleteRecords does; a partition still short gets
// REQUEST_TIMED_OUT, one whose leadership moved NOT_LEADER_OR_FOLLOWER.
func (b *Broker) awaitLowWatermarks(ctx context.Context, resp *protocol.DeleteRecordsResponse, pending []pendingDelete, timeoutMs int32) {
	if len(pending) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(max(timeoutMs, 0))*time.Millisecond)
	defer cancel()
	wake := make(chan struct{}, 1)
	for {
		left := pending[:0]
		for _, d := range pending {
			pr := &resp.Topics[d.topic].Partitions[d.partition]
			d.p.WatchLowWatermark(wake)
			low, err := d.p.LowWatermark()
			switch {
			case err != nil:
				pr.ErrorCode = replicationErrorCode(err)
			case low >= d.required:
				pr.LowWatermark = low
			default:
				left = append(left, d)
				continue
			}
			d.p.UnwatchLowWatermark(wake)
		}
		pending = left
		if len(pending) == 0 {
			return
		}
		select {
		case <-wake:
		case <-ctx.Done():
			for _, d := range pending {
				d.p.UnwatchLowWatermark(wake)
				resp.Topics[d.topic].Partitions[d.partition].ErrorCode = errcode.RequestTimedOut
			}
			return
		}
		for _, d := range pending {
			d.p.UnwatchLowWatermark(wake)
		}
	}
}
