package auth

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/spool-broker/spool/auth/sasl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

func testSASLConfig(t *testing.T, maxReauth time.Duration) *SASLConfig {
	t.Helper()
	store := sasl.NewMemoryStore()
	c, err := sasl.ScramSHA512.NewCredential("alice-secret", 4096)
	require.NoError(t, err)
	store.SetUser(sasl.ScramSHA512, "alice", c)
	c, err = sasl.ScramSHA512.NewCredential("bob-secret", 4096)
	require.NoError(t, err)
	store.SetUser(sasl.ScramSHA512, "bob", c)
	scramMech, err := sasl.NewScram(sasl.ScramSHA512, store)
	require.NoError(t, err)
	return &SASLConfig{
		Mechanisms:                []sasl.Mechanism{sasl.NewPlain(map[string]string{"alice": "alice-secret"}), scramMech},
		MaxReauth:                 func(string) time.Duration { return maxReauth },
		FailedAuthenticationDelay: DefaultFailedAuthenticationDelay,
	}
}

func TestPrincipal(t *testing.T) {
	p, err := ParsePrincipal("User:CN=a,O=b:c")
	require.NoError(t, err)
	require.Equal(t, Principal{Type: "User", Name: "CN=a,O=b:c"}, p)
	require.Equal(t, "User:CN=a,O=b:c", p.String())
	_, err = ParsePrincipal("bob")
	require.EqualError(t, err, "expected a string in format principalType:principalName but got bob")
	_, err = ParsePrincipal("")
	require.Error(t, err)
	require.Equal(t, "User:ANONYMOUS", Anonymous.String())

	// StandardAuthorizerTest.testGetConfiguredSuperUsers
	for _, tt := range []struct {
		in   string
		want []Principal
		err  string
	}{
		{in: " ", want: nil},
		{in: "User:bob;User:alice ", want: []Principal{User("bob"), User("alice")}},
		{in: ";  User:bob  ;  User:alice ", want: []Principal{User("bob"), User("alice")}},
		{in: "bob;:alice", err: "expected a string in format principalType:principalName but got bob"},
	} {
		got, err := ParseSuperUsers(tt.in)
		if tt.err != "" {
			require.ErrorContains(t, err, tt.err)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tt.want, got)
	}
}

// TestSessionPreAuthGate: before authentication only ApiVersions (once),
// SaslHandshake and SaslAuthenticate pass, with Kafka's reactions to
// anything else, and frames are capped at sasl.server.max.receive.size.
func TestSessionPreAuthGate(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name    string
		setup   func(s *Session)
		key     int16
		want    Action
		code    int16
		message string
	}{
		{name: "ApiVersions first", key: protocol.KeyApiVersions, want: HandleApiVersions},
		{name: "SaslHandshake first", key: protocol.KeySaslHandshake, want: HandleHandshake},
		{name: "Metadata first", key: protocol.KeyMetadata, want: Close},
		{name: "Produce first", key: protocol.KeyProduce, want: Close},
		{name: "SaslAuthenticate before handshake", key: protocol.KeySaslAuthenticate, want: Close},
		{name: "second ApiVersions", setup: func(s *Session) { s.ApiVersionsAnswered(true) }, key: protocol.KeyApiVersions, want: Close},
		{name: "ApiVersions again after an error answer", setup: func(s *Session) { s.ApiVersionsAnswered(false) }, key: protocol.KeyApiVersions, want: HandleApiVersions},
		{name: "handshake after ApiVersions", setup: func(s *Session) { s.ApiVersionsAnswered(true) }, key: protocol.KeySaslHandshake, want: HandleHandshake},
		{name: "Fetch during authentication", setup: func(s *Session) { s.Handshake("PLAIN", 1) }, key: protocol.KeyFetch,
			want: RespondAndClose, code: errcode.IllegalSASLState, message: "Unexpected Kafka request of type FETCH during SASL authentication."},
		{name: "ApiVersions during authentication", setup: func(s *Session) { s.Handshake("PLAIN", 1) }, key: protocol.KeyApiVersions,
			want: RespondAndClose, code: errcode.IllegalSASLState, message: "Unexpected Kafka request of type API_VERSIONS during SASL authentication."},
		{name: "SaslAuthenticate during authentication", setup: func(s *Session) { s.Handshake("PLAIN", 1) }, key: protocol.KeySaslAuthenticate, want: HandleAuthenticate},
		{name: "any request after v0 handshake", setup: func(s *Session) { s.Handshake("PLAIN", 0) }, key: protocol.KeySaslAuthenticate, want: Close},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSASLSession(testSASLConfig(t, 0))
			require.EqualValues(t, DefaultMaxReceiveSize, s.MaxFrameSize(100<<20))
			if tt.setup != nil {
				tt.setup(s)
			}
			d := s.Check(tt.key, now)
			require.Equal(t, tt.want, d.Action, d.Reason)
			require.Equal(t, tt.code, d.ErrorCode)
			require.Equal(t, tt.message, d.ErrorMessage)
			if tt.want == Close || tt.want == RespondAndClose {
				require.Equal(t, PhaseFailed, s.Phase())
			}
		})
	}
	require.EqualValues(t, 4096, NewSASLSession(&SASLConfig{MaxReceiveSize: 4096}).MaxFrameSize(1<<20))
}

