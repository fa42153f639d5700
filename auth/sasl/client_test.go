package sasl

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// clientExchange runs a client against a server until both are done.
func clientExchange(t *testing.T, c Client, s Server) (Outcome, error) {
	t.Helper()
	var challenge []byte
	for range 5 {
		resp, cdone, err := c.Step(challenge)
		if err != nil {
			return Outcome{}, err
		}
		if resp == nil && cdone {
			return s.Outcome(), nil
		}
		out, sdone, err := s.Step(resp)
		if err != nil {
			return Outcome{}, err
		}
		challenge = out
		if sdone {
			if _, _, err := c.Step(challenge); err != nil && !cdone {
				return Outcome{}, err
			}
			return s.Outcome(), nil
		}
	}
	t.Fatal("exchange did not finish")
	return Outcome{}, nil
}

func TestClientAgainstServer(t *testing.T) {
	store := NewMemoryStore()
	for _, m := range []ScramMechanism{ScramSHA256, ScramSHA512} {
		cred, err := m.NewCredential("secret", 4096)
		require.NoError(t, err)
		store.SetUser(m, "broker,=1", cred)
	}
	plain := NewPlain(map[string]string{"admin": "admin-pw"})
	for _, tc := range []struct {
		name, mech, user, pass string
		server                 func() Server
		ok                     bool
	}{
		{"plain ok", MechanismPlain, "admin", "admin-pw", plain.NewServer, true},
		{"plain wrong", MechanismPlain, "admin", "nope", plain.NewServer, false},
		{"scram-256 ok", MechanismScramSHA256, "broker,=1", "secret", mustScram(t, ScramSHA256, store).NewServer, true},
		{"scram-512 ok", MechanismScramSHA512, "broker,=1", "secret", mustScram(t, ScramSHA512, store).NewServer, true},
		{"scram-512 wrong", MechanismScramSHA512, "broker,=1", "wrong", mustScram(t, ScramSHA512, store).NewServer, false},
		{"scram-512 unknown user", MechanismScramSHA512, "nobody", "secret", mustScram(t, ScramSHA512, store).NewServer, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewClient(tc.mech, tc.user, tc.pass)
			require.NoError(t, err)
			out, err := clientExchange(t, c, tc.server())
			if !tc.ok {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.user, out.AuthorizationID)
		})
	}
}

func TestScramClientRejectsBadServerSignature(t *testing.T) {
	store := NewMemoryStore()
	cred, err := ScramSHA256.NewCredential("secret", 4096)
	require.NoError(t, err)
	store.SetUser(ScramSHA256, "u", cred)
	c, err := NewClient(MechanismScramSHA256, "u", "secret")
	require.NoError(t, err)
	s := mustScram(t, ScramSHA256, store).NewServer()
	first, _, err := c.Step(nil)
	require.NoError(t, err)
	sf, _, err := s.Step(first)
	require.NoError(t, err)
	final, _, err := c.Step(sf)
	require.NoError(t, err)
	_, _, err = s.Step(final)
	require.NoError(t, err)
	_, _, err = c.Step([]byte("v=AAAA"))
	require.ErrorIs(t, err, ErrServerRejected)

	_, err = NewClient("GSSAPI", "u", "p")
	require.Error(t, err)
}

func mustScram(t *testing.T, m ScramMechanism, store CredentialStore) *Scram {
	s, err := NewScram(m, store)
	require.NoError(t, err)
	return s
}
