package sasl

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	kgosasl "github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// TestScramRFC7677 replays RFC 7677 section 3's SCRAM-SHA-256 example
// byte for byte: user "user", password "pencil", the RFC's salt,
// iterations and nonces.
func TestScramRFC7677(t *testing.T) {
	salt, err := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	require.NoError(t, err)
	sp, err := ScramSHA256.SaltedPassword("pencil", salt, 4096)
	require.NoError(t, err)
	store := NewMemoryStore()
	store.SetUser(ScramSHA256, "user", ScramSHA256.CredentialFromSaltedPassword(salt, sp, 4096))
	m, err := NewScram(ScramSHA256, store, withNonce(func() string { return "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0" }))
	require.NoError(t, err)
	s := m.NewServer()

	out, done, err := s.Step([]byte("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"))
	require.NoError(t, err)
	require.False(t, done)
	require.Equal(t, "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", string(out))

	out, done, err = s.Step([]byte("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
	require.NoError(t, err)
	require.True(t, done)
	require.Equal(t, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", string(out))
	require.Equal(t, Outcome{AuthorizationID: "user"}, s.Outcome())
}

// TestScramLibrdkafkaNonce: librdkafka before 2.6.1 (Debian's 2.0.2)
// sends its nonce and then the whole server nonce in the client final
// message, the client nonce twice. Kafka 4.3.1 refuses it even with a
// proof over what was sent (its ScramSaslServer wants the server nonce
// exactly; 3.8.1-3.9 took any nonce ending with it), and so does Spool;
// the same proof over the exact nonce logs in.
func TestScramLibrdkafkaNonce(t *testing.T) {
	salt := []byte("librdkafka-salt")
	sp, err := ScramSHA512.SaltedPassword("pw", salt, 4096)
	require.NoError(t, err)
	store := NewMemoryStore()
	store.SetUser(ScramSHA512, "alice", ScramSHA512.CredentialFromSaltedPassword(salt, sp, 4096))
	m, err := NewScram(ScramSHA512, store, withNonce(func() string { return "SERVER" }))
	require.NoError(t, err)
	for _, tt := range []struct {
		name, nonce string
		ok          bool
	}{
		{"the server nonce", "clientSERVER", true},
		{"librdkafka < 2.6.1: the client nonce twice", "clientclientSERVER", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := m.NewServer()
			clientFirstBare := "n=alice,r=client"
			first, _, err := s.Step([]byte("n,," + clientFirstBare))
			require.NoError(t, err)
			require.Equal(t, "r=clientSERVER,s="+base64.StdEncoding.EncodeToString(salt)+",i=4096", string(first))
			withoutProof := "c=biws,r=" + tt.nonce
			authMessage := clientFirstBare + "," + string(first) + "," + withoutProof
			clientKey := ScramSHA512.hmac(sp, "Client Key")
			sig := ScramSHA512.hmac(ScramSHA512.digest(clientKey), authMessage)
			proof := make([]byte, len(sig))
			for i := range sig {
				proof[i] = clientKey[i] ^ sig[i]
			}
			_, done, err := s.Step([]byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)))
			require.Equal(t, tt.ok, done)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrAuthenticationFailed)
			var ae *AuthError
			require.ErrorAs(t, err, &ae)
			require.Empty(t, ae.ClientMessage, "Kafka's generic answer")
		})
	}
}

// exchange runs a franz-go client mechanism against a server until one side
// finishes, as the connection would. A server error is returned; a client
// that refuses the server's message fails the test.
func exchange(t *testing.T, cl kgosasl.Mechanism, srv Server) (Outcome, error) {
	t.Helper()
	out, serverErr, clientErr := runExchange(cl, srv)
	require.NoError(t, clientErr)
	return out, serverErr
}

func runExchange(cl kgosasl.Mechanism, srv Server) (_ Outcome, serverErr, clientErr error) {
	sess, msg, err := cl.Authenticate(context.Background(), "localhost:9092")
	if err != nil {
		return Outcome{}, nil, err
	}
	for i := 0; i < 10; i++ {
		challenge, done, err := srv.Step(msg)
		if err != nil {
			return Outcome{}, err, nil
		}
		clientDone, next, err := sess.Challenge(challenge)
		if err != nil {
			return Outcome{}, nil, fmt.Errorf("client refused the server's message: %w", err)
		}
		if done != clientDone {
			return Outcome{}, nil, fmt.Errorf("server done=%v but client done=%v", done, clientDone)
		}
		if done {
			return srv.Outcome(), nil, nil
		}
		msg = next
	}
	return Outcome{}, nil, errors.New("exchange did not finish")
}

func scramStore(t *testing.T, iterations int, users map[string]string) *MemoryStore {
	t.Helper()
	st := NewMemoryStore()
	for u, pw := range users {
		for _, m := range []ScramMechanism{ScramSHA256, ScramSHA512} {
			c, err := m.NewCredential(pw, iterations)
			require.NoError(t, err)
			st.SetUser(m, u, c)
		}
	}
	return st
}

