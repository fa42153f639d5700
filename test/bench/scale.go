package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ScaleConfig is `spool-bench scale` (scenario R5): one three-node cluster
// per system on 127.0.0.1 (each node its own ports from BasePort), idle
// partitions added in steps, and after each step what the step cost and what
// the cluster costs at rest with that many partitions.
type ScaleConfig struct {
	Repo, OutDir string
	Systems      []string // "spool", "kafka"
	Steps        []int    // cumulative partition counts, increasing
	KafkaMax     int      // Kafka runs only the steps up to this count
	RF           int
	TopicSize    int // partitions per topic
	PerRequest   int // topics per CreateTopics request
	BasePort     int
	ProbeRate    float64 // records/s of the fixed-rate probe, acks=all
	ProbeParts   int     // partitions of the probe topic (RF as above, min ISR 2 with RF 3)
	ProbeTime    time.Duration
	IdleWindow   time.Duration // CPU at rest is measured over this window
	Restart      bool          // restart node 3 at each step and time it
	StepLimit    time.Duration // bound on each wait
	// Profile: while the probe runs, fetch each Spool node's CPU profile
	// (/debug/pprof/profile for the probe's length) into OutDir as
	// cpu-<partitions>-node<i>.pprof.
	Profile bool
	// RestartProfile is how long the restarted node is profiled from its
	// start (cpu-<partitions>-restart-node3.pprof), with Profile.
	RestartProfile time.Duration
	Extra          map[string]string
	Note           string
}

// NodeScale is one node's cost at rest.
type NodeScale struct {
	Node   int     `json:"node"`
	RSSMiB float64 `json:"rss_mib"`
	// PeakRSSMiB is the process's peak resident set so far (VmHWM):
	// topic creation included.
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	OpenFiles  int     `json:"open_files"`
	Maps       int     `json:"maps"`
	IdleCores  float64 `json:"idle_cores"`
	// Goroutines and HeapMiB (Go heap in use) come from Spool's
	// /debug/pprof (only with -profile).
	Goroutines int     `json:"goroutines,omitempty"`
	HeapMiB    float64 `json:"heap_mib,omitempty"`
}

// ScaleStep is what one step measured.
type ScaleStep struct {
	System     string  `json:"system"`
	Partitions int     `json:"partitions"`
	RF         int     `json:"rf"`
	CreateS    float64 `json:"create_s"` // CreateTopics of this step's new partitions, until the last response
	// PropagationS is from the last CreateTopics response until every
	// broker's own Metadata answer lists every partition with a leader.
	PropagationS float64     `json:"propagation_s"`
	Nodes        []NodeScale `json:"nodes"`
	ProbeP50     float64     `json:"probe_p50_ms"`
	ProbeP99     float64     `json:"probe_p99_ms"`
	ProbeErrors  uint64      `json:"probe_errors"`
	// Restart of node 3 (SIGTERM, then start on the same storage):
	// ShutdownS until it exited; ReadyS from its start until it answers
	// Metadata listing itself as a live broker; InSyncS until every
	// partition has all RF replicas in sync again.
	ShutdownS float64 `json:"shutdown_s,omitempty"`
	ReadyS    float64 `json:"restart_ready_s,omitempty"`
	InSyncS   float64 `json:"restart_in_sync_s,omitempty"`
	// RestartPeakRSSMiB is each node's peak resident set (VmHWM) once all
	// replicas are in sync again (node 3's since its restart).
	RestartPeakRSSMiB []float64 `json:"restart_peak_rss_mib,omitempty"`
	Load              string    `json:"load_average"`
	Error             string    `json:"error,omitempty"`
}

// ScaleBench runs the steps for each system and writes scale-results.json.
func ScaleBench(ctx context.Context, cfg ScaleConfig) error {
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return err
	}
	var all []ScaleStep
	write := func() error {
		b, err := json.MarshalIndent(map[string]any{"date": time.Now().UTC().Format("2006-01-02 15:04 UTC"),
			"note": cfg.Note, "cpus": numCPU(), "steps": all}, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(cfg.OutDir, "scale-results.json"), b, 0o644)
	}
	for _, sys := range cfg.Systems {
		c := &Cluster{Name: sys, Repo: cfg.Repo, OutDir: cfg.OutDir, BasePort: cfg.BasePort, Extra: cfg.Extra}
		err := scaleSystem(ctx, cfg, c, func(s ScaleStep) {
			b, _ := json.Marshal(s)
			log.Printf("%s", b)
			all = append(all, s)
			_ = write()
		})
		if err != nil {
			log.Printf("%s: %v", sys, err)
		}
	}
	printScaleTable(all)
	return write()
}

