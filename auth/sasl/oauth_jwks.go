package sasl

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"go.uber.org/zap"
)

// JWKSConfig configures JWKSValidator with Kafka's broker properties.
type JWKSConfig struct {
	// EndpointURL is sasl.oauthbearer.jwks.endpoint.url: an https:// (or
	// http://) URL fetched and refreshed, or a file:// URL read once.
	EndpointURL string
	// RefreshInterval is sasl.oauthbearer.jwks.endpoint.refresh.ms
	// (default one hour).
	RefreshInterval time.Duration
	// RetryBackoff and RetryBackoffMax are
	// sasl.oauthbearer.jwks.endpoint.retry.backoff.ms and .max.ms
	// (defaults 100 ms and 10 s).
	RetryBackoff    time.Duration
	RetryBackoffMax time.Duration
	// ExpectedAudience is sasl.oauthbearer.expected.audience. When empty, a
	// token that has an aud claim is refused, as Kafka's jose4j consumer
	// does.
	ExpectedAudience []string
	// ExpectedIssuer is sasl.oauthbearer.expected.issuer ("" = any).
	ExpectedIssuer string
	// ClockSkew is sasl.oauthbearer.clock.skew.seconds (default 30 s; set
	// ClockSkewSet to use an explicit zero).
	ClockSkew    time.Duration
	ClockSkewSet bool
	// ScopeClaim and SubClaim are sasl.oauthbearer.scope.claim.name and
	// sasl.oauthbearer.sub.claim.name (defaults "scope" and "sub").
	ScopeClaim string
	SubClaim   string
	// HTTPClient fetches the JWKS (default: a client with a 10 s timeout).
	HTTPClient *http.Client
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// jwksAlgorithms are the signature algorithms accepted: every asymmetric
// JWS algorithm. "none" is refused as Kafka's DISALLOW_NONE; HMAC (HS*) is
// refused too, since a JWKS publishes public keys.
var jwksAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512,
	jose.EdDSA,
}

// Kafka's RefreshingHttpsJwks bounds on-demand refreshes for unknown key
// IDs: at most 16 remembered IDs, each retried at most once a minute, and
// IDs longer than 1000 characters are never looked up.
const (
	missingKeyIDCacheMax    = 16
	missingKeyIDInFlight    = time.Minute
	missingKeyIDMaxLength   = 1000
	defaultJWKSRefresh      = time.Hour
	defaultJWKSBackoff      = 100 * time.Millisecond
	defaultJWKSBackoffMax   = 10 * time.Second
	defaultOAuthClockSkew   = 30 * time.Second
	maxJWKSDocumentBytes    = 1 << 20
	defaultJWKSFetchTimeout = 10 * time.Second
)

// JWKSValidator validates signed JWTs against the keys of a JWKS endpoint,
// as Kafka's BrokerJwtValidator with its RefreshingHttpsJwks: the JWS
// signature with the key named by kid (or the first suitable key), exp and
// iat required, nbf honoured, issuer and audience as configured, a
// non-blank subject claim, and scope values that are not blank. The JOSE
// parsing and signature checks are github.com/go-jose/go-jose/v4's: JOSE is
// easy to get subtly wrong (algorithm confusion, key-type checks, ECDSA and
// RSA-PSS encodings), and go-jose is the maintained Go implementation the
// field relies on.
//
// Keys are fetched once by NewJWKSValidator, then refreshed by a goroutine
// every RefreshInterval and, at most once a minute per ID, when a token
// names an unknown key ID. Close stops the goroutine. Validate never does
// network I/O: it reads the current key set.
type JWKSValidator struct {
	cfg    JWKSConfig
	logger *zap.Logger

	mu      sync.RWMutex
	keys    jose.JSONWebKeySet
	missing map[string]time.Time // unknown kid -> next allowed refresh

	refreshNow chan struct{}
	cancel     context.CancelFunc
	wg         sync.WaitGroup
}

