package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// singleNode is a valid PLAINTEXT single node; cases add to or override it
// (a value of <unset> removes the variable).
func singleNode(extra ...string) []string {
	env := map[string]string{
		"KAFKA_NODE_ID":                        "1",
		"KAFKA_PROCESS_ROLES":                  "broker,controller",
		"KAFKA_LISTENERS":                      "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093",
		"KAFKA_CONTROLLER_LISTENER_NAMES":      "CONTROLLER",
		"KAFKA_CONTROLLER_QUORUM_VOTERS":       "1@127.0.0.1:9093",
		"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
	}
	for _, kv := range extra {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
		if v == "<unset>" {
			delete(env, k)
		}
	}
	var out []string
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// TestCheckProtections: every setting that asks for a protection Spool does
// not implement (GSSAPI, another authorizer) is refused, naming the
// property; what Spool implements (TLS, mTLS, SASL PLAIN/SCRAM/OAUTHBEARER,
// ACLs, all of them also between nodes) passes.
func TestCheckProtections(t *testing.T) {
	tests := []struct {
		name string
		env  []string // added to singleNode
		want []string // properties refused, in order; nil: accepted
	}{
		{"plaintext", nil, nil},
		{"ssl.client.auth none", []string{"KAFKA_SSL_CLIENT_AUTH=none"}, nil},
		{"sasl settings without a SASL listener are inert", []string{"KAFKA_SASL_ENABLED_MECHANISMS=PLAIN", "KAFKA_SSL_KEYSTORE_LOCATION=/k"}, nil},
		{"issue 10", []string{
			"KAFKA_LISTENERS=SASL_SSL://127.0.0.1:39092,CONTROLLER://127.0.0.1:9093",
			"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL",
			"KAFKA_INTER_BROKER_LISTENER_NAME=SASL_SSL",
			"KAFKA_SASL_ENABLED_MECHANISMS=SCRAM-SHA-512",
			"KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL=SCRAM-SHA-512",
			"KAFKA_AUTHORIZER_CLASS_NAME=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
			"KAFKA_SUPER_USERS=User:admin",
		}, nil},
		{"issue 10 with Kafka's default inter-broker mechanism", []string{
			"KAFKA_LISTENERS=SASL_SSL://127.0.0.1:39092,CONTROLLER://127.0.0.1:9093",
			"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL",
			"KAFKA_INTER_BROKER_LISTENER_NAME=SASL_SSL",
			"KAFKA_SASL_ENABLED_MECHANISMS=SCRAM-SHA-512",
		}, []string{"sasl.mechanism.inter.broker.protocol"}},
		{"ssl listener", []string{
			"KAFKA_LISTENERS=PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9094,CONTROLLER://127.0.0.1:9093",
			"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=PLAINTEXT:PLAINTEXT,SSL:SSL,CONTROLLER:PLAINTEXT",
		}, nil},
		{"default protocol map, default mechanism GSSAPI", []string{
			"KAFKA_LISTENERS=PLAINTEXT://127.0.0.1:9092,SASL_PLAINTEXT://127.0.0.1:9094,CONTROLLER://127.0.0.1:9093",
			"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=<unset>",
		}, []string{"sasl.enabled.mechanisms"}},
		{"per-listener mechanisms", []string{
			"KAFKA_LISTENERS=PLAINTEXT://127.0.0.1:9092,EXTERNAL://127.0.0.1:9094,CONTROLLER://127.0.0.1:9093",
			"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=PLAINTEXT:PLAINTEXT,EXTERNAL:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
			"KAFKA_SASL_ENABLED_MECHANISMS=PLAIN",
			"KAFKA_LISTENER_NAME_EXTERNAL_SASL_ENABLED_MECHANISMS=SCRAM-SHA-256,GSSAPI,PLAIN",
		}, []string{"listener.name.external.sasl.enabled.mechanisms"}},
		{"inter-broker listener of a single node", []string{
			"KAFKA_LISTENERS=PLAINTEXT://127.0.0.1:9092,INTERNAL://127.0.0.1:9094,CONTROLLER://127.0.0.1:9093",
			"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=PLAINTEXT:PLAINTEXT,INTERNAL:SASL_SSL,CONTROLLER:PLAINTEXT",
			"KAFKA_INTER_BROKER_LISTENER_NAME=INTERNAL",
			"KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL=PLAIN",
			"KAFKA_SASL_ENABLED_MECHANISMS=PLAIN",
		}, nil},
		{"inter-broker listener of a cluster", []string{
			"KAFKA_LISTENERS=PLAINTEXT://127.0.0.1:9092,INTERNAL://127.0.0.1:9094,CONTROLLER://127.0.0.1:9093",
			"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=PLAINTEXT:PLAINTEXT,INTERNAL:SSL,CONTROLLER:PLAINTEXT",
			"KAFKA_INTER_BROKER_LISTENER_NAME=INTERNAL",
			"KAFKA_CONTROLLER_QUORUM_VOTERS=1@127.0.0.1:9093,2@127.0.0.2:9093,3@127.0.0.3:9093",
		}, nil},
		{"controller listener", []string{
			"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=PLAINTEXT:PLAINTEXT,CONTROLLER:SSL",
		}, nil},
		{"sasl controller listener with Kafka's default mechanism GSSAPI", []string{
			"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=PLAINTEXT:PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
			"KAFKA_SASL_ENABLED_MECHANISMS=PLAIN",
		}, []string{"sasl.mechanism.controller.protocol"}},
		{"sasl controller listener with PLAIN", []string{
			"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=PLAINTEXT:PLAINTEXT,CONTROLLER:SASL_SSL",
			"KAFKA_SASL_ENABLED_MECHANISMS=PLAIN",
			"KAFKA_SASL_MECHANISM_CONTROLLER_PROTOCOL=PLAIN",
		}, nil},
		{"controller listener not bound here", []string{
			"KAFKA_PROCESS_ROLES=broker",
			"KAFKA_LISTENERS=PLAINTEXT://127.0.0.1:9092",
			"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=PLAINTEXT:PLAINTEXT,CONTROLLER:SSL",
		}, nil},
		{"ssl.client.auth required", []string{"KAFKA_SSL_CLIENT_AUTH=required"}, nil},
		{"ssl.client.auth requested", []string{"KAFKA_SSL_CLIENT_AUTH=requested"}, nil},
		{"per-listener ssl.client.auth", []string{"KAFKA_LISTENER_NAME_PLAINTEXT_SSL_CLIENT_AUTH=required"}, nil},
		{"authorizer", []string{"KAFKA_AUTHORIZER_CLASS_NAME=org.apache.kafka.metadata.authorizer.StandardAuthorizer"}, nil},
		{"legacy authorizer", []string{"KAFKA_AUTHORIZER_CLASS_NAME=kafka.security.auth.SimpleAclAuthorizer"}, []string{"authorizer.class.name"}},
		{"super.users", []string{"KAFKA_SUPER_USERS=User:admin;User:ops"}, nil},
		{"Kafka's principal builder", []string{"KAFKA_PRINCIPAL_BUILDER_CLASS=org.apache.kafka.common.security.authenticator.DefaultKafkaPrincipalBuilder"}, nil},
		{"a custom principal builder", []string{"KAFKA_PRINCIPAL_BUILDER_CLASS=com.example.TeamPrincipalBuilder"}, []string{"principal.builder.class"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _, err := Load("", singleNode(tt.env...))
			require.NoError(t, err, "loading is fine; only CheckProtections refuses")
			var got []string
			for _, r := range b.Refusals() {
				got = append(got, r.Property)
				require.Contains(t, r.Reason, "not implemented yet")
				require.Contains(t, r.Reason, "supported")
			}
			require.Equal(t, tt.want, got)
			err = b.CheckProtections()
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrProtectionNotImplemented)
			var pe *ProtectionError
			require.ErrorAs(t, err, &pe)
			require.Len(t, pe.Refusals, len(tt.want))
			for _, p := range tt.want {
				require.Contains(t, err.Error(), p)
			}
			require.Contains(t, err.Error(), "security protocols PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL")
		})
	}
}

