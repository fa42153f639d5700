package server

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// runFail executes a client that must fail and returns its combined output.
func runFail(t *testing.T, stdin, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	require.NoError(t, ctx.Err(), "%s did not finish:\n%s", filepath.Base(name), out)
	require.Error(t, err, "%s %s succeeded:\n%s", filepath.Base(name), strings.Join(args, " "), out)
	return string(out)
}

// writeFile writes body into dir/name and returns the path.
func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

// TestSecurityJavaClient: Kafka 4.3.1's own tools, configured as the
// seeds' client.properties do (security.protocol=SASL_SSL, sasl.jaas.config,
// a JKS truststore), authenticate with SCRAM-SHA-512 and PLAIN and with a
// client certificate; kafka-configs.sh creates the SCRAM user unchanged; a
// wrong password is refused.
func TestSecurityJavaClient(t *testing.T) {
	bin := filepath.Join(repoRoot(t), "test", "compat", "bin")
	configs := tool(t, filepath.Join(bin, "kafka-configs"))
	topics := tool(t, filepath.Join(bin, "kafka-topics"))
	producer := tool(t, filepath.Join(bin, "kafka-console-producer"))
	consumer := tool(t, filepath.Join(bin, "kafka-console-consumer"))
	p := makePKI(t)
	n := startSecureNode(t, p)
	dir := t.TempDir()

	// The user, as Kafka's docs create one.
	run(t, "", configs, "--bootstrap-server", n.plain, "--alter", "--entity-type", "users", "--entity-name", "carol",
		"--add-config", "SCRAM-SHA-512=[iterations=8192,password=carol-secret]")
	// (kafka-configs --describe --entity-type users also asks for client
	// quotas, DescribeClientQuotas, which Spool does not serve yet.)
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.plain))
	require.NoError(t, err)
	defer cl.Close()
	described, err := kadm.NewClient(cl).DescribeUserSCRAMs(ctx10(t), "carol")
	require.NoError(t, err)
	require.Equal(t, []kadm.CredInfo{{Mechanism: kadm.ScramSha512, Iterations: 8192}}, described["carol"].CredInfos)

	saslSSL := func(mech, module, user, pass string) string {
		return "security.protocol=SASL_SSL\nsasl.mechanism=" + mech + "\n" +
			"sasl.jaas.config=" + module + ` required username="` + user + `" password="` + pass + "\";\n" +
			"ssl.truststore.location=" + p.truststore + "\nssl.truststore.password=" + p.password + "\n"
	}
	const scramModule = "org.apache.kafka.common.security.scram.ScramLoginModule"
	const plainModule = "org.apache.kafka.common.security.plain.PlainLoginModule"
	scramProps := writeFile(t, dir, "scram.properties", saslSSL("SCRAM-SHA-512", scramModule, "carol", "carol-secret"))
	plainProps := writeFile(t, dir, "plain.properties", saslSSL("PLAIN", plainModule, "alice", "alice-secret"))
	mtlsProps := writeFile(t, dir, "mtls.properties", "security.protocol=SSL\n"+
		"ssl.truststore.location="+p.truststore+"\nssl.truststore.password="+p.password+"\n"+
		"ssl.keystore.type=PKCS12\nssl.keystore.location="+p.clientP12+"\nssl.keystore.password="+p.password+"\n")

	run(t, "", topics, "--bootstrap-server", n.saslSSL, "--command-config", scramProps, "--create", "--topic", "java-sec",
		"--partitions", "1", "--replication-factor", "1")
	require.Contains(t, run(t, "", topics, "--bootstrap-server", n.saslSSL, "--command-config", plainProps, "--list"), "java-sec")
	require.Contains(t, run(t, "", topics, "--bootstrap-server", n.ssl, "--command-config", mtlsProps, "--list"), "java-sec")

	run(t, "over-sasl-ssl\n", producer, "--bootstrap-server", n.saslSSL, "--topic", "java-sec", "--producer.config", scramProps)
	out := run(t, "", consumer, "--bootstrap-server", n.saslSSL, "--topic", "java-sec", "--from-beginning", "--max-messages", "1",
		"--timeout-ms", "20000", "--consumer.config", plainProps)
	require.Contains(t, out, "over-sasl-ssl")

	badProps := writeFile(t, dir, "bad.properties", saslSSL("SCRAM-SHA-512", scramModule, "carol", "wrong"))
	fail := runFail(t, "", topics, "--bootstrap-server", n.saslSSL, "--command-config", badProps, "--list")
	require.Contains(t, fail, "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512")
	badPlain := writeFile(t, dir, "badplain.properties", saslSSL("PLAIN", plainModule, "alice", "wrong"))
	fail = runFail(t, "", topics, "--bootstrap-server", n.saslSSL, "--command-config", badPlain, "--list")
	require.Contains(t, fail, "Invalid username or password")
}

