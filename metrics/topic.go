package metrics

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Kafka's kafka.server:type=BrokerTopicMetrics meters, in the order of
// TopicCounters' fields.
const (
	TopicMessagesIn = iota
	TopicBytesIn
	TopicBytesOut
	TopicBytesRejected
	TopicFailedProduceRequests
	TopicFailedFetchRequests
	TopicTotalProduceRequests
	TopicTotalFetchRequests
	TopicReplicationBytesIn
	TopicReplicationBytesOut
	numTopicMeters
)

var topicMeterNames = [numTopicMeters]string{
	"MessagesInPerSec", "BytesInPerSec", "BytesOutPerSec", "BytesRejectedPerSec",
	"FailedProduceRequestsPerSec", "FailedFetchRequestsPerSec",
	"TotalProduceRequestsPerSec", "TotalFetchRequestsPerSec",
	"ReplicationBytesInPerSec", "ReplicationBytesOutPerSec",
}

var descTopic [numTopicMeters]*prometheus.Desc

func init() {
	for i, n := range topicMeterNames {
		descTopic[i] = prometheus.NewDesc(PromName("server", "BrokerTopicMetrics", n),
			"kafka.server:type=BrokerTopicMetrics,name="+n+"[,topic=...] Count; topic=\"\" is the all-topics bean.",
			[]string{"topic"}, nil)
	}
}

// TopicCounters are one topic's BrokerTopicMetrics.
type TopicCounters [numTopicMeters]atomic.Uint64

// BrokerTopicMetrics counts per topic and for all topics. Add is lock-
// and allocation-free once a topic has been seen.
type BrokerTopicMetrics struct {
	all    TopicCounters
	topics sync.Map // string → *TopicCounters
}

// NewBrokerTopicMetrics creates the counters and registers them with reg
// (nil: not registered).
func NewBrokerTopicMetrics(reg prometheus.Registerer) *BrokerTopicMetrics {
	m := &BrokerTopicMetrics{}
	if reg != nil {
		reg.MustRegister(m)
	}
	return m
}

// Add adds n to meter (TopicMessagesIn, ...) of topic and of all topics.
// Replication meters have no per-topic series in Kafka: pass topic "".
func (m *BrokerTopicMetrics) Add(topic string, meter int, n uint64) {
	if m == nil {
		return
	}
	m.all[meter].Add(n)
	if c := m.counters(topic); c != nil {
		c[meter].Add(n)
	}
}

// Add2 adds n1 to meter1 and n2 to meter2 with one lookup of topic (the
// produce path's BytesIn and MessagesIn).
func (m *BrokerTopicMetrics) Add2(topic string, meter1 int, n1 uint64, meter2 int, n2 uint64) {
	if m == nil {
		return
	}
	m.all[meter1].Add(n1)
	m.all[meter2].Add(n2)
	if c := m.counters(topic); c != nil {
		c[meter1].Add(n1)
		c[meter2].Add(n2)
	}
}

func (m *BrokerTopicMetrics) counters(topic string) *TopicCounters {
	if topic == "" {
		return nil
	}
	c, ok := m.topics.Load(topic)
	if !ok {
		c, _ = m.topics.LoadOrStore(topic, new(TopicCounters))
	}
	return c.(*TopicCounters)
}

// RemoveTopic drops a deleted topic's series, as Kafka removes its beans.
func (m *BrokerTopicMetrics) RemoveTopic(topic string) {
	if m != nil {
		m.topics.Delete(topic)
	}
}

// Describe implements prometheus.Collector.
func (m *BrokerTopicMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range descTopic {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *BrokerTopicMetrics) Collect(ch chan<- prometheus.Metric) {
	for i := range m.all {
		ch <- prometheus.MustNewConstMetric(descTopic[i], prometheus.CounterValue, float64(m.all[i].Load()), "")
	}
	m.topics.Range(func(k, v any) bool {
		c := v.(*TopicCounters)
		for i := range c {
			if i == TopicReplicationBytesIn || i == TopicReplicationBytesOut {
				continue
			}
			ch <- prometheus.MustNewConstMetric(descTopic[i], prometheus.CounterValue, float64(c[i].Load()), k.(string))
		}
		return true
	})
}
