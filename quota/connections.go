package quota

import (
	"context"
	"math"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Unlimited is the value of a connection limit that is not set (Kafka's
// Int.MaxValue default).
const Unlimited = math.MaxInt32

// ConnectionLimits are a broker's connection limits (Kafka's
// SocketServerConfigs), as configured statically or dynamically.
type ConnectionLimits struct {
	MaxConnections            int                // max.connections
	MaxConnectionsPerIP       int                // max.connections.per.ip
	PerIPOverrides            map[netip.Addr]int // max.connections.per.ip.overrides, hosts resolved
	MaxConnectionCreationRate int                // max.connection.creation.rate (per second)
	// Listeners are the client listeners by name with their own limits
	// (listener.name.<listener>.max.connections and
	// .max.connection.creation.rate; Unlimited when unset).
	Listeners map[string]ListenerLimits
	// InterBrokerListener is inter.broker.listener.name. When there is
	// more than one listener, its connections don't count towards the
	// broker-wide limits, only towards its own.
	InterBrokerListener string
}

// ListenerLimits are one listener's own limits.
type ListenerLimits struct {
	MaxConnections            int
	MaxConnectionCreationRate int
}

// NoConnectionLimits has every limit unset.
func NoConnectionLimits() ConnectionLimits {
	return ConnectionLimits{MaxConnections: Unlimited, MaxConnectionsPerIP: Unlimited, MaxConnectionCreationRate: Unlimited}
}

// Verdict is what ConnectionQuotas.Accept decides for a new connection.
type Verdict int8

const (
	// Admitted: serve the connection; call Release when it closes.
	Admitted Verdict = iota
	// TooManyFromIP: the IP has max.connections.per.ip connections (or its
	// override) already; close the connection at once without reading.
	TooManyFromIP
	// IPThrottled: the IP is over its connection_creation_rate quota;
	// close the connection without reading once the throttle time has
	// passed (Kafka's delayed close).
	IPThrottled
)

// ConnectionQuotas is Kafka's SocketServer ConnectionQuotas: it counts
// connections per IP, per listener and in total, and decides at accept time
// whether a connection may proceed.
//
//   - max.connections (broker and per listener) and
//     max.connection.creation.rate (broker and per listener): the accept
//     loop blocks until the connection fits; connections wait in the listen
//     backlog meanwhile, unread.
//   - max.connections.per.ip and its overrides: the connection is closed at
//     once.
//   - connection_creation_rate quotas of IP entities: the connection is
//     closed once the throttle time has passed.
//
// Safe for concurrent use; mu is a leaf lock.
type ConnectionQuotas struct {
	now      func() time.Time
	cfg      windowConfig
	maxDelay int64 // throttle cap: one quota window, in ms

	mu     sync.Mutex
	wake   chan struct{} // closed (and replaced) when a slot may have opened
	limits ConnectionLimits
	counts map[netip.Addr]int
	// listenerCounts has an entry for every listener in limits.Listeners.
	listenerCounts map[string]int
	total          int
	brokerRate     rate
	listenerRates  map[string]*rate
	ipRateDefault  int // connection_creation_rate of the <default> IP entity
	ipRates        map[netip.Addr]int
	ipSensors      map[netip.Addr]*ipSensor

	rejected *prometheus.CounterVec
	blocked  *prometheus.CounterVec
	accepted *prometheus.CounterVec
}

type ipSensor struct {
	rate       rate
	lastRecord int64
}

// NewConnectionQuotas returns connection quotas measuring creation rates
// over samples windows of window (quota.window.num,
// quota.window.size.seconds), with the given limits.
func NewConnectionQuotas(samples int, window time.Duration, limits ConnectionLimits, now func() time.Time) *ConnectionQuotas {
	if now == nil {
		now = time.Now
	}
	if samples <= 0 {
		samples = 11
	}
	if window <= 0 {
		window = time.Second
	}
	q := &ConnectionQuotas{
		now:           now,
		cfg:           windowConfig{samples: samples, windowMs: window.Milliseconds()},
		maxDelay:      window.Milliseconds(),
		wake:          make(chan struct{}),
		counts:        map[netip.Addr]int{},
		listenerRates: map[string]*rate{},
		ipRateDefault: Unlimited,
		ipRates:       map[netip.Addr]int{},
		ipSensors:     map[netip.Addr]*ipSensor{},
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "spool", Name: "connections_rejected_total",
			Help: "Connections closed at accept without reading a request, by listener and reason: max_connections_per_ip (the IP already had max.connections.per.ip), connection_creation_rate (the IP was over its connection_creation_rate quota; closed after the throttle time).",
		}, []string{"listener", "reason"}),
		blocked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "spool", Name: "acceptor_blocked_seconds_total",
			Help: "Time the listener's accept loop waited for max.connections or max.connection.creation.rate (Kafka's AcceptorBlockedPercent); new connections wait in the listen backlog meanwhile.",
		}, []string{"listener"}),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "spool", Name: "connections_accepted_total",
			Help: "Connections admitted past the connection limits, by listener.",
		}, []string{"listener"}),
	}
	q.setLimitsLocked(limits)
	return q
}

