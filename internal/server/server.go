package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Listener is one client-facing endpoint.
type Listener struct {
	Name string // listener name, e.g. PLAINTEXT
	Addr string // host:port to bind
}

// Server accepts Kafka client connections and hands requests to a Broker.
type Server struct {
	logger  *zap.Logger
	broker  *Broker
	metrics *serverMetrics
	quotas  *serverQuotas // client quotas and connection limits (quotas.go)

	maxRequestSize     int32
	perConnInflight    int
	globalInflight     chan struct{}
	idleTimeout        time.Duration
	requestReadTimeout time.Duration
	writeTimeout       time.Duration

	mu        sync.Mutex
	listeners []net.Listener
	names     []string // listener names, by index of listeners
	serving   bool
	conns     map[net.Conn]struct{}
	wg        sync.WaitGroup
	ctx       context.Context
	cancel    context.CancelFunc

	bufs bufPool

	// security is each listener's setup by name (security.go), built by
	// Listen before any connection is accepted and read-only afterwards.
	security map[string]*listenerSecurity
	// keystoreSig is, per listener, the dynamic keystore configs last
	// applied (reloadKeystores; under the broker's reconcileMu).
	keystoreSig map[string]string
}

// ServerConfig holds the network limits (Kafka's names in comments).
type ServerConfig struct {
	MaxRequestSize  int32         // socket.request.max.bytes
	PerConnInflight int           // requests read ahead per connection
	GlobalInflight  int           // queued.max.requests
	IdleTimeout     time.Duration // connections.max.idle.ms
}

// NewServer returns a Server for b. reg may be nil.
func NewServer(b *Broker, cfg ServerConfig, reg prometheus.Registerer, log *zap.Logger) *Server {
	if cfg.MaxRequestSize <= 0 {
		cfg.MaxRequestSize = 104857600
	}
	if cfg.PerConnInflight <= 0 {
		cfg.PerConnInflight = 16
	}
	if cfg.GlobalInflight <= 0 {
		cfg.GlobalInflight = 500
	}
	ctx, cancel := context.WithCancel(context.Background())
	sm := newServerMetrics(reg, b.topicMetrics, b.cfg.NumIOThreads, b.cfg.NumNetworkThreads)
	sm.reqLog = log.Named("request")
	s := &Server{
		logger:             log,
		broker:             b,
		metrics:            sm,
		quotas:             newServerQuotas(b.cfg, reg, log),
		maxRequestSize:     cfg.MaxRequestSize,
		perConnInflight:    cfg.PerConnInflight,
		globalInflight:     make(chan struct{}, cfg.GlobalInflight),
		idleTimeout:        cfg.IdleTimeout,
		requestReadTimeout: 30 * time.Second,
		writeTimeout:       30 * time.Second,
		conns:              make(map[net.Conn]struct{}),
		ctx:                ctx,
		cancel:             cancel,
	}
	return s
}

// Listen binds every listener before any is served, so a port conflict
// fails start-up instead of leaving a half-listening broker. Connections
// wait in the listen backlog until Serve, as Kafka's do until the broker
// has caught up with the metadata log.
func (s *Server) Listen(ls []Listener) error {
	// --- security (security.go): TLS, SASL and the authorizer, per listener ---
	if err := s.initSecurity(ls); err != nil {
		return err
	}
	// ---
	for _, l := range ls {
		ln, err := net.Listen("tcp", l.Addr)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("listen on %s (%s): %w; is another broker already using that port?", l.Addr, l.Name, err)
		}
		s.mu.Lock()
		s.listeners = append(s.listeners, ln)
		s.names = append(s.names, l.Name)
		s.mu.Unlock()
		s.logger.Info("listening", zap.String("listener", l.Name), zap.String("addr", ln.Addr().String()))
	}
	return nil
}

// Serve starts accepting on the bound listeners. Calls after the first do
// nothing.
func (s *Server) Serve() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.serving || s.ctx.Err() != nil {
		return
	}
	s.serving = true
	for i, ln := range s.listeners {
		s.wg.Add(1)
		go s.acceptLoop(ln, s.names[i])
	}
}

