package node

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/spool-broker/spool/auth"
	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/internal/audit"
	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/internal/seclink"
	"github.com/spool-broker/spool/protocol"
)

// raftPreamble opens every raft connection on the CONTROLLER listener. A
// Kafka frame starts with its int32 size, and "SP" read as the top bytes of
// a size is over 1.3 GB, far above any socket.request.max.bytes, so no
// valid Kafka request starts like this.
const raftPreamble = "SPOOLRAFT1"

// detectTimeout bounds how long a new connection may take to send its
// first bytes before it is dropped.
const detectTimeout = 10 * time.Second

// controllerListener is the CONTROLLER listener: one port that carries both
// raft (connections opening with raftPreamble, handed to raft's
// NetworkTransport through Raft()) and Kafka controller RPCs (every other
// connection, served by serve).
type controllerListener struct {
	ln        net.Listener
	advertise string // this voter's address in controller.quorum.voters
	logger    *zap.Logger
	serve     func(ctx context.Context, nc net.Conn, access controllerAccess)

	// sec authenticates accepted connections (TLS, SASL) before anything
	// else is read; nil or PLAINTEXT: nothing to do. admit decides what an
	// authenticated principal may do; apiVersions answers ApiVersions
	// during SASL. dial is how this node reaches other voters (nil: plain
	// TCP).
	sec         *seclink.Listener
	audit       *audit.Logger // logins (nil: not audited)
	name        string        // the listener's name, for the audit log
	admit       func(p auth.Principal, host string) controllerAccess
	apiVersions func(hdr *protocol.RequestHeader, req protocol.Request) protocol.Response
	dial        controller.DialFunc

	raftConns  chan net.Conn
	raftClosed chan struct{}
	raftOnce   sync.Once

	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

// listenController binds addr. Connections are accepted once serve is set
// and start is called.
func listenController(addr, advertise string, log *zap.Logger) (*controllerListener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (controller listener): %w; is another node already using that port?", addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &controllerListener{
		ln: ln, advertise: advertise, logger: log,
		raftConns: make(chan net.Conn), raftClosed: make(chan struct{}),
		ctx: ctx, cancel: cancel, conns: map[net.Conn]struct{}{},
	}, nil
}

// controllerAccess is what a connection on the CONTROLLER listener may do,
// decided once its principal is known.
type controllerAccess struct {
	// allowed: raft and the controller RPCs; false closes the connection.
	allowed bool
	// adminWrites: the metadata writes brokers forward (CreateTopics,
	// configs, ...), see unauthenticatedAdminWrite.
	adminWrites bool
}

func (l *controllerListener) start(serve func(ctx context.Context, nc net.Conn, access controllerAccess)) {
	l.serve = serve
	l.wg.Add(1)
	go l.acceptLoop()
}

func (l *controllerListener) acceptLoop() {
	defer l.wg.Done()
	var backoff time.Duration
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || l.ctx.Err() != nil {
				return
			}
			backoff = min(max(backoff*2, 5*time.Millisecond), time.Second)
			l.logger.Warn("controller listener accept failed", zap.Error(err), zap.Duration("retry_in", backoff))
			select {
			case <-time.After(backoff):
			case <-l.ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		if !l.track(nc) {
			_ = nc.Close()
			return
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.dispatch(nc)
		}()
	}
}

// track records a connection so close can end it; false once closing.
func (l *controllerListener) track(nc net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ctx.Err() != nil {
		return false
	}
	l.conns[nc] = struct{}{}
	return true
}

func (l *controllerListener) untrack(nc net.Conn) {
	l.mu.Lock()
	delete(l.conns, nc)
	l.mu.Unlock()
}

// dispatch authenticates nc (the listener's TLS and SASL, seclink.Accept),
// decides what its principal may do, then reads its first bytes and hands
// it to raft or to the Kafka RPC server.
func (l *controllerListener) dispatch(raw net.Conn) {
	if tc, ok := raw.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	nc := raw
	principal := auth.Anonymous
	if l.sec != nil && l.sec.Protocol != "PLAINTEXT" {
		var login seclink.Login
		c, p, err := l.sec.AcceptLogin(l.ctx, raw, detectTimeout, l.apiVersions, &login)
		l.auditLogin(raw, p, login, err)
		if err != nil {
			l.logger.Info("closing controller connection: authentication failed", zap.String("remote", raw.RemoteAddr().String()), zap.Error(err))
			l.untrack(raw)
			_ = raw.Close()
			return
		}
		nc, principal = c, p
	}
	access := controllerAccess{allowed: true, adminWrites: true}
	if l.admit != nil {
		access = l.admit(principal, aclHost(raw.RemoteAddr()))
	}
	if !access.allowed {
		l.logger.Warn("closing controller connection: the principal may not use the controller listener (it needs CLUSTER_ACTION on the cluster, or to be in super.users)",
			zap.String("remote", raw.RemoteAddr().String()), zap.Stringer("principal", principal))
		l.untrack(raw)
		_ = raw.Close()
		return
	}
	_ = nc.SetReadDeadline(time.Now().Add(detectTimeout))
	br := bufio.NewReaderSize(nc, 16<<10)
	first, err := br.Peek(1)
	if err != nil {
		l.untrack(raw)
		_ = nc.Close()
		return
	}
	bc := &bufConn{Conn: nc, r: br}
	if first[0] == raftPreamble[0] {
		pre, err := br.Peek(len(raftPreamble))
		if err != nil || string(pre) != raftPreamble {
			l.untrack(raw)
			_ = nc.Close()
			return
		}
		_, _ = br.Discard(len(raftPreamble))
		_ = nc.SetReadDeadline(time.Time{})
		// raft owns the connection from here; it is no longer tracked
		// (raft's transport closes its own connections).
		l.untrack(raw)
		select {
		case l.raftConns <- bc:
		case <-l.raftClosed:
			_ = nc.Close()
		case <-l.ctx.Done():
			_ = nc.Close()
		}
		return
	}
	_ = nc.SetReadDeadline(time.Time{})
	l.serve(l.ctx, bc, access)
	l.untrack(raw)
	_ = nc.Close()
}