// Register adds the connection metrics to reg (nil: none).
func (q *ConnectionQuotas) Register(reg prometheus.Registerer) {
	if reg != nil {
		reg.MustRegister(q.rejected, q.blocked, q.accepted)
	}
}

// SetLimits replaces the limits (a dynamic config change) and wakes accept
// loops waiting for a slot.
func (q *ConnectionQuotas) SetLimits(l ConnectionLimits) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.setLimitsLocked(l)
	q.wakeLocked()
}

func (q *ConnectionQuotas) setLimitsLocked(l ConnectionLimits) {
	q.limits = l
	if q.listenerCounts == nil {
		q.listenerCounts = map[string]int{}
	}
	for name := range l.Listeners {
		if _, ok := q.listenerCounts[name]; !ok {
			q.listenerCounts[name] = 0
			q.listenerRates[name] = &rate{}
		}
	}
}

// SetIPQuotas sets the connection_creation_rate quotas of IP entities:
// def for the <default> IP (Unlimited: none) and per IP.
func (q *ConnectionQuotas) SetIPQuotas(def int, perIP map[netip.Addr]int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.ipRateDefault = def
	q.ipRates = perIP
}

func (q *ConnectionQuotas) wakeLocked() {
	close(q.wake)
	q.wake = make(chan struct{})
}

func (q *ConnectionQuotas) protectedLocked(listener string) bool {
	return listener == q.limits.InterBrokerListener && len(q.listenerCounts) > 1
}

func (q *ConnectionQuotas) slotAvailableLocked(listener string) bool {
	if l, ok := q.limits.Listeners[listener]; ok && q.listenerCounts[listener] >= l.MaxConnections {
		return false
	}
	if q.protectedLocked(listener) {
		return true
	}
	return q.total < q.limits.MaxConnections
}

// recordRateLocked records one connection in r against limit and returns
// the throttle time, capped at one window.
func (q *ConnectionQuotas) recordRateLocked(r *rate, limit int, nowMs int64) int64 {
	r.record(q.cfg, 1, nowMs)
	if limit >= Unlimited {
		return 0
	}
	observed := r.measure(q.cfg, nowMs)
	if observed <= float64(limit) {
		return 0
	}
	return min(throttleMs(observed, float64(limit), r.windowSizeMs(q.cfg, nowMs)), q.maxDelay)
}

