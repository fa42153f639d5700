package controller

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/auth"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// Delegation tokens (KIP-48) as Kafka 4.3's DelegationTokenControlManager
// keeps them: the token's information lives in the metadata log, never its
// HMAC. Every node that knows delegation.token.secret.key recomputes the
// HMAC (HmacSHA512 of the token ID under the key), so all brokers and
// controllers of a cluster must share the key:
//
//	DelegationTokenRecord (10)        Owner, Requester, Renewers, IssueTimestamp,
//	                                  MaxTimestamp, ExpirationTimestamp, TokenId
//	RemoveDelegationTokenRecord (26)  TokenId
//
// Owner, Requester and Renewers are principals written "Type:Name". A
// renewal or an expiry rewrites the whole DelegationTokenRecord with the new
// ExpirationTimestamp; an immediate expiry (a negative period) and the
// periodic sweep of expired tokens remove it.
//
// Invariant: IssueTimestamp <= ExpirationTimestamp <= MaxTimestamp for a
// token the controller wrote (Create, Renew and Expire cap the expiry at
// MaxTimestamp).

const (
	DelegationTokenRecordType       RecordType = 10
	RemoveDelegationTokenRecordType RecordType = 26
)

// DelegationTokenRecord creates or replaces a delegation token.
type DelegationTokenRecord struct {
	Owner               string
	Requester           string
	Renewers            []string
	IssueTimestamp      int64
	MaxTimestamp        int64
	ExpirationTimestamp int64
	TokenID             string
}

// RemoveDelegationTokenRecord deletes a delegation token.
type RemoveDelegationTokenRecord struct {
	TokenID string
}

func (*DelegationTokenRecord) Type() RecordType       { return DelegationTokenRecordType }
func (*RemoveDelegationTokenRecord) Type() RecordType { return RemoveDelegationTokenRecordType }
func (*DelegationTokenRecord) version() uint8         { return 0 }
func (*RemoveDelegationTokenRecord) version() uint8   { return 0 }

func (r *DelegationTokenRecord) appendBody(dst []byte) []byte {
	dst = appendString(dst, r.Owner)
	dst = appendString(dst, r.Requester)
	dst = appendUvarint(dst, uint64(len(r.Renewers))+1)
	for _, p := range r.Renewers {
		dst = appendString(dst, p)
	}
	dst = appendVarint(dst, r.IssueTimestamp)
	dst = appendVarint(dst, r.MaxTimestamp)
	dst = appendVarint(dst, r.ExpirationTimestamp)
	return appendString(dst, r.TokenID)
}

func (r *DelegationTokenRecord) decodeBody(d *reader, _ uint8) {
	r.Owner = d.string()
	r.Requester = d.string()
	if n := d.count(); n > 0 {
		r.Renewers = make([]string, n)
		for i := range r.Renewers {
			r.Renewers[i] = d.string()
		}
	}
	r.IssueTimestamp = d.int64()
	r.MaxTimestamp = d.int64()
	r.ExpirationTimestamp = d.int64()
	r.TokenID = d.string()
}

func (r *RemoveDelegationTokenRecord) appendBody(dst []byte) []byte {
	return appendString(dst, r.TokenID)
}

func (r *RemoveDelegationTokenRecord) decodeBody(d *reader, _ uint8) { r.TokenID = d.string() }

// DelegationToken is a token as the image holds it (Kafka's
// TokenInformation). Timestamps are milliseconds since the epoch.
type DelegationToken struct {
	TokenID             string
	Owner               auth.Principal
	Requester           auth.Principal
	Renewers            []auth.Principal
	IssueTimestamp      int64
	MaxTimestamp        int64
	ExpirationTimestamp int64
}

// OwnerOrRenewer is Kafka's TokenInformation.ownerOrRenewer.
func (t DelegationToken) OwnerOrRenewer(p auth.Principal) bool {
	return t.Owner == p || t.Requester == p || slices.Contains(t.Renewers, p)
}

