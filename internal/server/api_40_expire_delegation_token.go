package server

import (
	"context"

	"github.com/spool-broker/spool/auth"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// ExpireDelegationToken (key 40): versions 1-2.
//
// Behaviour:
//   - Moves the expiry of the token its HMAC names to now + the period
//     (capped at its maximum), or removes it at once for a negative
//     period, by its owner or a renewer; written by the active controller
//     (forwarded in an Envelope). Errors and the connection rule:
//     api_38_create_delegation_token.go.
//
// Version notes:
//   - v1 is the baseline (Kafka 4.0 removed v0). v2: flexible.
//
// Where Spool differs from Kafka 4.3:
//   - Those of all token requests (api_38_create_delegation_token.go);
//     none known for Expire itself.

func (b *Broker) handleExpireDelegationToken(ctx context.Context, rc *reqCtx, req *protocol.ExpireDelegationTokenRequest) (*protocol.ExpireDelegationTokenResponse, error) {
	tokenID := b.tokenIDForHMAC(req.Hmac)
	if !allowTokenRequests(rc) {
		b.auditTokenChange(rc, "EXPIRE_DELEGATION_TOKEN", tokenID, auth.Principal{}, errcode.DelegationTokenRequestNotAllowed)
		return &protocol.ExpireDelegationTokenResponse{ErrorCode: errcode.DelegationTokenRequestNotAllowed, ExpiryTimestampMs: errorTimestamp}, nil
	}
	resp, err := b.ctrl.ExpireDelegationToken(ctx, rc.principal, rc.host, req)
	if err != nil {
		code, _ := controllerErrorCode(err)
		resp = &protocol.ExpireDelegationTokenResponse{ErrorCode: code, ExpiryTimestampMs: errorTimestamp}
	} else {
		b.syncImage()
	}
	b.auditTokenChange(rc, "EXPIRE_DELEGATION_TOKEN", tokenID, auth.Principal{}, resp.ErrorCode)
	return resp, nil
}
