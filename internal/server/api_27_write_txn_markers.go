package server

import (
	"context"

	"github.com/spool-broker/spool/protocol"
)

func (g *txnGlue) handleWriteTxnMarkers(ctx context.Context, rc *reqCtx, req *protocol.WriteTxnMarkersRequest) (*protocol.WriteTxnMarkersResponse, error) {
	resp := &protocol.WriteTxnMarkersResponse{}
	for _, m := range req.Markers {
		mr := protocol.WriteTxnMarkersResponseWritableTxnMarkerResult{ProducerID: m.ProducerID}
		for _, t := range m.Topics {
			tr := protocol.WriteTxnMarkersResponseWritableTxnMarkerTopicResult{Name: t.Name}
			for _, p := range t.PartitionIndexes {
				code := g.b.writeMarker(string(t.Name), p, int64(m.ProducerID), m.ProducerEpoch, m.TransactionResult, m.CoordinatorEpoch)
				tr.Partitions = append(tr.Partitions, protocol.WriteTxnMarkersResponseWritableTxnMarkerPartitionResult{PartitionIndex: p, ErrorCode: code})
			}
			mr.Topics = append(mr.Topics, tr)
		}
		resp.Markers = append(resp.Markers, mr)
	}
	return resp, nil
}