func scaleSystem(ctx context.Context, cfg ScaleConfig, c *Cluster, done func(ScaleStep)) error {
	defer c.Stop()
	d, err := c.Start(ctx)
	if err != nil {
		return err
	}
	log.Printf("%s: three nodes up in %s", c.Name, d.Round(time.Millisecond))
	minISR := "1"
	if cfg.RF >= 3 {
		minISR = "2"
	}
	if err := c.createTopics(ctx, []string{"probe"}, cfg.ProbeParts, cfg.RF, minISR, cfg.PerRequest); err != nil {
		return err
	}
	have := 0
	for _, want := range cfg.Steps {
		if c.Name == "kafka" && cfg.KafkaMax > 0 && want > cfg.KafkaMax {
			break
		}
		step := ScaleStep{System: c.Name, Partitions: want, RF: cfg.RF}
		err := scaleStep(ctx, cfg, c, &step, have, want)
		if b, lerr := os.ReadFile("/proc/loadavg"); lerr == nil {
			step.Load = strings.TrimSpace(string(b))
		}
		if err != nil {
			step.Error = err.Error()
			done(step)
			return err
		}
		done(step)
		have = want
	}
	return nil
}

func scaleTopic(i int) string { return fmt.Sprintf("scale%05d", i) }

func scaleStep(ctx context.Context, cfg ScaleConfig, c *Cluster, step *ScaleStep, have, want int) error {
	// Create want-have partitions in topics of TopicSize (have and want are
	// multiples of it), PerRequest topics per CreateTopics request.
	var topics []string
	for i := have / cfg.TopicSize; i < want/cfg.TopicSize; i++ {
		topics = append(topics, scaleTopic(i))
	}
	start := time.Now()
	if err := c.createTopics(ctx, topics, cfg.TopicSize, cfg.RF, "", cfg.PerRequest); err != nil {
		return err
	}
	step.CreateS = time.Since(start).Seconds()
	start = time.Now()
	if err := c.waitAllBrokersSee(ctx, want+cfg.ProbeParts, cfg.StepLimit); err != nil {
		return err
	}
	step.PropagationS = time.Since(start).Seconds()
	log.Printf("%s %d partitions: created in %.1fs, on every broker %.1fs later", c.Name, want, step.CreateS, step.PropagationS)

	step.Nodes = c.idleStats(ctx, cfg.IdleWindow)
	var profiles sync.WaitGroup
	if cfg.Profile && c.Name == "spool" {
		for i := range step.Nodes {
			n := &step.Nodes[i]
			n.Goroutines, n.HeapMiB = c.runtimeStats(ctx, n.Node,
				filepath.Join(cfg.OutDir, fmt.Sprintf("heap-%d-node%d.pprof", want, n.Node)))
		}
		for id := 1; id <= 3; id++ {
			profiles.Add(1)
			go func() {
				defer profiles.Done()
				path := filepath.Join(cfg.OutDir, fmt.Sprintf("cpu-%d-node%d.pprof", want, id))
				if err := c.cpuProfile(ctx, id, 2*time.Second+cfg.ProbeTime, path); err != nil {
					log.Printf("node %d profile: %v", id, err)
				}
			}()
		}
	}
	r, err := RunLoad(ctx, LoadConfig{Bootstrap: c.Bootstrap(), Topic: "probe", Acks: -1, Linger: time.Millisecond,
		Duration: cfg.ProbeTime, Warmup: 2 * time.Second, Rate: cfg.ProbeRate})
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	profiles.Wait()
	step.ProbeP50, step.ProbeP99, step.ProbeErrors = r.Produce.P50, r.Produce.P99, r.Errors

	if !cfg.Restart {
		return nil
	}
	const node = 3
	start = time.Now()
	if err := c.Terminate(node); err != nil {
		return err
	}
	step.ShutdownS = time.Since(start).Seconds()
	start = time.Now()
	if err := c.Restart(node); err != nil {
		return err
	}
	if cfg.Profile && c.Name == "spool" {
		// The restarted node's HTTP endpoint comes up before it loads its
		// logs: profile its first RestartProfile of work.
		profiles.Add(1)
		go func() {
			defer profiles.Done()
			path := filepath.Join(cfg.OutDir, fmt.Sprintf("cpu-%d-restart-node%d.pprof", want, node))
			var err error
			_ = waitFor(ctx, 10*time.Second, "restarted node's HTTP endpoint", func() bool {
				err = c.cpuProfile(ctx, node, cfg.RestartProfile, path)
				return err == nil
			})
			if err != nil {
				log.Printf("node %d restart profile: %v", node, err)
			}
		}()
		defer profiles.Wait()
	}
	var relaunchErr error
	if err := waitFor(ctx, cfg.StepLimit, "restarted node live", func() bool {
		again, err := c.relaunchIfExited(node)
		if err != nil {
			relaunchErr = err
			return true
		}
		if again {
			start = time.Now() // its port was taken (see relaunchIfExited): time the start that ran
		}
		return c.brokerLive(ctx, node)
	}); err != nil {
		return err
	}
	if relaunchErr != nil {
		return relaunchErr
	}
	step.ReadyS = time.Since(start).Seconds()
	if err := waitFor(ctx, cfg.StepLimit, "every replica in sync", func() bool { return c.allInSync(ctx, cfg.RF) }); err != nil {
		return err
	}
	step.InSyncS = time.Since(start).Seconds()
	for id := 1; id <= 3; id++ {
		peak, _ := peakRSSMiB(c.Pid(id))
		step.RestartPeakRSSMiB = append(step.RestartPeakRSSMiB, peak)
	}
	log.Printf("%s %d partitions: node %d shut down in %.1fs, live %.1fs after start, all in sync after %.1fs",
		c.Name, want, node, step.ShutdownS, step.ReadyS, step.InSyncS)
	return nil
}

