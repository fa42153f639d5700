package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/metrics"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// serverMetrics are the request path's metrics under Kafka's names
// (docs/metrics.md): kafka.network:type=RequestMetrics per request, the
// handler pool's and network processors' idle ratios, connection counts,
// and kafka.server:type=BrokerTopicMetrics per topic. Recording is atomic
// adds into preallocated series (metrics.RequestSeries); nothing here
// allocates per request.
type serverMetrics struct {
	requests *metrics.RequestMetrics
	topics   *metrics.BrokerTopicMetrics
	// reqLog logs every completed request at debug ("server.request",
	// Kafka's kafka.request.logger); nil: none.
	reqLog *zap.Logger
}

// newServerMetrics registers with reg (nil: records without registering)
// the request metrics and topics, the broker's BrokerTopicMetrics (which the
// replica fetchers count ReplicationBytesIn into). threads are
// num.io.threads and num.network.threads (0: Kafka's 8 and 3).
func newServerMetrics(reg prometheus.Registerer, topics *metrics.BrokerTopicMetrics, threads ...int32) *serverMetrics {
	if topics == nil {
		topics = metrics.NewBrokerTopicMetrics(nil)
	}
	if reg != nil {
		reg.MustRegister(topics)
	}
	opts := metrics.RequestOptions{IOThreads: 8, NetworkThreads: 3}
	if len(threads) == 2 && threads[0] > 0 && threads[1] > 0 {
		opts = metrics.RequestOptions{IOThreads: int(threads[0]), NetworkThreads: int(threads[1])}
	}
	return &serverMetrics{
		requests: metrics.NewRequestMetrics(reg, opts),
		topics:   topics,
	}
}

// series is f's request series: Fetch from a replica is FetchFollower.
func (m *serverMetrics) series(f *inflight) *metrics.RequestSeries {
	follower := false
	if fr, ok := f.req.(*protocol.FetchRequest); ok {
		follower = fr.ReplicaID >= 0 || fr.ReplicaState.ReplicaID >= 0
	}
	return m.requests.Series(f.hdr.RequestAPIKey, follower)
}

// complete records f's request as finished at sent (zero: no response was
// written).
func (m *serverMetrics) complete(f *inflight, sending, sent time.Time) {
	if f.probe == nil {
		return
	}
	f.times.Sending, f.times.Sent = sending, sent
	f.probe.Complete(f.hdr.RequestAPIVersion, &f.times)
	f.probe = nil
	if m.reqLog != nil {
		if ce := m.reqLog.Check(zap.DebugLevel, "completed request"); ce != nil {
			end := orNow(sent, f.times.Handled)
			ce.Write(zap.String("api", apiName(f.hdr.RequestAPIKey)), zap.Int16("api_version", f.hdr.RequestAPIVersion),
				zap.Int32("correlation_id", f.hdr.CorrelationID), zap.Duration("total_time", end.Sub(f.times.Received)))
		}
	}
}

func orNow(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return t
}

// produced counts an append by a producer.
func (m *serverMetrics) produced(topic string, bytes int, records int64) {
	m.topics.Add2(topic, metrics.TopicBytesIn, uint64(max(bytes, 0)), metrics.TopicMessagesIn, uint64(max(records, 0)))
}

// rejected counts the bytes of a partition's records refused as too large
// (BytesRejectedPerSec).
func (m *serverMetrics) rejected(topic string, bytes int) {
	m.topics.Add(topic, metrics.TopicBytesRejected, uint64(max(bytes, 0)))
}

// fetched counts record bytes sent to a consumer (BytesOut) or a follower
// (ReplicationBytesOut, which Kafka keeps for all topics only).
func (m *serverMetrics) fetched(topic string, bytes int64, follower bool) {
	if follower {
		m.topics.Add("", metrics.TopicReplicationBytesOut, uint64(max(bytes, 0)))
		return
	}
	m.topics.Add(topic, metrics.TopicBytesOut, uint64(max(bytes, 0)))
}

// countTopicRequests counts Produce and consumer Fetch partitions per topic
// (Total*RequestsPerSec) and those that failed (Failed*RequestsPerSec).
// Like Kafka's ReplicaManager, the errors that say "ask elsewhere" or
// "not this record" are not failures of the broker: unknown partition,
// not leader, record too large, corrupt record, storage error.
func (m *serverMetrics) countTopicRequests(img *controller.MetadataImage, follower bool, resp protocol.Response) {
	switch r := resp.(type) {
	case *protocol.ProduceResponse:
		for i := range r.Responses {
			t := &r.Responses[i]
			name := topicName(img, string(t.Name), t.TopicID)
			for j := range t.PartitionResponses {
				m.topics.Add(name, metrics.TopicTotalProduceRequests, 1)
				if failedRequest(t.PartitionResponses[j].ErrorCode) {
					m.topics.Add(name, metrics.TopicFailedProduceRequests, 1)
				}
			}
		}
	case *protocol.FetchResponse:
		if follower {
			return
		}
		for i := range r.Responses {
			t := &r.Responses[i]
			name := topicName(img, string(t.Topic), t.TopicID)
			for j := range t.Partitions {
				m.topics.Add(name, metrics.TopicTotalFetchRequests, 1)
				if failedRequest(t.Partitions[j].ErrorCode) {
					m.topics.Add(name, metrics.TopicFailedFetchRequests, 1)
				}
			}
		}
	}
}

func topicName(img *controller.MetadataImage, name string, id protocol.UUID) string {
	if name != "" || img == nil {
		return name
	}
	if t := img.TopicByID(controller.TopicID(id)); t != nil {
		return t.Name
	}
	return ""
}

func failedRequest(code int16) bool {
	switch code {
	case errcode.None, errcode.UnknownTopicOrPartition, errcode.UnknownTopicID, errcode.NotLeaderOrFollower,
		errcode.MessageTooLarge, errcode.RecordListTooLarge, errcode.CorruptMessage, errcode.KafkaStorageError,
		errcode.FencedLeaderEpoch, errcode.UnknownLeaderEpoch, errcode.OffsetOutOfRange, errcode.TopicAuthorizationFailed:
		return false
	}
	return true
}
