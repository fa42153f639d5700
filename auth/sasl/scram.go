package sasl

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"time"
)

// ScramMechanism is SCRAM-SHA-256 or SCRAM-SHA-512 (RFC 5802, RFC 7677).
type ScramMechanism int8

// The SCRAM mechanisms, with Kafka's ScramMechanism type codes (the
// Mechanism field of AlterUserScramCredentials and the metadata records).
const (
	ScramSHA256 ScramMechanism = 1
	ScramSHA512 ScramMechanism = 2
)

// Kafka's iteration bounds (ScramMechanism minIterations/maxIterations):
// credentials outside them are refused when stored, and a stored credential
// below the minimum never authenticates.
const (
	ScramMinIterations = 4096
	ScramMaxIterations = 16384
)

// ParseScramMechanism maps "SCRAM-SHA-256"/"SCRAM-SHA-512" to the mechanism.
func ParseScramMechanism(name string) (ScramMechanism, bool) {
	switch name {
	case MechanismScramSHA256:
		return ScramSHA256, true
	case MechanismScramSHA512:
		return ScramSHA512, true
	}
	return 0, false
}

// String is the mechanism name.
func (m ScramMechanism) String() string {
	switch m {
	case ScramSHA256:
		return MechanismScramSHA256
	case ScramSHA512:
		return MechanismScramSHA512
	}
	return "SCRAM-UNKNOWN(" + strconv.Itoa(int(m)) + ")"
}

// Valid reports whether m is a known mechanism.
func (m ScramMechanism) Valid() bool { return m == ScramSHA256 || m == ScramSHA512 }

func (m ScramMechanism) hash() func() hash.Hash {
	if m == ScramSHA512 {
		return sha512.New
	}
	return sha256.New
}

func (m ScramMechanism) hmac(key []byte, parts ...string) []byte {
	h := hmac.New(m.hash(), key)
	for _, p := range parts {
		h.Write([]byte(p))
	}
	return h.Sum(nil)
}

func (m ScramMechanism) digest(b []byte) []byte {
	h := m.hash()()
	h.Write(b)
	return h.Sum(nil)
}

// ScramCredential is what the server stores for a SCRAM user: never the
// password, only the salt, the iteration count and the two keys derived
// from SaltedPassword = Hi(password, salt, iterations):
//
//	StoredKey = H(HMAC(SaltedPassword, "Client Key"))
//	ServerKey = HMAC(SaltedPassword, "Server Key")
type ScramCredential struct {
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
	Iterations int
}

// String hides the keys.
func (c ScramCredential) String() string {
	return fmt.Sprintf("ScramCredential(salt=[hidden], storedKey=[hidden], serverKey=[hidden], iterations=%d)", c.Iterations)
}

// ErrUnacceptableCredential marks a credential Kafka would refuse to store
// (UNACCEPTABLE_CREDENTIAL).
var ErrUnacceptableCredential = errors.New("sasl: unacceptable credential")

// ValidateIterations checks Kafka's bounds, with the messages of its
// ScramControlManager.
func ValidateIterations(iterations int) error {
	if iterations < ScramMinIterations {
		return fmt.Errorf("%w: Too few iterations", ErrUnacceptableCredential)
	}
	if iterations > ScramMaxIterations {
		return fmt.Errorf("%w: Too many iterations", ErrUnacceptableCredential)
	}
	return nil
}

// SaltedPassword is Hi(password, salt, iterations): PBKDF2 with the
// mechanism's HMAC. Kafka uses the password's UTF-8 bytes (no SASLprep).
func (m ScramMechanism) SaltedPassword(password string, salt []byte, iterations int) ([]byte, error) {
	return pbkdf2.Key(m.hash(), password, salt, iterations, m.hash()().Size())
}

// CredentialFromSaltedPassword derives the stored credential from a salted
// password, as the controller does for AlterUserScramCredentials (the client
// sends SaltedPassword, never the password).
func (m ScramMechanism) CredentialFromSaltedPassword(salt, saltedPassword []byte, iterations int) ScramCredential {
	clientKey := m.hmac(saltedPassword, "Client Key")
	return ScramCredential{
		Salt:       append([]byte(nil), salt...),
		StoredKey:  m.digest(clientKey),
		ServerKey:  m.hmac(saltedPassword, "Server Key"),
		Iterations: iterations,
	}
}

