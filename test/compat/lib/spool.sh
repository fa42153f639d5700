#!/usr/bin/env bash
# Starts a throwaway Spool node (bin/spool serve) from the same server.properties
# lib/kafka.sh gives the reference Kafka; scenarios that need a second cluster use it.
#
#   spool.sh start NAME BROKER_PORT CONTROLLER_PORT   # writes $COMPAT_RUN/NAME.{pid,log,dir}
#   spool.sh stop NAME
#
# SPOOL_BIN overrides the binary (default bin/spool).
# The data directory is fresh every start and removed on stop.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/lib/env.sh"

cmd=$1 name=$2
run=${COMPAT_RUN:?}
case $cmd in
start)
	bport=$3 cport=$4
	bin=${SPOOL_BIN:-$root/bin/spool}
	[ -x "$bin" ] || { echo "$bin does not exist (make build)" >&2; exit 1; }
	dir=$(mktemp -d "${TMPDIR:-/tmp}/compat-$name.XXXXXX")
	echo "$dir" > "$run/$name.dir"
	server_properties "$dir" "$bport" "$cport"
	start=$(date +%s.%N)
	(cd "$root" && exec "$bin" serve "$dir/server.properties") > "$run/$name.log" 2>&1 &
	echo $! > "$run/$name.pid"
	for _ in $(seq 1 150); do
		if ! kill -0 "$(cat "$run/$name.pid")" 2>/dev/null; then
			tail -n 30 "$run/$name.log" >&2
			echo "spool $name exited during startup; log: $run/$name.log" >&2
			exit 1
		fi
		if (exec 3<>"/dev/tcp/127.0.0.1/$bport") 2>/dev/null; then
			printf '%s: Spool started on 127.0.0.1:%s in %.1fs\n' "$name" "$bport" "$(echo "$(date +%s.%N) - $start" | bc)"
			exit 0
		fi
		sleep 0.2
	done
	echo "spool $name did not accept connections within 30s; log: $run/$name.log" >&2
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
