# Shared settings for the compatibility matrix scripts; sourced, not run.
KAFKA_VERSION=${KAFKA_VERSION:-4.3.1}
KAFKA_OLD_VERSION=${KAFKA_OLD_VERSION:-3.9.2}
COMPAT_CACHE=${COMPAT_CACHE:-$HOME/.cache/spool-compat}
COMPAT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JAVA_LIB=$COMPAT_CACHE/java/lib-$KAFKA_VERSION
JAVA_LIB_OLD=$COMPAT_CACHE/java/lib-$KAFKA_OLD_VERSION
COMPAT_VENV=$COMPAT_CACHE/venv
COMPAT_NODE=$COMPAT_CACHE/node
COMPAT_GOBIN=${COMPAT_GOBIN:-$COMPAT_CACHE/bin/compatgo}
COMPAT_JAVA_CLASSES=$COMPAT_CACHE/java/classes

# java_tool runs a Kafka main class in the foreground with a small heap and quiet logging.
java_tool() {
	java ${KAFKA_HEAP:--Xmx512m} -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto \
		-Dlog4j2.configurationFile="$COMPAT_DIR/java/log4j2.properties" \
		-cp "$JAVA_LIB/*${JAVA_EXTRA_CP:+:$JAVA_EXTRA_CP}" "$@"
}
# java_bg is java_tool for long-running servers (full JIT).
java_bg() {
	exec java ${KAFKA_HEAP:--Xmx1g} -XX:+UseSerialGC \
		-Dlog4j2.configurationFile="$COMPAT_DIR/java/log4j2.properties" -Dcompat.log.level=INFO \
		-cp "$JAVA_LIB/*" "$@"
}

# server_properties DIR BROKER_PORT CONTROLLER_PORT writes DIR/server.properties for a
# single-node KRaft combined-mode broker. The reference Kafka (lib/kafka.sh) and Spool
# (lib/spool.sh) get the very same file: Spool reads Kafka's configuration unchanged.
server_properties() {
	local dir=$1 bport=$2 cport=$3
	cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$bport,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$bport
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
PROPS
}
