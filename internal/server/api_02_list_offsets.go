package server

import (
	"context"
	"errors"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
	"github.com/spool-broker/spool/replication"
)

// ListOffsets (key 2): versions 0-11.
//
// Behaviour:
//   - Only the leader answers; CurrentLeaderEpoch is checked (v4+).
//   - Timestamp -1 (latest) is the high watermark, or the last stable offset
//     under read_committed; for a replica (ReplicaID other than -1, as a
//     follower asks after OFFSET_OUT_OF_RANGE) it is the log end offset.
//     -2 (earliest) and -4 (earliest local) are the log start offset; -3 is
//     the record with the largest timestamp.
//   - A timestamp >= 0 finds the first record at or after it, and answers
//     that record's own offset and timestamp (not its batch's); none gives
//     offset -1.
//   - Any other negative timestamp is INVALID_REQUEST.
//   - LeaderEpoch is the current epoch for latest, else the epoch the
//     answered offset was written in.
//   - Authorization (authz.go): DESCRIBE on each topic
//     (TOPIC_AUTHORIZATION_FAILED).
//
// Version notes:
//   - v0: OldStyleOffsets (MaxNumOffsets). v1: one offset with its
//     timestamp. v2: IsolationLevel. v4: CurrentLeaderEpoch and LeaderEpoch.
//   - v6: flexible. v7: -3 max timestamp (KIP-734). v8: -4 earliest local
//     (KIP-405). v9: -5 latest tiered (KIP-1005). v10: TimeoutMs for
//     remote lookups (KIP-1075). v11: -6 earliest pending upload (KIP-1023).
//
// Where Spool differs from Kafka 4.3:
//   - v0 is served (Kafka 4 dropped it); OldStyleOffsets holds at most the
//     one offset found, not a list of segment base offsets.
//   - No tiered storage: -5 and -6 answer offset -1, and TimeoutMs is
//     unused.

// Special ListOffsets timestamps.
const (
	latestTimestamp          = -1
	earliestTimestamp        = -2
	maxTimestamp             = -3 // v7+
	earliestLocalTimestamp   = -4 // v8+
	latestTieredTimestamp    = -5 // v9+
	earliestPendingTimestamp = -6 // v11+
)

var errFound = errors.New("found")

func (b *Broker) handleListOffsets(ctx context.Context, rc *reqCtx, req *protocol.ListOffsetsRequest) (*protocol.ListOffsetsResponse, error) {
	resp := &protocol.ListOffsetsResponse{}
	for _, t := range req.Topics {
		tr := protocol.ListOffsetsResponseListOffsetsTopicResponse{Name: t.Name}
		// One check per topic: DESCRIBE (authz.go).
		allowed := b.authorize(rc, acl.OpDescribe, acl.ResourceTopic, string(t.Name))
		for _, rp := range t.Partitions {
			pr := protocol.ListOffsetsResponseListOffsetsPartitionResponse{
				PartitionIndex: rp.PartitionIndex, Timestamp: -1, Offset: -1, LeaderEpoch: -1,
			}
			if allowed {
				b.listOffset(rc.v, string(t.Name), int32(req.ReplicaID), req.IsolationLevel, &rp, &pr)
			} else {
				pr.ErrorCode = errcode.TopicAuthorizationFailed
			}
			if rc.v == 0 && pr.ErrorCode == 0 {
				pr.OldStyleOffsets = []int64{}
				if pr.Offset >= 0 && rp.MaxNumOffsets > 0 {
					pr.OldStyleOffsets = []int64{pr.Offset}
				}
			}
			tr.Partitions = append(tr.Partitions, pr)
		}
		resp.Topics = append(resp.Topics, tr)
	}
	return resp, nil
}

