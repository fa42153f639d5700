package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// RunConfig is the orchestrator's configuration (see run.sh for the env knobs).
type RunConfig struct {
	Repo         string
	OutDir       string
	Report       string // docs/benchmarks.md
	PlotDir      string // docs/bench
	Label        string // "smoke" or "full"
	Pairs        int
	Scenarios    []string
	Duration     time.Duration
	Warmup       time.Duration
	Idle         time.Duration // M1 settle time
	L1Rate       float64
	S1Rate       float64
	S1Partitions []int
	PerfRecords  int
	BrokerCPUs   string
	LoadCPUs     string
	Compression  string
	Linger       time.Duration
	SpoolRev     string
}

// Results is results.json: everything the report is drawn from.
type Results struct {
	Date     string            `json:"date"`
	Label    string            `json:"label"`
	Settings map[string]string `json:"settings"`
	Runs     []*Run            `json:"runs"`
}

// Run is one broker's session in one pair. Metrics keys are "<scenario>.<metric>".
type Run struct {
	Pair    int                  `json:"pair"`
	Broker  string               `json:"broker"`
	Metrics map[string]float64   `json:"metrics"`
	Curves  map[string][]float64 `json:"curves,omitempty"`
	Errors  map[string]string    `json:"errors,omitempty"`
}

func (r *Run) set(k string, v float64) { r.Metrics[k] = v }

func (r *Run) fail(scenario string, err error) {
	log.Printf("%s pair %d: %s FAILED: %v", r.Broker, r.Pair, scenario, err)
	r.Errors[scenario] = err.Error()
}

func (c RunConfig) has(s string) bool { return slices.Contains(c.Scenarios, s) }

