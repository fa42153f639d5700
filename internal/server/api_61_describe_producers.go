package server

import (
	"context"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// DescribeProducers (key 61): version 0.
//
// Behaviour:
//   - For each partition this broker leads, the producers with state in its
//     log: epoch, last sequence and timestamp, coordinator epoch and the
//     first offset of an open transaction (-1 if none) (KIP-664).
//   - Unknown partitions get UNKNOWN_TOPIC_OR_PARTITION, partitions led
//     elsewhere NOT_LEADER_OR_FOLLOWER.
//   - Authorization (authz.go): READ on each topic
//     (TOPIC_AUTHORIZATION_FAILED).
//
// Where Spool differs from Kafka 4.3:
//   - None known: every field of the version served is read and
//     answered.

func (th *txnHandlers) handleDescribeProducers(ctx context.Context, rc *reqCtx, req *protocol.DescribeProducersRequest) (*protocol.DescribeProducersResponse, error) {
	resp := &protocol.DescribeProducersResponse{}
	for _, t := range req.Topics {
		if denied := th.b.describeProducersDenied(rc, t); denied != nil { // authz_txn.go
			resp.Topics = append(resp.Topics, *denied)
			continue
		}
		tr := protocol.DescribeProducersResponseTopicResponse{Name: t.Name}
		for _, idx := range t.PartitionIndexes {
			pr := protocol.DescribeProducersResponsePartitionResponse{PartitionIndex: idx}
			p := th.b.partition(string(t.Name), idx)
			switch {
			case p == nil:
				pr.ErrorCode = th.b.missingPartitionCode(string(t.Name), idx)
			case !p.IsLeader():
				pr.ErrorCode = errcode.NotLeaderOrFollower
			default:
				for _, s := range p.Log().ActiveProducers() {
					pr.ActiveProducers = append(pr.ActiveProducers, protocol.DescribeProducersResponseProducerState{
						ProducerID: protocol.ProducerID(s.ProducerID), ProducerEpoch: int32(s.Epoch), LastSequence: s.LastSequence,
						LastTimestamp: s.LastTimestamp, CoordinatorEpoch: s.CoordinatorEpoch, CurrentTxnStartOffset: s.CurrentTxnStartOffset,
					})
				}
			}
			tr.Partitions = append(tr.Partitions, pr)
		}
		resp.Topics = append(resp.Topics, tr)
	}
	return resp, nil
}