// TestScramFranzGo runs franz-go's SCRAM client code against the server for
// both mechanisms: right and wrong passwords, unknown users, names with the
// characters SCRAM escapes, and delegation tokens.
func TestScramFranzGo(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	st := scramStore(t, 4096, map[string]string{"alice": "alice-secret", "b,o=b": "pässwörd"})
	for _, m := range []ScramMechanism{ScramSHA256, ScramSHA512} {
		tokenCred, err := m.NewCredential("dG9rZW4taG1hYw==", 4096)
		require.NoError(t, err)
		st.SetToken(m, "tok-1", tokenCred, "alice", now.Add(time.Hour))
		st.SetToken(m, "tok-expired", tokenCred, "alice", now.Add(-time.Second))
	}
	mechanism := func(m ScramMechanism, a scram.Auth) kgosasl.Mechanism {
		if m == ScramSHA512 {
			return a.AsSha512Mechanism()
		}
		return a.AsSha256Mechanism()
	}
	tests := []struct {
		name    string
		auth    scram.Auth
		want    Outcome
		wantErr bool
	}{
		{"right password", scram.Auth{User: "alice", Pass: "alice-secret"}, Outcome{AuthorizationID: "alice"}, false},
		{"escaped name, non-ASCII password", scram.Auth{User: "b,o=b", Pass: "pässwörd"}, Outcome{AuthorizationID: "b,o=b"}, false},
		{"wrong password", scram.Auth{User: "alice", Pass: "nope"}, Outcome{}, true},
		{"unknown user", scram.Auth{User: "mallory", Pass: "alice-secret"}, Outcome{}, true},
		{"matching authzid", scram.Auth{User: "alice", Pass: "alice-secret", Zid: "alice"}, Outcome{AuthorizationID: "alice"}, false},
		{"delegation token", scram.Auth{User: "tok-1", Pass: "dG9rZW4taG1hYw==", IsToken: true},
			Outcome{AuthorizationID: "alice", TokenAuthenticated: true, TokenID: "tok-1", CredentialExpiry: now.Add(time.Hour), Extensions: map[string]string{"tokenauth": "true"}}, false},
		// Kafka too: until the sweep removes it; the session then ends at once.
		{"expired token not yet removed", scram.Auth{User: "tok-expired", Pass: "dG9rZW4taG1hYw==", IsToken: true},
			Outcome{AuthorizationID: "alice", TokenAuthenticated: true, TokenID: "tok-expired", CredentialExpiry: now.Add(-time.Second), Extensions: map[string]string{"tokenauth": "true"}}, false},
		{"removed token", scram.Auth{User: "tok-removed", Pass: "dG9rZW4taG1hYw==", IsToken: true}, Outcome{}, true},
		{"token id as user name", scram.Auth{User: "tok-1", Pass: "dG9rZW4taG1hYw=="}, Outcome{}, true},
		{"user name as token", scram.Auth{User: "alice", Pass: "alice-secret", IsToken: true}, Outcome{}, true},
	}
	for _, m := range []ScramMechanism{ScramSHA256, ScramSHA512} {
		srv, err := NewScram(m, st, WithTokens(st))
		require.NoError(t, err)
		for _, tt := range tests {
			t.Run(m.String()+"/"+tt.name, func(t *testing.T) {
				got, err := exchange(t, mechanism(m, tt.auth), srv.NewServer())
				if tt.wantErr {
					require.ErrorIs(t, err, ErrAuthenticationFailed)
					var ae *AuthError
					require.True(t, errors.As(err, &ae))
					require.Empty(t, ae.ClientMessage, "a wrong credential gets Kafka's generic message")
					require.Equal(t, "Authentication failed during authentication due to invalid credentials with SASL mechanism "+m.String(), ae.MessageForClient(false))
					return
				}
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
			})
		}
	}
}

// TestScramUnknownUserLooksKnown: an unknown user gets a server-first
// message of the same shape as a known one, with a salt that stays the
// same across attempts, and fails only at the proof.
func TestScramUnknownUserLooksKnown(t *testing.T) {
	st := scramStore(t, 4096, map[string]string{"alice": "pw"})
	m, err := NewScram(ScramSHA512, st)
	require.NoError(t, err)
	first := func(user string) string {
		out, _, err := m.NewServer().Step([]byte("n,,n=" + user + ",r=abc"))
		require.NoError(t, err)
		return string(out)
	}
	fields := func(s string) []string { return strings.Split(s, ",") }
	known, unknown1, unknown2 := fields(first("alice")), fields(first("mallory")), fields(first("mallory"))
	require.Len(t, unknown1, 3)
	require.Equal(t, known[2], unknown1[2], "same iteration count")
	require.Equal(t, len(known[1]), len(unknown1[1]), "same salt length")
	require.Equal(t, unknown1[1], unknown2[1], "a stable salt per unknown user")
	require.NotEqual(t, first("eve"), unknown1[1])
}

