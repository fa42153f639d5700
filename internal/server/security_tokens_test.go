package server

import (
	"encoding/base64"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// tokenSecret is the delegation.token.secret.key of the token tests.
const tokenSecret = "spool-token-test-secret"

// tokenNode is an aclNode with delegation tokens enabled and a fast sweep
// of expired tokens.
func tokenNode(t *testing.T) (*secureNode, *testPKI) {
	p := makePKI(t)
	return aclNode(t, p, "KAFKA_DELEGATION_TOKEN_SECRET_KEY="+tokenSecret,
		"KAFKA_DELEGATION_TOKEN_EXPIRY_CHECK_INTERVAL_MS=300"), p
}

type createdToken struct {
	code     int16
	id, hmac string // hmac in base64, the SCRAM password
	resp     *kmsg.CreateDelegationTokenResponse
}

func createToken(t *testing.T, cl *kgo.Client, owner string, renewers ...[2]string) createdToken {
	t.Helper()
	req := kmsg.NewPtrCreateDelegationTokenRequest()
	req.MaxLifetimeMillis = -1
	if owner != "" {
		typ := "User"
		req.OwnerPrincipalType, req.OwnerPrincipalName = &typ, &owner
	}
	for _, r := range renewers {
		rn := kmsg.NewCreateDelegationTokenRequestRenewer()
		rn.PrincipalType, rn.PrincipalName = r[0], r[1]
		req.Renewers = append(req.Renewers, rn)
	}
	resp, err := req.RequestWith(ctx10(t), cl)
	require.NoError(t, err)
	return createdToken{code: resp.ErrorCode, id: resp.TokenID, hmac: base64.StdEncoding.EncodeToString(resp.HMAC), resp: resp}
}

func renewToken(t *testing.T, cl *kgo.Client, hmac string, period int64) (int16, int64) {
	t.Helper()
	req := kmsg.NewPtrRenewDelegationTokenRequest()
	req.HMAC, _ = base64.StdEncoding.DecodeString(hmac)
	req.RenewTimeMillis = period
	resp, err := req.RequestWith(ctx10(t), cl)
	require.NoError(t, err)
	return resp.ErrorCode, resp.ExpiryTimestamp
}

func expireToken(t *testing.T, cl *kgo.Client, hmac string, period int64) (int16, int64) {
	t.Helper()
	req := kmsg.NewPtrExpireDelegationTokenRequest()
	req.HMAC, _ = base64.StdEncoding.DecodeString(hmac)
	req.ExpiryPeriodMillis = period
	resp, err := req.RequestWith(ctx10(t), cl)
	require.NoError(t, err)
	return resp.ErrorCode, resp.ExpiryTimestamp
}

// describeTokens returns the error code and the IDs of the tokens cl may
// see; owners nil asks for every token.
func describeTokens(t *testing.T, cl *kgo.Client, owners []string) (int16, []string) {
	t.Helper()
	req := kmsg.NewPtrDescribeDelegationTokenRequest()
	if owners != nil {
		req.Owners = []kmsg.DescribeDelegationTokenRequestOwner{}
		for _, o := range owners {
			ow := kmsg.NewDescribeDelegationTokenRequestOwner()
			ow.PrincipalType, ow.PrincipalName = "User", o
			req.Owners = append(req.Owners, ow)
		}
	}
	resp, err := req.RequestWith(ctx10(t), cl)
	require.NoError(t, err)
	var ids []string
	for _, tk := range resp.TokenDetails {
		ids = append(ids, tk.TokenID)
	}
	return resp.ErrorCode, ids
}

// tokenClient logs in with the token over SASL_SSL (SCRAM-SHA-512 or
// -256, tokenauth=true).
func tokenClient(t *testing.T, n *secureNode, p *testPKI, id, hmac string, sha256 bool) *kgo.Client {
	t.Helper()
	a := scram.Auth{User: id, Pass: hmac, IsToken: true}
	m := a.AsSha512Mechanism()
	if sha256 {
		m = a.AsSha256Mechanism()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.saslSSL), kgo.DialTLSConfig(p.clientTLS(t, false)), kgo.SASL(m), kgo.RequestRetries(0))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return cl
}

