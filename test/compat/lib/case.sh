#!/usr/bin/env bash
# Runs one case of the matrix: case.sh CLIENT SCENARIO BOOTSTRAP TOPIC. Exit 0 = pass.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/lib/env.sh"
client=$1 sc=$2 bs=$3 topic=$4
case $client in
franz | sarama | kafkago) exec "$COMPAT_GOBIN" -client "$client" -scenario "$sc" -bootstrap "$bs" -topic "$topic" ;;
kafka-python | confluent-py | aiokafka) exec "$COMPAT_VENV/bin/python" "$here/py/compat.py" "$client" "$sc" "$bs" "$topic" ;;
kafkajs) NODE_PATH=$COMPAT_NODE/node_modules exec node "$here/node/compat.js" "$client" "$sc" "$bs" "$topic" ;;
confluent-js) NODE_PATH=$COMPAT_NODE/node_modules exec node "$here/node/cjs.js" "$client" "$sc" "$bs" "$topic" ;;
java) "$here/lib/javac.sh" "$KAFKA_VERSION"
	JAVA_EXTRA_CP=$COMPAT_JAVA_CLASSES/$KAFKA_VERSION java_tool Compat "$sc" "$bs" "$topic" ;;
java-3.9) "$here/lib/javac.sh" "$KAFKA_OLD_VERSION"
	JAVA_LIB=$JAVA_LIB_OLD JAVA_EXTRA_CP=$COMPAT_JAVA_CLASSES/$KAFKA_OLD_VERSION java_tool Compat "$sc" "$bs" "$topic" ;;
java-4.4) "$here/lib/javac.sh" "$KAFKA_NEW_VERSION"
	JAVA_LIB=$JAVA_LIB_NEW JAVA_EXTRA_CP=$COMPAT_JAVA_CLASSES/$KAFKA_NEW_VERSION java_tool Compat "$sc" "$bs" "$topic" ;;
*) # shell scenarios: scenarios/<client>.sh defines <client>_<scenario> (dashes → underscores)
	f=$here/scenarios/$client.sh fn=${client//-/_}_${sc//-/_}
	[ -f "$f" ] || { echo "no scenarios/$client.sh"; exit 2; }
	PATH=$here/bin:$PATH BOOTSTRAP=$bs TOPIC=$topic
	source "$here/scenarios/lib.sh"
	source "$f"
	# cluster-* scenarios (3-node columns) live in scenarios/cluster.sh, run with client cli.
	if [[ $sc == cluster-* ]]; then source "$here/scenarios/cluster.sh"; fi
	declare -F "$fn" > /dev/null || { echo "$fn is not defined in scenarios/$client.sh"; exit 2; }
	"$fn" "$bs" "$topic"
	;;
esac
