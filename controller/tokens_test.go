package controller

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/auth"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// TestDelegationTokenRecordsReplay: token records round-trip through the
// batch encoding and a snapshot; removing an unknown token fails the
// batch.
func TestDelegationTokenRecordsReplay(t *testing.T) {
	rec := &DelegationTokenRecord{Owner: "User:alice", Requester: "User:admin", Renewers: []string{"User:bob", "User:carol"},
		IssueTimestamp: 1000, MaxTimestamp: 9000, ExpirationTimestamp: 5000, TokenID: "tok-1"}
	decoded, err := DecodeBatch(EncodeBatch([]Record{rec, &RemoveDelegationTokenRecord{TokenID: "tok-1"}}))
	require.NoError(t, err)
	require.Equal(t, []Record{rec, &RemoveDelegationTokenRecord{TokenID: "tok-1"}}, decoded)

	f := newFSM("c")
	require.NoError(t, applyBatch(t, f, 3, rec))
	img := f.image.Load()
	tok, ok := img.DelegationToken("tok-1")
	require.True(t, ok)
	require.Equal(t, DelegationToken{TokenID: "tok-1", Owner: auth.User("alice"), Requester: auth.User("admin"),
		Renewers: []auth.Principal{auth.User("bob"), auth.User("carol")}, IssueTimestamp: 1000, MaxTimestamp: 9000, ExpirationTimestamp: 5000}, tok)
	require.True(t, tok.OwnerOrRenewer(auth.User("admin")), "the requester")
	require.False(t, tok.allowedToRenew(auth.User("admin")), "the requester renews only when owner or renewer")
	require.False(t, tok.Expired(5000))
	require.True(t, tok.Expired(5001))

	require.Error(t, applyBatch(t, f, 4, &RemoveDelegationTokenRecord{TokenID: "nope"}))
	require.Error(t, applyBatch(t, f, 4, &DelegationTokenRecord{Owner: "alice", TokenID: "bad-owner"}), "owner without a type")

	snap, err := f.Snapshot()
	require.NoError(t, err)
	sink := &bufSink{}
	require.NoError(t, snap.Persist(sink))
	g := newFSM("c")
	require.NoError(t, g.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))))
	require.Equal(t, img.DelegationTokens(), g.image.Load().DelegationTokens())

	require.NoError(t, applyBatch(t, f, 5, &RemoveDelegationTokenRecord{TokenID: "tok-1"}))
	require.Empty(t, f.image.Load().DelegationTokens())
	_, ok = img.DelegationToken("tok-1")
	require.True(t, ok, "the earlier image is unchanged")
}

// TestDelegationTokenHMAC: Kafka's HmacSHA512 of the token ID's UTF-8
// bytes under the secret key's, checked against RFC 4231 test case 2.
func TestDelegationTokenHMAC(t *testing.T) {
	require.Equal(t, "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
		hex.EncodeToString(DelegationTokenHMAC("Jefe", "what do ya want for nothing?")))
}

