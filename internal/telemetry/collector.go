package telemetry

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// MetricPrefix starts the name of every pushed client metric on /metrics:
// the OTLP name with '.' and other characters Prometheus does not allow
// turned into '_' (org.apache.kafka.producer.request.latency.avg →
// spool_client_org_apache_kafka_producer_request_latency_avg).
const MetricPrefix = "spool_client_"

// clientLabels label every exported series with the instance it came from.
var clientLabels = []string{"client_instance_id", "client_id", "client_software_name", "client_software_version"}

// series is one exported value: a metric and its data point attributes.
type series struct {
	name      string // Prometheus name
	counter   bool   // a monotonic Sum
	labelKeys []string
	labelVals []string
	value     float64
}

// exportLocked records md's points for inst. Sums with delta temporality
// add to the running total (Kafka asks clients for deltas); cumulative
// sums and gauges replace the value. New series past the caps are
// dropped and counted.
func (m *Manager) exportLocked(inst *instance, md *MetricsData) {
	if inst.series == nil {
		if m.exported >= m.cfg.MaxClients {
			m.stats.droppedPoints["clients"] += uint64(len(md.Points))
			return
		}
		m.exported++
		inst.series = map[string]*series{}
	}
	if len(md.Resource) > 0 {
		inst.resource = sortAttrs(append([]Attr(nil), md.Resource...))
	}
	m.stats.droppedPoints["unsupported_type"] += uint64(md.Skipped)
	var key strings.Builder
	for _, p := range md.Points {
		attrs := sortAttrs(p.Attrs)
		key.Reset()
		key.WriteString(p.Metric)
		for _, a := range attrs {
			key.WriteByte(0)
			key.WriteString(a.Key)
			key.WriteByte(0)
			key.WriteString(a.Value)
		}
		s := inst.series[key.String()]
		if s == nil {
			if len(inst.series) >= m.cfg.MaxSeriesPerClient {
				m.stats.droppedPoints["series"]++
				continue
			}
			s = newSeries(inst, p, attrs)
			if s == nil {
				m.stats.droppedPoints["invalid_name"]++
				continue
			}
			inst.series[key.String()] = s
		}
		if p.Kind == KindSum && p.Delta {
			s.value += p.Value
		} else {
			s.value = p.Value
		}
	}
}

func newSeries(inst *instance, p Point, attrs []Attr) *series {
	name := MetricPrefix + promName(p.Metric)
	if name == MetricPrefix {
		return nil
	}
	s := &series{
		name:      name,
		counter:   p.Kind == KindSum && p.Monotonic,
		labelKeys: append([]string(nil), clientLabels...),
		labelVals: []string{uuidString(inst.id), inst.client.ClientID, inst.client.SoftwareName, inst.client.SoftwareVersion},
	}
	seen := map[string]bool{}
	for _, k := range clientLabels {
		seen[k] = true
	}
	for _, a := range attrs {
		k := promName(a.Key)
		if k == "" || seen[k] || strings.HasPrefix(k, "__") {
			continue
		}
		seen[k] = true
		s.labelKeys = append(s.labelKeys, k)
		s.labelVals = append(s.labelVals, a.Value)
	}
	return s
}

// promName maps an OTLP name onto Prometheus's [a-zA-Z_][a-zA-Z0-9_]*.
func promName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
			b.WriteByte(c)
		case c >= '0' && c <= '9':
			if b.Len() == 0 {
				b.WriteByte('_')
			}
			b.WriteByte(c)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

