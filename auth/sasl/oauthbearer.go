package sasl

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// BearerToken is a validated OAUTHBEARER token.
type BearerToken struct {
	// Principal is the principal claim's value (sub by default).
	Principal string
	// Scope is the token's scope claim.
	Scope []string
	// Expiry is the exp claim; IssuedAt the iat claim (zero if absent).
	Expiry   time.Time
	IssuedAt time.Time
}

// TokenValidator checks a bearer token. Implementations are safe for
// concurrent use.
type TokenValidator interface {
	Validate(token string) (BearerToken, error)
}

// ErrInvalidToken marks a token a TokenValidator refused.
var ErrInvalidToken = errors.New("sasl: invalid bearer token")

// TokenError is a refused token. Status and Scope become the JSON error
// the server sends the client (RFC 7628 section 3.2.2), as Kafka:
// {"status":"invalid_token"} or {"status":"insufficient_scope", "scope":"[a, b]"}.
type TokenError struct {
	Status string // "invalid_token" or "insufficient_scope"
	Scope  string // the required scope for insufficient_scope
	Reason string // for the broker log; never the token itself
}

func (e *TokenError) Error() string { return "sasl: bearer token refused: " + e.Reason }
func (e *TokenError) Unwrap() error { return ErrInvalidToken }

func invalidToken(format string, args ...any) *TokenError {
	return &TokenError{Status: "invalid_token", Reason: fmt.Sprintf(format, args...)}
}

// jsonError is Kafka's OAuthBearerSaslServer.jsonErrorResponse.
func (e *TokenError) jsonError() string {
	s := fmt.Sprintf(`{"status":"%s"`, e.Status)
	if e.Scope != "" {
		s += fmt.Sprintf(`, "scope":"%s"`, e.Scope)
	}
	return s + "}"
}

// OAuthBearer is the OAUTHBEARER mechanism (RFC 7628) with a token
// validator: UnsecuredValidator (Kafka's default, for development) or
// JWKSValidator (sasl.oauthbearer.jwks.endpoint.url).
type OAuthBearer struct {
	validator TokenValidator
}

// NewOAuthBearer makes the mechanism.
func NewOAuthBearer(v TokenValidator) *OAuthBearer { return &OAuthBearer{validator: v} }

// Name is "OAUTHBEARER".
func (o *OAuthBearer) Name() string { return MechanismOAuthBearer }

// NewServer starts one exchange.
func (o *OAuthBearer) NewServer() Server { return &oauthServer{mech: o} }

type oauthServer struct {
	mech     *OAuthBearer
	errorMsg string // the JSON error sent as challenge, awaiting the client's %x01
	done     bool
	failed   bool
	outcome  Outcome
}

// Step takes the client's initial response
//
//	n,[a=authzid],%x01auth=Bearer <token>%x01[key=value%x01...]%x01
//
// A refused token is answered with the JSON error as challenge; the client
// acknowledges with a single %x01 and the exchange fails with that JSON as
// the client's error message (Kafka's flow). Unlike Kafka, which would
// parse another initial response after the error, anything but %x01 then
// fails too: one token per exchange.
func (s *oauthServer) Step(token []byte) ([]byte, bool, error) {
	if s.done || s.failed {
		return nil, false, fail(MechanismOAuthBearer, "unexpected token")
	}
	if s.errorMsg != "" {
		s.failed = true
		return nil, false, failClient(MechanismOAuthBearer, s.errorMsg, "token refused: "+s.errorMsg)
	}
	cir, err := parseClientInitialResponse(string(token))
	if err != nil {
		s.failed = true
		return nil, false, fail(MechanismOAuthBearer, err.Error())
	}
	tok, err := s.mech.validator.Validate(cir.token)
	if err != nil {
		var te *TokenError
		if !errors.As(err, &te) {
			te = invalidToken("%v", err)
		}
		s.errorMsg = te.jsonError()
		return []byte(s.errorMsg), false, nil
	}
	if cir.authzid != "" && cir.authzid != tok.Principal {
		s.failed = true
		msg := fmt.Sprintf("Authentication failed: Client requested an authorization id (%s) that is different from the token's principal name (%s)",
			cir.authzid, tok.Principal)
		return nil, false, failClient(MechanismOAuthBearer, msg, "authorization id differs from the token's principal")
	}
	s.done = true
	s.outcome = Outcome{AuthorizationID: tok.Principal, CredentialExpiry: tok.Expiry, Extensions: cir.extensions}
	return []byte{}, true, nil
}

func (s *oauthServer) Outcome() Outcome { return s.outcome }

type clientInitialResponse struct {
	authzid    string
	token      string
	extensions map[string]string
}

// parseClientInitialResponse follows Kafka's OAuthBearerClientInitialResponse:
// gs2 header "n," with an optional a=<saslname>, then %x01-terminated
// key=value pairs (keys [A-Za-z]+, values of 0x21-0x7E, space, tab, CR,
// LF), then %x01. auth is "Bearer <b64token>" (scheme case-insensitive);
// the other keys are extensions, every one accepted as Kafka's default
// callback handlers do.
func parseClientInitialResponse(msg string) (clientInitialResponse, error) {
	const sep = "\x01"
	bad := errors.New("invalid OAUTHBEARER client first message")
	rest, ok := strings.CutPrefix(msg, "n,")
	if !ok {
		return clientInitialResponse{}, bad
	}
	authzField, rest, ok := strings.Cut(rest, ",")
	if !ok {
		return clientInitialResponse{}, bad
	}
	var cir clientInitialResponse
	if authzField != "" {
		a, ok := scramAttr(authzField, 'a')
		if !ok || !validSaslName(a) {
			return clientInitialResponse{}, bad
		}
		cir.authzid = a // Kafka keeps the saslname as sent
	}
	rest, ok = strings.CutPrefix(rest, sep)
	if !ok {
		return clientInitialResponse{}, bad
	}
	kvs, ok := strings.CutSuffix(rest, sep)
	if !ok {
		return clientInitialResponse{}, bad
	}
	props := map[string]string{}
	if kvs != "" {
		body, ok := strings.CutSuffix(kvs, sep)
		if !ok {
			return clientInitialResponse{}, bad
		}
		for _, kv := range strings.Split(body, sep) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || !validExtensionKey(k) || !validExtensionValue(v) {
				return clientInitialResponse{}, bad
			}
			props[k] = v
		}
	}
	auth, ok := props["auth"]
	if !ok {
		return clientInitialResponse{}, errors.New("invalid OAUTHBEARER client first message: 'auth' not specified")
	}
	delete(props, "auth")
	scheme, tok, ok := strings.Cut(auth, " ")
	tok = strings.TrimLeft(tok, " ")
	if !ok || !validScheme(scheme) || !validB64Token(tok) {
		return clientInitialResponse{}, errors.New("invalid OAUTHBEARER client first message: invalid 'auth' format")
	}
	if !strings.EqualFold(scheme, "bearer") {
		return clientInitialResponse{}, errors.New("invalid scheme in OAUTHBEARER client first message")
	}
	cir.token = tok
	if len(props) > 0 {
		cir.extensions = props
	}
	return cir, nil
}

func validExtensionKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

func validExtensionValue(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 0x21 && c <= 0x7E) && c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

// validScheme: Java's [\w]+ (ASCII letters, digits, '_').
func validScheme(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') && c != '_' {
			return false
		}
	}
	return true
}

// validB64Token: RFC 6750's b64token, [-_~+/.a-zA-Z0-9]+ then '='*.
func validB64Token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') && !strings.ContainsRune("-_~+/.", rune(c)) {
			return false
		}
	}
	return true
}
