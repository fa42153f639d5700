package storage

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the package's prometheus collectors; a nil *Metrics records
// nothing. One Metrics is shared by every log of a Manager.
type Metrics struct {
	fsync          prometheus.Histogram
	rolls          prometheus.Counter
	deleted        *prometheus.CounterVec
	truncatedBytes prometheus.Counter
}

// NewMetrics creates the collectors and registers them with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		fsync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "spool", Subsystem: "storage", Name: "fsync_seconds",
			Help:    "Time to fsync a log's unflushed segments (one fsync may cover many appends).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		rolls: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "spool", Subsystem: "storage", Name: "segment_rolls_total",
			Help: "Segments rolled.",
		}),
		deleted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "spool", Subsystem: "storage", Name: "segments_deleted_total",
			Help: "Segments deleted, by reason.",
		}, []string{"reason"}),
		truncatedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "spool", Subsystem: "storage", Name: "recovery_truncated_bytes_total",
			Help: "Bytes of invalid log tail dropped by recovery.",
		}),
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.fsync, m.rolls, m.deleted, m.truncatedBytes} {
		errs = append(errs, reg.Register(c))
	}
	return m, errors.Join(errs...)
}

func (m *Metrics) observeFsync(d time.Duration) {
	if m != nil {
		m.fsync.Observe(d.Seconds())
	}
}

func (m *Metrics) roll() {
	if m != nil {
		m.rolls.Inc()
	}
}

func (m *Metrics) segmentsDeleted(reason string, n int) {
	if m != nil {
		m.deleted.WithLabelValues(reason).Add(float64(n))
	}
}

func (m *Metrics) truncated(bytes int64) {
	if m != nil {
		m.truncatedBytes.Add(float64(bytes))
	}
}
