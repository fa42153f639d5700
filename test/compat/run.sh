#!/usr/bin/env bash
# Runs the compatibility matrix (cases) against a reference Apache Kafka and against Spool,
# prints a scenario × client table and writes docs/compatibility.md.
#
# Environment:
#   ONLY=produce-codecs,seed-*   scenarios to run (comma-separated globs; default all)
#   CLIENTS=kcat,franz           clients to run (comma-separated globs; default all)
#   TARGETS=kafka,spool          which columns (default all four: kafka,spool,kafka3,spool3);
#                                kafka3 and spool3 are 3-node clusters of combined-mode nodes
#                                (lib/cluster.sh: replication factor 3, min ISR 2) that run every
#                                scenario with the three brokers as bootstrap, plus the cluster-*
#                                scenarios, which run on them only; kafka44 (opt-in, not in the
#                                default) is a single Apache Kafka 4.4.0 node, another reference,
#                                e.g. TARGETS=kafka44,spool CLIENTS='java*'; kafka-sasl and
#                                spool-sasl (opt-in) are single nodes whose only client listener
#                                is SASL_SSL with SCRAM-SHA-512 and ACLs (lib/secure.sh), running
#                                SASL_SCENARIOS with the clients that have security plumbing;
#                                kafka3-sasl and spool3-sasl (opt-in) are the same on 3-node
#                                clusters: SASL_SSL (PLAIN as the super user admin) between
#                                brokers and mTLS on the CONTROLLER listener (lib/env.sh)
#   KAFKA_BOOTSTRAP=H:P          use a running Kafka instead of starting one
#   SPOOL_BOOTSTRAP=H:P          use a running Spool instead of starting bin/spool serve
#   COMPAT_OUT=DIR               results and logs (default test/compat/out; wiped first)
# Exit status is non-zero when a case passes on Kafka but fails on Spool and is not listed in
# known-gaps, or when a case fails on Kafka (a broken scenario).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/lib/env.sh"
source "$here/lib/secure.sh"

ONLY=${ONLY:-} CLIENTS=${CLIENTS:-} TARGETS=${TARGETS:-kafka,spool,kafka3,spool3}
out=${COMPAT_OUT:-$here/out}
export COMPAT_RUN=$out/run
rm -rf "$out" && mkdir -p "$COMPAT_RUN"
results=$out/results.tsv
: > "$results"
: > "$out/durations.tsv"
runid=$(date +%H%M%S)

match() { # match VALUE "glob,glob" → true when the list is empty or a glob matches
	local v=$1 g
	[ -z "$2" ] && return 0
	IFS=, read -ra gs <<< "$2"
	for g in "${gs[@]}"; do [[ $v == $g ]] && return 0; done
	return 1
}

