#!/usr/bin/env bash
# Starts kafka.Kafka on already-formatted storage exactly as test/compat/lib/kafka.sh does
# (same jars, -Xmx1g, SerialGC, logging); spool-bench uses it to time restarts.
#   kafka-serve.sh DIR/server.properties
set -euo pipefail
source "$(cd "$(dirname "$0")/../compat" && pwd)/lib/env.sh"
KAFKA_HEAP="-Xmx1g -Xms256m" java_bg kafka.Kafka "$1"
