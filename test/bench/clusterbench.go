package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ClusterConfig is `spool-bench cluster`: three-node clusters of Spool and
// of Apache Kafka 4.3.1, acks=all, replication factor 3,
// min.insync.replicas=2, alternated A/B on fresh storage.
type ClusterConfig struct {
	Repo, OutDir, Report string
	Label                string
	Pairs                int
	Duration, Warmup     time.Duration
	LatencyRate          float64 // records/s for the end-to-end latency scenario
	FailoverRate         float64 // records/s while nodes are killed and restarted
	Partitions           int
	BrokerCPUs, LoadCPUs string
	SpoolRev             string
	Note                 string            // free text for the report (the machine, what else ran)
	Extra                map[string]string // properties for both systems
	// Systems run in each pair (spool, kafka); Scenarios are the ones
	// run: R1 throughput, R2 latency, R3 failover and controlled-shutdown
	// stall, R4 rolling restart, R6 consumer catch-up (nil: all).
	Systems   []string
	Scenarios map[string]bool
}

func (cfg ClusterConfig) runs(scenario string) bool {
	return cfg.Scenarios == nil || cfg.Scenarios[scenario]
}

// ClusterRun is what one cluster of one system measured.
type ClusterRun struct {
	System        string  `json:"system"`
	StartS        float64 `json:"start_s"`
	ProduceMBps   float64 `json:"produce_mb_per_s"`
	CPUmsPerMB    float64 `json:"cpu_ms_per_mb"`
	ProduceErrors uint64  `json:"produce_errors"`
	E2EP50        float64 `json:"e2e_p50_ms"`
	E2EP99        float64 `json:"e2e_p99_ms"`
	ProduceP99    float64 `json:"latency_produce_p99_ms"`
	// FailoverS: SIGKILL of a leader that is not the active controller;
	// the longest time any partition went from its last acknowledgement
	// before the kill to its first after it.
	FailoverS     float64 `json:"failover_s"`
	FailoverWasCt bool    `json:"failover_victim_was_controller"`
	// ShutdownStallS: SIGTERM of a leader (not the active controller);
	// the longest gap between two acknowledgements of one partition from
	// one second before the signal until ten seconds after it.
	ShutdownStallS float64 `json:"shutdown_stall_s"`
	ShutdownExitS  float64 `json:"shutdown_exit_s"`
	LostAcked      int     `json:"lost_acked"`
	// R4, rolling restart under a fixed-rate load (rolling.go).
	RollS      float64 `json:"rolling_restart_s,omitempty"`
	RollStallS float64 `json:"rolling_restart_stall_s,omitempty"`
	RollErrors int     `json:"rolling_restart_errors,omitempty"`
	RollLost   int     `json:"rolling_restart_lost,omitempty"`
	// R6, a consumer reading a backlog from the leaders and with a
	// client.rack (rolling.go).
	CatchUpMB                float64 `json:"catch_up_mb,omitempty"`
	CatchUpLeaderMBps        float64 `json:"catch_up_leader_mb_per_s,omitempty"`
	CatchUpRackMBps          float64 `json:"catch_up_rack_mb_per_s,omitempty"`
	CatchUpRackFollowerShare float64 `json:"catch_up_rack_follower_share,omitempty"`
}

// ClusterResults is cluster-results.json.
type ClusterResults struct {
	Date     string            `json:"date"`
	Label    string            `json:"label"`
	Settings map[string]string `json:"settings"`
	Runs     []ClusterRun      `json:"runs"`
	Load     string            `json:"load_average"`
	Note     string            `json:"note,omitempty"`
}