// NewCredential makes a credential from a password with a fresh random
// salt (e.g. for `spool format --add-scram`). iterations must be within
// Kafka's bounds.
func (m ScramMechanism) NewCredential(password string, iterations int) (ScramCredential, error) {
	if !m.Valid() {
		return ScramCredential{}, fmt.Errorf("%w: unknown SCRAM mechanism %d", ErrUnacceptableCredential, m)
	}
	if err := ValidateIterations(iterations); err != nil {
		return ScramCredential{}, err
	}
	salt := make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		return ScramCredential{}, fmt.Errorf("sasl: salt: %w", err)
	}
	sp, err := m.SaltedPassword(password, salt, iterations)
	if err != nil {
		return ScramCredential{}, fmt.Errorf("sasl: salted password: %w", err)
	}
	return m.CredentialFromSaltedPassword(salt, sp, iterations), nil
}

// CredentialStore looks up SCRAM credentials. The controller implements it
// from the metadata log (UserScramCredentialRecord); MemoryStore is the
// in-memory implementation. Implementations are safe for concurrent use and
// return credentials the caller must not modify.
type CredentialStore interface {
	// ScramCredential returns the user's credential for mechanism m.
	ScramCredential(m ScramMechanism, user string) (ScramCredential, bool)
}

// TokenStore looks up delegation tokens for SCRAM's tokenauth=true
// extension: the client's username is the token ID and its password the
// token's HMAC (base64), so the credential is derived from the HMAC.
type TokenStore interface {
	// TokenCredential returns the token's SCRAM credential for m, the
	// owner's principal name and the token's expiry.
	TokenCredential(m ScramMechanism, tokenID string) (cred ScramCredential, owner string, expiry time.Time, ok bool)
}

// Scram is one SCRAM mechanism of a listener.
type Scram struct {
	mech   ScramMechanism
	users  CredentialStore
	tokens TokenStore // nil: delegation tokens disabled
	nonce  func() string
}

// ScramOption configures a Scram mechanism.
type ScramOption func(*Scram)

// WithTokens enables delegation-token authentication (tokenauth=true).
func WithTokens(ts TokenStore) ScramOption { return func(s *Scram) { s.tokens = ts } }

// withNonce fixes the server nonce (RFC test vectors).
func withNonce(f func() string) ScramOption { return func(s *Scram) { s.nonce = f } }

// NewScram makes the mechanism m over a credential store.
func NewScram(m ScramMechanism, users CredentialStore, opts ...ScramOption) (*Scram, error) {
	if !m.Valid() {
		return nil, fmt.Errorf("sasl: unknown SCRAM mechanism %d", m)
	}
	if users == nil {
		return nil, errors.New("sasl: SCRAM needs a credential store")
	}
	s := &Scram{mech: m, users: users, nonce: randomNonce}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Name is "SCRAM-SHA-256" or "SCRAM-SHA-512".
func (s *Scram) Name() string { return s.mech.String() }

// NewServer starts one exchange.
func (s *Scram) NewServer() Server { return &scramServer{mech: s} }

// randomNonce is 24 random bytes in base64url: printable, no ','.
func randomNonce() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic("sasl: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

type scramState int8

const (
	scramWantClientFirst scramState = iota
	scramWantClientFinal
	scramComplete
	scramFailed
)

// scramServer is one SCRAM exchange:
//
//	client-first  n,[a=authzid],n=user,r=cnonce[,ext=value...]
//	server-first  r=cnonce+snonce,s=base64(salt),i=iterations
//	client-final  c=base64(gs2-header),r=cnonce+snonce,p=base64(proof)
//	server-final  v=base64(ServerSignature)
//
// As Kafka: gs2 header "n" only (no channel binding), no SASLprep, user
// names of ASCII characters with "=2C" and "=3D" for ',' and '=', the only
// understood extension tokenauth. Unlike Kafka, an unknown user (or token)
// goes through the whole exchange with a dummy credential and fails at the
// proof, so a client cannot tell unknown users from wrong passwords by the
// answer or its timing (RFC 5802 section 9).
type scramServer struct {
	mech  *Scram
	state scramState

	gs2Header       string // "n,," or "n,a=<authzid>,"
	clientFirstBare string
	serverFirst     string
	nonce           string // cnonce + snonce
	cred            ScramCredential
	known           bool // cred is real, not a dummy
	outcome         Outcome
}

func (s *scramServer) name() string { return s.mech.mech.String() }

func (s *scramServer) Step(token []byte) ([]byte, bool, error) {
	var (
		out  []byte
		done bool
		err  *AuthError
	)
	switch s.state {
	case scramWantClientFirst:
		out, err = s.clientFirst(string(token))
	case scramWantClientFinal:
		out, err = s.clientFinal(string(token))
		done = err == nil
	default:
		err = fail(s.name(), "unexpected token in state "+strconv.Itoa(int(s.state)))
	}
	if err != nil {
		s.state = scramFailed
		s.cred = ScramCredential{}
		return nil, false, err
	}
	return out, done, nil
}

func (s *scramServer) Outcome() Outcome { return s.outcome }

// scramAttr splits "k=value" with a one-letter key.
func scramAttr(field string, key byte) (string, bool) {
	if len(field) < 2 || field[0] != key || field[1] != '=' {
		return "", false
	}
	return field[2:], true
}

// validSaslName: Kafka's SASLNAME, (ASCII 0x01-0x7F except '=' and ',' |
// "=2C" | "=3D")+.
func validSaslName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '=':
			if i+3 > len(s) || (s[i+1:i+3] != "2C" && s[i+1:i+3] != "3D") {
				return false
			}
			i += 2
		case c == ',' || c == 0 || c > 0x7F:
			return false
		}
	}
	return true
}

