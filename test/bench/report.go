package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// row is one line of the report's table.
type row struct {
	key, label string
	ceiling    string // metric key of the machine ceiling this is a share of
}

func reportRows(s1 []int) []row {
	rows := []row{
		{"start.first_s", "first start to ready, s (Kafka: incl. storage format JVM)", ""},
		{"start.ready_s", "startup to ready on empty storage, s", ""},
		{"m1.rss0_mib", "M1 idle RSS, 0 partitions, MiB", ""},
		{"m1.rss1000_mib", "M1 idle RSS, 1000 partitions, MiB", ""},
		{"m1.create1000_s", "M1 create 1000-partition topic, s", ""},
		{"m1.fds1000", "M1 open files, 1000 partitions", ""},
		{"p1.mb_per_s", "P1 produce acks=1, 100 partitions, MB/s", "ceiling.tcp_mb_per_s"},
		{"p1.p50_ms", "P1 produce latency p50, ms", ""},
		{"p1.p99_ms", "P1 produce latency p99, ms", ""},
		{"p1.p999_ms", "P1 produce latency p99.9, ms", ""},
		{"p1.max_ms", "P1 produce latency max, ms", ""},
		{"p1.cpu_ms_per_mb", "P1 broker CPU ms per MB", ""},
		{"p1.max_rss_mib", "P1 broker max RSS, MiB", ""},
		{"p1.cpu_cores", "P1 broker CPU, cores (pinned to 1)", ""},
		{"p1.loadgen_cpu_cores", "P1 load generator CPU, cores (limit check)", ""},
		{"x1.mb_per_s", "X1 raw producer acks=1, 100 partitions, MB/s (broker's ceiling)", "ceiling.tcp_mb_per_s"},
		{"x1.p99_ms", "X1 request latency p99, ms", ""},
		{"x1.cpu_ms_per_mb", "X1 broker CPU ms per MB", ""},
		{"x1.cpu_cores", "X1 broker CPU, cores (pinned to 1)", ""},
		{"x1.loadgen_cpu_cores", "X1 raw producer CPU, cores", ""},
		{"x2.mb_per_s", "X2 raw producer acks=all idempotent, MB/s", "ceiling.tcp_mb_per_s"},
		{"x2.cpu_ms_per_mb", "X2 broker CPU ms per MB", ""},
		{"x2.loadgen_cpu_cores", "X2 raw producer CPU, cores", ""},
		{"c1.mb_per_s", "C1 consumer catch-up (page cache), MB/s", "ceiling.tcp_mb_per_s"},
		{"p2.mb_per_s", "P2 produce acks=all idempotent, MB/s", "ceiling.tcp_mb_per_s"},
		{"p2.p99_ms", "P2 produce latency p99, ms", ""},
		{"p2.cpu_ms_per_mb", "P2 broker CPU ms per MB", ""},
		{"p2.max_rss_mib", "P2 broker max RSS, MiB", ""},
		{"p2.loadgen_cpu_cores", "P2 load generator CPU, cores (limit check)", ""},
		{"l1.records_per_s", "L1 achieved rate, records/s", ""},
		{"l1.p50_ms", "L1 produce latency p50, ms", ""},
		{"l1.p99_ms", "L1 produce latency p99, ms", ""},
		{"l1.p999_ms", "L1 produce latency p99.9, ms", ""},
		{"l1.max_ms", "L1 produce latency max, ms", ""},
		{"l1.e2e_p50_ms", "L1 end-to-end latency p50, ms", ""},
		{"l1.e2e_p99_ms", "L1 end-to-end latency p99, ms", ""},
		{"l1.e2e_p999_ms", "L1 end-to-end latency p99.9, ms", ""},
		{"l1.e2e_max_ms", "L1 end-to-end latency max, ms", ""},
		{"l1.cpu_cores", "L1 broker CPU, cores", ""},
		{"p1.loadavg", "machine load average after P1 (noise check; 2 CPUs)", ""},
		{"l1.loadavg", "machine load average after L1 (noise check)", ""},
		{"perf.producer_mb_per_s", "kafka-producer-perf-test acks=1, MB/s", "ceiling.tcp_mb_per_s"},
		{"perf.producer_p99_ms", "kafka-producer-perf-test p99, ms", ""},
		{"perf.consumer_mb_per_s", "kafka-consumer-perf-test fetch, MB/s", "ceiling.tcp_mb_per_s"},
	}
	for _, n := range s1 {
		k := fmt.Sprintf("s1.%d", n)
		rows = append(rows,
			row{k + ".create_s", fmt.Sprintf("S1 %d partitions: topic create, s", n), ""},
			row{k + ".p99_ms", fmt.Sprintf("S1 %d partitions: produce p99, ms", n), ""},
			row{k + ".rss_mib", fmt.Sprintf("S1 %d partitions: max RSS, MiB", n), ""},
			row{k + ".open_files", fmt.Sprintf("S1 %d partitions: open files", n), ""},
			row{k + ".restart_s", fmt.Sprintf("S1 %d partitions: restart to ready, s", n), ""},
		)
	}
	return rows
}

