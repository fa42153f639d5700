package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/spool-broker/spool/auth/sasl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// Kafka's defaults for the properties the Session follows.
const (
	// DefaultMaxReceiveSize is sasl.server.max.receive.size: the largest
	// frame read before a connection is authenticated (512 KiB, Kafka's
	// fix for CVE-2022-34917).
	DefaultMaxReceiveSize = 524288
	// DefaultFailedAuthenticationDelay is connection.failed.authentication.delay.ms.
	DefaultFailedAuthenticationDelay = 100 * time.Millisecond
)

// PreAuthAPIKeys are the only requests a SASL connection may send before it
// is authenticated.
var PreAuthAPIKeys = []int16{protocol.KeyApiVersions, protocol.KeySaslHandshake, protocol.KeySaslAuthenticate}

// SASLConfig is one SASL listener's authentication setup. It is read-only
// once a Session uses it and may be shared by every connection of the
// listener.
type SASLConfig struct {
	// Mechanisms are the enabled mechanisms (sasl.enabled.mechanisms, or
	// listener.name.<l>.sasl.enabled.mechanisms), in the order SaslHandshake
	// lists them.
	Mechanisms []sasl.Mechanism
	// MaxReceiveSize is sasl.server.max.receive.size (0: the default).
	MaxReceiveSize int32
	// MaxReauth is connections.max.reauth.ms for a mechanism
	// (listener.name.<l>.<mechanism>.connections.max.reauth.ms overriding
	// the broker-wide value); 0 means sessions do not expire unless the
	// credential does. nil: 0 for every mechanism.
	MaxReauth func(mechanism string) time.Duration
	// FailedAuthenticationDelay is connection.failed.authentication.delay.ms
	// (0: none; use DefaultFailedAuthenticationDelay for Kafka's default).
	FailedAuthenticationDelay time.Duration
	// LoginThrottle limits failed logins per client address across the
	// listener's connections (nil: no limit, as Kafka). Sessions name
	// their client with SetClientHost.
	LoginThrottle *LoginThrottle
}

func (c *SASLConfig) mechanism(name string) sasl.Mechanism {
	for _, m := range c.Mechanisms {
		if m.Name() == name {
			return m
		}
	}
	return nil
}

func (c *SASLConfig) mechanismNames() []string {
	out := make([]string, len(c.Mechanisms))
	for i, m := range c.Mechanisms {
		out[i] = m.Name()
	}
	return out
}

// Phase is where a connection is in authentication.
type Phase int8

const (
	// PhaseHandshakeOrVersions: a new SASL connection; it may send
	// ApiVersions (once) or SaslHandshake.
	PhaseHandshakeOrVersions Phase = iota
	// PhaseHandshake: ApiVersions was answered; SaslHandshake must follow.
	PhaseHandshake
	// PhaseAuthenticate: a mechanism was chosen; SaslAuthenticate requests
	// (or, after SaslHandshake v0, raw tokens) carry the exchange. Also the
	// phase of a re-authentication.
	PhaseAuthenticate
	// PhaseAuthenticated: the principal is known; every API is dispatched.
	PhaseAuthenticated
	// PhaseFailed: the connection must close.
	PhaseFailed
)

func (p Phase) String() string {
	switch p {
	case PhaseHandshakeOrVersions:
		return "HANDSHAKE_OR_VERSIONS_REQUEST"
	case PhaseHandshake:
		return "HANDSHAKE_REQUEST"
	case PhaseAuthenticate:
		return "AUTHENTICATE"
	case PhaseAuthenticated:
		return "COMPLETE"
	case PhaseFailed:
		return "FAILED"
	}
	return fmt.Sprintf("Phase(%d)", int8(p))
}

// Action is what the connection does with a request, decided before it is
// dispatched.
type Action int8

