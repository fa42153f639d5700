package server

import (
	"bufio"
	"context"
	cryptotls "crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/auth"
	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/internal/audit"
	"github.com/spool-broker/spool/protocol"
)

// Authentication on the connection: security is decided before dispatch.
//
//	accept   startSecurity: the TLS handshake (SSL, SASL_SSL) with the
//	         listener's setup, under a deadline, before any frame is read;
//	         the Session: authenticated at once for PLAINTEXT (User:ANONYMOUS)
//	         and SSL (the certificate's principal), a SASL exchange to go
//	         for SASL_PLAINTEXT and SASL_SSL.
//	reader   readUntilAuthenticated: while the Session is not authenticated
//	         the reader reads ONE frame, capped at sasl.server.max.receive.size
//	         before anything is allocated, parses only its header (a bare
//	         token after SaslHandshake v0), hands it to the handler and waits
//	         until the handler has answered it (inflight.handled) before it
//	         reads anything else: nothing is read ahead, and no Produce body
//	         is streamed, until the principal is known. A SaslHandshake on an
//	         authenticated connection (KIP-368 re-authentication) puts the
//	         reader back into this mode.
//	handler  gate: Session.Check decides each request before its handler
//	         runs (and before its body is decoded, for requests read before
//	         authentication): serve it, answer the SASL requests
//	         (api_17_sasl_handshake.go, api_36_sasl_authenticate.go), answer
//	         with an error, or close.
//
// The Session belongs to the handler goroutine. The reader looks at it only
// while the handler is idle: before the handler starts, and after a
// request's handled channel closes (a happens-before edge) with nothing
// else queued.
//
// Every request's reqCtx carries the connection's principal and client host
// (as ACL hosts are written), the Produce body streamed off the connection
// included; the handler goroutine sets them when authentication completes.

// errAuthClose closes a connection for an authentication reason. It is
// logged at debug level: clients fail to log in all day long.
type errAuthClose struct{ reason string }

func (e *errAuthClose) Error() string { return "authentication: " + e.reason }

// tlsHandshakeTimeout bounds the TLS handshake of a new connection.
const tlsHandshakeTimeout = 10 * time.Second

// startSecurity runs the listener's TLS handshake and sets up the
// connection's Session. False: the connection must close (the reason is
// logged).
func (c *conn) startSecurity() bool {
	c.host = aclHost(c.nc.RemoteAddr())
	sec := c.s.listenerSecurity(c.listener)
	c.sec = sec
	if sec.UsesTLS() {
		tc := cryptotls.Server(c.nc, sec.TLS.Config())
		ctx, cancel := context.WithTimeout(c.ctx, tlsHandshakeTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			if sec.Principals != nil {
				c.auditAuthentication(audit.Failure, "", "SSL", "TLS handshake: "+err.Error())
			}
			c.logger.Info("closing connection: TLS handshake failed", zap.String("listener", c.listener), zap.Error(err))
			return false
		}
		c.nc = tc
	}
	switch {
	case sec.SASL != nil:
		c.sess = auth.NewSASLSession(sec.SASL)
		c.sess.SetClientHost(c.host)
	case sec.Principals != nil:
		p, err := sec.Principals.Principal(c.nc.(*cryptotls.Conn).ConnectionState())
		if err == nil {
			c.auditAuthentication(audit.Success, p.String(), "SSL", "")
		} else {
			c.auditAuthentication(audit.Failure, "", "SSL", err.Error())
		}
		if err != nil {
			c.logger.Info("closing connection: no principal for the client certificate", zap.String("listener", c.listener), zap.Error(err))
			return false
		}
		c.sess = auth.NewAuthenticatedSession(p)
		c.principal = p
	default:
		c.sess = auth.NewAuthenticatedSession(auth.Anonymous)
		c.principal = auth.Anonymous
	}
	return true
}

// aclHost is the client's IP as ACL hosts are written.
func aclHost(a net.Addr) string {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return ""
	}
	return acl.HostString(ap.Addr())
}

// authenticated reports whether requests are dispatched (the reader's
// view: call it only while the handler is idle).
func (c *conn) authenticated() bool {
	return c.sess == nil || c.sess.Phase() == auth.PhaseAuthenticated
}

