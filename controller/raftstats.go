package controller

import (
	"math"
	"sync"
	"time"
)

// raftStats are the leader's commit statistics behind KRaft's raft-metrics
// commit-latency-avg, commit-latency-max and append-records-rate: sampled
// as Kafka's metrics are (metrics.num.samples 2 × metrics.sample.window.ms
// 30 s), so each covers the last 30 to 60 seconds.
type raftStats struct {
	mu      sync.Mutex
	now     func() time.Time
	window  time.Duration
	samples [2]raftSample
	cur     int
}

type raftSample struct {
	start   time.Time
	commits int64
	latency time.Duration // sum
	max     time.Duration
	records int64
}

func newRaftStats(now func() time.Time) *raftStats {
	if now == nil {
		now = time.Now
	}
	s := &raftStats{now: now, window: 30 * time.Second}
	s.samples[0].start = now()
	return s
}

// rollLocked starts a new sample when the current one is a window old,
// dropping samples older than two windows.
func (s *raftStats) rollLocked(now time.Time) {
	c := &s.samples[s.cur]
	if now.Sub(c.start) < s.window {
		return
	}
	s.cur ^= 1
	n := &s.samples[s.cur]
	*n = raftSample{start: now}
	if now.Sub(c.start) >= 2*s.window {
		*c = raftSample{start: now.Add(-s.window)}
	}
}

// committed records one batch of records committed d after it was
// proposed.
func (s *raftStats) committed(records int, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.rollLocked(now)
	c := &s.samples[s.cur]
	c.commits++
	c.latency += d
	c.max = max(c.max, d)
	c.records += int64(records)
}

// read is the average and maximum commit latency in milliseconds (NaN
// when nothing was committed, as Kafka's Avg and Max of no samples) and
// the records appended per second over the samples' span.
func (s *raftStats) read() (avgMs, maxMs, recordsPerSec float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.rollLocked(now)
	var commits, records int64
	var sum, mx time.Duration
	oldest := now
	for _, x := range s.samples {
		if x.start.IsZero() {
			continue
		}
		commits += x.commits
		records += x.records
		sum += x.latency
		mx = max(mx, x.max)
		if x.start.Before(oldest) {
			oldest = x.start
		}
	}
	avgMs, maxMs = math.NaN(), math.NaN()
	if commits > 0 {
		avgMs = float64(sum.Microseconds()) / float64(commits) / 1000
		maxMs = float64(mx.Microseconds()) / 1000
	}
	// Kafka's Rate divides by the elapsed span of its samples, at least
	// (samples − 1) windows.
	span := max(now.Sub(oldest), s.window)
	return avgMs, maxMs, float64(records) / span.Seconds()
}
