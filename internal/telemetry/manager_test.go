package telemetry

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/protocol/records"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *fakeClock               { return &fakeClock{t: time.Unix(1700000000, 0)} }
func javaClient(id string) Client {
	return Client{ClientID: id, SoftwareName: "apache-kafka-java", SoftwareVersion: "4.3.1", SourceAddress: "127.0.0.1", SourcePort: "5000"}
}
func sub(cfg ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(cfg); i += 2 {
		m[cfg[i]] = cfg[i+1]
	}
	return m
}

func TestValidateConfig(t *testing.T) {
	cases := []struct {
		name string
		sub  string
		cfg  map[string]string
		err  error
		msg  string
	}{
		{name: "ok", sub: "s", cfg: sub("metrics", "org.apache.kafka.producer., org.apache.kafka.consumer.", "interval.ms", "1000", "match", "client_id=p.*,client_software_name=apache-kafka-java")},
		{name: "empty is ok", sub: "s", cfg: sub()},
		{name: "empty name", sub: "", cfg: sub(), err: ErrInvalidRequest, msg: "Subscription name can't be empty"},
		{name: "unknown key", sub: "s", cfg: sub("metric", "x"), err: ErrInvalidRequest, msg: "Unknown client metrics configuration: metric"},
		{name: "interval low", sub: "s", cfg: sub("interval.ms", "99"), err: ErrInvalidRequest, msg: "Invalid value 99 for interval.ms, interval must be between 100 and 3600000 (1 hour)"},
		{name: "interval high", sub: "s", cfg: sub("interval.ms", "3600001"), err: ErrInvalidRequest},
		{name: "interval not int", sub: "s", cfg: sub("interval.ms", "soon"), err: ErrInvalidConfig},
		{name: "match no =", sub: "s", cfg: sub("match", "client_id"), err: ErrInvalidConfig, msg: "Illegal client matching pattern: client_id"},
		{name: "match two =", sub: "s", cfg: sub("match", "client_id=a=b"), err: ErrInvalidConfig},
		{name: "match unknown selector", sub: "s", cfg: sub("match", "host=a"), err: ErrInvalidConfig},
		{name: "match bad regex", sub: "s", cfg: sub("match", "client_id=(a"), err: ErrInvalidConfig},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := ValidateConfig(c.sub, c.cfg)
			if c.err == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, c.err)
			require.Contains(t, err.Error(), c.msg)
		})
	}
}

func TestSubscriptionMatching(t *testing.T) {
	clk := newClock()
	m := NewManager(Config{Now: clk.now, MaxClients: 10, MaxSeriesPerClient: 10})
	m.SetSubscriptions(map[string]map[string]string{
		"producers": sub("metrics", "org.apache.kafka.producer.", "interval.ms", "2000", "match", "client_id=prod-.*"),
		"java":      sub("metrics", "org.apache.kafka.consumer.", "interval.ms", "5000", "match", "client_software_name=apache-kafka-java"),
		"other":     sub("metrics", "*", "match", "client_id=nobody"),
	})
	got, err := m.GetSubscriptions([16]byte{}, javaClient("prod-1"))
	require.NoError(t, err)
	require.False(t, Reserved(got.ClientInstanceID))
	require.Equal(t, []string{"org.apache.kafka.consumer.", "org.apache.kafka.producer."}, got.RequestedMetrics)
	require.EqualValues(t, 2000, got.PushIntervalMs, "the smallest interval of the matching subscriptions")

	got2, err := m.GetSubscriptions([16]byte{}, javaClient("cons-1"))
	require.NoError(t, err)
	require.Equal(t, []string{"org.apache.kafka.consumer."}, got2.RequestedMetrics)
	require.NotEqual(t, got.ClientInstanceID, got2.ClientInstanceID)

	// "*" wins over prefixes; no match: nothing requested, default interval.
	got3, err := m.GetSubscriptions([16]byte{}, Client{ClientID: "nobody"})
	require.NoError(t, err)
	require.Equal(t, []string{AllMetrics}, got3.RequestedMetrics)
	got4, err := m.GetSubscriptions([16]byte{}, Client{ClientID: "x"})
	require.NoError(t, err)
	require.Empty(t, got4.RequestedMetrics)
	require.EqualValues(t, DefaultIntervalMs, got4.PushIntervalMs)
}

