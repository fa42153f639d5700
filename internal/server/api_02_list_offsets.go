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
				b.listOffset(rc.v, string(t.Name), req.IsolationLevel, &rp, &pr)
			} else {
				pr.ErrorCode = errcode.TopicAuthorizationFailed
			}
			if rc.v == 0 && pr.ErrorCode == 0 {
				pr.OldStyleOffsets = []int64{}
				if pr.Offset >= 0 && rp.MaxNumOffsets > 0 {
					pr.OldStyleOffsets = []int64{pr.Offset}
				}
			}
			if pr.ErrorCode != 0 {
				b.metrics.errors.WithLabelValues("ListOffsets", errName(pr.ErrorCode)).Inc()
			}
			tr.Partitions = append(tr.Partitions, pr)
		}
		resp.Topics = append(resp.Topics, tr)
	}
	return resp, nil
}

func (b *Broker) listOffset(v int16, topic string, isolation int8, rp *protocol.ListOffsetsRequestListOffsetsPartition, pr *protocol.ListOffsetsResponseListOffsetsPartitionResponse) {
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
