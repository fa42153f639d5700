package sasl

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// UnsecuredValidator is Kafka's default OAUTHBEARER server callback
// (OAuthBearerUnsecuredValidatorCallbackHandler): it accepts unsigned JWTs
// (alg "none") for development and tests, checking only their claims. Never
// use it where clients are not trusted: anyone can mint a token.
type UnsecuredValidator struct {
	// PrincipalClaim names the principal claim (default "sub";
	// unsecuredValidatorPrincipalClaimName).
	PrincipalClaim string
	// ScopeClaim names the scope claim (default "scope";
	// unsecuredValidatorScopeClaimName).
	ScopeClaim string
	// RequiredScope lists scope values every token must have
	// (unsecuredValidatorRequiredScope, space-separated).
	RequiredScope []string
	// ClockSkew is the allowed clock skew (unsecuredValidatorAllowableClockSkewMs).
	ClockSkew time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// NewUnsecuredValidatorFromJAAS reads the unsecuredValidator* options of an
// OAuthBearerLoginModule entry.
func NewUnsecuredValidatorFromJAAS(e JAASEntry) (*UnsecuredValidator, error) {
	v := &UnsecuredValidator{
		PrincipalClaim: strings.TrimSpace(e.Options["unsecuredValidatorPrincipalClaimName"]),
		ScopeClaim:     strings.TrimSpace(e.Options["unsecuredValidatorScopeClaimName"]),
	}
	if rs := strings.TrimSpace(e.Options["unsecuredValidatorRequiredScope"]); rs != "" {
		v.RequiredScope = strings.Fields(rs)
	}
	if s := strings.TrimSpace(e.Options["unsecuredValidatorAllowableClockSkewMs"]); s != "" {
		ms, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%w: unsecuredValidatorAllowableClockSkewMs=%q is not an integer", ErrJAAS, s)
		}
		if ms < 0 {
			return nil, fmt.Errorf("%w: Allowable clock skew millis must not be negative: %s", ErrJAAS, s)
		}
		v.ClockSkew = time.Duration(ms) * time.Millisecond
	}
	return v, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Validate checks an unsecured JWS as Kafka: header alg "none", an empty
// signature, a non-blank string principal claim, an exp claim not passed
// (minus skew), an iat claim (if present) not in the future (plus skew),
// exp after iat, and the required scope.
func (v *UnsecuredValidator) Validate(token string) (BearerToken, error) {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	principalClaim := orDefault(v.PrincipalClaim, "sub")
	scopeClaim := orDefault(v.ScopeClaim, "scope")

	if strings.Contains(token, "..") {
		return BearerToken{}, invalidToken("Malformed compact serialization contains '..'")
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return BearerToken{}, invalidToken("Unsecured JWS compact serializations must have 3 dot-separated Base64URL-encoded values")
	}
	header, err := decodeJWTPart(parts[0])
	if err != nil {
		return BearerToken{}, err
	}
	claims, err := decodeJWTPart(parts[1])
	if err != nil {
		return BearerToken{}, err
	}
	if alg, ok := header["alg"].(string); !ok || alg != "none" {
		return BearerToken{}, invalidToken("Unsecured JWS must have 'none' for an algorithm")
	}
	if parts[2] != "" {
		return BearerToken{}, invalidToken("Unsecured JWS must not contain a digital signature")
	}
	scope, err := scopeOf(claims, scopeClaim, false)
	if err != nil {
		return BearerToken{}, err
	}
	exp, hasExp, err := numericClaim(claims, "exp")
	if err != nil {
		return BearerToken{}, err
	}
	if !hasExp {
		return BearerToken{}, invalidToken("No expiration time in JWT")
	}
	principal, _ := claims[principalClaim].(string)
	if strings.TrimSpace(principal) == "" {
		if _, present := claims[principalClaim]; present {
			if _, isString := claims[principalClaim].(string); !isString {
				return BearerToken{}, invalidToken("The %s claim had the incorrect type", principalClaim)
			}
		}
		return BearerToken{}, invalidToken("No principal name in JWT claim: %s", principalClaim)
	}
	iat, hasIat, err := numericClaim(claims, "iat")
	if err != nil {
		return BearerToken{}, err
	}
	nowMs := float64(now().UnixMilli())
	skewMs := float64(v.ClockSkew.Milliseconds())
	if hasIat && 1000*iat > nowMs+skewMs {
		return BearerToken{}, invalidToken("The Issued At value (%f seconds) was after the indicated time (%.0f ms) plus allowable clock skew (%.0f ms)", iat, nowMs, skewMs)
	}
	if nowMs-skewMs >= 1000*exp {
		return BearerToken{}, invalidToken("The indicated time (%.0f ms) minus allowable clock skew (%.0f ms) was on or after the Expiration Time value (%f seconds)", nowMs, skewMs, exp)
	}
	if hasIat && exp <= iat {
		return BearerToken{}, invalidToken("The Expiration Time time (%f seconds) was not after the Issued At time (%f seconds)", exp, iat)
	}
	if err := checkRequiredScope(scope, v.RequiredScope); err != nil {
		return BearerToken{}, err
	}
	t := BearerToken{Principal: principal, Scope: scope, Expiry: secondsToTime(exp)}
	if hasIat {
		t.IssuedAt = secondsToTime(iat)
	}
	return t, nil
}

// checkRequiredScope fails with insufficient_scope and the required scope
// printed as a Java list, as Kafka.
func checkRequiredScope(have, required []string) error {
	for _, r := range required {
		found := false
		for _, h := range have {
			if h == r {
				found = true
				break
			}
		}
		if !found {
			return &TokenError{Status: "insufficient_scope", Scope: "[" + strings.Join(required, ", ") + "]",
				Reason: fmt.Sprintf("the token's scope is missing a required scope (%s)", r)}
		}
	}
	return nil
}

// secondsToTime converts a NumericDate claim at Kafka's precision:
// milliseconds, rounded (Math.round(seconds * 1000)).
func secondsToTime(s float64) time.Time {
	return time.UnixMilli(int64(math.Round(s * 1000)))
}

// decodeJWTPart decodes a base64url (padding optional) JSON object.
func decodeJWTPart(p string) (map[string]any, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(p, "="))
	if err != nil {
		return nil, invalidToken("malformed Base64 URL encoded value")
	}
	return decodeClaims(b)
}