// createTopics creates topics of n partitions each, per topics per request.
func (c *Cluster) createTopics(ctx context.Context, topics []string, n, rf int, minISR string, per int) error {
	cl, err := c.client(kgo.RequestTimeoutOverhead(5 * time.Minute))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	adm.SetTimeoutMillis(int32((5 * time.Minute).Milliseconds()))
	var configs map[string]*string
	if minISR != "" {
		configs = map[string]*string{"min.insync.replicas": kadm.StringPtr(minISR)}
	}
	for i := 0; i < len(topics); i += per {
		batch := topics[i:min(i+per, len(topics))]
		resp, err := adm.CreateTopics(ctx, int32(n), int16(rf), configs, batch...)
		if err != nil {
			return fmt.Errorf("create %v: %w", batch, err)
		}
		for _, t := range resp {
			if t.Err != nil && !errors.Is(t.Err, kerr.TopicAlreadyExists) {
				return fmt.Errorf("create %s: %w (%s)", t.Topic, t.Err, t.ErrMessage)
			}
		}
	}
	return nil
}

// metadataFrom asks node id itself for the metadata of every topic.
func (c *Cluster) metadataFrom(ctx context.Context, id int) (*kmsg.MetadataResponse, error) {
	cl, err := c.client(kgo.RequestTimeoutOverhead(time.Minute))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	// Learn the brokers (kgo addresses a node by id only once it knows it).
	learn := kmsg.NewPtrMetadataRequest()
	learn.Topics = []kmsg.MetadataRequestTopic{} // no topics, just the brokers
	if _, err := learn.RequestWith(ctx, cl); err != nil {
		return nil, err
	}
	req := kmsg.NewPtrMetadataRequest() // Topics nil: all topics
	resp, err := cl.Broker(id).Request(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.MetadataResponse), nil
}

// waitAllBrokersSee waits until every node's own Metadata answer has total
// partitions, each with a leader.
func (c *Cluster) waitAllBrokersSee(ctx context.Context, total int, limit time.Duration) error {
	for id := 1; id <= 3; id++ {
		var last string
		err := waitFor(ctx, limit, fmt.Sprintf("node %d sees %d partitions", id, total), func() bool {
			md, err := c.metadataFrom(ctx, id)
			if err != nil {
				last = err.Error()
				return false
			}
			n := 0
			for _, t := range md.Topics {
				for _, p := range t.Partitions {
					if p.Leader >= 0 && p.ErrorCode == 0 {
						n++
					}
				}
			}
			last = fmt.Sprintf("%d with a leader", n)
			return n >= total
		})
		if err != nil {
			return fmt.Errorf("%w (last: %s)", err, last)
		}
	}
	return nil
}

// brokerLive reports whether node id answers Metadata on its own listener
// and lists itself among the live brokers (asking another node could count
// a node that is still listed while it shuts down).
func (c *Cluster) brokerLive(ctx context.Context, id int) bool {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr(id)))
	if err != nil {
		return false
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	md, err := req.RequestWith(rctx, cl)
	if err != nil {
		return false
	}
	for _, b := range md.Brokers {
		if int(b.NodeID) == id {
			return true
		}
	}
	return false
}