cleanup() {
	"$here/lib/kafka.sh" stop ref >/dev/null 2>&1
	"$here/lib/kafka.sh" stop ref2 >/dev/null 2>&1 # scenarios/mm2.sh's second clusters
	"$here/lib/kafka.sh" stop ref44 >/dev/null 2>&1
	"$here/lib/spool.sh" stop spool >/dev/null 2>&1
	"$here/lib/spool.sh" stop spool2 >/dev/null 2>&1
	"$here/lib/cluster.sh" kafka stop kafka3 >/dev/null 2>&1
	"$here/lib/cluster.sh" spool stop spool3 >/dev/null 2>&1
	"$here/lib/kafka.sh" stop refsasl >/dev/null 2>&1
	"$here/lib/spool.sh" stop spoolsasl >/dev/null 2>&1
	"$here/lib/cluster.sh" kafka stop kafka3sasl >/dev/null 2>&1
	"$here/lib/cluster.sh" spool stop spool3sasl >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_port() { # wait_port HOST:PORT SECONDS PID
	local hp=$1 i
	for ((i = 0; i < $2 * 5; i++)); do
		[ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null && return 1
		(exec 3<>"/dev/tcp/${hp%:*}/${hp#*:}") 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}

start_spool() {
	if [ -n "${SPOOL_BOOTSTRAP:-}" ]; then
		wait_port "$SPOOL_BOOTSTRAP" 10 || { echo "SPOOL_BOOTSTRAP=$SPOOL_BOOTSTRAP is not accepting connections"; return 1; }
		echo "$SPOOL_BOOTSTRAP" > "$COMPAT_RUN/spool.bootstrap"
		probe "$SPOOL_BOOTSTRAP"
		return
	fi
	"$here/lib/spool.sh" start spool 29092 29093 || return 1
	echo 127.0.0.1:29092 > "$COMPAT_RUN/spool.bootstrap"
	probe 127.0.0.1:29092
}

# probe BOOTSTRAP: a broker that accepts connections but can't create a topic and answer
# metadata within 15s would make every case wait for its full timeout; fail them all at once.
probe() {
	if ! timeout 15 "$COMPAT_GOBIN" -scenario create-topic -topic compat-probe -bootstrap "$1" > "$COMPAT_RUN/probe.log" 2>&1; then
		echo "broker at $1 is not usable: creating a topic failed or hung (log: $COMPAT_RUN/probe.log)"
		tail -n 3 "$COMPAT_RUN/probe.log"
		return 1
	fi
}

start_kafka() {
	if [ -n "${KAFKA_BOOTSTRAP:-}" ]; then
		echo "$KAFKA_BOOTSTRAP" > "$COMPAT_RUN/kafka.bootstrap"
		return 0
	fi
	"$here/lib/kafka.sh" start ref 19092 19093 || return 1
	echo 127.0.0.1:19092 > "$COMPAT_RUN/kafka.bootstrap"
}

# start_cluster KIND NAME BROKER_PORT CONTROLLER_PORT: three combined-mode nodes, then wait
# until every node lists all three brokers and a replication-factor-3 topic can be created
# with its full ISR.
start_cluster() {
	"$here/lib/cluster.sh" "$1" start "$2" "$3" "$4" || return 1
	local bs
	bs=$(cat "$COMPAT_RUN/$2.bootstrap")
	if ! timeout 90 "$COMPAT_GOBIN" -scenario cluster-ready -brokers 3 -bootstrap "$bs" > "$COMPAT_RUN/$2.ready.log" 2>&1; then
		echo "$2: the cluster did not list 3 live brokers on every node (log: $COMPAT_RUN/$2.ready.log)"
		tail -n 3 "$COMPAT_RUN/$2.ready.log"
		return 1
	fi
	probe "$bs"
}
start_kafka3() { start_cluster kafka kafka3 19192 19195; }
# kafka44: the newest release, from lib-$KAFKA_NEW_VERSION (java/pom-new.xml).
start_kafka44() {
	KAFKA_VERSION=$KAFKA_NEW_VERSION "$here/lib/kafka.sh" start ref44 19392 19393 || return 1
	echo 127.0.0.1:19392 > "$COMPAT_RUN/kafka44.bootstrap"
}
start_spool3() {
	[ -x "${SPOOL_BIN:-$root/bin/spool}" ] || { echo "bin/spool does not exist (make build)"; return 1; }
	start_cluster spool spool3 29192 29195
}

# The SASL_SSL columns: every client logs in as User:compat (SCRAM-SHA-512, ACLs) made by
# secure_setup with Kafka's tools as the super user; a subset of the matrix runs there.
SASL_SCENARIOS=${SASL_SCENARIOS:-produce-consume,group-commit-resume,transactions,eos-loop,admin-topics,idempotent,consume-eof}
SASL_CLIENTS=${SASL_CLIENTS:-java,franz,kcat,confluent-py,sarama,kafkajs}
start_secure() { # start_secure KIND NAME PORT TARGET
	"$here/lib/$1.sh" start "$2" "$3" "$(($3 + 1))" || return 1
	local bs=127.0.0.1:$3 i
	for i in 1 2 3; do # Spool accepts connections before it registered; the tools retry within their timeout
		secure_setup "$bs" > "$COMPAT_RUN/$2.setup.log" 2>&1 && break
		[ $i = 3 ] && { echo "$2: creating the SCRAM user and ACLs failed (log: $COMPAT_RUN/$2.setup.log)"; tail -n 5 "$COMPAT_RUN/$2.setup.log"; return 1; }
	done
	echo "$bs" > "$COMPAT_RUN/$4.bootstrap"
	probe "$bs"
}
start_kafka-sasl() { start_secure kafka refsasl 19492 kafka-sasl; }
start_spool-sasl() {
	[ -x "${SPOOL_BIN:-$root/bin/spool}" ] || { echo "bin/spool does not exist (make build)"; return 1; }
	start_secure spool spoolsasl 29492 spool-sasl
}
# start_secure_cluster KIND NAME BROKER_PORT CONTROLLER_PORT TARGET: three nodes as
# start_cluster, the SCRAM user and ACLs made through the first node, then the cluster-ready
# wait as that user (it needs the user to exist).
start_secure_cluster() {
	"$here/lib/cluster.sh" "$1" start "$2" "$3" "$4" || return 1
	local bs i
	bs=$(cat "$COMPAT_RUN/$2.bootstrap")
	for i in 1 2 3; do
		secure_setup "$bs" > "$COMPAT_RUN/$2.setup.log" 2>&1 && break
		[ $i = 3 ] && { echo "$2: creating the SCRAM user and ACLs failed (log: $COMPAT_RUN/$2.setup.log)"; tail -n 5 "$COMPAT_RUN/$2.setup.log"; return 1; }
	done
	if ! timeout 90 "$COMPAT_GOBIN" -scenario cluster-ready -brokers 3 -bootstrap "$bs" > "$COMPAT_RUN/$2.ready.log" 2>&1; then
		echo "$2: the cluster did not list 3 live brokers on every node (log: $COMPAT_RUN/$2.ready.log)"
		tail -n 3 "$COMPAT_RUN/$2.ready.log"
		return 1
	fi
	cp "$COMPAT_RUN/$2.bootstrap" "$COMPAT_RUN/$5.bootstrap"
	probe "$bs"
}
start_kafka3-sasl() { start_secure_cluster kafka kafka3sasl 19592 19595 kafka3-sasl; }
start_spool3-sasl() {
	[ -x "${SPOOL_BIN:-$root/bin/spool}" ] || { echo "bin/spool does not exist (make build)"; return 1; }
	start_secure_cluster spool spool3sasl 29592 29595 spool3-sasl
}

# Data scenarios expect their topic (1 partition) to exist already; the rest make their own.
precreate() { case $1 in produce-record-errors) return 1 ;; produce-* | large-record | acks | idempotent | transactions | group-commit-resume | group-protocol | consume-eof*) return 0 ;; esac; return 1; }