// values returns the metric of broker in pair order (NaN where missing).
func (r *Results) values(broker, key string) []float64 {
	var out []float64
	for _, run := range r.Runs {
		if run.Broker != broker {
			continue
		}
		v, ok := run.Metrics[key]
		if !ok {
			v = math.NaN()
		}
		out = append(out, v)
	}
	return out
}

func (r *Results) pairs() int {
	n := 0
	for _, run := range r.Runs {
		n = max(n, run.Pair+1)
	}
	return n
}

func present(vs []float64) []float64 {
	var out []float64
	for _, v := range vs {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			out = append(out, v)
		}
	}
	return out
}

func median(vs []float64) float64 {
	vs = present(vs)
	if len(vs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(vs)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case math.Abs(v) >= 1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case math.Abs(v) >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// cell is "median (min–max)" over pairs, or just the value with one pair.
func cell(vs []float64) string {
	p := present(vs)
	if len(p) == 0 {
		return "—"
	}
	if len(p) == 1 {
		return num(p[0])
	}
	return fmt.Sprintf("%s (%s–%s)", num(median(p)), num(slices.Min(p)), num(slices.Max(p)))
}

// WriteReport writes the Markdown report and the plots.
func WriteReport(r *Results, mdPath, plotDir string) error {
	var s1 []int
	for _, f := range strings.Fields(strings.Trim(r.Settings["s1_partitions"], "[]")) {
		if n, err := strconv.Atoi(f); err == nil {
			s1 = append(s1, n)
		}
	}
	var b strings.Builder
	title := "Benchmarks: Spool vs Apache Kafka 4.3.1 (single node)"
	fmt.Fprintf(&b, "# %s\n\n", title)
	fmt.Fprintf(&b, "<!-- Generated by `make bench` (test/bench); do not edit by hand. -->\n\n")
	if r.Label != "full" {
		fmt.Fprintf(&b, "> **%s run** — %s, short scenarios on a shared, noisy machine. These numbers only show that the\n> pipeline works; they are not results. A full `make bench` run replaces this file.\n\n", strings.ToUpper(r.Label), r.Date)
	}
	fmt.Fprintf(&b, "Run %s (%s). Settings:", r.Date, r.Label)
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range r.Settings {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		fmt.Fprintf(&b, " `%s=%s`", k, r.Settings[k])
	}
	b.WriteString(".\n\n")
	b.WriteString("Records are 1 KiB values (half random, half compressible). Latencies run from each record's *intended* send time" +
		" (no coordinated omission); HDR-style histograms, ±0.8%. MB = 10^6 bytes of record values." +
		" P1 and P2 are unthrottled, so their latencies are queueing in the client's 50 000-record buffer, not broker latency;" +
		" L1 and S1 run at a fixed rate and show the broker's latency (producer linger 5 ms included)." +
		" X1 and X2 are P1 and P2 with the raw producer (`spool-bench raw`: pre-built 16-record batches copied into pipelined" +
		" Produce requests, 5 in flight on 2 connections per broker; X2 patches sequence numbers and CRCs), which costs a" +
		" fraction of franz-go's CPU per MB, so they show the broker's own ceiling on this machine; their latency is per request." +
		" Ratio = Spool/Kafka per pair: median (min–max) over pairs. Ceiling = this machine in the same run.\n\n")

	fmt.Fprintf(&b, "## Machine ceilings\n\n| ceiling | value |\n|---|---|\n")
	fmt.Fprintf(&b, "| loopback TCP between two processes, MB/s | %s |\n", cell(r.values("machine", "ceiling.tcp_mb_per_s")))
	fmt.Fprintf(&b, "| write + fdatasync in 1 MiB chunks, MB/s | %s |\n\n", cell(r.values("machine", "ceiling.fsync_mb_per_s")))

	fmt.Fprintf(&b, "## Results (%d pair(s), A/B alternated)\n\n", r.pairs())
	b.WriteString("| metric | Spool | Kafka | ratio Spool/Kafka | Spool % of ceiling |\n|---|---|---|---|---|\n")
	for _, rw := range reportRows(s1) {
		sp, ka := r.values("spool", rw.key), r.values("kafka", rw.key)
		if len(present(sp)) == 0 && len(present(ka)) == 0 {
			continue
		}
		var ratios []float64
		for i := range min(len(sp), len(ka)) {
			if ka[i] != 0 {
				ratios = append(ratios, sp[i]/ka[i])
			}
		}
		ceil := ""
		if rw.ceiling != "" {
			if cv := median(r.values("machine", rw.ceiling)); cv > 0 {
				ceil = fmt.Sprintf("%.0f%% of TCP", 100*median(sp)/cv)
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", rw.label, cell(sp), cell(ka), cell(ratios), ceil)
	}

	var failures []string
	for _, run := range r.Runs {
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range run.Errors {
				if !yield(k) {
					return
				}
			}
		}) {
			failures = append(failures, fmt.Sprintf("- %s, pair %d, %s: %s", run.Broker, run.Pair, k, oneLine(run.Errors[k])))
		}
	}
	if len(failures) > 0 {
		b.WriteString("\n## Failures\n\n" + strings.Join(failures, "\n") + "\n")
	}

	if err := os.MkdirAll(plotDir, 0o755); err != nil {
		return err
	}
	rel, _ := filepath.Rel(filepath.Dir(mdPath), plotDir)
	b.WriteString("\n## Plots\n\n")
	for _, p := range []struct {
		file, caption string
		draw          func(*Results, string) error
	}{
		{"throughput.png", "Throughput (median over pairs)", plotThroughput},
		{"latency.png", "L1 latency by percentile at a fixed rate (median over pairs)", plotLatency},
		{"partitions.png", "S1 partition scaling: produce p99, RSS, restart time", plotPartitions(s1)},
	} {
		if err := p.draw(r, filepath.Join(plotDir, p.file)); err != nil {
			fmt.Fprintf(&b, "- %s: not drawn (%v)\n", p.caption, err)
			continue
		}
		fmt.Fprintf(&b, "![%s](%s)\n\n", p.caption, filepath.ToSlash(filepath.Join(rel, p.file)))
	}
	b.WriteString("\n## Reproduce\n\n`make bench` (full: PAIRS=3, 60 s scenarios) or `make bench-smoke` (P1, P2, L1, one pair, 20 s);" +
		" knobs are described in `test/bench/run.sh`. Raw numbers: `test/bench/out/results.json`.\n")
	return os.WriteFile(mdPath, []byte(keepClusterSection(mdPath, b.String())), 0o644)
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

var brokerColors = map[string]color.Color{
	"spool": color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	"kafka": color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
}

func plotThroughput(r *Results, path string) error {
	metrics := []struct{ key, label string }{
		{"p1.mb_per_s", "P1 acks=1"}, {"p2.mb_per_s", "P2 idem."}, {"c1.mb_per_s", "C1 consume"},
		{"perf.producer_mb_per_s", "perf prod"}, {"perf.consumer_mb_per_s", "perf cons"},
	}
	p := plot.New()
	p.Title.Text = "Throughput, MB/s"
	p.Y.Label.Text = "MB/s"
	w := vg.Points(14)
	var names []string
	for _, m := range metrics {
		names = append(names, m.label)
	}
	for i, br := range []string{"spool", "kafka"} {
		var vals plotter.Values
		for _, m := range metrics {
			v := median(r.values(br, m.key))
			if math.IsNaN(v) {
				v = 0
			}
			vals = append(vals, v)
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return err
		}
		bars.Color = brokerColors[br]
		bars.LineStyle.Width = 0
		bars.Offset = w * vg.Length(2*i-1) / 2
		p.Add(bars)
		p.Legend.Add(br, bars)
	}
	if tcp := median(r.values("machine", "ceiling.tcp_mb_per_s")); !math.IsNaN(tcp) {
		p.Title.Text += fmt.Sprintf(" (loopback TCP ceiling %.0f MB/s)", tcp)
	}
	p.Legend.Top = true
	p.NominalX(names...)
	return p.Save(7*vg.Inch, 4*vg.Inch, path)
}

func plotLatency(r *Results, path string) error {
	p := plot.New()
	p.Title.Text = "L1 latency by percentile"
	p.X.Label.Text = "percentile (nines: 1 = p90, 2 = p99, 3 = p99.9)"
	p.Y.Label.Text = "ms (log)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	n := 0
	for _, br := range []string{"spool", "kafka"} {
		for si, series := range []string{"l1.produce", "l1.e2e"} {
			var curves [][]float64
			for _, run := range r.Runs {
				if run.Broker == br && len(run.Curves[series]) > 0 {
					curves = append(curves, run.Curves[series])
				}
			}
			if len(curves) == 0 {
				continue
			}
			var pts plotter.XYs
			for qi := range curveQuantiles {
				var vs []float64
				for _, c := range curves {
					if qi < len(c) {
						vs = append(vs, c[qi])
					}
				}
				pts = append(pts, plotter.XY{X: float64(qi) * 0.25, Y: math.Max(median(vs), 0.001)})
			}
			l, err := plotter.NewLine(pts)
			if err != nil {
				return err
			}
			l.Color = brokerColors[br]
			l.Width = vg.Points(1.5)
			if si == 1 {
				l.Dashes = plotutil.Dashes(1)
			}
			p.Add(l)
			p.Legend.Add(br+" "+strings.TrimPrefix(series, "l1."), l)
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("no L1 results")
	}
	p.Legend.Top, p.Legend.Left = false, false
	return p.Save(7*vg.Inch, 4*vg.Inch, path)
}

func plotPartitions(s1 []int) func(*Results, string) error {
	return func(r *Results, path string) error {
		if len(s1) == 0 {
			return fmt.Errorf("no S1 steps")
		}
		var plots [][]*plot.Plot
		row := []*plot.Plot{}
		for _, m := range []struct{ suffix, label string }{{"p99_ms", "produce p99, ms"}, {"rss_mib", "RSS, MiB"}, {"restart_s", "restart to ready, s"}} {
			p := plot.New()
			p.Title.Text = m.label
			p.X.Label.Text = "partitions (log)"
			p.X.Scale = plot.LogScale{}
			p.X.Tick.Marker = plot.LogTicks{Prec: -1}
			any := false
			for _, br := range []string{"spool", "kafka"} {
				var pts plotter.XYs
				for _, n := range s1 {
					v := median(r.values(br, fmt.Sprintf("s1.%d.%s", n, m.suffix)))
					if !math.IsNaN(v) {
						pts = append(pts, plotter.XY{X: float64(n), Y: v})
					}
				}
				if len(pts) == 0 {
					continue
				}
				any = true
				l, sc, err := plotter.NewLinePoints(pts)
				if err != nil {
					return err
				}
				l.Color, sc.Color = brokerColors[br], brokerColors[br]
				p.Add(l, sc)
				p.Legend.Add(br, l)
			}
			if !any {
				return fmt.Errorf("no S1 results")
			}
			p.Legend.Top, p.Legend.Left = true, true
			p.Legend.YOffs = -vg.Points(12)
			p.Legend.XOffs = vg.Points(8)
			row = append(row, p)
		}
		plots = append(plots, row)
		img := vgimgCanvas(12*vg.Inch, 3.5*vg.Inch)
		tiles := draw1xN(len(row))
		canvases := plot.Align(plots, tiles, img.dc)
		for j := range row {
			row[j].Draw(canvases[0][j])
		}
		return img.save(path)
	}
}