// ClusterBench runs the pairs and writes the results and the report
// section.
func ClusterBench(ctx context.Context, cfg ClusterConfig) error {
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return err
	}
	res := ClusterResults{Note: cfg.Note, Date: time.Now().UTC().Format("2006-01-02 15:04 UTC"), Label: cfg.Label, Settings: map[string]string{
		"pairs": fmt.Sprint(cfg.Pairs), "duration": cfg.Duration.String(), "warmup": cfg.Warmup.String(),
		"latency_rate": fmt.Sprint(cfg.LatencyRate), "failover_rate": fmt.Sprint(cfg.FailoverRate),
		"partitions": fmt.Sprint(cfg.Partitions), "broker_cpus": cfg.BrokerCPUs, "load_cpus": cfg.LoadCPUs,
		"spool_rev": cfg.SpoolRev, "cpus": fmt.Sprint(numCPU()),
	}}
	for k, v := range cfg.Extra {
		res.Settings[k] = v
	}
	port, ctrl := 25192, 25193 // on 127.0.0.1-3, below the ephemeral range (32768-60999); the compat harness uses 19092/29092
	for pair := range cfg.Pairs {
		order := slices.Clone(cfg.Systems)
		if len(order) == 0 {
			order = []string{"spool", "kafka"}
		}
		if pair%2 == 1 {
			slices.Reverse(order)
		}
		for _, sys := range order {
			log.Printf("pair %d/%d: %s", pair+1, cfg.Pairs, sys)
			run, err := clusterRun(ctx, cfg, &Cluster{Name: sys, Repo: cfg.Repo, OutDir: cfg.OutDir, BrokerCPUs: cfg.BrokerCPUs,
				Port: port, CtrlPort: ctrl, Extra: cfg.Extra, Racks: cfg.runs("R6")})
			if err != nil {
				return fmt.Errorf("%s pair %d: %w", sys, pair+1, err)
			}
			b, _ := json.Marshal(run)
			log.Printf("%s", b)
			res.Runs = append(res.Runs, run)
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		res.Load = strings.TrimSpace(string(b))
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cfg.OutDir, "cluster-results.json"), b, 0o644); err != nil {
		return err
	}
	return writeClusterSection(&res, cfg.Report)
}

func clusterRun(ctx context.Context, cfg ClusterConfig, c *Cluster) (ClusterRun, error) {
	run := ClusterRun{System: c.Name}
	defer c.Stop()
	d, err := c.Start(ctx)
	if err != nil {
		return run, err
	}
	run.StartS = d.Seconds()

	if cfg.runs("R1") {
		if err := throughput(ctx, cfg, c, &run); err != nil {
			return run, err
		}
	}
	if cfg.runs("R2") {
		if err := latency(ctx, cfg, c, &run); err != nil {
			return run, err
		}
	}
	// Failover and controlled-shutdown stall under a fixed-rate load.
	if cfg.runs("R3") {
		if err := failover(ctx, cfg, c, &run); err != nil {
			return run, err
		}
	}
	if cfg.runs("R4") {
		if err := rollingRestart(ctx, cfg, c, &run); err != nil {
			return run, fmt.Errorf("rolling restart: %w", err)
		}
	}
	if cfg.runs("R6") {
		if err := catchUp(ctx, cfg, c, &run); err != nil {
			return run, err
		}
	}
	return run, nil
}

// throughput is scenario R1: unthrottled acks=all, and the brokers' CPU.
func throughput(ctx context.Context, cfg ClusterConfig, c *Cluster, run *ClusterRun) error {
	if err := c.CreateTopic(ctx, "tput", cfg.Partitions); err != nil {
		return err
	}
	cpu0 := c.CPUSeconds()
	r, err := RunLoad(ctx, LoadConfig{Bootstrap: c.Bootstrap(), Topic: "tput", Acks: -1, Linger: 5 * time.Millisecond,
		Duration: cfg.Duration, Warmup: cfg.Warmup})
	if err != nil {
		return fmt.Errorf("throughput: %w", err)
	}
	cpu := c.CPUSeconds() - cpu0
	run.ProduceMBps, run.ProduceErrors = r.MBPerS, r.Errors
	if mb := float64(r.TotalRecords) * recordSize / 1e6; mb > 0 {
		run.CPUmsPerMB = cpu * 1000 / mb
	}
	return nil
}

// latency is scenario R2: end-to-end latency at a fixed rate.
func latency(ctx context.Context, cfg ClusterConfig, c *Cluster, run *ClusterRun) error {
	if err := c.CreateTopic(ctx, "latency", cfg.Partitions); err != nil {
		return err
	}
	r, err := RunLoad(ctx, LoadConfig{Bootstrap: c.Bootstrap(), Topic: "latency", Acks: -1, Linger: 5 * time.Millisecond,
		Duration: cfg.Duration, Warmup: cfg.Warmup, Rate: cfg.LatencyRate, EndToEnd: true})
	if err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	run.E2EP50, run.E2EP99, run.ProduceP99 = r.EndToEnd.P50, r.EndToEnd.P99, r.Produce.P99
	return nil
}