func TestGetAndPush(t *testing.T) {
	clk := newClock()
	m := NewManager(Config{Now: clk.now, MaxBytes: 4096, MaxClients: 10, MaxSeriesPerClient: 10})
	m.SetSubscriptions(map[string]map[string]string{"all": sub("metrics", "*", "interval.ms", "1000")})
	c := javaClient("p")
	got, err := m.GetSubscriptions([16]byte{}, c)
	require.NoError(t, err)
	id := got.ClientInstanceID

	_, err = m.GetSubscriptions(id, c)
	require.ErrorIs(t, err, ErrThrottled, "a second Get within the interval")

	payload := craftedMetricsData()
	push := func(subID int32, codec records.Compression, body []byte, terminating bool) error {
		p := &Push{ClientInstanceID: id, SubscriptionID: subID, CompressionType: int8(codec), Metrics: body, Terminating: terminating}
		if err := m.ValidatePush(p, c); err != nil {
			return err
		}
		return m.Export(p)
	}
	// The first push after a Get is accepted at once.
	require.NoError(t, push(got.SubscriptionID, records.CompressionNone, payload, false))
	require.ErrorIs(t, push(got.SubscriptionID, records.CompressionNone, payload, false), ErrThrottled)
	for _, codec := range []records.Compression{records.CompressionZstd, records.CompressionLZ4, records.CompressionGzip, records.CompressionSnappy} {
		clk.add(time.Second)
		z, err := records.Compress(nil, codec, payload)
		require.NoError(t, err)
		require.NoError(t, push(got.SubscriptionID, codec, z, false), codec.String())
	}
	clk.add(time.Second)
	require.ErrorIs(t, push(got.SubscriptionID+1, records.CompressionNone, payload, false), ErrUnknownSubscriptionID)
	// After UNKNOWN_SUBSCRIPTION_ID a Get is not throttled.
	clk.add(time.Millisecond)
	_, err = m.GetSubscriptions(id, c)
	require.NoError(t, err)
	require.ErrorIs(t, push(got.SubscriptionID, 9, payload, false), ErrUnsupportedCompression)
	clk.add(time.Second)
	require.ErrorIs(t, push(got.SubscriptionID, records.CompressionNone, make([]byte, 4097), false), ErrTooLarge)
	clk.add(time.Second)
	bomb, err := records.Compress(nil, records.CompressionGzip, make([]byte, 100000))
	require.NoError(t, err)
	require.ErrorIs(t, push(got.SubscriptionID, records.CompressionGzip, bomb, false), ErrTooLarge, "decompressed past telemetry.max.bytes")
	clk.add(time.Second)
	require.ErrorIs(t, push(got.SubscriptionID, records.CompressionNone, []byte{0x0a, 0x05, 0x01}, false), ErrMalformed)
	clk.add(time.Second)
	require.ErrorIs(t, push(got.SubscriptionID, records.CompressionGzip, []byte("not gzip"), false), ErrMalformed)

	// The exported series: 5 pushes of a delta sum of 42 accumulate, the
	// gauge keeps its last value.
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m))
	idLabel := uuidString(id)
	client := `client_id="p",client_instance_id="` + idLabel + `",client_software_name="apache-kafka-java",client_software_version="4.3.1"`
	got2 := samples(t, reg)
	require.Equal(t, 210.0, got2[`spool_client_org_apache_kafka_producer_record_send_total{`+client+`,node_id="3",topic="t1"}`])
	require.Equal(t, "COUNTER", types(t, reg)["spool_client_org_apache_kafka_producer_record_send_total"])
	require.Equal(t, 12.5, got2[`spool_client_org_apache_kafka_producer_request_latency_avg{`+client+`}`])
	require.Equal(t, 1.0, got2[`spool_client_telemetry_info{client_id="p",client_instance_id="`+idLabel+`",client_rack="r1",client_software_name="apache-kafka-java",client_software_version="4.3.1",client_source_address="127.0.0.1"}`],
		"resource attributes label the info series")
	require.Equal(t, 5.0, got2[`spool_client_telemetry_pushes_total{result="ok"}`])
	require.Equal(t, 2.0, got2[`spool_client_telemetry_pushes_total{result="invalid_record"}`])
	require.Equal(t, 2.0, got2[`spool_client_telemetry_pushes_total{result="telemetry_too_large"}`])

	// A terminating push is accepted early; nothing after it is.
	require.NoError(t, push(got.SubscriptionID, records.CompressionNone, nil, true))
	clk.add(2 * time.Second)
	require.ErrorIs(t, push(got.SubscriptionID, records.CompressionNone, nil, false), ErrInvalidRequest)

	// Forgotten after max(1 minute, 3 intervals) of silence, series too.
	clk.add(2 * time.Minute)
	for k := range samples(t, reg) {
		require.False(t, strings.HasPrefix(k, "spool_client_org_"), k)
	}
	require.Zero(t, m.Instances())
}

