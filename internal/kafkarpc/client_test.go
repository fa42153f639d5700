package kafkarpc

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/protocol"
)

// serveWriteTxnMarkers answers every WriteTxnMarkers request with each
// partition's index as its error code, counting accepted connections.
func serveWriteTxnMarkers(t *testing.T, conns *atomic.Int32) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer nc.Close()
				for {
					frame, err := protocol.ReadFrame(nc, 1<<20, nil)
					if err != nil {
						return
					}
					hdr, req, err := protocol.ParseRequest(frame)
					if err != nil {
						return
					}
					resp := &protocol.WriteTxnMarkersResponse{}
					for _, m := range req.(*protocol.WriteTxnMarkersRequest).Markers {
						mr := protocol.WriteTxnMarkersResponseWritableTxnMarkerResult{ProducerID: m.ProducerID}
						for _, tp := range m.Topics {
							tr := protocol.WriteTxnMarkersResponseWritableTxnMarkerTopicResult{Name: tp.Name}
							for _, p := range tp.PartitionIndexes {
								tr.Partitions = append(tr.Partitions, protocol.WriteTxnMarkersResponseWritableTxnMarkerPartitionResult{PartitionIndex: p, ErrorCode: int16(p)})
							}
							mr.Topics = append(mr.Topics, tr)
						}
						resp.Markers = append(resp.Markers, mr)
					}
					out, err := protocol.AppendResponse(nil, hdr.CorrelationID, hdr.RequestAPIKey, hdr.RequestAPIVersion, resp)
					if err != nil {
						return
					}
					if _, err := nc.Write(out); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestClientCall: requests are answered at the newest stable version over
// one pooled connection; a node that cannot be reached is ErrTransport.
func TestClientCall(t *testing.T) {
	var conns atomic.Int32
	addr := serveWriteTxnMarkers(t, &conns)
	c := New("test")
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 3 {
		r, err := c.Call(ctx, addr, &protocol.WriteTxnMarkersRequest{Markers: []protocol.WriteTxnMarkersRequestWritableTxnMarker{{
			ProducerID: 7, ProducerEpoch: 1, TransactionResult: true,
			Topics: []protocol.WriteTxnMarkersRequestWritableTxnMarkerTopic{{Name: "t", PartitionIndexes: []int32{3, 5}}},
		}}})
		require.NoError(t, err)
		parts := r.(*protocol.WriteTxnMarkersResponse).Markers[0].Topics[0].Partitions
		require.Equal(t, []int16{3, 5}, []int16{parts[0].ErrorCode, parts[1].ErrorCode})
	}
	require.EqualValues(t, 1, conns.Load(), "one connection, reused")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := ln.Addr().String()
	ln.Close()
	_, err = c.Call(ctx, dead, &protocol.WriteTxnMarkersRequest{})
	require.True(t, errors.Is(err, ErrTransport), "%v", err)
}
