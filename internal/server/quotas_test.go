package server

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/spool-broker/spool/quota"
)

// throttleHook counts the throttles a client is told about.
type throttleHook struct{ n *atomic.Int64 }

func (h throttleHook) OnBrokerThrottle(_ kgo.BrokerMetadata, d time.Duration, _ bool) {
	if d > 0 {
		h.n.Add(1)
	}
}

// sizeSample is how many bytes two partition logs held at a moment.
type sizeSample struct {
	at   time.Duration
	a, b int64
}

// sampleLogs records the sizes of two partitions' logs every 20 ms for d:
// what the broker accepted, over time.
func sampleLogs(n *testNode, a, b string, d time.Duration) []sizeSample {
	size := func(topic string) int64 {
		if p := n.broker.partition(topic, 0); p != nil {
			return p.Log().Size()
		}
		return 0
	}
	start := time.Now()
	var out []sizeSample
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		el := time.Since(start)
		out = append(out, sizeSample{at: el, a: size(a), b: size(b)})
		if el >= d {
			return out
		}
	}
	return out
}

// at is the sample at or just after d.
func at(samples []sizeSample, d time.Duration) sizeSample {
	for _, s := range samples {
		if s.at >= d {
			return s
		}
	}
	return samples[len(samples)-1]
}

// TestProducerByteRateQuota: a producer with a 1 MiB/s producer_byte_rate
// (client-id quota) writing as fast as it can is held to its quota, while
// an unthrottled producer on the same broker keeps its rate.
//
// The bytes are what the broker accepted (the partition log's growth), over
// the first 10 s of the producer's life. Kafka's rate spans at least
// quota.window.num-1 windows, so a new producer gets about quota × 11 s in
// its first 10 s (a burst, then throttled); the bound is ±15 % of quota ×
// 10 s around that. (quota/sim_test.go runs the same rate longer.)
func TestProducerByteRateQuota(t *testing.T) {
	n := startTestNode(t, "KAFKA_NUM_PARTITIONS=1")
	createTopic(t, n.addr, "throttled", 1, nil)
	createTopic(t, n.addr, "free", 1, nil)
	const quotaBytes = 1 << 20
	setQuota(t, kadm.NewClient(newClient(t, n.addr)), quotaEntity("client-id", "slow-producer"), quota.ProducerByteRate, float64(quotaBytes))

	var slowThrottles, freeThrottles atomic.Int64
	slow := newClient(t, n.addr, kgo.ClientID("slow-producer"), kgo.DefaultProduceTopic("throttled"),
		kgo.ProducerBatchMaxBytes(16<<10), kgo.ProducerLinger(0), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.WithHooks(throttleHook{&slowThrottles}))
	free := newClient(t, n.addr, kgo.ClientID("free-producer"), kgo.DefaultProduceTopic("free"),
		kgo.ProducerBatchMaxBytes(16<<10), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.WithHooks(throttleHook{&freeThrottles}))
	value := make([]byte, 1000) // sent uncompressed: quotas meter bytes on the wire

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Add(2)
	go func() { // as fast as the client buffers allow
		defer wg.Done()
		for ctx.Err() == nil {
			slow.Produce(ctx, &kgo.Record{Value: value}, nil)
		}
	}()
	// Paced below the quota, so that a loaded machine still keeps up, yet
	// fast enough that a quota wrongly shared between the two clients
	// (1 MiB/s + 0.5 MiB/s) would throttle it.
	const freeRate = 512 << 10 // bytes/s
	// Paced by elapsed time, so that a stalled tick is made up.
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		start, sent := time.Now(), 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for due := int(time.Since(start).Seconds() * freeRate / float64(len(value))); sent < due; sent++ {
				free.Produce(ctx, &kgo.Record{Value: value}, nil)
			}
		}
	}()
	samples := sampleLogs(n, "throttled", "free", 10*time.Second)
	end := at(samples, 10*time.Second)
	ratio := float64(end.a) / (quotaBytes * 10)
	t.Logf("throttled producer: %.2f MiB in 10 s = %.3f × quota (throttled %d times); unthrottled: %.2f MiB (throttled %d times)",
		float64(end.a)/(1<<20), ratio, slowThrottles.Load(), float64(end.b)/(1<<20), freeThrottles.Load())
	for _, s := range []time.Duration{time.Second, 2 * time.Second, 5 * time.Second} {
		t.Logf("  after %v: %.2f MiB", s, float64(at(samples, s).a)/(1<<20))
	}
	require.InDelta(t, 1.0, ratio, 0.15, "the throttled producer's bytes over 10 s, against quota × 10 s")
	require.Positive(t, slowThrottles.Load(), "the throttled producer was told to back off")
	require.GreaterOrEqual(t, float64(end.b), 0.85*freeRate*10, "the unthrottled producer kept its rate")
	require.Zero(t, freeThrottles.Load(), "the unthrottled producer was never throttled")

	// The quota's metrics, under Kafka's names as Strimzi exports them.
	reg := prometheus.NewRegistry()
	n.server.quotas.clients.Register(reg)
	byteRate := gaugeValue(t, reg, "kafka_server_quota_byte_rate", map[string]string{"resource": "Produce", "clientId": "slow-producer", "user": ""})
	require.InDelta(t, quotaBytes, byteRate, 0.5*quotaBytes)
	require.Positive(t, gaugeValue(t, reg, "kafka_server_quota_throttle_time", map[string]string{"resource": "Produce", "clientId": "slow-producer", "user": ""}))
	require.Positive(t, gaugeValue(t, reg, "kafka_server_quota_byte_rate", map[string]string{"resource": "Produce", "clientId": "free-producer", "user": ""}))
}

