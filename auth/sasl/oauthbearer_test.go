package sasl

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"go.uber.org/zap/zaptest"
)

func unsecuredJWT(t *testing.T, claims map[string]any) string {
	t.Helper()
	h, err := json.Marshal(map[string]any{"alg": "none"})
	require.NoError(t, err)
	c, err := json.Marshal(claims)
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "."
}

func TestParseClientInitialResponse(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want clientInitialResponse
		ok   bool
	}{
		{"token", "n,,\x01auth=Bearer abc.def.\x01\x01", clientInitialResponse{token: "abc.def."}, true},
		{"authzid, extensions, lower-case scheme", "n,a=bob,\x01auth=bearer  t0k-_~+/=\x01traceId=1 2\x01x=y\x01\x01",
			clientInitialResponse{authzid: "bob", token: "t0k-_~+/=", extensions: map[string]string{"traceId": "1 2", "x": "y"}}, true},
		{"no auth", "n,,\x01x=y\x01\x01", clientInitialResponse{}, false},
		{"other scheme", "n,,\x01auth=Basic abc\x01\x01", clientInitialResponse{}, false},
		{"no terminator", "n,,\x01auth=Bearer abc\x01", clientInitialResponse{}, false},
		{"channel binding", "p=x,,\x01auth=Bearer abc\x01\x01", clientInitialResponse{}, false},
		{"bad key", "n,,\x01auth=Bearer abc\x01k1=v\x01\x01", clientInitialResponse{}, false},
		{"bad token char", "n,,\x01auth=Bearer a*c\x01\x01", clientInitialResponse{}, false},
		{"empty", "", clientInitialResponse{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseClientInitialResponse(tt.msg)
			if !tt.ok {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestUnsecuredValidator(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	e, err := ParseServerJAAS(`org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required
		unsecuredValidatorRequiredScope="kafka"
		unsecuredValidatorAllowableClockSkewMs="1000";`)
	require.NoError(t, err)
	v, err := NewUnsecuredValidatorFromJAAS(e)
	require.NoError(t, err)
	v.Now = func() time.Time { return now }
	sec := now.Unix()
	tests := []struct {
		name   string
		token  string
		want   BearerToken
		status string
		scope  string
	}{
		{name: "valid", token: unsecuredJWT(t, map[string]any{"sub": "alice", "exp": sec + 60, "iat": sec, "scope": []string{"kafka", "other"}}),
			want: BearerToken{Principal: "alice", Scope: []string{"kafka", "other"}, Expiry: now.Add(time.Minute), IssuedAt: now}},
		{name: "scope as one string", token: unsecuredJWT(t, map[string]any{"sub": "alice", "exp": sec + 60, "scope": " kafka "}),
			want: BearerToken{Principal: "alice", Scope: []string{"kafka"}, Expiry: now.Add(time.Minute)}},
		{name: "expired within skew is still valid", token: unsecuredJWT(t, map[string]any{"sub": "a", "exp": sec, "scope": "kafka"}),
			want: BearerToken{Principal: "a", Scope: []string{"kafka"}, Expiry: now}},
		{name: "expired", token: unsecuredJWT(t, map[string]any{"sub": "a", "exp": sec - 1, "scope": "kafka"}), status: "invalid_token"},
		{name: "issued in the future", token: unsecuredJWT(t, map[string]any{"sub": "a", "exp": sec + 60, "iat": sec + 2, "scope": "kafka"}), status: "invalid_token"},
		{name: "exp not after iat", token: unsecuredJWT(t, map[string]any{"sub": "a", "exp": sec - 0, "iat": sec, "scope": "kafka"}), status: "invalid_token"},
		{name: "no exp", token: unsecuredJWT(t, map[string]any{"sub": "a", "scope": "kafka"}), status: "invalid_token"},
		{name: "no sub", token: unsecuredJWT(t, map[string]any{"exp": sec + 60, "scope": "kafka"}), status: "invalid_token"},
		{name: "blank sub", token: unsecuredJWT(t, map[string]any{"sub": "  ", "exp": sec + 60, "scope": "kafka"}), status: "invalid_token"},
		{name: "numeric sub", token: unsecuredJWT(t, map[string]any{"sub": 7, "exp": sec + 60, "scope": "kafka"}), status: "invalid_token"},
		{name: "missing scope", token: unsecuredJWT(t, map[string]any{"sub": "a", "exp": sec + 60, "scope": []string{"x"}}), status: "insufficient_scope", scope: "[kafka]"},
		{name: "signed", token: unsecuredJWT(t, map[string]any{"sub": "a", "exp": sec + 60}) + "c2ln", status: "invalid_token"},
		{name: "two parts", token: "eyJhbGciOiJub25lIn0.e30", status: "invalid_token"},
		{name: "double dot", token: "eyJhbGciOiJub25lIn0..", status: "invalid_token"},
		{name: "not base64", token: "!!!.e30.", status: "invalid_token"},
		{name: "not JSON", token: "bm9wZQ.e30.", status: "invalid_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Validate(tt.token)
			if tt.status != "" {
				var te *TokenError
				require.ErrorAs(t, err, &te)
				require.Equal(t, tt.status, te.Status)
				require.Equal(t, tt.scope, te.Scope)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// TestOAuthBearerExchange runs franz-go's OAUTHBEARER client against the
// server: success with extensions and an authzid, and Kafka's failure flow
// (JSON error as challenge, %x01, SASL_AUTHENTICATION_FAILED with the JSON).
func TestOAuthBearerExchange(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	mech := NewOAuthBearer(&UnsecuredValidator{Now: func() time.Time { return now }, RequiredScope: []string{"kafka"}})
	good := unsecuredJWT(t, map[string]any{"sub": "alice", "exp": now.Unix() + 3600, "scope": "kafka"})

	got, err := exchange(t, oauth.Auth{Token: good, Zid: "alice", Extensions: map[string]string{"traceId": "42"}}.AsMechanism(), mech.NewServer())
	require.NoError(t, err)
	require.Equal(t, Outcome{AuthorizationID: "alice", CredentialExpiry: now.Add(time.Hour), Extensions: map[string]string{"traceId": "42"}}, got)

	s := mech.NewServer()
	_, _, err = s.Step([]byte("n,a=bob,\x01auth=Bearer " + good + "\x01\x01"))
	var ae *AuthError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "Authentication failed: Client requested an authorization id (bob) that is different from the token's principal name (alice)", ae.ClientMessage)

	for _, tt := range []struct {
		name, token, json string
	}{
		{"expired", unsecuredJWT(t, map[string]any{"sub": "alice", "exp": now.Unix() - 1, "scope": "kafka"}), `{"status":"invalid_token"}`},
		{"scope", unsecuredJWT(t, map[string]any{"sub": "alice", "exp": now.Unix() + 1}), `{"status":"insufficient_scope", "scope":"[kafka]"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := mech.NewServer()
			challenge, done, err := s.Step([]byte("n,,\x01auth=Bearer " + tt.token + "\x01\x01"))
			require.NoError(t, err)
			require.False(t, done)
			require.Equal(t, tt.json, string(challenge))
			_, done, err = s.Step([]byte{0x01})
			require.False(t, done)
			var ae *AuthError
			require.ErrorAs(t, err, &ae)
			require.Equal(t, tt.json, ae.MessageForClient(false))
			_, _, err = s.Step([]byte("n,,\x01auth=Bearer " + good + "\x01\x01"))
			require.Error(t, err, "no second token in a failed exchange")
		})
	}

	_, _, err = mech.NewServer().Step([]byte("garbage"))
	require.ErrorAs(t, err, &ae)
	require.Empty(t, ae.ClientMessage, "malformed messages get the generic message")
}

// jwksFixture serves a JWKS over HTTP and signs tokens with its keys.
type jwksFixture struct {
	srv     *httptest.Server
	fetches atomic.Int32
	mu      sync.Mutex
	set     jose.JSONWebKeySet
	signers map[string]jose.Signer
}

func newJWKSFixture(t *testing.T) *jwksFixture {
	f := &jwksFixture{signers: map[string]jose.Signer{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.fetches.Add(1)
		f.mu.Lock()
		defer f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(f.set)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// addKey makes a key; published controls whether the JWKS lists it.
func (f *jwksFixture) addKey(t *testing.T, kid string, alg jose.SignatureAlgorithm, published bool) {
	var priv, pub any
	switch alg {
	case jose.ES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		priv, pub = k, &k.PublicKey
	default:
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		priv, pub = k, &k.PublicKey
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: priv, KeyID: kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	require.NoError(t, err)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.signers[kid] = s
	if published {
		f.set.Keys = append(f.set.Keys, jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: string(alg), Use: "sig"})
	}
}

func (f *jwksFixture) sign(t *testing.T, kid string, claims map[string]any) string {
	f.mu.Lock()
	s := f.signers[kid]
	f.mu.Unlock()
	b, err := json.Marshal(claims)
	require.NoError(t, err)
	jws, err := s.Sign(b)
	require.NoError(t, err)
	out, err := jws.CompactSerialize()
	require.NoError(t, err)
	return out
}

func TestJWKSValidator(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	sec := now.Unix()
	f := newJWKSFixture(t)
	f.addKey(t, "rsa-1", jose.RS256, true)
	f.addKey(t, "ec-1", jose.ES256, true)
	f.addKey(t, "rogue", jose.RS256, false)
	v, err := NewJWKSValidator(context.Background(), JWKSConfig{
		EndpointURL:      f.srv.URL,
		ExpectedAudience: []string{"kafka"},
		ExpectedIssuer:   "https://issuer.example",
		Now:              func() time.Time { return now },
	}, zaptest.NewLogger(t))
	require.NoError(t, err)
	t.Cleanup(v.Close)

	claims := func(over map[string]any) map[string]any {
		c := map[string]any{"sub": "svc-1", "iss": "https://issuer.example", "aud": "kafka", "exp": sec + 300, "iat": sec, "scope": "read write"}
		for k, x := range over {
			if x == nil {
				delete(c, k)
				continue
			}
			c[k] = x
		}
		return c
	}
	tests := []struct {
		name  string
		token string
		want  *BearerToken
	}{
		{"RS256", f.sign(t, "rsa-1", claims(nil)), &BearerToken{Principal: "svc-1", Scope: []string{"read write"}, Expiry: now.Add(5 * time.Minute), IssuedAt: now}},
		{"ES256, aud list, scope list", f.sign(t, "ec-1", claims(map[string]any{"aud": []string{"x", "kafka"}, "scope": []string{"a", "b"}})),
			&BearerToken{Principal: "svc-1", Scope: []string{"a", "b"}, Expiry: now.Add(5 * time.Minute), IssuedAt: now}},
		{"expired within the 30 s skew", f.sign(t, "rsa-1", claims(map[string]any{"exp": sec - 29})),
			&BearerToken{Principal: "svc-1", Scope: []string{"read write"}, Expiry: now.Add(-29 * time.Second), IssuedAt: now}},
		{"expired", f.sign(t, "rsa-1", claims(map[string]any{"exp": sec - 30})), nil},
		{"not yet valid", f.sign(t, "rsa-1", claims(map[string]any{"nbf": sec + 31})), nil},
		{"no iat", f.sign(t, "rsa-1", claims(map[string]any{"iat": nil})), nil},
		{"no exp", f.sign(t, "rsa-1", claims(map[string]any{"exp": nil})), nil},
		{"wrong issuer", f.sign(t, "rsa-1", claims(map[string]any{"iss": "https://evil"})), nil},
		{"wrong audience", f.sign(t, "rsa-1", claims(map[string]any{"aud": "other"})), nil},
		{"no audience", f.sign(t, "rsa-1", claims(map[string]any{"aud": nil})), nil},
		{"blank sub", f.sign(t, "rsa-1", claims(map[string]any{"sub": " "})), nil},
		{"blank scope value", f.sign(t, "rsa-1", claims(map[string]any{"scope": []string{"a", " "}})), nil},
		{"unpublished key", f.sign(t, "rogue", claims(nil)), nil},
		{"unsecured", unsecuredJWT(t, claims(nil)), nil},
		{"garbage", "a.b.c", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Validate(tt.token)
			if tt.want == nil {
				var te *TokenError
				require.ErrorAs(t, err, &te)
				require.Equal(t, "invalid_token", te.Status)
				require.NotContains(t, err.Error(), tt.token)
				return
			}
			require.NoError(t, err)
			require.Equal(t, *tt.want, got)
		})
	}

	// A token with an aud claim is refused when no audience is expected, as
	// Kafka's jose4j consumer does.
	v2, err := NewJWKSValidator(context.Background(), JWKSConfig{EndpointURL: f.srv.URL, Now: func() time.Time { return now }}, nil)
	require.NoError(t, err)
	t.Cleanup(v2.Close)
	_, err = v2.Validate(f.sign(t, "rsa-1", claims(nil)))
	require.ErrorContains(t, err, "no expected audience")
	_, err = v2.Validate(f.sign(t, "rsa-1", claims(map[string]any{"aud": nil})))
	require.NoError(t, err)
}

// TestJWKSRefreshOnUnknownKey: a token signed by a key published after
// startup fails once, triggers a refresh, and validates once the refreshed
// key set arrives; another unknown-kid token within a minute does not
// refetch.
func TestJWKSRefreshOnUnknownKey(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	f := newJWKSFixture(t)
	f.addKey(t, "old", jose.RS256, true)
	v, err := NewJWKSValidator(context.Background(), JWKSConfig{EndpointURL: f.srv.URL, Now: func() time.Time { return now }}, zaptest.NewLogger(t))
	require.NoError(t, err)
	t.Cleanup(v.Close)
	require.EqualValues(t, 1, f.fetches.Load())

	f.addKey(t, "new", jose.RS256, true)
	tok := f.sign(t, "new", map[string]any{"sub": "svc", "exp": now.Unix() + 60, "iat": now.Unix()})
	_, err = v.Validate(tok)
	require.ErrorContains(t, err, "Unable to find a suitable verification key")
	require.Eventually(t, func() bool {
		_, err := v.Validate(tok)
		return err == nil
	}, 10*time.Second, 10*time.Millisecond)
	fetches := f.fetches.Load()
	require.GreaterOrEqual(t, fetches, int32(2))

}

// TestJWKSUnknownKeyIDRateLimit: an unknown kid asks for one refresh, the
// same kid again within a minute asks for none, and after a minute it asks
// again (Kafka's RefreshingHttpsJwks.maybeExpediteRefresh). A file:// key
// set has no refresh goroutine, so the requests stay in the channel.
func TestJWKSUnknownKeyIDRateLimit(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	f := newJWKSFixture(t)
	f.addKey(t, "k", jose.ES256, true)
	f.addKey(t, "unknown", jose.ES256, false)
	path := filepath.Join(t.TempDir(), "jwks.json")
	b, err := json.Marshal(f.set)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o600))
	clock := now
	v, err := NewJWKSValidator(context.Background(), JWKSConfig{EndpointURL: "file://" + path, Now: func() time.Time { return clock }}, nil)
	require.NoError(t, err)
	defer v.Close()
	bad := f.sign(t, "unknown", map[string]any{"sub": "svc", "exp": now.Unix() + 600, "iat": now.Unix()})

	_, err = v.Validate(bad)
	require.Error(t, err)
	require.Len(t, v.refreshNow, 1, "first miss asks for a refresh")
	<-v.refreshNow
	_, err = v.Validate(bad)
	require.Error(t, err)
	require.Len(t, v.refreshNow, 0, "same kid within a minute: no refresh")
	clock = clock.Add(61 * time.Second)
	_, err = v.Validate(bad)
	require.Error(t, err)
	require.Len(t, v.refreshNow, 1, "after a minute the kid may ask again")
}

func TestJWKSFromFile(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	f := newJWKSFixture(t)
	f.addKey(t, "k", jose.ES256, true)
	path := filepath.Join(t.TempDir(), "jwks.json")
	b, err := json.Marshal(f.set)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o600))
	v, err := NewJWKSValidator(context.Background(), JWKSConfig{EndpointURL: "file://" + path, Now: func() time.Time { return now }}, nil)
	require.NoError(t, err)
	defer v.Close()
	got, err := v.Validate(f.sign(t, "k", map[string]any{"sub": "svc", "exp": now.Unix() + 60, "iat": now.Unix()}))
	require.NoError(t, err)
	require.Equal(t, "svc", got.Principal)

	_, err = NewJWKSValidator(context.Background(), JWKSConfig{EndpointURL: "file:///does/not/exist"}, nil)
	require.ErrorContains(t, err, "could not refresh JWKS")
	_, err = NewJWKSValidator(context.Background(), JWKSConfig{EndpointURL: "ftp://x"}, nil)
	require.Error(t, err)
}
