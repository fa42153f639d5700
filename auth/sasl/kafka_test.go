package sasl

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/auth/internal/kafkaoracle"
)

// canonicalJAAS prints a parse result the way Oracle.java prints Kafka's.
func canonicalJAAS(entries []JAASEntry) string {
	var sb strings.Builder
	for _, e := range entries {
		sb.WriteString(e.LoginModule + "\n" + e.ControlFlag + "\n")
		for _, k := range slices.Sorted(maps.Keys(e.Options)) {
			sb.WriteString(k + "=" + e.Options[k] + "\n")
		}
		sb.WriteString(";\n")
	}
	return sb.String()
}

// TestJAASAgainstKafka parses the same sasl.jaas.config values with Spool
// and with Kafka's JaasConfig: the same entries, or both refuse.
func TestJAASAgainstKafka(t *testing.T) {
	o := kafkaoracle.Start(t)
	configs := []string{
		plainJAAS,
		`org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="admin-secret";`,
		"test.testConfigNoOptions required;",
		"a.B requisite; c sufficient; d Optional;",
		`test.testQuotedOptionValue required propName="prop value" propName2="value1 = 1, value2 = 2";`,
		`test.testQuotedOptionName required "prop name"=propValue;`,
		`m required a='single' b="tab\there" c="q\"q" d="\101\7" e="\477" f="\0" g="\19";`,
		"org.x.Mod-1 required user_$bob=pw-1.2_x;",
		"/* c */ m // line\n required /x y z\n k=v; // end",
		"m required user_jürgen=größe;",
		`m required k="1" k="2";`,
		"m required k=\"ab\ncd=\"x\";",
		"m required k=\"unterminated",
		"m required k=-x;",
		"m required k=-;",
		"m required k=.5;",
		"m required k=a.b-c;",
		"m\trequired\r\nk=v\n;",
		"m required k=v;;",
		"m required k=v; extra",
		"  ",
		"  required option1=value1;",
		"test.loginModule option1=value1;",
		"loginModule required option1;",
		"test.testMissingSemicolon required option1=value1",
		"test.x required option1=3;",
		"test.testInvalidControlFlag { option1=3;",
		"test.x",
		"m required 3=x;",
		"m required k==v;",
		`"quoted.module" required;`,
		"m required k=\u00a0x;",
		"m required k=\u0085x;",
	}
	for _, c := range configs {
		want, kerr := o.MustCall(t, "jaas", c)
		got, err := ParseJAAS(c)
		if kerr != nil {
			require.Error(t, err, "Kafka refuses %q (%s); Spool accepted %s", c, kerr.Message, canonicalJAAS(got))
			if msg, ok := strings.CutPrefix(kerr.Message, "IllegalArgumentException: "); ok {
				require.Equal(t, ErrJAAS.Error()+": "+msg, err.Error(), "config %q", c)
			} else {
				t.Logf("config %q: Kafka fails with %s; Spool: %v", c, kerr.Message, err)
			}
			continue
		}
		require.NoError(t, err, "Kafka accepts %q as %q", c, want)
		require.Equal(t, want, canonicalJAAS(got), "config %q", c)
	}
}

