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
listeners=http://127.0.0.1:39083
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