// NewJWKSValidator fetches the key set (failing if it cannot, as Kafka does
// at startup) and starts the refresh goroutine for http(s) URLs.
func NewJWKSValidator(ctx context.Context, cfg JWKSConfig, log *zap.Logger) (*JWKSValidator, error) {
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = defaultJWKSRefresh
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = defaultJWKSBackoff
	}
	if cfg.RetryBackoffMax <= 0 {
		cfg.RetryBackoffMax = defaultJWKSBackoffMax
	}
	if !cfg.ClockSkewSet && cfg.ClockSkew == 0 {
		cfg.ClockSkew = defaultOAuthClockSkew
	}
	if cfg.ClockSkew < 0 {
		return nil, errors.New("sasl: sasl.oauthbearer.clock.skew.seconds must not be negative")
	}
	cfg.ScopeClaim = orDefault(strings.TrimSpace(cfg.ScopeClaim), "scope")
	cfg.SubClaim = orDefault(strings.TrimSpace(cfg.SubClaim), "sub")
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: defaultJWKSFetchTimeout}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = zap.NewNop()
	}
	u, err := url.Parse(cfg.EndpointURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http" && u.Scheme != "file") {
		return nil, fmt.Errorf("sasl: sasl.oauthbearer.jwks.endpoint.url=%q must be an https, http or file URL", cfg.EndpointURL)
	}
	v := &JWKSValidator{cfg: cfg, logger: log.With(zap.String("jwks_endpoint", cfg.EndpointURL)),
		missing: map[string]time.Time{}, refreshNow: make(chan struct{}, 1)}
	keys, err := v.fetch(ctx)
	if err != nil {
		return nil, fmt.Errorf("sasl: could not refresh JWKS from %s: %w", cfg.EndpointURL, err)
	}
	v.keys = keys
	runCtx, cancel := context.WithCancel(context.Background())
	v.cancel = cancel
	if u.Scheme != "file" {
		v.wg.Add(1)
		go v.run(runCtx)
	}
	return v, nil
}

// Close stops the refresh goroutine and waits for it.
func (v *JWKSValidator) Close() {
	v.cancel()
	v.wg.Wait()
}

func (v *JWKSValidator) fetch(ctx context.Context) (jose.JSONWebKeySet, error) {
	var body []byte
	u, _ := url.Parse(v.cfg.EndpointURL)
	if u.Scheme == "file" {
		b, err := os.ReadFile(u.Path)
		if err != nil {
			return jose.JSONWebKeySet{}, err
		}
		body = b
	} else {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.cfg.EndpointURL, nil)
		if err != nil {
			return jose.JSONWebKeySet{}, err
		}
		resp, err := v.cfg.HTTPClient.Do(req)
		if err != nil {
			return jose.JSONWebKeySet{}, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return jose.JSONWebKeySet{}, fmt.Errorf("HTTP status %d", resp.StatusCode)
		}
		body, err = io.ReadAll(io.LimitReader(resp.Body, maxJWKSDocumentBytes+1))
		if err != nil {
			return jose.JSONWebKeySet{}, err
		}
		if len(body) > maxJWKSDocumentBytes {
			return jose.JSONWebKeySet{}, fmt.Errorf("JWKS document larger than %d bytes", maxJWKSDocumentBytes)
		}
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("parse JWKS: %w", err)
	}
	// Only public keys verify signatures; a private or symmetric key in a
	// JWKS is a publishing mistake and is ignored.
	set.Keys = slices.DeleteFunc(set.Keys, func(k jose.JSONWebKey) bool { return !k.Valid() || !k.IsPublic() })
	return set, nil
}

func (v *JWKSValidator) run(ctx context.Context) {
	defer v.wg.Done()
	t := time.NewTicker(v.cfg.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-v.refreshNow:
		}
		v.refresh(ctx)
	}
}

