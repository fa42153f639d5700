package node_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/quota"
)

// TestClientQuotasInCluster: AlterClientQuotas sent to a broker that is
// not the active controller is forwarded to it, the quota reaches every
// node's metadata image, and every broker enforces it and describes it.
func TestClientQuotasInCluster(t *testing.T) {
	c := newTestCluster(t, []clusterSpec{
		{1, "broker,controller", "voters"},
		{2, "broker", "voters"},
		{3, "broker", "voters"},
	})
	for _, id := range []int32{1, 2, 3} {
		c.start(id)
	}
	for _, id := range []int32{1, 2, 3} {
		c.waitReady(id)
	}
	c.waitImages("every broker registered and unfenced", unfenced(1, 2, 3))

	// rawRequest's client id is "test": a request_percentage so small that
	// any request is over it.
	adm := newAdmin(t, c.nodes[3].addr())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{
		Entity: kadm.ClientQuotaEntity{{Type: quota.EntityClientID, Name: kadm.StringPtr("test")}},
		Ops:    []kadm.AlterClientQuotaOp{{Key: quota.RequestPercentage, Value: 0.00001}},
	}})
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	entity := quota.Entity{ClientID: quota.Name("test")}
	c.waitImages("the quota everywhere", func(img *controller.MetadataImage) bool {
		return img.ClientQuotas()[entity][quota.RequestPercentage] == 0.00001
	})

	for _, id := range []int32{1, 2, 3} {
		addr := c.nodes[id].addr()
		// The first request records the rate; the next one is over it,
		// once the broker has applied the image with the quota (its
		// metadata image may be ahead of its request handling).
		var throttle int32
		require.Eventually(t, func() bool {
			rawRequest(t, addr, 12, &protocol.MetadataRequest{})
			throttle = rawRequest(t, addr, 12, &protocol.MetadataRequest{}).(*protocol.MetadataResponse).ThrottleTimeMs
			return throttle > 0
		}, 30*time.Second, 10*time.Millisecond, "broker %d enforces the quota", id)
		require.LessOrEqual(t, throttle, int32(1000), "request throttles stop at one window")

		d := rawRequest(t, addr, 1, &protocol.DescribeClientQuotasRequest{}).(*protocol.DescribeClientQuotasResponse)
		require.Zero(t, d.ErrorCode)
		require.Len(t, d.Entries, 1, "broker %d describes the quota", id)
		require.Equal(t, quota.RequestPercentage, d.Entries[0].Values[0].Key)
	}
}

// TestMutationQuotaForwarded: controller_mutation_rate holds for
// CreateTopics sent to a broker that is not the active controller, whose
// forwarded request the controller cannot charge: the forwarding broker
// charges what the controller created and refuses the next strict request
// while the bucket is negative.
func TestMutationQuotaForwarded(t *testing.T) {
	c := newTestCluster(t, []clusterSpec{
		{1, "broker,controller", "voters"},
		{2, "broker", "voters"},
	})
	c.startAll(1, 2)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// 1 partition/s: a bucket of 11 tokens, so 50 partitions leave it at
	// -39, which takes 39 s to refill.
	res, err := newAdmin(t, c.nodes[2].addr()).AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{
		Entity: kadm.ClientQuotaEntity{{Type: quota.EntityClientID, Name: kadm.StringPtr("mutator")}},
		Ops:    []kadm.AlterClientQuotaOp{{Key: quota.ControllerMutationRate, Value: 1}},
	}})
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	entity := quota.Entity{ClientID: quota.Name("mutator")}
	c.waitImages("the quota everywhere", func(img *controller.MetadataImage) bool {
		return img.ClientQuotas()[entity][quota.ControllerMutationRate] == 1
	})
	require.NotEqual(t, int32(2), c.activeController(), "node 2 is broker-only")

	create := func(name string, partitions int32) *protocol.CreateTopicsResponse {
		id := "mutator"
		req := &protocol.CreateTopicsRequest{TimeoutMs: 10000, Topics: []protocol.CreateTopicsRequestCreatableTopic{
			{Name: protocol.TopicName(name), NumPartitions: partitions, ReplicationFactor: 1},
		}}
		nc, err := net.DialTimeout("tcp", c.nodes[2].addr(), 5*time.Second)
		require.NoError(t, err)
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
		hdr := protocol.RequestHeader{RequestAPIKey: req.APIKey(), RequestAPIVersion: 7, CorrelationID: 1, ClientID: &id}
		frame, err := protocol.AppendRequest(nil, &hdr, req)
		require.NoError(t, err)
		_, err = nc.Write(frame)
		require.NoError(t, err)
		b, err := protocol.ReadFrame(nc, 1<<26, nil)
		require.NoError(t, err)
		_, r, err := protocol.DecodeResponse(b, req.APIKey(), 7)
		require.NoError(t, err)
		return r.(*protocol.CreateTopicsResponse)
	}
	first := create("big", 50)
	require.Zero(t, first.Topics[0].ErrorCode, "the bucket had tokens: accepted whole")
	second := create("small", 1)
	require.Equal(t, errcode.ThrottlingQuotaExceeded, second.Topics[0].ErrorCode, "refused while the bucket is negative")
	require.Nil(t, c.image().Topic("small"))
}
