#!/usr/bin/env bash
# Starts a throwaway single-node KRaft Apache Kafka from the cached Maven jars.
#
#   kafka.sh start NAME BROKER_PORT CONTROLLER_PORT   # prints nothing; writes $COMPAT_RUN/NAME.{pid,log,dir}
#   kafka.sh stop NAME
#
# The data directory is fresh every start and removed on stop.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/lib/env.sh"

cmd=$1 name=$2
run=${COMPAT_RUN:?}
case $cmd in
start)
	bport=$3 cport=$4
	dir=$(mktemp -d "${TMPDIR:-/tmp}/compat-$name.XXXXXX")
	echo "$dir" > "$run/$name.dir"
	server_properties "$dir" "$bport" "$cport"
	start=$(date +%s.%N)
	cid=$(java_tool kafka.tools.StorageTool random-uuid)
	java_tool kafka.tools.StorageTool format -t "$cid" -c "$dir/server.properties" > "$dir/format.log" 2>&1 ||
		{ cat "$dir/format.log" >&2; exit 1; }
	KAFKA_HEAP="-Xmx1g -Xms256m" java_bg kafka.Kafka "$dir/server.properties" > "$run/$name.log" 2>&1 &
	echo $! > "$run/$name.pid"
	for _ in $(seq 1 600); do
		if ! kill -0 "$(cat "$run/$name.pid")" 2>/dev/null; then
			tail -n 30 "$run/$name.log" >&2
			echo "kafka $name exited during startup; log: $run/$name.log" >&2
			exit 1
		fi
		if grep -q 'Kafka Server started' "$run/$name.log" 2>/dev/null; then
			printf '%s: Apache Kafka %s started on 127.0.0.1:%s in %.1fs\n' "$name" "$KAFKA_VERSION" "$bport" \
				"$(echo "$(date +%s.%N) - $start" | bc)"
			exit 0
		fi
		sleep 0.2
	done
	echo "kafka $name did not start within 120s; log: $run/$name.log" >&2
	exit 1
	;;
stop)
	if [ -f "$run/$name.pid" ]; then
		pid=$(cat "$run/$name.pid")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
		rm -f "$run/$name.pid"
	fi
	[ -f "$run/$name.dir" ] && rm -rf "$(cat "$run/$name.dir")" "$run/$name.dir"
	;;
esac
