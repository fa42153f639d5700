package server

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLeadershipGains: a new leadership wakes watchers, and replica
// fetches park at most recentGainPark for recentGainWindow after it.
func TestLeadershipGains(t *testing.T) {
	var g leadershipGains
	now := time.Unix(1000, 0)
	far := now.Add(500 * time.Millisecond)
	require.Equal(t, far, g.parkUntil(now, far), "no leadership gained yet: park as asked")

	w := g.watch()
	g.gained(now)
	select {
	case <-w:
	default:
		require.FailNow(t, "a new leadership wakes the watchers")
	}
	select {
	case <-g.watch():
		require.FailNow(t, "a new watch waits for the next leadership")
	default:
	}

	for _, tc := range []struct {
		name     string
		at       time.Time
		deadline time.Time
		want     time.Time
	}{
		{"just after: short park", now.Add(10 * time.Millisecond), now.Add(510 * time.Millisecond), now.Add(10*time.Millisecond + recentGainPark)},
		{"an earlier deadline stays", now.Add(10 * time.Millisecond), now.Add(15 * time.Millisecond), now.Add(15 * time.Millisecond)},
		{"after the window: park as asked", now.Add(recentGainWindow), now.Add(recentGainWindow + 500*time.Millisecond), now.Add(recentGainWindow + 500*time.Millisecond)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, g.parkUntil(tc.at, tc.deadline))
		})
	}
}
