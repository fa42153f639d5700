package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spool-broker/spool/internal/spooltest"
)

// TestBrokerLoggers drives Kafka's BROKER_LOGGER resource as
// kafka-configs.sh --entity-type broker-loggers does: describe lists the
// component loggers with their levels, SET changes one at runtime (its
// debug lines appear in the output), DELETE puts it back to root's level,
// and bad names, levels and operations get Kafka's errors.
func TestBrokerLoggers(t *testing.T) {
	b := spooltest.Start(t, spooltest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
	require.NoError(t, err)
	defer cl.Close()

	describe := func() map[string]string {
		req := kmsg.NewPtrDescribeConfigsRequest()
		r := kmsg.NewDescribeConfigsRequestResource()
		r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeBrokerLogger, "1"
		req.Resources = append(req.Resources, r)
		resp, err := req.RequestWith(ctx, cl)
		require.NoError(t, err)
		require.Len(t, resp.Resources, 1)
		require.NoError(t, kerr.ErrorForCode(resp.Resources[0].ErrorCode))
		out := map[string]string{}
		for _, c := range resp.Resources[0].Configs {
			out[c.Name] = *c.Value
			require.Equal(t, kmsg.ConfigSourceDynamicBrokerLoggerConfig, c.Source)
		}
		return out
	}
	alter := func(name string, op kmsg.IncrementalAlterConfigOp, value *string) error {
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		r := kmsg.NewIncrementalAlterConfigsRequestResource()
		r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeBrokerLogger, "1"
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Op, c.Value = name, op, value
		r.Configs = append(r.Configs, c)
		req.Resources = append(req.Resources, r)
		resp, err := req.RequestWith(ctx, cl)
		require.NoError(t, err)
		return kerr.ErrorForCode(resp.Resources[0].ErrorCode)
	}
	str := func(s string) *string { return &s }

	loggers := describe()
	require.Equal(t, "INFO", loggers["root"])
	require.Equal(t, "INFO", loggers["server"], "components that logged are listed: %v", loggers)

	require.NoError(t, alter("server", kmsg.IncrementalAlterConfigOpSet, str("DEBUG")))
	require.Equal(t, "DEBUG", describe()["server"])
	// Requests log at debug under "server.request" now.
	cl2, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
	require.NoError(t, err)
	require.NoError(t, cl2.Ping(ctx))
	cl2.Close()
	require.Eventually(t, func() bool { return strings.Contains(b.Output(), "DEBUG\tserver.request") }, 30*time.Second, 20*time.Millisecond,
		"no debug line from the request logger")
	require.Contains(t, describe(), "server.request", "the request logger is listed once it logged")

	require.NoError(t, alter("server", kmsg.IncrementalAlterConfigOpDelete, nil))
	require.Equal(t, "INFO", describe()["server"])

	for _, tc := range []struct {
		name  string
		op    kmsg.IncrementalAlterConfigOp
		value *string
		want  error
	}{
		{"no.such.logger", kmsg.IncrementalAlterConfigOpSet, str("DEBUG"), kerr.InvalidConfig},
		{"server", kmsg.IncrementalAlterConfigOpSet, str("LOUD"), kerr.InvalidConfig},
		{"root", kmsg.IncrementalAlterConfigOpDelete, nil, kerr.InvalidRequest},
		{"server", kmsg.IncrementalAlterConfigOpAppend, str("DEBUG"), kerr.InvalidRequest},
	} {
		require.ErrorIs(t, alter(tc.name, tc.op, tc.value), tc.want, "%s %v", tc.name, tc.op)
	}
}
