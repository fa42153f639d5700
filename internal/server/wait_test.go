package server

import (
	"time"
)

// pollUntil calls cond every tick until it returns true or timeout passes,
// and reports whether cond held. Unlike require.Eventually, cond runs in
// the caller's goroutine, so it may send requests and use require. Tests
// wait for a state this way, never for a guessed duration.
func pollUntil(timeout, tick time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			return false
		case <-ticker.C:
		}
	}
	return true
}
