package sasl

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"time"
)

// Mechanism names as Kafka spells them (sasl.enabled.mechanisms).
const (
	MechanismPlain       = "PLAIN"
	MechanismScramSHA256 = "SCRAM-SHA-256"
	MechanismScramSHA512 = "SCRAM-SHA-512"
	MechanismOAuthBearer = "OAUTHBEARER"
)

// Mechanism is one configured SASL mechanism of a listener. It makes a
// Server for every authentication exchange. Implementations are safe for
// concurrent use: many connections authenticate at once.
type Mechanism interface {
	// Name is the mechanism name a client asks for in SaslHandshake.
	Name() string
	// NewServer starts the server side of one exchange.
	NewServer() Server
}

// Server is the server side of one SASL exchange on one connection. It is
// not safe for concurrent use; the connection that owns it calls Step with
// each client token in order.
type Server interface {
	// Step consumes the client's next token and returns the token to send
	// back (possibly empty). done reports that the client is authenticated;
	// Outcome is then valid. A non-nil error ends the exchange: the
	// connection answers SASL_AUTHENTICATION_FAILED and closes. The error
	// is an *AuthError (errors.Is(err, ErrAuthenticationFailed)); its text
	// never contains a password, token or proof.
	Step(token []byte) (challenge []byte, done bool, err error)
	// Outcome is the result of a successful exchange.
	Outcome() Outcome
}

// Outcome is what a successful exchange established.
type Outcome struct {
	// AuthorizationID is the authenticated name; the principal is
	// User:<AuthorizationID> (Kafka's DefaultKafkaPrincipalBuilder).
	AuthorizationID string
	// TokenAuthenticated is set when the client authenticated with a
	// delegation token (SCRAM with tokenauth=true); Kafka then refuses that
	// connection delegation-token requests.
	TokenAuthenticated bool
	// TokenID is the delegation token's ID (the SCRAM user name) when
	// TokenAuthenticated, for the audit log.
	TokenID string
	// CredentialExpiry is when the credential stops being valid (an
	// OAUTHBEARER token's exp, a delegation token's expiry); zero when it
	// does not expire. It bounds the session lifetime (KIP-368).
	CredentialExpiry time.Time
	// Extensions are the SASL extensions the server accepted
	// (OAUTHBEARER's key=value pairs, SCRAM's tokenauth).
	Extensions map[string]string
}

// ErrAuthenticationFailed marks every failed exchange.
var ErrAuthenticationFailed = errors.New("sasl: authentication failed")

// AuthError is a failed exchange.
type AuthError struct {
	// Mechanism is the mechanism name.
	Mechanism string
	// ClientMessage, when set, is sent to the client verbatim as the
	// SaslAuthenticate error message: Kafka does this for a
	// SaslAuthenticationException (PLAIN's "Authentication failed: Invalid
	// username or password"). When empty, the client gets Kafka's generic
	// message (GenericClientMessage), because the reason could reveal
	// whether the user exists.
	ClientMessage string
	// Reason is for the broker's log only; it never contains a secret.
	Reason string
}

func (e *AuthError) Error() string {
	return "sasl: " + e.Mechanism + " authentication failed: " + e.Reason
}

func (e *AuthError) Unwrap() error { return ErrAuthenticationFailed }

// MessageForClient is the SaslAuthenticate error message the client gets.
// reauthenticating selects Kafka's wording during re-authentication.
func (e *AuthError) MessageForClient(reauthenticating bool) string {
	if e.ClientMessage != "" {
		return e.ClientMessage
	}
	return GenericClientMessage(e.Mechanism, reauthenticating)
}

// GenericClientMessage is Kafka's SaslAuthenticate error message when the
// mechanism's reason must not reach the client (SaslServerAuthenticator).
func GenericClientMessage(mechanism string, reauthenticating bool) string {
	what := "authentication"
	if reauthenticating {
		what = "re-authentication"
	}
	return "Authentication failed during " + what + " due to invalid credentials with SASL mechanism " + mechanism
}

func failClient(mech, clientMessage, reason string) *AuthError {
	return &AuthError{Mechanism: mech, ClientMessage: clientMessage, Reason: reason}
}

func fail(mech, reason string) *AuthError {
	return &AuthError{Mechanism: mech, Reason: reason}
}

// processSecret keys the digests that make comparisons independent of a
// secret's length and the dummy credentials of unknown users. It is random
// per process: nothing derived from it is stored or sent anywhere it could
// be compared across restarts.
var processSecret = func() []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("sasl: crypto/rand failed: " + err.Error())
	}
	return b
}()

// secretDigest is a fixed-length keyed digest of a secret, so two secrets
// can be compared in constant time whatever their lengths.
func secretDigest(parts ...[]byte) []byte {
	m := hmac.New(sha256.New, processSecret)
	for _, p := range parts {
		var n [4]byte
		n[0], n[1], n[2], n[3] = byte(len(p)>>24), byte(len(p)>>16), byte(len(p)>>8), byte(len(p))
		m.Write(n[:])
		m.Write(p)
	}
	return m.Sum(nil)
}