// Expired reports whether the token is past its expiry or maximum
// lifetime at now (ms), as Kafka's checks: strictly before now.
func (t DelegationToken) Expired(nowMs int64) bool {
	return t.MaxTimestamp < nowMs || t.ExpirationTimestamp < nowMs
}

// allowedToRenew is Kafka's DelegationTokenControlManager.allowedToRenew:
// the owner or a renewer.
func (t DelegationToken) allowedToRenew(p auth.Principal) bool {
	return t.Owner == p || slices.Contains(t.Renewers, p)
}

func (t DelegationToken) record() *DelegationTokenRecord {
	r := &DelegationTokenRecord{Owner: t.Owner.String(), Requester: t.Requester.String(), IssueTimestamp: t.IssueTimestamp,
		MaxTimestamp: t.MaxTimestamp, ExpirationTimestamp: t.ExpirationTimestamp, TokenID: t.TokenID}
	for _, p := range t.Renewers {
		r.Renewers = append(r.Renewers, p.String())
	}
	return r
}

func tokenFromRecord(r *DelegationTokenRecord) (DelegationToken, error) {
	t := DelegationToken{TokenID: r.TokenID, IssueTimestamp: r.IssueTimestamp, MaxTimestamp: r.MaxTimestamp,
		ExpirationTimestamp: r.ExpirationTimestamp}
	var err error
	if t.Owner, err = auth.ParsePrincipal(r.Owner); err != nil {
		return t, fmt.Errorf("delegation token %s owner: %w", r.TokenID, err)
	}
	if t.Requester, err = auth.ParsePrincipal(r.Requester); err != nil {
		return t, fmt.Errorf("delegation token %s requester: %w", r.TokenID, err)
	}
	for _, s := range r.Renewers {
		p, err := auth.ParsePrincipal(s)
		if err != nil {
			return t, fmt.Errorf("delegation token %s renewer: %w", r.TokenID, err)
		}
		t.Renewers = append(t.Renewers, p)
	}
	return t, nil
}

// DelegationTokenHMAC is the token's HMAC under the secret key
// (delegation.token.secret.key): HmacSHA512 of the token ID's UTF-8 bytes,
// as Kafka's DelegationTokenManager.createHmac. Clients authenticate with
// it, base64-encoded, as the SCRAM password.
func DelegationTokenHMAC(secretKey, tokenID string) []byte {
	m := hmac.New(sha512.New, []byte(secretKey))
	m.Write([]byte(tokenID))
	return m.Sum(nil)
}

// DelegationToken is the token with the ID.
func (m *MetadataImage) DelegationToken(id string) (DelegationToken, bool) {
	t, ok := m.security().tokens[id]
	return t, ok
}

// DelegationTokens lists the image's tokens by issue time, then ID.
func (m *MetadataImage) DelegationTokens() []DelegationToken {
	out := slices.Collect(maps.Values(m.security().tokens))
	slices.SortFunc(out, func(a, b DelegationToken) int {
		return cmp.Or(cmp.Compare(a.IssueTimestamp, b.IssueTimestamp), cmp.Compare(a.TokenID, b.TokenID))
	})
	return out
}

// delegationTokenForHMAC finds the token whose HMAC under key is mac (Kafka
// looks tokens up by HMAC for renew and expire), comparing in constant
// time per token.
func (m *MetadataImage) delegationTokenForHMAC(key string, mac []byte) (DelegationToken, bool) {
	var found DelegationToken
	ok := false
	for id, t := range m.security().tokens {
		if hmac.Equal(DelegationTokenHMAC(key, id), mac) {
			found, ok = t, true
		}
	}
	return found, ok
}

