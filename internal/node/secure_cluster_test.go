package node_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/internal/seclink"
	"github.com/spool-broker/spool/internal/spooltest"
	"github.com/spool-broker/spool/protocol"
)

// TestSecureInterNodeTraffic: three combined nodes whose inter-broker
// listener is SASL_SSL with SCRAM-SHA-512 and whose CONTROLLER listener is
// SASL_SSL with PLAIN, with ACLs. The nodes form a quorum, register and
// replicate over the secured links; a plaintext client on the controller
// port is refused, a user without CLUSTER_ACTION is refused there after
// authenticating, and an admin request sent to a broker that is not the
// active controller is forwarded and authorized as its original user.
func TestSecureInterNodeTraffic(t *testing.T) {
	ca := spooltest.NewPKI(t)
	const controllerJAAS = `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";`
	const clientJAAS = `org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret" user_alice="alice-secret";`
	const internalJAAS = `org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="broker-secret";`

	ids := []int32{1, 2, 3}
	cports, iports := map[int32]int{}, map[int32]int{}
	var voters []string
	c := &testCluster{t: t, nodes: map[int32]*testNode{}}
	for _, id := range ids {
		cports[id], iports[id] = freePort(t), freePort(t)
		voters = append(voters, fmt.Sprintf("%d@127.0.0.1:%d", id, cports[id]))
	}
	var u [16]byte
	_, _ = rand.Read(u[:])
	clusterID := base64.RawURLEncoding.EncodeToString(u[:])
	for _, id := range ids {
		tn := &testNode{id: id, roles: "broker,controller", dir: t.TempDir(), port: freePort(t)}
		internal := fmt.Sprintf("127.0.0.1:%d", iports[id])
		tn.env = []string{
			fmt.Sprintf("KAFKA_NODE_ID=%d", id),
			"KAFKA_PROCESS_ROLES=broker,controller",
			fmt.Sprintf("KAFKA_LISTENERS=CLIENT://%s,INTERNAL://%s,CONTROLLER://127.0.0.1:%d", tn.addr(), internal, cports[id]),
			fmt.Sprintf("KAFKA_ADVERTISED_LISTENERS=CLIENT://%s,INTERNAL://%s", tn.addr(), internal),
			"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=CLIENT:SASL_SSL,INTERNAL:SASL_SSL,CONTROLLER:SASL_SSL",
			"KAFKA_INTER_BROKER_LISTENER_NAME=INTERNAL",
			"KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER",
			"KAFKA_CONTROLLER_QUORUM_VOTERS=" + strings.Join(voters, ","),
			"CLUSTER_ID=" + clusterID,
			"KAFKA_LOG_DIRS=" + tn.dir,
			"KAFKA_BROKER_HEARTBEAT_INTERVAL_MS=100",
			"KAFKA_BROKER_SESSION_TIMEOUT_MS=2000",
			"KAFKA_CONTROLLER_QUORUM_ELECTION_TIMEOUT_MS=500",
			"KAFKA_REPLICA_FETCH_BACKOFF_MS=50",
			"KAFKA_SSL_KEYSTORE_TYPE=PEM", "KAFKA_SSL_KEYSTORE_LOCATION=" + ca.KeystoreFile,
			"KAFKA_SSL_TRUSTSTORE_TYPE=PEM", "KAFKA_SSL_TRUSTSTORE_LOCATION=" + ca.CAFile,
			"KAFKA_LISTENER_NAME_CLIENT_SASL_ENABLED_MECHANISMS=PLAIN,SCRAM-SHA-512",
			"KAFKA_DELEGATION_TOKEN_SECRET_KEY=cluster-token-secret",
			"KAFKA_LISTENER_NAME_CLIENT_PLAIN_SASL_JAAS_CONFIG=" + clientJAAS,
			"KAFKA_LISTENER_NAME_CLIENT_SCRAM___SHA___512_SASL_JAAS_CONFIG=org.apache.kafka.common.security.scram.ScramLoginModule required;",
			"KAFKA_LISTENER_NAME_INTERNAL_SASL_ENABLED_MECHANISMS=SCRAM-SHA-512",
			"KAFKA_LISTENER_NAME_INTERNAL_SCRAM-SHA-512_SASL_JAAS_CONFIG=" + internalJAAS,
			"KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL=SCRAM-SHA-512",
			"KAFKA_LISTENER_NAME_CONTROLLER_SASL_ENABLED_MECHANISMS=PLAIN",
			"KAFKA_LISTENER_NAME_CONTROLLER_PLAIN_SASL_JAAS_CONFIG=" + controllerJAAS,
			"KAFKA_SASL_MECHANISM_CONTROLLER_PROTOCOL=PLAIN",
			"KAFKA_AUTHORIZER_CLASS_NAME=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
			"KAFKA_SUPER_USERS=User:admin;User:broker",
		}
		c.nodes[id] = tn
	}
	t.Cleanup(func() {
		for _, id := range ids {
			c.kill(id)
		}
	})
	// Every voter must be up for the quorum: start them side by side.
	errs := make(chan error, len(ids))
	for _, id := range ids {
		go func() {
			defer func() { errs <- nil }()
			c.start(id)
		}()
	}
	for range ids {
		<-errs
	}
	for _, id := range ids {
		require.NotNil(t, c.node(id), "node %d did not start", id)
		c.waitReady(id)
	}
	c.waitImages("every broker registered and unfenced", unfenced(ids...))

	client := func(id int32, user string) *kadm.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.nodes[id].addr()), kgo.DialTLSConfig(ca.ClientTLS()),
			kgo.SASL(plain.Auth{User: user, Pass: user + "-secret"}.AsMechanism()), kgo.RequestRetries(20))
		require.NoError(t, err)
		t.Cleanup(cl.Close)
		return kadm.NewClient(cl)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// The broker principal's SCRAM credential: the inter-broker listener
	// authenticates replica fetchers with it (until it exists they retry).
	active := c.activeController()
	var other int32
	for _, id := range ids {
		if id != active {
			other = id
			break
		}
	}
	admin := client(other, "admin")
	res, err := admin.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "broker", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "broker-secret"}})
	require.NoError(t, err)
	for _, r := range res {
		require.NoError(t, r.Err)
	}

	// Forwarded admin writes are authorized as the original user: alice
	// has no ACLs, admin is a super user. Both go to a broker that is not
	// the active controller.
	alice := client(other, "alice")
	denied, err := alice.CreateTopic(ctx, 1, 3, nil, "denied")
	if err == nil {
		err = denied.Err
	}
	require.ErrorIs(t, err, kerr.TopicAuthorizationFailed)
	created, err := admin.CreateTopic(ctx, 1, 3, map[string]*string{"min.insync.replicas": kadm.StringPtr("3")}, "replicated")
	require.NoError(t, err)
	require.NoError(t, created.Err)
	require.Nil(t, c.image().Topic("denied"))

	// ACL changes are forwarded too: admin lets alice create topics named
	// alice-*, through the same non-controller broker, and alice can.
	acls := kadm.NewACLs().Allow("User:alice").AllowHosts("*").Topics("alice-").ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpCreate)
	cr, err := admin.CreateACLs(ctx, acls)
	require.NoError(t, err)
	for _, r := range cr {
		require.NoError(t, r.Err)
	}
	require.Eventually(t, func() bool {
		r, err := alice.CreateTopic(ctx, 1, 3, nil, "alice-orders")
		return err == nil && r.Err == nil
	}, 30*time.Second, 50*time.Millisecond, "alice creates a topic under her prefixed ACL")

	// Delegation tokens through a broker that is not the active
	// controller: forwarded in an Envelope as the original user, so the
	// token's owner is alice and admin (a super user, but neither owner
	// nor renewer) may not renew it; alice's token logs in on every broker
	// as User:alice.
	kcl := func(id int32, m sasl.Mechanism) *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.nodes[id].addr()), kgo.DialTLSConfig(ca.ClientTLS()), kgo.SASL(m), kgo.RequestRetries(20))
		require.NoError(t, err)
		t.Cleanup(cl.Close)
		return cl
	}
	ctreq := kmsg.NewPtrCreateDelegationTokenRequest()
	ctreq.MaxLifetimeMillis = -1
	tok, err := ctreq.RequestWith(ctx, kcl(other, plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism()))
	require.NoError(t, err)
	require.Zero(t, tok.ErrorCode)
	require.Equal(t, "alice", tok.PrincipalName)
	require.Equal(t, "alice", tok.TokenRequesterPrincipalName)
	renew := kmsg.NewPtrRenewDelegationTokenRequest()
	renew.HMAC, renew.RenewTimeMillis = tok.HMAC, -1
	rr, err := renew.RequestWith(ctx, kcl(other, plain.Auth{User: "admin", Pass: "admin-secret"}.AsMechanism()))
	require.NoError(t, err)
	require.Equal(t, kerr.DelegationTokenOwnerMismatch.Code, rr.ErrorCode)
	for _, id := range ids {
		tokCl := kadm.NewClient(kcl(id, scram.Auth{User: tok.TokenID, Pass: base64.StdEncoding.EncodeToString(tok.HMAC), IsToken: true}.AsSha512Mechanism()))
		require.Eventually(t, func() bool {
			r, err := tokCl.CreateTopic(ctx, 1, 3, nil, fmt.Sprintf("alice-token-%d", id))
			return err == nil && r.Err == nil
		}, 30*time.Second, 50*time.Millisecond, "alice's token logs in on node %d and may create alice-* topics", id)
	}

	// Replication over SASL_SSL/SCRAM: every replica joins the ISR, and an
	// acks=all write needs all three (min.insync.replicas=3).
	c.waitImages("all replicas in the ISR", func(img *controller.MetadataImage) bool {
		tp := img.Topic("replicated")
		if tp == nil {
			return false
		}
		for _, p := range tp.Partitions {
			if len(p.ISR) != 3 {
				return false
			}
		}
		return true
	})
	pcl, err := kgo.NewClient(kgo.SeedBrokers(c.nodes[other].addr()), kgo.DialTLSConfig(ca.ClientTLS()),
		kgo.SASL(plain.Auth{User: "admin", Pass: "admin-secret"}.AsMechanism()), kgo.RequiredAcks(kgo.AllISRAcks()))
	require.NoError(t, err)
	defer pcl.Close()
	require.NoError(t, pcl.ProduceSync(ctx, &kgo.Record{Topic: "replicated", Value: []byte("v")}).FirstErr())

	caddr := fmt.Sprintf("127.0.0.1:%d", cports[active])
	// A plaintext client on the controller port: no answer, the
	// connection closes (the TLS handshake fails on its bytes).
	nc, err := net.DialTimeout("tcp", caddr, 5*time.Second)
	require.NoError(t, err)
	_ = nc.SetDeadline(time.Now().Add(15 * time.Second))
	id := "plain"
	hdr := protocol.RequestHeader{RequestAPIKey: protocol.KeyDescribeQuorum, RequestAPIVersion: 0, CorrelationID: 1, ClientID: &id}
	frame, err := protocol.AppendRequest(nil, &hdr, &protocol.DescribeQuorumRequest{})
	require.NoError(t, err)
	_, _ = nc.Write(frame)
	_, err = protocol.ReadFrame(nc, 1<<20, nil)
	require.Error(t, err, "a plaintext client must not be answered on a SASL_SSL controller listener")
	_ = nc.Close()

	// Over TLS and SASL: admin is answered; alice authenticates but lacks
	// CLUSTER_ACTION, so the connection closes; a wrong password fails.
	ask := func(user, pass string) error {
		d := &seclink.Dialer{TLS: ca.ClientTLS(), Mechanism: "PLAIN", Username: user, Password: pass, ClientID: "test"}
		nc, err := d.DialContext(ctx, caddr)
		if err != nil {
			return err
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(15 * time.Second))
		frame, err := protocol.AppendRequest(nil, &hdr, &protocol.DescribeQuorumRequest{})
		require.NoError(t, err)
		if _, err := nc.Write(frame); err != nil {
			return err
		}
		_, err = protocol.ReadFrame(nc, 1<<20, nil)
		return err
	}
	require.NoError(t, ask("admin", "admin-secret"))
	require.Error(t, ask("alice", "alice-secret"), "alice may not use the controller listener")
	require.ErrorIs(t, ask("admin", "wrong"), seclink.ErrAuthentication)
}