// kcatBundled is a kcat that runs on the librdkafka confluent-kafka-python
// bundles (test/compat/install.sh's venv; 2.1x) instead of the system's
// (Debian's 2.0.2, whose SCRAM Kafka 4.x refuses: TestSecurityLibrdkafka).
// librdkafka keeps its ABI, so the same kcat binary runs on either.
func kcatBundled(t *testing.T) string {
	t.Helper()
	kcat := tool(t, "kcat")
	libs, _ := filepath.Glob(filepath.Join(compatCache(t), "venv", "lib", "python3*", "site-packages", "confluent_kafka.libs", "librdkafka*.so.1"))
	require.NotEmpty(t, libs, "no librdkafka bundled with confluent-kafka in %s: run test/compat/install.sh", compatCache(t))
	dir := t.TempDir()
	require.NoError(t, os.Symlink(libs[0], filepath.Join(dir, "librdkafka.so.1")))
	script := filepath.Join(dir, "kcat")
	body := fmt.Sprintf("#!/bin/sh\nLD_LIBRARY_PATH=%s:%s exec %s \"$@\"\n", dir, filepath.Dir(libs[0]), kcat)
	require.NoError(t, os.WriteFile(script, []byte(body), 0o755))
	return script
}

// TestSecurityLibrdkafka: kcat (librdkafka) authenticates with
// SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN over SASL_SSL and with a client
// certificate over SSL, and is refused with a wrong password and without a
// certificate on the mTLS port. SCRAM runs on a current librdkafka: the
// system's 2.0.2 sends the client nonce twice in its final message, which
// Kafka 4.3.1 refuses (SASL_AUTHENTICATION_FAILED), and so does Spool.
func TestSecurityLibrdkafka(t *testing.T) {
	kcat, kcatOld := kcatBundled(t), tool(t, "kcat")
	require.Contains(t, run(t, "", kcatOld, "-V"), "librdkafka 2.0.2", "the system kcat this test expects")
	p := makePKI(t)
	n := startSecureNode(t, p)
	scramUsers(t, n.plain)
	sasl := func(mech, user, pass string) []string {
		return []string{"-b", n.saslSSL, "-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanisms=" + mech,
			"-X", "sasl.username=" + user, "-X", "sasl.password=" + pass, "-X", "ssl.ca.location=" + p.caPEM}
	}
	mtls := []string{"-b", n.ssl, "-X", "security.protocol=SSL", "-X", "ssl.ca.location=" + p.caPEM,
		"-X", "ssl.certificate.location=" + p.clientCert, "-X", "ssl.key.location=" + p.clientKey}
	args := func(base []string, more ...string) []string { return append(append([]string{}, base...), more...) }

	run(t, "k:scram512\n", kcat, args(sasl("SCRAM-SHA-512", "alice", "alice-scram"), "-P", "-t", "kc", "-K:")...)
	run(t, "k:scram256\n", kcat, args(sasl("SCRAM-SHA-256", "bob", "bob-scram"), "-P", "-t", "kc", "-K:")...)
	run(t, "k:mtls\n", kcat, args(mtls, "-P", "-t", "kc", "-K:")...)
	out := run(t, "", kcat, args(sasl("PLAIN", "alice", "alice-secret"), "-C", "-t", "kc", "-e", "-f", "%k=%s\n")...)
	require.Equal(t, "k=scram512\nk=scram256\nk=mtls\n", out)

	timeouts := []string{"-X", "socket.connection.setup.timeout.ms=3000", "-m", "10"}
	fail := runFail(t, "", kcat, args(sasl("SCRAM-SHA-512", "alice", "wrong"), append([]string{"-L"}, timeouts...)...)...)
	require.Contains(t, fail, "Authentication failed")
	fail = runFail(t, "", kcat, args(sasl("PLAIN", "alice", "wrong"), append([]string{"-L"}, timeouts...)...)...)
	require.Contains(t, fail, "Invalid username or password")
	runFail(t, "", kcat, append([]string{"-b", n.ssl, "-X", "security.protocol=SSL", "-X", "ssl.ca.location=" + p.caPEM, "-L"}, timeouts...)...)
	runFail(t, "", kcat, append([]string{"-b", n.saslSSL, "-L"}, timeouts...)...)

	// Debian's librdkafka 2.0.2: PLAIN works, SCRAM is refused as Kafka 4.3.1 refuses it.
	out = run(t, "", kcatOld, args(sasl("PLAIN", "alice", "alice-secret"), "-C", "-t", "kc", "-e", "-f", "%k=%s\n")...)
	require.Equal(t, "k=scram512\nk=scram256\nk=mtls\n", out)
	for _, m := range [][3]string{{"SCRAM-SHA-512", "alice", "alice-scram"}, {"SCRAM-SHA-256", "bob", "bob-scram"}} {
		fail := runFail(t, "", kcatOld, args(sasl(m[0], m[1], m[2]), append([]string{"-L"}, timeouts...)...)...)
		require.Contains(t, fail, "Authentication failed during authentication due to invalid credentials with SASL mechanism "+m[0])
	}
}

