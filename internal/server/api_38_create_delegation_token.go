package server

import (
	"context"
	"encoding/base64"
	"sync"
	"time"

	"github.com/spool-broker/spool/auth"
	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/auth/sasl"
	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/internal/audit"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// CreateDelegationToken (key 38): versions 1-3.
//
// Delegation tokens (keys 38-41, Kafka 4.3's versions; this file holds what
// the four share: the connection check, the audit and the SCRAM
// credentials of tokens).
//
// Behaviour:
//
// As Kafka's KafkaApis and DelegationTokenControlManager:
//   - Token requests are refused with DELEGATION_TOKEN_REQUEST_NOT_ALLOWED
//     on a connection that authenticated with a delegation token, on a
//     PLAINTEXT listener, and on an SSL listener without a client
//     certificate (allowTokenRequests).
//   - Create: a requester other than the owner needs CREATE_TOKENS on the
//     owner (USER resource "User:<name>"), else
//     DELEGATION_TOKEN_AUTHORIZATION_FAILED; renewers must be User
//     principals (INVALID_PRINCIPAL_TYPE). Create, Renew and Expire are
//     written by the active controller (controller/tokens.go), forwarded
//     in an Envelope with the client's principal; without
//     delegation.token.secret.key they answer DELEGATION_TOKEN_AUTH_DISABLED.
//   - Describe reads this broker's image: no owners listed (null) means
//     every token, an empty list none; a token is shown to its owner,
//     requester and renewers, and to principals with DESCRIBE on the
//     DELEGATION_TOKEN or DESCRIBE_TOKENS on its owner (USER).
//   - A client authenticates with SCRAM (either mechanism), the token ID as
//     user name, the base64 HMAC as password and the extension
//     tokenauth=true; its principal is User:<owner name>. An expired token
//     authenticates no one, even before the controller's sweep removes it
//     (Kafka accepts it until the sweep).
//   - Every Create, Renew and Expire is written to the audit log
//     (event token_change) with its outcome; the HMAC never is.
//
// Version notes:
//   - v1 is the baseline (Kafka 4.0 removed v0). v2: flexible.
//   - v3: OwnerPrincipalType/OwnerPrincipalName, a token for another user
//     (KIP-373), and the token's requester in the response.
//
// Where Spool differs from Kafka 4.3:
//   - An expired token stops authenticating at its expiry; Kafka accepts
//     it until the expiry sweep removes it.
//   - The audit log (token_change) is Spool's own; Kafka has none.
//   - Applies to keys 39-41 as well.

// errorTimestamp is Kafka's DelegationTokenManager.ErrorTimestamp, the
// expiry a refused renew or expire answers.
const errorTimestamp = -1

// allowTokenRequests is Kafka's KafkaApis.allowTokenRequests.
func allowTokenRequests(rc *reqCtx) bool {
	if rc.c == nil {
		return false
	}
	if rc.c.sess != nil && rc.c.sess.TokenAuthenticated() {
		return false
	}
	switch rc.c.sec.Protocol {
	case "PLAINTEXT", "":
		return false
	case "SSL":
		return rc.principal != auth.Anonymous
	}
	return true
}

func (b *Broker) handleCreateDelegationToken(ctx context.Context, rc *reqCtx, req *protocol.CreateDelegationTokenRequest) (*protocol.CreateDelegationTokenResponse, error) {
	requester := rc.principal
	owner := requester
	if req.OwnerPrincipalName != nil && *req.OwnerPrincipalName != "" {
		owner = auth.Principal{Name: *req.OwnerPrincipalName}
		if req.OwnerPrincipalType != nil {
			owner.Type = *req.OwnerPrincipalType
		}
	}
	refuse := func(code int16) (*protocol.CreateDelegationTokenResponse, error) {
		b.auditTokenChange(rc, "CREATE_DELEGATION_TOKEN", "", owner, code)
		return &protocol.CreateDelegationTokenResponse{ErrorCode: code, PrincipalType: owner.Type, PrincipalName: owner.Name,
			TokenRequesterPrincipalType: requester.Type, TokenRequesterPrincipalName: requester.Name}, nil
	}
	if !allowTokenRequests(rc) {
		return refuse(errcode.DelegationTokenRequestNotAllowed)
	}
	if owner != requester && !b.authorize(rc, acl.OpCreateTokens, acl.ResourceUser, owner.String()) {
		return refuse(errcode.DelegationTokenAuthorizationFailed)
	}
	for _, r := range req.Renewers {
		if r.PrincipalType != auth.UserType {
			return refuse(errcode.InvalidPrincipalType)
		}
	}
	resp, err := b.ctrl.CreateDelegationToken(ctx, requester, rc.host, req)
	if err != nil {
		code, _ := controllerErrorCode(err)
		return refuse(code)
	}
	b.syncImage()
	b.auditTokenChange(rc, "CREATE_DELEGATION_TOKEN", resp.TokenID, owner, resp.ErrorCode)
	return resp, nil
}

// tokenSecretKey is delegation.token.secret.key ("" when tokens are
// disabled).
func (b *Broker) tokenSecretKey() string {
	if b.cfg == nil {
		return ""
	}
	return b.cfg.DelegationTokens().SecretKey
}

// tokenIDForHMAC names the token an HMAC belongs to, for the audit log
// ("" when none does).
func (b *Broker) tokenIDForHMAC(mac []byte) string {
	key := b.tokenSecretKey()
	img := b.image.Load()
	if key == "" || img == nil || b.audit == nil {
		return ""
	}
	for _, t := range img.DelegationTokens() {
		if string(controller.DelegationTokenHMAC(key, t.TokenID)) == string(mac) {
			return t.TokenID
		}
	}
	return ""
}

// auditTokenChange logs one token creation, renewal or expiry with its
// outcome (code 0: success); never the HMAC.
func (b *Broker) auditTokenChange(rc *reqCtx, what, tokenID string, owner auth.Principal, code int16) {
	if b.audit == nil {
		return
	}
	e := audit.Event{Event: audit.EventTokenChange, Outcome: audit.Success, Principal: rc.principal.String(), ClientAddress: rc.host,
		Listener: rc.auditListener(), Operation: what, ResourceType: "DELEGATION_TOKEN", ResourceName: tokenID}
	if owner != (auth.Principal{}) {
		e.Detail = "owner " + owner.String()
	}
	if code != 0 {
		e.Outcome = audit.Failure
		if e.Detail != "" {
			e.Detail += "; "
		}
		e.Detail += "error " + errcode.Name(code)
	}
	b.audit.Log(e)
}

// tokenCredentials are the SCRAM credentials of delegation tokens, derived
// from the token's HMAC (base64, the client's password) with a random salt
// and Kafka's minimum iterations, as Kafka's DelegationTokenManager
// prepares them. The HMAC of a token ID never changes under one secret
// key, so a derived credential is kept and reused: a login costs one
// derivation per token and mechanism, not one per attempt.
type tokenCredentials struct {
	mu    sync.Mutex
	creds map[tokenCredKey]sasl.ScramCredential
}

type tokenCredKey struct {
	mech sasl.ScramMechanism
	id   string
}

// TokenCredential implements sasl.TokenStore over the broker's newest
// image: a token that exists, with its owner's name (the session's
// principal is User:<name>, as Kafka's token cache answers the owner's
// name) and expiry. The SCRAM server refuses it once expired.
func (s imageCredentials) TokenCredential(m sasl.ScramMechanism, tokenID string) (sasl.ScramCredential, string, time.Time, bool) {
	key := s.b.tokenSecretKey()
	img := s.b.image.Load()
	if key == "" || img == nil {
		return sasl.ScramCredential{}, "", time.Time{}, false
	}
	t, ok := img.DelegationToken(tokenID)
	if !ok {
		return sasl.ScramCredential{}, "", time.Time{}, false
	}
	cred, err := s.b.tokenCreds.get(m, tokenID, key, img)
	if err != nil {
		return sasl.ScramCredential{}, "", time.Time{}, false
	}
	return cred, t.Owner.Name, time.UnixMilli(t.ExpirationTimestamp), true
}

func (tc *tokenCredentials) get(m sasl.ScramMechanism, id, key string, img *controller.MetadataImage) (sasl.ScramCredential, error) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	k := tokenCredKey{m, id}
	if c, ok := tc.creds[k]; ok {
		return c, nil
	}
	password := base64.StdEncoding.EncodeToString(controller.DelegationTokenHMAC(key, id))
	c, err := m.NewCredential(password, sasl.ScramMinIterations)
	if err != nil {
		return sasl.ScramCredential{}, err
	}
	if tc.creds == nil {
		tc.creds = map[tokenCredKey]sasl.ScramCredential{}
	}
	// Forget removed tokens now and then, so the map stays bounded by
	// the tokens that exist.
	if len(tc.creds) >= 64 && len(tc.creds) >= 4*len(img.DelegationTokens()) {
		for ck := range tc.creds {
			if _, ok := img.DelegationToken(ck.id); !ok {
				delete(tc.creds, ck)
			}
		}
	}
	tc.creds[k] = c
	return c, nil
}