// TestDelegationTokenLifetimes follows Kafka's DelegationTokenControlManager
// with a controlled clock: lifetimes and renewals capped by the configs
// and the token's maximum, expiry by owner or renewer, immediate removal,
// and the sweep.
func TestDelegationTokenLifetimes(t *testing.T) {
	var now atomic.Int64
	now.Store(1_000_000)
	cfg := soleConfig(t, t.TempDir())
	cfg.Now = func() time.Time { return time.UnixMilli(now.Load()) }
	cfg.DelegationTokens = DelegationTokenConfig{SecretKey: "secret", MaxLifetime: 100 * time.Second, ExpiryTime: 10 * time.Second}
	c := openController(t, cfg)
	ctx := context.Background()
	alice, bob, eve := auth.User("alice"), auth.User("bob"), auth.User("eve")

	create := func(maxLife int64, renewers ...auth.Principal) *protocol.CreateDelegationTokenResponse {
		req := &protocol.CreateDelegationTokenRequest{MaxLifetimeMs: maxLife}
		for _, r := range renewers {
			req.Renewers = append(req.Renewers, protocol.CreateDelegationTokenRequestCreatableRenewers{PrincipalType: r.Type, PrincipalName: r.Name})
		}
		resp, err := c.CreateDelegationToken(ctx, alice, "", req)
		require.NoError(t, err)
		return resp
	}
	renew := func(p auth.Principal, mac []byte, period int64) (int16, int64) {
		resp, err := c.RenewDelegationToken(ctx, p, "", &protocol.RenewDelegationTokenRequest{Hmac: mac, RenewPeriodMs: period})
		require.NoError(t, err)
		return resp.ErrorCode, resp.ExpiryTimestampMs
	}
	expire := func(p auth.Principal, mac []byte, period int64) (int16, int64) {
		resp, err := c.ExpireDelegationToken(ctx, p, "", &protocol.ExpireDelegationTokenRequest{Hmac: mac, ExpiryTimePeriodMs: period})
		require.NoError(t, err)
		return resp.ErrorCode, resp.ExpiryTimestampMs
	}

	tok := create(-1, bob)
	require.Zero(t, tok.ErrorCode)
	require.Equal(t, int64(1_000_000), tok.IssueTimestampMs)
	require.Equal(t, int64(1_010_000), tok.ExpiryTimestampMs, "expiry.time.ms")
	require.Equal(t, int64(1_100_000), tok.MaxTimestampMs, "max.lifetime.ms")
	require.Equal(t, DelegationTokenHMAC("secret", tok.TokenID), tok.Hmac)
	short := create(5000)
	require.Equal(t, int64(1_005_000), short.MaxTimestampMs, "a shorter max lifetime asked for")
	require.Equal(t, int64(1_005_000), short.ExpiryTimestampMs, "expiry capped at the maximum")
	require.Equal(t, errcode.InvalidPrincipalType, func() int16 {
		resp, err := c.CreateDelegationToken(ctx, alice, "", &protocol.CreateDelegationTokenRequest{
			Renewers: []protocol.CreateDelegationTokenRequestCreatableRenewers{{PrincipalType: "Group", PrincipalName: "g"}}})
		require.NoError(t, err)
		return resp.ErrorCode
	}())

	for _, tc := range []struct {
		name       string
		p          auth.Principal
		period     int64
		wantCode   int16
		wantExpiry int64
	}{
		{"owner, default period", alice, -1, 0, 1_010_000},
		{"renewer, shorter period", bob, 3000, 0, 1_003_000},
		{"longer than expiry.time.ms", bob, 60_000, 0, 1_010_000},
		{"someone else", eve, -1, errcode.DelegationTokenOwnerMismatch, 0},
	} {
		t.Run("renew "+tc.name, func(t *testing.T) {
			code, exp := renew(tc.p, tok.Hmac, tc.period)
			require.Equal(t, tc.wantCode, code)
			require.Equal(t, tc.wantExpiry, exp)
		})
	}
	code, _ := renew(alice, []byte("not a token"), -1)
	require.Equal(t, errcode.DelegationTokenNotFound, code)

	// Renewals never pass the maximum.
	var exp int64
	for range 11 {
		now.Add(9000)
		code, exp = renew(alice, tok.Hmac, -1)
		require.Zero(t, code)
	}
	require.Equal(t, int64(1_099_000), now.Load())
	require.Equal(t, int64(1_100_000), exp)

	// Expiry: owner or renewer; a period moves the expiry, a negative one
	// removes the token.
	code, _ = expire(eve, tok.Hmac, 0)
	require.Equal(t, errcode.DelegationTokenOwnerMismatch, code)
	code, exp = expire(bob, tok.Hmac, 500)
	require.Zero(t, code)
	require.Equal(t, int64(1_099_500), exp)
	now.Store(1_099_501)
	code, _ = renew(alice, tok.Hmac, -1)
	require.Equal(t, errcode.DelegationTokenExpired, code)
	code, _ = expire(alice, tok.Hmac, 1000)
	require.Equal(t, errcode.DelegationTokenExpired, code)

	// The sweep removes expired tokens (both, by now) and nothing else.
	live := create(-1)
	require.NoError(t, c.removeExpiredTokens(ctx))
	var ids []string
	for _, tk := range c.Image().DelegationTokens() {
		ids = append(ids, tk.TokenID)
	}
	require.Equal(t, []string{live.TokenID}, ids)
	code, exp = expire(alice, live.Hmac, -1)
	require.Zero(t, code)
	require.Equal(t, now.Load(), exp)
	require.Empty(t, c.Image().DelegationTokens())

	// Disabled without a secret key.
	c.cfg.DelegationTokens.SecretKey = ""
	resp, err := c.CreateDelegationToken(ctx, alice, "", &protocol.CreateDelegationTokenRequest{})
	require.NoError(t, err)
	require.Equal(t, errcode.DelegationTokenAuthDisabled, resp.ErrorCode)
}

