package main

import (
	"math"
	"math/bits"
	"sync"
	"time"
)

// subBits sets the histogram's precision: each power of two is split into
// 1<<subBits linear buckets, so a reported value is within 1/128 (0.8%) of the
// recorded one. Values below 256 ns are exact.
const subBits = 7

// numBuckets covers every non-negative int64 (bits.Len64 ≤ 63).
const numBuckets = (64 - subBits) << subBits

// Histogram is an HDR-style log-bucketed histogram of durations in nanoseconds.
// It is safe for concurrent use.
type Histogram struct {
	mu     sync.Mutex
	counts [numBuckets]uint64
	total  uint64
	max    int64
	sum    float64
}

func bucketOf(v int64) int {
	if v < 0 {
		v = 0
	}
	shift := bits.Len64(uint64(v)) - subBits - 1
	if shift <= 0 {
		return int(v)
	}
	return shift<<subBits + int(v>>shift)
}

// bucketMid is the midpoint of the values that fall into bucket i.
func bucketMid(i int) int64 {
	if i < 2<<subBits {
		return int64(i)
	}
	shift := i>>subBits - 1
	mant := int64(i - shift<<subBits)
	lo := mant << shift
	return lo + (int64(1)<<shift)/2
}

// Record adds one observation.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	h.mu.Lock()
	h.counts[bucketOf(v)]++
	h.total++
	h.sum += float64(v)
	if v > h.max {
		h.max = v
	}
	h.mu.Unlock()
}

// Count is the number of observations.
func (h *Histogram) Count() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.total
}

// Quantile returns the value at quantile q in [0,1]; q=1 is the exact maximum.
func (h *Histogram) Quantile(q float64) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.quantileLocked(q)
}

func (h *Histogram) quantileLocked(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	if q >= 1 {
		return time.Duration(h.max)
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	if rank == 0 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(bucketMid(i), h.max))
		}
	}
	return time.Duration(h.max)
}

// Summary is what the report keeps of a histogram, in milliseconds.
type Summary struct {
	Count uint64  `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
	// Curve is the latency at each of curveQuantiles, for the percentile plot.
	Curve []float64 `json:"curve_ms"`
}

// curveQuantiles are spaced evenly in "nines" (−log10(1−q)) from 0 to 5.
var curveQuantiles = func() []float64 {
	var qs []float64
	for n := 0.0; n <= 5.0001; n += 0.25 {
		qs = append(qs, 1-math.Pow(10, -n))
	}
	return qs
}()

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// Summarize reads the percentiles the report shows.
func (h *Histogram) Summarize() Summary {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := Summary{
		Count: h.total,
		P50:   ms(h.quantileLocked(0.50)),
		P99:   ms(h.quantileLocked(0.99)),
		P999:  ms(h.quantileLocked(0.999)),
		Max:   ms(time.Duration(h.max)),
	}
	if h.total > 0 {
		s.Mean = h.sum / float64(h.total) / 1e6
	}
	for _, q := range curveQuantiles {
		s.Curve = append(s.Curve, ms(h.quantileLocked(q)))
	}
	return s
}