// decodeSaslName replaces "=2C" with ',' and "=3D" with '=' (Kafka's
// ScramFormatter.username).
func decodeSaslName(s string) string {
	return strings.NewReplacer("=2C", ",", "=3D", "=").Replace(s)
}

// validPrintable: Kafka's PRINTABLE for nonces, 0x21-0x7E except ','.
func validPrintable(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7E || c == ',' {
			return false
		}
	}
	return true
}

// parseExtension checks ALPHA=VALUE (VALUE: 0x01-0x7F except ',').
func parseExtension(f string) (string, string, bool) {
	k, v, ok := strings.Cut(f, "=")
	if !ok || k == "" || v == "" {
		return "", "", false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return "", "", false
		}
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == 0 || c > 0x7F {
			return "", "", false
		}
	}
	return k, v, true
}

func (s *scramServer) clientFirst(msg string) ([]byte, *AuthError) {
	bad := func(why string) *AuthError {
		return fail(s.name(), "invalid SCRAM client first message: "+why)
	}
	// gs2-header: "n," [ "a=" saslname ] ","
	rest, ok := strings.CutPrefix(msg, "n,")
	if !ok {
		if strings.HasPrefix(msg, "y,") || strings.HasPrefix(msg, "p=") {
			return nil, bad("channel binding is not supported")
		}
		return nil, bad("gs2 header")
	}
	authzField, rest, ok := strings.Cut(rest, ",")
	if !ok {
		return nil, bad("gs2 header")
	}
	authzid := ""
	if authzField != "" {
		a, ok := scramAttr(authzField, 'a')
		if !ok || !validSaslName(a) {
			return nil, bad("authorization id")
		}
		authzid = decodeSaslName(a)
	}
	s.gs2Header = "n," + authzField + ","
	s.clientFirstBare = rest
	fields := strings.Split(rest, ",")
	if len(fields) < 2 {
		return nil, bad("missing user or nonce")
	}
	if strings.HasPrefix(fields[0], "m=") {
		return nil, bad("mandatory extension not supported")
	}
	saslName, ok := scramAttr(fields[0], 'n')
	if !ok || !validSaslName(saslName) {
		return nil, bad("user name")
	}
	cnonce, ok := scramAttr(fields[1], 'r')
	if !ok || !validPrintable(cnonce) {
		return nil, bad("nonce")
	}
	ext := map[string]string{}
	for _, f := range fields[2:] {
		k, v, ok := parseExtension(f)
		if !ok {
			return nil, bad("extension")
		}
		ext[k] = v
	}
	user := decodeSaslName(saslName)
	// Checked before any lookup, so the answer does not depend on whether
	// the user exists.
	if authzid != "" && authzid != user {
		return nil, failClient(s.name(), "Authentication failed: Client requested an authorization id that is different from username",
			"authorization id differs from username")
	}

	tokenAuth := strings.EqualFold(ext["tokenauth"], "true")
	s.outcome = Outcome{AuthorizationID: user, TokenAuthenticated: tokenAuth}
	if tokenAuth {
		s.outcome.Extensions = map[string]string{"tokenauth": ext["tokenauth"]}
	}
	switch {
	case tokenAuth && s.mech.tokens != nil:
		// A token past its expiry still authenticates until the
		// controller's sweep removes it, as in Kafka (whose
		// ScramServerCallbackHandler reads the token cache without looking
		// at the expiry): the expiry becomes the session's end
		// (CredentialExpiry), so auth.Session gives it a lifetime of 0 and
		// the connection closes at its first request after the login.
		cred, owner, expiry, ok := s.mech.tokens.TokenCredential(s.mech.mech, user)
		s.cred, s.known = cred, ok
		s.outcome.AuthorizationID = owner
		s.outcome.TokenID = user
		s.outcome.CredentialExpiry = expiry
	case tokenAuth:
		s.known = false // delegation tokens are not enabled
	default:
		s.cred, s.known = s.mech.users.ScramCredential(s.mech.mech, user)
	}
	if s.known && (s.cred.Iterations < ScramMinIterations || len(s.cred.Salt) == 0) {
		s.known = false // never authenticate with a credential Kafka would refuse
	}
	// The dummy is made for every user, known or not, so both paths do the
	// same work (BenchmarkFailedLogin).
	dummy := s.dummyCredential(user, tokenAuth)
	if !s.known {
		s.cred = dummy
	}

	s.nonce = cnonce + s.mech.nonce()
	s.serverFirst = "r=" + s.nonce + ",s=" + base64.StdEncoding.EncodeToString(s.cred.Salt) + ",i=" + strconv.Itoa(s.cred.Iterations)
	s.state = scramWantClientFinal
	return []byte(s.serverFirst), nil
}

