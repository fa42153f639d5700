package server

import (
	"context"
	"net"
	"strconv"

	"github.com/spool-broker/spool/internal/telemetry"
	"github.com/spool-broker/spool/protocol"
)

// GetTelemetrySubscriptions (key 71): version 0.
//
// Behaviour:
//   - KIP-714, as Kafka's ClientMetricsManager.
//   - A zero ClientInstanceId gets a new random id (never a reserved one);
//     the instance's subscription is the union of the metrics of every
//     client-metrics resource whose match patterns all match the client
//     (client_instance_id, client_id, client_software_name/version,
//     client_source_address/port; no patterns: every client), "*" if any
//     subscribes to all, with the smallest interval.ms (default 300000).
//   - SubscriptionId: CRC32C of the metrics and interval XOR the instance
//     id's hash; it changes when the subscriptions change, and the next
//     request rebuilds the instance.
//   - A second request within the push interval of the instance's last
//     request is THROTTLING_QUOTA_EXCEEDED, unless its last push failed
//     with UNKNOWN_SUBSCRIPTION_ID or UNSUPPORTED_COMPRESSION_TYPE.
//   - AcceptedCompressionTypes zstd, lz4, gzip, snappy; TelemetryMaxBytes
//     is telemetry.max.bytes; DeltaTemporality true.
//   - No authorization, as Kafka.
//
// Where Spool differs from Kafka 4.3:
//   - Kafka advertises keys 71 and 72 only when a metrics reporter that
//     receives client telemetry is configured; Spool always does: it
//     exports the pushed metrics on /metrics (docs/metrics.md).
//   - Instances are forgotten max(60 s, 3 push intervals) after their last
//     request, not also when their connection closes.

func (b *Broker) handleGetTelemetrySubscriptions(ctx context.Context, rc *reqCtx, req *protocol.GetTelemetrySubscriptionsRequest) (*protocol.GetTelemetrySubscriptionsResponse, error) {
	sub, err := b.telemetry.GetSubscriptions(req.ClientInstanceID, telemetryClient(rc))
	if err != nil {
		return &protocol.GetTelemetrySubscriptionsResponse{ErrorCode: telemetryErrorCode(err)}, nil
	}
	return &protocol.GetTelemetrySubscriptionsResponse{
		ClientInstanceID:         sub.ClientInstanceID,
		SubscriptionID:           sub.SubscriptionID,
		AcceptedCompressionTypes: telemetry.AcceptedCompressionTypes,
		PushIntervalMs:           sub.PushIntervalMs,
		TelemetryMaxBytes:        b.cfg.TelemetryMaxBytes,
		DeltaTemporality:         true,
		RequestedMetrics:         append([]string{}, sub.RequestedMetrics...),
	}, nil
}

// telemetryClient is what match patterns select on for this connection.
func telemetryClient(rc *reqCtx) telemetry.Client {
	c := telemetry.Client{SoftwareName: rc.c.softwareName, SoftwareVersion: rc.c.softwareVersion}
	if rc.hdr != nil && rc.hdr.ClientID != nil {
		c.ClientID = *rc.hdr.ClientID
	}
	if ta, ok := rc.c.nc.RemoteAddr().(*net.TCPAddr); ok {
		c.SourceAddress, c.SourcePort = ta.IP.String(), strconv.Itoa(ta.Port)
	} else if host, port, err := net.SplitHostPort(rc.c.nc.RemoteAddr().String()); err == nil {
		c.SourceAddress, c.SourcePort = host, port
	}
	return c
}
