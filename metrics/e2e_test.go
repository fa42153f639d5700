package metrics_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spool-broker/spool/internal/spooltest"
)

// TestDocumentedMetrics runs a broker and checks that every name
// docs/metrics.md marks supported or partial is scraped from /metrics (a
// documented metric that disappears fails here), and that the series move
// when they should: producing raises messagesin, a group that committed
// behind the log end has lag, requests are counted per request name.
func TestDocumentedMetrics(t *testing.T) {
	b := spooltest.Start(t, spooltest.Options{HTTP: true})
	base := "http://" + b.HTTPAddr
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 50*time.Millisecond, "/readyz never answered 200")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	const topic = "metrics-e2e"
	_, err = adm.CreateTopic(ctx, 2, 1, nil, topic)
	require.NoError(t, err)

	before := fetchScrape(t, base+"/metrics")
	msgsBefore, _ := before.value("kafka_server_brokertopicmetrics_messagesin_total", map[string]string{"topic": ""})

	for i := range 10 {
		r := &kgo.Record{Topic: topic, Partition: 0, Value: []byte{byte(i)}}
		require.NoError(t, cl.ProduceSync(ctx, r).FirstErr())
	}
	// A consumer reads the partition (bytes out), and a group commits
	// offset 3 of the 10: lag 7.
	cons, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	require.NoError(t, err)
	defer cons.Close()
	got := 0
	for got < 10 {
		fs := cons.PollFetches(ctx)
		require.NoError(t, ctx.Err())
		got += fs.NumRecords()
	}
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: 3, LeaderEpoch: -1})
	resps, err := adm.CommitOffsets(ctx, "lagging", offs)
	require.NoError(t, err)
	require.NoError(t, resps.Error())

	// A batch over the topic's max.message.bytes is refused and its bytes
	// counted as rejected.
	const small = "metrics-e2e-small"
	_, err = adm.CreateTopic(ctx, 1, 1, map[string]*string{"max.message.bytes": kadm.StringPtr("200")}, small)
	require.NoError(t, err)
	big := make([]byte, 1000)
	_, _ = rand.Read(big) // incompressible: the batch stays over 200 bytes
	err = cl.ProduceSync(ctx, &kgo.Record{Topic: small, Value: big}).FirstErr()
	require.ErrorIs(t, err, kerr.MessageTooLarge)

	// A fetch at the log end parks for its MaxWaitMs: RemoteTimeMs, not
	// LocalTimeMs (Kafka's DelayedFetch in purgatory).
	freq := kmsg.NewPtrFetchRequest()
	freq.MaxWaitMillis, freq.MinBytes, freq.MaxBytes = 300, 1, 1<<20
	ft := kmsg.NewFetchRequestTopic()
	td, err := adm.ListTopics(ctx, topic)
	require.NoError(t, err)
	ft.Topic, ft.TopicID = topic, td[topic].ID
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.Partition, fp.FetchOffset, fp.PartitionMaxBytes, fp.CurrentLeaderEpoch = 0, 10, 1<<20, -1
	ft.Partitions = append(ft.Partitions, fp)
	freq.Topics = append(freq.Topics, ft)
	fresp, err := freq.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Zero(t, fresp.Topics[0].Partitions[0].ErrorCode)
	require.Empty(t, fresp.Topics[0].Partitions[0].RecordBatches, "nothing past offset 10")

	// A request's times are recorded once its response is written, as
	// Kafka's are, so the client can see the answer before the broker has
	// counted it: scrape until the parked fetch is in.
	longPoll := map[string]string{"request": "FetchConsumer", "quantile": "0.999"}
	var after scrape
	require.Eventually(t, func() bool {
		after = fetchScrape(t, base+"/metrics")
		v, ok := after.value("kafka_network_requestmetrics_remotetimems", longPoll)
		return ok && v >= 250
	}, 10*time.Second, 20*time.Millisecond, "the parked fetch's RemoteTimeMs never reached the scrape")
	for _, name := range documentedMetrics(t, "supported", "partial") {
		_, plain := after[name]
		_, hist := after[name+"_count"] // a Prometheus histogram: _bucket, _sum, _count
		require.True(t, plain || hist, "docs/metrics.md documents %s but /metrics does not serve it", name)
	}

	check := func(name string, labels map[string]string, want func(float64) bool, what string) {
		t.Helper()
		v, ok := after.value(name, labels)
		require.True(t, ok, "%s%v missing", name, labels)
		require.True(t, want(v), "%s%v = %v: want %s", name, labels, v, what)
	}
	eq := func(x float64) func(float64) bool { return func(v float64) bool { return v == x } }
	pos := func(v float64) bool { return v > 0 }
	tp0 := map[string]string{"topic": topic, "partition": "0"}

	check("kafka_server_brokertopicmetrics_messagesin_total", map[string]string{"topic": topic}, eq(10), "10 records produced")
	check("kafka_server_brokertopicmetrics_messagesin_total", map[string]string{"topic": ""}, func(v float64) bool { return v >= msgsBefore+10 }, "all-topics up by 10")
	check("kafka_server_brokertopicmetrics_bytesin_total", map[string]string{"topic": topic}, pos, "> 0")
	check("kafka_server_brokertopicmetrics_bytesout_total", map[string]string{"topic": topic}, pos, "> 0")
	check("kafka_server_brokertopicmetrics_bytesrejected_total", map[string]string{"topic": small}, func(v float64) bool { return v >= 1000 }, ">= the 1000-byte value")
	check("kafka_server_brokertopicmetrics_bytesrejected_total", map[string]string{"topic": ""}, func(v float64) bool { return v >= 1000 }, "all topics >= 1000")
	check("kafka_server_brokertopicmetrics_totalproducerequests_total", map[string]string{"topic": topic}, eq(10), "10 produce partitions")
	check("kafka_server_brokertopicmetrics_totalfetchrequests_total", map[string]string{"topic": topic}, pos, "> 0")
	check("kafka_network_requestmetrics_requests_total", map[string]string{"request": "Produce"}, func(v float64) bool { return v >= 10 }, ">= 10")
	check("kafka_network_requestmetrics_requests_total", map[string]string{"request": "FetchConsumer"}, pos, "> 0")
	check("kafka_network_requestmetrics_errors_total", map[string]string{"request": "Produce", "error": "NONE"}, func(v float64) bool { return v >= 10 }, ">= 10")
	check("kafka_network_requestmetrics_totaltimems_count", map[string]string{"request": "Produce"}, func(v float64) bool { return v >= 10 }, ">= 10")
	check("kafka_network_requestmetrics_totaltimems", map[string]string{"request": "Produce", "quantile": "0.99"}, pos, "> 0 ms")
	check("kafka_network_requestmetrics_remotetimems", map[string]string{"request": "FetchConsumer", "quantile": "0.999"}, func(v float64) bool { return v >= 250 }, ">= the 300 ms long poll")
	check("kafka_server_socket_server_metrics_connection_count", map[string]string{"listener": "PLAINTEXT"}, func(v float64) bool { return v >= 2 }, ">= 2 clients")
	check("kafka_log_log_size", tp0, pos, "> 0 bytes")
	check("kafka_log_log_logendoffset", tp0, eq(10), "10")
	check("kafka_topic_partition_current_offset", tp0, eq(10), "the high watermark")
	check("kafka_topic_partition_oldest_offset", tp0, eq(0), "0")
	check("kafka_topic_partitions", map[string]string{"topic": topic}, eq(2), "2 partitions")
	check("kafka_brokers", nil, eq(1), "1 broker")
	check("kafka_consumergroup_current_offset", map[string]string{"consumergroup": "lagging", "topic": topic, "partition": "0"}, eq(3), "3")
	check("kafka_consumergroup_lag", map[string]string{"consumergroup": "lagging", "topic": topic, "partition": "0"}, eq(7), "10 - 3")
	check("kafka_consumergroup_lag_sum", map[string]string{"consumergroup": "lagging", "topic": topic}, eq(7), "7")
	check("spool_consumergroup_status", map[string]string{"consumergroup": "lagging"}, eq(1), "OK after one commit")
	check("kafka_server_replicamanager_partitioncount", nil, func(v float64) bool { return v >= 2 }, ">= 2")
	check("kafka_server_replicamanager_leadercount", nil, func(v float64) bool { return v >= 2 }, ">= 2")
	check("kafka_server_replicamanager_underreplicatedpartitions", nil, eq(0), "0 on one node")
	check("kafka_controller_kafkacontroller_activecontrollercount", nil, eq(1), "the sole controller")
	check("kafka_controller_kafkacontroller_globaltopiccount", nil, func(v float64) bool { return v >= 1 }, ">= 1")
	check("kafka_controller_kafkacontroller_activebrokercount", nil, eq(1), "1")
	check("kafka_controller_kafkacontroller_offlinepartitionscount", nil, eq(0), "0")
	check("kafka_server_raftmetrics_current_state", map[string]string{"current_state": "leader"}, eq(1), "leader")
	check("kafka_server_raftmetrics_current_leader", nil, eq(1), "node 1")
	check("kafka_server_raftmetrics_commit_latency_max", nil, pos, "> 0 ms: topics were created")
	check("kafka_server_raftmetrics_append_records_rate", nil, pos, "> 0 records/s")
	check("kafka_server_kafkaserver_brokerstate", nil, eq(3), "RUNNING")
	check("kafka_log_logflushstats_logflushrateandtimems_count", nil, func(v float64) bool { return v >= 0 }, ">= 0")
}
