package server

import (
	"context"
	cryptotls "crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"go.uber.org/zap/zaptest"

	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/internal/node"
	"github.com/spool-broker/spool/protocol"
)

// scramUsers creates SCRAM users through AlterUserScramCredentials on the
// PLAINTEXT listener (no authorizer): alice with SCRAM-SHA-512, bob with
// SCRAM-SHA-256.
func scramUsers(t *testing.T, addr string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := kadm.NewClient(cl).AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "alice", Mechanism: kadm.ScramSha512, Iterations: 8192, Password: "alice-scram"},
		{User: "bob", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "bob-scram"},
	})
	require.NoError(t, err)
	require.NoError(t, res.Error())
}

// roundTrip produces one record with opts and consumes it back.
func roundTrip(t *testing.T, topic string, opts ...kgo.Opt) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation(),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RequestRetries(1), kgo.RetryTimeout(3 * time.Second)}, opts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
		return err
	}
	fs := cl.PollRecords(ctx, 1)
	if err := fs.Err0(); err != nil {
		return err
	}
	if fs.NumRecords() != 1 {
		return errors.New("no record consumed")
	}
	return nil
}

// metadataOnce sends one Metadata request, without retries.
func metadataOnce(t *testing.T, opts ...kgo.Opt) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.RequestRetries(0)}, opts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	_, err = cl.Request(ctx, kmsg.NewPtrMetadataRequest())
	return err
}

// TestSecurityFranzGo: franz-go authenticates with SCRAM-SHA-512,
// SCRAM-SHA-256 and PLAIN over SASL_SSL and SASL_PLAINTEXT and with a
// client certificate over SSL, and is refused with bad credentials, a
// plaintext client on a TLS port and a TLS client without a certificate on
// the mTLS port.
func TestSecurityFranzGo(t *testing.T) {
	p := makePKI(t)
	n := startSecureNode(t, p)
	scramUsers(t, n.plain)
	tlsOpt := func(cert bool) kgo.Opt { return kgo.DialTLSConfig(p.clientTLS(t, cert)) }
	scram512 := func(user, pass string) sasl.Mechanism { return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism() }
	scram256 := func(user, pass string) sasl.Mechanism { return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism() }
	plainM := func(user, pass string) sasl.Mechanism { return plain.Auth{User: user, Pass: pass}.AsMechanism() }

	for _, tc := range []struct {
		name string
		opts []kgo.Opt
	}{
		{"PLAINTEXT", []kgo.Opt{kgo.SeedBrokers(n.plain)}},
		{"SASL_SSL SCRAM-SHA-512", []kgo.Opt{kgo.SeedBrokers(n.saslSSL), tlsOpt(false), kgo.SASL(scram512("alice", "alice-scram"))}},
		{"SASL_SSL SCRAM-SHA-256", []kgo.Opt{kgo.SeedBrokers(n.saslSSL), tlsOpt(false), kgo.SASL(scram256("bob", "bob-scram"))}},
		{"SASL_SSL PLAIN", []kgo.Opt{kgo.SeedBrokers(n.saslSSL), tlsOpt(false), kgo.SASL(plainM("alice", "alice-secret"))}},
		{"SASL_PLAINTEXT PLAIN", []kgo.Opt{kgo.SeedBrokers(n.saslPlain), kgo.SASL(plainM("bob", "bob-secret"))}},
		{"SSL client certificate", []kgo.Opt{kgo.SeedBrokers(n.ssl), tlsOpt(true)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, roundTrip(t, "fg", tc.opts...))
		})
	}

	refused := []struct {
		name string
		opts []kgo.Opt
		code error // the Kafka error, when the broker answers one
	}{
		{"wrong SCRAM-SHA-512 password", []kgo.Opt{kgo.SeedBrokers(n.saslSSL), tlsOpt(false), kgo.SASL(scram512("alice", "wrong"))}, kerr.SaslAuthenticationFailed},
		{"unknown SCRAM user", []kgo.Opt{kgo.SeedBrokers(n.saslSSL), tlsOpt(false), kgo.SASL(scram512("mallory", "x"))}, kerr.SaslAuthenticationFailed},
		{"SCRAM user with the other mechanism", []kgo.Opt{kgo.SeedBrokers(n.saslSSL), tlsOpt(false), kgo.SASL(scram256("alice", "alice-scram"))}, kerr.SaslAuthenticationFailed},
		{"wrong PLAIN password", []kgo.Opt{kgo.SeedBrokers(n.saslSSL), tlsOpt(false), kgo.SASL(plainM("alice", "wrong"))}, kerr.SaslAuthenticationFailed},
		{"wrong PLAIN password in the clear", []kgo.Opt{kgo.SeedBrokers(n.saslPlain), kgo.SASL(plainM("bob", "wrong"))}, kerr.SaslAuthenticationFailed},
		{"no SASL on a SASL_SSL port", []kgo.Opt{kgo.SeedBrokers(n.saslSSL), tlsOpt(false)}, nil},
		{"plaintext client on the SASL_SSL port", []kgo.Opt{kgo.SeedBrokers(n.saslSSL), kgo.SASL(plainM("alice", "alice-secret"))}, nil},
		{"plaintext client on the SSL port", []kgo.Opt{kgo.SeedBrokers(n.ssl)}, nil},
		{"TLS without a certificate on the mTLS port", []kgo.Opt{kgo.SeedBrokers(n.ssl), tlsOpt(false)}, nil},
		{"untrusted certificate on the mTLS port", []kgo.Opt{kgo.SeedBrokers(n.ssl), kgo.DialTLSConfig(func() *cryptotls.Config {
			c := p.clientTLS(t, false)
			kp, err := cryptotls.LoadX509KeyPair(p.rogueCert, p.rogueKey)
			require.NoError(t, err)
			c.Certificates = []cryptotls.Certificate{kp}
			return c
		}())}, nil},
	}
	for _, tc := range refused {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			err := metadataOnce(t, tc.opts...)
			require.Error(t, err)
			if tc.code != nil {
				require.ErrorIs(t, err, tc.code)
			}
		})
	}

	t.Run("authenticated connection closes after a failed login", func(t *testing.T) {
		// The connection the failure was answered on is closed by the
		// broker: a raw read sees EOF right after the answer.
		conn, err := net.DialTimeout("tcp", n.saslPlain, 5*time.Second)
		require.NoError(t, err)
		defer conn.Close()
		resp := saslPlainExchange(t, conn, "bob", "wrong")
		require.Equal(t, int16(58), resp) // SASL_AUTHENTICATION_FAILED
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		require.Error(t, err, "the broker closes the connection")
	})
}

