package quota

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestGreedyProducer runs a client that sends a request as soon as its
// throttle allows, against a 1 MiB/s producer_byte_rate, for requests of
// several sizes and clients 4 and 32 times faster than the quota. Kafka's rate assumes window.num-1 windows have passed, so
// a new client gets about quota × 11 s in its first 10 s and is then held
// to the quota; the rate is bursty within a quota window (a window of
// burst leaves it at once), so the average over many windows is what the
// quota holds.
func TestGreedyProducer(t *testing.T) {
	const quota = 1 << 20
	for _, size := range []float64{16 << 10, 64 << 10, 256 << 10} {
		for _, clientRate := range []float64{4 * quota, 32 * quota} {
			serviceMs := max(1, int64(size/clientRate*1000))
			clk := newFakeClock()
			start := clk.t
			m := NewManager(Config{Now: clk.now})
			qs := &quotaSet{m: m}
			qs.set(clientEntity(Name("p")), ProducerByteRate, ptrFloat(quota))
			var sent []time.Duration
			for clk.t.Sub(start) < 5*time.Minute {
				ms := m.RecordAndThrottle(Produce, anonymous("p"), size)
				sent = append(sent, clk.t.Sub(start))
				clk.sleepMs(serviceMs + int64(ms))
			}
			bytesIn := func(from, to time.Duration) float64 {
				n := 0
				for _, at := range sent {
					if at >= from && at < to {
						n++
					}
				}
				return float64(n) * size
			}
			first := bytesIn(0, 10*time.Second) / (10 * quota)
			long := bytesIn(0, 5*time.Minute) / (300 * quota)
			t.Logf("request %3d KiB, client %2.0f × quota: first 10 s %.3f × quota, 5 min %.3f × quota", int(size)>>10, clientRate/quota, first, long)
			// The first 10 s: 10-11 s of quota, then about one request a
			// second while throttled.
			require.GreaterOrEqual(t, first, 1.0)
			require.LessOrEqual(t, first, 1.1+size/quota+0.02)
			require.InDelta(t, 1.0, long, 0.02)
		}
	}
}
