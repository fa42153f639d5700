package quota

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var (
	ipA = netip.MustParseAddr("10.0.0.1")
	ipB = netip.MustParseAddr("10.0.0.2")
)

func limits(mut func(*ConnectionLimits)) ConnectionLimits {
	l := NoConnectionLimits()
	l.Listeners = map[string]ListenerLimits{"PLAINTEXT": {Unlimited, Unlimited}}
	mut(&l)
	return l
}

// cancelled is a context that is already done: Accept with it reports
// whether the connection would have had to wait.
func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func TestConnectionsPerIP(t *testing.T) {
	q := NewConnectionQuotas(11, time.Second, limits(func(l *ConnectionLimits) {
		l.MaxConnectionsPerIP = 2
		l.PerIPOverrides = map[netip.Addr]int{ipB: 3}
	}), nil)
	ctx := context.Background()
	for i, want := range []Verdict{Admitted, Admitted, TooManyFromIP, TooManyFromIP} {
		v, _, ok := q.Accept(ctx, "PLAINTEXT", ipA)
		require.True(t, ok)
		require.Equal(t, want, v, "connection %d from A", i+1)
	}
	require.Equal(t, 2, q.Count(ipA), "refused connections are not counted")
	for i, want := range []Verdict{Admitted, Admitted, Admitted, TooManyFromIP} {
		v, _, _ := q.Accept(ctx, "PLAINTEXT", ipB)
		require.Equal(t, want, v, "connection %d from B (override 3)", i+1)
	}
	q.Release("PLAINTEXT", ipA)
	v, _, _ := q.Accept(ctx, "PLAINTEXT", netip.MustParseAddr("::ffff:10.0.0.1"))
	require.Equal(t, Admitted, v, "a released slot is free again, IPv4-mapped addresses included")
}

func TestMaxConnectionsBlocksAccept(t *testing.T) {
	for _, tc := range []struct {
		name string
		mut  func(*ConnectionLimits)
	}{
		{"broker", func(l *ConnectionLimits) { l.MaxConnections = 2 }},
		{"listener", func(l *ConnectionLimits) {
			l.Listeners["PLAINTEXT"] = ListenerLimits{MaxConnections: 2, MaxConnectionCreationRate: Unlimited}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := NewConnectionQuotas(11, time.Second, limits(tc.mut), nil)
			for range 2 {
				v, _, ok := q.Accept(context.Background(), "PLAINTEXT", ipA)
				require.True(t, ok)
				require.Equal(t, Admitted, v)
			}
			_, _, ok := q.Accept(cancelled(), "PLAINTEXT", ipB)
			require.False(t, ok, "the third connection must wait")

			done := make(chan Verdict, 1)
			go func() {
				v, _, _ := q.Accept(context.Background(), "PLAINTEXT", ipB)
				done <- v
			}()
			q.Release("PLAINTEXT", ipA)
			select {
			case v := <-done:
				require.Equal(t, Admitted, v)
			case <-time.After(10 * time.Second):
				t.Fatal("a released slot did not let the waiting connection in")
			}
		})
	}
}

// TestInterBrokerListenerIsProtected: with several listeners, connections
// on the inter-broker listener do not count against max.connections.
func TestInterBrokerListenerIsProtected(t *testing.T) {
	q := NewConnectionQuotas(11, time.Second, limits(func(l *ConnectionLimits) {
		l.MaxConnections = 1
		l.Listeners["INTERNAL"] = ListenerLimits{Unlimited, Unlimited}
		l.InterBrokerListener = "INTERNAL"
	}), nil)
	v, _, ok := q.Accept(context.Background(), "PLAINTEXT", ipA)
	require.True(t, ok)
	require.Equal(t, Admitted, v)
	_, _, ok = q.Accept(cancelled(), "PLAINTEXT", ipA)
	require.False(t, ok)
	for range 3 {
		v, _, ok = q.Accept(cancelled(), "INTERNAL", ipB)
		require.True(t, ok)
		require.Equal(t, Admitted, v)
	}
}

// TestCreationRate: the broker-wide creation rate makes connections wait
// once the rate over the quota window exceeds it; Kafka's rate spreads the
// first connections over window.num-1 windows.
func TestCreationRate(t *testing.T) {
	clk := newFakeClock()
	q := NewConnectionQuotas(2, time.Second, limits(func(l *ConnectionLimits) {
		l.MaxConnectionCreationRate = 5
	}), clk.now)
	// 5/s over at least one full window: 5 connections pass at once.
	for i := range 5 {
		v, _, ok := q.Accept(cancelled(), "PLAINTEXT", ipA)
		require.True(t, ok, "connection %d", i+1)
		require.Equal(t, Admitted, v)
	}
	_, _, ok := q.Accept(cancelled(), "PLAINTEXT", ipA)
	require.False(t, ok, "the sixth connection in the same instant waits")
	clk.sleep(2 * time.Second)
	_, _, ok = q.Accept(cancelled(), "PLAINTEXT", ipA)
	require.True(t, ok, "once the window has moved on it passes")
}

// TestIPConnectionRateQuota: an IP over its connection_creation_rate quota
// gets IPThrottled with the time its rate takes to fall back, and is not
// counted; other IPs are unaffected.
func TestIPConnectionRateQuota(t *testing.T) {
	clk := newFakeClock()
	q := NewConnectionQuotas(2, time.Second, limits(func(*ConnectionLimits) {}), clk.now)
	q.SetIPQuotas(Unlimited, map[netip.Addr]int{ipA: 2})
	for range 2 {
		v, _, _ := q.Accept(context.Background(), "PLAINTEXT", ipA)
		require.Equal(t, Admitted, v)
	}
	v, d, _ := q.Accept(context.Background(), "PLAINTEXT", ipA)
	require.Equal(t, IPThrottled, v)
	require.Positive(t, d)
	require.LessOrEqual(t, d, time.Second, "capped at one quota window")
	require.Equal(t, 2, q.Count(ipA))
	v, _, _ = q.Accept(context.Background(), "PLAINTEXT", ipB)
	require.Equal(t, Admitted, v)
	q.SetIPQuotas(3, nil) // a <default> quota for every IP
	clk.sleep(3 * time.Second)
	for range 3 {
		v, _, _ = q.Accept(context.Background(), "PLAINTEXT", ipB)
		require.Equal(t, Admitted, v)
	}
	v, _, _ = q.Accept(context.Background(), "PLAINTEXT", ipB)
	require.Equal(t, IPThrottled, v)
}
