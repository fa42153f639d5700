#!/bin/sh
# kafka-run-class.sh CLASS [ARGS...]: runs a Java main class on Kafka 4.3.1's jars in
# /opt/kafka/libs, like Apache Kafka's script of the same name (which is not in Kafka's
# Maven artifacts, so the Spool image ships this equivalent). Honours KAFKA_HEAP_OPTS,
# KAFKA_JVM_PERFORMANCE_OPTS, KAFKA_OPTS, KAFKA_LOG4J_OPTS and CLASSPATH.
if [ $# -lt 1 ]; then
	echo "USAGE: $0 classname [opts]" >&2
	exit 1
fi
base_dir=$(cd "$(dirname "$0")/.." && pwd)
: "${KAFKA_HEAP_OPTS:=-Xmx256M}"
: "${KAFKA_JVM_PERFORMANCE_OPTS:=-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto}"
: "${KAFKA_LOG4J_OPTS:=-Dlog4j2.configurationFile=$base_dir/config/tools-log4j2.properties}"
cp="$base_dir/libs/*"
[ -n "$CLASSPATH" ] && cp="$cp:$CLASSPATH"
# shellcheck disable=SC2086 # the *_OPTS variables are word lists, as in Kafka's script
exec java $KAFKA_HEAP_OPTS $KAFKA_JVM_PERFORMANCE_OPTS $KAFKA_LOG4J_OPTS $KAFKA_OPTS -cp "$cp" "$@"