// ackTimes records acknowledgements per partition.
type ackTimes struct {
	mu    sync.Mutex
	at    map[int32][]time.Time
	acked map[int32]map[int64]string
	errs  int
}

func (a *ackTimes) add(p int32, off int64, v string, t time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.at[p] = append(a.at[p], t)
	a.acked[p][off] = v
}

// since reports whether every partition has an acknowledgement after t.
func (a *ackTimes) allSince(t time.Time, partitions int) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for p := range int32(partitions) {
		ts := a.at[p]
		if len(ts) == 0 || !ts[len(ts)-1].After(t) {
			return false
		}
	}
	return true
}

// gapAcross is the longest time any partition went from its last
// acknowledgement before t to its first after t.
func (a *ackTimes) gapAcross(t time.Time) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	var worst time.Duration
	for _, ts := range a.at {
		i := sort.Search(len(ts), func(i int) bool { return ts[i].After(t) })
		if i == 0 || i == len(ts) {
			continue
		}
		worst = max(worst, ts[i].Sub(ts[i-1]))
	}
	return worst
}

// maxGap is the longest gap between two acknowledgements of one partition
// within [from, to].
func (a *ackTimes) maxGap(from, to time.Time) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	var worst time.Duration
	for _, ts := range a.at {
		var prev time.Time
		for _, x := range ts {
			if x.Before(from) {
				prev = x
				continue
			}
			if x.After(to) {
				break
			}
			if !prev.IsZero() {
				worst = max(worst, x.Sub(prev))
			}
			prev = x
		}
	}
	return worst
}

var waitStep = 50 * time.Millisecond

func waitFor(ctx context.Context, limit time.Duration, what string, ok func() bool) error {
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within %s", what, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(waitStep):
		}
	}
	return nil
}

// victim picks a node that leads a partition of topic and is not the
// active controller (so the measurement is of partition failover, not of a
// quorum election as well), and reports whether it had to fall back to the
// controller.
func victim(ctx context.Context, c *Cluster, topic string, exclude int32) (int32, bool, error) {
	leaders, err := c.Leaders(ctx, topic)
	if err != nil {
		return -1, false, err
	}
	active, err := c.ActiveController(ctx)
	if err != nil {
		return -1, false, err
	}
	var candidates []int32
	for _, l := range leaders {
		if l >= 0 && l != exclude && !slices.Contains(candidates, l) {
			candidates = append(candidates, l)
		}
	}
	slices.Sort(candidates)
	for _, id := range candidates {
		if id != active {
			return id, false, nil
		}
	}
	if len(candidates) == 0 {
		return -1, false, fmt.Errorf("no leader of %s to stop", topic)
	}
	return candidates[0], true, nil
}

func failover(ctx context.Context, cfg ClusterConfig, c *Cluster, run *ClusterRun) error {
	const topic = "failover"
	acks, stop, err := startSettledProducer(ctx, cfg, c, topic, 3*time.Second, "acknowledgements before the kill")
	if err != nil {
		return err
	}
	defer stop()

	// SIGKILL a leader.
	id, wasCt, err := victim(ctx, c, topic, -1)
	if err != nil {
		return err
	}
	run.FailoverWasCt = wasCt
	killed := time.Now()
	c.Kill(int(id))
	if err := waitFor(ctx, 2*time.Minute, "every partition acknowledged after the kill", func() bool { return acks.allSince(killed, cfg.Partitions) }); err != nil {
		return err
	}
	run.FailoverS = acks.gapAcross(killed).Seconds()
	log.Printf("%s: SIGKILL node %d: failover %.2fs", c.Name, id, run.FailoverS)
	if err := c.Restart(int(id)); err != nil {
		return err
	}
	if err := c.waitISR(ctx, topic, 3); err != nil {
		return err
	}

	// SIGTERM a leader (controlled shutdown).
	settle := time.Now().Add(2 * time.Second)
	if err := waitFor(ctx, time.Minute, "acknowledgements before SIGTERM", func() bool { return acks.allSince(settle, cfg.Partitions) }); err != nil {
		return err
	}
	id, _, err = victim(ctx, c, topic, -1)
	if err != nil {
		return err
	}
	term := time.Now()
	if err := c.Terminate(int(id)); err != nil {
		return err
	}
	run.ShutdownExitS = time.Since(term).Seconds()
	after := time.Now().Add(10 * time.Second)
	if err := waitFor(ctx, 2*time.Minute, "ten seconds of acknowledgements after SIGTERM", func() bool { return acks.allSince(after, cfg.Partitions) }); err != nil {
		return err
	}
	run.ShutdownStallS = acks.maxGap(term.Add(-time.Second), after).Seconds()
	log.Printf("%s: SIGTERM node %d: exited in %.2fs, stall %.3fs", c.Name, id, run.ShutdownExitS, run.ShutdownStallS)
	if err := c.Restart(int(id)); err != nil {
		return err
	}
	if err := c.waitISR(ctx, topic, 3); err != nil {
		return err
	}
	stop()

	// Nothing acknowledged is lost.
	lost, err := countLost(ctx, c, topic, acks)
	if err != nil {
		return err
	}
	run.LostAcked = lost
	return nil
}

