package server

import (
	"context"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/internal/telemetry"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// PushTelemetry (key 72): version 0.
//
// Behaviour:
//   - KIP-714, as Kafka's ClientMetricsManager.
//   - A zero or reserved ClientInstanceId is INVALID_REQUEST.
//   - Checked in Kafka's order: a push after one with Terminating set is
//     INVALID_REQUEST; a push within the push interval of the last one is
//     THROTTLING_QUOTA_EXCEEDED (the first push after a
//     GetTelemetrySubscriptions, and a terminating push, are never early);
//     a SubscriptionId other than the instance's current one is
//     UNKNOWN_SUBSCRIPTION_ID (the client then asks for its subscription
//     again); a compression type Kafka does not define is
//     UNSUPPORTED_COMPRESSION_TYPE; Metrics longer than telemetry.max.bytes
//     is TELEMETRY_TOO_LARGE.
//   - The payload, an OTLP MetricsData protobuf compressed with the
//     request's CompressionType, is decompressed (at most
//     telemetry.max.bytes, else TELEMETRY_TOO_LARGE) and decoded
//     (internal/telemetry); a payload that does not decompress or decode is
//     INVALID_RECORD, which tells the client to stop pushing.
//   - Gauge and Sum points become series on /metrics named
//     spool_client_<otlp name>, labelled with the client instance (delta
//     sums accumulate), within spool.client.telemetry.max.clients and
//     spool.client.telemetry.max.series.per.client (docs/metrics.md).
//   - No authorization, as Kafka.
//
// Where Spool differs from Kafka 4.3:
//   - Kafka hands the payload to a configured ClientTelemetry reporter
//     plugin; Spool decodes and exports it itself.

func (b *Broker) handlePushTelemetry(ctx context.Context, rc *reqCtx, req *protocol.PushTelemetryRequest) (*protocol.PushTelemetryResponse, error) {
	if telemetry.Reserved(req.ClientInstanceID) {
		return &protocol.PushTelemetryResponse{ErrorCode: errcode.InvalidRequest}, nil
	}
	p := &telemetry.Push{
		ClientInstanceID: req.ClientInstanceID,
		SubscriptionID:   req.SubscriptionID,
		Terminating:      req.Terminating,
		CompressionType:  req.CompressionType,
		Metrics:          req.Metrics,
	}
	if err := b.telemetry.ValidatePush(p, telemetryClient(rc)); err != nil {
		return &protocol.PushTelemetryResponse{ErrorCode: telemetryErrorCode(err)}, nil
	}
	if err := b.telemetry.Export(p); err != nil {
		b.logger.Debug("client telemetry not exported", zap.String("client_id", rc.c.clientID), zap.Error(err))
		return &protocol.PushTelemetryResponse{ErrorCode: telemetryErrorCode(err)}, nil
	}
	return &protocol.PushTelemetryResponse{}, nil
}
