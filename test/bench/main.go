package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	log.SetFlags(log.Ltime)
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: spool-bench run|cluster|cluster-report|scale|load|raw|report|tcp-recv|tcp-send|fsync [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1], os.Args[2:]); err != nil {
		log.Fatalf("spool-bench %s: %v", os.Args[1], err)
	}
}

func run(ctx context.Context, cmd string, args []string) error {
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	switch cmd {
	case "run":
		var c RunConfig
		var scenarios, s1 string
		fs.StringVar(&c.Repo, "repo", "../..", "repository root (bin/spool, test/compat)")
		fs.StringVar(&c.OutDir, "out", "out", "directory for results.json and broker logs")
		fs.StringVar(&c.Report, "report", "../../docs/benchmarks.md", "Markdown report to write")
		fs.StringVar(&c.PlotDir, "plots", "../../docs/bench", "directory for PNG plots")
		fs.StringVar(&c.Label, "label", "full", "run label: full, smoke, …")
		fs.IntVar(&c.Pairs, "pairs", 3, "A/B pairs (Spool, Kafka)")
		fs.StringVar(&scenarios, "scenarios", "M1,P1,C1,P2,X1,X2,L1,PERF,S1", "scenarios, in order")
		fs.DurationVar(&c.Duration, "duration", 60*time.Second, "measured time per load scenario")
		fs.DurationVar(&c.Warmup, "warmup", 5*time.Second, "unmeasured warm-up before each load scenario")
		fs.DurationVar(&c.Idle, "idle", 10*time.Second, "M1: settle time before reading RSS")
		fs.Float64Var(&c.L1Rate, "l1-rate", 50000, "L1 fixed rate, records/s")
		fs.Float64Var(&c.S1Rate, "s1-rate", 5000, "S1 fixed rate, records/s")
		fs.StringVar(&s1, "s1-partitions", "1,10,100,1000,5000", "S1 partition steps")
		fs.IntVar(&c.PerfRecords, "perf-records", 500000, "records for Kafka's perf tools")
		fs.StringVar(&c.BrokerCPUs, "broker-cpus", "", "taskset CPU list for brokers")
		fs.StringVar(&c.LoadCPUs, "load-cpus", "", "CPU list this process is pinned to (for the report)")
		fs.StringVar(&c.Compression, "compression", "none", "producer compression")
		fs.DurationVar(&c.Linger, "linger", 5*time.Millisecond, "producer linger")
		fs.StringVar(&c.SpoolRev, "spool-rev", "", "Spool commit under test (for the report)")
		fs.Parse(args)
		c.Scenarios = strings.Split(scenarios, ",")
		for _, f := range strings.Split(s1, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return fmt.Errorf("-s1-partitions: %w", err)
			}
			c.S1Partitions = append(c.S1Partitions, n)
		}
		return Orchestrate(ctx, c)
	case "load":
		var c LoadConfig
		var create bool
		var acks string
		fs.StringVar(&c.Bootstrap, "bootstrap", "127.0.0.1:9092", "bootstrap address")
		fs.StringVar(&c.Topic, "topic", "bench", "topic")
		fs.IntVar(&c.Partitions, "partitions", 100, "partitions (with -create)")
		fs.BoolVar(&create, "create", true, "create the topic first")
		fs.StringVar(&acks, "acks", "1", "1 or all")
		fs.BoolVar(&c.Idempotent, "idempotent", false, "idempotent producer (implies acks=all)")
		fs.DurationVar(&c.Linger, "linger", 5*time.Millisecond, "producer linger")
		var batch int
		fs.IntVar(&batch, "batch-bytes", 0, "max batch bytes (0: franz-go default 1000012)")
		fs.StringVar(&c.Compression, "compression", "none", "none, snappy, lz4, zstd, gzip")
		fs.DurationVar(&c.Duration, "duration", 30*time.Second, "measured time")
		fs.DurationVar(&c.Warmup, "warmup", 2*time.Second, "unmeasured warm-up")
		fs.Float64Var(&c.Rate, "rate", 0, "records/s; 0 = unthrottled")
		fs.BoolVar(&c.EndToEnd, "e2e", false, "also consume and measure end-to-end latency")
		var consume bool
		fs.BoolVar(&consume, "consume", false, "afterwards, consumer catch-up throughput from the start")
		fs.Parse(args)
		c.BatchBytes = int32(batch)
		c.Acks = 1
		if acks == "all" || acks == "-1" {
			c.Acks = -1
		}
		if create {
			d, err := CreateTopic(ctx, c.Bootstrap, c.Topic, c.Partitions)
			if err != nil {
				return err
			}
			log.Printf("created %s (%d partitions) in %s", c.Topic, c.Partitions, d)
		}
		r, err := RunLoad(ctx, c)
		if err != nil {
			return err
		}
		out := map[string]any{"produce": r}
		if consume {
			cr, err := RunConsume(ctx, c.Bootstrap, c.Topic, r.TotalRecords, 5*time.Minute)
			if err != nil {
				return err
			}
			out["consume"] = cr
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	case "raw":
		var c RawConfig
		var acks string
		var partitions int
		var create bool
		fs.StringVar(&c.Bootstrap, "bootstrap", "127.0.0.1:9092", "bootstrap address")
		fs.StringVar(&c.Topic, "topic", "raw", "topic")
		fs.IntVar(&partitions, "partitions", 100, "partitions (with -create)")
		fs.BoolVar(&create, "create", true, "create the topic first")
		fs.StringVar(&acks, "acks", "1", "1 or all")
		fs.BoolVar(&c.Idempotent, "idempotent", false, "idempotent batches with sequence numbers (implies acks=all)")
		fs.StringVar(&c.Compression, "compression", "none", "none, lz4, zstd (compressed once, before the run)")
		fs.IntVar(&c.BatchRecords, "batch-records", 16, "1 KiB records per batch")
		fs.IntVar(&c.ConnsPerNode, "conns", 2, "connections per broker")
		fs.IntVar(&c.Inflight, "inflight", 5, "requests in flight per connection")
		fs.DurationVar(&c.Duration, "duration", 30*time.Second, "measured time")
		fs.DurationVar(&c.Warmup, "warmup", 2*time.Second, "unmeasured warm-up")
		fs.Parse(args)
		c.Acks = 1
		if acks == "all" || acks == "-1" {
			c.Acks = -1
		}
		if create {
			d, err := CreateTopic(ctx, c.Bootstrap, c.Topic, partitions)
			if err != nil {
				return err
			}
			log.Printf("created %s (%d partitions) in %s", c.Topic, partitions, d)
		}
		self := StartSampler(ctx, os.Getpid())
		r, err := RunRawLoad(ctx, c)
		gen := self.Stop()
		if err != nil {
			return err
		}
		mb := float64(r.TotalRecords) * recordSize / 1e6
		log.Printf("raw producer: %.1f MB/s, %.0f records/s, request p50 %.2f p99 %.2f ms; its own CPU %.3f ms per MB (%.2f cores)",
			r.MBPerS, r.RecordsPerS, r.Produce.P50, r.Produce.P99, 1000*gen.CPUSeconds/max(mb, 1e-9), gen.CPUSeconds/gen.WallS)
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"produce": r, "loadgen_cpu_ms_per_mb": 1000 * gen.CPUSeconds / max(mb, 1e-9)})
	case "cluster":
		var c ClusterConfig
		var extra string
		fs.StringVar(&c.Repo, "repo", "../..", "repository root (bin/spool, test/compat)")
		fs.StringVar(&c.OutDir, "out", "out", "directory for cluster-results.json and node logs")
		fs.StringVar(&c.Report, "report", "../../docs/benchmarks.md", "Markdown report whose cluster section is rewritten")
		fs.StringVar(&c.Label, "label", "full", "run label: full, smoke, …")
		fs.IntVar(&c.Pairs, "pairs", 3, "A/B pairs (Spool, Kafka), alternating which goes first")
		fs.DurationVar(&c.Duration, "duration", 30*time.Second, "measured time of the throughput and latency runs")
		fs.DurationVar(&c.Warmup, "warmup", 5*time.Second, "unmeasured warm-up before them")
		fs.Float64Var(&c.LatencyRate, "latency-rate", 5000, "end-to-end latency run, records/s")
		fs.Float64Var(&c.FailoverRate, "failover-rate", 1000, "records/s while nodes are killed and restarted")
		fs.IntVar(&c.Partitions, "partitions", 6, "partitions of every topic")
		fs.StringVar(&c.BrokerCPUs, "broker-cpus", "", "taskset CPU list for the nodes")
		fs.StringVar(&c.LoadCPUs, "load-cpus", "", "CPU list this process is pinned to (for the report)")
		fs.StringVar(&c.SpoolRev, "spool-rev", "", "Spool commit under test (for the report)")
		fs.StringVar(&extra, "set", "", "extra server properties for both systems, k=v,k=v")
		fs.StringVar(&c.Note, "note", "", "a note for the report: the machine, what else was running")
		var systems, scenarios string
		fs.StringVar(&systems, "systems", "spool,kafka", "systems of each pair, in order (alternated from pair to pair)")
		fs.StringVar(&scenarios, "scenarios", "R1,R2,R3,R4,R6", "scenarios: R1 throughput, R2 latency, R3 failover/shutdown stall, R4 rolling restart, R6 catch-up")
		fs.Parse(args)
		c.Systems = strings.Split(systems, ",")
		c.Scenarios = map[string]bool{}
		for _, sc := range strings.Split(scenarios, ",") {
			c.Scenarios[strings.TrimSpace(sc)] = true
		}
		c.Extra = map[string]string{}
		for _, kv := range strings.Split(extra, ",") {
			if k, v, ok := strings.Cut(strings.TrimSpace(kv), "="); ok {
				c.Extra[k] = v
			}
		}
		return ClusterBench(ctx, c)
	case "scale":
		var c ScaleConfig
		var systems, steps, extra string
		fs.StringVar(&c.Repo, "repo", "../..", "repository root (bin/spool, test/compat)")
		fs.StringVar(&c.OutDir, "out", "out", "directory for scale-results.json and node logs")
		fs.StringVar(&systems, "systems", "spool,kafka", "systems, in order")
		fs.StringVar(&steps, "steps", "1000,10000,100000", "cumulative idle partition counts")
		fs.IntVar(&c.KafkaMax, "kafka-max", 10000, "Kafka runs the steps up to this count (0: all)")
		fs.IntVar(&c.RF, "rf", 3, "replication factor of every topic")
		fs.IntVar(&c.TopicSize, "topic-size", 1000, "partitions per topic (steps are multiples of it)")
		fs.IntVar(&c.PerRequest, "per-request", 5, "topics per CreateTopics request (Kafka refuses over 10000 records per request)")
		fs.IntVar(&c.BasePort, "base-port", 24000, "node i listens on base+10i (clients), base+10i+1 (controller), base+10i+2 (Spool HTTP)")
		fs.Float64Var(&c.ProbeRate, "probe-rate", 1000, "records/s of the fixed-rate acks=all probe")
		fs.IntVar(&c.ProbeParts, "probe-partitions", 12, "partitions of the probe topic")
		fs.DurationVar(&c.ProbeTime, "probe-time", 10*time.Second, "measured time of the probe")
		fs.DurationVar(&c.IdleWindow, "idle-window", 10*time.Second, "window for CPU at rest")
		fs.BoolVar(&c.Restart, "restart", true, "restart node 3 at every step")
		fs.BoolVar(&c.Profile, "profile", false, "write each Spool node's CPU profile during the probe to -out")
		fs.DurationVar(&c.RestartProfile, "restart-profile", 15*time.Second, "with -profile, how long node 3 is profiled from its restart")
		fs.DurationVar(&c.StepLimit, "step-limit", 5*time.Minute, "bound on every wait of a step")
		fs.StringVar(&extra, "set", "", "extra server properties for both systems, k=v,k=v")
		fs.StringVar(&c.Note, "note", "", "a note for the results")
		fs.Parse(args)
		c.Systems = strings.Split(systems, ",")
		for _, f := range strings.Split(steps, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n%c.TopicSize != 0 {
				return fmt.Errorf("-steps: %q is not a multiple of -topic-size", f)
			}
			c.Steps = append(c.Steps, n)
		}
		c.Extra = map[string]string{}
		for _, kv := range strings.Split(extra, ",") {
			if k, v, ok := strings.Cut(strings.TrimSpace(kv), "="); ok {
				c.Extra[k] = v
			}
		}
		return ScaleBench(ctx, c)
	case "cluster-report":
		in := fs.String("in", "out/cluster-results.json", "cluster-results.json")
		md := fs.String("report", "../../docs/benchmarks.md", "Markdown report whose cluster section is rewritten")
		note := fs.String("note", "", "replaces the results' note")
		fs.Parse(args)
		b, err := os.ReadFile(*in)
		if err != nil {
			return err
		}
		var r ClusterResults
		if err := json.Unmarshal(b, &r); err != nil {
			return err
		}
		if *note != "" {
			r.Note = *note
		}
		return writeClusterSection(&r, *md)
	case "report":
		in := fs.String("in", "out/results.json", "results.json")
		md := fs.String("report", "../../docs/benchmarks.md", "Markdown report")
		plots := fs.String("plots", "../../docs/bench", "plot directory")
		fs.Parse(args)
		b, err := os.ReadFile(*in)
		if err != nil {
			return err
		}
		var r Results
		if err := json.Unmarshal(b, &r); err != nil {
			return err
		}
		return WriteReport(&r, *md, *plots)
	case "tcp-recv":
		return tcpRecv()
	case "tcp-send":
		addr := fs.String("addr", "", "receiver address")
		d := fs.Duration("duration", 5*time.Second, "")
		fs.Parse(args)
		return tcpSend(*addr, *d)
	case "fsync":
		dir := fs.String("dir", tempRoot(), "directory on the filesystem to measure")
		d := fs.Duration("duration", 5*time.Second, "")
		fs.Parse(args)
		v, err := FsyncMBPerS(*dir, *d)
		if err != nil {
			return err
		}
		fmt.Printf("%.1f MB/s\n", v)
		return nil
	}
	return fmt.Errorf("unknown subcommand %q", cmd)
}
