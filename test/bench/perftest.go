package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// producerPerfLine matches the summary line of Kafka's ProducerPerformance:
// "N records sent, X records/sec (Y MB/sec), A ms avg latency, M ms max latency, P50 ms 50th, P95 ms 95th, P99 ms 99th, P999 ms 99.9th."
var producerPerfLine = regexp.MustCompile(`(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99.9th`)

// KafkaProducerPerf runs kafka-producer-perf-test (acks=1, 1 KiB, unthrottled) and
// returns MB/s (Kafka's MB = 2^20 bytes) and p99 ms.
func KafkaProducerPerf(ctx context.Context, repo, bootstrap, topic string, records int) (mbps, p99 float64, err error) {
	out, err := exec.CommandContext(ctx, filepath.Join(repo, "test/bench/kafka-java.sh"),
		"org.apache.kafka.tools.ProducerPerformance", "--topic", topic, "--num-records", strconv.Itoa(records), "--record-size", "1024",
		"--throughput", "-1", "--producer-props", "bootstrap.servers="+bootstrap, "acks=1",
		"linger.ms=5", "batch.size=262144").CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("kafka-producer-perf-test: %w: %s", err, tail(out))
	}
	m := producerPerfLine.FindAllStringSubmatch(string(out), -1)
	if len(m) == 0 {
		return 0, 0, fmt.Errorf("kafka-producer-perf-test: no summary line: %s", tail(out))
	}
	last := m[len(m)-1]
	mbps, _ = strconv.ParseFloat(last[3], 64)
	p99, _ = strconv.ParseFloat(last[8], 64)
	return mbps * 1.048576, p99, nil // report in 10^6 bytes like everything else
}

// KafkaConsumerPerf runs kafka-consumer-perf-test and returns its fetch MB/s
// (excluding the group join), in 10^6 bytes.
func KafkaConsumerPerf(ctx context.Context, repo, bootstrap, topic string, records int) (float64, error) {
	out, err := exec.CommandContext(ctx, filepath.Join(repo, "test/bench/kafka-java.sh"),
		"org.apache.kafka.tools.ConsumerPerformance", "--bootstrap-server", bootstrap, "--topic", topic, "--num-records", strconv.Itoa(records),
		"--timeout", "60000").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("kafka-consumer-perf-test: %w: %s", err, tail(out))
	}
	// Header: start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg,
	// nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		f := strings.Split(lines[i], ",")
		if len(f) >= 10 {
			if v, err := strconv.ParseFloat(strings.TrimSpace(f[8]), 64); err == nil {
				return v * 1.048576, nil
			}
		}
	}
	return 0, fmt.Errorf("kafka-consumer-perf-test: no result line: %s", tail(out))
}

func tail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 600 {
		s = "…" + s[len(s)-600:]
	}
	return s
}
