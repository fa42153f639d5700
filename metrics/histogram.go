package metrics

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Histogram records durations into log-linear buckets, four per power of
// two of microseconds (each bucket is at most 25 % wide), with one atomic
// add per bucket, count and sum. It replaces Kafka's Yammer histogram
// (an exponentially decaying reservoir biased to the last five minutes):
// quantiles are computed at scrape time over the observations since a
// base snapshot that rotates once a minute, so they cover the last one to
// two minutes of traffic between scrapes.
type Histogram struct {
	counts [histBuckets]atomic.Uint64
	count  atomic.Uint64
	sumUs  atomic.Uint64

	// mu guards the snapshots, touched only at scrape.
	mu     sync.Mutex
	base   *[histBuckets]uint64
	next   *[histBuckets]uint64
	nextAt time.Time
}

const (
	histSubBits = 2
	histBuckets = 40 << histSubBits // up to 2^40 µs (12 days)
)

// histBucket is the bucket of a value of us microseconds. Values below
// 2^histSubBits have a bucket each; above, a power of two is split in
// 2^histSubBits buckets by the bits after the leading one.
func histBucket(us uint64) int {
	if us < 1<<histSubBits {
		return int(us)
	}
	n := bits.Len64(us) // ≥ histSubBits+1
	shift := n - 1 - histSubBits
	mant := int(us>>shift) & (1<<histSubBits - 1)
	idx := (n-histSubBits)<<histSubBits + mant
	if idx >= histBuckets {
		return histBuckets - 1
	}
	return idx
}

// histLower is the smallest value of bucket idx, in microseconds.
func histLower(idx int) uint64 {
	if idx < 1<<histSubBits {
		return uint64(idx)
	}
	e := idx >> histSubBits
	mant := uint64(idx & (1<<histSubBits - 1))
	return (1<<histSubBits + mant) << (e - 1)
}

// histWidth is the number of microsecond values bucket idx holds.
func histWidth(idx int) uint64 {
	if idx < 1<<histSubBits {
		return 1
	}
	return 1 << ((idx >> histSubBits) - 1)
}

// Observe records d (negative counts as zero).
func (h *Histogram) Observe(d time.Duration) {
	us := uint64(max(d, 0) / time.Microsecond)
	h.counts[histBucket(us)].Add(1)
	h.count.Add(1)
	h.sumUs.Add(us)
}

// Count is the number of observations ever.
func (h *Histogram) Count() uint64 { return h.count.Load() }

// SumMs is the sum of all observations in milliseconds.
func (h *Histogram) SumMs() float64 { return float64(h.sumUs.Load()) / 1000 }

// Quantiles writes into out the quantiles qs (0..1) in milliseconds of
// the recent observations (see Histogram), 0 when there are none, as
// Kafka reports an empty reservoir.
func (h *Histogram) Quantiles(now time.Time, qs []float64, out []float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var cur [histBuckets]uint64
	for i := range cur {
		cur[i] = h.counts[i].Load()
	}
	if h.next == nil || now.Sub(h.nextAt) >= time.Minute {
		h.base, h.next = h.next, new([histBuckets]uint64)
		*h.next = cur
		h.nextAt = now
	}
	var window [histBuckets]uint64
	var total uint64
	for i := range cur {
		w := cur[i]
		if h.base != nil {
			w -= h.base[i]
		}
		window[i] = w
		total += w
	}
	for j, q := range qs {
		out[j] = 0
		if total == 0 {
			continue
		}
		// The rank of the quantile, 1-based; the value is interpolated
		// inside the bucket holding it.
		rank := q * float64(total)
		var seen float64
		for i, w := range window {
			if w == 0 {
				continue
			}
			if seen+float64(w) >= rank {
				frac := 0.0
				if i >= 1<<histSubBits { // below, a bucket is one exact value
					frac = (rank - seen) / float64(w)
				}
				out[j] = (float64(histLower(i)) + frac*float64(histWidth(i))) / 1000
				break
			}
			seen += float64(w)
		}
	}
}

// HistogramDescs are the two families Strimzi's rules make of a Kafka
// histogram or timer bean: name{labels...,quantile="0.NN"} (gauges, ms)
// and name_count{labels...} (counter).
func HistogramDescs(name, help string, labels []string) (q, count *prometheus.Desc) {
	return prometheus.NewDesc(name, help+" Quantiles in ms of the last minute or two.", append(append([]string{}, labels...), "quantile"), nil),
		prometheus.NewDesc(name+"_count", help+" Count.", labels, nil)
}

// Emit sends h's quantiles and count as the families of HistogramDescs.
func (h *Histogram) Emit(ch chan<- prometheus.Metric, q, count *prometheus.Desc, labels ...string) {
	ch <- prometheus.MustNewConstMetric(count, prometheus.CounterValue, float64(h.Count()), labels...)
	var out [6]float64
	h.Quantiles(time.Now(), quantiles, out[:])
	lv := append(append(make([]string, 0, len(labels)+1), labels...), "")
	for j, v := range out {
		lv[len(lv)-1] = quantileLabels[j]
		ch <- prometheus.MustNewConstMetric(q, prometheus.GaugeValue, v, lv...)
	}
}