// applyTokenRecord applies a delegation token record (security.go's
// applySecurity); handled is false for other records.
func (b *builder) applyTokenRecord(rec Record) (handled bool, err error) {
	switch r := rec.(type) {
	case *DelegationTokenRecord:
		t, err := tokenFromRecord(r)
		if err != nil {
			return true, err
		}
		b.mutableSecurity().tokens[r.TokenID] = t
	case *RemoveDelegationTokenRecord:
		if _, ok := b.img.security().tokens[r.TokenID]; !ok {
			return true, fmt.Errorf("remove unknown delegation token %s", r.TokenID)
		}
		delete(b.mutableSecurity().tokens, r.TokenID)
	default:
		return false, nil
	}
	return true, nil
}

// tokenRecords are the token records of a snapshot, by token ID.
func (m *MetadataImage) tokenRecords() []Record {
	s := m.security()
	var out []Record
	for _, id := range slices.Sorted(maps.Keys(s.tokens)) {
		out = append(out, s.tokens[id].record())
	}
	return out
}

// DelegationTokenConfig is the controller's delegation token setup.
type DelegationTokenConfig struct {
	// SecretKey is delegation.token.secret.key; empty disables tokens
	// (DELEGATION_TOKEN_AUTH_DISABLED).
	SecretKey string
	// MaxLifetime is delegation.token.max.lifetime.ms (7 days).
	MaxLifetime time.Duration
	// ExpiryTime is delegation.token.expiry.time.ms (1 day): the default
	// renewal period.
	ExpiryTime time.Duration
	// CheckInterval is delegation.token.expiry.check.interval.ms (1 hour):
	// how often the active controller removes expired tokens.
	CheckInterval time.Duration
}

func (c *Controller) tokensEnabled() bool { return c.cfg.DelegationTokens.SecretKey != "" }

func (c *Controller) nowMs() int64 { return c.now().UnixMilli() }

// saturatingAdd is Kafka's sum: now + d, capped at math.MaxInt64.
func saturatingAdd(now, d int64) int64 {
	if d > 0 && now > math.MaxInt64-d {
		return math.MaxInt64
	}
	return now + d
}

// randomTokenID is a random UUID in Kafka's Uuid.toString form (URL-safe
// base64 without padding), never starting with '-' (as Uuid.randomUuid).
func randomTokenID() (string, error) {
	for {
		var id [16]byte
		if _, err := rand.Read(id[:]); err != nil {
			return "", fmt.Errorf("controller: token id: %w", err)
		}
		if s := base64.RawURLEncoding.EncodeToString(id[:]); s[0] != '-' && id != ([16]byte{}) {
			return s, nil
		}
	}
}