func (b *Broker) listOffset(v int16, topic string, replicaID int32, isolation int8, rp *protocol.ListOffsetsRequestListOffsetsPartition, pr *protocol.ListOffsetsResponseListOffsetsPartitionResponse) {
	p := b.partition(topic, rp.PartitionIndex)
	if p == nil {
		pr.ErrorCode = b.missingPartitionCode(topic, rp.PartitionIndex)
		return
	}
	epoch, code := leaderCheck(p, rp.CurrentLeaderEpoch)
	if code != 0 {
		pr.ErrorCode = code
		return
	}
	l := p.Log()
	switch ts := rp.Timestamp; {
	case ts == latestTimestamp && replicaID != -1:
		// A follower (Kafka: any replica id but the consumer's -1) is
		// not bounded by the high watermark: the leader's log end, from
		// the one replica path (replication.Manager.ListOffsets).
		res, err := b.replicas.ListOffsets(context.Background(), &replication.ListOffsetsRequest{ReplicaID: replicaID,
			Partitions: []replication.ListOffsetsPartition{{TopicPartition: p.TopicPartition(), CurrentLeaderEpoch: rp.CurrentLeaderEpoch, Timestamp: replication.LatestTimestamp}}})
		if err != nil {
			pr.ErrorCode = replicationErrorCode(err)
			return
		}
		if err := res.Partitions[0].Err; err != nil {
			pr.ErrorCode = replicationErrorCode(err)
			return
		}
		pr.Offset, pr.LeaderEpoch = res.Partitions[0].Offset, res.Partitions[0].LeaderEpoch
	case ts == latestTimestamp:
		pr.Offset = l.HighWatermark()
		if isolation == readCommitted {
			pr.Offset = l.LastStableOffset()
		}
		pr.LeaderEpoch = epoch
	case ts == earliestTimestamp || ts == earliestLocalTimestamp:
		pr.Offset = l.LogStartOffset()
		pr.LeaderEpoch = epochAt(p, pr.Offset)
	case ts == maxTimestamp:
		to, ok := l.MaxTimestamp()
		if !ok {
			return
		}
		b.exactRecord(p, to.Offset, func(r *records.Record) bool { return r.Timestamp >= to.Timestamp }, pr)
	case ts == latestTieredTimestamp || ts == earliestPendingTimestamp:
		// No tiered storage: nothing is tiered or pending upload.
	case ts < 0:
		pr.ErrorCode = errcode.InvalidRequest
	default:
		to, ok, err := l.OffsetForTimestamp(ts)
		if err != nil {
			pr.ErrorCode = storageErrorCode(err)
			return
		}
		if !ok {
			return
		}
		b.exactRecord(p, to.Offset, func(r *records.Record) bool { return r.Timestamp >= ts }, pr)
	}
}

// exactRecord finds, from the batch holding offset onward, the first record
// matching, as Kafka answers timestamp lookups with a record's offset and
// timestamp (not its batch's).
func (b *Broker) exactRecord(p *replication.Partition, offset int64, match func(*records.Record) bool, pr *protocol.ListOffsetsResponseListOffsetsPartitionResponse) {
	hw := p.Log().HighWatermark()
	for offset < hw {
		res, err := p.Log().Read(offset, 1, hw, true)
		if err != nil || res.Size == 0 {
			return
		}
		buf, err := res.ReadInto(nil)
		if err != nil {
			pr.ErrorCode = errcode.KafkaStorageError
			return
		}
		next := offset
		for batch := range records.Batches(buf) {
			h, err := records.ParseHeader(batch)
			if err != nil {
				return
			}
			next = h.LastOffset() + 1
			err = records.ForEachRecord(batch, maxDecompressedBatch, func(r *records.Record) error {
				if r.Offset >= offset && match(r) {
					pr.Offset, pr.Timestamp = r.Offset, r.Timestamp
					return errFound
				}
				return nil
			})
			if errors.Is(err, errFound) {
				pr.LeaderEpoch = epochAt(p, pr.Offset)
				return
			}
		}
		if next <= offset {
			return
		}
		offset = next
	}
}

// epochAt is the leader epoch under which offset was written.
func epochAt(p *replication.Partition, offset int64) int32 {
	epoch := int32(-1)
	for _, e := range p.Log().LeaderEpochCache().Entries() {
		if e.StartOffset > offset {
			break
		}
		epoch = e.Epoch
	}
	return epoch
}