func TestSessionPlainV1(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := NewSASLSession(testSASLConfig(t, 0))
	require.Equal(t, HandleApiVersions, s.Check(protocol.KeyApiVersions, now).Action)
	s.ApiVersionsAnswered(true)
	require.Equal(t, HandleHandshake, s.Check(protocol.KeySaslHandshake, now).Action)
	hs := s.Handshake("PLAIN", 1)
	require.Equal(t, HandshakeResult{Mechanisms: []string{"PLAIN", "SCRAM-SHA-512"}}, hs)
	require.False(t, s.RawTokens())
	require.Equal(t, HandleAuthenticate, s.Check(protocol.KeySaslAuthenticate, now).Action)
	res := s.Authenticate([]byte("\x00alice\x00alice-secret"), 2, now)
	require.Equal(t, AuthenticateResult{AuthBytes: []byte{}, Done: true}, res)
	p, ok := s.Principal()
	require.True(t, ok)
	require.Equal(t, User("alice"), p)
	require.Equal(t, PhaseAuthenticated, s.Phase())
	require.EqualValues(t, 100<<20, s.MaxFrameSize(100<<20))
	require.Equal(t, Serve, s.Check(protocol.KeyProduce, now).Action)
	require.False(t, s.Expired(now.Add(365*24*time.Hour)), "no connections.max.reauth.ms, no expiry")

	d := s.Check(protocol.KeySaslAuthenticate, now)
	require.Equal(t, Decision{Action: Respond, ErrorCode: errcode.IllegalSASLState,
		ErrorMessage: "SaslAuthenticate request received after successful authentication", Reason: d.Reason}, d)
}

func TestSessionFailures(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)

	s := NewSASLSession(testSASLConfig(t, 0))
	hs := s.Handshake("GSSAPI", 1)
	require.Equal(t, HandshakeResult{ErrorCode: errcode.UnsupportedSASLMechanism, Mechanisms: []string{"PLAIN", "SCRAM-SHA-512"}, Close: true}, hs)
	require.Equal(t, PhaseFailed, s.Phase())

	s = NewSASLSession(testSASLConfig(t, 0))
	s.Handshake("PLAIN", 1)
	res := s.Authenticate([]byte("\x00alice\x00wrong"), 1, now)
	require.Equal(t, AuthenticateResult{ErrorCode: errcode.SASLAuthenticationFailed, ErrorMessage: "Authentication failed: Invalid username or password",
		Close: true, CloseDelay: 100 * time.Millisecond}, res)
	_, ok := s.Principal()
	require.False(t, ok)
	require.Equal(t, Close, s.Check(protocol.KeyMetadata, now).Action)

	s = NewSASLSession(testSASLConfig(t, 0))
	s.Handshake("SCRAM-SHA-512", 1)
	res = s.Authenticate([]byte("n,,n=alice,r=abc"), 1, now)
	require.False(t, res.Close)
	res = s.Authenticate([]byte("c=biws,r=nope,p=AAAA"), 1, now)
	require.Equal(t, errcode.SASLAuthenticationFailed, res.ErrorCode)
	require.Equal(t, "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512", res.ErrorMessage)

	// Handshake out of order, or on a listener without SASL.
	s = NewSASLSession(testSASLConfig(t, 0))
	s.Handshake("PLAIN", 1)
	require.Equal(t, HandshakeResult{ErrorCode: errcode.IllegalSASLState, Mechanisms: []string{"PLAIN", "SCRAM-SHA-512"}, Close: true}, s.Handshake("PLAIN", 1))
	require.Equal(t, errcode.IllegalSASLState, NewAuthenticatedSession(Anonymous).Handshake("PLAIN", 1).ErrorCode)

	// v0: raw tokens, a failure closes without an answer.
	s = NewSASLSession(testSASLConfig(t, 0))
	s.Handshake("PLAIN", 0)
	require.True(t, s.RawTokens())
	res = s.AuthenticateRaw([]byte("garbage"), now)
	require.True(t, res.Close)
	require.True(t, res.NoResponse)
}

