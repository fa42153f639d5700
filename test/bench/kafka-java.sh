#!/usr/bin/env bash
# Runs a Kafka main class from test/compat's cached 4.3.1 jars with full JIT (java_bg in
# test/compat/lib/env.sh), unlike test/compat/bin/*, whose quick-start JVM flags
# (-XX:TieredStopAtLevel=1) would make the perf tools measure the JIT, not the broker.
#   kafka-java.sh kafka.Kafka DIR/server.properties      (restart on formatted storage, -Xmx1g)
#   kafka-java.sh org.apache.kafka.tools.ProducerPerformance ...
set -euo pipefail
source "$(cd "$(dirname "$0")/../compat" && pwd)/lib/env.sh"
KAFKA_HEAP="-Xmx1g -Xms256m" java_bg "$@"