// refresh fetches the key set with retries (exponential backoff up to
// RetryBackoffMax, for about RetryBackoffMax in total as Kafka's Retry) and
// keeps the old set when every attempt fails.
func (v *JWKSValidator) refresh(ctx context.Context) {
	backoff := v.cfg.RetryBackoff
	deadline := time.Now().Add(v.cfg.RetryBackoffMax)
	for {
		keys, err := v.fetch(ctx)
		if err == nil {
			v.mu.Lock()
			v.keys = keys
			for _, k := range keys.Keys {
				delete(v.missing, k.KeyID)
			}
			v.mu.Unlock()
			v.logger.Info("oauth jwks refreshed", zap.Int("keys", len(keys.Keys)))
			return
		}
		if time.Now().Add(backoff).After(deadline) {
			v.logger.Warn("oauth jwks refresh failed; keeping the cached keys", zap.Error(err))
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, v.cfg.RetryBackoffMax)
	}
}

// maybeExpediteRefresh asks the goroutine for a refresh because a token
// named an unknown key ID, at most once a minute per ID.
func (v *JWKSValidator) maybeExpediteRefresh(kid string) {
	if len(kid) > missingKeyIDMaxLength {
		return
	}
	now := v.cfg.Now()
	v.mu.Lock()
	next, seen := v.missing[kid]
	if seen && now.Before(next) {
		v.mu.Unlock()
		return
	}
	if !seen && len(v.missing) >= missingKeyIDCacheMax {
		var oldest string
		for k, t := range v.missing {
			if oldest == "" || t.Before(v.missing[oldest]) {
				oldest = k
			}
		}
		delete(v.missing, oldest)
	}
	v.missing[kid] = now.Add(missingKeyIDInFlight)
	v.mu.Unlock()
	select {
	case v.refreshNow <- struct{}{}:
	default:
	}
}

// keyFor picks the first key that suits the JWS header, as jose4j's
// VerificationJwkSelector: the same kid when the header has one, use "sig"
// or unset, alg equal or unset, and a key type that fits alg.
func (v *JWKSValidator) keyFor(h jose.Header) (jose.JSONWebKey, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	for _, k := range v.keys.Keys {
		if h.KeyID != "" && k.KeyID != h.KeyID {
			continue
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if k.Algorithm != "" && k.Algorithm != h.Algorithm {
			continue
		}
		if !keyFitsAlgorithm(k, h.Algorithm) {
			continue
		}
		return k, true
	}
	return jose.JSONWebKey{}, false
}

func keyFitsAlgorithm(k jose.JSONWebKey, alg string) bool {
	switch k.Key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		return strings.HasPrefix(alg, "ES")
	case ed25519.PublicKey:
		return alg == string(jose.EdDSA)
	}
	return false
}

// Validate checks a signed JWT.
func (v *JWKSValidator) Validate(token string) (BearerToken, error) {
	jws, err := jose.ParseSignedCompact(token, jwksAlgorithms)
	if err != nil {
		return BearerToken{}, invalidToken("Could not validate the access token: %v", err)
	}
	if len(jws.Signatures) != 1 {
		return BearerToken{}, invalidToken("Could not validate the access token: expected one signature")
	}
	h := jws.Signatures[0].Header
	key, ok := v.keyFor(h)
	if !ok {
		if h.KeyID != "" {
			v.maybeExpediteRefresh(h.KeyID)
		}
		return BearerToken{}, invalidToken("Could not validate the access token: Unable to find a suitable verification key for JWS w/ header {alg=%s, kid=%q}", h.Algorithm, h.KeyID)
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return BearerToken{}, invalidToken("Could not validate the access token: JWS signature is invalid: %v", err)
	}
	claims, err := decodeClaims(payload)
	if err != nil {
		return BearerToken{}, err
	}
	return v.checkClaims(claims)
}

