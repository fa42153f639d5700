package server

import (
	"context"

	"github.com/spool-broker/spool/auth"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// RenewDelegationToken (key 39): versions 1-2.
//
// Behaviour:
//   - Renews the token its HMAC names, by its owner or a renewer, for the
//     smaller of delegation.token.expiry.time.ms and the period asked
//     (when positive), capped at the token's maximum; written by the
//     active controller (forwarded in an Envelope). Errors and the
//     connection rule: api_38_create_delegation_token.go.
//
// Version notes:
//   - v1 is the baseline (Kafka 4.0 removed v0). v2: flexible.
//
// Where Spool differs from Kafka 4.3:
//   - Those of all token requests (api_38_create_delegation_token.go);
//     none known for Renew itself.

func (b *Broker) handleRenewDelegationToken(ctx context.Context, rc *reqCtx, req *protocol.RenewDelegationTokenRequest) (*protocol.RenewDelegationTokenResponse, error) {
	tokenID := b.tokenIDForHMAC(req.Hmac)
	if !allowTokenRequests(rc) {
		b.auditTokenChange(rc, "RENEW_DELEGATION_TOKEN", tokenID, auth.Principal{}, errcode.DelegationTokenRequestNotAllowed)
		return &protocol.RenewDelegationTokenResponse{ErrorCode: errcode.DelegationTokenRequestNotAllowed, ExpiryTimestampMs: errorTimestamp}, nil
	}
	resp, err := b.ctrl.RenewDelegationToken(ctx, rc.principal, rc.host, req)
	if err != nil {
		code, _ := controllerErrorCode(err)
		resp = &protocol.RenewDelegationTokenResponse{ErrorCode: code, ExpiryTimestampMs: errorTimestamp}
	} else {
		b.syncImage()
	}
	b.auditTokenChange(rc, "RENEW_DELEGATION_TOKEN", tokenID, auth.Principal{}, resp.ErrorCode)
	return resp, nil
}
