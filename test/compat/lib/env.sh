# Shared settings for the compatibility matrix scripts; sourced, not run.
KAFKA_VERSION=${KAFKA_VERSION:-4.3.1}
KAFKA_OLD_VERSION=${KAFKA_OLD_VERSION:-3.9.2}
COMPAT_CACHE=${COMPAT_CACHE:-$HOME/.cache/spool-compat}
COMPAT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JAVA_LIB=$COMPAT_CACHE/java/lib-$KAFKA_VERSION
JAVA_LIB_OLD=$COMPAT_CACHE/java/lib-$KAFKA_OLD_VERSION
COMPAT_VENV=$COMPAT_CACHE/venv
COMPAT_NODE=$COMPAT_CACHE/node
COMPAT_GOBIN=$COMPAT_CACHE/bin/compatgo
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
