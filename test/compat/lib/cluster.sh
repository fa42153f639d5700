#!/usr/bin/env bash
# Starts and operates a throwaway 3-node cluster of combined-mode (broker,controller) nodes on
# 127.0.0.1: Apache Kafka 4.3.1 from the cached Maven jars (KIND=kafka) or bin/spool serve
# (KIND=spool), node i (1..3) on broker port BROKER_PORT+i-1 and controller port
# CONTROLLER_PORT+i-1, from lib/env.sh's server_properties (replication factor 3, min ISR 2).
#
#   cluster.sh KIND start NAME BROKER_PORT CONTROLLER_PORT  # all three nodes, until each is ready
#   cluster.sh KIND stop-node NAME I     # SIGTERM node I (controlled shutdown) and wait for it to exit
#   cluster.sh KIND start-node NAME I    # start node I again on its data and wait until it is ready
#   cluster.sh KIND stop NAME            # stop every node and remove the data
#
# Files: $COMPAT_RUN/NAME.dir (the data, nodeI/ per node), NAME-I.pid, NAME-I.log (appended
# across restarts), NAME.bootstrap (the three broker addresses, comma-separated).
# A node is ready when its log says so after the start: Kafka's "Kafka Server started" and
# Spool's "spool is ready" both come once the broker is registered and unfenced.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/lib/env.sh"

kind=$1 cmd=$2 name=$3
run=${COMPAT_RUN:?}
nodes=3
case $kind in
kafka) ready_line='Kafka Server started' ;;
spool) ready_line='spool is ready' ;;
*) echo "cluster.sh: unknown kind $kind" >&2; exit 2 ;;
esac

# launch I: start node I in the background; its pid goes to NAME-I.pid. The node gets a
# session of its own (setsid; the background subshell is no process group leader, so setsid
# execs in place and $! stays the node's pid): a node a scenario restarts must not die with the
# scenario's process group when run.sh's timeout stops it.
launch() {
	local i=$1 dir
	dir=$(cat "$run/$name.dir")/node$i
	if [ "$kind" = kafka ]; then
		JAVA_BG_WRAP=setsid KAFKA_HEAP="-Xmx768m -Xms256m" java_bg kafka.Kafka "$dir/server.properties" >> "$run/$name-$i.log" 2>&1 &
	else
		local bin=${SPOOL_BIN:-$root/bin/spool}
		(cd "$root" && CLUSTER_ID=$(cat "$run/$name.cid") exec setsid "$bin" serve "$dir/server.properties") >> "$run/$name-$i.log" 2>&1 &
	fi
	echo $! > "$run/$name-$i.pid"
}

# wait_ready I FROM_LINE SECONDS: wait until node I's log, after line FROM_LINE, has the ready line.
wait_ready() {
	local i=$1 from=$2 secs=$3 pid t
	pid=$(cat "$run/$name-$i.pid")
	for ((t = 0; t < secs * 5; t++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 30 "$run/$name-$i.log" >&2
			echo "$kind $name node $i exited during startup; log: $run/$name-$i.log" >&2
			return 1
		fi
		tail -n +"$((from + 1))" "$run/$name-$i.log" | grep -q "$ready_line" && return 0
		sleep 0.2
	done
	echo "$kind $name node $i was not ready within ${secs}s; log: $run/$name-$i.log" >&2
	return 1
}

lines() { [ -f "$1" ] && wc -l < "$1" || echo 0; }

# stop_node I [GRACE_SECONDS]: SIGTERM, then SIGKILL after GRACE_SECONDS (default 60).
stop_node() {
	local i=$1 grace=${2:-60} pid t
	[ -f "$run/$name-$i.pid" ] || return 0
	pid=$(cat "$run/$name-$i.pid")
	kill "$pid" 2>/dev/null || true
	# Controlled shutdown moves leaderships away first; Kafka allows it 30 s by default.
	for ((t = 0; t < grace * 10; t++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null || true
	rm -f "$run/$name-$i.pid"
}

case $cmd in
start)
	bport=$4 cport=$5
	base=$(mktemp -d "${TMPDIR:-/tmp}/compat-$name.XXXXXX")
	echo "$base" > "$run/$name.dir"
	voters="" bs=""
	for ((i = 1; i <= nodes; i++)); do
		voters+="${voters:+,}$i@127.0.0.1:$((cport + i - 1))"
		bs+="${bs:+,}127.0.0.1:$((bport + i - 1))"
	done
	echo "$bs" > "$run/$name.bootstrap"
	start=$(date +%s.%N)
	if [ "$kind" = kafka ]; then
		cid=$(java_tool kafka.tools.StorageTool random-uuid)
	else
		cid=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
	fi
	echo "$cid" > "$run/$name.cid"
	for ((i = 1; i <= nodes; i++)); do
		mkdir -p "$base/node$i"
		server_properties "$base/node$i" $((bport + i - 1)) $((cport + i - 1)) "$i" "$voters"
		: > "$run/$name-$i.log"
		if [ "$kind" = kafka ]; then
			java_tool kafka.tools.StorageTool format -t "$cid" -c "$base/node$i/server.properties" > "$base/node$i/format.log" 2>&1 ||
				{ cat "$base/node$i/format.log" >&2; exit 1; }
		fi
	done
	for ((i = 1; i <= nodes; i++)); do launch "$i"; done
	for ((i = 1; i <= nodes; i++)); do wait_ready "$i" 0 180 || exit 1; done
	printf '%s: %s 3-node cluster (%s) ready in %.1fs\n' "$name" \
		"$([ "$kind" = kafka ] && echo "Apache Kafka $KAFKA_VERSION" || echo Spool)" "$bs" \
		"$(echo "$(date +%s.%N) - $start" | bc)"
	;;
start-node)
	i=$4
	from=$(lines "$run/$name-$i.log")
	launch "$i"
	wait_ready "$i" "$from" 120
	;;
stop-node)
	stop_node "$4"
	;;
stop)
	# All at once: a last node stopping alone has no quorum left to shut down through.
	for ((i = 1; i <= nodes; i++)); do stop_node "$i" 20 & done
	wait
	[ -f "$run/$name.dir" ] && rm -rf "$(cat "$run/$name.dir")" "$run/$name.dir"
	;;
*)
	echo "cluster.sh: unknown command $cmd" >&2
	exit 2
	;;
esac
