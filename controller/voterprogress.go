package controller

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// voterProgress is what the raft leader learned of each other voter from
// its AppendEntries answers, for DescribeQuorum: hashicorp/raft keeps each
// follower's match index to itself, so the transport records the log end
// a follower reports (AppendEntriesResponse.LastLog) on every successful
// answer, pipelined or not. Kafka's LogEndOffset is that index + 1.
type voterProgress struct {
	mu sync.Mutex
	m  map[raft.ServerID]voterState
}

type voterState struct {
	lastLog    uint64
	lastFetch  time.Time // the last successful AppendEntries answer
	caughtUpAt time.Time // the last answer that covered the leader's log end
}

// saw records a successful answer from id. leaderLast is the leader's last
// index when the answer arrived: a follower at or past it was caught up
// then (Kafka's lastCaughtUpTimestamp).
func (v *voterProgress) saw(id raft.ServerID, resp *raft.AppendEntriesResponse, leaderLast uint64, now time.Time) {
	if resp == nil || !resp.Success {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = map[raft.ServerID]voterState{}
	}
	st := v.m[id]
	st.lastLog, st.lastFetch = resp.LastLog, now
	if resp.LastLog >= leaderLast {
		st.caughtUpAt = now
	}
	v.m[id] = st
}

func (v *voterProgress) get(id raft.ServerID) (voterState, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	st, ok := v.m[id]
	return st, ok
}

// progressTransport is the raft transport with voterProgress bookkeeping on
// the leader's AppendEntries; everything else passes through.
type progressTransport struct {
	*raft.NetworkTransport
	progress *voterProgress
	// raft is set once NewRaft returns; raft's goroutines may replicate
	// before that.
	raft atomic.Pointer[raft.Raft]
}

func (t *progressTransport) leaderLast() uint64 {
	if r := t.raft.Load(); r != nil {
		return r.LastIndex()
	}
	return 0
}

func (t *progressTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	err := t.NetworkTransport.AppendEntries(id, target, args, resp)
	if err == nil {
		t.progress.saw(id, resp, t.leaderLast(), time.Now())
	}
	return err
}

func (t *progressTransport) AppendEntriesPipeline(id raft.ServerID, target raft.ServerAddress) (raft.AppendPipeline, error) {
	p, err := t.NetworkTransport.AppendEntriesPipeline(id, target)
	if err != nil {
		return nil, err
	}
	pp := &progressPipeline{AppendPipeline: p, t: t, id: id, out: make(chan raft.AppendFuture), stop: make(chan struct{})}
	pp.wg.Add(1)
	go pp.relay()
	return pp, nil
}

// progressPipeline relays the inner pipeline's finished appends to raft,
// recording each answer on the way. Close stops the relay and waits for it.
type progressPipeline struct {
	raft.AppendPipeline
	t    *progressTransport
	id   raft.ServerID
	out  chan raft.AppendFuture
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

func (p *progressPipeline) relay() {
	defer p.wg.Done()
	in := p.AppendPipeline.Consumer()
	for {
		select {
		case <-p.stop:
			return
		case f := <-in:
			if f.Error() == nil {
				p.t.progress.saw(p.id, f.Response(), p.t.leaderLast(), time.Now())
			}
			select {
			case p.out <- f:
			case <-p.stop:
				return
			}
		}
	}
}

func (p *progressPipeline) Consumer() <-chan raft.AppendFuture { return p.out }

func (p *progressPipeline) Close() error {
	err := p.AppendPipeline.Close()
	p.once.Do(func() { close(p.stop) })
	p.wg.Wait()
	return err
}
