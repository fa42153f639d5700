package seclink

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

	"github.com/spool-broker/spool/auth"
	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
)

// ErrRefused marks a connection Accept closed: the TLS handshake failed,
// the client did not authenticate, or it broke the SASL protocol.
var ErrRefused = errors.New("seclink: connection refused")

// Accept runs the security of a new connection on a listener that serves
// its requests one at a time (the CONTROLLER listener): the TLS handshake
// (SSL, SASL_SSL), then, on a SASL listener, ApiVersions, SaslHandshake and
// SaslAuthenticate (v0 raw tokens included) until the client is
// authenticated. Frames before authentication are capped at
// sasl.server.max.receive.size and read one at a time; nothing else is
// answered. apiVersions answers a pre-authentication ApiVersions request.
//
// It returns the connection to use from now on (TLS-wrapped and buffered:
// bytes the client sent after authenticating are kept) and the principal:
// User:ANONYMOUS on PLAINTEXT, and on SSL without a client certificate.
// The whole exchange must finish within timeout.
func (ls *Listener) Accept(ctx context.Context, nc net.Conn, timeout time.Duration, apiVersions func(hdr *protocol.RequestHeader, req protocol.Request) protocol.Response) (net.Conn, auth.Principal, error) {
	return ls.AcceptLogin(ctx, nc, timeout, apiVersions, nil)
}

// Login is what AcceptLogin learned of a login, for the audit log: the
// SASL mechanism ("SSL" for a TLS-only listener) and, for a delegation
// token login, the token's ID.
type Login struct {
	Mechanism string
	TokenID   string
}

// AcceptLogin is Accept that also fills login (when not nil), whether the
// login succeeded or not.
func (ls *Listener) AcceptLogin(ctx context.Context, nc net.Conn, timeout time.Duration, apiVersions func(hdr *protocol.RequestHeader, req protocol.Request) protocol.Response, login *Login) (net.Conn, auth.Principal, error) {
	if login == nil {
		login = &Login{}
	}
	if ls.UsesTLS() {
		login.Mechanism = "SSL"
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	principal := auth.Anonymous
	if ls.UsesTLS() {
		tc := cryptotls.Server(nc, ls.TLS.Config())
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, principal, fmt.Errorf("%w: TLS handshake: %w", ErrRefused, err)
		}
		nc = tc
		if ls.Principals != nil {
			p, err := ls.Principals.Principal(tc.ConnectionState())
			if err != nil {
				return nil, principal, fmt.Errorf("%w: no principal for the client certificate: %w", ErrRefused, err)
			}
			principal = p
		}
	}
	if ls.SASL == nil {
		return nc, principal, nil
	}
	dl, _ := ctx.Deadline()
	_ = nc.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	br := bufio.NewReaderSize(nc, 16<<10)
	sess := auth.NewSASLSession(ls.SASL)
	defer func() { login.Mechanism, login.TokenID = sess.Mechanism(), sess.TokenID() }()
	if ap, err := netip.ParseAddrPort(nc.RemoteAddr().String()); err == nil {
		sess.SetClientHost(acl.HostString(ap.Addr()))
	}
	var out []byte
	write := func(corr int32, key, v int16, resp protocol.Response) error {
		var err error
		out, err = protocol.AppendResponse(out[:0], corr, key, v, resp)
		if err != nil {
			return err
		}
		_, err = nc.Write(out)
		return err
	}
	for sess.Phase() != auth.PhaseAuthenticated {
		var sizeBuf [4]byte
		if _, err := io.ReadFull(br, sizeBuf[:]); err != nil {
			return nil, principal, fmt.Errorf("%w: read: %w", ErrRefused, err)
		}
		size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
		if limit := sess.MaxFrameSize(auth.DefaultMaxReceiveSize); size < 0 || size > limit {
			return nil, principal, fmt.Errorf("%w: frame of %d bytes before authentication (sasl.server.max.receive.size %d)", ErrRefused, size, limit)
		}
		frame := make([]byte, size)
		if _, err := io.ReadFull(br, frame); err != nil {
			return nil, principal, fmt.Errorf("%w: read: %w", ErrRefused, err)
		}
		if sess.RawTokens() {
			r := sess.AuthenticateRaw(frame, time.Now())
			if r.Close {
				return nil, principal, fmt.Errorf("%w: SASL authentication failed", ErrRefused)
			}
			if !r.NoResponse {
				b := binary.BigEndian.AppendUint32(nil, uint32(len(r.AuthBytes)))
				if _, err := nc.Write(append(b, r.AuthBytes...)); err != nil {
					return nil, principal, err
				}
			}
			continue
		}
		hdr, req, err := protocol.ParseRequest(frame)
		v := hdr.RequestAPIVersion
		if err != nil {
			if hdr.RequestAPIKey == protocol.KeyApiVersions && errors.Is(err, protocol.ErrUnsupportedVersion) {
				if err := write(hdr.CorrelationID, hdr.RequestAPIKey, 0, protocol.UnsupportedAPIVersionsResponse()); err != nil {
					return nil, principal, err
				}
				continue
			}
			return nil, principal, fmt.Errorf("%w: unparsable request before authentication: %w", ErrRefused, err)
		}
		d := sess.Check(hdr.RequestAPIKey, time.Now())
		switch d.Action {
		case auth.HandleApiVersions:
			resp := apiVersions(&hdr, req)
			if err := write(hdr.CorrelationID, hdr.RequestAPIKey, v, resp); err != nil {
				return nil, principal, err
			}
			sess.ApiVersionsAnswered(true)
		case auth.HandleHandshake:
			r := sess.Handshake(req.(*protocol.SaslHandshakeRequest).Mechanism, v)
			if err := write(hdr.CorrelationID, hdr.RequestAPIKey, v, &protocol.SaslHandshakeResponse{ErrorCode: r.ErrorCode, Mechanisms: r.Mechanisms}); err != nil {
				return nil, principal, err
			}
			if r.Close {
				return nil, principal, fmt.Errorf("%w: SaslHandshake refused (error %d)", ErrRefused, r.ErrorCode)
			}
		case auth.HandleAuthenticate:
			r := sess.Authenticate(req.(*protocol.SaslAuthenticateRequest).AuthBytes, v, time.Now())
			if r.NoResponse {
				return nil, principal, fmt.Errorf("%w: SASL authentication failed", ErrRefused)
			}
			if r.Close && r.CloseDelay > 0 {
				// connection.failed.authentication.delay.ms: slow a
				// password guesser down before it learns the answer.
				t := time.NewTimer(r.CloseDelay)
				select {
				case <-t.C:
				case <-ctx.Done():
				}
				t.Stop()
			}
			resp := &protocol.SaslAuthenticateResponse{ErrorCode: r.ErrorCode, AuthBytes: r.AuthBytes, SessionLifetimeMs: r.SessionLifetimeMs}
			if r.ErrorMessage != "" {
				resp.ErrorMessage = &r.ErrorMessage
			}
			if err := write(hdr.CorrelationID, hdr.RequestAPIKey, v, resp); err != nil {
				return nil, principal, err
			}
			if r.Close {
				return nil, principal, fmt.Errorf("%w: SASL authentication failed: %s", ErrRefused, r.ErrorMessage)
			}
		default:
			return nil, principal, fmt.Errorf("%w: %s", ErrRefused, d.Reason)
		}
	}
	p, _ := sess.Principal()
	if !stop() {
		return nil, principal, ctx.Err()
	}
	_ = nc.SetDeadline(time.Time{})
	return &bufferedConn{Conn: nc, r: br}, p, nil
}

// bufferedConn is a connection whose first bytes may sit in r.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
