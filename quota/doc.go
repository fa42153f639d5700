// Package quota enforces Kafka's client quotas and connection limits on one
// broker.
//
// # Client quotas
//
// Manager is Kafka's ClientQuotaManager family: producer_byte_rate (Produce
// request bytes), consumer_byte_rate (Fetch response bytes),
// request_percentage (request handler time) and controller_mutation_rate
// (partitions created or deleted), configured for user, client-id and
// user+client-id entities and their <default>s, stored in the metadata log
// and handed over with Manager.Apply. precedence.go says which entity
// applies to a client and which clients share a rate.
//
// Rates are Kafka's Rate over a SampledStat (stats.go): quota.window.num
// windows of quota.window.size.seconds, measured as the sum of the live
// windows over the time they span, never less than window.num-1 windows.
// A client over its quota is told to wait (observed-quota)/quota × window;
// the caller puts that in the response's throttle_time_ms and stops reading
// from the client's connection for that long (KIP-219). Controller mutations
// use a token bucket instead (MutationQuota): strict for the request
// versions of KIP-599, which refuse mutations with THROTTLING_QUOTA_EXCEEDED
// while the bucket is negative.
//
// # Connection limits
//
// ConnectionQuotas is Kafka's ConnectionQuotas: max.connections and
// max.connection.creation.rate (broker-wide and per listener) make the
// accept loop wait; max.connections.per.ip (with overrides) closes the
// connection at once; connection_creation_rate quotas of IP entities close
// it after the throttle time.
//
// # Concurrency
//
// Manager and ConnectionQuotas are safe for concurrent use. Each quota type
// of a Manager has its own mutex and ConnectionQuotas one; all are leaf
// locks (nothing else is locked under them). ConnectionQuotas.Accept
// releases its mutex while it waits.
//
// Time comes from an injectable clock (Config.Now), in milliseconds as in
// Kafka, so tests step it instead of sleeping.
package quota