// TestStartRefusesBrokenSecurity: a listener whose security cannot be set
// up (no keystore, a wrong store password, PLAIN without users) stops
// startup; the port is never served in the clear.
func TestStartRefusesBrokenSecurity(t *testing.T) {
	p := makePKI(t)
	for _, tc := range []struct {
		name     string
		protocol string
		env      []string
		want     string
	}{
		{"SSL without a keystore", "SSL", nil, "ssl.keystore.location"},
		{"wrong keystore password", "SSL", []string{"KAFKA_SSL_KEYSTORE_LOCATION=" + p.keystore, "KAFKA_SSL_KEYSTORE_PASSWORD=wrong"}, "ssl.keystore.password"},
		{"PLAIN without users", "SASL_PLAINTEXT", []string{"KAFKA_SASL_ENABLED_MECHANISMS=PLAIN"}, "plain.sasl.jaas.config"},
		// Kafka 4.3.1 refuses these too, with JaasContext's message.
		{"SCRAM-SHA-512 without a JAAS entry", "SASL_SSL", []string{"KAFKA_SASL_ENABLED_MECHANISMS=SCRAM-SHA-512,PLAIN",
			"KAFKA_SSL_KEYSTORE_LOCATION=" + p.keystore, "KAFKA_SSL_KEYSTORE_PASSWORD=" + p.password,
			"KAFKA_LISTENER_NAME_SECURE_PLAIN_SASL_JAAS_CONFIG=" + plainUsersJAAS},
			"Could not find a 'KafkaServer' or 'secure.KafkaServer' entry in the JAAS configuration. " +
				"System property 'java.security.auth.login.config' is not set (Spool reads no JAAS file): " +
				"SASL mechanism SCRAM-SHA-512 needs listener.name.secure.scram-sha-512.sasl.jaas.config"},
		{"SCRAM-SHA-256 without a JAAS entry", "SASL_PLAINTEXT", []string{"KAFKA_SASL_ENABLED_MECHANISMS=PLAIN,SCRAM-SHA-256",
			"KAFKA_LISTENER_NAME_SECURE_PLAIN_SASL_JAAS_CONFIG=" + plainUsersJAAS}, "listener.name.secure.scram-sha-256.sasl.jaas.config"},
		{"OAUTHBEARER without a JAAS entry", "SASL_PLAINTEXT", []string{"KAFKA_SASL_ENABLED_MECHANISMS=PLAIN,OAUTHBEARER",
			"KAFKA_LISTENER_NAME_SECURE_PLAIN_SASL_JAAS_CONFIG=" + plainUsersJAAS}, "listener.name.secure.oauthbearer.sasl.jaas.config"},
		{"a custom PLAIN callback handler", "SASL_PLAINTEXT", []string{"KAFKA_SASL_ENABLED_MECHANISMS=PLAIN",
			"KAFKA_LISTENER_NAME_SECURE_PLAIN_SASL_JAAS_CONFIG=" + plainUsersJAAS,
			"KAFKA_LISTENER_NAME_SECURE_PLAIN_SASL_SERVER_CALLBACK_HANDLER_CLASS=com.example.LdapPlainCallbackHandler"},
			"listener.name.secure.plain.sasl.server.callback.handler.class=com.example.LdapPlainCallbackHandler: custom SASL callback handlers are not supported"},
		{"a JAAS entry for another listener", "SASL_PLAINTEXT", []string{"KAFKA_SASL_ENABLED_MECHANISMS=PLAIN,SCRAM-SHA-512",
			"KAFKA_LISTENER_NAME_SECURE_PLAIN_SASL_JAAS_CONFIG=" + plainUsersJAAS,
			"KAFKA_LISTENER_NAME_OTHER_SCRAM___SHA___512_SASL_JAAS_CONFIG=" + scramJAAS},
			"listener.name.secure.scram-sha-512.sasl.jaas.config"},
		{"PLAIN with a broken JAAS config", "SASL_PLAINTEXT", []string{"KAFKA_SASL_ENABLED_MECHANISMS=PLAIN",
			"KAFKA_LISTENER_NAME_SECURE_PLAIN_SASL_JAAS_CONFIG=org.apache.kafka.common.security.plain.PlainLoginModule required user_a=\"pw-not-in-message\""},
			"listener.name.secure.plain.sasl.jaas.config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ports := distinctPorts(t, 2)
			port, cport := ports[0], ports[1]
			cfg, _, err := config.Load("", append([]string{
				"KAFKA_NODE_ID=1", "KAFKA_PROCESS_ROLES=broker,controller",
				fmt.Sprintf("KAFKA_LISTENERS=SECURE://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d", port, cport),
				"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=SECURE:" + tc.protocol + ",CONTROLLER:PLAINTEXT",
				"KAFKA_INTER_BROKER_LISTENER_NAME=SECURE",
				"KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL=PLAIN",
				"KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER",
				fmt.Sprintf("KAFKA_CONTROLLER_QUORUM_VOTERS=1@127.0.0.1:%d", cport),
				"KAFKA_LOG_DIRS=" + t.TempDir(),
			}, tc.env...))
			require.NoError(t, err)
			require.NoError(t, cfg.CheckProtections())
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			nd, err := node.Start(ctx, cfg, nil, zaptest.NewLogger(t), NewNodeBroker)
			require.Nil(t, nd)
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), "pw-not-in-message")
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
			if err == nil {
				c.Close()
			}
			require.Error(t, err, "nothing listens on the client port")
		})
	}
}

