package controller

import (
	"context"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/internal/spooltest"
)

// endpointOf is an Endpoint for a listening address.
func endpointOf(t *testing.T, addr string) Endpoint {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	return Endpoint{Name: "PLAINTEXT", Host: host, Port: uint16(p)}
}

// listen is a TCP listener that accepts and holds connections until the
// test ends (a live broker's listener waiting for a first request).
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln
}

// closedPort is an endpoint nothing listens on (a dead process's port).
func closedPort(t *testing.T) Endpoint {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ep := endpointOf(t, ln.Addr().String())
	require.NoError(t, ln.Close())
	return ep
}

// TestDialProbe: a broker is gone only when every listener refuses; an
// accepting listener means alive, and a listener that dies while the probe
// holds its connection (the race with a dying process) is dialed again.
func TestDialProbe(t *testing.T) {
	dying := func(t *testing.T) Endpoint {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		go func() {
			// Accept the probe, then die: the connection breaks and the
			// port refuses from now on.
			c, err := ln.Accept()
			if err == nil {
				_ = ln.Close()
				_ = c.Close()
			}
		}()
		t.Cleanup(func() { _ = ln.Close() })
		return endpointOf(t, ln.Addr().String())
	}
	for _, tc := range []struct {
		name      string
		endpoints func(t *testing.T) []Endpoint
		watch     time.Duration
		gone      bool
	}{
		{"no endpoints", func(t *testing.T) []Endpoint { return nil }, 0, false},
		{"listening", func(t *testing.T) []Endpoint { return []Endpoint{endpointOf(t, listen(t).Addr().String())} }, 0, false},
		{"listening, watched", func(t *testing.T) []Endpoint { return []Endpoint{endpointOf(t, listen(t).Addr().String())} }, 50 * time.Millisecond, false},
		{"refused", func(t *testing.T) []Endpoint { return []Endpoint{closedPort(t)} }, 0, true},
		{"every listener refused", func(t *testing.T) []Endpoint { return []Endpoint{closedPort(t), closedPort(t)} }, probeWatch, true},
		{"one of two refused", func(t *testing.T) []Endpoint {
			return []Endpoint{closedPort(t), endpointOf(t, listen(t).Addr().String())}
		}, 0, false},
		{"listener dies while held", func(t *testing.T) []Endpoint { return []Endpoint{dying(t)} }, 5 * time.Second, true},
		{"listener dies, not held", func(t *testing.T) []Endpoint { return []Endpoint{dying(t)} }, 0, false},
		{"unresolvable host", func(t *testing.T) []Endpoint { return []Endpoint{{Host: "no-such-host.invalid", Port: 9092}} }, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			require.Equal(t, tc.gone, DialProbe(ctx, tc.endpoints(t), tc.watch))
		})
	}
}

// scriptedProbe answers probes from a table and records them; a broker
// listed in hold blocks its probe until the channel closes.
type scriptedProbe struct {
	mu    sync.Mutex
	gone  map[uint16]bool // by endpoint port (9092 + broker id)
	hold  map[uint16]chan struct{}
	calls map[uint16]int
	done  chan uint16
}

func (p *scriptedProbe) probe(ctx context.Context, eps []Endpoint, watch time.Duration) bool {
	port := eps[0].Port
	p.mu.Lock()
	p.calls[port]++
	gone, hold := p.gone[port], p.hold[port]
	p.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
		}
	}
	defer func() { p.done <- port }()
	return gone
}

