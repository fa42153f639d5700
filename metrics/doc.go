// Package metrics is Spool's observability plumbing, kept thin: the
// registry (created only by the composition root, cmd/spool), the HTTP
// endpoint (/metrics, /healthz, /readyz, /debug/pprof/), the per-request
// probe recorded once where requests are dispatched (Kafka's
// kafka.network:type=RequestMetrics), Kafka's per-topic
// kafka.server:type=BrokerTopicMetrics counters, and the naming helpers
// that turn a Kafka MBean into the Prometheus name the JMX exporter with
// Strimzi's kafka-metrics rules produces.
//
// Collectors for state stay next to the code they measure (storage,
// replication, controller, coordinator/group, quota); each takes a
// prometheus.Registerer. docs/metrics.md lists every name.
//
// # Names
//
// Strimzi's rules (lowercaseOutputName: true) map
//
//	kafka.<domain>:type=<Type>,name=<Name>PerSec[,k=v]  Count          → kafka_<domain>_<type>_<name>_total{k="v"}
//	kafka.<domain>:type=<Type>,name=<Name>[,k=v]        Value          → kafka_<domain>_<type>_<name>{k="v"}
//	kafka.<domain>:type=<Type>,name=<Name>Percent       Value/MeanRate → kafka_<domain>_<type>_<name>_percent
//	kafka.<domain>:type=<Type>,name=<Name>[,k=v]        Count          → kafka_<domain>_<type>_<name>_count{k="v"}      (histograms)
//	kafka.<domain>:type=<Type>,name=<Name>[,k=v]        NNthPercentile → kafka_<domain>_<type>_<name>{k="v",quantile="0.NN"}
//
// Label names keep Kafka's case (clientId, topic, partition, request).
// Kafka's all-topics beans have no topic key; Spool exports them with
// topic="", which Prometheus stores as the label being absent, so
// `{topic!=""}` selects exactly the per-topic series as with Kafka.
//
// # Concurrency
//
// Everything recorded on the request path (RequestSeries, TopicCounters)
// is atomic counters in preallocated arrays: no locks, no allocation, no
// label lookups per request. Quantiles are computed at scrape time from
// log-linear bucket counts (Histogram). Collect may run concurrently with
// recording and with another Collect.
package metrics
