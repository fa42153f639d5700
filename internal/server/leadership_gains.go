package server

import (
	"sync"
	"sync/atomic"
	"time"
)

// Replica fetches and new leaderships (issue 12: controlled-shutdown
// stall). A follower's replica fetcher keeps one request in flight per
// leader, parked here for up to replica.fetch.wait.max.ms (500 ms) until
// data arrives for a partition in it. When this broker starts leading a
// partition whose followers already fetch other partitions from it, their
// parked requests do not include the new partition, and nothing written
// to it wakes them: acks=all writes to it wait out the park (the 500 ms
// stall measured when a controlled shutdown moves leaderships here).
// So a new leadership wakes every parked replica fetch, and for
// recentGainWindow afterwards replica fetches park at most recentGainPark:
// a follower that applies the leadership change after the wake still
// starts fetching the new partition within that bound. Outside the window
// replica fetches park as long as asked.

const (
	// recentGainWindow is how long after a new leadership replica fetches
	// park briefly: a follower applies the same metadata within it.
	recentGainWindow = time.Second
	// recentGainPark bounds a replica fetch's park within the window.
	recentGainPark = 20 * time.Millisecond
)

// leadershipGains tells parked replica fetches that this broker started
// leading a partition.
type leadershipGains struct {
	last atomic.Int64 // unix nanoseconds of the latest new leadership

	mu sync.Mutex    // guards ch; a leaf
	ch chan struct{} // closed at the next new leadership
}

// gained records a new leadership at now and wakes the watchers.
func (g *leadershipGains) gained(now time.Time) {
	g.last.Store(now.UnixNano())
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ch != nil {
		close(g.ch)
		g.ch = nil
	}
}

// watch returns a channel closed at the next new leadership.
func (g *leadershipGains) watch() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ch == nil {
		g.ch = make(chan struct{})
	}
	return g.ch
}

// parkUntil bounds a replica fetch's deadline: within recentGainWindow of
// a new leadership, at most recentGainPark from now.
func (g *leadershipGains) parkUntil(now, deadline time.Time) time.Time {
	if last := g.last.Load(); last != 0 && now.UnixNano()-last < int64(recentGainWindow) {
		if short := now.Add(recentGainPark); short.Before(deadline) {
			return short
		}
	}
	return deadline
}

// followLeadershipGains has new leaderships wake parked replica fetches.
func (b *Broker) followLeadershipGains() {
	b.OnLeadership(func(_ string, _ int32, leader bool, _ int32) {
		if leader {
			b.leaderGains.gained(time.Now())
		}
	})
}
