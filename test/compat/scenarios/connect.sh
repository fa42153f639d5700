# Kafka Connect 4.3.1 standalone with the FileStream connectors (connect-file): a file's lines
# go to TOPIC through the source connector and back out to another file through the sink.

connect_connect_file() {
	local n=200 i
	for ((i = 0; i < n; i++)); do printf 'line %d: some words, tabs\tand ünïcode\n' "$i"; done > "$W/in.txt"
	: > "$W/out.txt"
	cat > "$W/worker.properties" <<PROPS
bootstrap.servers=$BOOTSTRAP
key.converter=org.apache.kafka.connect.storage.StringConverter
value.converter=org.apache.kafka.connect.storage.StringConverter
offset.storage.file.filename=$W/offsets
offset.flush.interval.ms=500
listeners=http://127.0.0.1:17083
PROPS
	cat > "$W/source.properties" <<PROPS
name=$TOPIC-source
connector.class=org.apache.kafka.connect.file.FileStreamSourceConnector
tasks.max=1
file=$W/in.txt
topic=$TOPIC
PROPS
	cat > "$W/sink.properties" <<PROPS
name=$TOPIC-sink
connector.class=org.apache.kafka.connect.file.FileStreamSinkConnector
tasks.max=1
file=$W/out.txt
topics=$TOPIC
PROPS
	mktopic "$TOPIC"
	connect-standalone "$W/worker.properties" "$W/source.properties" "$W/sink.properties" > "$W/connect.log" 2>&1 &
	CONNECT_PID=$!
	trap 'stop_bg $CONNECT_PID; rm -rf "$W"' EXIT
	for ((i = 0; i < 450; i++)); do
		[ "$(wc -l < "$W/out.txt")" -ge $n ] && break
		kill -0 $CONNECT_PID 2>/dev/null || break
		sleep 0.2
	done
	stop_bg $CONNECT_PID
	if ! cmp -s "$W/in.txt" "$W/out.txt"; then
		echo "--- connect log:"; tail -n 40 "$W/connect.log"
		fail "out.txt ($(wc -l < "$W/out.txt") lines) differs from in.txt ($n lines)"
	fi
	echo "connect: $n lines through $TOPIC, files identical"
}

