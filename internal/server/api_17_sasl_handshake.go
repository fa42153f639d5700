package server

import (
	"context"

	"github.com/spool-broker/spool/auth"
	"github.com/spool-broker/spool/protocol"
)

// SaslHandshake (key 17): versions 0-1.
//
// Behaviour:
//   - Chooses the mechanism of the connection's SASL exchange and lists the
//     listener's enabled mechanisms (conn_auth.go decided the request may be
//     served: only before authentication, or to re-authenticate, KIP-368).
//   - A mechanism the listener does not enable is UNSUPPORTED_SASL_MECHANISM
//     and the connection closes after the answer; a second handshake during
//     an exchange is ILLEGAL_SASL_STATE and closes.
//   - On a PLAINTEXT or SSL listener, and on an authenticated connection
//     whose client cannot re-authenticate, the answer is ILLEGAL_SASL_STATE
//     with no mechanisms, as Kafka's KafkaApis.
//
// Version notes:
//   - v0: the tokens that follow are bare frames, not SaslAuthenticate
//     requests, answered with bare frames. v1: tokens in SaslAuthenticate.
//
// Where Spool differs from Kafka 4.3:
//   - GSSAPI (Kerberos) is not implemented: a listener enabling it stops
//     the broker at startup (internal/config/protections.go), so it is
//     never offered here. Otherwise none known.

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
