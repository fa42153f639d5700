package main

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketRoundTrip(t *testing.T) {
	for _, v := range []int64{0, 1, 127, 128, 255, 256, 257, 1000, 123456789, 1 << 40, 1<<62 + 12345} {
		i := bucketOf(v)
		mid := bucketMid(i)
		if d := float64(mid-v) / float64(max(v, 1)); d > 1.0/128 || d < -1.0/128 {
			t.Errorf("v=%d bucket %d mid %d: relative error %.4f", v, i, mid, d)
		}
		if i >= numBuckets {
			t.Errorf("v=%d: bucket %d out of range", v, i)
		}
	}
}

func TestQuantiles(t *testing.T) {
	var h Histogram
	var vals []int64
	for range 100000 {
		v := int64(rand.ExpFloat64() * 1e6)
		vals = append(vals, v)
		h.Record(time.Duration(v))
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.99, 0.999} {
		want := float64(vals[int(q*float64(len(vals)))-1])
		got := float64(h.Quantile(q))
		if got < want*0.99 || got > want*1.01 {
			t.Errorf("q%.3f: got %.0f want %.0f", q, got, want)
		}
	}
	if got := h.Quantile(1); int64(got) != vals[len(vals)-1] {
		t.Errorf("max: got %d want %d", got, vals[len(vals)-1])
	}
}