# Kafka Connect 4.3.1 in distributed mode — three workers sharing one group and the compacted
# connect-configs/-offsets/-status topics — running the Debezium PostgreSQL connector against a
# real PostgreSQL (Debian's, started here with wal_level=logical on a private port): inserts,
# updates and deletes arrive in order; then the worker running the task is killed and the
# others take its task over (scheduled.rebalance.max.delay.ms=3000) and keep streaming.
connect_connect_debezium() {
	local pgbin pg port i
	pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	[ -x "$pgbin/initdb" ] || fail "PostgreSQL is not installed (test/compat/install.sh installs Debian's postgresql)"
	[ -f "$COMPAT_DEBEZIUM/.stamp" ] || fail "$COMPAT_DEBEZIUM missing: run test/compat/install.sh"
	id postgres > /dev/null 2>&1 || fail "no postgres user (Debian's postgresql package creates it)"
	pg=$(mktemp -d /tmp/compat-pg.XXXXXX) && chown postgres "$pg" # a path the postgres user can reach
	# Below the kernel's ephemeral range (32768-60999 here): a port in it can be the local end
	# of any client's connection at the moment PostgreSQL binds (seen: kafka3 column).
	for port in $(seq 15432 15499); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break; done
	pgrun() { runuser -u postgres -- "$@"; }
	pgrun "$pgbin/initdb" -D "$pg/data" -A trust -U postgres > "$W/initdb.log" 2>&1 || { cat "$W/initdb.log"; fail "initdb"; }
	pgrun "$pgbin/pg_ctl" -D "$pg/data" -l "$pg/log" -w -t 60 \
		-o "-p $port -k $pg -c listen_addresses=127.0.0.1 -c wal_level=logical -c max_replication_slots=4 -c max_wal_senders=4" start ||
		{ cat "$pg/log"; fail "PostgreSQL did not start"; }
	# Globals, not locals: the EXIT trap runs after this function has returned.
	DBZ_PIDS=() DBZ_PG=$pg DBZ_PGBIN=$pgbin
	trap 'for p in "${DBZ_PIDS[@]}"; do stop_bg "$p"; done
		runuser -u postgres -- "$DBZ_PGBIN/pg_ctl" -D "$DBZ_PG/data" -m immediate stop >/dev/null 2>&1; rm -rf "$W" "$DBZ_PG"' EXIT
	local -n pids=DBZ_PIDS
	psql() { pgrun "$pgbin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
	psql -c "CREATE TABLE items (id int PRIMARY KEY, name text, qty int); ALTER TABLE items REPLICA IDENTITY FULL;"

	local group=$TOPIC-connect
	for i in 1 2 3; do
		cat > "$W/worker$i.properties" <<PROPS
bootstrap.servers=$BOOTSTRAP
group.id=$group
config.storage.topic=$TOPIC-configs
offset.storage.topic=$TOPIC-offsets
status.storage.topic=$TOPIC-status
config.storage.replication.factor=$COMPAT_RF
offset.storage.replication.factor=$COMPAT_RF
status.storage.replication.factor=$COMPAT_RF
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=false
value.converter.schemas.enable=false
offset.flush.interval.ms=1000
scheduled.rebalance.max.delay.ms=3000
listeners=http://127.0.0.1:1718$i
rest.advertised.host.name=127.0.0.1
rest.advertised.port=1718$i
plugin.path=$(dirname "$COMPAT_DEBEZIUM")
plugin.discovery=service_load
PROPS
		KAFKA_HEAP=-Xmx384m connect-distributed "$W/worker$i.properties" > "$W/worker$i.log" 2>&1 &
		pids+=($!)
	done
	rest() { curl -sf --max-time 10 "$@"; }
	dbz_logs() { for i in 1 2 3; do echo "--- worker $i:"; grep -E 'ERROR|WARN|Joined group|Finished starting' "$W/worker$i.log" | tail -n 25; done; }
	for ((i = 0; i < 600; i++)); do
		rest http://127.0.0.1:17181/connectors > /dev/null && rest http://127.0.0.1:17182/connectors > /dev/null &&
			rest http://127.0.0.1:17183/connectors > /dev/null && break
		sleep 0.2
	done
	rest http://127.0.0.1:17181/connector-plugins | grep -q PostgresConnector ||
		{ dbz_logs; fail "the workers did not come up with the Debezium plugin"; }
	for t in configs offsets status; do
		kafka-configs --bootstrap-server "$BOOTSTRAP" --describe --entity-type topics --entity-name "$TOPIC-$t" > "$W/$t.cfg" 2>&1
		expect_grep 'cleanup.policy=compact' "$W/$t.cfg"
	done
	rest -X POST -H 'Content-Type: application/json' http://127.0.0.1:17182/connectors -d @- > "$W/create.out" <<JSON ||
{"name": "$TOPIC-pg", "config": {
  "connector.class": "io.debezium.connector.postgresql.PostgresConnector", "tasks.max": "1",
  "database.hostname": "127.0.0.1", "database.port": "$port", "database.user": "postgres",
  "database.password": "unused", "database.dbname": "postgres", "topic.prefix": "$TOPIC",
  "plugin.name": "pgoutput", "slot.name": "s_${TOPIC//[^a-z0-9]/_}", "table.include.list": "public.items",
  "publication.autocreate.mode": "filtered", "topic.creation.default.replication.factor": "$COMPAT_RF",
  "topic.creation.default.partitions": "1"}}
JSON
		{ cat "$W/create.out"; dbz_logs; fail "creating the connector"; }
	local owner=""
	for ((i = 0; i < 600; i++)); do
		owner=$(rest "http://127.0.0.1:17181/connectors/$TOPIC-pg/status" | grep -o '"tasks":\[{"id":0,"state":"RUNNING","worker_id":"[^"]*"' | grep -o '[0-9]*"$' | tr -d '"') && [ -n "$owner" ] && break
		sleep 0.2
	done
	[ -n "$owner" ] || { rest "http://127.0.0.1:17182/connectors/$TOPIC-pg/status" || true; dbz_logs; fail "the task never ran"; }
	echo "task 0 runs on the worker at port $owner"
	# The replication slot exists once the task streams: changes from then on are kept for it.
	for ((i = 0; i < 300; i++)); do
		[ "$(psql -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 's_${TOPIC//[^a-z0-9]/_}'")" = 1 ] && break
		sleep 0.2
	done

	psql -c "INSERT INTO items VALUES (1, 'apple', 3), (2, 'pear', 5), (3, 'plum', 7);"
	psql -c "UPDATE items SET qty = 4 WHERE id = 1;"
	psql -c "DELETE FROM items WHERE id = 2;"
	local events=$TOPIC.public.items
	# c c c u d (and the delete's tombstone): the op of each non-null value, in order.
	wait_ops() { # wait_ops WANT: poll the change topic until its ops read WANT
		local got=""
		for ((i = 0; i < 300; i++)); do
			got=$(kcat -b "$BOOTSTRAP" -C -t "$events" -o beginning -e -q -f '%s\n' 2>/dev/null |
				grep -o '"op":"[a-z]"' | cut -d'"' -f4 | tr -d '\n')
			[ "$got" = "$1" ] && return 0
			sleep 0.2
		done
		echo "change events: ${got:-none}, want $1"
		return 1
	}
	wait_ops cccud || { dbz_logs; fail "the change events did not arrive in order"; }
	kcat -b "$BOOTSTRAP" -C -t "$events" -o beginning -e -q -f '%k|%s\n' > "$W/events.txt" 2>/dev/null
	expect_grep '"after":\{"id":1,"name":"apple","qty":4\}' "$W/events.txt"
	expect_grep '"before":\{"id":2,"name":"pear","qty":5\},"after":null' "$W/events.txt"

	# The worker commits the task's source offsets (the PostgreSQL LSN) every second; once they
	# are in the offsets topic a restarted task resumes streaming instead of snapshotting again.
	for ((i = 0; i < 300; i++)); do
		kcat -b "$BOOTSTRAP" -C -t "$TOPIC-offsets" -o beginning -e -q -f '%k %s\n' 2>/dev/null | grep -q "$TOPIC-pg.*lsn" && break
		sleep 0.2
	done
	# Kill the worker that runs the task (SIGKILL: no graceful leave); the survivors take it over.
	local victim=$((owner - 17180))
	kill -9 $(pgrep -P "${pids[$((victim - 1))]}") "${pids[$((victim - 1))]}" 2>/dev/null # the JVM and its wrapper
	psql -c "INSERT INTO items VALUES (4, 'fig', 1);"
	wait_ops cccudc || { dbz_logs; fail "after worker $victim died, the task did not resume"; }
	local survivor=$(( victim == 1 ? 2 : 1 ))
	rest "http://127.0.0.1:1718$survivor/connectors/$TOPIC-pg/status" | grep -q '"state":"RUNNING","worker_id":"127.0.0.1:1718[^'"$victim"']"' ||
		{ dbz_logs; fail "the task is not running on a surviving worker"; }
	echo "connect: 6 change events in order through 3 distributed workers; task moved off killed worker $victim"
}
