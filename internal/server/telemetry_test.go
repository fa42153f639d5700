package server

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/spool-broker/spool/protocol/errcode"
)

// TestTelemetryWire checks the KIP-714 APIs on the wire with franz-go's
// messages: client-metrics resources through IncrementalAlterConfigs,
// DescribeConfigs and ListConfigResources v0/v1, a subscription answered
// to GetTelemetrySubscriptions, and PushTelemetry's error codes.
func TestTelemetryWire(t *testing.T) {
	node := startTestNode(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(node.addr))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	alter := func(name string, kvs ...string) (int16, string) {
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		r := kmsg.NewIncrementalAlterConfigsRequestResource()
		r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeClientMetrics, name
		for i := 0; i+1 < len(kvs); i += 2 {
			c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
			c.Name, c.Value = kvs[i], kmsg.StringPtr(kvs[i+1])
			r.Configs = append(r.Configs, c)
		}
		req.Resources = append(req.Resources, r)
		resp, err := req.RequestWith(ctx, cl)
		require.NoError(t, err)
		res := resp.Resources[0]
		msg := ""
		if res.ErrorMessage != nil {
			msg = *res.ErrorMessage
		}
		return res.ErrorCode, msg
	}
	for _, c := range []struct {
		name string
		kvs  []string
		code int16
		msg  string
	}{
		{"s1", []string{"metrics", "org.apache.kafka.producer.", "interval.ms", "1000", "match", "client_id=kgo"}, errcode.None, ""},
		{"", []string{"metrics", "x"}, errcode.InvalidRequest, "Subscription name can't be empty"},
		{"s2", []string{"bogus", "x"}, errcode.InvalidRequest, "Unknown client metrics configuration: bogus"},
		{"s2", []string{"interval.ms", "99"}, errcode.InvalidRequest, "Invalid value 99 for interval.ms, interval must be between 100 and 3600000 (1 hour)"},
		{"s2", []string{"match", "client_id"}, errcode.InvalidConfig, "Illegal client matching pattern: client_id"},
	} {
		code, msg := alter(c.name, c.kvs...)
		require.Equal(t, c.code, code, "%s %v: %s", c.name, c.kvs, msg)
		require.Equal(t, c.msg, msg)
	}

	// Every config, set or default, also for an unknown subscription, as
	// Kafka 4.3 describes them.
	dreq := kmsg.NewPtrDescribeConfigsRequest()
	for _, name := range []string{"s1", "nosuch"} {
		dr := kmsg.NewDescribeConfigsRequestResource()
		dr.ResourceType, dr.ResourceName = kmsg.ConfigResourceTypeClientMetrics, name
		dreq.Resources = append(dreq.Resources, dr)
	}
	dresp, err := dreq.RequestWith(ctx, cl)
	require.NoError(t, err)
	type entry struct {
		value  string
		source kmsg.ConfigSource
		typ    kmsg.ConfigType
	}
	described := func(r kmsg.DescribeConfigsResponseResource) map[string]entry {
		require.Zero(t, r.ErrorCode)
		got := map[string]entry{}
		for _, c := range r.Configs {
			got[c.Name] = entry{*c.Value, c.Source, c.ConfigType}
		}
		return got
	}
	set, def := kmsg.ConfigSourceClientMetricsConfig, kmsg.ConfigSourceDefaultConfig
	require.Equal(t, map[string]entry{
		"metrics":     {"org.apache.kafka.producer.", set, kmsg.ConfigTypeList},
		"interval.ms": {"1000", set, kmsg.ConfigTypeInt},
		"match":       {"client_id=kgo", set, kmsg.ConfigTypeList},
	}, described(dresp.Resources[0]))
	require.Equal(t, map[string]entry{
		"metrics":     {"", def, kmsg.ConfigTypeList},
		"interval.ms": {"300000", def, kmsg.ConfigTypeInt},
		"match":       {"", def, kmsg.ConfigTypeList},
	}, described(dresp.Resources[1]))

	// Kafka 4.3 refuses APPEND and SUBTRACT on every client-metrics key.
	areq := kmsg.NewPtrIncrementalAlterConfigsRequest()
	ar := kmsg.NewIncrementalAlterConfigsRequestResource()
	ar.ResourceType, ar.ResourceName = kmsg.ConfigResourceTypeClientMetrics, "s1"
	ac := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	ac.Name, ac.Value, ac.Op = "metrics", kmsg.StringPtr("x."), kmsg.IncrementalAlterConfigOpAppend
	ar.Configs = append(ar.Configs, ac)
	areq.Resources = append(areq.Resources, ar)
	aresp, err := areq.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Equal(t, errcode.InvalidConfig, aresp.Resources[0].ErrorCode)
	require.Equal(t, "Can't APPEND to key metrics because its type is not LIST.", *aresp.Resources[0].ErrorMessage)

	// v0 (ListClientMetricsResources, pinned through a 4.0 client) and v1
	// asking for CLIENT_METRICS list the subscription; v1 with no types
	// lists every kind.
	cl40, err := kgo.NewClient(kgo.SeedBrokers(node.addr), kgo.MaxVersions(kversion.V4_0_0()))
	require.NoError(t, err)
	defer cl40.Close()
	for _, c := range []struct {
		cl    *kgo.Client
		types []int8
		want  []kmsg.ListConfigResourcesResponseConfigResource
	}{
		{cl40, nil, []kmsg.ListConfigResourcesResponseConfigResource{{Name: "s1", Type: 16}}},
		{cl, []int8{16}, []kmsg.ListConfigResourcesResponseConfigResource{{Name: "s1", Type: 16}}},
		{cl, nil, []kmsg.ListConfigResourcesResponseConfigResource{{Name: "s1", Type: 16}, {Name: "1", Type: 8}, {Name: "1", Type: 4}}},
	} {
		lreq := kmsg.NewPtrListConfigResourcesRequest()
		lreq.ResourceTypes = c.types
		lresp, err := lreq.RequestWith(ctx, c.cl)
		require.NoError(t, err)
		require.Zero(t, lresp.ErrorCode)
		for i := range lresp.ConfigResources {
			lresp.ConfigResources[i].UnknownTags = kmsg.Tags{}
		}
		for i := range c.want {
			c.want[i].UnknownTags = kmsg.Tags{}
			if lresp.Version == 0 {
				c.want[i].Type = 16 // v0 has no type: kmsg's default
			}
		}
		require.Equal(t, c.want, lresp.ConfigResources, "v%d %v", lresp.Version, c.types)
	}
	lreq := kmsg.NewPtrListConfigResourcesRequest()
	lreq.ResourceTypes = []int8{99}
	lresp, err := lreq.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Equal(t, errcode.UnsupportedVersion, lresp.ErrorCode)

	// kgo's client id is "kgo": the subscription matches.
	greq := kmsg.NewPtrGetTelemetrySubscriptionsRequest()
	gresp, err := greq.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Zero(t, gresp.ErrorCode)
	require.Equal(t, []string{"org.apache.kafka.producer."}, gresp.RequestedMetrics)
	require.EqualValues(t, 1000, gresp.PushIntervalMillis)
	require.EqualValues(t, 1048576, gresp.TelemetryMaxBytes)
	require.Equal(t, []int8{4, 3, 1, 2}, gresp.AcceptedCompressionTypes)
	require.True(t, gresp.DeltaTemporality)
	greq.ClientInstanceID = gresp.ClientInstanceID
	again, err := greq.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Equal(t, errcode.ThrottlingQuotaExceeded, again.ErrorCode, "a second Get within the push interval")

	push := func(id [16]byte, sub int32, codec int8, payload []byte) int16 {
		req := kmsg.NewPtrPushTelemetryRequest()
		req.ClientInstanceID, req.SubscriptionID, req.CompressionType, req.Metrics = id, sub, codec, payload
		resp, err := req.RequestWith(ctx, cl)
		require.NoError(t, err)
		return resp.ErrorCode
	}
	id := gresp.ClientInstanceID
	require.Equal(t, errcode.InvalidRequest, push([16]byte{}, gresp.SubscriptionID, 0, nil), "zero instance id")
	require.Equal(t, errcode.InvalidRecord, push(id, gresp.SubscriptionID, 0, []byte{0x0a, 0x09, 0x01}), "not OTLP")
	require.Equal(t, errcode.ThrottlingQuotaExceeded, push(id, gresp.SubscriptionID, 0, nil), "too soon after the last push")
	other := id
	other[0] ^= 1
	require.Equal(t, errcode.UnknownSubscriptionID, push(other, gresp.SubscriptionID, 0, nil), "an instance this broker never subscribed")
}