func (c *Cluster) allInSync(ctx context.Context, rf int) bool {
	md, err := c.metadataFrom(ctx, 1)
	if err != nil {
		return false
	}
	for _, t := range md.Topics {
		for _, p := range t.Partitions {
			if len(p.ISR) < rf {
				return false
			}
		}
	}
	return true
}

// idleStats samples each node at rest: CPU over window, then RSS, open
// files and memory mappings.
func (c *Cluster) idleStats(ctx context.Context, window time.Duration) []NodeScale {
	var cpu0 [3]float64
	for id := 1; id <= 3; id++ {
		cpu0[id-1], _ = cpuSeconds(c.Pid(id))
	}
	start := time.Now()
	select {
	case <-ctx.Done():
	case <-time.After(window):
	}
	wall := time.Since(start).Seconds()
	var out []NodeScale
	for id := 1; id <= 3; id++ {
		pid := c.Pid(id)
		cpu1, _ := cpuSeconds(pid)
		rss, _ := rssMiB(pid)
		peak, _ := peakRSSMiB(pid)
		out = append(out, NodeScale{Node: id, RSSMiB: rss, PeakRSSMiB: peak, OpenFiles: openFiles(pid), Maps: mapCount(pid),
			IdleCores: (cpu1 - cpu0[id-1]) / wall})
	}
	return out
}

// cpuProfile writes Spool node id's CPU profile over d to path.
func (c *Cluster) cpuProfile(ctx context.Context, id int, d time.Duration, path string) error {
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", c.HTTPAddr(id), int(d.Round(time.Second)/time.Second))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// runtimeStats reads Spool node id's goroutine count and in-use heap from
// /debug/pprof and saves its heap profile to path (zeros on failure).
func (c *Cluster) runtimeStats(ctx context.Context, id int, path string) (goroutines int, heapMiB float64) {
	get := func(q string) []byte {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/%s", c.HTTPAddr(id), q), nil)
		if err != nil {
			return nil
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return nil
		}
		return b
	}
	// "goroutine profile: total N" heads the debug=1 text.
	if b := get("goroutine?debug=1"); b != nil {
		fmt.Sscanf(string(b), "goroutine profile: total %d", &goroutines)
	}
	// The debug=1 heap text ends with runtime.MemStats, "# HeapInuse = N".
	if b := get("heap?debug=1"); b != nil {
		for _, line := range strings.Split(string(b), "\n") {
			var v float64
			if _, err := fmt.Sscanf(line, "# HeapInuse = %g", &v); err == nil {
				heapMiB = v / (1 << 20)
			}
		}
	}
	if b := get("heap?gc=1"); b != nil {
		_ = os.WriteFile(path, b, 0o644)
	}
	return goroutines, heapMiB
}

// mapCount counts the lines of /proc/<pid>/maps (vm.max_map_count bounds it).
func mapCount(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return -1
	}
	return strings.Count(string(b), "\n")
}

func printScaleTable(steps []ScaleStep) {
	fmt.Println("| System | Partitions | RF | Create s | Propagation s | RSS MiB/node | heap MiB/node | goroutines/node | fds/node | maps/node | idle cores (sum) | probe p50/p99 ms | restart: exit / live / in sync s | load |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, s := range steps {
		var rss, heap, gs, fds, maps []string
		var idle float64
		for _, n := range s.Nodes {
			rss = append(rss, fmt.Sprintf("%.0f", n.RSSMiB))
			heap = append(heap, fmt.Sprintf("%.0f", n.HeapMiB))
			gs = append(gs, fmt.Sprint(n.Goroutines))
			fds = append(fds, fmt.Sprint(n.OpenFiles))
			maps = append(maps, fmt.Sprint(n.Maps))
			idle += n.IdleCores
		}
		errNote := ""
		if s.Error != "" {
			errNote = " (failed: " + s.Error + ")"
		}
		fmt.Printf("| %s | %d | %d | %.1f | %.1f | %s | %s | %s | %s | %s | %.3f | %.1f / %.1f | %.1f / %.1f / %.1f | %s |%s\n",
			s.System, s.Partitions, s.RF, s.CreateS, s.PropagationS, strings.Join(rss, ", "), strings.Join(heap, ", "),
			strings.Join(gs, ", "), strings.Join(fds, ", "),
			strings.Join(maps, ", "), idle, s.ProbeP50, s.ProbeP99, s.ShutdownS, s.ReadyS, s.InSyncS, s.Load, errNote)
	}
}