// checkClaims applies jose4j's JwtConsumer checks as Kafka configures them,
// then Kafka's ClaimValidationUtils.
func (v *JWKSValidator) checkClaims(claims map[string]any) (BearerToken, error) {
	now := v.cfg.Now()
	skew := v.cfg.ClockSkew
	exp, hasExp, err := numericClaim(claims, "exp")
	if err != nil {
		return BearerToken{}, err
	}
	if !hasExp {
		return BearerToken{}, invalidToken("Could not validate the access token: No Expiration Time (exp) claim present.")
	}
	expT := secondsToTime(exp)
	if !now.Before(expT.Add(skew)) {
		return BearerToken{}, invalidToken("Could not validate the access token: The JWT is no longer valid - the evaluation time %s is on or after the Expiration Time (exp=%s) claim value (even when providing %s of leeway to account for clock skew).",
			now.UTC().Format(time.RFC3339), expT.UTC().Format(time.RFC3339), skew)
	}
	iat, hasIat, err := numericClaim(claims, "iat")
	if err != nil {
		return BearerToken{}, err
	}
	if !hasIat {
		return BearerToken{}, invalidToken("Could not validate the access token: No Issued At (iat) claim present.")
	}
	if nbf, hasNbf, err := numericClaim(claims, "nbf"); err != nil {
		return BearerToken{}, err
	} else if hasNbf && now.Add(skew).Before(secondsToTime(nbf)) {
		return BearerToken{}, invalidToken("Could not validate the access token: The JWT is not yet valid (nbf).")
	}
	if v.cfg.ExpectedIssuer != "" {
		iss, _ := claims["iss"].(string)
		if iss != v.cfg.ExpectedIssuer {
			return BearerToken{}, invalidToken("Could not validate the access token: Issuer (iss) claim value (%s) doesn't match expected value of %s", iss, v.cfg.ExpectedIssuer)
		}
	}
	aud, hasAud, err := audienceOf(claims)
	if err != nil {
		return BearerToken{}, err
	}
	switch {
	case !hasAud && len(v.cfg.ExpectedAudience) > 0:
		return BearerToken{}, invalidToken("Could not validate the access token: No Audience (aud) claim present.")
	case hasAud && len(v.cfg.ExpectedAudience) == 0:
		return BearerToken{}, invalidToken("Could not validate the access token: Audience (aud) claim %v present in the JWT but no expected audience value(s) were provided to the JWT Consumer.", aud)
	case hasAud && !slices.ContainsFunc(aud, func(a string) bool { return slices.Contains(v.cfg.ExpectedAudience, a) }):
		return BearerToken{}, invalidToken("Could not validate the access token: Audience (aud) claim %v doesn't contain an acceptable identifier. Expected one of %v as an aud value.", aud, v.cfg.ExpectedAudience)
	}
	scope, err := scopeOf(claims, v.cfg.ScopeClaim, true)
	if err != nil {
		return BearerToken{}, err
	}
	raw, present := claims[v.cfg.SubClaim]
	sub, isString := raw.(string)
	if present && raw != nil && !isString {
		return BearerToken{}, invalidToken("Could not extract the '%s' claim from the access token", v.cfg.SubClaim)
	}
	sub = strings.TrimSpace(sub)
	if sub == "" {
		return BearerToken{}, invalidToken("%s value must be non-null and non-empty", v.cfg.SubClaim)
	}
	if exp < 0 || iat < 0 {
		return BearerToken{}, invalidToken("exp and iat values must be non-negative")
	}
	return BearerToken{Principal: sub, Scope: scope, Expiry: expT, IssuedAt: secondsToTime(iat)}, nil
}

// audienceOf reads aud: a string or an array of strings.
func audienceOf(claims map[string]any) ([]string, bool, error) {
	switch a := claims["aud"].(type) {
	case nil:
		return nil, false, nil
	case string:
		return []string{a}, true, nil
	case []any:
		out := make([]string, 0, len(a))
		for _, e := range a {
			s, ok := e.(string)
			if !ok {
				return nil, false, invalidToken("Could not validate the access token: The value of the 'aud' claim is not an array of strings")
			}
			out = append(out, s)
		}
		return out, true, nil
	}
	return nil, false, invalidToken("Could not validate the access token: The value of the 'aud' claim is not a string or an array of strings")
}
