package server

import "sync"

// waitSet wakes long-polling fetches when a partition they read grows.
// A fetch registers one channel with every partition it reads; an append
// wakes (non-blocking send) and forgets every registered channel. Cost is
// proportional to the waiting fetches, not to appends × partitions.
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

// wake signals every waiter once. ch must have a buffer of one.
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