// gaugeValue reads one series of a gathered metric.
func gaugeValue(t *testing.T, reg prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue next
				}
			}
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return 0
}

// TestConsumerByteRateQuota: a consumer with a 1 MiB/s consumer_byte_rate
// reading a full topic is held to its quota (throttled fetches are answered
// empty), while an unthrottled consumer of the same data is not.
func TestConsumerByteRateQuota(t *testing.T) {
	n := startTestNode(t, "KAFKA_NUM_PARTITIONS=1")
	createTopic(t, n.addr, "data", 1, nil)
	const quotaBytes = 1 << 20
	const records = 16 << 10 // 16 MiB of 1 KiB values
	value := make([]byte, 1000)
	p := newClient(t, n.addr, kgo.DefaultProduceTopic("data"), kgo.ProducerBatchMaxBytes(16<<10),
		kgo.ProducerBatchCompression(kgo.NoCompression())) // quotas meter bytes on the wire
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := 0; i < records; i += 1024 {
		batch := make([]*kgo.Record, 1024)
		for j := range batch {
			batch[j] = &kgo.Record{Value: value}
		}
		require.NoError(t, p.ProduceSync(ctx, batch...).FirstErr())
	}
	setQuota(t, kadm.NewClient(newClient(t, n.addr)), quotaEntity("client-id", "slow-consumer"), quota.ConsumerByteRate, float64(quotaBytes))

	const total = int64(records * 1000)
	consume := func(ctx context.Context, clientID string, throttles *atomic.Int64, got *atomic.Int64) {
		cl := newClient(t, n.addr, kgo.ClientID(clientID), kgo.ConsumeTopics("data"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(16<<10), kgo.FetchMaxPartitionBytes(16<<10),
			kgo.WithHooks(throttleHook{throttles}))
		for ctx.Err() == nil && got.Load() < total {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) { got.Add(int64(len(r.Value))) })
		}
	}
	var slowThrottles, freeThrottles, slowBytes, freeBytes atomic.Int64
	var wg sync.WaitGroup
	wg.Add(2)
	slowCtx, stopSlow := context.WithCancel(ctx)
	defer stopSlow()
	start := time.Now()
	go func() { defer wg.Done(); consume(slowCtx, "slow-consumer", &slowThrottles, &slowBytes) }()
	go func() { defer wg.Done(); consume(ctx, "free-consumer", &freeThrottles, &freeBytes) }()
	deadline := time.NewTimer(10*time.Second - time.Since(start))
	<-deadline.C
	slowGot, freeAt10 := slowBytes.Load(), freeBytes.Load()
	stopSlow()
	// The unthrottled consumer reads on until it has everything (or the
	// test's minute runs out): how fast is the machine's business, that it
	// is never held back is the quota's.
	wg.Wait()
	freeGot := freeBytes.Load()
	ratio := float64(slowGot) / (quotaBytes * 10)
	t.Logf("throttled consumer: %.2f MiB in 10 s = %.3f × quota (throttled %d times); unthrottled: %.2f MiB in 10 s, %.2f MiB in %v (throttled %d times)",
		float64(slowGot)/(1<<20), ratio, slowThrottles.Load(), float64(freeAt10)/(1<<20), float64(freeGot)/(1<<20),
		time.Since(start).Round(time.Millisecond), freeThrottles.Load())
	require.InDelta(t, 1.0, ratio, 0.15, "the throttled consumer's bytes over 10 s, against quota × 10 s")
	require.Positive(t, slowThrottles.Load())
	require.Equal(t, total, freeGot, "the unthrottled consumer read everything")
	require.Greater(t, freeAt10, slowGot, "the unthrottled consumer outran the throttled one")
	require.Zero(t, freeThrottles.Load())
}