// startAckedProducer sends records to topic's partitions in turn at rate
// records/s, acks=all, recording every acknowledgement; stop ends it and
// waits for the records in flight.
// startSettledProducer creates topic, starts an acks=all producer on it at
// cfg.FailoverRate and waits until every partition has acknowledgements
// from at least settleFor after the start (what names the wait in an
// error). stop ends the producer.
func startSettledProducer(ctx context.Context, cfg ClusterConfig, c *Cluster, topic string, settleFor time.Duration, what string) (*ackTimes, func(), error) {
	if err := c.CreateTopic(ctx, topic, cfg.Partitions); err != nil {
		return nil, nil, err
	}
	acks, stop, err := startAckedProducer(ctx, c, topic, cfg.FailoverRate, cfg.Partitions)
	if err != nil {
		return nil, nil, err
	}
	settle := time.Now().Add(settleFor)
	if err := waitFor(ctx, time.Minute, what, func() bool { return acks.allSince(settle, cfg.Partitions) }); err != nil {
		stop()
		return nil, nil, err
	}
	return acks, stop, nil
}

func startAckedProducer(ctx context.Context, c *Cluster, topic string, rate float64, partitions int) (*ackTimes, func(), error) {
	cl, err := c.client(kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0),
		kgo.RecordDeliveryTimeout(2*time.Minute), kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		// franz-go refreshes metadata after an error at most every 5 s by
		// default, which would measure the client's cadence rather than
		// the cluster's failover; the Java client retries after 100 ms.
		kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		return nil, nil, err
	}
	acks := &ackTimes{at: map[int32][]time.Time{}, acked: map[int32]map[int64]string{}}
	for p := range int32(partitions) {
		acks.acked[p] = map[int64]string{}
	}
	pctx, stopProducing := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		interval := time.Duration(float64(time.Second) / rate)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-pctx.Done():
				return
			case <-tick.C:
			}
			v := fmt.Sprintf("%09d", i)
			wg.Add(1)
			cl.Produce(ctx, &kgo.Record{Partition: int32(i % partitions), Value: []byte(v)}, func(r *kgo.Record, err error) {
				defer wg.Done()
				if err != nil {
					acks.mu.Lock()
					acks.errs++
					acks.mu.Unlock()
					return
				}
				acks.add(r.Partition, r.Offset, string(r.Value), time.Now())
			})
		}
	}()
	var once sync.Once
	return acks, func() {
		once.Do(func() {
			stopProducing()
			wg.Wait()
			cl.Close()
		})
	}, nil
}

// countLost reads the topic back and counts acknowledged records missing
// from (or moved within) the log.
func countLost(ctx context.Context, c *Cluster, topic string, acks *ackTimes) (int, error) {
	offsets := map[int32]kgo.Offset{}
	ends := map[int32]int64{}
	acks.mu.Lock()
	for p, m := range acks.acked {
		offsets[p] = kgo.NewOffset().AtStart()
		for off := range m {
			ends[p] = max(ends[p], off+1)
		}
	}
	acks.mu.Unlock()
	cl, err := c.client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	got := map[int32]map[int64]string{}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		done := true
		for p, e := range ends {
			if int64(len(got[p])) < e {
				done = false
			}
		}
		if done || rctx.Err() != nil {
			break
		}
		cl.PollFetches(rctx).EachRecord(func(r *kgo.Record) {
			if got[r.Partition] == nil {
				got[r.Partition] = map[int64]string{}
			}
			got[r.Partition][r.Offset] = string(r.Value)
		})
	}
	lost := 0
	acks.mu.Lock()
	defer acks.mu.Unlock()
	for p, m := range acks.acked {
		for off, v := range m {
			if got[p][off] != v {
				lost++
			}
		}
	}
	return lost, nil
}

