package server

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/spool-broker/spool/quota"
)

// connect opens a connection from local (an address of 127.0.0.0/8) and
// does one ApiVersions round trip with a deadline; the error says whether
// the broker served it.
func connect(t *testing.T, addr, local string) (*quotaConn, error) {
	t.Helper()
	c, err := dialQuotaConn(t, addr, "conn-test", local)
	if err != nil {
		return nil, err
	}
	_ = c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := c.apiVersions(); err != nil {
		c.nc.Close()
		return nil, err
	}
	_ = c.nc.SetDeadline(time.Time{})
	return c, nil
}

func connMetrics(n *testNode) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	n.server.quotas.conns.Register(reg)
	return reg
}

// TestConnectionsPerIP: max.connections.per.ip with an override; a
// connection over the limit is closed at accept, without being read, and
// counted; a closed connection frees its slot.
func TestConnectionsPerIP(t *testing.T) {
	n := startTestNode(t, "KAFKA_MAX_CONNECTIONS_PER_IP=2", "KAFKA_MAX_CONNECTIONS_PER_IP_OVERRIDES=127.0.0.2:3")
	var first *quotaConn
	for i := range 2 {
		c, err := connect(t, n.addr, "127.0.0.1")
		require.NoError(t, err, "connection %d from 127.0.0.1", i+1)
		if first == nil {
			first = c
		}
	}
	_, err := connect(t, n.addr, "127.0.0.1")
	require.Error(t, err, "a third connection from 127.0.0.1 is closed")
	for i := range 3 {
		_, err := connect(t, n.addr, "127.0.0.2")
		require.NoError(t, err, "connection %d from 127.0.0.2 (override 3)", i+1)
	}
	_, err = connect(t, n.addr, "127.0.0.2")
	require.Error(t, err, "a fourth connection from 127.0.0.2 is closed")

	first.nc.Close()
	require.Eventually(t, func() bool {
		c, err := connect(t, n.addr, "127.0.0.1")
		if err == nil {
			c.nc.Close()
		}
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "a closed connection frees its slot")
	require.GreaterOrEqual(t, gaugeValue(t, connMetrics(n), "spool_connections_rejected_total",
		map[string]string{"listener": "PLAINTEXT", "reason": "max_connections_per_ip"}), 2.0)
}

// TestMaxConnectionsWaitInBacklog: over max.connections a new connection
// is not refused: the broker does not accept it (Kafka blocks its
// acceptor) until another connection closes, then serves it.
func TestMaxConnectionsWaitInBacklog(t *testing.T) {
	n := startTestNode(t, "KAFKA_MAX_CONNECTIONS=3")
	var open []*quotaConn
	for i := range 3 {
		c, err := connect(t, n.addr, "")
		require.NoError(t, err, "connection %d", i+1)
		open = append(open, c)
	}
	waiting, err := dialQuotaConn(t, n.addr, "conn-test", "")
	require.NoError(t, err, "the kernel completes the handshake")
	require.NoError(t, waiting.sendApiVersions())
	_ = waiting.nc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	_, err = waiting.readApiVersions()
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "not served while 3 connections are open: %v", err)

	open[0].nc.Close()
	_ = waiting.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = waiting.readApiVersions()
	require.NoError(t, err, "served once a connection closed")
	require.Positive(t, gaugeValue(t, connMetrics(n), "spool_acceptor_blocked_seconds_total", map[string]string{"listener": "PLAINTEXT"}))
}

// TestConnectionCreationRate: max.connection.creation.rate makes new
// connections wait, none is refused; with quota.window.num=2 the first
// second's worth passes at once and the rest follow at the rate.
func TestConnectionCreationRate(t *testing.T) {
	n := startTestNode(t, "KAFKA_MAX_CONNECTION_CREATION_RATE=10", "KAFKA_QUOTA_WINDOW_NUM=2")
	const conns = 40
	start := time.Now()
	var mu sync.Mutex
	var served []time.Duration
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := connect(t, n.addr, "")
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			served = append(served, time.Since(start))
			mu.Unlock()
			c.nc.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err, "no connection is refused for the creation rate")
	}
	require.Len(t, served, conns)
	last := served[0]
	for _, d := range served {
		last = max(last, d)
	}
	t.Logf("%d connections served within %v", conns, last)
	// 10/s over at least one 1 s window: about 10 at once, then 10 a
	// second; 40 take about 3 s.
	require.Greater(t, last, 1500*time.Millisecond)
	require.Positive(t, gaugeValue(t, connMetrics(n), "spool_acceptor_blocked_seconds_total", map[string]string{"listener": "PLAINTEXT"}))
}

// TestIPConnectionRateQuota: a connection_creation_rate quota on an IP
// entity; a connection over it is closed unread once its throttle time
// has passed, other IPs are unaffected.
func TestIPConnectionRateQuota(t *testing.T) {
	n := startTestNode(t, "KAFKA_QUOTA_WINDOW_NUM=2")
	setQuota(t, kadm.NewClient(newClient(t, n.addr)), quotaEntity("ip", "127.0.0.3"), quota.ConnectionCreationRate, 2.0)
	for i := range 2 {
		c, err := connect(t, n.addr, "127.0.0.3")
		require.NoError(t, err, "connection %d from 127.0.0.3", i+1)
		c.nc.Close()
	}
	_, err := connect(t, n.addr, "127.0.0.3")
	require.Error(t, err, "the third connection in a second is over the quota")
	for i := range 5 {
		c, err := connect(t, n.addr, "127.0.0.4")
		require.NoError(t, err, "connection %d from another IP", i+1)
		c.nc.Close()
	}
	require.GreaterOrEqual(t, gaugeValue(t, connMetrics(n), "spool_connections_rejected_total",
		map[string]string{"listener": "PLAINTEXT", "reason": "connection_creation_rate"}), 1.0)
}

// TestDynamicConnectionLimits: the limits are cluster-wide dynamic configs;
// a change through AlterConfigs applies to the next connection.
func TestDynamicConnectionLimits(t *testing.T) {
	n := startTestNode(t)
	adm := kadm.NewClient(newClient(t, n.addr))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	two := "2"
	res, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Name: "max.connections.per.ip", Value: &two}})
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	for i := range 2 {
		_, err = connect(t, n.addr, "127.0.0.5")
		require.NoError(t, err, "connection %d from 127.0.0.5", i+1)
	}
	_, err = connect(t, n.addr, "127.0.0.5")
	require.Error(t, err, "the third is over the new limit")
}