// TestScramAgainstJavaClient runs Kafka's own ScramSaslClient against the
// server, for both mechanisms, with right and wrong passwords, escaped
// names and a delegation token.
func TestScramAgainstJavaClient(t *testing.T) {
	o := kafkaoracle.Start(t)
	now := time.Unix(1_700_000_000, 0)
	st := scramStore(t, 8192, map[string]string{"alice": "alice-secret", "b,o=b": "pässwörd"})
	for _, m := range []ScramMechanism{ScramSHA256, ScramSHA512} {
		c, err := m.NewCredential("dG9rZW4taG1hYw==", 4096)
		require.NoError(t, err)
		st.SetToken(m, "tok-1", c, "alice", now.Add(time.Hour))
	}
	for _, m := range []ScramMechanism{ScramSHA256, ScramSHA512} {
		mech, err := NewScram(m, st, WithTokens(st))
		require.NoError(t, err)
		for _, tt := range []struct {
			user, pass, token string
			want              string // authorization id; "" = refused
		}{
			{"alice", "alice-secret", "false", "alice"},
			{"b,o=b", "pässwörd", "false", "b,o=b"},
			{"alice", "wrong", "false", ""},
			{"nobody", "x", "false", ""},
			{"tok-1", "dG9rZW4taG1hYw==", "true", "alice"},
			{"tok-1", "wrong", "true", ""},
		} {
			t.Run(m.String()+"/"+tt.user+"/"+tt.pass, func(t *testing.T) {
				srv := mech.NewServer()
				msg, kerr := o.MustCall(t, "scram-start", m.String(), tt.user, tt.pass, tt.token)
				require.Nil(t, kerr)
				for i := 0; ; i++ {
					require.Less(t, i, 4)
					out, done, err := srv.Step([]byte(msg))
					if tt.want == "" {
						if err != nil {
							require.True(t, errors.Is(err, ErrAuthenticationFailed))
							return
						}
					} else {
						require.NoError(t, err)
					}
					reply, kerr := o.MustCall(t, "scram-step", string(out))
					require.Nil(t, kerr, "Kafka's client refused the server's message %q", out)
					if done {
						require.Equal(t, "COMPLETE ", reply, "Kafka's client verified the server signature")
						require.Equal(t, tt.want, srv.Outcome().AuthorizationID)
						require.Equal(t, tt.token == "true", srv.Outcome().TokenAuthenticated)
						return
					}
					msg = reply
				}
			})
		}
	}
}

// TestOAuthClientInitialResponseAgainstKafka parses the same OAUTHBEARER
// client messages with Spool and Kafka's OAuthBearerClientInitialResponse.
func TestOAuthClientInitialResponseAgainstKafka(t *testing.T) {
	o := kafkaoracle.Start(t)
	msgs := []string{
		"n,,\x01auth=Bearer abc.def.\x01\x01",
		"n,a=bob,\x01auth=bearer  t0k-_~+/=\x01traceId=1 2\x01x=y\x01\x01",
		"n,a=b=2Cob,\x01auth=Bearer t\x01\x01",
		"n,,\x01x=y\x01\x01",
		"n,,\x01auth=Basic abc\x01\x01",
		"n,,\x01auth=Bearer abc\x01",
		"p=x,,\x01auth=Bearer abc\x01\x01",
		"n,,\x01auth=Bearer abc\x01k1=v\x01\x01",
		"n,,\x01auth=Bearer a*c\x01\x01",
		"n,,\x01auth=Bearer abc==\x01\x01",
		"n,,\x01auth=Bearer abc=d\x01\x01",
		"n,,\x01auth=Bearer abc\x01k=\x01\x01",
		"n,,\x01auth=Bearer abc\x01k=a=b\x01\x01",
		"n,,\x01auth=Bearer abc\x01k=é\x01\x01",
		"n,,\x01auth=Bearer abc\x01auth=Bearer xyz\x01\x01",
		"n,,\x01auth=Bearer\x01\x01",
		"n,,\x01auth= Bearer abc\x01\x01",
		"n,a=,\x01auth=Bearer abc\x01\x01",
		"n,,\x01\x01",
		"",
	}
	for _, m := range msgs {
		want, kerr := o.MustCall(t, "oauth-cir", m)
		got, err := parseClientInitialResponse(m)
		if kerr != nil {
			require.Error(t, err, "Kafka refuses %q: %s", m, kerr.Message)
			continue
		}
		require.NoError(t, err, "Kafka accepts %q", m)
		var sb strings.Builder
		sb.WriteString(got.token + "\n" + got.authzid + "\n")
		for _, k := range slices.Sorted(maps.Keys(got.extensions)) {
			sb.WriteString(k + "=" + got.extensions[k] + "\n")
		}
		require.Equal(t, want, sb.String(), "message %q", m)
	}
}

