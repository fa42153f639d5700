package metrics

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// Kafka's quantiles of a Yammer histogram, as Strimzi's rules label them
// (NNthPercentile → quantile="0.NN").
var (
	quantiles      = []float64{0.50, 0.75, 0.95, 0.98, 0.99, 0.999}
	quantileLabels = []string{"0.50", "0.75", "0.95", "0.98", "0.99", "0.999"}
)

// The RequestMetrics histograms, in Kafka's order: a request waits in the
// request queue, is handled locally, waits remotely (purgatory: acks=all,
// long-polling Fetch), is throttled, waits in the response queue and is
// sent. TotalTimeMs spans them all.
const (
	histTotal = iota
	histRequestQueue
	histLocal
	histRemote
	histThrottle
	histResponseQueue
	histResponseSend
	numRequestHists
)

var requestHistNames = [numRequestHists]string{
	"totaltimems", "requestqueuetimems", "localtimems", "remotetimems",
	"throttletimems", "responsequeuetimems", "responsesendtimems",
}

const (
	maxRequestVersion = 31
	maxErrorCode      = 255
	// FetchFollower is Fetch from a replica: Kafka names RequestMetrics
	// FetchConsumer and FetchFollower rather than Fetch.
	seriesFetchFollower = 1 << 10
)

// RequestTimes are the instants of one request's life; zero instants
// after Received mean "no time in that stage".
type RequestTimes struct {
	Received time.Time // the frame was read
	Dequeued time.Time // the handler took it
	Handled  time.Time // the response was encoded
	Sending  time.Time // the writer took it
	Sent     time.Time // the response was written (or Handled when none is sent)
	Remote   time.Duration
	Throttle time.Duration
}

// RequestSeries are one request name's RequestMetrics. Its methods are
// safe for concurrent use, lock- and allocation-free.
type RequestSeries struct {
	name     string
	versions [maxRequestVersion + 1]atomic.Uint64
	errors   [maxErrorCode + 2]atomic.Uint64 // code+1: UNKNOWN_SERVER_ERROR (-1) at 0
	hists    [numRequestHists]Histogram
	busyNs   atomic.Int64 // local (handler) time, for the handler pool idle ratio
	sendNs   atomic.Int64 // send time, for the network processor idle ratio
}

// Error counts one error code in a response (Kafka's ErrorsPerSec).
func (s *RequestSeries) Error(code int16) {
	if s == nil {
		return
	}
	i := int(code) + 1
	if i < 0 || i >= len(s.errors) {
		i = 0
	}
	s.errors[i].Add(1)
}

// Complete records a finished request of version v.
func (s *RequestSeries) Complete(v int16, t *RequestTimes) {
	if s == nil {
		return
	}
	if v >= 0 && int(v) <= maxRequestVersion {
		s.versions[v].Add(1)
	}
	sent := t.Sent
	if sent.IsZero() {
		sent = t.Handled
	}
	dequeued := orElse(t.Dequeued, t.Received)
	handled := orElse(t.Handled, dequeued)
	sending := orElse(t.Sending, handled)
	local := handled.Sub(dequeued) - t.Remote
	s.hists[histTotal].Observe(sent.Sub(t.Received))
	s.hists[histRequestQueue].Observe(dequeued.Sub(t.Received))
	s.hists[histLocal].Observe(local)
	s.hists[histRemote].Observe(t.Remote)
	s.hists[histThrottle].Observe(t.Throttle)
	s.hists[histResponseQueue].Observe(sending.Sub(handled))
	s.hists[histResponseSend].Observe(sent.Sub(sending))
	s.busyNs.Add(int64(max(local, 0)))
	s.sendNs.Add(int64(max(sent.Sub(sending), 0)))
}

func orElse(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return t
}

// Requests is the number of completed requests (all versions).
func (s *RequestSeries) Requests() uint64 {
	var n uint64
	for i := range s.versions {
		n += s.versions[i].Load()
	}
	return n
}

