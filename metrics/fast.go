package metrics

import (
	"bytes"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Family is one metric family of a Source: gauges or counters with fixed
// label names.
type Family struct {
	Name, Help string
	Type       prometheus.ValueType // GaugeValue or CounterValue
	Labels     []string
	desc       *prometheus.Desc
}

// NewFamily describes a family.
func NewFamily(name, help string, typ prometheus.ValueType, labels ...string) *Family {
	return &Family{Name: name, Help: help, Type: typ, Labels: labels, desc: prometheus.NewDesc(name, help, labels, nil)}
}

// Emitter receives a Source's samples; labelValues follow f.Labels.
type Emitter interface {
	Emit(f *Family, v float64, labelValues ...string)
}

// Source is a collector of many series (one or more per partition) that
// can be written straight to the text exposition format. Through a
// Registry, its samples skip client_golang's per-series objects, checks
// and sorting, which dominate a scrape of 10,000 partitions; through any
// other Registerer it is an ordinary Collector.
type Source interface {
	Families() []*Family
	Visit(e Emitter)
}

// Register adds s to reg: to the text fast path when reg is a *Registry,
// else as a prometheus.Collector. A nil reg does nothing.
func Register(reg prometheus.Registerer, s Source) error {
	switch r := reg.(type) {
	case nil:
		return nil
	case *Registry:
		if err := r.slow.Register(sourceCollector{s}); err != nil {
			return err
		}
		r.mu.Lock()
		r.sources = append(r.sources, s)
		r.mu.Unlock()
		return nil
	default:
		return reg.Register(sourceCollector{s})
	}
}

// MustRegister is Register, panicking on error (a duplicate name: a bug).
func MustRegister(reg prometheus.Registerer, s Source) {
	if err := Register(reg, s); err != nil {
		panic(err)
	}
}

// sourceCollector is a Source as a prometheus.Collector.
type sourceCollector struct{ s Source }

func (c sourceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range c.s.Families() {
		ch <- f.desc
	}
}

func (c sourceCollector) Collect(ch chan<- prometheus.Metric) {
	c.s.Visit(collectEmitter(ch))
}

type collectEmitter chan<- prometheus.Metric

func (ch collectEmitter) Emit(f *Family, v float64, lv ...string) {
	ch <- prometheus.MustNewConstMetric(f.desc, f.Type, v, lv...)
}

// Registry is the process's registry (NewRegistry): a prometheus.Registry
// for ordinary collectors plus the Sources registered through Register,
// which the HTTP handler writes as text directly.
type Registry struct {
	*prometheus.Registry
	// slow holds the Sources as Collectors, for Gather (tests) and for
	// name clashes to be detected at registration.
	slow    *prometheus.Registry
	mu      sync.Mutex
	sources []Source
	// sizes are each family's bytes at the last scrape, so buffers start
	// at the right size; lastSize the whole page's.
	sizes    sync.Map // *Family → int
	lastSize atomic.Int64
}

// Gather returns every family, Sources included (the slow path).
func (r *Registry) Gather() ([]*dto.MetricFamily, error) {
	a, err := r.Registry.Gather()
	if err != nil {
		return a, err
	}
	b, err := r.slow.Gather()
	out := append(a, b...)
	slices.SortFunc(out, func(x, y *dto.MetricFamily) int { return strings.Compare(x.GetName(), y.GetName()) })
	return out, err
}

// WriteText writes every family in the text format: the ordinary ones
// through client_golang, the Sources straight from their values.
func (r *Registry) WriteText(w io.Writer) error {
	mfs, err := r.Registry.Gather()
	if err != nil {
		return err
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	r.mu.Lock()
	sources := slices.Clone(r.sources)
	r.mu.Unlock()
	for _, s := range sources {
		te := &textEmitter{bufs: map[*Family]*bytes.Buffer{}, sizes: &r.sizes}
		s.Visit(te)
		for _, f := range s.Families() {
			buf := te.bufs[f]
			if buf == nil {
				continue
			}
			r.sizes.Store(f, buf.Len())
			if _, err := io.WriteString(w, "# HELP "+f.Name+" "+escapeHelp(f.Help)+"\n# TYPE "+f.Name+" "+typeName(f.Type)+"\n"); err != nil {
				return err
			}
			if _, err := w.Write(buf.Bytes()); err != nil {
				return err
			}
		}
	}
	return nil
}

func typeName(t prometheus.ValueType) string {
	if t == prometheus.CounterValue {
		return "counter"
	}
	return "gauge"
}

func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

// textEmitter appends samples to a buffer per family.
type textEmitter struct {
	bufs  map[*Family]*bytes.Buffer
	sizes *sync.Map
	num   []byte
}

func (t *textEmitter) Emit(f *Family, v float64, lv ...string) {
	buf := t.bufs[f]
	if buf == nil {
		buf = new(bytes.Buffer)
		if n, ok := t.sizes.Load(f); ok {
			buf.Grow(n.(int) + n.(int)/8)
		}
		t.bufs[f] = buf
	}
	buf.WriteString(f.Name)
	if len(lv) > 0 {
		buf.WriteByte('{')
		for i, name := range f.Labels {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.WriteString(name)
			buf.WriteString(`="`)
			writeLabelValue(buf, lv[i])
			buf.WriteByte('"')
		}
		buf.WriteByte('}')
	}
	buf.WriteByte(' ')
	switch {
	case math.IsNaN(v):
		buf.WriteString("NaN")
	case math.IsInf(v, 1):
		buf.WriteString("+Inf")
	case math.IsInf(v, -1):
		buf.WriteString("-Inf")
	default:
		t.num = strconv.AppendFloat(t.num[:0], v, 'g', -1, 64)
		buf.Write(t.num)
	}
	buf.WriteByte('\n')
}

func writeLabelValue(buf *bytes.Buffer, s string) {
	if !strings.ContainsAny(s, "\\\"\n") {
		buf.WriteString(s)
		return
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			buf.WriteString(`\\`)
		case '"':
			buf.WriteString(`\"`)
		case '\n':
			buf.WriteString(`\n`)
		default:
			buf.WriteByte(c)
		}
	}
}

// textHandler serves r's text exposition.
func textHandler(r *Registry) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		var buf bytes.Buffer
		if n := r.lastSize.Load(); n > 0 {
			buf.Grow(int(n + n/8))
		}
		if err := r.WriteText(&buf); err != nil {
			http.Error(w, "gathering metrics: "+err.Error(), http.StatusInternalServerError)
			return
		}
		r.lastSize.Store(int64(buf.Len()))
		w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
		_, _ = w.Write(buf.Bytes())
	})
}
