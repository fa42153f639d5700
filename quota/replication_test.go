package quota

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestReplicationQuota: unbounded by default and with Kafka's MaxLong; over
// the bound once the windowed rate passes it; back under once the windows
// age out.
func TestReplicationQuota(t *testing.T) {
	now := time.Unix(1000, 0)
	q := NewReplicationQuota(11, time.Second, func() time.Time { return now })
	q.Record(1 << 30)
	require.False(t, q.Exceeded(), "no bound by default")
	q.SetBound(math.MaxInt64)
	require.False(t, q.Exceeded(), "Long.MaxValue is no bound")

	q = NewReplicationQuota(11, time.Second, func() time.Time { return now })
	q.SetBound(100_000) // 100 kB/s: 1.1 MB over the 11 windows
	for i := 0; i < 10; i++ {
		q.Record(100_000)
		now = now.Add(time.Second)
	}
	// 1 MB over ~10-11 s: at the bound, not above it.
	require.False(t, q.Exceeded(), "rate %.0f", q.Rate())
	q.Record(500_000)
	require.True(t, q.Exceeded(), "rate %.0f", q.Rate())
	now = now.Add(12 * time.Second) // every window obsolete
	require.False(t, q.Exceeded(), "rate %.0f", q.Rate())
	require.Equal(t, 100_000.0, q.Bound())
}
