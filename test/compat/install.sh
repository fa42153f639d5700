#!/usr/bin/env bash
# Installs everything the compatibility matrix needs, idempotently, into ~/.cache/spool-compat
# (and ~/.m2). Fails loudly when anything can't be installed.
#   Java:   Apache Kafka 4.3.1 jars (java/pom.xml) and kafka-clients 3.9.2 (java/pom-old.xml)
#   Debian: kcat, bc, python3-venv
#   Python: venv with kafka-python, aiokafka, confluent-kafka (py/requirements.txt)
#   Node:   node/package.json into the cache (kafkajs; node/compat.js)
#   Go:     go/ (its own module: franz-go, sarama, kafka-go) built to the cache
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/env.sh"
mkdir -p "$COMPAT_CACHE/bin"
step() { printf '\n== compat install: %s\n' "$*"; }
die() { echo "compat install FAILED: $*" >&2; exit 1; }
stamp_ok() { [ -f "$1/.stamp" ] && [ "$(cat "$1/.stamp")" = "$2" ]; }
hash_of() { cat "$@" | sha256sum | cut -c1-16; }

step "Debian packages (kcat bc python3-venv)"
need=()
for p in kcat bc python3-venv; do dpkg -s "$p" > /dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
	apt-get update -qq || die "apt-get update"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" || die "apt-get install ${need[*]}"
fi
echo "ok"

for pom in pom.xml:$JAVA_LIB pom-old.xml:$JAVA_LIB_OLD; do
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

step "Python venv $COMPAT_VENV"
h=$(hash_of "$here/py/requirements.txt")
if ! stamp_ok "$COMPAT_VENV" "$h"; then
	[ -x "$COMPAT_VENV/bin/python" ] || python3 -m venv "$COMPAT_VENV" || die "python3 -m venv"
	"$COMPAT_VENV/bin/pip" install --progress-bar off -r "$here/py/requirements.txt" || die "pip install"
	"$COMPAT_VENV/bin/python" -c 'import kafka, aiokafka, confluent_kafka' || die "python clients do not import"
	echo "$h" > "$COMPAT_VENV/.stamp"
fi
echo "ok"

step "Node modules $COMPAT_NODE"
h=$(hash_of "$here/node/package.json")
if ! stamp_ok "$COMPAT_NODE" "$h"; then
	mkdir -p "$COMPAT_NODE" && cp "$here/node/package.json" "$COMPAT_NODE/"
	(cd "$COMPAT_NODE" && npm install --no-audit --no-fund) || die "npm install"
	echo "$h" > "$COMPAT_NODE/.stamp"
fi
echo "ok"

step "Go clients (test/compat/go) → $COMPAT_GOBIN"
(cd "$here/go" && go build -o "$COMPAT_GOBIN" .) || die "go build test/compat/go"
echo "ok"

step "Java scenario programs (java/*.java) → $COMPAT_JAVA_CLASSES"
"$here/lib/javac.sh" "$KAFKA_VERSION" && "$here/lib/javac.sh" "$KAFKA_OLD_VERSION" || die "javac java/*.java"
echo "ok"

step "smoke: the Java tools run"
"$here/bin/kafka-topics" --version || die "kafka-topics does not run"