func decodeClaims(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil || m == nil {
		return nil, invalidToken("malformed JSON")
	}
	return m, nil
}

// numericClaim reads a JSON number claim.
func numericClaim(claims map[string]any, name string) (float64, bool, error) {
	raw, ok := claims[name]
	if !ok || raw == nil {
		return 0, false, nil
	}
	n, ok := raw.(json.Number)
	if !ok {
		return 0, false, invalidToken("The %s claim had the incorrect type", name)
	}
	f, err := n.Float64()
	if err != nil {
		return 0, false, invalidToken("The %s claim is not a number", name)
	}
	return f, true, nil
}

// scopeOf reads the scope claim: a string is one scope value (trimmed, as
// Kafka's unsecured JWS does; strict refuses a blank one as Kafka's broker
// validator does), an array is a list; anything else is no scope.
func scopeOf(claims map[string]any, name string, strict bool) ([]string, error) {
	var raw []string
	switch v := claims[name].(type) {
	case string:
		raw = []string{v}
	case []any:
		for _, e := range v {
			switch s := e.(type) {
			case string:
				raw = append(raw, s)
			default:
				raw = append(raw, fmt.Sprint(s))
			}
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, s := range raw {
		s = strings.TrimSpace(s)
		if s == "" {
			if strict {
				return nil, invalidToken("The %s claim contains a blank scope value", name)
			}
			continue
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, nil
}
