package storage

import (
	"context"
	"math"
	"sync"
	"time"
)

// moveLimiter bounds the bytes per second that MoveLog's live copy rounds
// read and write (replica.alter.log.dirs.io.max.bytes.per.second, Kafka's
// bound on the ReplicaAlterLogDirsThread): a token bucket refilled at the
// rate and holding at most one second of it, shared by every move of the
// Manager. The last round, which runs with the log closed, is not held
// back: throttling it would lengthen the pause in serving. Safe for
// concurrent use; the rate may change while a copy waits.
type moveLimiter struct {
	mu     sync.Mutex
	rate   float64 // bytes/s; 0: unbounded
	tokens float64
	last   time.Time
}

// moveChunk is the most a throttled copy moves at once.
const moveChunk = 64 << 10

// setRate sets the bound; math.MaxInt64 (Kafka's default) or <= 0
// removes it.
func (l *moveLimiter) setRate(bytesPerSec int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if bytesPerSec <= 0 || bytesPerSec == math.MaxInt64 {
		l.rate = 0
		return
	}
	if l.rate == 0 {
		l.tokens, l.last = 0, time.Now()
	}
	l.rate = float64(bytesPerSec)
}

// limited reports whether a bound is set.
func (l *moveLimiter) limited() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rate > 0
}

// wait blocks until n bytes may be copied, or ctx ends.
func (l *moveLimiter) wait(ctx context.Context, n int) error {
	for {
		l.mu.Lock()
		if l.rate == 0 {
			l.mu.Unlock()
			return nil
		}
		now := time.Now()
		l.tokens = math.Min(l.tokens+now.Sub(l.last).Seconds()*l.rate, math.Max(l.rate, float64(n)))
		l.last = now
		if l.tokens >= float64(n) {
			l.tokens -= float64(n)
			l.mu.Unlock()
			return nil
		}
		// Wait for the deficit, at most 100 ms at a time so that a new
		// rate takes effect.
		d := time.Duration((float64(n) - l.tokens) / l.rate * float64(time.Second))
		l.mu.Unlock()
		t := time.NewTimer(min(d, 100*time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// SetMoveRate bounds the bytes per second AlterReplicaLogDirs copies
// between this Manager's dirs while the log serves
// (replica.alter.log.dirs.io.max.bytes.per.second); math.MaxInt64 or <= 0
// removes the bound. It applies to copies in progress too.
func (m *Manager) SetMoveRate(bytesPerSec int64) { m.moveLimit.setRate(bytesPerSec) }
