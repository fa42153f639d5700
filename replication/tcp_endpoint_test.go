package replication

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/protocol"
)

// TestTCPEndpointRedialsDeadConnection: a connection kept from an earlier
// request that the leader has closed meanwhile (it restarted while the
// fetcher idled) is dialled again for the next request instead of failing
// it, which would back the fetcher's partitions off for a second; a fresh
// connection that fails is reported.
func TestTCPEndpointRedialsDeadConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	var conns atomic.Int32
	closeAfterOne := make(chan net.Conn, 4)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				// Answer one ListOffsets, then hang up: the next request on
				// this connection finds it dead.
				frame, err := protocol.ReadFrame(nc, 1<<20, nil)
				if err != nil {
					nc.Close()
					return
				}
				hdr, _, err := protocol.ParseRequestHeader(frame)
				if err != nil {
					nc.Close()
					return
				}
				out, _ := protocol.AppendResponse(nil, hdr.CorrelationID, hdr.RequestAPIKey, hdr.RequestAPIVersion, &protocol.ListOffsetsResponse{})
				_, _ = nc.Write(out)
				closeAfterOne <- nc
			}()
		}
	}()
	ep := TCPEndpoints(TCPConfig{NodeID: 2, Resolve: func(int32) (string, error) { return ln.Addr().String(), nil }})(1)
	defer ep.(*tcpEndpoint).Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	_, err = ep.ListOffsets(ctx, &ListOffsetsRequest{ReplicaID: 2})
	require.NoError(t, err)
	(<-closeAfterOne).Close() // the leader goes away with the connection idle
	_, err = ep.ListOffsets(ctx, &ListOffsetsRequest{ReplicaID: 2})
	require.NoError(t, err, "the dead connection is replaced, not reported")
	require.Equal(t, int32(2), conns.Load())

	ln.Close()
	(<-closeAfterOne).Close()
	_, err = ep.ListOffsets(ctx, &ListOffsetsRequest{ReplicaID: 2})
	require.ErrorIs(t, err, ErrUnreachable, "with the leader gone the failure is reported")
}
