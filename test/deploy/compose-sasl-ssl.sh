#!/usr/bin/env bash
# The SASL_SSL compose variant (deploy/compose/single-node-sasl-ssl.yml) under podman-compose:
#  1. certificates made as Kafka's security documentation shows: a CA (openssl req -x509),
#     the node's key pair in a JKS keystore (keytool -genkeypair with SAN localhost), a
#     signing request (keytool -certreq) signed by the CA (openssl x509 -req), the CA and the
#     signed certificate imported back; the clients' truststore holds the CA
#  2. up with the secrets mounted and the first admin bootstrapped (SPOOL_ADD_SCRAM); healthy
#  3. from the host, Kafka's Java tools with client.properties (security.protocol=SASL_SSL,
#     sasl.jaas.config, truststore) create a topic, produce and consume; the admin adds a
#     SCRAM user with kafka-configs.sh, who produces and consumes with kcat (librdkafka)
#  4. refused: a wrong password (Java and kcat), an unknown user, a client that does not
#     trust the CA, and a plaintext client on the SASL_SSL port; the right credentials
#     still work after them
#  5. down -v.
# Needs: openssl, keytool, scripts/install-podman.sh, `make image`, kcat, Kafka's tools from
# `make test-deps` (test/compat/bin). Port 9094 must be free.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/lib.sh"
bin=$root/test/compat/bin
project=kafkasec
file=$root/deploy/compose/single-node-sasl-ssl.yml
export SPOOL_IMAGE=${SPOOL_IMAGE:-spool:tools}
B=localhost:9094
tmp=$(mktemp -d)
pc() { podman-compose -p $project -f "$file" "$@" > "$tmp/compose.log" 2>&1 || { tail -n 30 "$tmp/compose.log" >&2; die "podman-compose $*"; }; }
down_all() {
	podman-compose -p $project -f "$file" down -v > /dev/null 2>&1 || true
	podman volume rm -f ${project}_kafka-data > /dev/null 2>&1 || true
	podman network rm -f ${project}_default > /dev/null 2>&1 || true
}
trap 'down_all; rm -rf "$tmp"' EXIT

for t in openssl keytool podman-compose kcat "$bin/kafka-topics.sh" python3; do command -v "$t" > /dev/null || die "$t missing (make test-deps, scripts/install-podman.sh)"; done
podman image exists "$SPOOL_IMAGE" || die "image $SPOOL_IMAGE missing: run make image"
# The compose file's variables: the keystore password, the first admin's, the secrets dir.
export SPOOL_SSL_PASSWORD=ks-$RANDOM$RANDOM SPOOL_ADMIN_PASSWORD=admin-$RANDOM$RANDOM SPOOL_SECRETS=$tmp/secrets
down_all
if (exec 3<> /dev/tcp/127.0.0.1/9094) 2> /dev/null; then die "port 9094 is in use on this machine; the SASL_SSL compose file publishes it"; fi

stage "sasl-ssl: certificates and keystores (openssl, keytool)"
s=$SPOOL_SECRETS
pw=$SPOOL_SSL_PASSWORD
mkdir -p "$s" "$tmp/client"
openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 2 -subj "/CN=Spool test CA" \
	-keyout "$tmp/ca.key" -out "$tmp/ca.pem" 2> "$tmp/openssl.log" || die "openssl req (CA): $(cat "$tmp/openssl.log")"
keytool -genkeypair -keystore "$s/kafka.keystore.jks" -storetype JKS -storepass "$pw" -keypass "$pw" -alias localhost \
	-keyalg RSA -keysize 2048 -validity 2 -dname "CN=localhost,O=Spool" -ext SAN=DNS:localhost,DNS:kafka,IP:127.0.0.1 2> "$tmp/keytool.log" ||
	die "keytool -genkeypair: $(cat "$tmp/keytool.log")"
keytool -certreq -keystore "$s/kafka.keystore.jks" -storepass "$pw" -alias localhost -ext SAN=DNS:localhost,DNS:kafka,IP:127.0.0.1 \
	-file "$tmp/kafka.csr" 2> "$tmp/keytool.log" || die "keytool -certreq: $(cat "$tmp/keytool.log")"
