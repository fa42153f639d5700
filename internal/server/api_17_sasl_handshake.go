package server

import (
	"context"

	"github.com/spool-broker/spool/auth"
	"github.com/spool-broker/spool/protocol"
)

// handleSaslHandshake chooses the SASL mechanism of the connection's
// exchange (conn_auth.go decided the request may be served). Version 0
// makes the following tokens bare frames, version 1 wraps them in
// SaslAuthenticate. An unknown mechanism is UNSUPPORTED_SASL_MECHANISM and
// closes the connection; on a connection that is not SASL, or is
// authenticated and cannot re-authenticate, the answer is
// ILLEGAL_SASL_STATE, as Kafka's.
func (b *Broker) handleSaslHandshake(ctx context.Context, rc *reqCtx, req *protocol.SaslHandshakeRequest) (*protocol.SaslHandshakeResponse, error) {
	c := rc.c
	switch rc.auth.Action {
	case auth.Respond, auth.RespondAndClose:
		return &protocol.SaslHandshakeResponse{ErrorCode: rc.auth.ErrorCode}, nil
	}
	if c.sess == nil {
		return &protocol.SaslHandshakeResponse{ErrorCode: auth.NewAuthenticatedSession(auth.Anonymous).Handshake(req.Mechanism, rc.v).ErrorCode}, nil
	}
	r := c.sess.Handshake(req.Mechanism, rc.v)
	if r.Close {
		rc.closeConn = true
	}
	return &protocol.SaslHandshakeResponse{ErrorCode: r.ErrorCode, Mechanisms: r.Mechanisms}, nil
}