// TestReauthentication: with connections.max.reauth.ms the broker gives
// SASL sessions a lifetime (KIP-368); franz-go re-authenticates on the open
// connection before it ends and keeps producing, and an expired session that
// does not re-authenticate is closed.
func TestReauthentication(t *testing.T) {
	p := makePKI(t)
	n := startSecureNode(t, p, "KAFKA_CONNECTIONS_MAX_REAUTH_MS=1500")
	scramUsers(t, n.plain)
	var auths saslAuthWrites
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.saslPlain), kgo.DefaultProduceTopic("reauth"), kgo.AllowAutoTopicCreation(),
		kgo.SASL(scram.Auth{User: "alice", Pass: "alice-scram"}.AsSha512Mechanism()), kgo.WithHooks(&auths))
	require.NoError(t, err)
	defer cl.Close()
	// Produce until the client has re-authenticated twice on its open
	// connections (franz-go does so before a request once the session's
	// lifetime is nearly over): every produce across the sessions succeeds.
	require.NoError(t, cl.ProduceSync(ctx10(t), &kgo.Record{Value: []byte("v")}).FirstErr())
	base := auths.n.Load()
	deadline := time.Now().Add(30 * time.Second)
	for auths.n.Load() < base+2 {
		require.True(t, time.Now().Before(deadline), "no re-authentication within 30 s (SaslAuthenticate writes: %d, before: %d)", auths.n.Load(), base)
		require.NoError(t, cl.ProduceSync(ctx10(t), &kgo.Record{Value: []byte("v")}).FirstErr())
	}

	// A raw client that authenticates and then sits past its lifetime is
	// closed at its next request.
	conn, err := net.DialTimeout("tcp", n.saslPlain, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	resp, err := rawCall(t, conn, 1, protocol.KeySaslHandshake, 1, &protocol.SaslHandshakeRequest{Mechanism: "PLAIN"})
	require.NoError(t, err)
	require.Zero(t, resp.(*protocol.SaslHandshakeResponse).ErrorCode)
	resp, err = rawCall(t, conn, 2, protocol.KeySaslAuthenticate, 2, &protocol.SaslAuthenticateRequest{AuthBytes: []byte("\x00bob\x00bob-secret")})
	require.NoError(t, err)
	ar := resp.(*protocol.SaslAuthenticateResponse)
	require.Zero(t, ar.ErrorCode)
	require.Equal(t, int64(1500), ar.SessionLifetimeMs)
	_, err = rawCall(t, conn, 3, protocol.KeyMetadata, 12, &protocol.MetadataRequest{})
	require.NoError(t, err, "within the lifetime")
	require.Eventually(t, func() bool {
		_, err := rawCall(t, conn, 4, protocol.KeyMetadata, 12, &protocol.MetadataRequest{})
		return err != nil
	}, 10*time.Second, 200*time.Millisecond, "the expired session is closed")
}