// quotaConn is a Kafka connection driven by hand: requests are written
// without waiting for responses, as a client that ignores throttle times.
type quotaConn struct {
	nc       net.Conn
	br       *bufio.Reader
	clientID string
	corr     int32
}

func dialQuotaConn(t *testing.T, addr, clientID string, local string) (*quotaConn, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { nc.Close() })
	return &quotaConn{nc: nc, br: bufio.NewReader(nc), clientID: clientID}, nil
}

// sendApiVersions writes an ApiVersions v3 request.
func (c *quotaConn) sendApiVersions() error {
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName, req.ClientSoftwareVersion = "quota-test", "1"
	c.corr++
	hdr := binary.BigEndian.AppendUint16(nil, uint16(req.Key()))
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(req.Version))
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(c.corr))
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(len(c.clientID)))
	hdr = append(hdr, c.clientID...)
	hdr = append(hdr, 0) // no tagged fields
	body := req.AppendTo(hdr)
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	_, err := c.nc.Write(append(frame, body...))
	return err
}

// readApiVersions reads an ApiVersions v3 response.
func (c *quotaConn) readApiVersions() (*kmsg.ApiVersionsResponse, error) {
	var size [4]byte
	if _, err := io.ReadFull(c.br, size[:]); err != nil {
		return nil, err
	}
	buf := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c.br, buf); err != nil {
		return nil, err
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 3
	return resp, resp.ReadFrom(buf[4:]) // after the correlation id (v0 header)
}

// apiVersions does one request and response.
func (c *quotaConn) apiVersions() error {
	if err := c.sendApiVersions(); err != nil {
		return err
	}
	_, err := c.readApiVersions()
	return err
}

// TestRequestPercentageQuota: a client sending many tiny requests as fast
// as it can, ignoring throttle times, is throttled by request_percentage:
// responses carry throttle_time_ms and the broker mutes the connection for
// that long (KIP-219), so the next response comes no sooner. Another
// client without a quota is never throttled.
func TestRequestPercentageQuota(t *testing.T) {
	n := startTestNode(t)
	setQuota(t, kadm.NewClient(newClient(t, n.addr)), quotaEntity("client-id", "busy"), quota.RequestPercentage, 1.0)

	busy, err := dialQuotaConn(t, n.addr, "busy", "")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go func() { // pipeline requests, never looking at throttle times
		for ctx.Err() == nil {
			if busy.sendApiVersions() != nil {
				return
			}
		}
	}()
	// Read until the throttles told since the first one add up to 1.5 s.
	// Each mutes the connection from when its request was handled, so
	// however late the client reads, the last response cannot arrive
	// sooner after the first throttled one than the throttles before it
	// (less the one read delay of that first response).
	var first time.Time
	var throttled time.Duration
	responses := 0
	for throttled < 1500*time.Millisecond {
		resp, err := busy.readApiVersions()
		require.NoError(t, err, "after %d responses", responses)
		responses++
		if resp.ThrottleMillis == 0 {
			continue
		}
		if first.IsZero() {
			first = time.Now()
		}
		throttled += time.Duration(resp.ThrottleMillis) * time.Millisecond
	}
	_, err = busy.readApiVersions() // answered once the last throttle has passed
	require.NoError(t, err)
	after := time.Since(first)
	require.GreaterOrEqual(t, after, throttled-100*time.Millisecond,
		"the connection was muted for the throttle times though the client kept sending")
	t.Logf("%d responses, throttles adding up to %v served within %v", responses, throttled, after)
	cancel()

	other, err := dialQuotaConn(t, n.addr, "other", "")
	require.NoError(t, err)
	for i := range 2000 {
		require.NoError(t, other.sendApiVersions())
		resp, err := other.readApiVersions()
		require.NoError(t, err)
		require.Zero(t, resp.ThrottleMillis, "request %d of a client without a quota", i)
	}
}

