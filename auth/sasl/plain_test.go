package sasl

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

const plainJAAS = `org.apache.kafka.common.security.plain.PlainLoginModule required
    username="admin"
    password="admin-secret"
    user_admin="admin-secret"
    user_alice="alice-secret";`

func TestPlain(t *testing.T) {
	e, err := ParseServerJAAS(plainJAAS)
	require.NoError(t, err)
	p, err := NewPlainFromJAAS(e)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"admin", "alice"}, p.Users())

	tests := []struct {
		name     string
		token    string
		want     string // authorization id
		wantMsg  string // Kafka's client message on failure
		withKgo  *plain.Auth
		internal bool
	}{
		{name: "alice", token: "\x00alice\x00alice-secret", want: "alice"},
		{name: "authzid equal", token: "alice\x00alice\x00alice-secret", want: "alice"},
		{name: "franz-go client", withKgo: &plain.Auth{User: "admin", Pass: "admin-secret"}, want: "admin"},
		{name: "wrong password", token: "\x00alice\x00nope", wantMsg: "Authentication failed: Invalid username or password"},
		{name: "password prefix", token: "\x00alice\x00alice-secre", wantMsg: "Authentication failed: Invalid username or password"},
		{name: "unknown user", token: "\x00mallory\x00alice-secret", wantMsg: "Authentication failed: Invalid username or password"},
		{name: "the username/password options are not users", token: "\x00username\x00admin", wantMsg: "Authentication failed: Invalid username or password"},
		{name: "authzid differs", token: "admin\x00alice\x00alice-secret", wantMsg: "Authentication failed: Client requested an authorization id that is different from username"},
		{name: "empty user", token: "\x00\x00pw", wantMsg: "Authentication failed: username not specified"},
		{name: "empty password", token: "\x00alice\x00", wantMsg: "Authentication failed: password not specified"},
		{name: "two tokens", token: "alice\x00pw", wantMsg: "Invalid SASL/PLAIN response: expected 3 tokens, got 2"},
		{name: "four tokens", token: "a\x00alice\x00alice-secret\x00x", wantMsg: "Invalid SASL/PLAIN response: expected 3 tokens, got 4"},
		{name: "empty", token: "", wantMsg: "Invalid SASL/PLAIN response: expected 3 tokens, got 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.withKgo != nil {
				got, err := exchange(t, tt.withKgo.AsMechanism(), p.NewServer())
				require.NoError(t, err)
				require.Equal(t, tt.want, got.AuthorizationID)
				return
			}
			s := p.NewServer()
			out, done, err := s.Step([]byte(tt.token))
			if tt.wantMsg != "" {
				var ae *AuthError
				require.ErrorAs(t, err, &ae)
				require.Equal(t, tt.wantMsg, ae.MessageForClient(false))
				require.NotContains(t, ae.Error(), "alice-secret")
				require.False(t, done)
				return
			}
			require.NoError(t, err)
			require.True(t, done)
			require.Empty(t, out)
			require.Equal(t, tt.want, s.Outcome().AuthorizationID)
			_, _, err = s.Step([]byte(tt.token))
			require.Error(t, err, "nothing after completion")
		})
	}
}

func TestPlainNeedsPlainLoginModule(t *testing.T) {
	e, err := ParseServerJAAS(`org.apache.kafka.common.security.scram.ScramLoginModule required user_alice="x";`)
	require.NoError(t, err)
	_, err = NewPlainFromJAAS(e)
	require.ErrorIs(t, err, ErrJAAS)
}
