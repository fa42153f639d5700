package sasl

import (
	"bytes"
	"crypto/hmac"
	"fmt"
	"strings"
)

// plainUserPrefix marks a user in the PLAIN login module's options.
const plainUserPrefix = "user_"

// Plain is the PLAIN mechanism (RFC 4616) with Kafka's default server
// callback: users and passwords from the user_<name>="<password>" options of
// the listener's plain.sasl.jaas.config. Passwords are kept only as keyed
// digests and compared in constant time.
type Plain struct {
	users map[string][]byte // name -> secretDigest(password)
	dummy []byte            // compared against for unknown users
}

// NewPlain makes the mechanism for the given users (name -> password).
func NewPlain(users map[string]string) *Plain {
	p := &Plain{users: make(map[string][]byte, len(users)), dummy: secretDigest([]byte("unknown user"))}
	for name, pw := range users {
		p.users[name] = secretDigest([]byte(pw))
	}
	return p
}

// NewPlainFromJAAS reads the users of a PlainLoginModule entry. Kafka looks
// the user_ options up only in the PlainLoginModule's entry, so another
// module would leave every login failing; Spool refuses it instead.
func NewPlainFromJAAS(e JAASEntry) (*Plain, error) {
	if e.LoginModule != PlainLoginModule {
		return nil, fmt.Errorf("%w: PLAIN needs login module %s, got %s", ErrJAAS, PlainLoginModule, e.LoginModule)
	}
	users := map[string]string{}
	for k, v := range e.Options {
		if name, ok := strings.CutPrefix(k, plainUserPrefix); ok {
			users[name] = v
		}
	}
	return NewPlain(users), nil
}

// Name is "PLAIN".
func (p *Plain) Name() string { return MechanismPlain }

// Users lists the configured user names (not their passwords).
func (p *Plain) Users() []string {
	out := make([]string, 0, len(p.users))
	for n := range p.users {
		out = append(out, n)
	}
	return out
}

// NewServer starts one exchange.
func (p *Plain) NewServer() Server { return &plainServer{mech: p} }

type plainServer struct {
	mech    *Plain
	done    bool
	outcome Outcome
}

// Step takes the single client message
//
//	[authzid] NUL authcid NUL passwd
//
// and fails with Kafka's client-facing messages.
func (s *plainServer) Step(token []byte) ([]byte, bool, error) {
	if s.done {
		return nil, false, fail(MechanismPlain, "unexpected token after completion")
	}
	parts := bytes.SplitN(token, []byte{0}, 4)
	if len(parts) != 3 {
		msg := fmt.Sprintf("Invalid SASL/PLAIN response: expected 3 tokens, got %d", len(parts))
		return nil, false, failClient(MechanismPlain, msg, msg)
	}
	authzid, user, password := string(parts[0]), string(parts[1]), parts[2]
	if user == "" {
		return nil, false, failClient(MechanismPlain, "Authentication failed: username not specified", "username not specified")
	}
	if len(password) == 0 {
		return nil, false, failClient(MechanismPlain, "Authentication failed: password not specified", "password not specified")
	}
	// The same work for a known and an unknown user: one digest, one
	// constant-time comparison.
	want, known := s.mech.users[user]
	if !known {
		want = s.mech.dummy
	}
	ok := hmac.Equal(secretDigest(password), want) && known
	if !ok {
		return nil, false, failClient(MechanismPlain, "Authentication failed: Invalid username or password", "invalid username or password")
	}
	if authzid != "" && authzid != user {
		return nil, false, failClient(MechanismPlain, "Authentication failed: Client requested an authorization id that is different from username",
			"authorization id differs from username")
	}
	s.done = true
	s.outcome = Outcome{AuthorizationID: user}
	return []byte{}, true, nil
}

func (s *plainServer) Outcome() Outcome { return s.outcome }
