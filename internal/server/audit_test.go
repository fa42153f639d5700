package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/spool-broker/spool/internal/audit"
)

// TestAuditLog: with spool.audit.log.file set, a failed and a successful
// SASL login, an authorization denial (alice's DESCRIBE of a topic), an ACL creation and a SCRAM
// credential upsert each leave one JSON line with principal, client
// address, operation, resource and outcome, and no secret.
func TestAuditLog(t *testing.T) {
	ports := distinctPorts(t, 2)
	a := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", ports[i]) }
	file := filepath.Join(t.TempDir(), "audit.log")
	n := &testNode{t: t, addr: a(0), env: []string{
		"KAFKA_NODE_ID=1", "KAFKA_PROCESS_ROLES=broker,controller",
		fmt.Sprintf("KAFKA_LISTENERS=SASL_PLAINTEXT://%s,CONTROLLER://%s", a(0), a(1)),
		"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
		"KAFKA_INTER_BROKER_LISTENER_NAME=SASL_PLAINTEXT",
		"KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL=PLAIN",
		"KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER",
		fmt.Sprintf("KAFKA_CONTROLLER_QUORUM_VOTERS=1@%s", a(1)),
		"KAFKA_LOG_DIRS=" + t.TempDir(),
		"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=1", "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR=1", "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR=1",
		"KAFKA_SASL_ENABLED_MECHANISMS=PLAIN",
		"KAFKA_LISTENER_NAME_SASL__PLAINTEXT_PLAIN_SASL_JAAS_CONFIG=" + plainUsersJAAS,
		"KAFKA_CONNECTION_FAILED_AUTHENTICATION_DELAY_MS=0",
		"KAFKA_AUTHORIZER_CLASS_NAME=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"KAFKA_SUPER_USERS=User:admin",
		"KAFKA_SPOOL_AUDIT_LOG_FILE=" + file,
	}}
	n.start()
	t.Cleanup(func() { n.stop() })
	as := func(user, pass string) []kgo.Opt {
		return []kgo.Opt{kgo.SeedBrokers(a(0)), kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism())}
	}
	require.Error(t, metadataOnce(t, as("alice", "wrong-guess")...))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(as("admin", "admin-secret")...)
	require.NoError(t, err)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	_, err = adm.CreateTopic(ctx, 1, 1, nil, "audited")
	require.NoError(t, err)
	acls := kadm.NewACLs().Allow("User:bob").AllowHosts("*").Topics("audited").Operations(kadm.OpRead)
	cr, err := adm.CreateACLs(ctx, acls)
	require.NoError(t, err)
	require.NoError(t, cr[0].Err)
	res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "bob", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "bob-scram-secret"}})
	require.NoError(t, err)
	require.NoError(t, res.Error())
	alice, err := kgo.NewClient(append(as("alice", "alice-secret"), kgo.DefaultProduceTopic("audited"), kgo.RecordDeliveryTimeout(2*time.Second))...)
	require.NoError(t, err)
	defer alice.Close()
	require.Error(t, alice.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr())

	var events []audit.Event
	raw := ""
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(file)
		if err != nil {
			return false
		}
		raw, events = string(b), nil
		sc := bufio.NewScanner(strings.NewReader(raw))
		for sc.Scan() {
			var e audit.Event
			require.NoError(t, json.Unmarshal(sc.Bytes(), &e))
			events = append(events, e)
		}
		// alice may not even see the topic: her client's Metadata is
		// refused DESCRIBE before it could produce.
		return has(events, audit.EventAuthorization, audit.Denied, "User:alice", "DESCRIBE", "audited")
	}, 10*time.Second, 20*time.Millisecond, "alice's denied DESCRIBE is in the audit log")
	require.True(t, has(events, audit.EventAuthentication, audit.Failure, "", "", ""), "failed login")
	require.True(t, has(events, audit.EventAuthentication, audit.Success, "User:admin", "", ""), "admin's login")
	require.True(t, has(events, audit.EventACLChange, audit.Success, "User:admin", "CREATE_ACL", "audited"), "ACL created")
	require.True(t, has(events, audit.EventCredentialChange, audit.Success, "User:admin", "UPSERT_SCRAM_CREDENTIAL", "bob"), "credential upserted")
	for _, e := range events {
		require.Equal(t, "127.0.0.1", e.ClientAddress, "%+v", e)
		require.Equal(t, "SASL_PLAINTEXT", e.Listener, "%+v", e)
	}
	for _, secret := range []string{"wrong-guess", "admin-secret", "alice-secret", "bob-scram-secret"} {
		require.NotContains(t, raw, secret)
	}
}

func has(events []audit.Event, kind, outcome, principal, op, resource string) bool {
	for _, e := range events {
		if e.Event == kind && e.Outcome == outcome && (principal == "" || e.Principal == principal) &&
			(op == "" || e.Operation == op) && (resource == "" || e.ResourceName == resource) {
			return true
		}
	}
	return false
}

