package controller

import (
	"context"
	"errors"
	"net"
	"strconv"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// Fast fencing of a broker whose process is gone.
//
// Kafka's controller learns of a crashed broker only when its session
// expires (broker.session.timeout.ms, 9 s by default), and until then
// acks=all writes wait for the dead ISR member and its leaderships stay
// unavailable. Spool's active controller also uses a signal Kafka ignores:
// the operating system closes every socket of a process that dies, so the
// connection its heartbeats arrived on ends with EOF or RST. A live broker
// rarely closes that connection (only when one of its own requests times
// out), so the close alone is not proof; the controller then dials the
// broker's registered listeners. When every one of them refuses the
// connection (ECONNREFUSED: nothing listens on the port) and no heartbeat
// arrived since the close, the process is gone and the broker is fenced at
// once, exactly as on session expiry. Any other answer — a listener that
// accepts, a dial that times out or cannot route — leaves the decision to
// the session timeout:
//
//	heartbeat connection EOF/RST ─► dial every listener
//	        │                         ├─ all refused, no heartbeat since ─► fence now
//	        │                         └─ accepted / timeout / unreachable ─► session timeout
//	network partition, SIGSTOP: no EOF (the socket stays open) ─────────► session timeout
//
// A newly active controller gives every unfenced broker a fresh session
// (lifecycle.go); it also dials each one once, so a broker that died with
// the previous controller (a combined node killed) is fenced at once
// instead of a session timeout after the election.
//
// Dialing right after the close can race the dying process's listener
// socket, which the kernel closes microseconds later: an accepted probe
// connection is therefore held for probeWatch, and if it is reset or closed
// in that time the listeners are dialed again.

// ProbeFunc dials a broker's registered listeners and reports whether the
// broker's process is gone: every listener refused the connection. watch
// is how long an accepted connection is held to see it reset by a dying
// listener (0: close it at once). It must return when ctx is done.
type ProbeFunc func(ctx context.Context, endpoints []Endpoint, watch time.Duration) (gone bool)

// probeWatch is how long a probe holds an accepted connection after a
// heartbeat connection closed.
const probeWatch = 500 * time.Millisecond

// BrokerConnectionClosed tells the active controller that a connection on
// which broker id, registered at epoch, sent its registration or heartbeats
// was closed by the broker's side (EOF or RST; not a close of this node's
// own). The controller probes the broker's listeners and fences it at once
// if its process is gone (see above). Safe to call from any goroutine; it
// does not block.
func (c *Controller) BrokerConnectionClosed(id int32, epoch int64) {
	if !c.ready.Load() {
		return
	}
	c.startProbe(id, epoch, c.now(), probeWatch, "its heartbeat connection was closed and no process listens on its listeners")
}

// probeAllLocked probes every unfenced broker but this node's own, once,
// at activation. The caller holds opMu.
func (c *Controller) probeAllLocked() {
	now := c.now()
	for _, b := range c.Image().brokers {
		if b.Fenced || b.ID == c.cfg.NodeID {
			continue
		}
		c.startProbe(b.ID, b.Epoch, now, 0, "no process listens on its listeners (checked when this controller became active)")
	}
}

// startProbe runs one probe of broker id at epoch unless one is running.
func (c *Controller) startProbe(id int32, epoch int64, since time.Time, watch time.Duration, reason string) {
	b := c.Image().brokers[id]
	if c.cfg.Probe == nil || b == nil || b.Fenced || b.Epoch != epoch || len(b.Endpoints) == 0 {
		return
	}
	c.probeMu.Lock()
	if c.probing == nil {
		c.probing = map[int32]bool{}
	}
	runCtx := c.runCtx
	if c.probing[id] || runCtx == nil || runCtx.Err() != nil {
		c.probeMu.Unlock()
		return
	}
	c.probing[id] = true
	c.wg.Add(1)
	c.probeMu.Unlock()
	endpoints := b.Endpoints
	go func() {
		defer c.wg.Done()
		defer func() {
			c.probeMu.Lock()
			delete(c.probing, id)
			c.probeMu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(runCtx, c.cfg.SessionTimeout)
		defer cancel()
		start := time.Now()
		if !c.cfg.Probe(ctx, endpoints, watch) {
			return
		}
		c.fenceGoneBroker(ctx, id, epoch, since, time.Since(start), reason)
	}()
}

// fenceGoneBroker fences broker id at epoch when it is still unfenced and
// has not heartbeated since since.
func (c *Controller) fenceGoneBroker(ctx context.Context, id int32, epoch int64, since time.Time, probed time.Duration, reason string) {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	if !c.ready.Load() || c.sessions == nil {
		return
	}
	img := c.Image()
	b := img.brokers[id]
	if b == nil || b.Fenced || b.Epoch != epoch {
		return
	}
	if s := c.sessions[id]; s != nil && s.lastContact.After(since) {
		return // it heartbeated since: alive after all
	}
	recs := c.fenceRecords(img, b)
	c.logger.Info("fencing broker because "+reason, zap.Int32("broker_id", id), zap.Int64("broker_epoch", epoch),
		zap.Duration("probe", probed), zap.Int("partition_changes", len(recs)-1))
	actx, cancel := context.WithTimeout(ctx, c.cfg.ApplyTimeout)
	defer cancel()
	if _, err := c.apply(actx, recs); err != nil {
		c.logger.Warn("cannot fence broker", zap.Int32("broker_id", id), zap.Error(err))
	}
}

// DialProbe is the default ProbeFunc: a plain TCP connect to each
// endpoint (no bytes are sent). The broker's process is gone when every
// endpoint refused; an endpoint that accepts is held for watch, and dialed
// again (at most three rounds) if the connection breaks in that time.
func DialProbe(ctx context.Context, endpoints []Endpoint, watch time.Duration) bool {
	if len(endpoints) == 0 {
		return false
	}
	for range 3 {
		refused := 0
		var alive net.Conn
		for _, ep := range endpoints {
			conn, err := dialOnce(ctx, ep)
			switch {
			case err == nil:
				alive = conn
			case errors.Is(err, syscall.ECONNREFUSED):
				refused++
				continue
			default:
				return false // timeout, unreachable: a partition looks the same
			}
			break
		}
		if alive == nil {
			return refused == len(endpoints)
		}
		broke := holdBreaks(ctx, alive, watch)
		_ = alive.Close()
		if !broke {
			return false
		}
	}
	return false
}

func dialOnce(ctx context.Context, ep Endpoint) (net.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var d net.Dialer
	return d.DialContext(dctx, "tcp", net.JoinHostPort(ep.Host, strconv.Itoa(int(ep.Port))))
}

// holdBreaks reads from conn for up to watch and reports whether the other
// side closed or reset it in that time (a live listener waits for the
// first request and sends nothing).
func holdBreaks(ctx context.Context, conn net.Conn, watch time.Duration) bool {
	if watch <= 0 {
		return false
	}
	deadline := time.Now().Add(watch)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetReadDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	var b [1]byte
	_, err := conn.Read(b[:])
	if err == nil {
		return false // it spoke: something lives there
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return ctx.Err() == nil
}
