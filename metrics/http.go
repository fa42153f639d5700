package metrics

import (
	"net"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// Health backs the HTTP probes. /healthz (liveness) answers 200 while the
// process serves HTTP at all. /readyz (readiness) answers 200 only while
// SetReady(true) holds: the composition root sets it once the node serves
// (a broker has registered with the controller, caught up with the
// metadata log and been unfenced) and clears it when shutdown begins; 503
// before and after, so a load balancer or a Kubernetes Service sends
// clients only to a serving broker.
type Health struct {
	ready atomic.Bool
}

// SetReady sets readiness.
func (h *Health) SetReady(v bool) { h.ready.Store(v) }

// ServeHealthz is /healthz.
func (h *Health) ServeHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// ServeReadyz is /readyz.
func (h *Health) ServeReadyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !h.ready.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready: starting or shutting down\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// Handler serves /metrics from g, the probes and Go's profiler at
// /debug/pprof/.
func Handler(g prometheus.Gatherer, h *Health) http.Handler {
	mux := http.NewServeMux()
	if r, ok := g.(*Registry); ok {
		mux.Handle("/metrics", textHandler(r))
	} else {
		mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("/healthz", h.ServeHealthz)
	mux.HandleFunc("/readyz", h.ServeReadyz)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// Serve listens on addr (SPOOL_HTTP_ADDR, e.g. 127.0.0.1:9404) and serves
// Handler until the returned stop is called.
func Serve(addr string, g prometheus.Gatherer, h *Health, log *zap.Logger) (stop func(), bound net.Addr, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{Handler: Handler(g, h), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("serving metrics and pprof", zap.String("addr", ln.Addr().String()))
	return func() { _ = srv.Close() }, ln.Addr(), nil
}