// Addrs returns the bound addresses, in Listen order.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]net.Addr, len(s.listeners))
	for i, ln := range s.listeners {
		out[i] = ln.Addr()
	}
	return out
}

func (s *Server) acceptLoop(ln net.Listener, name string) {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.ctx.Err() != nil {
				return
			}
			// Out of file descriptors and similar: back off, keep serving.
			if backoff == 0 {
				backoff = 5 * time.Millisecond
			} else if backoff < time.Second {
				backoff *= 2
			}
			s.logger.Warn("accept failed", zap.Error(err), zap.Duration("retry_in", backoff))
			select {
			case <-time.After(backoff):
			case <-s.ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
		}
		if !s.admit(nc, name) { // connection limits (quotas.go)
			continue
		}
		s.mu.Lock()
		if s.ctx.Err() != nil {
			s.mu.Unlock()
			s.release(nc, name)
			_ = nc.Close()
			return
		}
		s.conns[nc] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(s.ctx, nc, name)
			s.mu.Lock()
			delete(s.conns, nc)
			s.mu.Unlock()
			s.release(nc, name)
		}()
	}
}

func (s *Server) closeListeners() {
	if s.quotas != nil {
		s.quotas.stopAccept() // an accept waiting for a connection slot gives up
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ln := range s.listeners {
		_ = ln.Close()
	}
}

// Shutdown stops accepting, lets in-flight requests finish until ctx ends,
// then closes every connection and waits for their goroutines.
func (s *Server) Shutdown(ctx context.Context) {
	s.closeListeners()
	// Give connections a moment to finish what they are doing: close read
	// halves so no new request is read, and wait for writers to drain.
	s.mu.Lock()
	for nc := range s.conns {
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.CloseRead()
		}
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	s.cancel()
	s.mu.Lock()
	for nc := range s.conns {
		_ = nc.Close()
	}
	s.mu.Unlock()
	<-done
	s.closeSecurity()
}

// Request frames and response buffers come from one size-classed pool
// (powers of two from 4 KiB to 8 MiB), so steady produce and fetch traffic
// reuses buffers instead of allocating, and zeroing, fresh ones per request.
const (
	minBufClass = 12 // 4 KiB
	maxBufClass = 23 // 8 MiB; larger buffers are allocated and left to the GC, so a burst of huge requests doesn't pin memory
)

// bufPool is a set of sync.Pools by power-of-two capacity.
type bufPool struct {
	classes [maxBufClass - minBufClass + 1]sync.Pool
}

// get returns a buffer of length n whose capacity is at least max(n, hint).
func (bp *bufPool) get(n, hint int) *[]byte {
	c := minBufClass
	for c <= maxBufClass && 1<<c < max(n, hint) {
		c++
	}
	if c > maxBufClass {
		b := make([]byte, n, max(n, hint))
		return &b
	}
	if p, ok := bp.classes[c-minBufClass].Get().(*[]byte); ok {
		*p = (*p)[:n]
		return p
	}
	b := make([]byte, n, 1<<c)
	return &b
}

// put returns a buffer to the class its capacity fully covers.
func (bp *bufPool) put(p *[]byte) {
	c := maxBufClass
	for c >= minBufClass && 1<<c > cap(*p) {
		c--
	}
	if c < minBufClass || cap(*p) > 1<<(maxBufClass+1) {
		return
	}
	*p = (*p)[:0]
	bp.classes[c-minBufClass].Put(p)
}

// getFrame returns a buffer of exactly n bytes for a request frame.
func (s *Server) getFrame(n int) *[]byte { return s.bufs.get(n, 0) }

func (s *Server) putFrame(p *[]byte) { s.bufs.put(p) }

// getResp returns an empty buffer for a response of about hint bytes.
func (s *Server) getResp(hint int) []byte { return *s.bufs.get(0, hint) }

func (s *Server) putResp(b []byte) { s.bufs.put(&b) }