func Orchestrate(ctx context.Context, c RunConfig) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.OutDir, 0o755); err != nil {
		return err
	}
	res := &Results{
		Date:  time.Now().UTC().Format("2006-01-02 15:04 MST"),
		Label: c.Label,
		Settings: map[string]string{
			"pairs":         fmt.Sprint(c.Pairs),
			"scenarios":     strings.Join(c.Scenarios, ","),
			"duration":      c.Duration.String(),
			"warmup":        c.Warmup.String(),
			"l1_rate":       fmt.Sprint(c.L1Rate),
			"s1_rate":       fmt.Sprint(c.S1Rate),
			"s1_partitions": fmt.Sprint(c.S1Partitions),
			"perf_records":  fmt.Sprint(c.PerfRecords),
			"broker_cpus":   c.BrokerCPUs,
			"load_cpus":     c.LoadCPUs,
			"compression":   c.Compression,
			"linger":        c.Linger.String(),
			"cpus":          onlineCPUs(),
			"kernel":        kernel(),
			"spool_rev":     c.SpoolRev,
		},
	}
	save := func() error {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(c.OutDir, "results.json"), b, 0o644)
	}
	for pair := range c.Pairs {
		ceil := &Run{Pair: pair, Broker: "machine", Metrics: map[string]float64{}, Errors: map[string]string{}}
		res.Runs = append(res.Runs, ceil)
		d := min(c.Duration, 5*time.Second)
		if v, err := LoopbackMBPerS(self, c.BrokerCPUs, d); err != nil {
			ceil.fail("ceiling.tcp", err)
		} else {
			ceil.set("ceiling.tcp_mb_per_s", v)
		}
		if v, err := FsyncMBPerS(tempRoot(), d); err != nil {
			ceil.fail("ceiling.fsync", err)
		} else {
			ceil.set("ceiling.fsync_mb_per_s", v)
		}
		log.Printf("pair %d ceilings: %v", pair, ceil.Metrics)
		for bi, name := range []string{"spool", "kafka"} {
			b := &Broker{Name: name, Repo: c.Repo, Port: 29092 + 10*bi, Controller: 29093 + 10*bi,
				BrokerCPUs: c.BrokerCPUs, OutDir: c.OutDir}
			run := &Run{Pair: pair, Broker: name, Metrics: map[string]float64{},
				Curves: map[string][]float64{}, Errors: map[string]string{}}
			res.Runs = append(res.Runs, run)
			c.session(ctx, b, run)
			if err := save(); err != nil {
				return err
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	if err := save(); err != nil {
		return err
	}
	return WriteReport(res, c.Report, c.PlotDir)
}

// settle writes dirty pages back and pauses, so a scenario does not pay for the
// previous one's writeback (balance_dirty_pages stalls the next writer otherwise).
func settle(ctx context.Context) {
	unix.Sync()
	sleep(ctx, 2*time.Second)
}

// onlineCPUs is the machine's CPU list; runtime.NumCPU would see only our affinity mask.
func onlineCPUs() string {
	b, _ := os.ReadFile("/sys/devices/system/cpu/online")
	return strings.TrimSpace(string(b))
}

// loadavg is the 1-minute load average: other work on the machine shows up here.
func loadavg() float64 {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return math.NaN()
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

func kernel() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(b))
}

// session runs the scenarios against one broker: first a start/idle session
// (startup time, M1), then a fresh broker for the workloads.
func (c RunConfig) session(ctx context.Context, b *Broker, run *Run) {
	log.Printf("== %s pair %d", b.Name, run.Pair)
	first, err := b.Start(ctx)
	if err != nil {
		b.Stop()
		run.fail("start", err)
		return
	}
	run.set("start.first_s", first.Seconds())
	// Startup-to-ready on formatted, empty storage: the same measurement for both.
	if d, err := b.Restart(ctx, nil); err != nil {
		run.fail("start", err)
	} else {
		run.set("start.ready_s", d.Seconds())
	}
	if c.has("M1") {
		c.m1(ctx, b, run)
	}
	b.Stop()

	if _, err := b.Start(ctx); err != nil {
		b.Stop()
		run.fail("start", err)
		return
	}
	defer b.Stop()
	base := LoadConfig{Bootstrap: b.Bootstrap(), Partitions: 100, Linger: c.Linger,
		Compression: c.Compression, Duration: c.Duration, Warmup: c.Warmup}
	var p1Records uint64
	for _, s := range c.Scenarios {
		if ctx.Err() != nil {
			return
		}
		if err := b.alive(); err != nil {
			run.fail(s, err)
			return
		}
		settle(ctx)
		switch s {
		case "P1":
			lc := base
			lc.Topic, lc.Acks = "p1", 1
			r := c.load(ctx, b, run, "p1", lc)
			p1Records = r.TotalRecords
		case "C1":
			if p1Records == 0 {
				run.fail("c1", fmt.Errorf("needs P1 to run first"))
				continue
			}
			smp := StartSampler(ctx, b.Pid())
			r, err := RunConsume(ctx, b.Bootstrap(), "p1", p1Records, 2*c.Duration+30*time.Second)
			st := smp.Stop()
			if err != nil {
				run.fail("c1", err)
				continue
			}
			run.set("c1.mb_per_s", r.MBPerS)
			run.set("c1.cpu_cores", st.CPUSeconds/st.WallS)
			log.Printf("%s c1: %.1f MB/s over %d records", b.Name, r.MBPerS, r.Records)
		case "P2":
			lc := base
			lc.Topic, lc.Acks, lc.Idempotent = "p2", -1, true
			c.load(ctx, b, run, "p2", lc)
		case "X1": // P1 with the raw producer: the broker's ceiling
			lc := base
			lc.Topic, lc.Acks, lc.Raw = "x1", 1, true
			c.load(ctx, b, run, "x1", lc)
		case "X2": // P2 with the raw producer
			lc := base
			lc.Topic, lc.Acks, lc.Idempotent, lc.Raw = "x2", -1, true, true
			c.load(ctx, b, run, "x2", lc)
		case "L1":
			lc := base
			lc.Topic, lc.Acks, lc.Rate, lc.EndToEnd = "l1", 1, c.L1Rate, true
			c.load(ctx, b, run, "l1", lc)
		case "PERF":
			c.perf(ctx, b, run)
		case "S1":
			c.s1(ctx, b, run)
		case "M1":
		default:
			run.fail(s, fmt.Errorf("unknown scenario"))
		}
	}
}

// load creates lc.Topic and runs one load scenario with the broker sampled.
func (c RunConfig) load(ctx context.Context, b *Broker, run *Run, key string, lc LoadConfig) LoadResult {
	if _, err := CreateTopic(ctx, lc.Bootstrap, lc.Topic, lc.Partitions); err != nil {
		run.fail(key, err)
		return LoadResult{}
	}
	smp := StartSampler(ctx, b.Pid())
	self := StartSampler(ctx, os.Getpid())
	r, err := RunLoad(ctx, lc)
	st := smp.Stop()
	gen := self.Stop()
	if err != nil {
		run.fail(key, err)
		return r
	}
	// Near 1 core per load CPU, the generator (not the broker) may be the limit.
	run.set(key+".loadgen_cpu_cores", gen.CPUSeconds/gen.WallS)
	if r.Errors > 0 {
		run.Errors[key] = fmt.Sprintf("%d records failed, first: %s", r.Errors, r.FirstError)
	}
	run.set(key+".mb_per_s", r.MBPerS)
	run.set(key+".records_per_s", r.RecordsPerS)
	run.set(key+".p50_ms", r.Produce.P50)
	run.set(key+".p99_ms", r.Produce.P99)
	run.set(key+".p999_ms", r.Produce.P999)
	run.set(key+".max_ms", r.Produce.Max)
	run.Curves[key+".produce"] = r.Produce.Curve
	if lc.EndToEnd {
		run.set(key+".e2e_p50_ms", r.EndToEnd.P50)
		run.set(key+".e2e_p99_ms", r.EndToEnd.P99)
		run.set(key+".e2e_p999_ms", r.EndToEnd.P999)
		run.set(key+".e2e_max_ms", r.EndToEnd.Max)
		run.Curves[key+".e2e"] = r.EndToEnd.Curve
	}
	run.set(key+".cpu_cores", st.CPUSeconds/st.WallS)
	if r.MBPerS > 0 {
		run.set(key+".cpu_ms_per_mb", 1000*st.CPUSeconds/(float64(r.TotalRecords)*recordSize/1e6))
	}
	run.set(key+".max_rss_mib", st.MaxRSSMiB)
	run.set(key+".loadavg", loadavg())
	log.Printf("%s %s: %.1f MB/s %.0f rec/s p50 %.2f p99 %.2f p99.9 %.2f max %.2f ms; e2e p99 %.2f ms; cpu %.2f cores; rss %.0f MiB",
		b.Name, key, r.MBPerS, r.RecordsPerS, r.Produce.P50, r.Produce.P99, r.Produce.P999, r.Produce.Max,
		r.EndToEnd.P99, st.CPUSeconds/st.WallS, st.MaxRSSMiB)
	return r
}

// m1 measures idle RSS with no topics and with one 1000-partition topic.
func (c RunConfig) m1(ctx context.Context, b *Broker, run *Run) {
	sleep(ctx, c.Idle)
	if v, err := rssMiB(b.Pid()); err == nil {
		run.set("m1.rss0_mib", v)
	}
	d, err := CreateTopic(ctx, b.Bootstrap(), "m1", 1000)
	if err != nil {
		run.fail("m1", err)
		return
	}
	run.set("m1.create1000_s", d.Seconds())
	sleep(ctx, c.Idle)
	if v, err := rssMiB(b.Pid()); err == nil {
		run.set("m1.rss1000_mib", v)
	}
	run.set("m1.fds1000", float64(openFiles(b.Pid())))
	log.Printf("%s m1: %v", b.Name, run.Metrics)
}

func (c RunConfig) perf(ctx context.Context, b *Broker, run *Run) {
	if _, err := CreateTopic(ctx, b.Bootstrap(), "perf", 100); err != nil {
		run.fail("perf", err)
		return
	}
	mbps, p99, err := KafkaProducerPerf(ctx, c.Repo, b.Bootstrap(), "perf", c.PerfRecords)
	if err != nil {
		run.fail("perf", err)
		return
	}
	run.set("perf.producer_mb_per_s", mbps)
	run.set("perf.producer_p99_ms", p99)
	cm, err := KafkaConsumerPerf(ctx, c.Repo, b.Bootstrap(), "perf", c.PerfRecords)
	if err != nil {
		run.fail("perf", err)
		return
	}
	run.set("perf.consumer_mb_per_s", cm)
	log.Printf("%s perf-test: producer %.1f MB/s p99 %.0f ms, consumer %.1f MB/s", b.Name, mbps, p99, cm)
}

// s1 steps the partition count up at a fixed rate; topics accumulate, so at the
// step with N partitions the broker holds the sum of all steps so far.
func (c RunConfig) s1(ctx context.Context, b *Broker, run *Run) {
	var topics []string
	for _, n := range c.S1Partitions {
		key := fmt.Sprintf("s1.%d", n)
		topic := fmt.Sprintf("s1-%d", n)
		d, err := CreateTopic(ctx, b.Bootstrap(), topic, n)
		if err != nil {
			run.fail(key, err)
			return
		}
		topics = append(topics, topic)
		run.set(key+".create_s", d.Seconds())
		lc := LoadConfig{Bootstrap: b.Bootstrap(), Topic: topic, Partitions: n, Acks: 1, Linger: c.Linger,
			Compression: c.Compression, Duration: c.Duration, Warmup: c.Warmup, Rate: c.S1Rate}
		smp := StartSampler(ctx, b.Pid())
		r, err := RunLoad(ctx, lc)
		st := smp.Stop()
		if err != nil {
			run.fail(key, err)
			return
		}
		run.set(key+".p99_ms", r.Produce.P99)
		run.set(key+".rss_mib", st.MaxRSSMiB)
		run.set(key+".open_files", float64(st.OpenFiles))
		run.set(key+".cpu_cores", st.CPUSeconds/st.WallS)
		rd, err := b.Restart(ctx, topics)
		if err != nil {
			run.fail(key, fmt.Errorf("restart: %w", err))
			return
		}
		run.set(key+".restart_s", rd.Seconds())
		log.Printf("%s s1 %d partitions: create %.2fs p99 %.2f ms rss %.0f MiB fds %d restart %.2fs",
			b.Name, n, d.Seconds(), r.Produce.P99, st.MaxRSSMiB, st.OpenFiles, rd.Seconds())
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
