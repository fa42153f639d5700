package replication

import "sync"

// waitSet wakes long-polling fetches when a partition they read changes.
// A fetch registers one channel (buffer of one) with every partition it
// reads; wake signals (non-blocking send) and forgets every registered
// channel, so the cost is proportional to the waiting fetches, not to
// appends × partitions. mu is a leaf lock.
type waitSet struct {
	mu      sync.Mutex
	waiters map[chan struct{}]struct{}
}

func (w *waitSet) add(ch chan struct{}) {
	w.mu.Lock()
	if w.waiters == nil {
		w.waiters = make(map[chan struct{}]struct{})
	}
	w.waiters[ch] = struct{}{}
	w.mu.Unlock()
}

func (w *waitSet) remove(ch chan struct{}) {
	w.mu.Lock()
	delete(w.waiters, ch)
	w.mu.Unlock()
}

func (w *waitSet) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.waiters)
}

// wake signals every waiter once.
func (w *waitSet) wake() {
	w.mu.Lock()
	if len(w.waiters) == 0 {
		w.mu.Unlock()
		return
	}
	for ch := range w.waiters {
		select {
		case ch <- struct{}{}:
		default:
		}
		delete(w.waiters, ch)
	}
	w.mu.Unlock()
}
