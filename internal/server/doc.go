// Package server is the broker: the network server that speaks Kafka's wire
// protocol, and the request handlers on top of storage, the metadata
// controller and the coordinators. Only cmd/spool uses it.
//
// # Shape
//
//	nodeBroker    the broker role internal/node starts (NewNodeBroker)
//	Server        listeners; one conn per client connection
//	conn          reader → handler → writer goroutines (conn.go)
//	Broker        metadata image, handler table; hosted partitions are a
//	              replication.Manager's (leadership, ISR, high watermark)
//	api_NN_*.go   one file per API key: NN is the key (00 Produce, 01 Fetch, ...)
//	groups.go     groupHandlers: the group coordinator on __consumer_offsets
//	txn*.go       txnHandlers: the transaction coordinator on __transaction_state,
//	              producer ids, transaction verification
//
// # Requests
//
// A connection answers requests strictly in arrival order. The reader parses
// frames ahead (bounded by the per-connection in-flight limit and the global
// queued.max.requests), the handler goroutine runs one request at a time, and
// the writer coalesces ready responses into one writev. A long-polling Fetch
// therefore delays only the requests behind it on the same connection, as in
// Kafka. Produce bodies are not read ahead: the reader parses the header and
// waits while the handler reads the body itself, appending each partition as
// soon as its records are in (conn_body.go). Fetched records never enter
// the encoded response: the handler pins the segment regions and the writer
// sends them with sendfile(2) on TCP, or preads them into pooled buffers
// elsewhere, TLS included (response.go). Before SASL authentication nothing
// is read ahead (conn_auth.go). Malformed frames, unknown keys and unsupported
// versions close the connection (Kafka's behaviour), except ApiVersions at an
// unknown version, which is answered with UNSUPPORTED_VERSION in v0 form.
//
// # Security
//
// Decided before dispatch, checked at the resource. Listen builds each
// listener's setup from Kafka's properties (security.go): TLS for SSL and
// SASL_SSL, the client certificate's principal for SSL, the SASL mechanisms
// for SASL_*; a setup that fails stops startup. A connection does its TLS
// handshake before any frame, then holds an auth.Session: until it is
// authenticated, frames are read one at a time, capped at
// sasl.server.max.receive.size, and only ApiVersions, SaslHandshake and
// SaslAuthenticate are answered (conn_auth.go). Every request's reqCtx
// carries the principal and client host; handlers ask the ACL authorizer
// (authorizer.class.name=StandardAuthorizer) once per resource and answer
// Kafka's codes (authz.go, authz_txn.go). ACLs and SCRAM credentials live in
// the metadata log (controller/security.go); the authorizer follows every
// image, so a change applies to open connections at their next request.
// Fetch uses sendfile only on plain TCP connections; TLS connections get the
// pooled-read path.
//
// Handlers turn Go errors into Kafka error codes (the mappings are in
// errors.go); a handler returns an error only when the connection must
// close. Error codes are counted in request_errors_total once, at dispatch,
// from the response each request gets (protocol.Response.ErrorCodes). A
// panicking handler closes its own connection and is logged; other clients
// are unaffected.
//
// # Quotas
//
// Client quotas (producer_byte_rate, consumer_byte_rate, request_percentage,
// controller_mutation_rate; package quota) are metered per request and a
// client over its quota gets throttle_time_ms in the response while its
// connection is muted for that long (KIP-219); connection limits
// (max.connections, max.connections.per.ip, max.connection.creation.rate,
// IP connection_creation_rate quotas) apply at accept. See quotas.go.
//
// # Metadata
//
// The node's MetadataImage (its own copy of the metadata log: a quorum
// member's or an observer's) is the truth for topics, partitions, configs
// and brokers. Broker.reconcile follows each new image: it opens the logs
// of partitions assigned here, deletes those of deleted topics, applies
// topic configs, and hands each partition's leader, epochs, replicas and ISR
// to replication.Manager.Apply, whose leadership hooks let coordinators load
// their state from the partitions they lead. The first image the broker
// applies holds its own registration, so it never mistakes a
// not-yet-caught-up image for deleted topics. Metadata writes go through
// b.ctrl (controller.Client): to the local controller when it is active,
// forwarded to the active one otherwise; either way the write is in the
// local image when the call returns, and handlers reconcile right after
// it, so the response already reflects it.
//
// # Concurrency
//
// Lock order is in docs/lock-order.md. Every write to a partition this broker
// leads goes through replication.Partition.AppendAsLeader (Produce, the group
// and transaction coordinators, markers) and every Fetch read through
// replication.Partition.Read; handlers decode, call, encode. Long-polling
// fetches watch their partitions (Partition.WatchFetch): consumers are woken
// when the high watermark moves, followers when the log grows.
package server
