package server

import (
	"context"

	"github.com/spool-broker/spool/auth"
	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// DescribeDelegationToken (key 41): versions 1-3.
//
// Behaviour:
//   - Lists tokens from this broker's image: no owners (null) means every
//     token, an empty list none; a token is shown to its owner, requester
//     and renewers, and to principals with DESCRIBE on the DELEGATION_TOKEN
//     or DESCRIBE_TOKENS on its owner (USER), with its HMAC, as Kafka.
//
// Version notes:
//   - v1 is the baseline (Kafka 4.0 removed v0). v2: flexible.
//   - v3: each token's requester (TokenRequesterPrincipalType/Name).
//
// Where Spool differs from Kafka 4.3:
//   - Those of all token requests (api_38_create_delegation_token.go);
//     none known for Describe itself.

func (b *Broker) handleDescribeDelegationToken(ctx context.Context, rc *reqCtx, req *protocol.DescribeDelegationTokenRequest) (*protocol.DescribeDelegationTokenResponse, error) {
	resp := &protocol.DescribeDelegationTokenResponse{}
	key := b.tokenSecretKey()
	switch {
	case !allowTokenRequests(rc):
		resp.ErrorCode = errcode.DelegationTokenRequestNotAllowed
		return resp, nil
	case key == "":
		resp.ErrorCode = errcode.DelegationTokenAuthDisabled
		return resp, nil
	case req.Owners != nil && len(req.Owners) == 0:
		return resp, nil
	}
	var owners []auth.Principal
	for _, o := range req.Owners {
		owners = append(owners, auth.Principal{Type: o.PrincipalType, Name: o.PrincipalName})
	}
	img := b.image.Load()
	if img == nil {
		return resp, nil
	}
	for _, t := range img.DelegationTokens() {
		if !b.describableToken(rc, req.Owners != nil, owners, t) {
			continue
		}
		d := protocol.DescribeDelegationTokenResponseDescribedDelegationToken{
			PrincipalType: t.Owner.Type, PrincipalName: t.Owner.Name,
			TokenRequesterPrincipalType: t.Requester.Type, TokenRequesterPrincipalName: t.Requester.Name,
			IssueTimestamp: t.IssueTimestamp, ExpiryTimestamp: t.ExpirationTimestamp, MaxTimestamp: t.MaxTimestamp,
			TokenID: t.TokenID, Hmac: controller.DelegationTokenHMAC(key, t.TokenID)}
		for _, r := range t.Renewers {
			d.Renewers = append(d.Renewers, protocol.DescribeDelegationTokenResponseDescribedDelegationTokenRenewer{
				PrincipalType: r.Type, PrincipalName: r.Name})
		}
		resp.Tokens = append(resp.Tokens, d)
	}
	return resp, nil
}

// describableToken is Kafka's DelegationTokenManager.filterToken: the
// token is one of the owners asked for (when listed), and the principal
// owns, requested or renews it, or may DESCRIBE the token or
// DESCRIBE_TOKENS its owner.
func (b *Broker) describableToken(rc *reqCtx, filtered bool, owners []auth.Principal, t controller.DelegationToken) bool {
	if filtered {
		match := false
		for _, o := range owners {
			if t.OwnerOrRenewer(o) {
				match = true
				break
			}
		}
		if !match {
			return false
		}
	}
	if t.OwnerOrRenewer(rc.principal) {
		return true
	}
	return b.authorize(rc, acl.OpDescribe, acl.ResourceDelegationToken, t.TokenID) ||
		b.authorize(rc, acl.OpDescribeTokens, acl.ResourceUser, t.Owner.String())
}