// readUntilAuthenticated reads, one at a time, the frames of a connection
// that is not authenticated, as described above. False: the connection is
// closing.
func (c *conn) readUntilAuthenticated(br *bufio.Reader) bool {
	var sizeBuf [4]byte
	for !c.authenticated() {
		if idle := c.s.idleTimeout; idle > 0 {
			_ = c.nc.SetReadDeadline(time.Now().Add(idle))
		}
		if c.ctx.Err() != nil {
			return false
		}
		if _, err := io.ReadFull(br, sizeBuf[:]); err != nil {
			c.logReadEnd(err)
			return false
		}
		size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
		if limit := c.sess.MaxFrameSize(c.s.maxRequestSize); size < 0 || size > limit {
			// Before anything is allocated: a hostile size costs nothing.
			c.logger.Info("closing connection: frame before authentication larger than sasl.server.max.receive.size",
				zap.Int32("size", size), zap.Int32("sasl_server_max_receive_size", limit))
			return false
		}
		_ = c.nc.SetReadDeadline(time.Now().Add(c.s.requestReadTimeout))
		frame := c.s.getFrame(int(size))
		if _, err := io.ReadFull(br, *frame); err != nil {
			c.s.putFrame(frame)
			c.logReadEnd(err)
			return false
		}
		f := &inflight{frame: frame, received: time.Now(), handled: make(chan struct{})}
		if c.sess.RawTokens() {
			f.raw = true
		} else {
			hdr, _, err := protocol.ParseRequestHeader(*frame)
			if err != nil {
				// An unknown key or version still has a header to answer
				// (ApiVersions) or to refuse.
				var perr error
				hdr, _, perr = protocol.ParseRequest(*frame)
				if !errors.Is(perr, protocol.ErrUnknownAPIKey) && !errors.Is(perr, protocol.ErrUnsupportedVersion) {
					c.logger.Info("closing connection: unparsable request header before authentication", zap.Error(err))
					c.s.putFrame(frame)
					return false
				}
			}
			f.hdr = hdr
			f.gated = true
		}
		if !c.enqueue(f) || !c.awaitHandled(f) {
			return false
		}
	}
	return true
}

// awaitHandled waits until the handler has answered f. False: the
// connection is closing.
func (c *conn) awaitHandled(f *inflight) bool {
	select {
	case <-f.handled:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// gate decides f before its handler runs (see the top of this file). A
// nil error with proceed false means f has been answered (f.out) or needs
// no answer; an error closes the connection.
func (c *conn) gate(f *inflight) (d auth.Decision, proceed bool, err error) {
	if c.sess == nil { // a conn made by a test, without a listener
		return auth.Decision{Action: auth.Serve}, true, nil
	}
	key := f.hdr.RequestAPIKey
	d = c.sess.Check(key, time.Now())
	switch d.Action {
	case auth.Serve:
		return d, true, nil
	case auth.Close:
		return d, false, &errAuthClose{reason: d.Reason}
	case auth.RespondAndClose:
		// Only the SASL and ApiVersions responses are built here; any
		// other request is refused by closing (Kafka answers it with its
		// API's generic error response first).
		if key != protocol.KeyApiVersions && key != protocol.KeySaslHandshake && key != protocol.KeySaslAuthenticate {
			return d, false, &errAuthClose{reason: d.Reason}
		}
		f.closeAfter = true
	}
	if f.gated && f.req == nil && f.body == nil {
		// Read before authentication: decode the body now that the
		// Session allows this API.
		hdr, req, perr := protocol.ParseRequest(*f.frame)
		switch {
		case perr == nil:
			f.hdr, f.req = hdr, req
		case key == protocol.KeyApiVersions && errors.Is(perr, protocol.ErrUnsupportedVersion):
			// handle answers UNSUPPORTED_VERSION at v0; the Session
			// stays where it is, so the client may retry.
		default:
			return d, false, fmt.Errorf("unparsable %s request during authentication: %w", apiName(key), perr)
		}
	}
	return d, true, nil
}

// handleRawToken answers one bare SASL token (after SaslHandshake v0): the
// response is the challenge as a bare size-prefixed frame.
func (c *conn) handleRawToken(f *inflight) error {
	r := c.sess.AuthenticateRaw(*f.frame, time.Now())
	if r.NoResponse || r.Close {
		c.logAuthFailure(r.ErrorMessage)
		return &errAuthClose{reason: "SASL authentication failed (raw tokens)"}
	}
	if r.Done {
		c.onAuthenticated()
	}
	out := c.s.getResp(len(r.AuthBytes) + 4)
	out = binary.BigEndian.AppendUint32(out, uint32(len(r.AuthBytes)))
	f.out = append(out, r.AuthBytes...)
	return nil
}

// onAuthenticated records the principal once a SASL exchange completes; the
// next requests' reqCtx carry it.
func (c *conn) onAuthenticated() {
	p, _ := c.sess.Principal()
	c.principal = p
	detail := ""
	if c.sess.TokenAuthenticated() {
		detail = "delegation token " + c.sess.TokenID()
	}
	c.auditAuthentication(audit.Success, p.String(), c.sess.Mechanism(), detail)
	c.logger.Debug("authenticated", zap.String("listener", c.listener), zap.String("mechanism", c.sess.Mechanism()),
		zap.Stringer("principal", p))
}

// logAuthFailure logs a failed login with what the client is told, never
// the credentials.
func (c *conn) logAuthFailure(message string) {
	c.auditAuthentication(audit.Failure, "", c.sess.Mechanism(), message)
	c.logger.Info("failed authentication", zap.String("listener", c.listener), zap.String("mechanism", c.sess.Mechanism()),
		zap.String("client_host", c.host), zap.String("message", message))
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
