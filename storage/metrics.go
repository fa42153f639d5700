package storage

import (
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spool-broker/spool/metrics"
)

// Metrics are the package's prometheus collectors; a nil *Metrics records
// nothing. One Metrics is shared by every log of a Manager.
type Metrics struct {
	// flush is Kafka's LogFlushStats LogFlushRateAndTimeMs (a timer).
	flush          metrics.Histogram
	fsync          prometheus.Histogram
	rolls          prometheus.Counter
	deleted        *prometheus.CounterVec
	truncatedBytes prometheus.Counter

	cleanerPasses    prometheus.Counter
	cleanerRead      prometheus.Counter
	cleanerReclaimed prometheus.Counter
	cleanerErrors    prometheus.Counter
	cleanerMaxDirty  prometheus.Gauge
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
		cleanerPasses: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "spool", Subsystem: "log_cleaner", Name: "passes_total",
			Help: "Completed cleaning passes of compacted logs.",
		}),
		cleanerRead: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "spool", Subsystem: "log_cleaner", Name: "read_bytes_total",
			Help: "Segment bytes read and rewritten by the log cleaner.",
		}),
		cleanerReclaimed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "spool", Subsystem: "log_cleaner", Name: "reclaimed_bytes_total",
			Help: "Bytes removed from compacted logs by the log cleaner.",
		}),
		cleanerErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "spool", Subsystem: "log_cleaner", Name: "errors_total",
			Help: "Cleaning passes that failed (the log is retried later).",
		}),
		cleanerMaxDirty: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "spool", Subsystem: "log_cleaner", Name: "max_dirty_ratio",
			Help: "Largest dirty ratio among compacted logs at the last check (Kafka's max-dirty-percent / 100).",
		}),
	}
	var errs []error
	for _, c := range []prometheus.Collector{flushCollector{m}, m.fsync, m.rolls, m.deleted, m.truncatedBytes,
		m.cleanerPasses, m.cleanerRead, m.cleanerReclaimed, m.cleanerErrors, m.cleanerMaxDirty} {
		errs = append(errs, reg.Register(c))
	}
	return m, errors.Join(errs...)
}

func (m *Metrics) observeFsync(d time.Duration) {
	if m != nil {
		m.fsync.Observe(d.Seconds())
		m.flush.Observe(d)
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

func (m *Metrics) cleaned(read, reclaimed int64) {
	if m != nil {
		m.cleanerPasses.Inc()
		m.cleanerRead.Add(float64(read))
		m.cleanerReclaimed.Add(float64(max(reclaimed, 0)))
	}
}

func (m *Metrics) cleanerError() {
	if m != nil {
		m.cleanerErrors.Inc()
	}
}

func (m *Metrics) maxDirtyRatio(r float64) {
	if m != nil {
		m.cleanerMaxDirty.Set(r)
	}
}

var descFlushQ, descFlushCount = metrics.HistogramDescs("kafka_log_logflushstats_logflushrateandtimems",
	"Log flushes (fsync of a log's unflushed segments) (kafka.log:type=LogFlushStats,name=LogFlushRateAndTimeMs).", nil)

type flushCollector struct{ m *Metrics }

func (c flushCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descFlushQ; ch <- descFlushCount }

func (c flushCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.flush.Emit(ch, descFlushQ, descFlushCount)
}

// Per-partition log metrics, as Strimzi's rules name Kafka's
// kafka.log:type=Log,name=<Name>,topic=...,partition=... gauges. They are
// read at scrape from each log's in-memory state.
var (
	famLogSize = metrics.NewFamily("kafka_log_log_size",
		"Bytes of the partition's segments (kafka.log:type=Log,name=Size).", prometheus.GaugeValue, "topic", "partition")
	famLogStart = metrics.NewFamily("kafka_log_log_logstartoffset",
		"The partition's log start offset (kafka.log:type=Log,name=LogStartOffset).", prometheus.GaugeValue, "topic", "partition")
	famLogEnd = metrics.NewFamily("kafka_log_log_logendoffset",
		"The partition's log end offset (kafka.log:type=Log,name=LogEndOffset).", prometheus.GaugeValue, "topic", "partition")
	famLogSegments = metrics.NewFamily("kafka_log_log_numlogsegments",
		"The partition's segment count (kafka.log:type=Log,name=NumLogSegments).", prometheus.GaugeValue, "topic", "partition")
	famDirCapacity = metrics.NewFamily("spool_log_dir_capacity_bytes",
		"Size of the filesystem holding the log dir.", prometheus.GaugeValue, "dir")
	famDirAvailable = metrics.NewFamily("spool_log_dir_available_bytes",
		"Bytes available on the filesystem holding the log dir (the disk-full alert divides by the capacity).", prometheus.GaugeValue, "dir")
	famOfflineDirs = metrics.NewFamily("kafka_log_logmanager_offlinelogdirectorycount",
		"Log dirs that failed (kafka.log:type=LogManager,name=OfflineLogDirectoryCount).", prometheus.GaugeValue)
	famDirOffline = metrics.NewFamily("kafka_log_logmanager_logdirectoryoffline",
		"1 when the log dir failed, else 0 (kafka.log:type=LogManager,name=LogDirectoryOffline,logDirectory=...).", prometheus.GaugeValue, "logDirectory")
	famCordonedDirs = metrics.NewFamily("kafka_log_logmanager_cordonedlogdirectorycount",
		"Log dirs in cordoned.log.dirs (kafka.log:type=LogManager,name=CordonedLogDirectoryCount).", prometheus.GaugeValue)
	famDirCordoned = metrics.NewFamily("kafka_log_logmanager_logdirectorycordoned",
		"1 when the log dir is cordoned, else 0 (kafka.log:type=LogManager,name=LogDirectoryCordoned,logDirectory=...).", prometheus.GaugeValue, "logDirectory")
	logFamilies = []*metrics.Family{famLogSize, famLogStart, famLogEnd, famLogSegments, famDirCapacity, famDirAvailable, famOfflineDirs, famDirOffline,
		famCordonedDirs, famDirCordoned}
)

type logsCollector struct{ m *Manager }

func (c logsCollector) Families() []*metrics.Family { return logFamilies }

func (c logsCollector) Visit(e metrics.Emitter) {
	offline := c.m.OfflineDirs()
	e.Emit(famOfflineDirs, float64(len(offline)))
	cordoned := 0
	for _, dir := range c.m.cfg.Dirs {
		cordoned += btoi(c.m.Cordoned(dir))
	}
	e.Emit(famCordonedDirs, float64(cordoned))
	for _, dir := range c.m.cfg.Dirs {
		e.Emit(famDirOffline, float64(btoi(slices.Contains(offline, dir))), dir)
		e.Emit(famDirCordoned, float64(btoi(c.m.Cordoned(dir))), dir)
	}
	for _, dir := range c.m.cfg.Dirs {
		if capacity, avail, ok := dirSpace(dir); ok {
			e.Emit(famDirCapacity, float64(capacity), dir)
			e.Emit(famDirAvailable, float64(avail), dir)
		}
	}
	for _, l := range c.m.Logs() {
		topic, partition := l.tp.Topic, strconv.Itoa(int(l.tp.Partition))
		segs := l.Segments()
		var size int64
		for _, s := range segs {
			size += s.Size()
		}
		e.Emit(famLogSize, float64(size), topic, partition)
		e.Emit(famLogStart, float64(l.LogStartOffset()), topic, partition)
		e.Emit(famLogEnd, float64(l.LogEndOffset()), topic, partition)
		e.Emit(famLogSegments, float64(len(segs)), topic, partition)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