const (
	// Serve: dispatch to the API handler.
	Serve Action = iota
	// HandleApiVersions: answer ApiVersions, then call ApiVersionsAnswered.
	HandleApiVersions
	// HandleHandshake: decode SaslHandshake and call Handshake.
	HandleHandshake
	// HandleAuthenticate: decode SaslAuthenticate and call Authenticate.
	HandleAuthenticate
	// Respond: answer the request with Decision.ErrorCode (and
	// ErrorMessage where the response has one) and keep the connection.
	Respond
	// RespondAndClose: answer with Decision.ErrorCode, then close.
	RespondAndClose
	// Close: close without answering.
	Close
)

// Decision is Check's answer.
type Decision struct {
	Action       Action
	ErrorCode    int16  // for Respond and RespondAndClose
	ErrorMessage string // for Respond and RespondAndClose, where the response has a message
	Reason       string // why, for the broker's log (never a secret)
}

// Session is one connection's authentication state:
//
//	SASL listener:  HANDSHAKE_OR_VERSIONS --ApiVersions--> HANDSHAKE
//	                HANDSHAKE_OR_VERSIONS, HANDSHAKE --SaslHandshake--> AUTHENTICATE
//	                AUTHENTICATE --SaslAuthenticate...--> COMPLETE
//	                COMPLETE --SaslHandshake (re-authentication, KIP-368)--> AUTHENTICATE
//	                any failure --> FAILED (the connection closes)
//	SSL, PLAINTEXT: COMPLETE from the start (NewAuthenticatedSession)
//
// It follows Kafka's SaslServerAuthenticator and the parts of SocketServer
// and KafkaApis that deal with authentication. A Session belongs to its
// connection's goroutine and is not safe for concurrent use; handlers get
// the principal from the request context, not from the Session.
type Session struct {
	cfg   *SASLConfig
	phase Phase

	mechanism string      // the mechanism of the current or last exchange
	server    sasl.Server // the current exchange
	raw       bool        // SaslHandshake v0: tokens are bare frames

	clientSupportsReauth bool // a SaslAuthenticate v1+ was seen
	reauthenticating     bool
	badReauthMechanism   bool

	principal          Principal
	tokenAuthenticated bool
	tokenID            string    // the delegation token of a token login
	sessionExpiry      time.Time // zero: none

	host string // the client's address, for SASLConfig.LoginThrottle
}

// SetClientHost names the client's address (as ACL hosts are written): the
// key of SASLConfig.LoginThrottle.
func (s *Session) SetClientHost(host string) { s.host = host }

// NewSASLSession starts a connection on a SASL_PLAINTEXT or SASL_SSL
// listener.
func NewSASLSession(cfg *SASLConfig) *Session {
	return &Session{cfg: cfg, phase: PhaseHandshakeOrVersions}
}

// NewAuthenticatedSession is a connection on a PLAINTEXT listener
// (principal Anonymous) or an SSL listener (the client certificate's
// principal, or Anonymous without one).
func NewAuthenticatedSession(p Principal) *Session {
	return &Session{phase: PhaseAuthenticated, principal: p}
}

// Phase is the current phase.
func (s *Session) Phase() Phase { return s.phase }

// Principal is the authenticated principal; ok is false before
// authentication completes (and stays true during a re-authentication,
// when the previous principal still holds).
func (s *Session) Principal() (p Principal, ok bool) {
	return s.principal, s.principal != (Principal{})
}

// TokenAuthenticated reports a delegation-token login (Kafka refuses such
// connections CreateDelegationToken and friends).
func (s *Session) TokenAuthenticated() bool { return s.tokenAuthenticated }

// TokenID is the delegation token a token login used ("" otherwise).
func (s *Session) TokenID() string { return s.tokenID }

// Mechanism is the SASL mechanism of the current or last exchange.
func (s *Session) Mechanism() string { return s.mechanism }

// SessionExpiry is when the session expires (zero: never).
func (s *Session) SessionExpiry() time.Time { return s.sessionExpiry }

