package metrics

import (
	"sync"
	"time"
)

// LagStatus is a Burrow status (linkedin/Burrow's StatusConstant values).
type LagStatus int

// Burrow's statuses: a partition is OK, WARN, STOP, STALL or REWIND; a
// group NOTFOUND, OK, WARN or ERR (any partition stopped, stalled or
// rewound).
const (
	LagNotFound LagStatus = 0
	LagOK       LagStatus = 1
	LagWarn     LagStatus = 2
	LagErr      LagStatus = 3
	LagStop     LagStatus = 4
	LagStall    LagStatus = 5
	LagRewind   LagStatus = 6
)

func (s LagStatus) String() string {
	return [...]string{"NOTFOUND", "OK", "WARN", "ERR", "STOP", "STALL", "REWIND"}[s]
}

// LagSample is one committed offset of a partition as Burrow stores it:
// the offset, when it was committed, and the lag (log end offset minus
// the offset) when it was seen.
type LagSample struct {
	Offset int64
	Time   time.Time
	Lag    int64
}

// EvaluatePartition applies Burrow's rules to a window of samples, oldest
// first; logEnd is the partition's log end offset now:
//
//  1. any zero lag in the window: OK (the consumer caught up);
//  2. an offset lower than the one before: REWIND;
//  3. no commit for longer than the window spans, and not caught up: STOP;
//  4. the same offset throughout with lag: STALL;
//  5. offsets moving but the lag never falling: WARN (falling behind);
//  6. otherwise OK.
//
// Rules 3-5 need two samples or more.
func EvaluatePartition(w []LagSample, now time.Time, logEnd int64) LagStatus {
	if len(w) == 0 {
		return LagOK
	}
	for _, s := range w {
		if s.Lag == 0 {
			return LagOK
		}
	}
	for i := 1; i < len(w); i++ {
		if w[i].Offset < w[i-1].Offset {
			return LagRewind
		}
	}
	if len(w) < 2 {
		return LagOK
	}
	first, last := w[0], w[len(w)-1]
	if now.Sub(last.Time) > last.Time.Sub(first.Time) && last.Offset != logEnd {
		return LagStop
	}
	if first.Offset == last.Offset {
		return LagStall
	}
	for i := 1; i < len(w); i++ {
		if w[i].Lag < w[i-1].Lag {
			return LagOK
		}
	}
	return LagWarn
}

// EvaluateGroup is a group's status from its partitions': ERR when any
// stopped, stalled or rewound, WARN when any warns, NOTFOUND with none.
func EvaluateGroup(parts []LagStatus) LagStatus {
	if len(parts) == 0 {
		return LagNotFound
	}
	st := LagOK
	for _, p := range parts {
		switch p {
		case LagStop, LagStall, LagRewind:
			return LagErr
		case LagWarn:
			st = LagWarn
		}
	}
	return st
}

// LagWindow is Burrow's default window: the last 10 commits.
const LagWindow = 10

// LagKey names a group's partition.
type LagKey struct {
	Group, Topic string
	Partition    int32
}

// LagHistory keeps the last LagWindow commits of each group partition,
// fed by Observe (at each scrape, or each sample of `spool group lag`): a
// sample is added when the commit timestamp or offset changed since the
// previous one.
type LagHistory struct {
	mu   sync.Mutex
	win  map[LagKey][]LagSample
	seen map[LagKey]bool
}

// NewLagHistory returns an empty history.
func NewLagHistory() *LagHistory {
	return &LagHistory{win: map[LagKey][]LagSample{}}
}

// Begin starts a round of Observe calls; End forgets the partitions not
// observed in the round (deleted groups, expired offsets).
func (h *LagHistory) Begin() {
	h.mu.Lock()
	h.seen = map[LagKey]bool{}
	h.mu.Unlock()
}

// Observe records the committed offset of k (committed at commitTime)
// with its current lag and returns the partition's status.
func (h *LagHistory) Observe(k LagKey, offset int64, commitTime time.Time, lag, logEnd int64, now time.Time) LagStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.seen != nil {
		h.seen[k] = true
	}
	w := h.win[k]
	if n := len(w); n == 0 || w[n-1].Offset != offset || !w[n-1].Time.Equal(commitTime) {
		if n == LagWindow {
			w = append(w[:0], w[1:]...)
		}
		w = append(w, LagSample{Offset: offset, Time: commitTime, Lag: lag})
		h.win[k] = w
	}
	return EvaluatePartition(w, now, logEnd)
}

// End drops what the round did not observe.
func (h *LagHistory) End() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k := range h.win {
		if !h.seen[k] {
			delete(h.win, k)
		}
	}
	h.seen = nil
}
