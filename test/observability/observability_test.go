//go:build observability

// Package observability checks deploy/grafana and deploy/prometheus against
// a running three-node Spool cluster scraped by a real Prometheus server
// (Debian's prometheus package; `make observability-test` installs it):
// every dashboard query and every alert rule's data_query returns data,
// the rules load, and killing a node fires SpoolUnderReplicatedPartitions.
package observability

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spool-broker/spool/internal/spooltest"
)

type node struct {
	id             int
	port, http     int
	ctrl           int
	cmd            *exec.Cmd
	done           chan struct{}
	addr, httpAddr string
}

func TestDashboardsAndAlerts(t *testing.T) {
	promBin, err := exec.LookPath("prometheus")
	require.NoError(t, err, "prometheus is not installed: run `make observability-test`, which installs Debian's prometheus package")
	promtool, err := exec.LookPath("promtool")
	require.NoError(t, err, "promtool (Debian's prometheus package) is not installed")
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	rules := filepath.Join(root, "deploy/prometheus/alerts.yml")
	out, err := exec.Command(promtool, "check", "rules", rules).CombinedOutput()
	require.NoError(t, err, "promtool check rules: %s", out)

	bin := spooltest.Build(t)
	nodes := make([]*node, 3)
	var voters []string
	for i := range nodes {
		n := &node{id: i + 1, port: spooltest.FreePort(t), http: spooltest.FreePort(t), ctrl: spooltest.FreePort(t), done: make(chan struct{})}
		n.addr, n.httpAddr = fmt.Sprintf("127.0.0.1:%d", n.port), fmt.Sprintf("127.0.0.1:%d", n.http)
		nodes[i] = n
		voters = append(voters, fmt.Sprintf("%d@127.0.0.1:%d", n.id, n.ctrl))
	}
	cluster := "c3ZjbHVzdGVyaWQxMjM0NQ"
	for _, n := range nodes {
		dir := t.TempDir()
		props := fmt.Sprintf(`process.roles=broker,controller
node.id=%d
controller.quorum.voters=%s
listeners=PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d
advertised.listeners=PLAINTEXT://127.0.0.1:%d
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=%s
offsets.topic.replication.factor=3
offsets.topic.num.partitions=3
group.initial.rebalance.delay.ms=0
broker.session.timeout.ms=2000
broker.heartbeat.interval.ms=200
replica.lag.time.max.ms=3000
`, n.id, strings.Join(voters, ","), n.port, n.ctrl, n.port, filepath.Join(dir, "data"))
		cfg := filepath.Join(dir, "server.properties")
		require.NoError(t, os.WriteFile(cfg, []byte(props), 0o644))
		n.cmd = exec.Command(bin, "serve", cfg)
		n.cmd.Env = append(os.Environ(), "SPOOL_HTTP_ADDR="+n.httpAddr, "CLUSTER_ID="+cluster, "SPOOL_LOG_LEVEL=warn")
		logf, err := os.Create(filepath.Join(dir, "spool.log"))
		require.NoError(t, err)
		n.cmd.Stdout, n.cmd.Stderr = logf, logf
		require.NoError(t, n.cmd.Start())
		go func() { _ = n.cmd.Wait(); close(n.done) }()
		t.Cleanup(func() { _ = n.cmd.Process.Kill(); <-n.done })
	}
	for _, n := range nodes {
		require.Eventually(t, func() bool { return get(n.httpAddr, "/readyz") == http.StatusOK }, 90*time.Second, 50*time.Millisecond,
			"node %d never ready", n.id)
	}

	// Traffic: a replicated topic, records, a consumer, and a group that
	// committed behind the log end.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(nodes[0].addr), kgo.DefaultProduceTopic("obs"))
	require.NoError(t, err)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	created, err := adm.CreateTopic(ctx, 3, 3, nil, "obs")
	require.NoError(t, err)
	require.NoError(t, created.Err)
	produce := func() {
		for i := range 30 {
			require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprint(i))}).FirstErr())
		}
	}
	produce()
	cons, err := kgo.NewClient(kgo.SeedBrokers(nodes[0].addr), kgo.ConsumeTopics("obs"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer cons.Close()
	for got := 0; got < 30; {
		fs := cons.PollFetches(ctx)
		require.NoError(t, ctx.Err())
		got += fs.NumRecords()
	}
	offs := kadm.Offsets{}
	for p := range int32(3) {
		offs.Add(kadm.Offset{Topic: "obs", Partition: p, At: 1, LeaderEpoch: -1})
	}
	commit, err := adm.CommitOffsets(ctx, "obs-group", offs)
	require.NoError(t, err)
	require.NoError(t, commit.Error())

	// Prometheus scrapes the three nodes every second with the shipped rules.
	promPort := spooltest.FreePort(t)
	pdir := t.TempDir()
	var targets []string
	for _, n := range nodes {
		targets = append(targets, fmt.Sprintf("%q", n.httpAddr))
	}
	pcfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - %s
scrape_configs:
  - job_name: spool
    static_configs:
      - targets: [%s]
`, rules, strings.Join(targets, ", "))
	require.NoError(t, os.WriteFile(filepath.Join(pdir, "prometheus.yml"), []byte(pcfg), 0o644))
	out, err = exec.Command(promtool, "check", "config", filepath.Join(pdir, "prometheus.yml")).CombinedOutput()
	require.NoError(t, err, "promtool check config: %s", out)
	prom := exec.Command(promBin, "--config.file="+filepath.Join(pdir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(pdir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", promPort))
	plog, err := os.Create(filepath.Join(pdir, "prometheus.log"))
	require.NoError(t, err)
	prom.Stdout, prom.Stderr = plog, plog
	require.NoError(t, prom.Start())
	t.Cleanup(func() { _ = prom.Process.Kill(); _ = prom.Wait() })
	api := fmt.Sprintf("127.0.0.1:%d", promPort)
	require.Eventually(t, func() bool {
		v, ok := query(api, `sum(up{job="spool"})`)
		return ok && len(v) == 1 && v[0].Value[1] == "3"
	}, 90*time.Second, 200*time.Millisecond, "prometheus never scraped the three nodes")

	// Every query of the dashboard and every alert's data_query returns data.
	var queries []string
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	b, err := os.ReadFile(filepath.Join(root, "deploy/grafana/spool-kafka-overview.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &dash))
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			queries = append(queries, tg.Expr)
		}
	}
	rb, err := os.ReadFile(rules)
	require.NoError(t, err)
	nAlerts := 0
	for _, line := range strings.Split(string(rb), "\n") {
		if q, ok := strings.CutPrefix(strings.TrimSpace(line), "data_query: "); ok {
			queries = append(queries, q)
		}
		if strings.HasPrefix(strings.TrimSpace(line), "- alert: ") {
			nAlerts++
		}
	}
	require.Greater(t, len(queries), 30)
	dataQueries := 0
	for _, line := range strings.Split(string(rb), "\n") {
		if strings.Contains(line, "data_query: ") {
			dataQueries++
		}
	}
	require.Equal(t, nAlerts, dataQueries, "every alert rule has a data_query")
	for _, q := range queries {
		require.Eventually(t, func() bool {
			v, ok := query(api, q)
			return ok && len(v) > 0
		}, 60*time.Second, 500*time.Millisecond, "no data for %s", q)
	}

	// Kill a follower of partition 0 that is not the metadata leader: the
	// leaders of its partitions become under-replicated and the alert fires.
	var victim *node
	ctrlLeader, _ := query(api, `max(kafka_server_raftmetrics_current_leader)`)
	for _, n := range nodes[1:] {
		if len(ctrlLeader) == 0 || ctrlLeader[0].Value[1] != fmt.Sprint(n.id) {
			victim = n
		}
	}
	require.NotNil(t, victim)
	require.NoError(t, victim.cmd.Process.Kill())
	<-victim.done
	produce()
	require.Eventually(t, func() bool { return alertFiring(api, "SpoolUnderReplicatedPartitions") }, 120*time.Second, 500*time.Millisecond,
		"SpoolUnderReplicatedPartitions did not fire after node %d was killed", victim.id)
}

func get(addr, path string) int {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// query runs an instant query; ok is false on any failure.
func query(api, q string) ([]promSample, bool) {
	resp, err := http.Get("http://" + api + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Status != "success" {
		return nil, false
	}
	var out []promSample
	if err := json.Unmarshal(r.Data.Result, &out); err != nil {
		return nil, false
	}
	return out, true
}

func alertFiring(api, name string) bool {
	resp, err := http.Get("http://" + api + "/api/v1/alerts")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return false
	}
	for _, a := range r.Data.Alerts {
		if a.Labels["alertname"] == name && a.State == "firing" {
			return true
		}
	}
	return false
}