// RequestOptions size the idle-ratio gauges.
type RequestOptions struct {
	// IOThreads is num.io.threads, NetworkThreads num.network.threads: the
	// pools Kafka's idle percentages are of. Spool runs a handler and a
	// writer goroutine per connection instead, so the gauges report 1 -
	// busy time / (elapsed × threads), clamped to 0..1.
	IOThreads, NetworkThreads int
}

// RequestMetrics is Kafka's kafka.network:type=RequestMetrics for every
// request name, plus the request handler pool's and network processors'
// idle percentages derived from the same timings.
type RequestMetrics struct {
	opts   RequestOptions
	series sync.Map // int → *RequestSeries (API key, | seriesFetchFollower)
	// fast holds the series of the API keys below 128 once created, so
	// the request path reads one atomic pointer.
	fast [128]atomic.Pointer[RequestSeries]
	// connections counts open connections by listener
	connMu sync.Mutex
	conns  map[string]*atomic.Int64

	idleMu   sync.Mutex
	lastAt   time.Time
	lastBusy int64
	lastSend int64
	idleIO   float64
	idleNet  float64
}

// NewRequestMetrics creates the probe and registers it with reg (nil: not
// registered; recording still works).
func NewRequestMetrics(reg prometheus.Registerer, opts RequestOptions) *RequestMetrics {
	m := &RequestMetrics{opts: opts, conns: map[string]*atomic.Int64{}, idleIO: 1, idleNet: 1}
	m.opts.IOThreads = max(m.opts.IOThreads, 1)
	m.opts.NetworkThreads = max(m.opts.NetworkThreads, 1)
	if reg != nil {
		reg.MustRegister(m)
	}
	return m
}

// Series returns the series for API key (follower: a Fetch from a
// replica), creating it on first use. Nil-safe.
func (m *RequestMetrics) Series(key int16, follower bool) *RequestSeries {
	if m == nil {
		return nil
	}
	if key == protocol.KeyFetch && follower {
		return m.slow(int(key) | seriesFetchFollower)
	}
	if key >= 0 && int(key) < len(m.fast) {
		if s := m.fast[key].Load(); s != nil {
			return s
		}
		s := m.slow(int(key))
		m.fast[key].Store(s)
		return s
	}
	return m.slow(int(key))
}

func (m *RequestMetrics) slow(id int) *RequestSeries {
	if s, ok := m.series.Load(id); ok {
		return s.(*RequestSeries)
	}
	s, _ := m.series.LoadOrStore(id, &RequestSeries{name: requestName(id)})
	return s.(*RequestSeries)
}

// requestName is Kafka's request label: the API's name, with Fetch split
// into FetchConsumer and FetchFollower.
func requestName(id int) string {
	key := int16(id &^ seriesFetchFollower)
	if key == protocol.KeyFetch {
		if id&seriesFetchFollower != 0 {
			return "FetchFollower"
		}
		return "FetchConsumer"
	}
	if info := protocol.LookupAPI(key); info != nil {
		return info.Name
	}
	return "Unknown" + strconv.Itoa(int(key))
}

// Connection returns the open-connection gauge of a listener; the caller
// adds 1 on accept and -1 on close.
func (m *RequestMetrics) Connection(listener string) *atomic.Int64 {
	if m == nil {
		return new(atomic.Int64)
	}
	m.connMu.Lock()
	defer m.connMu.Unlock()
	g, ok := m.conns[listener]
	if !ok {
		g = new(atomic.Int64)
		m.conns[listener] = g
	}
	return g
}