// TestDelegationTokens: Kafka's delegation token rules with franz-go: who
// may create, renew, expire and describe tokens and the codes otherwise;
// a client authenticates with a token (SCRAM, tokenauth=true) as the
// token's owner and is refused once the token expired or was removed; the
// controller's sweep removes expired tokens.
func TestDelegationTokens(t *testing.T) {
	n, p := tokenNode(t)
	admin, alice, bob := as(t, n, "admin"), as(t, n, "alice"), as(t, n, "bob")

	plainCl, err := kgo.NewClient(kgo.SeedBrokers(n.plain), kgo.RequestRetries(0))
	require.NoError(t, err)
	t.Cleanup(plainCl.Close)
	require.Equal(t, errcode.DelegationTokenRequestNotAllowed, createToken(t, plainCl, "").code, "PLAINTEXT")
	code, _ := describeTokens(t, plainCl, nil)
	require.Equal(t, errcode.DelegationTokenRequestNotAllowed, code, "PLAINTEXT")

	tok := createToken(t, alice, "", [2]string{"User", "bob"})
	require.Zero(t, tok.code)
	require.Equal(t, "alice", tok.resp.PrincipalName)
	require.Equal(t, "User", tok.resp.PrincipalType)
	require.Equal(t, "alice", tok.resp.TokenRequesterPrincipalName)
	require.Equal(t, tok.resp.IssueTimestamp+24*3600*1000, tok.resp.ExpiryTimestamp, "delegation.token.expiry.time.ms")
	require.Equal(t, tok.resp.IssueTimestamp+7*24*3600*1000, tok.resp.MaxTimestamp, "delegation.token.max.lifetime.ms")

	for _, tc := range []struct {
		name string
		cl   *kgo.Client
		got  func() int16
		want int16
	}{
		{"another owner without CREATE_TOKENS", alice, func() int16 { return createToken(t, alice, "bob").code }, errcode.DelegationTokenAuthorizationFailed},
		{"another owner by a super user", admin, func() int16 { return createToken(t, admin, "bob").code }, 0},
		{"a renewer that is not a User", alice, func() int16 { return createToken(t, alice, "", [2]string{"Group", "g"}).code }, errcode.InvalidPrincipalType},
		{"renew by a renewer", bob, func() int16 { c, _ := renewToken(t, bob, tok.hmac, 3600_000); return c }, 0},
		{"renew by the owner", alice, func() int16 { c, _ := renewToken(t, alice, tok.hmac, -1); return c }, 0},
		{"renew by a super user who is neither", admin, func() int16 { c, _ := renewToken(t, admin, tok.hmac, -1); return c }, errcode.DelegationTokenOwnerMismatch},
		{"renew an unknown HMAC", alice, func() int16 { c, _ := renewToken(t, alice, "AAAA", -1); return c }, errcode.DelegationTokenNotFound},
		{"expire an unknown HMAC", alice, func() int16 { c, _ := expireToken(t, alice, "AAAA", -1); return c }, errcode.DelegationTokenNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) { require.Equal(t, tc.want, tc.got()) })
	}

	// Renewal: the period asked for, capped by delegation.token.expiry.time.ms.
	c, expiry := renewToken(t, bob, tok.hmac, 3600_000)
	require.Zero(t, c)
	require.InDelta(t, time.Now().Add(time.Hour).UnixMilli(), expiry, 60_000)

	// Describe: owner, requester and renewers see a token; others need
	// DESCRIBE on it or DESCRIBE_TOKENS on its owner; super users see all.
	adminTok := createToken(t, admin, "")
	require.Zero(t, adminTok.code)
	_, ids := describeTokens(t, alice, nil)
	require.ElementsMatch(t, []string{tok.id}, ids)
	_, ids = describeTokens(t, bob, nil)
	require.Contains(t, ids, tok.id)
	require.NotContains(t, ids, adminTok.id)
	_, ids = describeTokens(t, admin, []string{"alice"})
	require.Equal(t, []string{tok.id}, ids)
	_, ids = describeTokens(t, admin, []string{})
	require.Empty(t, ids, "an empty owner list describes nothing")
	addACL(t, admin, acl.ResourceDelegationToken, adminTok.id, acl.PatternLiteral, "User:alice", acl.OpDescribe, acl.Allow)
	_, ids = describeTokens(t, alice, nil)
	require.ElementsMatch(t, []string{tok.id, adminTok.id}, ids)

	// Authentication with the token: the principal is the owner.
	ct := kmsg.NewPtrCreateTopicsRequest()
	tp := kmsg.NewCreateTopicsRequestTopic()
	tp.Topic, tp.NumPartitions, tp.ReplicationFactor = "orders", 1, 1
	ct.Topics = append(ct.Topics, tp)
	ctr, err := ct.RequestWith(ctx10(t), admin)
	require.NoError(t, err)
	ordersID = ctr.Topics[0].TopicID
	for _, sha256 := range []bool{false, true} {
		tc := tokenClient(t, n, p, tok.id, tok.hmac, sha256)
		require.Equal(t, errcode.TopicAuthorizationFailed, produceCode(t, tc, "orders", nil))
	}
	addACL(t, admin, acl.ResourceTopic, "orders", acl.PatternLiteral, "User:alice", acl.OpWrite, acl.Allow)
	tokCl := tokenClient(t, n, p, tok.id, tok.hmac, false)
	require.Zero(t, produceCode(t, tokCl, "orders", nil), "the token's principal is User:alice")
	require.Equal(t, errcode.DelegationTokenRequestNotAllowed, createToken(t, tokCl, "").code, "a token-authenticated connection")
	code, _ = renewToken(t, tokCl, tok.hmac, -1)
	require.Equal(t, errcode.DelegationTokenRequestNotAllowed, code)

	wrong := tokenClient(t, n, p, tok.id, adminTok.hmac, false)
	require.ErrorIs(t, wrong.Ping(ctx10(t)), kerr.SaslAuthenticationFailed, "another token's HMAC")
	notToken, err := kgo.NewClient(kgo.SeedBrokers(n.saslSSL), kgo.DialTLSConfig(p.clientTLS(t, false)),
		kgo.SASL(scram.Auth{User: tok.id, Pass: tok.hmac}.AsSha512Mechanism()), kgo.RequestRetries(0))
	require.NoError(t, err)
	t.Cleanup(notToken.Close)
	require.ErrorIs(t, notToken.Ping(ctx10(t)), kerr.SaslAuthenticationFailed, "a token without tokenauth=true")

	// Expiry in 1 ms: renewals answer EXPIRED until the sweep removes the
	// token, then NOT_FOUND, and logins are refused (until the sweep, a
	// login gets a session that ends at once: TestExpiredTokenSession).
	code, expiry = expireToken(t, alice, tok.hmac, 1)
	require.Zero(t, code)
	require.Less(t, expiry, time.Now().Add(time.Minute).UnixMilli())
	require.Eventually(t, func() bool {
		cl := tokenClient(t, n, p, tok.id, tok.hmac, false)
		defer cl.Close()
		return errors.Is(cl.Ping(ctx10(t)), kerr.SaslAuthenticationFailed)
	}, 20*time.Second, 50*time.Millisecond, "an expired token authenticates no one")
	require.Eventually(t, func() bool {
		c, _ := renewToken(t, alice, tok.hmac, -1)
		require.Contains(t, []int16{errcode.DelegationTokenExpired, errcode.DelegationTokenNotFound}, c)
		return c == errcode.DelegationTokenNotFound
	}, 20*time.Second, 50*time.Millisecond, "the sweep removes an expired token")
	_, ids = describeTokens(t, admin, nil)
	require.NotContains(t, ids, tok.id)

	// Immediate expiry (a negative period) removes the token at once.
	code, _ = expireToken(t, admin, adminTok.hmac, -1)
	require.Zero(t, code)
	require.ErrorIs(t, tokenClient(t, n, p, adminTok.id, adminTok.hmac, false).Ping(ctx10(t)), kerr.SaslAuthenticationFailed)
	code, _ = renewToken(t, admin, adminTok.hmac, -1)
	require.Equal(t, errcode.DelegationTokenNotFound, code)
}

