package replication

import (
	"context"
	"fmt"
	"math/rand"
	"sync"
	"time"
)

// InmemNetwork connects the brokers of one test process: each follower gets
// a LeaderEndpoint per leader (Endpoint), and every request and answer
// crosses a directed link that can drop, delay or cut it, like etcd raft's
// rafttest network. A dropped request or answer is ErrUnreachable to the
// sender (a broken connection), after the link's delay. Safe for
// concurrent use.
type InmemNetwork struct {
	mu      sync.Mutex
	brokers map[int32]LeaderEndpoint
	links   map[[2]int32]Link
	down    map[int32]bool
	rand    *rand.Rand
	stats   map[[2]int32]*LinkStats
}

// Link is the behaviour of one direction between two brokers.
type Link struct {
	// Drop cuts the link; DropRate drops each message with that
	// probability (0..1).
	Drop     bool
	DropRate float64
	// Delay holds each message this long.
	Delay time.Duration
}

// LinkStats counts what crossed a link.
type LinkStats struct {
	Delivered, Dropped int
}

// NewInmemNetwork returns a network with every link up; seed drives
// DropRate.
func NewInmemNetwork(seed int64) *InmemNetwork {
	return &InmemNetwork{
		brokers: map[int32]LeaderEndpoint{},
		links:   map[[2]int32]Link{},
		down:    map[int32]bool{},
		rand:    rand.New(rand.NewSource(seed)),
		stats:   map[[2]int32]*LinkStats{},
	}
}

// Register makes ep the broker id answers with (a Manager, usually).
func (n *InmemNetwork) Register(id int32, ep LeaderEndpoint) {
	n.mu.Lock()
	n.brokers[id] = ep
	n.mu.Unlock()
}

// SetLink sets the from→to direction.
func (n *InmemNetwork) SetLink(from, to int32, l Link) {
	n.mu.Lock()
	n.links[[2]int32{from, to}] = l
	n.mu.Unlock()
}

// Disconnect cuts every link to and from id (a crashed or isolated
// broker); Connect restores them to what SetLink said.
func (n *InmemNetwork) Disconnect(id int32) {
	n.mu.Lock()
	n.down[id] = true
	n.mu.Unlock()
}

// Connect undoes Disconnect.
func (n *InmemNetwork) Connect(id int32) {
	n.mu.Lock()
	delete(n.down, id)
	n.mu.Unlock()
}

// Partition splits the brokers into groups that cannot reach each other;
// links inside a group keep their settings. Heal undoes it.
func (n *InmemNetwork) Partition(groups ...[]int32) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i, a := range groups {
		for j, b := range groups {
			if i == j {
				continue
			}
			for _, x := range a {
				for _, y := range b {
					l := n.links[[2]int32{x, y}]
					l.Drop = true
					n.links[[2]int32{x, y}] = l
				}
			}
		}
	}
}

// Heal restores every link and broker.
func (n *InmemNetwork) Heal() {
	n.mu.Lock()
	n.links = map[[2]int32]Link{}
	n.down = map[int32]bool{}
	n.mu.Unlock()
}

// Stats returns what crossed from→to so far.
func (n *InmemNetwork) Stats(from, to int32) LinkStats {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s := n.stats[[2]int32{from, to}]; s != nil {
		return *s
	}
	return LinkStats{}
}

// Endpoint is broker to's LeaderEndpoint as broker from reaches it.
func (n *InmemNetwork) Endpoint(from, to int32) LeaderEndpoint {
	return &inmemEndpoint{n: n, from: from, to: to}
}

// cross sends one message from→to: it waits the link's delay and reports
// whether the message arrived.
func (n *InmemNetwork) cross(ctx context.Context, from, to int32) error {
	key := [2]int32{from, to}
	n.mu.Lock()
	l := n.links[key]
	drop := l.Drop || n.down[from] || n.down[to] || (l.DropRate > 0 && n.rand.Float64() < l.DropRate)
	st := n.stats[key]
	if st == nil {
		st = &LinkStats{}
		n.stats[key] = st
	}
	if drop {
		st.Dropped++
	} else {
		st.Delivered++
	}
	n.mu.Unlock()
	if l.Delay > 0 {
		t := time.NewTimer(l.Delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	if drop {
		return fmt.Errorf("broker %d → %d: %w", from, to, ErrUnreachable)
	}
	return nil
}

// call delivers one request and its answer.
func call[Req, Resp any](ctx context.Context, e *inmemEndpoint, req Req, fn func(LeaderEndpoint, context.Context, Req) (Resp, error)) (Resp, error) {
	var zero Resp
	if err := e.n.cross(ctx, e.from, e.to); err != nil {
		return zero, err
	}
	e.n.mu.Lock()
	ep := e.n.brokers[e.to]
	e.n.mu.Unlock()
	if ep == nil {
		return zero, fmt.Errorf("broker %d is not on the network: %w", e.to, ErrUnreachable)
	}
	resp, err := fn(ep, ctx, req)
	if err != nil {
		return zero, err
	}
	if err := e.n.cross(ctx, e.to, e.from); err != nil {
		return zero, err
	}
	return resp, nil
}

type inmemEndpoint struct {
	n        *InmemNetwork
	from, to int32
}

func (e *inmemEndpoint) Fetch(ctx context.Context, req *FetchRequest) (*FetchResponse, error) {
	return call(ctx, e, req, LeaderEndpoint.Fetch)
}

func (e *inmemEndpoint) OffsetForLeaderEpoch(ctx context.Context, req *OffsetForLeaderEpochRequest) (*OffsetForLeaderEpochResponse, error) {
	return call(ctx, e, req, LeaderEndpoint.OffsetForLeaderEpoch)
}

func (e *inmemEndpoint) ListOffsets(ctx context.Context, req *ListOffsetsRequest) (*ListOffsetsResponse, error) {
	return call(ctx, e, req, LeaderEndpoint.ListOffsets)
}