printf 'subjectAltName=DNS:localhost,DNS:kafka,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' > "$tmp/ext.cnf"
openssl x509 -req -in "$tmp/kafka.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial -days 2 -sha256 \
	-extfile "$tmp/ext.cnf" -out "$tmp/kafka-signed.pem" 2> "$tmp/openssl.log" || die "openssl x509 -req: $(cat "$tmp/openssl.log")"
keytool -importcert -noprompt -keystore "$s/kafka.keystore.jks" -storepass "$pw" -alias CARoot -file "$tmp/ca.pem" > /dev/null 2>&1 ||
	die "keytool -importcert CARoot"
keytool -importcert -noprompt -keystore "$s/kafka.keystore.jks" -storepass "$pw" -alias localhost -file "$tmp/kafka-signed.pem" > "$tmp/keytool.log" 2>&1 ||
	die "keytool -importcert signed: $(cat "$tmp/keytool.log")"
keytool -importcert -noprompt -keystore "$tmp/client/client.truststore.jks" -storetype JKS -storepass "$pw" -alias CARoot \
	-file "$tmp/ca.pem" > /dev/null 2>&1 || die "keytool -importcert (client truststore)"
chmod 0755 "$s" && chmod 0644 "$s"/* # the broker runs as uid 1000 in the container
expect_contains "keystore holds the CA-signed certificate chain" "$(keytool -list -v -keystore "$s/kafka.keystore.jks" -storepass "$pw" -alias localhost 2> /dev/null)" "Certificate chain length: 2"

# client_props FILE USER PASSWORD [TRUSTSTORE]: a client.properties as Kafka's docs show.
client_props() {
	cat > "$1" << EOF
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$2" password="$3";
ssl.truststore.location=${4:-$tmp/client/client.truststore.jks}
ssl.truststore.password=$pw
EOF
}
client_props "$tmp/client/admin.properties" admin "$SPOOL_ADMIN_PASSWORD"
# kcat runs on the librdkafka confluent-kafka-python bundles (make test-deps): Debian's 2.0.2
# sends the SCRAM client nonce twice, which Kafka 4.x and Spool refuse (docs/security.md).
rdk=$(ls "${COMPAT_CACHE:-$HOME/.cache/spool-compat}"/venv/lib/python3*/site-packages/confluent_kafka.libs/librdkafka*.so.1 2> /dev/null | head -n 1)
[ -n "$rdk" ] || die "no librdkafka bundled with confluent-kafka (make test-deps)"
mkdir -p "$tmp/rdk" && ln -sf "$rdk" "$tmp/rdk/librdkafka.so.1"
kcat() { LD_LIBRARY_PATH="$tmp/rdk:$(dirname "$rdk")" command kcat "$@"; }
kc() { kcat -b "$B" -X security.protocol=SASL_SSL -X sasl.mechanisms=SCRAM-SHA-512 -X ssl.ca.location="$tmp/ca.pem" "$@"; }

stage "sasl-ssl: up with the secrets mounted and the admin bootstrapped ($SPOOL_IMAGE)"
pc up -d
cid() { podman ps -q --filter "label=io.podman.compose.project=$project" --filter "label=com.docker.compose.service=kafka"; }
healthy() { local c; c=$(cid) && [ -n "$c" ] && podman healthcheck run "$c" && [ "$(podman inspect --format '{{.State.Health.Status}}' "$c")" = healthy ]; }
wait_for "container healthy (HEALTHCHECK on the loopback PLAINTEXT listener)" 120 healthy
# The TLS handshake on the published port: the chain the node serves, checked against the CA.
out=$(openssl s_client -connect "$B" -servername localhost -verify_hostname localhost -CAfile "$tmp/ca.pem" < /dev/null 2>&1 || true)
expect_contains "openssl s_client verifies the node's certificate for localhost" "$out" "Verify return code: 0 (ok)"

stage "sasl-ssl: the admin from the host with client.properties (Kafka's Java tools)"
out=$("$bin/kafka-topics.sh" --bootstrap-server "$B" --command-config "$tmp/client/admin.properties" --create --topic secure \
	--partitions 2 --replication-factor 1 2>&1)