// aclHost is the client's IP as ACL hosts are written.
func aclHost(a net.Addr) string {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return ""
	}
	return acl.HostString(ap.Addr())
}

// close stops accepting, ends every Kafka connection and waits for their
// goroutines. Raft's side closes through Raft().Close.
func (l *controllerListener) close() {
	l.cancel()
	_ = l.ln.Close()
	l.mu.Lock()
	for nc := range l.conns {
		_ = nc.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
}

// Raft is the raft.StreamLayer of this listener.
func (l *controllerListener) Raft() raft.StreamLayer { return raftLayer{l} }

// raftLayer is raft's view of the CONTROLLER listener.
type raftLayer struct{ l *controllerListener }

func (r raftLayer) Accept() (net.Conn, error) {
	select {
	case nc := <-r.l.raftConns:
		return nc, nil
	case <-r.l.raftClosed:
		return nil, net.ErrClosed
	case <-r.l.ctx.Done():
		return nil, net.ErrClosed
	}
}

// Close stops handing connections to raft; the port stays open for the
// Kafka side until the node closes the listener.
func (r raftLayer) Close() error {
	r.l.raftOnce.Do(func() { close(r.l.raftClosed) })
	return nil
}

// Addr is this voter's advertised address: raft tells followers where the
// leader is with it.
func (r raftLayer) Addr() net.Addr { return strAddr(r.l.advertise) }

// Dial connects to another voter's CONTROLLER listener, authenticates as
// this node (sasl.mechanism.controller.protocol, the listener's TLS) and
// announces raft.
func (r raftLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	var nc net.Conn
	var err error
	if r.l.dial != nil {
		ctx, cancel := context.WithTimeout(r.l.ctx, timeout)
		nc, err = r.l.dial(ctx, string(addr))
		cancel()
	} else {
		nc, err = net.DialTimeout("tcp", string(addr), timeout)
	}
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	_ = nc.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := nc.Write([]byte(raftPreamble)); err != nil {
		_ = nc.Close()
		return nil, err
	}
	_ = nc.SetWriteDeadline(time.Time{})
	return nc, nil
}

// auditLogin writes a CONTROLLER listener login to the audit log, as the
// broker's listeners do (internal/server/audit.go): the principal and
// mechanism on success, the reason on failure. A TLS-only listener's
// anonymous login (no client certificate) is logged too.
func (l *controllerListener) auditLogin(raw net.Conn, p auth.Principal, login seclink.Login, err error) {
	if l.audit == nil {
		return
	}
	e := audit.Event{Event: audit.EventAuthentication, Outcome: audit.Success, ClientAddress: aclHost(raw.RemoteAddr()),
		Listener: l.name, Mechanism: login.Mechanism}
	if err != nil {
		e.Outcome, e.Detail = audit.Failure, err.Error()
	} else {
		e.Principal = p.String()
		if login.TokenID != "" {
			e.Detail = "delegation token " + login.TokenID
		}
	}
	l.audit.Log(e)
}

// strAddr is a host:port that is not resolved.
type strAddr string

func (a strAddr) Network() string { return "tcp" }
func (a strAddr) String() string  { return string(a) }

// bufConn is a connection whose first bytes were peeked into r.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// serveControllerRPCs answers Kafka requests on a CONTROLLER listener
// connection, one at a time in arrival order, as Kafka's controller does.
// Requests for APIs the controller does not serve close the connection;
// ApiVersions at an unknown version gets Kafka's v0 UNSUPPORTED_VERSION
// answer.
//
// The listener authenticated the connection before (dispatch). With an
// authorizer configured, an authenticated principal is served only when it
// may CLUSTER_ACTION the cluster (a broker, a super user), and then fully:
// the brokers authorized the metadata writes they forward with the
// original user's principal. An unauthenticated connection (User:ANONYMOUS:
// a PLAINTEXT controller listener, or SSL without a client certificate)
// fails closed: it is served the broker lifecycle and quorum RPCs, but a
// metadata write a client could use to bypass ACLs closes it (adminWrites
// false).
func serveControllerRPCs(ctx context.Context, nc net.Conn, ctrl *controller.Controller, maxRequest int32, adminWrites bool, log *zap.Logger) {
	log = log.With(zap.String("remote", nc.RemoteAddr().String()))
	stop := context.AfterFunc(ctx, func() { _ = nc.Close() })
	defer stop()
	var buf, out []byte
	// The broker (and its epoch) whose registration or heartbeats this
	// connection carried: when its side closes the connection, the
	// controller checks whether the broker's process is gone
	// (controller/liveness.go).
	sender, senderEpoch := int32(-1), int64(-1)
	for {
		frame, err := protocol.ReadFrame(nc, maxRequest, buf)
		if err != nil {
			if errors.Is(err, protocol.ErrFrameSize) {
				log.Warn("closing controller connection: request size out of range", zap.Error(err))
			}
			if sender >= 0 && ctx.Err() == nil && closedByPeer(err) {
				ctrl.BrokerConnectionClosed(sender, senderEpoch)
			}
			return
		}
		buf = frame
		hdr, req, err := protocol.ParseRequest(frame)
		var resp protocol.Response
		v := hdr.RequestAPIVersion
		switch {
		case err != nil && hdr.RequestAPIKey == protocol.KeyApiVersions && errors.Is(err, protocol.ErrUnsupportedVersion):
			resp, v = protocol.UnsupportedAPIVersionsResponse(), 0
		case err != nil:
			log.Warn("closing controller connection: unparsable request", zap.Int16("api_key", hdr.RequestAPIKey), zap.Error(err))
			return
		case !adminWrites && unauthenticatedAdminWrite[hdr.RequestAPIKey]:
			log.Warn("closing controller connection: metadata writes from unauthenticated connections are refused while an authorizer is configured (secure the controller listener with SSL client authentication or SASL)",
				zap.Int16("api_key", hdr.RequestAPIKey))
			return
		case !controller.Serves(hdr.RequestAPIKey, v):
			log.Info("closing controller connection: API not served by the controller listener",
				zap.Int16("api_key", hdr.RequestAPIKey), zap.Int16("api_version", v))
			return
		default:
			resp = ctrl.HandleRPC(ctx, &hdr, req)
			switch r := resp.(type) {
			case *protocol.BrokerHeartbeatResponse:
				if r.ErrorCode == 0 {
					hb := req.(*protocol.BrokerHeartbeatRequest)
					sender, senderEpoch = int32(hb.BrokerID), hb.BrokerEpoch
				}
			case *protocol.BrokerRegistrationResponse:
				if r.ErrorCode == 0 {
					sender, senderEpoch = int32(req.(*protocol.BrokerRegistrationRequest).BrokerID), r.BrokerEpoch
				}
			}
		}
		if resp == nil {
			return
		}
		out, err = protocol.AppendResponse(out[:0], hdr.CorrelationID, hdr.RequestAPIKey, v, resp)
		if err != nil {
			log.Warn("closing controller connection: cannot encode response", zap.Error(err))
			return
		}
		_ = nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := nc.Write(out); err != nil {
			return
		}
		// Fetched records alias a fresh buffer per response; don't keep a
		// large one around.
		if cap(out) > 1<<20 {
			out = nil
		}
		if cap(buf) > 1<<20 {
			buf = nil
		}
	}
}

// closedByPeer reports whether a read error is the other side closing
// (EOF) or resetting (RST) the connection, rather than a timeout or a
// close of this node's own.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// brokerProbe is the controller's check that a broker whose heartbeat
// connection closed is gone (controller.DialProbe), unless
// spool.broker.fast.fencing.enable is false.
func brokerProbe(cfg *config.Broker) controller.ProbeFunc {
	if !cfg.BrokerFastFencing {
		return nil
	}
	return controller.DialProbe
}

// unauthenticatedAdminWrite are the controller-listener RPCs that change
// topics, configs, leaders or quotas on a client's behalf: refused to
// unauthenticated connections while an authorizer is configured
// (serveControllerRPCs).
var unauthenticatedAdminWrite = map[int16]bool{
	protocol.KeyCreateTopics:                true,
	protocol.KeyDeleteTopics:                true,
	protocol.KeyCreatePartitions:            true,
	protocol.KeyAlterConfigs:                true,
	protocol.KeyIncrementalAlterConfigs:     true,
	protocol.KeyElectLeaders:                true,
	protocol.KeyAlterPartitionReassignments: true,
	protocol.KeyAlterClientQuotas:           true,
	protocol.KeyCreateAcls:                  true,
	protocol.KeyDeleteAcls:                  true,
	protocol.KeyAlterUserScramCredentials:   true,
	protocol.KeyAddRaftVoter:                true,
	protocol.KeyRemoveRaftVoter:             true,
	protocol.KeyEnvelope:                    true, // a principal of the sender's choice
}