// TestAuditControllerAndTokenLogins: logins on the CONTROLLER listener
// (SASL_PLAINTEXT, PLAIN) are audited like the broker's, successes and
// failures, and a delegation token login names the owner as principal and
// the token in its detail (never the HMAC).
func TestAuditControllerAndTokenLogins(t *testing.T) {
	ports := distinctPorts(t, 2)
	a := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", ports[i]) }
	file := filepath.Join(t.TempDir(), "audit.log")
	n := &testNode{t: t, addr: a(0), env: []string{
		"KAFKA_NODE_ID=1", "KAFKA_PROCESS_ROLES=broker,controller",
		fmt.Sprintf("KAFKA_LISTENERS=SASL_PLAINTEXT://%s,CONTROLLER://%s", a(0), a(1)),
		"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
		"KAFKA_INTER_BROKER_LISTENER_NAME=SASL_PLAINTEXT",
		"KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL=PLAIN",
		"KAFKA_SASL_MECHANISM_CONTROLLER_PROTOCOL=PLAIN",
		"KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER",
		fmt.Sprintf("KAFKA_CONTROLLER_QUORUM_VOTERS=1@%s", a(1)),
		"KAFKA_LOG_DIRS=" + t.TempDir(),
		"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=1", "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR=1", "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR=1",
		"KAFKA_SASL_ENABLED_MECHANISMS=PLAIN,SCRAM-SHA-512",
		"KAFKA_LISTENER_NAME_SASL__PLAINTEXT_PLAIN_SASL_JAAS_CONFIG=" + plainUsersJAAS,
		"KAFKA_LISTENER_NAME_SASL__PLAINTEXT_SCRAM___SHA___512_SASL_JAAS_CONFIG=" + scramJAAS,
		"KAFKA_LISTENER_NAME_CONTROLLER_SASL_ENABLED_MECHANISMS=PLAIN",
		"KAFKA_LISTENER_NAME_CONTROLLER_PLAIN_SASL_JAAS_CONFIG=" + plainUsersJAAS,
		"KAFKA_CONNECTION_FAILED_AUTHENTICATION_DELAY_MS=0",
		"KAFKA_AUTHORIZER_CLASS_NAME=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"KAFKA_SUPER_USERS=User:admin",
		"KAFKA_DELEGATION_TOKEN_SECRET_KEY=audit-token-secret",
		"KAFKA_SPOOL_AUDIT_LOG_FILE=" + file,
	}}
	n.start()
	t.Cleanup(func() { n.stop() })
	controllerLogin := func(user, pass string) error {
		return metadataOnce(t, kgo.SeedBrokers(a(1)), kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism()))
	}
	require.Error(t, controllerLogin("alice", "wrong-guess"))
	// The controller does not serve Metadata: the login is what counts.
	_ = controllerLogin("admin", "admin-secret")

	admin, err := kgo.NewClient(kgo.SeedBrokers(a(0)), kgo.SASL(plain.Auth{User: "admin", Pass: "admin-secret"}.AsMechanism()))
	require.NoError(t, err)
	defer admin.Close()
	tok := createToken(t, admin, "")
	require.Zero(t, tok.code)
	tokCl, err := kgo.NewClient(kgo.SeedBrokers(a(0)), kgo.SASL(scram.Auth{User: tok.id, Pass: tok.hmac, IsToken: true}.AsSha512Mechanism()))
	require.NoError(t, err)
	defer tokCl.Close()
	require.NoError(t, tokCl.Ping(ctx10(t)))

	var events []audit.Event
	raw := ""
	tokenLogin := func() bool {
		for _, e := range events {
			if e.Event == audit.EventAuthentication && e.Outcome == audit.Success && e.Principal == "User:admin" &&
				e.Mechanism == "SCRAM-SHA-512" && e.Detail == "delegation token "+tok.id && e.Listener == "SASL_PLAINTEXT" {
				return true
			}
		}
		return false
	}
	controller := func(outcome, principal string) bool {
		for _, e := range events {
			if e.Event == audit.EventAuthentication && e.Outcome == outcome && e.Principal == principal &&
				e.Listener == "CONTROLLER" && e.Mechanism == "PLAIN" && e.ClientAddress == "127.0.0.1" {
				return true
			}
		}
		return false
	}
	ok := assert.Eventually(t, func() bool {
		b, err := os.ReadFile(file)
		if err != nil {
			return false
		}
		raw, events = string(b), nil
		sc := bufio.NewScanner(strings.NewReader(raw))
		for sc.Scan() {
			var e audit.Event
			require.NoError(t, json.Unmarshal(sc.Bytes(), &e))
			events = append(events, e)
		}
		return tokenLogin() && controller(audit.Failure, "") && controller(audit.Success, "User:admin")
	}, 10*time.Second, 20*time.Millisecond)
	require.True(t, ok, "controller logins and the token login are in the audit log:\n%s", raw)
	require.True(t, has(events, audit.EventTokenChange, audit.Success, "User:admin", "CREATE_DELEGATION_TOKEN", tok.id), "token created")
	for _, secret := range []string{"wrong-guess", "admin-secret", tok.hmac, "audit-token-secret"} {
		require.NotContains(t, raw, secret)
	}
}