// CreateDelegationToken is Kafka's DelegationTokenControlManager
// .createDelegationToken for requester: the owner is the request's owner
// (v3) or the requester; renewers must be User principals
// (INVALID_PRINCIPAL_TYPE); the maximum lifetime is the smaller of
// delegation.token.max.lifetime.ms and the request's (when positive), the
// first expiry delegation.token.expiry.time.ms later, capped at it. The
// broker has checked the connection may ask for tokens and that a
// requester other than the owner has CREATE_TOKENS on the owner.
func (c *Controller) CreateDelegationToken(ctx context.Context, requester auth.Principal, _ string, req *protocol.CreateDelegationTokenRequest) (*protocol.CreateDelegationTokenResponse, error) {
	owner := requester
	if req.OwnerPrincipalName != nil && *req.OwnerPrincipalName != "" {
		owner = auth.Principal{Name: *req.OwnerPrincipalName}
		if req.OwnerPrincipalType != nil {
			owner.Type = *req.OwnerPrincipalType
		}
	}
	resp := &protocol.CreateDelegationTokenResponse{PrincipalType: owner.Type, PrincipalName: owner.Name,
		TokenRequesterPrincipalType: requester.Type, TokenRequesterPrincipalName: requester.Name}
	if !c.tokensEnabled() {
		resp.ErrorCode = errcode.DelegationTokenAuthDisabled
		return resp, nil
	}
	done, err := c.beginOp(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	var renewers []auth.Principal
	for _, r := range req.Renewers {
		if r.PrincipalType != auth.UserType {
			resp.ErrorCode = errcode.InvalidPrincipalType
			return resp, nil
		}
		renewers = append(renewers, auth.Principal{Type: r.PrincipalType, Name: r.PrincipalName})
	}
	now := c.nowMs()
	maxLife := c.cfg.DelegationTokens.MaxLifetime.Milliseconds()
	if req.MaxLifetimeMs > 0 {
		maxLife = min(maxLife, req.MaxLifetimeMs)
	}
	maxTs := saturatingAdd(now, maxLife)
	expiry := min(maxTs, saturatingAdd(now, c.cfg.DelegationTokens.ExpiryTime.Milliseconds()))
	id, err := randomTokenID()
	if err != nil {
		return nil, err
	}
	for _, taken := c.Image().DelegationToken(id); taken; _, taken = c.Image().DelegationToken(id) {
		if id, err = randomTokenID(); err != nil {
			return nil, err
		}
	}
	t := DelegationToken{TokenID: id, Owner: owner, Requester: requester, Renewers: renewers,
		IssueTimestamp: now, MaxTimestamp: maxTs, ExpirationTimestamp: expiry}
	if _, err := c.apply(ctx, []Record{t.record()}); err != nil {
		return nil, err
	}
	resp.IssueTimestampMs, resp.ExpiryTimestampMs, resp.MaxTimestampMs = now, expiry, maxTs
	resp.TokenID = id
	resp.Hmac = DelegationTokenHMAC(c.cfg.DelegationTokens.SecretKey, id)
	return resp, nil
}

// tokenChange is a Renew or Expire under way: the operation begun (done
// ends it), the time it began, and the token the request's HMAC names.
// A non-zero errorCode is the whole answer: delegation tokens are
// disabled (DELEGATION_TOKEN_AUTH_DISABLED) or no token has that HMAC
// (DELEGATION_TOKEN_NOT_FOUND). The checks after these differ in order
// between Renew and Expire, as they do in Kafka, so each makes its own.
type tokenChange struct {
	done      func()
	now       int64
	token     DelegationToken
	errorCode int16
}

// beginTokenChange is the preamble Renew and Expire share. Unless it
// returns an error, the caller must call done.
func (c *Controller) beginTokenChange(ctx context.Context, mac []byte) (tokenChange, error) {
	if !c.tokensEnabled() {
		return tokenChange{done: func() {}, errorCode: errcode.DelegationTokenAuthDisabled}, nil
	}
	done, err := c.beginOp(ctx)
	if err != nil {
		return tokenChange{}, err
	}
	change := tokenChange{done: done, now: c.nowMs()}
	t, ok := c.Image().delegationTokenForHMAC(c.cfg.DelegationTokens.SecretKey, mac)
	if !ok {
		change.errorCode = errcode.DelegationTokenNotFound
		return change, nil
	}
	change.token = t
	return change, nil
}

// RenewDelegationToken is Kafka's renewDelegationToken: the token named
// by its HMAC (DELEGATION_TOKEN_NOT_FOUND), not expired
// (DELEGATION_TOKEN_EXPIRED), renewed by its owner or a renewer
// (DELEGATION_TOKEN_OWNER_MISMATCH) for the smaller of
// delegation.token.expiry.time.ms and the request's period (when
// positive), capped at the token's maximum.
func (c *Controller) RenewDelegationToken(ctx context.Context, principal auth.Principal, _ string, req *protocol.RenewDelegationTokenRequest) (*protocol.RenewDelegationTokenResponse, error) {
	resp := &protocol.RenewDelegationTokenResponse{}
	change, err := c.beginTokenChange(ctx, req.Hmac)
	if err != nil {
		return nil, err
	}
	defer change.done()
	if change.errorCode != 0 {
		resp.ErrorCode = change.errorCode
		return resp, nil
	}
	now, t := change.now, change.token
	switch {
	case t.Expired(now):
		resp.ErrorCode = errcode.DelegationTokenExpired
		return resp, nil
	case !t.allowedToRenew(principal):
		resp.ErrorCode = errcode.DelegationTokenOwnerMismatch
		return resp, nil
	}
	period := c.cfg.DelegationTokens.ExpiryTime.Milliseconds()
	if req.RenewPeriodMs > 0 {
		period = min(period, req.RenewPeriodMs)
	}
	t.ExpirationTimestamp = min(t.MaxTimestamp, saturatingAdd(now, period))
	if _, err := c.apply(ctx, []Record{t.record()}); err != nil {
		return nil, err
	}
	resp.ExpiryTimestampMs = t.ExpirationTimestamp
	return resp, nil
}

// ExpireDelegationToken is Kafka's expireDelegationToken: the token named
// by its HMAC, by its owner or a renewer; a negative period removes it at
// once (the answer's expiry is now), otherwise an unexpired token's expiry
// moves to now + period, capped at its maximum (DELEGATION_TOKEN_EXPIRED
// for an expired one).
func (c *Controller) ExpireDelegationToken(ctx context.Context, principal auth.Principal, _ string, req *protocol.ExpireDelegationTokenRequest) (*protocol.ExpireDelegationTokenResponse, error) {
	resp := &protocol.ExpireDelegationTokenResponse{}
	change, err := c.beginTokenChange(ctx, req.Hmac)
	if err != nil {
		return nil, err
	}
	defer change.done()
	if change.errorCode != 0 {
		resp.ErrorCode = change.errorCode
		return resp, nil
	}
	now, t := change.now, change.token
	var rec Record
	switch {
	case !t.allowedToRenew(principal):
		resp.ErrorCode = errcode.DelegationTokenOwnerMismatch
	case req.ExpiryTimePeriodMs < 0:
		resp.ExpiryTimestampMs = now
		rec = &RemoveDelegationTokenRecord{TokenID: t.TokenID}
	case t.Expired(now):
		resp.ErrorCode = errcode.DelegationTokenExpired
	default:
		t.ExpirationTimestamp = min(t.MaxTimestamp, saturatingAdd(now, req.ExpiryTimePeriodMs))
		resp.ExpiryTimestampMs = t.ExpirationTimestamp
		rec = t.record()
	}
	if rec == nil {
		return resp, nil
	}
	if _, err := c.apply(ctx, []Record{rec}); err != nil {
		return nil, err
	}
	return resp, nil
}

// sweepDelegationTokens runs while the node lives: every
// delegation.token.expiry.check.interval.ms the active controller removes
// the tokens past their expiry or maximum lifetime (Kafka's
// sweepExpiredDelegationTokens).
func (c *Controller) sweepDelegationTokens(ctx context.Context) {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.DelegationTokens.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !c.ready.Load() {
			continue
		}
		if err := c.removeExpiredTokens(ctx); err != nil {
			c.logger.Debug("expired delegation tokens not removed", zap.Error(err))
		}
	}
}

// removeExpiredTokens writes a RemoveDelegationTokenRecord for every
// expired token, in one batch.
func (c *Controller) removeExpiredTokens(ctx context.Context) error {
	done, err := c.beginOp(ctx)
	if err != nil {
		return err
	}
	defer done()
	now := c.nowMs()
	var recs []Record
	for _, t := range c.Image().DelegationTokens() {
		if t.Expired(now) {
			c.logger.Info("delegation token expired", zap.String("token_id", t.TokenID), zap.Stringer("owner", t.Owner))
			recs = append(recs, &RemoveDelegationTokenRecord{TokenID: t.TokenID})
		}
	}
	_, err = c.apply(ctx, recs)
	return err
}