func numCPU() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "processor\t:")
}

const (
	clusterBegin = "<!-- cluster-bench:begin -->"
	clusterEnd   = "<!-- cluster-bench:end -->"
)

var clusterSection = regexp.MustCompile(`(?s)` + regexp.QuoteMeta(clusterBegin) + `.*` + regexp.QuoteMeta(clusterEnd) + "\n?")

// scaleSection is the hand-written partition-scale section (scenario R5,
// `make bench-scale`), kept like the cluster section.
var scaleSection = regexp.MustCompile(`(?s)<!-- scale-bench:begin -->.*<!-- scale-bench:end -->\n?`)

// keepClusterSection carries the cluster section and the scale section of
// an existing report over into a regenerated single-node report.
func keepClusterSection(mdPath, report string) string {
	old, err := os.ReadFile(mdPath)
	if err != nil {
		return report
	}
	for _, re := range []*regexp.Regexp{clusterSection, scaleSection} {
		if s := re.Find(old); s != nil {
			report = strings.TrimRight(report, "\n") + "\n\n" + string(s)
		}
	}
	return report
}

// writeClusterSection replaces (or appends) the cluster section of the
// report.
func writeClusterSection(r *ClusterResults, mdPath string) error {
	var b strings.Builder
	b.WriteString(clusterBegin + "\n")
	b.WriteString("## Three-node clusters: Spool vs Apache Kafka 4.3.1\n\n")
	b.WriteString("<!-- Generated by `make bench-cluster` (test/bench cluster); do not edit by hand. -->\n\n")
	if r.Label != "full" {
		fmt.Fprintf(&b, "> **%s run**: short scenarios; the numbers show the pipeline works, they are not results.\n\n", strings.ToUpper(r.Label))
	}
	fmt.Fprintf(&b, "Run %s (%s), load average at the end %s. Settings:", r.Date, r.Label, r.Load)
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range r.Settings {
			if !yield(k) {
				return
			}
		}
	}) {
		fmt.Fprintf(&b, " `%s=%s`", k, r.Settings[k])
	}
	b.WriteString(".\n\n")
	if r.Note != "" {
		fmt.Fprintf(&b, "> %s\n\n", r.Note)
	}
	b.WriteString("Each system runs as three combined-mode (broker,controller) nodes on 127.0.0.1, .2 and .3, started from the same " +
		"server.properties (addresses only; every timeout is the default, which Spool shares with Kafka: " +
		"broker.heartbeat.interval.ms=2000, broker.session.timeout.ms=9000, replica.lag.time.max.ms=30000), fresh storage per run, " +
		"systems alternated A/B. Topics: replication factor 3, min.insync.replicas=2; producers use acks=all and 1 KiB values. " +
		"Throughput is unthrottled (franz-go, linger 5 ms); CPU is user+system of the three broker processes from /proc over the " +
		"throughput run, per MB of values produced (replication included). Latency is end to end (intended send time to consume) at a " +
		"fixed rate. Failover: SIGKILL of a node that leads partitions and is not the active controller while a producer sends at a " +
		"fixed rate; the longest time any partition went from its last acknowledgement before the kill to its first after it. " +
		"Controlled-shutdown stall: SIGTERM of such a node; the longest gap between two acknowledgements of one partition from one second " +
		"before the signal to ten seconds after. Lost = acknowledged records not read back at their offset. " +
		"R4 rolling restart: each node in turn gets SIGTERM and is started again once it exited, the next one waiting until every " +
		"partition has its full ISR back, under the same fixed-rate load; the longest gap between two acknowledgements of one " +
		"partition over the roll. R6 catch-up: a backlog produced for the run's duration is read from the start by a fresh consumer, " +
		"once without a rack (from the leaders) and once with client.rack=rack3 (every node i has broker.rack=rack<i>, and both systems " +
		"get replica.selector.class=org.apache.kafka.common.replica.RackAwareReplicaSelector), with the share of bytes a non-leader " +
		"served (KIP-392 fetch from follower: with client.rack=rack3, both systems send the consumer to node 3 for the partitions it does not lead, about two thirds of them). " +
		"Values: median (min–max) over pairs.\n\n" +
		"Kafka learns of a crashed broker only when its session expires: the controller fences it broker.session.timeout.ms " +
		"after its last heartbeat (which was up to broker.heartbeat.interval.ms before the kill), and only then elects new leaders and " +
		"shrinks the ISRs that acks=all writes wait for, so with the defaults (9 s, 2 s) its failover is 7–9 s plus the election. " +
		"Spool's controller also fences a broker at once when its heartbeat connection is reset and its listeners refuse " +
		"connections (spool.broker.fast.fencing.enable, docs/operations.md); `SET=spool.broker.fast.fencing.enable=false` " +
		"gives Kafka's rule to both (Kafka ignores the property).\n\n")
	type metric struct {
		name   string
		get    func(ClusterRun) float64
		target string
	}
	metrics := []metric{
		{"start to three live brokers, s (Kafka: incl. storage format)", func(r ClusterRun) float64 { return r.StartS }, ""},
		{"produce acks=all, MB/s", func(r ClusterRun) float64 { return r.ProduceMBps }, "Spool ≥ Kafka"},
		{"broker CPU, ms per MB (3 nodes)", func(r ClusterRun) float64 { return r.CPUmsPerMB }, ""},
		{"end-to-end latency p50, ms", func(r ClusterRun) float64 { return r.E2EP50 }, ""},
		{"end-to-end latency p99, ms", func(r ClusterRun) float64 { return r.E2EP99 }, "Spool ≤ 0.5 × Kafka"},
		{"produce latency p99 at that rate, ms", func(r ClusterRun) float64 { return r.ProduceP99 }, ""},
		{"failover after SIGKILL of a leader, s", func(r ClusterRun) float64 { return r.FailoverS }, "≤ 2 s"},
		{"controlled-shutdown producer stall, s", func(r ClusterRun) float64 { return r.ShutdownStallS }, "≤ 0.5 s"},
		{"SIGTERM to exit, s", func(r ClusterRun) float64 { return r.ShutdownExitS }, ""},
		{"acknowledged records lost", func(r ClusterRun) float64 { return float64(r.LostAcked) }, "0"},
		{"R4 rolling restart of 3 nodes under load, s", func(r ClusterRun) float64 { return r.RollS }, ""},
		{"R4 longest producer stall during it, s", func(r ClusterRun) float64 { return r.RollStallS }, ""},
		{"R4 records failed / acknowledged lost", func(r ClusterRun) float64 { return float64(r.RollErrors + r.RollLost) }, "0"},
		{"R6 catch-up read from the leaders, MB/s", func(r ClusterRun) float64 { return r.CatchUpLeaderMBps }, ""},
		{"R6 catch-up read with client.rack, MB/s", func(r ClusterRun) float64 { return r.CatchUpRackMBps }, ""},
		{"R6 share of those bytes from followers", func(r ClusterRun) float64 { return r.CatchUpRackFollowerShare }, ""},
	}
	b.WriteString("| metric | Spool | Kafka | Spool/Kafka | target |\n|---|---|---|---|---|\n")
	for _, m := range metrics {
		var s, k []float64
		for _, run := range r.Runs {
			if run.System == "spool" {
				s = append(s, m.get(run))
			} else {
				k = append(k, m.get(run))
			}
		}
		ratio := ""
		if ms, mk := median(s), median(k); len(s) > 0 && len(k) > 0 && mk > 0 {
			ratio = fmt.Sprintf("%.2f", ms/mk)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", m.name, spread(s), spread(k), ratio, m.target)
	}
	b.WriteString("\n" + clusterEnd + "\n")

	old, err := os.ReadFile(mdPath)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	var out string
	if clusterSection.Match(old) {
		out = clusterSection.ReplaceAllLiteralString(string(old), b.String())
	} else {
		out = strings.TrimRight(string(old), "\n") + "\n\n" + b.String()
	}
	return os.WriteFile(mdPath, []byte(out), 0o644)
}

func spread(v []float64) string {
	if len(v) == 0 {
		return "–"
	}
	if len(v) == 1 {
		return fmt.Sprintf("%.3g", v[0])
	}
	return fmt.Sprintf("%.3g (%.3g–%.3g)", median(v), slices.Min(v), slices.Max(v))
}