// TestEnvelope: the principal survives Kafka's DefaultPrincipalData
// encoding, and an Envelope runs its token request as that principal;
// other inner requests and unreadable principals are refused.
func TestEnvelope(t *testing.T) {
	for _, tc := range []struct {
		p     auth.Principal
		token bool
	}{{auth.User("alice"), false}, {auth.Principal{Type: "Group", Name: "a:b"}, true}, {auth.User(""), false}} {
		p, token, err := DecodePrincipal(EncodePrincipal(tc.p, tc.token))
		require.NoError(t, err)
		require.Equal(t, tc.p, p)
		require.Equal(t, tc.token, token)
	}
	_, _, err := DecodePrincipal([]byte{0, 0, 9})
	require.Error(t, err)

	cfg := soleConfig(t, t.TempDir())
	cfg.DelegationTokens = DelegationTokenConfig{SecretKey: "secret", MaxLifetime: time.Hour, ExpiryTime: time.Minute}
	c := openController(t, cfg)
	ctx := context.Background()
	env, v, err := wrapEnvelope(&protocol.CreateDelegationTokenRequest{MaxLifetimeMs: -1}, auth.User("alice"), "10.0.0.1")
	require.NoError(t, err)
	require.Equal(t, []byte{10, 0, 0, 1}, env.ClientHostAddress)
	inner, err := unwrapEnvelope(c.handleEnvelope(ctx, env), protocol.KeyCreateDelegationToken, v)
	require.NoError(t, err)
	created := inner.(*protocol.CreateDelegationTokenResponse)
	require.Zero(t, created.ErrorCode)
	require.Equal(t, "alice", created.PrincipalName)
	tok, ok := c.Image().DelegationToken(created.TokenID)
	require.True(t, ok)
	require.Equal(t, auth.User("alice"), tok.Owner)

	env, v, err = wrapEnvelope(&protocol.RenewDelegationTokenRequest{Hmac: created.Hmac}, auth.User("mallory"), "")
	require.NoError(t, err)
	inner, err = unwrapEnvelope(c.handleEnvelope(ctx, env), protocol.KeyRenewDelegationToken, v)
	require.NoError(t, err)
	require.Equal(t, errcode.DelegationTokenOwnerMismatch, inner.(*protocol.RenewDelegationTokenResponse).ErrorCode)

	env.RequestPrincipal = []byte{1}
	require.Equal(t, errcode.PrincipalDeserializationFailure, c.handleEnvelope(ctx, env).ErrorCode)
	frame, err := protocol.AppendRequest(nil, &protocol.RequestHeader{RequestAPIKey: protocol.KeyCreateTopics, RequestAPIVersion: 7},
		&protocol.CreateTopicsRequest{})
	require.NoError(t, err)
	other := &protocol.EnvelopeRequest{RequestData: frame[4:], RequestPrincipal: EncodePrincipal(auth.User("alice"), false)}
	require.Equal(t, errcode.InvalidRequest, c.handleEnvelope(ctx, other).ErrorCode)
}