// TestDelegationTokensDisabled: without delegation.token.secret.key every
// token request answers DELEGATION_TOKEN_AUTH_DISABLED.
func TestDelegationTokensDisabled(t *testing.T) {
	n := aclNode(t, makePKI(t))
	alice := as(t, n, "alice")
	require.Equal(t, errcode.DelegationTokenAuthDisabled, createToken(t, alice, "").code)
	code, _ := describeTokens(t, alice, nil)
	require.Equal(t, errcode.DelegationTokenAuthDisabled, code)
	code, _ = renewToken(t, alice, "AAAA", -1)
	require.Equal(t, errcode.DelegationTokenAuthDisabled, code)
	code, _ = expireToken(t, alice, "AAAA", -1)
	require.Equal(t, errcode.DelegationTokenAuthDisabled, code)
}

// TestKafkaDelegationTokensTool: kafka-delegation-tokens.sh
// (org.apache.kafka.tools.DelegationTokenCommand) works unchanged: create
// with a renewer, describe, renew, expire; Kafka's Java client
// authenticates with the token (ScramLoginModule, tokenauth="true") as the
// owner, and is refused once the token expired.
func TestKafkaDelegationTokensTool(t *testing.T) {
	bin := filepath.Join(repoRoot(t), "test", "compat", "bin")
	tokens := tool(t, filepath.Join(bin, "kafka-delegation-tokens"))
	topics := tool(t, filepath.Join(bin, "kafka-topics"))
	n, p := tokenNode(t)
	dir := t.TempDir()
	props := func(user string) string {
		return writeFile(t, dir, user+".properties", "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"+
			`sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="`+user+`" password="`+user+"-secret\";\n")
	}
	cmd := func(user string, args ...string) []string {
		return append([]string{"--bootstrap-server", n.saslPlain, "--command-config", props(user)}, args...)
	}
	out := run(t, "", tokens, cmd("alice", "--create", "--max-life-time-period", "-1", "--renewer-principal", "User:bob")...)
	require.Contains(t, out, "Created delegation token with tokenId : ")
	var id, hmac string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 5 && f[2] == "User:alice" {
			id, hmac = f[0], f[1]
		}
	}
	require.NotEmpty(t, id, "token line in:\n%s", out)
	require.Contains(t, out, "[User:bob]")

	// Without --owner-principal the tool sends an empty owner list, which
	// Kafka answers with no tokens; with it, the renewer sees the token.
	require.Contains(t, run(t, "", tokens, cmd("bob", "--describe")...), "Total number of tokens : 0")
	out = run(t, "", tokens, cmd("bob", "--describe", "--owner-principal", "User:alice")...)
	require.Contains(t, out, "Total number of tokens : 1")
	require.Contains(t, out, id)
	require.Contains(t, run(t, "", tokens, cmd("bob", "--renew", "--hmac", hmac, "--renew-time-period", "3600000")...),
		"Completed renew operation. New expiry date : ")
	fail := runFail(t, "", tokens, cmd("admin", "--renew", "--hmac", hmac, "--renew-time-period", "-1")...)
	require.Contains(t, fail, "DelegationTokenOwnerMismatchException")

	// The Java client logs in with the token as User:alice.
	admin := as(t, n, "admin")
	ct := kmsg.NewPtrCreateTopicsRequest()
	tp := kmsg.NewCreateTopicsRequestTopic()
	tp.Topic, tp.NumPartitions, tp.ReplicationFactor = "alice-topic", 1, 1
	ct.Topics = append(ct.Topics, tp)
	_, err := ct.RequestWith(ctx10(t), admin)
	require.NoError(t, err)
	addACL(t, admin, acl.ResourceTopic, "alice-topic", acl.PatternLiteral, "User:alice", acl.OpDescribe, acl.Allow)
	tokenProps := writeFile(t, dir, "token.properties", "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n"+
		`sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="`+id+`" password="`+hmac+`" tokenauth="true";`+"\n"+
		"ssl.truststore.location="+p.truststore+"\nssl.truststore.password="+p.password+"\n")
	require.Contains(t, run(t, "", topics, "--bootstrap-server", n.saslSSL, "--command-config", tokenProps, "--list"), "alice-topic")
	fail = runFail(t, "", tokens, "--bootstrap-server", n.saslSSL, "--command-config", tokenProps, "--create", "--max-life-time-period", "-1")
	require.Contains(t, fail, "UnsupportedByAuthenticationException: Delegation Token requests are not allowed on PLAINTEXT/1-way SSL channels and on delegation token authenticated channels")

	require.Contains(t, run(t, "", tokens, cmd("alice", "--expire", "--hmac", hmac, "--expiry-time-period", "-1")...),
		"Completed expire operation. New expiry date : ")
	fail = runFail(t, "", topics, "--bootstrap-server", n.saslSSL, "--command-config", tokenProps, "--list")
	require.Contains(t, fail, "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512")
}

