package server

import (
	"github.com/prometheus/client_golang/prometheus"
)

// serverMetrics are the request-level metrics, labelled by API name the way
// Kafka's RequestMetrics are (kafka.network:type=RequestMetrics,request=Produce).
type serverMetrics struct {
	connections prometheus.Gauge
	requests    *prometheus.CounterVec
	errors      *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	bytesIn     prometheus.Counter
	bytesOut    prometheus.Counter
	messagesIn  prometheus.Counter
}

func newServerMetrics(reg prometheus.Registerer) *serverMetrics {
	m := &serverMetrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "spool", Name: "connections",
			Help: "Open client connections.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "spool", Name: "requests_total",
			Help: "Requests handled, by API.",
		}, []string{"api"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "spool", Name: "request_errors_total",
			Help: "Error codes returned in responses, by API and error name.",
		}, []string{"api", "error"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "spool", Name: "request_duration_seconds",
			Help:    "Time from reading a request to having its response ready, by API.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}, []string{"api"}),
		bytesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "spool", Name: "bytes_in_total",
			Help: "Record bytes appended by producers (kafka.server BytesInPerSec).",
		}),
		bytesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "spool", Name: "bytes_out_total",
			Help: "Record bytes sent to fetchers (kafka.server BytesOutPerSec).",
		}),
		messagesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "spool", Name: "messages_in_total",
			Help: "Records appended by producers (kafka.server MessagesInPerSec).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.connections, m.requests, m.errors, m.latency, m.bytesIn, m.bytesOut, m.messagesIn)
	}
	return m
}