// scramLogin runs franz-go's SCRAM client through a Session with
// SaslAuthenticate v2, as a connection would.
func scramLogin(t *testing.T, s *Session, user, pass string, now time.Time) AuthenticateResult {
	t.Helper()
	require.Equal(t, HandleHandshake, s.Check(protocol.KeySaslHandshake, now).Action)
	require.Zero(t, s.Handshake("SCRAM-SHA-512", 1).ErrorCode)
	sess, msg, err := scram.Auth{User: user, Pass: pass}.AsSha512Mechanism().Authenticate(context.Background(), "")
	require.NoError(t, err)
	for {
		require.Equal(t, HandleAuthenticate, s.Check(protocol.KeySaslAuthenticate, now).Action)
		res := s.Authenticate(msg, 2, now)
		if res.ErrorCode != 0 || res.Done {
			if res.Done {
				done, _, err := sess.Challenge(res.AuthBytes)
				require.NoError(t, err)
				require.True(t, done)
			}
			return res
		}
		_, msg, err = sess.Challenge(res.AuthBytes)
		require.NoError(t, err)
	}
}

// TestSessionReauthentication follows KIP-368: the session lifetime is
// connections.max.reauth.ms, a request after it closes the connection, a
// SaslHandshake re-authenticates (even after expiry), with the same
// mechanism and principal only.
func TestSessionReauthentication(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	cfg := testSASLConfig(t, time.Minute)

	s := NewSASLSession(cfg)
	res := scramLogin(t, s, "alice", "alice-secret", now)
	require.True(t, res.Done)
	require.EqualValues(t, 60000, res.SessionLifetimeMs)
	require.Equal(t, now.Add(time.Minute), s.SessionExpiry())
	require.Equal(t, Serve, s.Check(protocol.KeyFetch, now.Add(59*time.Second)).Action)

	later := now.Add(2 * time.Minute)
	res = scramLogin(t, s, "alice", "alice-secret", later)
	require.True(t, res.Done, "re-authentication after expiry")
	require.Equal(t, later.Add(time.Minute), s.SessionExpiry())
	require.Equal(t, Serve, s.Check(protocol.KeyFetch, later).Action)

	res = scramLogin(t, s, "bob", "bob-secret", later)
	require.Equal(t, errcode.SASLAuthenticationFailed, res.ErrorCode)
	require.Equal(t, "Cannot change principals during re-authentication from User.alice: User.bob", res.ErrorMessage)
	require.True(t, res.Close)

	s = NewSASLSession(cfg)
	require.True(t, scramLogin(t, s, "alice", "alice-secret", now).Done)
	d := s.Check(protocol.KeyFetch, now.Add(time.Minute))
	require.Equal(t, Close, d.Action)
	require.Equal(t, "expired session", d.Reason)

	// Another mechanism: SaslHandshake is answered, the next token closes.
	s = NewSASLSession(cfg)
	require.True(t, scramLogin(t, s, "alice", "alice-secret", now).Done)
	require.Zero(t, s.Handshake("PLAIN", 1).ErrorCode)
	res = s.Authenticate([]byte("\x00alice\x00alice-secret"), 2, now)
	require.True(t, res.Close)
	require.True(t, res.NoResponse)

	// A client that only spoke SaslAuthenticate v0 cannot re-authenticate:
	// SaslHandshake gets ILLEGAL_SASL_STATE on the open connection.
	s = NewSASLSession(cfg)
	s.Handshake("PLAIN", 1)
	require.True(t, s.Authenticate([]byte("\x00alice\x00alice-secret"), 0, now).Done)
	d = s.Check(protocol.KeySaslHandshake, now)
	require.Equal(t, Respond, d.Action)
	require.Equal(t, errcode.IllegalSASLState, d.ErrorCode)
}

func TestSessionLifetimeFromCredential(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, tt := range []struct {
		name      string
		maxReauth time.Duration
		expiry    time.Time
		want      int64
	}{
		{"neither", 0, time.Time{}, 0},
		{"max reauth only", time.Hour, time.Time{}, 3600000},
		{"credential only", 0, now.Add(time.Minute), 60000},
		{"credential sooner", time.Hour, now.Add(time.Minute), 60000},
		{"max reauth sooner", time.Second, now.Add(time.Minute), 1000},
		{"credential expired", 0, now.Add(-time.Minute), 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSASLSession(testSASLConfig(t, tt.maxReauth))
			require.Equal(t, tt.want, s.sessionLifetime(tt.expiry, now))
		})
	}
}

func TestAuthenticatedSession(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := NewAuthenticatedSession(Anonymous)
	p, ok := s.Principal()
	require.True(t, ok)
	require.Equal(t, Anonymous, p)
	require.Equal(t, Serve, s.Check(protocol.KeyMetadata, now).Action)
	d := s.Check(protocol.KeySaslHandshake, now)
	require.Equal(t, Respond, d.Action, "PLAINTEXT and SSL listeners answer SaslHandshake with ILLEGAL_SASL_STATE")
	require.Equal(t, errcode.IllegalSASLState, d.ErrorCode)
	require.EqualValues(t, 1<<20, s.MaxFrameSize(1<<20))
}
