package server

import (
	"context"
	"time"

	"github.com/spool-broker/spool/auth"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// SaslAuthenticate (key 36): versions 0-2.
//
// Behaviour:
//   - Feeds one client token to the connection's SASL exchange (PLAIN,
//     SCRAM-SHA-256/512, OAUTHBEARER, auth/sasl) and answers the server's
//     token. When the exchange completes, every later request carries the
//     authenticated principal User:<name>.
//   - Wrong credentials are SASL_AUTHENTICATION_FAILED with Kafka's message
//     (which never tells whether the user exists), answered after
//     connection.failed.authentication.delay.ms; then the connection closes.
//   - After authentication it is ILLEGAL_SASL_STATE ("SaslAuthenticate
//     request received after successful authentication"), as on listeners
//     without SASL.
//   - AuthBytes are never logged (protocol redacts them).
//
// Version notes:
//   - v1: SessionLifetimeMs (KIP-368): connections.max.reauth.ms, or less
//     when the credential expires sooner; the client re-authenticates before
//     it ends, or the connection closes at its next request. v2: flexible.
//
// Where Spool differs from Kafka 4.3:
//   - No GSSAPI (see SaslHandshake). Otherwise none known: AuthBytes,
//     ErrorMessage and SessionLifetimeMs are answered as in Kafka; the
//     failure delay holds this connection's handler rather than Kafka's
//     network processor's delayed-close queue.

func (b *Broker) handleSaslAuthenticate(ctx context.Context, rc *reqCtx, req *protocol.SaslAuthenticateRequest) (*protocol.SaslAuthenticateResponse, error) {
	c := rc.c
	switch rc.auth.Action {
	case auth.Respond, auth.RespondAndClose:
		resp := &protocol.SaslAuthenticateResponse{ErrorCode: rc.auth.ErrorCode, AuthBytes: []byte{}}
		if rc.auth.ErrorMessage != "" {
			resp.ErrorMessage = &rc.auth.ErrorMessage
		}
		return resp, nil
	}
	if c.sess == nil {
		msg := "SaslAuthenticate request received after successful authentication"
		return &protocol.SaslAuthenticateResponse{ErrorCode: errcode.IllegalSASLState, ErrorMessage: &msg, AuthBytes: []byte{}}, nil
	}
	r := c.sess.Authenticate(req.AuthBytes, rc.v, time.Now())
	if r.NoResponse {
		return nil, &errAuthClose{reason: "SASL re-authentication with another mechanism"}
	}
	resp := &protocol.SaslAuthenticateResponse{ErrorCode: r.ErrorCode, AuthBytes: r.AuthBytes, SessionLifetimeMs: r.SessionLifetimeMs}
	if resp.AuthBytes == nil {
		resp.AuthBytes = []byte{}
	}
	if r.ErrorMessage != "" {
		resp.ErrorMessage = &r.ErrorMessage
	}
	switch {
	case r.Close:
		c.logAuthFailure(r.ErrorMessage)
		sleepCtx(ctx, r.CloseDelay)
		rc.closeConn = true
	case r.Done:
		c.onAuthenticated()
	}
	return resp, nil
}
