package main

import (
	"net/http"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/internal/sdnotify"
)

// healthState backs the HTTP probes. /healthz (liveness) answers 200 while
// the process serves HTTP at all. /readyz (readiness) answers 200 only
// between the node's start returning, which happens after its listeners
// are bound and the broker is registered with the controller, and the
// start of shutdown; 503 before and after, so a load balancer or a
// Kubernetes Service sends clients only to a serving broker.
type healthState struct {
	ready atomic.Bool
}

func (h *healthState) setReady(v bool) { h.ready.Store(v) }

func (h *healthState) serveHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

func (h *healthState) serveReadyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !h.ready.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready: starting or shutting down\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// notify tells systemd (Type=notify units) about the node's state; outside
// systemd NOTIFY_SOCKET is unset and nothing is sent.
func notify(log *zap.Logger, state string) {
	if _, err := sdnotify.Notify(state); err != nil {
		log.Warn("cannot notify the service manager", zap.Error(err))
	}
}