// TestExpiredTokenSession follows Kafka (KIP-48 with KIP-368): a session
// authenticated with a delegation token lasts until the token's expiry
// (SaslAuthenticate's SessionLifetimeMs, without connections.max.reauth.ms)
// and its connection is closed at the first request after it. A token past
// its expiry that the controller has not swept yet still logs in, as in
// Kafka, but with a session lifetime of 0: the next request closes it.
func TestExpiredTokenSession(t *testing.T) {
	p := makePKI(t)
	n := aclNode(t, p, "KAFKA_DELEGATION_TOKEN_SECRET_KEY="+tokenSecret) // the sweep runs hourly, as Kafka's default
	alice := as(t, n, "alice")
	const lifetime = 10 * time.Second
	req := kmsg.NewPtrCreateDelegationTokenRequest()
	req.MaxLifetimeMillis = lifetime.Milliseconds()
	resp, err := req.RequestWith(ctx10(t), alice)
	require.NoError(t, err)
	require.Zero(t, resp.ErrorCode)
	require.Equal(t, resp.IssueTimestamp+lifetime.Milliseconds(), resp.ExpiryTimestamp)
	expiry := time.UnixMilli(resp.ExpiryTimestamp)
	login := scram.Auth{User: resp.TokenID, Pass: base64.StdEncoding.EncodeToString(resp.HMAC), IsToken: true}.AsSha512Mechanism()
	metadata := func(conn net.Conn, corr int32) error {
		_, err := rawCall(t, conn, corr, protocol.KeyMetadata, 12, &protocol.MetadataRequest{})
		return err
	}

	conn, err := net.DialTimeout("tcp", n.saslPlain, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	ar := saslRawLogin(t, conn, login)
	require.Zero(t, ar.ErrorCode)
	require.Positive(t, ar.SessionLifetimeMs)
	require.LessOrEqual(t, ar.SessionLifetimeMs, lifetime.Milliseconds(), "the session ends with the token")
	if time.Until(expiry) > time.Second {
		require.NoError(t, metadata(conn, 10), "within the token's lifetime")
	}
	corr := int32(11)
	require.Eventually(t, func() bool {
		corr++
		return metadata(conn, corr) != nil
	}, lifetime+20*time.Second, 200*time.Millisecond, "the connection is closed once the token expired")
	require.False(t, time.Now().Before(expiry), "closed before the token's expiry")

	// Expired, not swept: the login succeeds with a lifetime of 0, and the
	// connection closes at its next request.
	code, _ := renewToken(t, alice, base64.StdEncoding.EncodeToString(resp.HMAC), -1)
	require.Equal(t, errcode.DelegationTokenExpired, code, "the token is still there")
	conn2, err := net.DialTimeout("tcp", n.saslPlain, 5*time.Second)
	require.NoError(t, err)
	defer conn2.Close()
	ar = saslRawLogin(t, conn2, login)
	require.Zero(t, ar.ErrorCode)
	require.Zero(t, ar.SessionLifetimeMs)
	require.Error(t, metadata(conn2, 10), "an expired session serves nothing")
}