run_target() {
	local target=$1 bs err="" line sc tmo clients client topic log t0 secs rc status cluster="" began
	began=$(date +%s)
	mkdir -p "$out/$target"
	echo "=== $target"
	# Scenarios create their topics with COMPAT_RF replicas; cluster-* scenarios operate the
	# nodes through COMPAT_CLUSTER ("KIND NAME" for lib/cluster.sh).
	case $target in
	kafka3 | spool3) cluster="${target%3} $target" ;;
	kafka3-sasl | spool3-sasl) cluster="${target%3-sasl} ${target/-/}" ;;
	esac
	export COMPAT_CLUSTER=$cluster COMPAT_RF=$([ -n "$cluster" ] && echo 3 || echo 1)
	local only=$ONLY clients_filter=$CLIENTS
	secure_off
	case $target in
	*-sasl)
		secure_pki "$COMPAT_RUN/pki-$target" || err="certificates: see $COMPAT_RUN/pki-$target/pki.log"
		only=${ONLY:-$SASL_SCENARIOS} clients_filter=${CLIENTS:-$SASL_CLIENTS}
		;;
	esac
	if [ -n "$err" ]; then
		echo "$err" > "$out/$target/startup-failure.log"
	elif ! err=$("start_$target" 2>&1); then
		echo "$err"
		echo "$err" > "$out/$target/startup-failure.log"
	else
		[ -n "$err" ] && echo "$err"
		err=""
		bs=$(cat "$COMPAT_RUN/$target.bootstrap")
		export COMPAT_TARGET=$target
	fi
	while read -r sc tmo clients; do
		match "$sc" "$only" || continue
		[[ $target == *-sasl ]] && ! match "$sc" "$SASL_SCENARIOS" && continue
		[[ $sc == cluster-* && -z $cluster ]] && continue
		for client in $clients; do
			match "$client" "$clients_filter" || continue
			[[ $target == *-sasl ]] && ! match "$client" "$SASL_CLIENTS" && continue
			log=$out/$target/$sc.$client.log
			if [ -n "$err" ]; then
				printf '%s\t%s\t%s\tFAIL\t0\t%s\n' "$target" "$sc" "$client" "$out/$target/startup-failure.log" >> "$results"
				printf '  %-22s %-13s FAIL (broker not usable: %s)\n' "$sc" "$client" "$out/$target/startup-failure.log"
				continue
			fi
			topic=c$runid-$sc-$client
			topic=${topic//./-}
			t0=$(date +%s.%N)
			{
				if precreate "$sc"; then "$COMPAT_GOBIN" -scenario create-topic -topic "$topic" -bootstrap "$bs"; fi &&
					timeout -k 5 "$tmo" "$here/lib/case.sh" "$client" "$sc" "$bs" "$topic"
			} > "$log" 2>&1 < /dev/null
			rc=$?
			secs=$(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)")
			status=PASS
			if [ $rc -ne 0 ]; then
				status=FAIL
				[ $rc -eq 124 ] && status=TIMEOUT
			fi
			printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$sc" "$client" "$status" "$secs" "$log" >> "$results"
			printf '  %-22s %-13s %-7s %6ss%s\n' "$sc" "$client" "$status" "$secs" "$([ $status != PASS ] && echo "  log: $log")"
		done
	done < <(grep -v '^\s*#' "$here/cases" | grep -v '^\s*$')
	cleanup >/dev/null 2>&1
	secs=$(($(date +%s) - began))
	printf '%s\t%s\n' "$target" "$secs" >> "$out/durations.tsv"
	printf '=== %s took %dm%02ds\n' "$target" $((secs / 60)) $((secs % 60))
}

IFS=, read -ra targets <<< "$TARGETS"
for t in "${targets[@]}"; do run_target "$t"; done
python3 "$here/lib/report.py" "$results" "$here/known-gaps" "$out/compatibility.md" "$TARGETS" "$out/durations.tsv"
rc=$?
if [ -z "$ONLY$CLIENTS" ] && [ "$(tr , '\n' <<< "$TARGETS" | sort | paste -sd,)" = kafka,kafka3,spool,spool3 ]; then
	cp "$out/compatibility.md" "$root/docs/compatibility.md"
	echo "wrote docs/compatibility.md"
fi
exit $rc