// TestControllerMutationQuota: CreateTopics, CreatePartitions and
// DeleteTopics are charged with partitions. From the KIP-599 versions on,
// mutations are refused with THROTTLING_QUOTA_EXCEEDED while the token
// bucket is empty; older versions are accepted and throttled.
func TestControllerMutationQuota(t *testing.T) {
	n := startTestNode(t)
	// 2 partitions/s: a bucket of 11 windows × 1 s × 2 = 22 tokens. The
	// rate is low so that the bucket stays empty for seconds between the
	// requests below, however slowly a loaded machine runs them (the
	// bucket refills by wall clock).
	setQuota(t, kadm.NewClient(newClient(t, n.addr)), quotaEntity("client-id", "mutator"), quota.ControllerMutationRate, 2.0)
	cl := newClient(t, n.addr, kgo.ClientID("mutator"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	create := func(cl *kgo.Client, name string, partitions int32) *kmsg.CreateTopicsResponse {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.TimeoutMillis = 5000
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, 1
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		require.NoError(t, err)
		return resp
	}
	resp := create(cl, "big", 30) // 22 → -8: accepted, the bucket was not empty
	require.Zero(t, resp.Topics[0].ErrorCode)
	require.Zero(t, resp.ThrottleMillis, "a strict quota throttles only refused mutations")

	resp = create(cl, "small", 1)
	require.Equal(t, kerr.ThrottlingQuotaExceeded.Code, resp.Topics[0].ErrorCode)
	require.Equal(t, "The throttling quota has been exceeded.", *resp.Topics[0].ErrorMessage)
	require.Positive(t, resp.ThrottleMillis)
	require.LessOrEqual(t, resp.ThrottleMillis, int32(4000), "at most -8 tokens at 2/s")

	// Permissive (CreateTopics v5, as Kafka 2.4 clients send it): accepted
	// though the bucket is empty, and throttled for the deficit.
	old := newClient(t, n.addr, kgo.ClientID("mutator"), kgo.MaxVersions(kversion.V2_4_0()))
	resp = create(old, "old-style", 30)
	require.Zero(t, resp.Topics[0].ErrorCode)
	require.Positive(t, resp.ThrottleMillis)
	require.LessOrEqual(t, resp.ThrottleMillis, int32(19000), "at most -38 tokens at 2/s")
	require.NotNil(t, n.broker.image.Load().Topic("old-style"))

	// Strict DeleteTopics (v5+) and CreatePartitions (v3+) are refused while
	// the bucket is negative. (Each on a connection of its own: a refusal
	// mutes its connection until the bucket has refilled.)
	del := kmsg.NewPtrDeleteTopicsRequest()
	dt := kmsg.NewDeleteTopicsRequestTopic()
	dt.Topic = kmsg.StringPtr("big")
	del.Topics = append(del.Topics, dt)
	del.TopicNames = []string{"big"}
	dresp, err := del.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Equal(t, kerr.ThrottlingQuotaExceeded.Code, dresp.Topics[0].ErrorCode)
	cp := kmsg.NewPtrCreatePartitionsRequest()
	cpt := kmsg.NewCreatePartitionsRequestTopic()
	cpt.Topic, cpt.Count = "big", 40
	cp.Topics = append(cp.Topics, cpt)
	cresp, err := cp.RequestWith(ctx, newClient(t, n.addr, kgo.ClientID("mutator")))
	require.NoError(t, err)
	require.Equal(t, kerr.ThrottlingQuotaExceeded.Code, cresp.Topics[0].ErrorCode)
	require.NotNil(t, n.broker.image.Load().Topic("big"))
}