const pySecurity = `
import sys
from confluent_kafka import Producer, Consumer, TopicPartition, KafkaException
from confluent_kafka.admin import AdminClient
addr, ssl_addr, ca, cert, key = sys.argv[1:6]
def sasl(mech, user, pw):
    return {"bootstrap.servers": addr, "security.protocol": "SASL_SSL", "sasl.mechanisms": mech,
            "sasl.username": user, "sasl.password": pw, "ssl.ca.location": ca}
mtls = {"bootstrap.servers": ssl_addr, "security.protocol": "SSL", "ssl.ca.location": ca,
        "ssl.certificate.location": cert, "ssl.key.location": key}
for i, conf in enumerate([sasl("SCRAM-SHA-512", "alice", "alice-scram"), sasl("PLAIN", "bob", "bob-secret"), mtls]):
    p = Producer(conf)
    p.produce("py-sec", value=b"v%d" % i)
    assert p.flush(30) == 0
c = Consumer(dict(sasl("SCRAM-SHA-256", "bob", "bob-scram"), **{"group.id": "py-sec", "enable.auto.commit": False}))
c.assign([TopicPartition("py-sec", 0, 0)])
got = []
while len(got) < 3:
    m = c.poll(10)
    assert m is not None, "timed out after %d records" % len(got)
    assert m.error() is None, m.error()
    got.append(m.value())
c.close()
assert got == [b"v0", b"v1", b"v2"], got
for bad in [sasl("SCRAM-SHA-512", "alice", "wrong"), sasl("PLAIN", "alice", "wrong")]:
    a = AdminClient(dict(bad, **{"socket.connection.setup.timeout.ms": 3000}))
    try:
        a.list_topics(timeout=10)
        raise SystemExit("bad credentials were accepted")
    except KafkaException as e:
        print("refused:", e.args[0].name())
print("ok")
`

// TestSecurityPython: confluent-kafka-python authenticates with SCRAM and
// PLAIN over SASL_SSL and with a client certificate, and is refused with a
// wrong password.
func TestSecurityPython(t *testing.T) {
	py := tool(t, filepath.Join(compatCache(t), "venv", "bin", "python"))
	p := makePKI(t)
	n := startSecureNode(t, p)
	scramUsers(t, n.plain)
	out := run(t, "", py, "-c", pySecurity, n.saslSSL, n.ssl, p.caPEM, p.clientCert, p.clientKey)
	require.Equal(t, 2, strings.Count(out, "refused:"), out)
	require.True(t, strings.HasSuffix(out, "ok\n"), out)
}

// TestKafkaAclsTool: kafka-acls.sh (org.apache.kafka.tools.AclCommand)
// works unchanged: a super user adds, lists and removes ACLs over SASL, the
// ACLs take effect, and a user without ALTER on the cluster is refused.
func TestKafkaAclsTool(t *testing.T) {
	runClass := tool(t, filepath.Join(repoRoot(t), "test", "compat", "bin", "kafka-run-class"))
	p := makePKI(t)
	n := aclNode(t, p)
	dir := t.TempDir()
	props := func(user string) string {
		return writeFile(t, dir, user+".properties", "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"+
			`sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="`+user+`" password="`+user+"-secret\";\n")
	}
	acls := func(user string, args ...string) []string {
		return append([]string{"org.apache.kafka.tools.AclCommand", "--bootstrap-server", n.saslPlain, "--command-config", props(user)}, args...)
	}
	admin, bob := as(t, n, "admin"), as(t, n, "bob")
	ct := kmsg.NewPtrCreateTopicsRequest()
	tp := kmsg.NewCreateTopicsRequestTopic()
	tp.Topic, tp.NumPartitions, tp.ReplicationFactor = "orders", 1, 1
	ct.Topics = append(ct.Topics, tp)
	ctr, err := ct.RequestWith(ctx10(t), admin)
	require.NoError(t, err)
	ordersID = ctr.Topics[0].TopicID

	require.Equal(t, int16(29), produceCode(t, bob, "orders", nil))
	run(t, "", runClass, acls("admin", "--add", "--allow-principal", "User:bob", "--operation", "Write", "--operation", "Describe", "--topic", "orders")...)
	list := run(t, "", runClass, acls("admin", "--list", "--topic", "orders")...)
	require.Contains(t, list, "ResourcePattern(resourceType=TOPIC, name=orders, patternType=LITERAL)")
	require.Contains(t, list, "(principal=User:bob, host=*, operation=WRITE, permissionType=ALLOW)")
	require.Contains(t, list, "(principal=User:bob, host=*, operation=DESCRIBE, permissionType=ALLOW)")
	require.Equal(t, int16(0), produceCode(t, bob, "orders", nil))

	fail := runFail(t, "", runClass, acls("bob", "--add", "--allow-principal", "User:bob", "--operation", "All", "--cluster")...)
	require.Contains(t, fail, "ClusterAuthorizationException")

	run(t, "", runClass, acls("admin", "--remove", "--force", "--topic", "orders")...)
	require.NotContains(t, run(t, "", runClass, acls("admin", "--list", "--topic", "orders")...), "User:bob")
	require.Equal(t, int16(29), produceCode(t, bob, "orders", nil))
}
