package controller

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRaftStats(t *testing.T) {
	now := time.Unix(1000, 0)
	s := newRaftStats(func() time.Time { return now })
	avg, mx, rate := s.read()
	require.True(t, math.IsNaN(avg) && math.IsNaN(mx), "no commits: NaN as Kafka's Avg/Max")
	require.Zero(t, rate)

	s.committed(3, 2*time.Millisecond)
	s.committed(1, 6*time.Millisecond)
	now = now.Add(10 * time.Second)
	avg, mx, rate = s.read()
	require.InDelta(t, 4, avg, 1e-9)
	require.InDelta(t, 6, mx, 1e-9)
	require.InDelta(t, 4.0/30, rate, 1e-9, "4 records over the minimum span of one window")

	now = now.Add(25 * time.Second) // a second sample begins
	s.committed(2, 10*time.Millisecond)
	avg, mx, _ = s.read()
	require.InDelta(t, 6, avg, 1e-9)
	require.InDelta(t, 10, mx, 1e-9)

	now = now.Add(65 * time.Second) // both samples too old
	avg, _, rate = s.read()
	require.True(t, math.IsNaN(avg))
	require.Zero(t, rate)
}
