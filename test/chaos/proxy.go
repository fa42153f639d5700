package main

import (
	"context"
	"fmt"
	"math/rand"
	"net"
	"sync"
	"time"
)

// proxy carries all traffic between the nodes (-proxy, or a delay fault in
// -kinds): inside node i's namespace, an iptables nat OUTPUT rule sends each
// new connection to node j's broker or controller port to the harness's
// address (.254) on a port of its own for the pair (i, j, port), where the
// proxy dials node j and copies both ways. The clients' connections (from
// .254) do not pass through it.
//
// A delay fault makes the proxy hold each chunk read from a connection
// involving one node for base+rand(jitter) before writing it on. Within one
// direction of one connection the bytes stay in order (TCP is a stream:
// reordering inside it is invisible to the application); chunks on different
// connections (replica fetches, controller heartbeats and raft RPCs, between
// different pairs) overtake each other, which is the reordering a node can
// observe.
type proxy struct {
	nw    *network
	logf  func(format string, args ...any)
	mu    sync.Mutex
	delay map[int]delaySpec // node -> delay on every connection to or from it
	lns   []net.Listener
	wg    sync.WaitGroup
}

type delaySpec struct{ base, jitter time.Duration }

const proxyPortBase = 45000

// proxyPort is the harness port for connections from node i to node j's port
// (clientPort or controllerPort).
func proxyPort(i, j, port int) int {
	p := proxyPortBase + i*100 + j*10
	if port == controllerPort {
		p++
	}
	return p
}

// start listens for every ordered pair of nodes and installs the nat rules.
func (p *proxy) start(ctx context.Context) error {
	p.delay = map[int]delaySpec{}
	for i := 1; i <= p.nw.nodes; i++ {
		for j := 1; j <= p.nw.nodes; j++ {
			if i == j {
				continue
			}
			for _, port := range []int{clientPort, controllerPort} {
				lp := proxyPort(i, j, port)
				ln, err := net.Listen("tcp", fmt.Sprintf("%s.254:%d", p.nw.subnet, lp))
				if err != nil {
					return fmt.Errorf("proxy listen: %w", err)
				}
				p.lns = append(p.lns, ln)
				p.wg.Add(1)
				go p.accept(ctx, ln, i, j, fmt.Sprintf("%s:%d", p.nw.host(j), port))
				if err := p.nw.iptables(i, "-t", "nat", "-A", "OUTPUT", "-d", p.nw.host(j), "-p", "tcp", "--dport", fmt.Sprint(port),
					"-j", "DNAT", "--to-destination", fmt.Sprintf("%s.254:%d", p.nw.subnet, lp)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// stop closes the listeners; connections end with the nodes.
func (p *proxy) stop() {
	for _, ln := range p.lns {
		_ = ln.Close()
	}
}

// set installs (or, with a zero spec, removes) a delay on node's connections.
func (p *proxy) set(node int, d delaySpec) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if d == (delaySpec{}) {
		delete(p.delay, node)
		return
	}
	p.delay[node] = d
}

func (p *proxy) delayFor(i, j int, rng *rand.Rand) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var d time.Duration
	for _, n := range []int{i, j} {
		if s, ok := p.delay[n]; ok {
			d = max(d, s.base+time.Duration(rng.Int63n(int64(s.jitter)+1)))
		}
	}
	return d
}

func (p *proxy) accept(ctx context.Context, ln net.Listener, i, j int, target string) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			d := net.Dialer{Timeout: 2 * time.Second}
			u, err := d.DialContext(ctx, "tcp", target)
			if err != nil {
				return
			}
			defer u.Close()
			// Each direction's delays come from a source of its own: the
			// workload's timing is not replayable anyway, only the fault
			// schedule is.
			done := make(chan struct{}, 2)
			go func() { p.pump(u, c, i, j); done <- struct{}{} }()
			go func() { p.pump(c, u, i, j); done <- struct{}{} }()
			<-done
		}()
	}
}

// pump copies src to dst, each chunk held for the delay current when it was
// read, in order.
func (p *proxy) pump(dst, src net.Conn, i, j int) {
	type chunk struct {
		b   []byte
		due time.Time
	}
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	q := make(chan chunk, 256)
	go func() {
		defer close(q)
		var last time.Time
		for {
			b := make([]byte, 32<<10)
			n, err := src.Read(b)
			if n > 0 {
				due := time.Now().Add(p.delayFor(i, j, rng))
				if due.Before(last) {
					due = last
				}
				last = due
				q <- chunk{b[:n], due}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		// Holding each chunk until its due time is the fault itself (the
		// injected delay), not a wait for some state.
		if w := time.Until(c.due); w > 0 {
			<-time.After(w)
		}
		if _, err := dst.Write(c.b); err != nil {
			break
		}
	}
	// Closing both ends stops the other pump and the reader.
	_ = dst.Close()
	_ = src.Close()
	for range q {
	}
}