func TestZeroConfigIsNotRefused(t *testing.T) {
	b, _, err := Load("", nil)
	require.NoError(t, err)
	require.NoError(t, b.CheckProtections())
	require.Empty(t, b.Caveats())
}

// TestRefusalMessages: each line says what is asked for and what is
// supported.
func TestRefusalMessages(t *testing.T) {
	b, _, err := Load("", singleNode(
		"KAFKA_LISTENERS=SASL_SSL://127.0.0.1:39092,CONTROLLER://127.0.0.1:9093",
		"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=CONTROLLER:SSL,SASL_SSL:SASL_SSL",
		"KAFKA_INTER_BROKER_LISTENER_NAME=SASL_SSL",
	))
	require.NoError(t, err)
	msg := b.CheckProtections().Error()
	require.NotContains(t, msg, "listeners=CONTROLLER://", "TLS on the controller listener is implemented")
	// Kafka's default mechanism is named as such.
	require.Contains(t, msg, "sasl.enabled.mechanisms=GSSAPI: SASL mechanism GSSAPI is not implemented yet; supported SASL mechanisms: "+
		"OAUTHBEARER, PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (sasl.enabled.mechanisms is unset and Kafka's default is GSSAPI)")
}

// TestProtectionTableDrivesRefusals: the table is the one switch. Marking
// a protection unimplemented brings its refusals back (as before TLS and
// SASL landed); GSSAPI stays refused either way.
func TestProtectionTableDrivesRefusals(t *testing.T) {
	env := singleNode(
		"KAFKA_LISTENERS=SASL_SSL://127.0.0.1:39092,CONTROLLER://127.0.0.1:9093",
		"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL",
		"KAFKA_INTER_BROKER_LISTENER_NAME=SASL_SSL",
		"KAFKA_SASL_ENABLED_MECHANISMS=SCRAM-SHA-512,GSSAPI",
		"KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL=SCRAM-SHA-512",
	)
	b, _, err := Load("", env)
	require.NoError(t, err)
	rs := b.Refusals()
	require.Len(t, rs, 1)
	require.Equal(t, Refusal{Property: "sasl.enabled.mechanisms", Value: "GSSAPI",
		Reason: "SASL mechanism GSSAPI is not implemented yet; supported SASL mechanisms: OAUTHBEARER, PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"}, rs[0])
	require.Equal(t, []string{"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}, supportedProtocols())

	saved := protections
	t.Cleanup(func() { protections = saved })
	protections[protTLS].implemented = false
	var got []string
	for _, r := range b.Refusals() {
		got = append(got, r.Property+"="+r.Value)
	}
	require.Equal(t, []string{"listeners=SASL_SSL://127.0.0.1:39092", "sasl.enabled.mechanisms=GSSAPI"}, got)
	require.Equal(t, []string{"PLAINTEXT", "SASL_PLAINTEXT"}, supportedProtocols())
	s, _, ok := PropertySupport("ssl.keystore.location")
	require.True(t, ok)
	require.Equal(t, Refused, s)
}

// TestPropertySupport: the catalogue marks every property; security
// properties are supported now that TLS, SASL and ACLs are.
func TestPropertySupport(t *testing.T) {
	for _, d := range brokerDefList {
		s, explain, ok := PropertySupport(d.name)
		require.True(t, ok)
		switch s {
		case Ignored:
			require.NotEmpty(t, explain, d.name)
		case Refused:
			require.NotEmpty(t, d.refuse, "%s: only settings Spool ignores where that weakens security are refused", d.name)
			continue
		}
		require.NotEqual(t, Refused, s, "%s: nothing in the catalogue configures an unimplemented protection", d.name)
		require.False(t, d.weakens && d.ignored == "", "%s: weakens applies to ignored properties", d.name)
	}
	for name, want := range map[string]Support{
		"min.insync.replicas":             Supported,
		"log.flush.interval.messages":     Supported,
		"log.flush.scheduler.interval.ms": Supported,
		"max.connections":                 Supported,
		"max.connections.per.ip":          Supported,
		"max.connection.creation.rate":    Supported,
		"quota.window.num":                Supported,
		"client.quota.callback.class":     Ignored,
		"replication.quota.window.num":    Supported,
		"unclean.leader.election.enable":  Supported,
		"broker.session.timeout.ms":       Supported,
		"controlled.shutdown.enable":      Supported,
		"auto.leader.rebalance.enable":    Supported,
		"authorizer.class.name":           Supported,
		"super.users":                     Supported,
		"sasl.enabled.mechanisms":         Supported,
		"ssl.client.auth":                 Supported,
		"sasl.jaas.config":                Ignored,
		"config.providers":                Refused,
		"security.providers":              Refused,
		"remote.log.reader.threads":       Ignored,
	} {
		s, _, _ := PropertySupport(name)
		require.Equal(t, want, s, name)
	}
	_, _, ok := PropertySupport("no.such.property")
	require.False(t, ok)
}

func TestUsageMarksSupport(t *testing.T) {
	u := Usage()
	require.Regexp(t, `\n  min\.insync\.replicas\s+1\s+supported\s+`, u)
	require.Regexp(t, `\n  max\.connections\s+2147483647\s+supported\s+Max connections to this broker`, u)
	require.Regexp(t, `\n  client\.quota\.callback\.class\s+\(none\)\s+ignored\s+Custom ClientQuotaCallback class; instead: custom quota callbacks are not supported`, u)
	require.Regexp(t, `\n  authorizer\.class\.name\s+""\s+supported\s+`, u)
	require.Regexp(t, `\n  SASL mechanism GSSAPI \(Kerberos\)\s+not implemented yet\n`, u)
	require.Regexp(t, `\n  SASL mechanism SCRAM-SHA-512\s+implemented\n`, u)
	require.Contains(t, u, "Supported security protocols: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL; SASL mechanisms: OAUTHBEARER, PLAIN, SCRAM-SHA-256, SCRAM-SHA-512;")
	for _, d := range brokerDefList {
		require.Regexp(t, `\n  `+strings.ReplaceAll(d.name, ".", `\.`)+`\s+\S+\s+(supported|ignored|refused) `, u)
	}
}

// TestCaveats: ignored settings set to a non-default value are reported,
// at WARN when ignoring them weakens durability or safety.
func TestCaveats(t *testing.T) {
	b, _, err := Load("", singleNode(
		"KAFKA_CLIENT_QUOTA_CALLBACK_CLASS=com.example.Quotas",    // warn
		"KAFKA_MAX_CONNECTIONS_PER_IP=100",                        // supported: nothing
		"KAFKA_REPLICATION_QUOTA_WINDOW_NUM=11",                   // Kafka's default: nothing asked for
		"KAFKA_CREATE_TOPIC_POLICY_CLASS_NAME=com.example.Policy", // warn
		"KAFKA_NUM_NETWORK_THREADS=8",                             // info
		"KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE=true",               // supported: nothing
		"KAFKA_QUOTA_WINDOW_NUM=11",                               // supported: nothing
		"KAFKA_QUOTA_PRODUCER_DEFAULT=1000",                       // warn: removed in Kafka 4
		"KAFKA_SSL_KEYSTORE_LOCATION=/k",                          // supported: nothing
		"KAFKA_SASL_JAAS_CONFIG=secret",                           // ignored (as Kafka's brokers), value never shown
		"KAFKA_MIN_INSYNC_REPLICAS=2",                             // warn: above default.replication.factor
		"KAFKA_NUM_PARTITIONS=3",                                  // supported: nothing
	))
	require.NoError(t, err)
	require.NoError(t, b.CheckProtections())
	got := map[string]Notice{}
	for _, n := range b.Caveats() {
		got[n.Property] = n
	}
	require.ElementsMatch(t, []string{"client.quota.callback.class", "create.topic.policy.class.name", "num.network.threads",
		"quota.producer.default", "sasl.jaas.config", "min.insync.replicas"},
		keysOf(got))
	for name, warn := range map[string]bool{"client.quota.callback.class": true, "create.topic.policy.class.name": true, "quota.producer.default": true,
		"min.insync.replicas": true, "num.network.threads": false, "sasl.jaas.config": false} {
		require.Equal(t, warn, got[name].Warn, name)
	}
	require.Contains(t, got["client.quota.callback.class"].Message, `is set to "com.example.Quotas" but is not honoured: custom quota callbacks are not supported`)
	require.Contains(t, got["quota.producer.default"].Message, "removed in Kafka 4.0")
	require.NotContains(t, got["sasl.jaas.config"].Message, "secret")
	require.Contains(t, got["min.insync.replicas"].Message, "capped at the replica count")
}

func keysOf(m map[string]Notice) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestDynamicSecurityRefused: TLS and SASL settings other than a
// listener's keystore are not reloaded at runtime, so a dynamic update of
// one is refused rather than stored and ignored; the listener keystore
// settings Kafka reloads are accepted.
func TestDynamicSecurityRefused(t *testing.T) {
	for _, name := range []string{"ssl.client.auth", "ssl.keystore.location", "sasl.enabled.mechanisms",
		"listener.name.ssl.ssl.truststore.location", "listener.name.ssl.ssl.client.auth"} {
		err := ValidateBrokerDynamic(map[string]string{name: "none"})
		require.Error(t, err, name)
		if !strings.HasPrefix(name, "listener.name.") { // those are unknown broker configs
			require.Contains(t, err.Error(), "cannot update "+name+" at runtime", name)
		}
	}
	for _, name := range []string{"listener.name.ssl.ssl.keystore.location", "listener.name.sasl_ssl.ssl.keystore.password",
		"listener.name.ssl.ssl.key.password", "listener.name.ssl.ssl.keystore.type"} {
		require.NoError(t, ValidateBrokerDynamic(map[string]string{name: "x"}), name)
	}
	require.NoError(t, ValidateBrokerDynamic(map[string]string{"log.retention.ms": "1000"}))
}
