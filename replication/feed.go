package replication

import "sync"

// ChangeFeed is an incremental fetch session's standing subscription to
// its partitions (KIP-227 at scale): every change that can alter a fetch's
// answer for a watched partition marks it, and a fetch in the session reads
// only the marked partitions (plus those the request names and those with
// something still to send), not every partition of the session. Without it
// a follower's session with thousands of idle partitions made the leader
// read and watch every one of them on every fetch.
//
// What marks a partition: for every feed, a move of the high watermark or
// the log start offset, a DeleteRecords, a leadership or ISR change and
// the partition's removal; for a replica's feed (replica true) also every
// change of the log end offset (appends, truncation). A consumer's fetch is
// bounded by the high watermark, so appends alone do not concern it.
//
// Invariant: a partition that changed after Drain last returned (or after
// Watch, if it has not since) is in the next Drain. So a partition the
// fetch read, found with nothing to send, and that is not in a later Drain,
// would answer the same again: nothing.
//
// Locks: mu is a leaf; the partitions' feed sets take it while notifying
// (their lock first). Safe for concurrent use.
type ChangeFeed struct {
	replica bool

	mu      sync.Mutex
	closed  bool
	watched map[*Partition]struct{}
	marked  map[*Partition]struct{}
	changed []*Partition // the marked partitions, in marking order
	wake    chan struct{}
}

// NewChangeFeed returns a feed for a replica's (follower's) fetch session
// when replica is true, else a consumer's.
func NewChangeFeed(replica bool) *ChangeFeed {
	return &ChangeFeed{
		replica: replica, watched: map[*Partition]struct{}{}, marked: map[*Partition]struct{}{},
		wake: make(chan struct{}, 1),
	}
}

// Replica reports whether the feed is a replica's.
func (f *ChangeFeed) Replica() bool { return f.replica }

// Watch subscribes the feed to p's changes; a no-op once the feed is
// closed or when p is watched already.
func (f *ChangeFeed) Watch(p *Partition) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	if _, ok := f.watched[p]; ok {
		f.mu.Unlock()
		return
	}
	f.watched[p] = struct{}{}
	f.mu.Unlock()
	p.feeds.add(f)
	// A Close between the two steps above would leave p holding a closed
	// feed; take it back.
	f.mu.Lock()
	closed := f.closed
	f.mu.Unlock()
	if closed {
		p.feeds.remove(f)
	}
}

// Unwatch ends the subscription to p and forgets a mark of it.
func (f *ChangeFeed) Unwatch(p *Partition) {
	f.mu.Lock()
	_, ok := f.watched[p]
	delete(f.watched, p)
	if _, m := f.marked[p]; m {
		delete(f.marked, p)
		for i, q := range f.changed {
			if q == p {
				f.changed = append(f.changed[:i], f.changed[i+1:]...)
				break
			}
		}
	}
	f.mu.Unlock()
	if ok {
		p.feeds.remove(f)
	}
}

// Close ends every subscription (the session was evicted or closed).
func (f *ChangeFeed) Close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	watched := f.watched
	f.watched, f.marked, f.changed = nil, nil, nil
	f.mu.Unlock()
	for p := range watched {
		p.feeds.remove(f)
	}
}

// Changed is signalled (buffer of one) when a partition is marked; a
// fetch parked for data waits on it.
func (f *ChangeFeed) Changed() <-chan struct{} { return f.wake }

// Drain appends the partitions marked since the last Drain to dst, in the
// order they were first marked, and clears the marks.
func (f *ChangeFeed) Drain(dst []*Partition) []*Partition {
	f.mu.Lock()
	dst = append(dst, f.changed...)
	clear(f.marked)
	f.changed = f.changed[:0]
	f.mu.Unlock()
	return dst
}

// Watching counts the subscribed partitions, for tests.
func (f *ChangeFeed) Watching() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.watched)
}

func (f *ChangeFeed) mark(p *Partition) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	if _, ok := f.marked[p]; !ok {
		f.marked[p] = struct{}{}
		f.changed = append(f.changed, p)
	}
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// feedSet is the feeds watching one partition. mu is taken before a
// feed's mu (notify), never while holding one.
type feedSet struct {
	mu    sync.Mutex
	feeds map[*ChangeFeed]struct{}
}

func (s *feedSet) add(f *ChangeFeed) {
	s.mu.Lock()
	if s.feeds == nil {
		s.feeds = make(map[*ChangeFeed]struct{})
	}
	s.feeds[f] = struct{}{}
	s.mu.Unlock()
}

func (s *feedSet) remove(f *ChangeFeed) {
	s.mu.Lock()
	delete(s.feeds, f)
	s.mu.Unlock()
}

// notify marks p in every feed; logEndOnly changes (appends, truncation)
// concern only replicas' feeds.
func (s *feedSet) notify(p *Partition, logEndOnly bool) {
	s.mu.Lock()
	for f := range s.feeds {
		if logEndOnly && !f.replica {
			continue
		}
		f.mark(p)
	}
	s.mu.Unlock()
}