// Reauthenticating reports a re-authentication in progress.
func (s *Session) Reauthenticating() bool { return s.reauthenticating }

// RawTokens reports that the client chose SaslHandshake v0: until
// authentication completes, every frame is a bare SASL token (no request
// header) for AuthenticateRaw.
func (s *Session) RawTokens() bool { return s.phase == PhaseAuthenticate && s.raw }

// MaxFrameSize is the largest frame the connection may read next:
// sasl.server.max.receive.size until the session is authenticated (and
// during a re-authentication), the broker's socket.request.max.bytes
// (configured) afterwards.
func (s *Session) MaxFrameSize(configured int32) int32 {
	if s.phase == PhaseAuthenticated {
		return configured
	}
	if s.cfg != nil && s.cfg.MaxReceiveSize > 0 {
		return s.cfg.MaxReceiveSize
	}
	return DefaultMaxReceiveSize
}

// Expired reports that the session lifetime has passed: the connection
// closes on its next request unless that request starts a
// re-authentication.
func (s *Session) Expired(now time.Time) bool {
	return !s.sessionExpiry.IsZero() && !now.Before(s.sessionExpiry)
}

// apiName is the API's name as Kafka's ApiKeys enum prints it
// ("METADATA", "API_VERSIONS").
func apiName(key int16) string {
	info := protocol.LookupAPI(key)
	if info == nil {
		return fmt.Sprintf("UNKNOWN(%d)", key)
	}
	var b strings.Builder
	for i, r := range info.Name {
		if i > 0 && unicode.IsUpper(r) {
			prev := rune(info.Name[i-1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// Check decides what to do with a request, before it is dispatched and
// before its body is decoded (Kafka refuses other APIs during
// authentication "prior to parsing"). Not for RawTokens frames, which have
// no header.
func (s *Session) Check(apiKey int16, now time.Time) Decision {
	switch s.phase {
	case PhaseHandshakeOrVersions, PhaseHandshake:
		switch {
		case apiKey == protocol.KeyApiVersions && s.phase == PhaseHandshakeOrVersions:
			return Decision{Action: HandleApiVersions}
		case apiKey == protocol.KeySaslHandshake:
			return Decision{Action: HandleHandshake}
		case apiKey == protocol.KeyApiVersions:
			s.phase = PhaseFailed
			return Decision{Action: Close, Reason: "a second ApiVersions request during SASL handshake"}
		}
		s.phase = PhaseFailed
		return Decision{Action: Close, Reason: "Unexpected Kafka request of type " + apiName(apiKey) + " during SASL handshake."}
	case PhaseAuthenticate:
		if s.raw {
			s.phase = PhaseFailed
			return Decision{Action: Close, Reason: "a Kafka request after SaslHandshake v0, which expects raw SASL tokens"}
		}
		if apiKey == protocol.KeySaslAuthenticate {
			return Decision{Action: HandleAuthenticate}
		}
		s.phase = PhaseFailed
		msg := "Unexpected Kafka request of type " + apiName(apiKey) + " during SASL authentication."
		return Decision{Action: RespondAndClose, ErrorCode: errcode.IllegalSASLState, ErrorMessage: msg, Reason: msg}
	case PhaseAuthenticated:
		if apiKey == protocol.KeySaslHandshake {
			if s.cfg != nil && s.clientSupportsReauth {
				return Decision{Action: HandleHandshake, Reason: "re-authentication"}
			}
			return Decision{Action: Respond, ErrorCode: errcode.IllegalSASLState,
				Reason: "SaslHandshake on an authenticated connection that cannot re-authenticate"}
		}
		if s.Expired(now) {
			s.phase = PhaseFailed
			return Decision{Action: Close, Reason: "expired session"}
		}
		if apiKey == protocol.KeySaslAuthenticate {
			return Decision{Action: Respond, ErrorCode: errcode.IllegalSASLState,
				ErrorMessage: "SaslAuthenticate request received after successful authentication",
				Reason:       "SaslAuthenticate on an authenticated connection"}
		}
		return Decision{Action: Serve}
	}
	return Decision{Action: Close, Reason: "authentication failed"}
}

// ApiVersionsAnswered records the pre-authentication ApiVersions answer. A
// good answer moves the session to PhaseHandshake; an error answer
// (UNSUPPORTED_VERSION, INVALID_REQUEST) lets the client try again.
func (s *Session) ApiVersionsAnswered(ok bool) {
	if ok && s.phase == PhaseHandshakeOrVersions {
		s.phase = PhaseHandshake
	}
}

// HandshakeResult is the SaslHandshake answer.
type HandshakeResult struct {
	ErrorCode  int16
	Mechanisms []string // the enabled mechanisms, always listed
	// Close: close the connection after sending the answer.
	Close bool
}

// Handshake handles SaslHandshake (after Check said HandleHandshake).
// version 0 makes the following tokens raw frames; version 1 wraps them in
// SaslAuthenticate.
func (s *Session) Handshake(mechanism string, version int16) HandshakeResult {
	switch {
	case s.cfg == nil:
		return HandshakeResult{ErrorCode: errcode.IllegalSASLState}
	case s.phase == PhaseAuthenticate || s.phase == PhaseFailed:
		s.phase = PhaseFailed
		return HandshakeResult{ErrorCode: errcode.IllegalSASLState, Mechanisms: s.cfg.mechanismNames(), Close: true}
	}
	res := HandshakeResult{Mechanisms: s.cfg.mechanismNames()}
	m := s.cfg.mechanism(mechanism)
	if m == nil {
		s.phase = PhaseFailed
		res.ErrorCode, res.Close = errcode.UnsupportedSASLMechanism, true
		return res
	}
	if s.phase == PhaseAuthenticated {
		s.reauthenticating = true
		// Kafka answers NONE and fails the next token.
		s.badReauthMechanism = mechanism != s.mechanism
	}
	s.mechanism = mechanism
	s.server = m.NewServer()
	s.raw = version == 0
	s.phase = PhaseAuthenticate
	return res
}

// AuthenticateResult is the SaslAuthenticate answer.
type AuthenticateResult struct {
	ErrorCode    int16
	ErrorMessage string
	AuthBytes    []byte
	// SessionLifetimeMs is set once authentication completes (0: no
	// expiry), for SaslAuthenticate v1+.
	SessionLifetimeMs int64
	// Done: authentication completed; Principal is set.
	Done bool
	// NoResponse: close without answering (Kafka's REAUTH_BAD_MECHANISM).
	NoResponse bool
	// Close: close after the answer, which is sent CloseDelay after the
	// request (connection.failed.authentication.delay.ms, slowing down
	// password guessing).
	Close      bool
	CloseDelay time.Duration
}

// Authenticate handles SaslAuthenticate (after Check said
// HandleAuthenticate).
func (s *Session) Authenticate(authBytes []byte, version int16, now time.Time) AuthenticateResult {
	if version > 0 {
		s.clientSupportsReauth = true
	}
	return s.step(authBytes, now)
}

// AuthenticateRaw handles one raw token after SaslHandshake v0. The answer
// is AuthBytes as a bare frame; on failure the connection closes without an
// answer.
func (s *Session) AuthenticateRaw(token []byte, now time.Time) AuthenticateResult {
	res := s.step(token, now)
	if res.Close {
		res.NoResponse = true
	}
	return res
}

// errLoginThrottled fails an authentication from an address that
// LoginThrottle blocks; the client sees the mechanism's generic failure.
var errLoginThrottled = errors.New("auth: too many failed logins from this address")

// reauthPrincipalError is a re-authentication as another principal.
type reauthPrincipalError struct{ msg string }

func (e *reauthPrincipalError) Error() string { return e.msg }

func (s *Session) step(token []byte, now time.Time) AuthenticateResult {
	if s.phase != PhaseAuthenticate || s.server == nil {
		s.phase = PhaseFailed
		return AuthenticateResult{NoResponse: true, Close: true}
	}
	if s.badReauthMechanism {
		s.phase = PhaseFailed
		return AuthenticateResult{NoResponse: true, Close: true}
	}
	var throttle *LoginThrottle
	if s.cfg != nil {
		throttle = s.cfg.LoginThrottle
	}
	var challenge []byte
	var done bool
	var err error
	blocked := throttle.Blocked(s.host, now)
	if blocked {
		// Fail without checking the credentials, with the mechanism's
		// generic answer whatever the client sends: no oracle for a
		// guesser.
		err = errLoginThrottled
	} else {
		challenge, done, err = s.server.Step(token)
	}
	if err != nil && !blocked {
		throttle.Failed(s.host, now)
	}
	if err == nil && done {
		out := s.server.Outcome()
		p := User(out.AuthorizationID)
		if s.reauthenticating && p != s.principal {
			err = &reauthPrincipalError{fmt.Sprintf("Cannot change principals during re-authentication from %s.%s: %s.%s",
				s.principal.Type, s.principal.Name, p.Type, p.Name)}
		} else {
			s.principal = p
			s.tokenAuthenticated = out.TokenAuthenticated
			s.tokenID = out.TokenID
			lifetime := s.sessionLifetime(out.CredentialExpiry, now)
			s.sessionExpiry = time.Time{}
			if lifetime > 0 || !out.CredentialExpiry.IsZero() {
				s.sessionExpiry = now.Add(time.Duration(lifetime) * time.Millisecond)
			}
			s.phase = PhaseAuthenticated
			s.reauthenticating = false
			s.server = nil
			if challenge == nil {
				challenge = []byte{}
			}
			return AuthenticateResult{AuthBytes: challenge, SessionLifetimeMs: lifetime, Done: true}
		}
	}
	if err != nil {
		s.phase = PhaseFailed
		s.server = nil
		res := AuthenticateResult{ErrorCode: errcode.SASLAuthenticationFailed, Close: true}
		if s.cfg != nil {
			res.CloseDelay = s.cfg.FailedAuthenticationDelay
		}
		var ae *sasl.AuthError
		var pe *reauthPrincipalError
		switch {
		case errors.As(err, &ae):
			res.ErrorMessage = ae.MessageForClient(s.reauthenticating)
		case errors.As(err, &pe):
			res.ErrorMessage = pe.msg
		default:
			res.ErrorMessage = sasl.GenericClientMessage(s.mechanism, s.reauthenticating)
		}
		return res
	}
	if challenge == nil {
		challenge = []byte{}
	}
	return AuthenticateResult{AuthBytes: challenge}
}

// sessionLifetime is Kafka's ReauthInfo.calcCompletionTimesAndReturnSessionLifetimeMs:
// the smaller of connections.max.reauth.ms and the credential's remaining
// lifetime, 0 when neither applies, never negative.
func (s *Session) sessionLifetime(credentialExpiry time.Time, now time.Time) int64 {
	var maxReauth int64
	if s.cfg != nil && s.cfg.MaxReauth != nil {
		maxReauth = s.cfg.MaxReauth(s.mechanism).Milliseconds()
	}
	maxSet := maxReauth > 0
	var out int64
	switch {
	case credentialExpiry.IsZero() && !maxSet:
		return 0
	case credentialExpiry.IsZero():
		out = maxReauth
	case !maxSet:
		out = credentialExpiry.Sub(now).Milliseconds()
	default:
		out = min(credentialExpiry.Sub(now).Milliseconds(), maxReauth)
	}
	return max(out, 0)
}

// EnabledMechanisms lists the listener's mechanism names.
func (c *SASLConfig) EnabledMechanisms() []string { return slices.Clone(c.mechanismNames()) }
