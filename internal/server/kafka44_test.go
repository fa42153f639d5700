package server

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// TestApiVersionsV5 checks KIP-1242 (Kafka 4.4): a client that knows the
// cluster id and node id it means to reach sends both; a mismatch of
// either is REBOOTSTRAP_REQUIRED with no key list, one without the other
// INVALID_REQUEST, a match (or neither) the normal answer.
func TestApiVersionsV5(t *testing.T) {
	node := startTestNode(t)
	cluster := node.broker.image.Load().ClusterID()
	require.NotEmpty(t, cluster)
	other := "AAAAAAAAAAAAAAAAAAAAAA"

	for _, c := range []struct {
		name    string
		cluster *string
		node    int32
		code    int16
	}{
		{"neither", nil, -1, errcode.None},
		{"both match", &cluster, node.broker.nodeID, errcode.None},
		{"other cluster", &other, node.broker.nodeID, errcode.RebootstrapRequired},
		{"other node", &cluster, node.broker.nodeID + 1, errcode.RebootstrapRequired},
		{"cluster without node", &cluster, -1, errcode.InvalidRequest},
		{"node without cluster", nil, node.broker.nodeID, errcode.InvalidRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			// A raw connection: kgo fills in ClusterId and NodeId itself.
			conn, err := net.Dial("tcp", node.addr)
			require.NoError(t, err)
			defer conn.Close()
			req := &protocol.ApiVersionsRequest{ClientSoftwareName: "spool-test", ClientSoftwareVersion: "1.0", ClusterID: c.cluster, NodeID: c.node}
			r, err := rawCall(t, conn, 1, protocol.KeyApiVersions, 5, req)
			require.NoError(t, err)
			resp := r.(*protocol.ApiVersionsResponse)
			require.Equal(t, c.code, resp.ErrorCode)
			if c.code == errcode.RebootstrapRequired {
				require.Empty(t, resp.APIKeys)
			} else {
				require.NotEmpty(t, resp.APIKeys)
			}
		})
	}
}

// TestDeleteGroupsV3 checks that DeleteGroups is served at v3 (Kafka 4.4),
// whose per-group ErrorMessage stays null: Spool's coordinator reports
// codes only.
func TestDeleteGroupsV3(t *testing.T) {
	node := startTestNode(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(node.addr))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := kmsg.NewPtrDeleteGroupsRequest()
	req.Groups = []string{"no-such-group"}
	resp, err := req.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.EqualValues(t, 3, resp.Version)
	require.Len(t, resp.Groups, 1)
	require.Equal(t, errcode.GroupIDNotFound, resp.Groups[0].ErrorCode)
	require.Nil(t, resp.Groups[0].ErrorMessage)
}