func TestScramMalformed(t *testing.T) {
	st := scramStore(t, 4096, map[string]string{"alice": "pw"})
	m, err := NewScram(ScramSHA256, st)
	require.NoError(t, err)
	firsts := []struct {
		name, msg string
		client    string // the client message when Kafka sends one
	}{
		{"empty", "", ""},
		{"channel binding required", "p=tls-unique,,n=alice,r=abc", ""},
		{"client supports binding", "y,,n=alice,r=abc", ""},
		{"no gs2 header", "n=alice,r=abc", ""},
		{"mandatory extension", "n,,m=ext,n=alice,r=abc", ""},
		{"bad escape", "n,,n=al=2Xice,r=abc", ""},
		{"trailing =", "n,,n=alice=,r=abc", ""},
		{"non-ASCII name", "n,,n=älice,r=abc", ""},
		{"no nonce", "n,,n=alice", ""},
		{"empty nonce", "n,,n=alice,r=", ""},
		{"bad extension", "n,,n=alice,r=abc,1=2", ""},
		{"authzid differs", "n,a=bob,n=alice,r=abc", "Authentication failed: Client requested an authorization id that is different from username"},
	}
	for _, tt := range firsts {
		t.Run("first/"+tt.name, func(t *testing.T) {
			s := m.NewServer()
			_, _, err := s.Step([]byte(tt.msg))
			var ae *AuthError
			require.ErrorAs(t, err, &ae)
			require.Equal(t, tt.client, ae.ClientMessage)
			_, _, err = s.Step([]byte("c=biws,r=abc,p=AAAA"))
			require.ErrorIs(t, err, ErrAuthenticationFailed, "a failed exchange stays failed")
		})
	}

	finals := []struct{ name, msg string }{
		{"empty", ""},
		{"no proof", "c=biws,r=%s"},
		{"wrong nonce", "c=biws,r=abcX,p=AAAA"},
		{"nonce prefix only", "c=biws,r=abc,p=AAAA"},
		{"server nonce then more", "c=biws,r=%sX,p=AAAA"},
		{"more then the server nonce", "c=biws,r=abc%s,p=AAAA"},
		{"channel binding not the gs2 header", "c=eSws,r=%s,p=AAAA"},
		{"bad base64 proof", "c=biws,r=%s,p=!!!!"},
		{"short proof", "c=biws,r=%s,p=AAAA"},
	}
	for _, tt := range finals {
		t.Run("final/"+tt.name, func(t *testing.T) {
			s := m.NewServer()
			out, _, err := s.Step([]byte("n,,n=alice,r=abc"))
			require.NoError(t, err)
			nonce := strings.TrimPrefix(strings.Split(string(out), ",")[0], "r=")
			_, done, err := s.Step([]byte(strings.ReplaceAll(tt.msg, "%s", nonce)))
			require.False(t, done)
			require.ErrorIs(t, err, ErrAuthenticationFailed)
		})
	}
}

func TestScramStoredCredentialBelowMinimumNeverAuthenticates(t *testing.T) {
	st := NewMemoryStore()
	salt := []byte("0123456789abcdef")
	sp, err := ScramSHA256.SaltedPassword("pw", salt, 1000)
	require.NoError(t, err)
	st.SetUser(ScramSHA256, "weak", ScramSHA256.CredentialFromSaltedPassword(salt, sp, 1000))
	m, err := NewScram(ScramSHA256, st)
	require.NoError(t, err)
	_, err = exchange(t, scram.Auth{User: "weak", Pass: "pw"}.AsSha256Mechanism(), m.NewServer())
	require.ErrorIs(t, err, ErrAuthenticationFailed)
}

func TestScramCredentialValidation(t *testing.T) {
	for _, tt := range []struct {
		iterations int
		err        string
	}{
		{4095, "Too few iterations"},
		{4096, ""},
		{16384, ""},
		{16385, "Too many iterations"},
	} {
		_, err := ScramSHA512.NewCredential("pw", tt.iterations)
		if tt.err == "" {
			require.NoError(t, err)
			continue
		}
		require.ErrorIs(t, err, ErrUnacceptableCredential)
		require.ErrorContains(t, err, tt.err)
	}
	c, err := ScramSHA256.NewCredential("pw", 4096)
	require.NoError(t, err)
	require.NotContains(t, c.String(), base64.StdEncoding.EncodeToString(c.StoredKey))
	require.Contains(t, c.String(), "[hidden]")
}

// TestScramConcurrent authenticates from many goroutines against one
// mechanism (run with -race).
func TestScramConcurrent(t *testing.T) {
	st := scramStore(t, 4096, map[string]string{"alice": "pw"})
	m, err := NewScram(ScramSHA256, st)
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, serverErr, clientErr := runExchange(scram.Auth{User: "alice", Pass: "pw"}.AsSha256Mechanism(), m.NewServer())
			if err := errors.Join(serverErr, clientErr); err != nil || got.AuthorizationID != "alice" {
				errs <- fmt.Errorf("exchange: %v, outcome %+v", err, got)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
