package metrics

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHistogramBuckets(t *testing.T) {
	prev := -1
	for us := uint64(0); us < 1<<14; us++ {
		i := histBucket(us)
		if i < prev || histLower(i) > us || us >= histLower(i)+histWidth(i) {
			t.Fatalf("value %d in bucket %d [%d, +%d), previous bucket %d", us, i, histLower(i), histWidth(i), prev)
		}
		prev = i
	}
	require.Equal(t, histBuckets-1, histBucket(1<<62))
}

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	now := time.Now()
	out := make([]float64, 3)
	h.Quantiles(now, []float64{0.5, 0.99, 0.999}, out)
	require.Equal(t, []float64{0, 0, 0}, out, "an empty histogram reports 0 as Kafka's")
	for i := 1; i <= 1000; i++ {
		h.Observe(time.Duration(i) * time.Millisecond)
	}
	h.Quantiles(now, []float64{0.5, 0.99, 0.999}, out)
	for i, want := range []float64{500, 990, 999} {
		require.InEpsilon(t, want, out[i], 0.25, "quantile %d", i)
	}
	require.Equal(t, uint64(1000), h.Count())
	// A minute later the window rotates: the old observations age out
	// after two rotations.
	h.Quantiles(now.Add(time.Minute), []float64{0.5}, out[:1])
	h.Quantiles(now.Add(2*time.Minute), []float64{0.5}, out[:1])
	require.Equal(t, 0.0, out[0])
	h.Observe(0)
	h.Quantiles(now.Add(2*time.Minute+time.Second), []float64{0.5}, out[:1])
	require.Equal(t, 0.0, out[0], "a zero duration is exactly 0")
}
