package metrics

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// BenchmarkRequestProbe is what dispatch records per request: the series
// lookup, one error code and the completion with its seven timings. It
// must not allocate.
//
//	go test -run '^$' -bench RequestProbe ./metrics/
func BenchmarkRequestProbe(b *testing.B) {
	m := NewRequestMetrics(prometheus.NewRegistry(), RequestOptions{})
	now := time.Now()
	t := RequestTimes{Received: now, Dequeued: now.Add(10 * time.Microsecond), Handled: now.Add(200 * time.Microsecond),
		Sending: now.Add(210 * time.Microsecond), Sent: now.Add(250 * time.Microsecond)}
	b.ReportAllocs()
	for b.Loop() {
		s := m.Series(protocol.KeyProduce, false)
		s.Error(errcode.None)
		s.Complete(9, &t)
	}
}

func TestRequestProbeNoAllocs(t *testing.T) {
	m := NewRequestMetrics(nil, RequestOptions{})
	now := time.Now()
	times := RequestTimes{Received: now, Handled: now.Add(time.Millisecond)}
	m.Series(protocol.KeyFetch, true) // first use creates the series
	allocs := testing.AllocsPerRun(100, func() {
		s := m.Series(protocol.KeyFetch, true)
		s.Error(errcode.NotLeaderOrFollower)
		s.Complete(12, &times)
	})
	require.Zero(t, allocs)
	require.Equal(t, "FetchFollower", m.Series(protocol.KeyFetch, true).name)
	require.Equal(t, "FetchConsumer", m.Series(protocol.KeyFetch, false).name)
	require.Equal(t, uint64(101), m.Series(protocol.KeyFetch, true).Requests())
}

// BenchmarkTopicMetricsAdd is the per-partition cost Produce pays for
// BrokerTopicMetrics (BytesIn, MessagesIn, TotalProduceRequests: three
// adds per partition of a request), the rest of the metrics' share of the
// produce path besides BenchmarkRequestProbe.
//
//	go test -run '^$' -bench TopicMetricsAdd ./metrics/
func BenchmarkTopicMetricsAdd(b *testing.B) {
	m := NewBrokerTopicMetrics(nil)
	topics := make([]string, 100)
	for i := range topics {
		topics[i] = fmt.Sprintf("topic-%d", i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		t := topics[i%len(topics)]
		m.Add2(t, TopicBytesIn, 16384, TopicMessagesIn, 16)
		m.Add(t, TopicTotalProduceRequests, 1)
		i++
	}
}
