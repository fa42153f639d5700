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

// TestTxnOffsetCommitV6 checks KIP-1319 (Kafka 4.4): TxnOffsetCommit v6
// names topics by ID (an unknown ID is UNKNOWN_TOPIC_ID, the answer
// carries the ID), a missing group with a generation is
// GROUP_ID_NOT_FOUND (ILLEGAL_GENERATION at v5), and the committed offset
// becomes visible when the transaction commits.
func TestTxnOffsetCommitV6(t *testing.T) {
	node := startTestNode(t)
	createTopic(t, node.addr, "src6", 1, nil)
	var id [16]byte
	require.Eventually(t, func() bool {
		ti := node.broker.image.Load().Topic("src6")
		if ti == nil {
			return false
		}
		id = ti.ID
		return true
	}, 10*time.Second, 10*time.Millisecond)

	rc := dialRaw(t, node.addr)
	rc.findCoordinator("tx6")
	rc.waitGroupCoordinator("g6")
	pid, epoch := rc.initProducer("tx6")
	commit := func(v int16, group string, generation int32, topicID [16]byte) kmsg.TxnOffsetCommitResponseTopic {
		req := kmsg.NewPtrTxnOffsetCommitRequest()
		req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch, req.Generation = "tx6", group, pid, epoch, generation
		tt := kmsg.NewTxnOffsetCommitRequestTopic()
		tt.Topic, tt.TopicID = "src6", topicID
		p := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		p.Partition, p.Offset, p.LeaderEpoch = 0, 42, -1
		tt.Partitions = append(tt.Partitions, p)
		req.Topics = append(req.Topics, tt)
		resp := rc.do(req, v).(*kmsg.TxnOffsetCommitResponse)
		require.Len(t, resp.Topics, 1)
		return resp.Topics[0]
	}

	got := commit(6, "g6", -1, id)
	require.Equal(t, id, got.TopicID)
	require.Zero(t, got.Partitions[0].ErrorCode)

	unknown := id
	unknown[0] ^= 0xff
	got = commit(6, "g6", -1, unknown)
	require.Equal(t, unknown, got.TopicID)
	require.Equal(t, errcode.UnknownTopicID, got.Partitions[0].ErrorCode)

	require.Equal(t, errcode.GroupIDNotFound, commit(6, "no-such-group", 3, id).Partitions[0].ErrorCode)
	require.Equal(t, errcode.IllegalGeneration, commit(5, "no-such-group", 3, id).Partitions[0].ErrorCode)

	require.Zero(t, rc.endTxn(5, "tx6", pid, epoch, true).ErrorCode)
	require.Eventually(t, func() bool {
		off, code := rc.fetchOffset("g6", "src6", 0, true)
		return code == 0 && off == 42
	}, 10*time.Second, 20*time.Millisecond)
}