// dummyCredential stands in for an unknown user: a salt that is stable for
// the name within this process (a second attempt sees the same salt, as for
// a real user), Kafka's minimum iterations, and random keys no proof
// matches.
func (s *scramServer) dummyCredential(user string, token bool) ScramCredential {
	kind := "user"
	if token {
		kind = "token"
	}
	salt := secretDigest([]byte("scram dummy salt"), []byte(s.name()), []byte(kind), []byte(user))
	keys := make([]byte, 2*s.mech.mech.hash()().Size())
	if _, err := rand.Read(keys); err != nil {
		panic("sasl: crypto/rand failed: " + err.Error())
	}
	half := len(keys) / 2
	return ScramCredential{Salt: salt, StoredKey: keys[:half], ServerKey: keys[half:], Iterations: ScramMinIterations}
}

func (s *scramServer) clientFinal(msg string) ([]byte, *AuthError) {
	bad := func(why string) *AuthError {
		return fail(s.name(), "invalid SCRAM client final message: "+why)
	}
	withoutProof, proofField, ok := cutLast(msg, ",p=")
	if !ok {
		return nil, bad("missing proof")
	}
	fields := strings.Split(withoutProof, ",")
	if len(fields) < 2 {
		return nil, bad("missing channel binding or nonce")
	}
	cb, ok := scramAttr(fields[0], 'c')
	if !ok {
		return nil, bad("channel binding")
	}
	// RFC 5802 wants the gs2 header here; franz-go sends "n,," even with an
	// authzid, and Kafka checks nothing, so "n,," is accepted too. Any other
	// value (a channel binding Spool does not do) is refused.
	cbBytes, err := base64.StdEncoding.DecodeString(cb)
	if err != nil || (string(cbBytes) != s.gs2Header && string(cbBytes) != "n,,") {
		return nil, bad("channel binding does not match the gs2 header")
	}
	// The nonce must be the server-first nonce exactly (RFC 5802), as
	// Kafka 4.x's ScramSaslServer requires ("Invalid client nonce in the
	// final client message."). Kafka 3.8.1-3.9 accepted any nonce ending
	// with the server's (the CVE-2024-56128 fix), which librdkafka before
	// 2.6.1 relied on: it sends its own nonce followed by the whole server
	// nonce, the client nonce twice. Kafka 4.3.1 refuses those clients
	// (Debian's librdkafka 2.0.2, kcat 1.7.1), and so does Spool.
	nonce, ok := scramAttr(fields[1], 'r')
	if !ok || !hmac.Equal([]byte(nonce), []byte(s.nonce)) {
		return nil, bad("Invalid client nonce in the final client message.")
	}
	for _, f := range fields[2:] {
		if _, _, ok := parseExtension(f); !ok {
			return nil, bad("extension")
		}
	}
	proof, err := base64.StdEncoding.DecodeString(proofField)
	if err != nil {
		return nil, bad("proof is not base64")
	}

	authMessage := s.clientFirstBare + "," + s.serverFirst + "," + withoutProof
	m := s.mech.mech
	clientSignature := m.hmac(s.cred.StoredKey, authMessage)
	// Same work whatever the proof's length or the user: a wrong length
	// becomes a zero proof of the right length.
	if len(proof) != len(clientSignature) {
		proof = make([]byte, len(clientSignature))
	}
	clientKey := make([]byte, len(proof))
	for i := range proof {
		clientKey[i] = proof[i] ^ clientSignature[i]
	}
	matches := hmac.Equal(m.digest(clientKey), s.cred.StoredKey)
	if !matches || !s.known {
		return nil, fail(s.name(), "invalid client credentials")
	}
	serverSignature := m.hmac(s.cred.ServerKey, authMessage)
	s.state = scramComplete
	s.cred = ScramCredential{}
	return []byte("v=" + base64.StdEncoding.EncodeToString(serverSignature)), nil
}

// cutLast cuts s around the last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}