var (
	descRequests = prometheus.NewDesc("kafka_network_requestmetrics_requests_total",
		"Requests completed, by request and version (kafka.network:type=RequestMetrics,name=RequestsPerSec).",
		[]string{"request", "version"}, nil)
	descErrors = prometheus.NewDesc("kafka_network_requestmetrics_errors_total",
		"Error codes in responses, by request and error (kafka.network:type=RequestMetrics,name=ErrorsPerSec); NONE is counted once per response without errors.",
		[]string{"request", "error"}, nil)
	descHistQ     [numRequestHists]*prometheus.Desc
	descHistCount [numRequestHists]*prometheus.Desc
	descIdleIO    = prometheus.NewDesc("kafka_server_kafkarequesthandlerpool_requesthandleravgidle_percent",
		"Fraction of num.io.threads worth of request handling time idle since the last scrape (kafka.server:type=KafkaRequestHandlerPool,name=RequestHandlerAvgIdlePercent).",
		nil, nil)
	descIdleNet = prometheus.NewDesc("kafka_network_socketserver_networkprocessoravgidle_percent",
		"Fraction of num.network.threads worth of response sending time idle since the last scrape (kafka.network:type=SocketServer,name=NetworkProcessorAvgIdlePercent).",
		nil, nil)
	descConnections = prometheus.NewDesc("kafka_server_socket_server_metrics_connection_count",
		"Open connections by listener (kafka.server:type=socket-server-metrics,listener=...,networkProcessor=... connection-count).",
		[]string{"listener", "networkProcessor"}, nil)
)

func init() {
	for i, n := range requestHistNames {
		descHistQ[i], descHistCount[i] = HistogramDescs("kafka_network_requestmetrics_"+n,
			"By request (kafka.network:type=RequestMetrics,name="+kafkaHistName[i]+").", []string{"request"})
	}
}

var kafkaHistName = [numRequestHists]string{
	"TotalTimeMs", "RequestQueueTimeMs", "LocalTimeMs", "RemoteTimeMs",
	"ThrottleTimeMs", "ResponseQueueTimeMs", "ResponseSendTimeMs",
}

// Describe implements prometheus.Collector.
func (m *RequestMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- descRequests
	ch <- descErrors
	for i := range descHistQ {
		ch <- descHistQ[i]
		ch <- descHistCount[i]
	}
	ch <- descIdleIO
	ch <- descIdleNet
	ch <- descConnections
}

// Collect implements prometheus.Collector.
func (m *RequestMetrics) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	var busy, send int64
	m.series.Range(func(_, v any) bool {
		s := v.(*RequestSeries)
		busy += s.busyNs.Load()
		send += s.sendNs.Load()
		for ver := range s.versions {
			if n := s.versions[ver].Load(); n > 0 {
				ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(n), s.name, strconv.Itoa(ver))
			}
		}
		for i := range s.errors {
			if n := s.errors[i].Load(); n > 0 {
				ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(n), s.name, errcode.Name(int16(i-1)))
			}
		}
		for i := range s.hists {
			s.hists[i].Emit(ch, descHistQ[i], descHistCount[i], s.name)
		}
		return true
	})
	idleIO, idleNet := m.idle(now, busy, send)
	ch <- prometheus.MustNewConstMetric(descIdleIO, prometheus.GaugeValue, idleIO)
	ch <- prometheus.MustNewConstMetric(descIdleNet, prometheus.GaugeValue, idleNet)
	m.connMu.Lock()
	for l, g := range m.conns {
		ch <- prometheus.MustNewConstMetric(descConnections, prometheus.GaugeValue, float64(g.Load()), l, "0")
	}
	m.connMu.Unlock()
}

// idle updates the idle ratios from the busy time accumulated since the
// previous scrape; the first scrape reports 1 (idle).
func (m *RequestMetrics) idle(now time.Time, busy, send int64) (io, net float64) {
	m.idleMu.Lock()
	defer m.idleMu.Unlock()
	if !m.lastAt.IsZero() {
		if el := now.Sub(m.lastAt); el > 0 {
			m.idleIO = clamp01(1 - float64(busy-m.lastBusy)/(float64(el)*float64(m.opts.IOThreads)))
			m.idleNet = clamp01(1 - float64(send-m.lastSend)/(float64(el)*float64(m.opts.NetworkThreads)))
		}
	}
	m.lastAt, m.lastBusy, m.lastSend = now, busy, send
	return m.idleIO, m.idleNet
}

func clamp01(f float64) float64 { return min(max(f, 0), 1) }
