package node_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/internal/node"
	"github.com/spool-broker/spool/internal/server"
	"github.com/spool-broker/spool/metrics"
)

// BenchmarkScrape measures one /metrics scrape (gather and encode, through
// the handler cmd/spool serves) of a single broker hosting 10,000
// partitions (100 topics of 100), each with a committed offset of one
// group on a tenth of them:
//
//	go test -run '^$' -bench Scrape -benchtime 20x ./internal/node/
//
// At Prometheus's 15 s interval the CPU cost is (ns/op) ÷ 15 s of one core.
func BenchmarkScrape(b *testing.B) {
	const topics, perTopic = 100, 100
	dir := b.TempDir()
	port, ctrl := freePort(b), freePort(b)
	cfg, _, err := config.Load("", []string{
		"KAFKA_NODE_ID=1",
		"KAFKA_PROCESS_ROLES=broker,controller",
		fmt.Sprintf("KAFKA_LISTENERS=PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d", port, ctrl),
		fmt.Sprintf("KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://127.0.0.1:%d", port),
		"KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER",
		"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
		fmt.Sprintf("KAFKA_CONTROLLER_QUORUM_VOTERS=1@127.0.0.1:%d", ctrl),
		"KAFKA_LOG_DIRS=" + dir,
		"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=1",
		"KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS=3",
		"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS=0",
	})
	if err != nil {
		b.Fatal(err)
	}
	reg := metrics.NewRegistry()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	n, err := node.Start(ctx, cfg, reg, zap.NewNop(), server.NewNodeBroker)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = n.Close(context.Background()) }()
	cl, err := kgo.NewClient(kgo.SeedBrokers(fmt.Sprintf("127.0.0.1:%d", port)))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	offs := kadm.Offsets{}
	for i := range topics {
		name := fmt.Sprintf("bench-%03d", i)
		if _, err := adm.CreateTopic(ctx, perTopic, 1, nil, name); err != nil {
			b.Fatal(err)
		}
		for p := range int32(perTopic / 10) {
			offs.Add(kadm.Offset{Topic: name, Partition: p, At: 0, LeaderEpoch: -1})
		}
	}
	// Wait for every partition to be hosted and led here: poll the
	// metric until it says so, or until ctx's deadline.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		v, _ := gatherValueB(b, reg, "kafka_server_replicamanager_leadercount")
		if v >= topics*perTopic {
			break
		}
		select {
		case <-ctx.Done():
			b.Fatalf("only %v partitions led", v)
		case <-tick.C:
		}
	}
	if _, err := adm.CommitOffsets(ctx, "bench", offs); err != nil {
		b.Fatal(err)
	}
	h := metrics.Handler(reg, &metrics.Health{})
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	var size int
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
		size = rec.Body.Len()
	}
	// The machine may be shared: CPU time of the whole process (the
	// idle broker's own work included) says more than wall time.
	b.ReportMetric(float64((processCPU()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/scrape")
	b.ReportMetric(float64(size), "bytes/scrape")
}

// processCPU is the user+system CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func gatherValueB(b *testing.B, reg prometheus.Gatherer, name string) (float64, bool) {
	families, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return mf.GetMetric()[0].GetGauge().GetValue(), true
		}
	}
	return 0, false
}
