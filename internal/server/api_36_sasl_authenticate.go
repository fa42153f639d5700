package server

import (
	"context"
	"time"

	"github.com/spool-broker/spool/auth"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// handleSaslAuthenticate feeds one client token to the connection's SASL
// exchange. When the exchange completes, the connection's principal is the
// authenticated user for every later request. Wrong credentials are
// SASL_AUTHENTICATION_FAILED, answered after
// connection.failed.authentication.delay.ms, and the connection closes; the
// message never says whether the user exists. AuthBytes are never logged
// (protocol redacts them).
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