// TestUnsecuredValidatorAgainstKafka validates the same unsecured JWTs
// with Spool and Kafka's OAuthBearerUnsecuredValidatorCallbackHandler, at
// the same clock, around the skew boundaries.
func TestUnsecuredValidatorAgainstKafka(t *testing.T) {
	o := kafkaoracle.Start(t)
	now := time.UnixMilli(1_700_000_000_500)
	sec := now.Unix()
	options := []string{
		"",
		"unsecuredValidatorAllowableClockSkewMs=1500\nunsecuredValidatorRequiredScope=kafka  admin",
		"unsecuredValidatorPrincipalClaimName=client_id\nunsecuredValidatorScopeClaimName=scp",
	}
	claims := []map[string]any{
		{"sub": "alice", "exp": sec + 60, "iat": sec},
		{"sub": "alice", "exp": sec, "iat": sec - 10},
		{"sub": "alice", "exp": sec + 1, "iat": sec + 1},
		{"sub": "alice", "exp": sec - 1},
		{"sub": "alice", "exp": float64(sec) + 0.6},
		{"sub": "alice", "exp": float64(sec) + 0.4},
		{"sub": "alice", "exp": sec + 60, "iat": sec + 2},
		{"sub": "alice", "exp": sec + 60, "iat": sec + 60},
		{"sub": "alice"},
		{"exp": sec + 60},
		{"sub": " ", "exp": sec + 60},
		{"sub": 5, "exp": sec + 60},
		{"sub": "alice", "exp": "soon"},
		{"sub": "alice", "exp": sec + 60, "scope": "kafka admin"},
		{"sub": "alice", "exp": sec + 60, "scope": []string{"kafka", "admin", "x"}},
		{"sub": "alice", "exp": sec + 60, "scope": []string{"kafka", " admin "}},
		{"sub": "alice", "exp": sec + 60, "scp": []string{"kafka", "admin"}, "client_id": "svc"},
		{"client_id": "svc", "exp": sec + 60, "scp": "kafka"},
	}
	for _, opts := range options {
		e := JAASEntry{LoginModule: OAuthBearerLoginModule, ControlFlag: "REQUIRED", Options: map[string]string{}}
		for _, line := range strings.Split(opts, "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				e.Options[k] = v
			}
		}
		v, err := NewUnsecuredValidatorFromJAAS(e)
		require.NoError(t, err)
		v.Now = func() time.Time { return now }
		for _, c := range claims {
			tok := unsecuredJWT(t, c)
			want, kerr := o.MustCall(t, "oauth-unsecured", opts, strconv.FormatInt(now.UnixMilli(), 10), tok)
			require.Nil(t, kerr, "options %q claims %v", opts, c)
			got, err := v.Validate(tok)
			var sb strings.Builder
			if err != nil {
				var te *TokenError
				require.ErrorAs(t, err, &te)
				scope := "null"
				if te.Scope != "" {
					scope = te.Scope
				}
				sb.WriteString("ERROR " + te.Status + " " + scope)
			} else {
				scope := slices.Sorted(slices.Values(got.Scope))
				sb.WriteString("OK " + got.Principal + " " + strconv.FormatInt(got.Expiry.UnixMilli(), 10) + " [" + strings.Join(scope, ", ") + "]")
			}
			require.Equal(t, want, sb.String(), "options %q claims %v", opts, c)
		}
	}
}