// Accept decides on a connection from addr on listener, blocking while the
// broker or listener connection count or creation rate is at its limit.
// With Admitted the connection is counted: Release it when it closes. With
// IPThrottled, close it after the returned delay. ctx ends the wait (false:
// close the connection, it was not counted).
func (q *ConnectionQuotas) Accept(ctx context.Context, listener string, addr netip.Addr) (Verdict, time.Duration, bool) {
	addr = addr.Unmap()
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.waitForSlotLocked(ctx, listener) {
		return Admitted, 0, false
	}
	now := q.now().UnixMilli()
	if limit := q.ipRateLocked(addr); limit < Unlimited {
		s := q.ipSensors[addr]
		if s == nil {
			s = &ipSensor{}
			q.ipSensors[addr] = s
		}
		s.lastRecord = now
		if ms := q.recordRateLocked(&s.rate, limit, now); ms > 0 {
			// Not accepted: take the connection back out of every rate.
			s.rate.record(q.cfg, -1, now)
			if !q.protectedLocked(listener) {
				q.brokerRate.record(q.cfg, -1, now)
			}
			if r := q.listenerRates[listener]; r != nil {
				r.record(q.cfg, -1, now)
			}
			q.rejected.WithLabelValues(listener, "connection_creation_rate").Inc()
			return IPThrottled, time.Duration(ms) * time.Millisecond, true
		}
	}
	count := q.counts[addr]
	q.counts[addr] = count + 1
	q.total++
	if _, ok := q.listenerCounts[listener]; ok {
		q.listenerCounts[listener]++
	}
	maxFromIP := q.limits.MaxConnectionsPerIP
	if n, ok := q.limits.PerIPOverrides[addr]; ok {
		maxFromIP = n
	}
	if count >= maxFromIP {
		q.rejected.WithLabelValues(listener, "max_connections_per_ip").Inc()
		q.releaseLocked(listener, addr)
		return TooManyFromIP, 0, true
	}
	q.accepted.WithLabelValues(listener).Inc()
	return Admitted, 0, true
}

func (q *ConnectionQuotas) ipRateLocked(addr netip.Addr) int {
	if n, ok := q.ipRates[addr]; ok {
		return n
	}
	return q.ipRateDefault
}

// waitForSlotLocked is Kafka's waitForConnectionSlot: the connection is
// recorded in the broker and listener creation rates, then the caller waits
// out the longer throttle and until a connection slot is free. mu is
// released while waiting.
func (q *ConnectionQuotas) waitForSlotLocked(ctx context.Context, listener string) bool {
	start := q.now()
	nowMs := start.UnixMilli()
	var delay int64
	if !q.protectedLocked(listener) {
		delay = q.recordRateLocked(&q.brokerRate, q.limits.MaxConnectionCreationRate, nowMs)
	}
	if l, ok := q.limits.Listeners[listener]; ok {
		delay = max(delay, q.recordRateLocked(q.listenerRates[listener], l.MaxConnectionCreationRate, nowMs))
	}
	if delay <= 0 && q.slotAvailableLocked(listener) {
		return true
	}
	end := start.Add(time.Duration(delay) * time.Millisecond)
	defer func() {
		q.blocked.WithLabelValues(listener).Add(q.now().Sub(start).Seconds())
	}()
	for {
		left := end.Sub(q.now())
		if left <= 0 && q.slotAvailableLocked(listener) {
			return true
		}
		wake := q.wake
		q.mu.Unlock()
		var t *time.Timer
		var timer <-chan time.Time
		if left > 0 {
			t = time.NewTimer(left)
			timer = t.C
		}
		done := false
		select {
		case <-ctx.Done():
			done = true
		case <-wake:
		case <-timer:
		}
		if t != nil {
			t.Stop()
		}
		q.mu.Lock()
		if done {
			return false
		}
	}
}

// Release uncounts a connection Accept admitted.
func (q *ConnectionQuotas) Release(listener string, addr netip.Addr) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.releaseLocked(listener, addr.Unmap())
}

func (q *ConnectionQuotas) releaseLocked(listener string, addr netip.Addr) {
	if n := q.counts[addr]; n <= 1 {
		delete(q.counts, addr)
	} else {
		q.counts[addr] = n - 1
	}
	q.total--
	if n, ok := q.listenerCounts[listener]; ok && n > 0 {
		q.listenerCounts[listener] = n - 1
	}
	q.sweepIPSensorsLocked()
	q.wakeLocked()
}

// sweepIPSensorsLocked drops the creation rates of IPs idle for an hour.
func (q *ConnectionQuotas) sweepIPSensorsLocked() {
	now := q.now().UnixMilli()
	for a, s := range q.ipSensors {
		if now-s.lastRecord > inactiveSensorExpiry.Milliseconds() {
			delete(q.ipSensors, a)
		}
	}
}

// Count is the number of connections from addr.
func (q *ConnectionQuotas) Count(addr netip.Addr) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.counts[addr.Unmap()]
}
