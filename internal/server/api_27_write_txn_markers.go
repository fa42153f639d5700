package server

import (
	"context"

	"github.com/spool-broker/spool/protocol"
)

// WriteTxnMarkers (key 27): versions 1-2.
//
// Behaviour:
//   - Appends a COMMIT or ABORT control batch for the producer to each
//     partition this broker leads, with acks=all, waiting up to 30s for the
//     high watermark (Kafka's request.timeout.ms); a marker invalidates the
//     producer's in-flight transaction verifications (txn_verify.go), and
//     on __consumer_offsets decides the producer's pending transactional
//     offsets. Transaction coordinators on other brokers send it
//     (txn_markers.go); markers for partitions led here are appended
//     directly by the local coordinator.
//   - Unknown partitions get UNKNOWN_TOPIC_OR_PARTITION, partitions led
//     elsewhere NOT_LEADER_OR_FOLLOWER.
//   - Authorization (authz.go): ALTER or CLUSTER_ACTION on the cluster
//     (CLUSTER_AUTHORIZATION_FAILED for every partition).
//
// Version notes:
//   - v1: flexible (v0 was dropped in Kafka 4). v2: TransactionVersion per
//     marker (KIP-1228).
//
//   - A marker older than the producer's epoch is INVALID_PRODUCER_EPOCH,
//     one from an older coordinator epoch TRANSACTION_COORDINATOR_FENCED
//     (storage's producer state decides, as Kafka's).
//
// Where Spool differs from Kafka 4.3:
//   - The v2 TransactionVersion is ignored.

func (th *txnHandlers) handleWriteTxnMarkers(ctx context.Context, rc *reqCtx, req *protocol.WriteTxnMarkersRequest) (*protocol.WriteTxnMarkersResponse, error) {
	if denied := th.b.authorizeWriteTxnMarkers(rc, req); denied != nil { // authz_txn.go
		return denied, nil
	}
	resp := &protocol.WriteTxnMarkersResponse{}
	for _, m := range req.Markers {
		mr := protocol.WriteTxnMarkersResponseWritableTxnMarkerResult{ProducerID: m.ProducerID}
		for _, t := range m.Topics {
			tr := protocol.WriteTxnMarkersResponseWritableTxnMarkerTopicResult{Name: t.Name}
			for _, p := range t.PartitionIndexes {
				code := th.writeMarker(string(t.Name), p, int64(m.ProducerID), m.ProducerEpoch, m.TransactionResult, m.CoordinatorEpoch)
				tr.Partitions = append(tr.Partitions, protocol.WriteTxnMarkersResponseWritableTxnMarkerPartitionResult{PartitionIndex: p, ErrorCode: code})
			}
			mr.Topics = append(mr.Topics, tr)
		}
		resp.Markers = append(resp.Markers, mr)
	}
	return resp, nil
}