// TestJWKSValidatorAgainstKafka validates the same signed JWTs with Spool's
// JWKSValidator and Kafka's BrokerJwtValidator (jose4j) over the same key
// set. Kafka's validator reads the real clock, so the times keep wide
// margins around the 30 s skew.
func TestJWKSValidatorAgainstKafka(t *testing.T) {
	o := kafkaoracle.Start(t)
	f := newJWKSFixture(t)
	f.addKey(t, "rsa-1", jose.RS256, true)
	f.addKey(t, "ec-1", jose.ES256, true)
	f.addKey(t, "rogue", jose.RS256, false)
	jwks, err := json.Marshal(f.set)
	require.NoError(t, err)
	now := time.Now()
	sec := now.Unix()
	base := func(over map[string]any) map[string]any {
		c := map[string]any{"sub": "svc-1", "iss": "https://issuer", "aud": "kafka", "exp": sec + 600, "iat": sec - 10, "scope": "read write"}
		for k, v := range over {
			if v == nil {
				delete(c, k)
				continue
			}
			c[k] = v
		}
		return c
	}
	tokens := map[string]string{
		"valid":               f.sign(t, "rsa-1", base(nil)),
		"ES256":               f.sign(t, "ec-1", base(map[string]any{"scope": []string{"a", "b"}})),
		"expired within skew": f.sign(t, "rsa-1", base(map[string]any{"exp": sec - 10})),
		"expired":             f.sign(t, "rsa-1", base(map[string]any{"exp": sec - 120})),
		"nbf future":          f.sign(t, "rsa-1", base(map[string]any{"nbf": sec + 120})),
		"nbf within skew":     f.sign(t, "rsa-1", base(map[string]any{"nbf": sec + 10})),
		"iat future":          f.sign(t, "rsa-1", base(map[string]any{"iat": sec + 120})),
		"no iat":              f.sign(t, "rsa-1", base(map[string]any{"iat": nil})),
		"no exp":              f.sign(t, "rsa-1", base(map[string]any{"exp": nil})),
		"no aud":              f.sign(t, "rsa-1", base(map[string]any{"aud": nil})),
		"aud list":            f.sign(t, "rsa-1", base(map[string]any{"aud": []string{"x", "kafka"}})),
		"other aud":           f.sign(t, "rsa-1", base(map[string]any{"aud": "other"})),
		"other iss":           f.sign(t, "rsa-1", base(map[string]any{"iss": "https://evil"})),
		"no iss":              f.sign(t, "rsa-1", base(map[string]any{"iss": nil})),
		"blank sub":           f.sign(t, "rsa-1", base(map[string]any{"sub": "  "})),
		"padded sub":          f.sign(t, "rsa-1", base(map[string]any{"sub": " svc "})),
		"no sub":              f.sign(t, "rsa-1", base(map[string]any{"sub": nil})),
		"no scope":            f.sign(t, "rsa-1", base(map[string]any{"scope": nil})),
		"blank scope entry":   f.sign(t, "rsa-1", base(map[string]any{"scope": []string{"a", " "}})),
		"unpublished key":     f.sign(t, "rogue", base(nil)),
		"unsecured":           unsecuredJWT(t, base(nil)),
	}
	configs := []JWKSConfig{
		{ExpectedAudience: []string{"kafka"}, ExpectedIssuer: "https://issuer"},
		{},
		{ExpectedAudience: []string{"other", "kafka"}},
		{ClockSkew: 0, ClockSkewSet: true},
	}
	path := filepath.Join(t.TempDir(), "jwks.json")
	require.NoError(t, os.WriteFile(path, jwks, 0o600))
	for i, cfg := range configs {
		cfg.EndpointURL = "file://" + path
		v, err := NewJWKSValidator(context.Background(), cfg, nil)
		require.NoError(t, err)
		skew := ""
		if cfg.ClockSkewSet {
			skew = strconv.Itoa(int(cfg.ClockSkew.Seconds()))
		}
		accepted := 0
		for name, tok := range tokens {
			want, kerr := o.MustCall(t, "jwt-broker", string(jwks), strings.Join(cfg.ExpectedAudience, ","), cfg.ExpectedIssuer, skew, tok)
			got, err := v.Validate(tok)
			if kerr != nil {
				require.Error(t, err, "config %d, %s: Kafka refuses: %s", i, name, kerr.Message)
				continue
			}
			accepted++
			require.NoError(t, err, "config %d, %s: Kafka accepts: %s", i, name, want)
			scope := slices.Sorted(slices.Values(got.Scope))
			require.Equal(t, want, "OK "+got.Principal+" "+strconv.FormatInt(got.Expiry.UnixMilli(), 10)+" ["+strings.Join(scope, ", ")+"]", "config %d, %s", i, name)
		}
		t.Logf("config %d: Kafka and Spool accept %d of %d tokens", i, accepted, len(tokens))
		require.NotZero(t, accepted)
		v.Close()
	}
}
