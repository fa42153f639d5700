// Package cli is `spool`'s admin commands (rpk-style, no JVM): format,
// topic, group, cluster, healthcheck, produce and consume. They speak
// Kafka's protocol through a small client built on the project's generated
// messages (package protocol), so they work against any Kafka-compatible
// broker, Spool or Apache Kafka, and add no dependency.
//
// # Client
//
// Client keeps one connection per broker, negotiates versions with
// ApiVersions on connect (the newest both sides support; Produce and Fetch
// stay at v12, which address topics by name), and routes requests: any
// broker for metadata and admin requests, the partition leader for
// Produce, Fetch and ListOffsets, the group coordinator (FindCoordinator)
// for group requests. Requests on one connection are serialized; a
// connection that fails is dropped and redialled on next use.
//
// # Conventions
//
// Every cluster command takes --bootstrap-server, --command-config (a
// client properties file with Kafka's names), --output table|json and
// --timeout. Flags may come before or after the positional arguments.
// Exit codes: 0 success, 1 a failed operation or an unhealthy cluster, 2 a
// usage error. Errors name the Kafka error code and say what to do next.
// Table output follows Kafka's tools where scripts parse them
// (topic describe is kafka-topics.sh --describe's layout; group describe
// has kafka-consumer-groups.sh's columns).
package cli
