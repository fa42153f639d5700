package quota

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Client quota metrics are named as the Prometheus JMX exporter names
// Kafka's with Strimzi's quota rules:
//
//	kafka.server:type=<Type>,user=<user>,client-id=<client-id>  <attribute>
//	  →  kafka_server_quota_<attribute>{resource="<Type>", user="...", clientId="..."}
//
// with the attribute's '-' as '_'. A tag Kafka leaves empty (the user of a
// client-id quota, the client-id of a user quota) is an empty label, as the
// JMX bean has no such key. The attributes:
//
//	Produce, Fetch       byte-rate     bytes per second over the quota window
//	Request              request-time  percent of a request handler's time
//	ControllerMutation   mutation-rate partitions created/deleted per second
//	                     tokens        the token bucket's balance
//	all                  throttle-time mean throttle (ms) of the last 30-60 s;
//	                                   NaN when the client was not throttled
//
// Series exist only for clients seen while a quota of the type is
// configured, and disappear after an hour without activity, as Kafka's
// sensors expire.
var (
	descByteRate = prometheus.NewDesc("kafka_server_quota_byte_rate",
		"Tracking byte-rate per user/client-id (Kafka's Produce/Fetch byte-rate).",
		[]string{"resource", "user", "clientId"}, nil)
	descRequestTime = prometheus.NewDesc("kafka_server_quota_request_time",
		"Tracking request-time per user/client-id: percent of one request handler's time (Kafka's Request request-time).",
		[]string{"resource", "user", "clientId"}, nil)
	descMutationRate = prometheus.NewDesc("kafka_server_quota_mutation_rate",
		"Tracking mutation-rate per user/client-id (Kafka's ControllerMutation mutation-rate).",
		[]string{"resource", "user", "clientId"}, nil)
	descTokens = prometheus.NewDesc("kafka_server_quota_tokens",
		"Tracking remaining tokens in the token bucket per user/client-id (Kafka's ControllerMutation tokens).",
		[]string{"resource", "user", "clientId"}, nil)
	descThrottleTime = prometheus.NewDesc("kafka_server_quota_throttle_time",
		"Tracking average throttle-time per user/client-id, in milliseconds (Kafka's throttle-time).",
		[]string{"resource", "user", "clientId"}, nil)
)

// Register adds the manager's metrics to reg (nil: none).
func (m *Manager) Register(reg prometheus.Registerer) {
	if reg != nil {
		reg.MustRegister(managerCollector{m})
	}
}

type managerCollector struct{ m *Manager }

func (c managerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descByteRate, descRequestTime, descMutationRate, descTokens, descThrottleTime} {
		ch <- d
	}
}

func (c managerCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.m.nowMs()
	for t, tm := range c.m.types {
		tm.mu.Lock()
		if c.m.expire {
			tm.sweepLocked(now)
		}
		for tg, s := range tm.sensors {
			labels := []string{Type(t).String(), sanitize(tg.user), tg.clientID}
			rateDesc := descByteRate
			switch Type(t) {
			case Request:
				rateDesc = descRequestTime
			case ControllerMutation:
				rateDesc = descMutationRate
				if bound, ok := tm.quotas.limit(tg); ok {
					ch <- prometheus.MustNewConstMetric(descTokens, prometheus.GaugeValue, s.bucket.measure(tm.cfg, bound, now), labels...)
				}
			}
			ch <- prometheus.MustNewConstMetric(rateDesc, prometheus.GaugeValue, s.rate.measure(tm.cfg, now), labels...)
			ch <- prometheus.MustNewConstMetric(descThrottleTime, prometheus.GaugeValue, s.throttle.avg(throttleStatConfig, now), labels...)
		}
		tm.mu.Unlock()
	}
}