// samples gathers reg into "name{labels}" → value, labels sorted by name.
func samples(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, mt := range mf.Metric {
			var ls []string
			for _, l := range mt.Label {
				ls = append(ls, l.GetName()+`="`+l.GetValue()+`"`)
			}
			sort.Strings(ls)
			v := mt.GetGauge().GetValue() + mt.GetCounter().GetValue()
			out[mf.GetName()+"{"+strings.Join(ls, ",")+"}"] = v
		}
	}
	return out
}

func types(t *testing.T, reg *prometheus.Registry) map[string]string {
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]string{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf.GetType().String()
	}
	return out
}

func TestSubscriptionChange(t *testing.T) {
	clk := newClock()
	m := NewManager(Config{Now: clk.now, MaxClients: 10, MaxSeriesPerClient: 10})
	m.SetSubscriptions(map[string]map[string]string{"a": sub("metrics", "x.", "interval.ms", "60000")})
	c := javaClient("p")
	got, err := m.GetSubscriptions([16]byte{}, c)
	require.NoError(t, err)
	m.SetSubscriptions(map[string]map[string]string{"a": sub("metrics", "y.", "interval.ms", "60000")})
	// The old subscription id is now unknown, and a Get is answered at
	// once with the new subscription.
	p := &Push{ClientInstanceID: got.ClientInstanceID, SubscriptionID: got.SubscriptionID}
	require.ErrorIs(t, m.ValidatePush(p, c), ErrUnknownSubscriptionID)
	got2, err := m.GetSubscriptions(got.ClientInstanceID, c)
	require.NoError(t, err)
	require.Equal(t, []string{"y."}, got2.RequestedMetrics)
	require.NotEqual(t, got.SubscriptionID, got2.SubscriptionID)
	require.Equal(t, []string{"a"}, m.Subscriptions())
}

func TestExportCaps(t *testing.T) {
	clk := newClock()
	m := NewManager(Config{Now: clk.now, MaxClients: 1, MaxSeriesPerClient: 1})
	m.SetSubscriptions(map[string]map[string]string{"all": sub("metrics", "*", "interval.ms", "100")})
	var ids [][16]byte
	var subs []int32
	for _, name := range []string{"a", "b"} {
		got, err := m.GetSubscriptions([16]byte{}, javaClient(name))
		require.NoError(t, err)
		ids, subs = append(ids, got.ClientInstanceID), append(subs, got.SubscriptionID)
	}
	for i := range ids {
		p := &Push{ClientInstanceID: ids[i], SubscriptionID: subs[i], Metrics: craftedMetricsData()}
		require.NoError(t, m.ValidatePush(p, javaClient("x")))
		require.NoError(t, m.Export(p), "over the caps a push is accepted, not exported")
	}
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m))
	got := samples(t, reg)
	n := 0
	for k := range got {
		if strings.HasPrefix(k, "spool_client_org_") {
			n++
		}
	}
	require.Equal(t, 1, n, "one client, one series")
	require.Equal(t, 2.0, got[`spool_client_telemetry_dropped_points_total{reason="clients"}`])
	require.Equal(t, 1.0, got[`spool_client_telemetry_dropped_points_total{reason="series"}`])
	require.Equal(t, 1.0, got[`spool_client_telemetry_dropped_points_total{reason="unsupported_type"}`])
	require.Equal(t, 1.0, got[`spool_client_telemetry_exported_clients{}`])
}
