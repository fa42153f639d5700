package quota

import (
	"math"
	"sync"
	"time"
)

// ReplicationQuota is Kafka's ReplicationQuotaManager: one bound, in bytes
// per second, on the replication traffic of throttled replicas on one
// broker, in one direction. A broker has two: the leader side
// (leader.replication.throttled.rate, bytes it sends to followers of the
// partitions listed in their topic's leader.replication.throttled.replicas)
// and the follower side (follower.replication.throttled.rate, bytes it
// fetches for the partitions in follower.replication.throttled.replicas).
// Only replicas outside the ISR are held back (Kafka's shouldLeaderThrottle
// and shouldFollowerThrottle), so a reassignment's copy is bounded while the
// in-sync followers that acks=all waits for are not.
//
// The rate is measured as client quotas are (replication.quota.window.num
// windows of replication.quota.window.size.seconds); the quota is exceeded
// while the measured rate is above the bound. A leader over it answers a
// throttled partition with no records (the follower's position still
// counts); a follower over it leaves throttled partitions out of its next
// fetch. Safe for concurrent use.
type ReplicationQuota struct {
	mu    sync.Mutex
	cfg   windowConfig
	bound float64 // bytes/s; +Inf: unbounded
	r     rate
	now   func() time.Time
}

// NewReplicationQuota returns an unbounded quota measured over samples
// windows of window; now nil is the wall clock.
func NewReplicationQuota(samples int, window time.Duration, now func() time.Time) *ReplicationQuota {
	if now == nil {
		now = time.Now
	}
	return &ReplicationQuota{cfg: windowConfig{samples: max(samples, 1), windowMs: max(window.Milliseconds(), 1)}, bound: math.Inf(1), now: now}
}

// SetBound sets the bound in bytes per second; math.MaxInt64 (Kafka's
// default, "no throttle") or less than zero removes it.
func (q *ReplicationQuota) SetBound(bytesPerSec int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if bytesPerSec < 0 || bytesPerSec == math.MaxInt64 {
		q.bound = math.Inf(1)
		return
	}
	q.bound = float64(bytesPerSec)
}

// Bound is the bound in bytes per second, +Inf when there is none.
func (q *ReplicationQuota) Bound() float64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bound
}

// Record counts bytes of throttled replication traffic.
func (q *ReplicationQuota) Record(bytes int) {
	if bytes <= 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.r.record(q.cfg, float64(bytes), q.now().UnixMilli())
}

// Exceeded reports whether the measured rate is above the bound.
func (q *ReplicationQuota) Exceeded() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if math.IsInf(q.bound, 1) {
		return false
	}
	return q.r.measure(q.cfg, q.now().UnixMilli()) > q.bound
}

// Rate is the measured rate in bytes per second.
func (q *ReplicationQuota) Rate() float64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.r.measure(q.cfg, q.now().UnixMilli())
}