var (
	descInstances = prometheus.NewDesc("spool_client_telemetry_instances",
		"Client instances known to this broker's telemetry (KIP-714): they asked for subscriptions or pushed within max(1 minute, 3 push intervals).", nil, nil)
	descExported = prometheus.NewDesc("spool_client_telemetry_exported_clients",
		"Client instances whose pushed metrics this broker exports (at most spool.client.telemetry.max.clients).", nil, nil)
	descPushes = prometheus.NewDesc("spool_client_telemetry_pushes_total",
		"PushTelemetry requests by result (ok, throttled, unknown_subscription_id, telemetry_too_large, unsupported_compression_type, invalid_record, invalid_request).", []string{"result"}, nil)
	descGets = prometheus.NewDesc("spool_client_telemetry_subscription_requests_total",
		"GetTelemetrySubscriptions requests by result (ok, throttled).", []string{"result"}, nil)
	descDropped = prometheus.NewDesc("spool_client_telemetry_dropped_points_total",
		"Pushed data points not exported, by reason (clients: past spool.client.telemetry.max.clients; series: past spool.client.telemetry.max.series.per.client; unsupported_type: histogram or summary metrics; invalid_name).", []string{"reason"}, nil)
)

const (
	clientMetricHelp = "A metric pushed by clients (KIP-714 client telemetry); the name is the OTLP name with '.' as '_'."
	infoHelp         = "One series per exporting client instance, labelled with its identity and the resource attributes it pushed."
)

// Describe sends nothing: the pushed metrics' names are not known in
// advance, so the Manager is an unchecked collector (a registry checks a
// collector's metrics against its descriptors only when it has some).
func (m *Manager) Describe(chan<- *prometheus.Desc) {}

// Collect sends the manager's own series and every exported client series.
func (m *Manager) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked(m.now())
	ch <- prometheus.MustNewConstMetric(descInstances, prometheus.GaugeValue, float64(len(m.instances)))
	ch <- prometheus.MustNewConstMetric(descExported, prometheus.GaugeValue, float64(m.exported))
	for _, r := range []string{"ok", "throttled", "unknown_subscription_id", "telemetry_too_large", "unsupported_compression_type", "invalid_record", "invalid_request"} {
		ch <- prometheus.MustNewConstMetric(descPushes, prometheus.CounterValue, float64(m.stats.pushes[r]), r)
	}
	for _, r := range []string{"ok", "throttled"} {
		ch <- prometheus.MustNewConstMetric(descGets, prometheus.CounterValue, float64(m.stats.gets[r]), r)
	}
	for _, r := range []string{"clients", "series", "unsupported_type", "invalid_name"} {
		ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(m.stats.droppedPoints[r]), r)
	}
	descs := map[string]*prometheus.Desc{}
	// One type per name: two OTLP metrics may map onto one Prometheus
	// name, and a registry refuses a family of mixed types.
	types := map[string]prometheus.ValueType{}
	for _, inst := range m.instances {
		if inst.series == nil {
			continue
		}
		m.collectInfo(ch, inst)
		for _, s := range inst.series {
			// One Desc per name and label set (OTLP points of one metric
			// may carry different attributes).
			dk := s.name + "\x00" + strings.Join(s.labelKeys, "\x00")
			d := descs[dk]
			if d == nil {
				d = prometheus.NewDesc(s.name, clientMetricHelp, s.labelKeys, nil)
				descs[dk] = d
			}
			typ, ok := types[s.name]
			if !ok {
				typ = prometheus.GaugeValue
				if s.counter {
					typ = prometheus.CounterValue
				}
				types[s.name] = typ
			}
			if mt, err := prometheus.NewConstMetric(d, typ, s.value, s.labelVals...); err == nil {
				ch <- mt
			}
		}
	}
}

func (m *Manager) collectInfo(ch chan<- prometheus.Metric, inst *instance) {
	keys := append([]string(nil), clientLabels...)
	keys = append(keys, "client_source_address")
	vals := []string{uuidString(inst.id), inst.client.ClientID, inst.client.SoftwareName, inst.client.SoftwareVersion, inst.client.SourceAddress}
	seen := map[string]bool{}
	for _, k := range keys {
		seen[k] = true
	}
	for _, a := range inst.resource {
		k := promName(a.Key)
		if k == "" || seen[k] || strings.HasPrefix(k, "__") {
			continue
		}
		seen[k] = true
		keys = append(keys, k)
		vals = append(vals, a.Value)
	}
	d := prometheus.NewDesc("spool_client_telemetry_info", infoHelp, keys, nil)
	if mt, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, 1, vals...); err == nil {
		ch <- mt
	}
}