// TestFastFencing: a broker whose heartbeat connection closed is fenced at
// once when the probe says its process is gone, and only then: not when
// the probe finds it alive, not when it heartbeats while being probed, not
// for a stale epoch; and a newly active controller probes every unfenced
// broker once.
func TestFastFencing(t *testing.T) {
	ctx := context.Background()
	clock := spooltest.NewClock(time.Unix(1000, 0))
	probe := &scriptedProbe{
		gone:  map[uint16]bool{9094: true, 9095: true},
		hold:  map[uint16]chan struct{}{9095: make(chan struct{})},
		calls: map[uint16]int{}, done: make(chan uint16, 16),
	}
	dir := t.TempDir()
	cfg := soleConfig(t, dir)
	cfg.Now, cfg.Probe = clock.Now, probe.probe
	cfg.SessionTimeout = time.Minute
	c := openController(t, withoutELR(cfg))
	registerBrokers(t, c, 1, 2, 3, 4)
	res := c.CreateTopics(ctx, []CreateTopic{{Name: "t", Assignments: map[int32][]int32{0: {2, 1}, 1: {3, 1}, 2: {4, 1}}, NumPartitions: -1, ReplicationFactor: -1}}, false)
	require.NoError(t, res[0].Err)
	epoch := func(id int32) int64 { return c.Image().Broker(id).Epoch }

	// Gone (every listener refused): fenced at once.
	c.BrokerConnectionClosed(2, epoch(2))
	require.Equal(t, uint16(9094), <-probe.done) // broker 2 listens on 9094: gone
	require.Eventually(t, func() bool { return c.Image().Broker(2).Fenced }, 10*time.Second, time.Millisecond)
	img := c.Image()
	require.Equal(t, int32(1), img.Topic("t").Partitions[0].Leader, "its leadership moved to the ISR")
	require.Equal(t, []int32{1}, img.Topic("t").Partitions[0].ISR)

	// Alive (a listener accepted): nothing changes.
	c.BrokerConnectionClosed(1, epoch(1)) // 9093: not in gone
	require.Equal(t, uint16(9093), <-probe.done)
	require.False(t, c.Image().Broker(1).Fenced)

	// A stale epoch is not probed.
	c.BrokerConnectionClosed(3, epoch(3)-1)
	probe.mu.Lock()
	require.Zero(t, probe.calls[9095])
	probe.mu.Unlock()

	// Broker 3 (9095: gone) heartbeats while it is probed: alive after all.
	c.BrokerConnectionClosed(3, epoch(3))
	require.Eventually(t, func() bool { probe.mu.Lock(); defer probe.mu.Unlock(); return probe.calls[9095] == 1 }, 10*time.Second, time.Millisecond)
	c.BrokerConnectionClosed(3, epoch(3)) // one probe per broker at a time
	clock.Advance(time.Second)
	_, err := c.BrokerHeartbeat(ctx, BrokerHeartbeat{BrokerID: 3, BrokerEpoch: epoch(3), CurrentMetadataOffset: int64(c.Image().Offset())})
	require.NoError(t, err)
	close(probe.hold[9095])
	require.Equal(t, uint16(9095), <-probe.done)
	require.False(t, c.Image().Broker(3).Fenced, "it heartbeated after its connection closed")
	probe.mu.Lock()
	require.Equal(t, 1, probe.calls[9095])
	probe.mu.Unlock()

	// A new active controller probes every unfenced broker but its own
	// node's: broker 3 is gone now, broker 4 alive, broker 2 fenced.
	require.NoError(t, c.Close())
	probe.mu.Lock()
	probe.hold = nil
	probe.calls = map[uint16]int{}
	probe.mu.Unlock()
	c = openController(t, withoutELR(cfg))
	require.Eventually(t, func() bool { return c.Image().Broker(3).Fenced }, 10*time.Second, time.Millisecond)
	require.Equal(t, int32(4), c.Image().Topic("t").Partitions[2].Leader)
	require.Equal(t, int32(1), c.Image().Topic("t").Partitions[1].Leader, "broker 3's leadership moved")
	for range 2 {
		<-probe.done
	}
	probe.mu.Lock()
	require.Equal(t, map[uint16]int{9095: 1, 9096: 1}, probe.calls)
	probe.mu.Unlock()
	require.False(t, c.Image().Broker(4).Fenced)
	require.False(t, c.Image().Broker(1).Fenced)
}