// unsecuredJWT is an unsigned token as Kafka's
// OAuthBearerUnsecuredLoginCallbackHandler makes one (alg "none").
func unsecuredJWT(sub string, exp time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString
	payload := fmt.Sprintf(`{"sub":%q,"iat":%d,"exp":%d}`, sub, time.Now().Unix(), exp.Unix())
	return enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(payload)) + "."
}

// TestOAuthBearerUnsecured: OAUTHBEARER with Kafka's default (unsecured,
// development) validator authenticates a franz-go client as the token's
// subject and refuses an expired token.
func TestOAuthBearerUnsecured(t *testing.T) {
	p := makePKI(t)
	n := startSecureNode(t, p,
		"KAFKA_LISTENER_NAME_SASL__PLAINTEXT_SASL_ENABLED_MECHANISMS=OAUTHBEARER,PLAIN",
		"KAFKA_LISTENER_NAME_SASL__PLAINTEXT_OAUTHBEARER_SASL_JAAS_CONFIG=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;")
	tok := unsecuredJWT("alice", time.Now().Add(time.Hour))
	require.NoError(t, roundTrip(t, "oauth", kgo.SeedBrokers(n.saslPlain), kgo.SASL(oauth.Auth{Token: tok}.AsMechanism())))
	// The broker answers an invalid token with Kafka's JSON error
	// challenge ({"status":"invalid_token"}), which franz-go refuses to
	// go on with, as it does against Kafka.
	expired := unsecuredJWT("alice", time.Now().Add(-time.Hour))
	require.ErrorContains(t, metadataOnce(t, kgo.SeedBrokers(n.saslPlain), kgo.SASL(oauth.Auth{Token: expired}.AsMechanism())),
		"unexpected data in oauth response")
}

// TestFetchOverTLSCopies: the writer sends records with sendfile only on a
// plain TCP socket; a TLS connection gets the pooled-read path (records
// must be encrypted), which the SSL and SASL_SSL consumers above use.
func TestFetchOverTLSCopies(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			defer c.Close()
			_, _ = c.Read(make([]byte, 1))
		}
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer raw.Close()
	require.NotNil(t, sendfileConn(raw), "plain TCP: sendfile")
	require.Nil(t, sendfileConn(cryptotls.Client(raw, &cryptotls.Config{InsecureSkipVerify: true})), "TLS: copy")
}

// saslAuthWrites counts the SaslAuthenticate requests a kgo client writes.
type saslAuthWrites struct{ n atomic.Int64 }

func (h *saslAuthWrites) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == protocol.KeySaslAuthenticate && err == nil {
		h.n.Add(1)
	}
}
