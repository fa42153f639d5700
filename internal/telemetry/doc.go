// Package telemetry serves client telemetry (KIP-714) for the broker:
// subscriptions parsed from client-metrics config resources (ConfigResource
// type CLIENT_METRICS, kept in the metadata log like every dynamic config),
// the client instances that asked for them (GetTelemetrySubscriptions), the
// checks a push goes through (PushTelemetry, in Kafka's order with Kafka's
// errors), a hand-written reader of the OTLP MetricsData protobuf the
// clients push (otlp.go; no protobuf dependency), and a Prometheus collector
// exporting the pushed Gauge and Sum points as spool_client_* series.
//
// Bounds: at most 16384 client instances are remembered (Kafka's cache
// size), each forgotten max(1 minute, 3 push intervals) after its last
// request; at most Config.MaxClients instances have exported series, each
// at most Config.MaxSeriesPerClient of them; points past the caps are
// counted in spool_client_telemetry_dropped_points_total.
//
// Concurrency: a Manager is safe for concurrent use; one mutex guards its
// state and is never held while decompressing or decoding a payload.
package telemetry
