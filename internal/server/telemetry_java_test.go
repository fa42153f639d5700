package server

import (
	"context"

	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// TestJavaClientTelemetry drives KIP-714 end to end with Kafka's own tools:
// kafka-client-metrics.sh (ClientMetricsCommand 4.3.1) creates, lists,
// describes and deletes a subscription, bad values get Kafka's errors, and
// a Java 4.3.1 producer whose client.id matches the subscription pushes
// its metrics, which appear as spool_client_* series labelled with its
// client id; closing the producer sends a terminating push.
func TestJavaClientTelemetry(t *testing.T) {
	lib := filepath.Join(compatCache(t), "java", "lib-4.3.1")
	tool(t, filepath.Join(lib, "kafka-clients-4.3.1.jar"))
	javac, java := tool(t, "javac"), tool(t, "java")
	cp := lib + "/*"
	classes := t.TempDir()
	src := filepath.Join(repoRoot(t), "internal", "server", "testdata", "java", "TelemetryProducer.java")
	out, err := exec.Command(javac, "-cp", cp, "-d", classes, src).CombinedOutput()
	require.NoError(t, err, "javac: %s", out)

	node := startTestNode(t)
	cm := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		args = append([]string{"-cp", cp, "org.apache.kafka.tools.ClientMetricsCommand", "--bootstrap-server", node.addr}, args...)
		out, err := exec.CommandContext(ctx, java, args...).CombinedOutput()
		return string(out), err
	}
	mustCM := func(args ...string) string {
		out, err := cm(args...)
		require.NoError(t, err, out)
		return out
	}

	require.Contains(t, mustCM("--alter", "--name", "producers", "--metrics", "org.apache.kafka.producer.", "--interval", "500", "--match", "client_id=tele-.*"),
		"Altered client metrics config for producers.")
	require.Contains(t, mustCM("--alter", "--name", "unrelated", "--metrics", "*", "--match", "client_id=nobody"), "Altered client metrics config for unrelated.")
	require.Equal(t, []string{"producers", "unrelated"}, nonLogLines(mustCM("--list")))
	require.Equal(t, []string{
		"Client metrics configs for producers are:",
		"  interval.ms=500",
		"  match=client_id=tele-.*",
		"  metrics=org.apache.kafka.producer.",
	}, nonLogLines(mustCM("--describe", "--name", "producers")))
	for _, bad := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--interval", "50"}, "InvalidRequestException: Invalid value 50 for interval.ms, interval must be between 100 and 3600000 (1 hour)"},
		{[]string{"--match", "client_id"}, "InvalidConfigurationException: Illegal client matching pattern: client_id"},
		{[]string{"--match", "host=x"}, "InvalidConfigurationException: Illegal client matching pattern: host=x"},
	} {
		out, err := cm(append([]string{"--alter", "--name", "producers"}, bad.args...)...)
		require.Error(t, err, out)
		require.Contains(t, out, bad.msg)
	}
	require.Contains(t, mustCM("--delete", "--name", "unrelated"), "Deleted client metrics config for unrelated.")
	require.Equal(t, []string{"producers"}, nonLogLines(mustCM("--list")))
	require.Contains(t, mustCM("--describe", "--name", "unrelated"), "The client metric resource unrelated doesn't exist and doesn't have dynamic config.")

	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(node.broker.telemetry))

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	prod := exec.CommandContext(ctx, java, "-cp", classes+":"+cp, "TelemetryProducer", node.addr, "tele-topic", "tele-producer")
	stdin, err := prod.StdinPipe()
	require.NoError(t, err)
	var stdout, stderr strings.Builder
	prod.Stdout, prod.Stderr = &stdout, &stderr
	require.NoError(t, prod.Start())
	defer func() { _ = prod.Process.Kill() }()

	// The producer's pushed metrics appear, labelled with its client id.
	var got map[string]float64
	require.Eventually(t, func() bool {
		got = gatherSamples(t, reg)
		n := 0
		for k := range got {
			if strings.HasPrefix(k, "spool_client_org_apache_kafka_producer_") && strings.Contains(k, `client_id="tele-producer"`) &&
				strings.Contains(k, `client_software_name="apache-kafka-java"`) {
				n++
			}
		}
		return n >= 10 && got[`spool_client_telemetry_pushes_total{result="ok"}`] >= 2
	}, 60*time.Second, 200*time.Millisecond, "pushed producer metrics on /metrics; producer stderr:\n%s", &stderr)
	var sent float64
	for k, v := range got {
		if strings.HasPrefix(k, "spool_client_org_apache_kafka_producer_record_send_total{") {
			sent += v
		}
	}
	require.Positive(t, sent, "record.send.total accumulates the producer's delta sums")
	for k := range got {
		require.False(t, strings.HasPrefix(k, "spool_client_org_apache_kafka_consumer_"), "only the subscribed prefix is pushed: %s", k)
	}

	require.NoError(t, stdin.Close())
	require.NoError(t, prod.Wait(), "producer stderr:\n%s", &stderr)
	require.Contains(t, stdout.String(), "sent ")
	// Kafka's producer pushes once more with Terminating set when it closes;
	// nothing it sends was refused.
	got = gatherSamples(t, reg)
	for _, r := range []string{"unknown_subscription_id", "invalid_record", "telemetry_too_large", "unsupported_compression_type", "invalid_request"} {
		require.Zero(t, got[`spool_client_telemetry_pushes_total{result="`+r+`"}`], r)
	}
}

// nonLogLines drops the tools' log4j/slf4j lines and blank lines.
func nonLogLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "SLF4J") || strings.Contains(l, " WARN ") || strings.Contains(l, " INFO ") {
			continue
		}
		lines = append(lines, l)
	}
	return lines
}

// gatherSamples gathers reg into "name{labels}" → value.
func gatherSamples(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, mt := range mf.Metric {
			var ls []string
			for _, l := range mt.Label {
				ls = append(ls, l.GetName()+`="`+l.GetValue()+`"`)
			}
			out[mf.GetName()+"{"+strings.Join(ls, ",")+"}"] = mt.GetGauge().GetValue() + mt.GetCounter().GetValue()
		}
	}
	return out
}
