package auth

import (
	"sync"
	"time"
)

// LoginThrottle limits failed SASL logins per client address across
// connections (Kafka only delays each failure on its own connection,
// connection.failed.authentication.delay.ms, so a guesser opening many
// connections is not slowed down). After Threshold failures from one
// address within Window, every authentication from that address fails for
// Block without its credentials being checked, with the same answer and
// delay as a wrong password; then the address starts afresh.
//
// Memory is bounded: at most MaxAddresses addresses are tracked. When full,
// entries that neither block nor count failures in the current window are
// dropped first; if none is, the new address goes untracked (it is not
// throttled, and the attacker cannot evict the addresses that are).
//
// Safe for concurrent use; shared by every connection of a listener.
type LoginThrottle struct {
	threshold int
	window    time.Duration
	block     time.Duration
	max       int

	mu    sync.Mutex
	addrs map[string]*loginFailures
}

type loginFailures struct {
	count        int
	windowStart  time.Time
	blockedUntil time.Time
}

// NewLoginThrottle returns a throttle; nil (no throttling) when threshold
// is not positive.
func NewLoginThrottle(threshold int, window, block time.Duration, maxAddresses int) *LoginThrottle {
	if threshold <= 0 || window <= 0 || block <= 0 {
		return nil
	}
	if maxAddresses <= 0 {
		maxAddresses = 10000
	}
	return &LoginThrottle{threshold: threshold, window: window, block: block, max: maxAddresses, addrs: map[string]*loginFailures{}}
}

// Blocked reports whether logins from host fail unchecked at now.
func (t *LoginThrottle) Blocked(host string, now time.Time) bool {
	if t == nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.addrs[host]
	return f != nil && now.Before(f.blockedUntil)
}

// Failed records a failed login from host at now.
func (t *LoginThrottle) Failed(host string, now time.Time) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.addrs[host]
	if f == nil {
		if len(t.addrs) >= t.max && !t.evictLocked(now) {
			return
		}
		f = &loginFailures{windowStart: now}
		t.addrs[host] = f
	}
	if now.Before(f.blockedUntil) {
		return
	}
	if now.Sub(f.windowStart) >= t.window {
		f.count, f.windowStart = 0, now
	}
	f.count++
	if f.count >= t.threshold {
		f.blockedUntil = now.Add(t.block)
		f.count, f.windowStart = 0, now
	}
}

// evictLocked drops the addresses that no longer matter; false if none
// could be dropped.
func (t *LoginThrottle) evictLocked(now time.Time) bool {
	freed := false
	for h, f := range t.addrs {
		if !now.Before(f.blockedUntil) && now.Sub(f.windowStart) >= t.window {
			delete(t.addrs, h)
			freed = true
		}
	}
	return freed
}

// Tracked is how many addresses the throttle holds (for tests and
// metrics).
func (t *LoginThrottle) Tracked() int {
	if t == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.addrs)
}