expect_contains "kafka-topics.sh --create over SASL_SSL" "$out" "Created topic secure."
printf 'sec-1\nsec-2\nsec-3\n' | "$bin/kafka-console-producer.sh" --bootstrap-server "$B" --topic secure \
	--command-config "$tmp/client/admin.properties" > "$tmp/producer.log" 2>&1 || die "kafka-console-producer.sh: $(tail -n 5 "$tmp/producer.log")"
out=$("$bin/kafka-console-consumer.sh" --bootstrap-server "$B" --topic secure --from-beginning --max-messages 3 --timeout-ms 30000 \
	--command-config "$tmp/client/admin.properties" 2> "$tmp/consumer.log" | sort | tr '\n' ' ')
expect_eq "kafka-console-consumer.sh reads them back over SASL_SSL" "$out" "sec-1 sec-2 sec-3 "
out=$("$bin/kafka-configs.sh" --bootstrap-server "$B" --command-config "$tmp/client/admin.properties" --alter --entity-type users \
	--entity-name alice --add-config 'SCRAM-SHA-512=[iterations=8192,password=alice-secret]' 2>&1)
expect_contains "kafka-configs.sh adds SCRAM user alice" "$out" "Completed updating config for user alice."
printf 'alice-1\nalice-2\n' | kc -X sasl.username=alice -X sasl.password=alice-secret -P -t secure -p 1 2> "$tmp/kcat.log" ||
	die "kcat produce as alice: $(cat "$tmp/kcat.log")"
out=$(kc -X sasl.username=alice -X sasl.password=alice-secret -C -t secure -e -q -f '%s\n' 2> "$tmp/kcat.log" | sort | tr '\n' ' ')
expect_eq "kcat as alice (librdkafka SCRAM-SHA-512 over TLS) reads every record" "$out" "alice-1 alice-2 sec-1 sec-2 sec-3 "

stage "sasl-ssl: refused clients"
# The Java client with a wrong password runs alongside the kcat checks (a JVM starts slowly here).
client_props "$tmp/client/wrong.properties" admin wrong-password
"$bin/kafka-topics.sh" --bootstrap-server "$B" --command-config "$tmp/client/wrong.properties" --list > "$tmp/wrong.out" 2>&1 &
java_pid=$!
out=$(kc -X sasl.username=alice -X sasl.password=not-alices -L -m 5 2>&1) && die "kcat with a wrong password listed metadata: $out"
expect_contains "kcat with a wrong password: SASL authentication failed" "$out" "Authentication failed"
out=$(kc -X sasl.username=mallory -X sasl.password=mallory-secret -L -m 5 2>&1) && die "kcat as an unknown user listed metadata: $out"
expect_contains "kcat as an unknown user: SASL authentication failed" "$out" "Authentication failed"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=Other CA" -keyout "$tmp/other.key" -out "$tmp/other.pem" 2> /dev/null
out=$(kcat -b "$B" -X security.protocol=SASL_SSL -X sasl.mechanisms=SCRAM-SHA-512 -X ssl.ca.location="$tmp/other.pem" \
	-X sasl.username=alice -X sasl.password=alice-secret -L -m 5 2>&1) && die "kcat trusting another CA listed metadata: $out"
expect_contains "a client that does not trust the node's CA: certificate verify failed" "$out" "certificate verify failed"
out=$(kcat -b "$B" -L -m 5 2>&1) && die "a plaintext client listed metadata on the SASL_SSL port: $out"
pass "kcat without TLS and SASL on the SASL_SSL port gets no metadata"
if wait "$java_pid"; then die "kafka-topics.sh with a wrong password succeeded: $(cat "$tmp/wrong.out")"; fi
expect_contains "Java client with a wrong password: SaslAuthenticationException" "$(cat "$tmp/wrong.out")" "SaslAuthenticationException"
out=$(kc -X sasl.username=alice -X sasl.password=alice-secret -C -t secure -e -q -f '%s\n' 2> /dev/null | wc -l)
expect_eq "the node still serves the right credentials after the refusals" "$out" "5"

stage "sasl-ssl: down"
pc down -v
if podman volume exists ${project}_kafka-data; then die "down -v left the data volume"; fi
pass "down -v removes the container and its data volume"
printf '\ncompose-sasl-ssl: %s passed, 0 failed\n' "$PASSED"
