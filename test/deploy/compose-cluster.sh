#!/usr/bin/env bash
# The 3-node compose file (deploy/compose/cluster.yml: three combined nodes, RF 3, min ISR 2)
# under podman-compose, with a node killed under acks=all load:
#  1. up; every container healthy; `spool cluster health` from the host passes
#  2. a topic with 6 partitions, RF 3, min.insync.replicas=2, made with kafka-topics.sh in
#     the tools image
#  3. Kafka's own VerifiableProducer (the system tests' tool: one JSON line per
#     acknowledged record, with its partition and offset) writes with acks=all from the
#     host through the advertised EXTERNAL listeners, and keeps writing while
#  4. the active controller's container is killed (SIGKILL): `spool cluster health` exits
#     non-zero and names the node; acknowledgements go on with two in-sync replicas; the
#     container is started again and rejoins every ISR (kafka-topics.sh
#     --describe --under-replicated-partitions prints nothing; health passes again)
#  5. the producer stops; every acknowledged record is read back at its acknowledged
#     partition and offset, exactly once (kcat from the host); then a preferred leader
#     election (kafka-leader-election.sh) gives the restarted node its partitions back and
#     a second read through it returns the same records
#  6. down -v.
# Needs: scripts/install-podman.sh, `make image`, kcat, bin/spool, Kafka's tools from
# `make test-deps` (test/compat/bin). Ports 21092-23092 must be free.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/lib.sh"
spool=$root/bin/spool
vprod=$root/test/compat/bin/kafka-verifiable-producer.sh
project=spool3
file=$root/deploy/compose/cluster.yml
export SPOOL_IMAGE=${SPOOL_IMAGE:-spool:tools}
B=localhost:21092,localhost:22092,localhost:23092
topic=acked
logdir=$(mktemp -d)
prod_pid=
pc() { podman-compose -p $project -f "$file" "$@" > "$logdir/compose.log" 2>&1 || { tail -n 30 "$logdir/compose.log" >&2; die "podman-compose $*"; }; }
down_all() {
	[ -n "$prod_pid" ] && pkill -KILL -P "$prod_pid" 2> /dev/null || true
	podman-compose -p $project -f "$file" down -v > /dev/null 2>&1 || true
	podman network rm -f ${project}_default > /dev/null 2>&1 || true
}
trap 'down_all; rm -rf "$logdir"' EXIT

for t in podman-compose kcat "$spool" "$vprod" python3; do command -v "$t" > /dev/null || die "$t missing (scripts/install-podman.sh, make test-deps, make build)"; done
podman image exists "$SPOOL_IMAGE" || die "image $SPOOL_IMAGE missing: run make image"
down_all
for p in 21092 22092 23092; do
	if (exec 3<> /dev/tcp/127.0.0.1/$p) 2> /dev/null; then die "port $p is in use on this machine; cluster.yml publishes 21092-23092"; fi
done

cname() { echo "${project}_kafka$1_1"; }
healthy() { podman healthcheck run "$(cname "$1")" && [ "$(podman inspect --format '{{.State.Health.Status}}' "$(cname "$1")")" = healthy ]; }
all_healthy() { healthy 1 && healthy 2 && healthy 3; }
# kexec N CMD...: a command in node N's container (Kafka's tools are at /opt/kafka/bin).
kexec() { local n=$1; shift; podman exec -i "$(cname "$n")" "$@"; }
health_ok() { "$spool" cluster health -b "$B" --timeout 10s > "$logdir/health" 2>&1; }
health_bad() { ! health_ok; }
acked() { grep -c '"producer_send_success"' "$logdir/prod.out" || true; }
acked_over() { [ "$(acked)" -ge "$1" ]; }
# no_under_replicated N: kafka-topics.sh in node N's container lists no under-replicated partition.
no_under_replicated() {
	local out
	out=$(kexec "$1" /opt/kafka/bin/kafka-topics.sh --bootstrap-server "kafka$1:9092" --describe --under-replicated-partitions 2> /dev/null) &&
		[ -z "$out" ]
}
# isr_has N: node N is in the ISR of every partition of the topic.
isr_has() {
	"$spool" topic describe $topic -b "$B" -o json | python3 -c '
import json, sys
n = int(sys.argv[1])
parts = json.load(sys.stdin)[0]["partitions"]
sys.exit(0 if parts and all(n in p["isr"] for p in parts) else 1)' "$1"
}
preferred_leaders() {
	"$spool" topic describe $topic -b "$B" -o json | python3 -c '
import json, sys
sys.exit(0 if all(p["leader"] == p["replicas"][0] for p in json.load(sys.stdin)[0]["partitions"]) else 1)'
}

stage "3-node compose: up ($SPOOL_IMAGE)"
pc up -d
wait_for "all three containers healthy (HEALTHCHECK: spool healthcheck)" 120 all_healthy
wait_for "spool cluster health passes from the host" 60 health_ok
expect_eq "three brokers registered" "$("$spool" cluster info -b "$B" -o json | python3 -c 'import json,sys; print(sorted(b["id"] for b in json.load(sys.stdin)["brokers"]))')" "[1, 2, 3]"

stage "3-node compose: a topic with RF 3 and min ISR 2 (kafka-topics.sh in the tools image)"
out=$(kexec 1 /opt/kafka/bin/kafka-topics.sh --bootstrap-server kafka1:9092 --create --topic $topic --partitions 6 \
	--replication-factor 3 --config min.insync.replicas=2 2>&1)
expect_contains "kafka-topics.sh --create" "$out" "Created topic $topic."
wait_for "every replica of $topic in sync" 30 no_under_replicated 2
out=$(kexec 3 /opt/kafka/bin/kafka-topics.sh --bootstrap-server kafka3:9092 --describe --topic $topic 2> /dev/null)
expect_contains "kafka-topics.sh --describe: RF 3" "$out" "ReplicationFactor: 3"
expect_contains "kafka-topics.sh --describe: min ISR 2" "$out" "min.insync.replicas=2"

stage "3-node compose: acks=all producer while the controller's node is killed and restarted"
"$vprod" --bootstrap-server "$B" --topic $topic --max-messages -1 --throughput 400 --acks -1 \
	> "$logdir/prod.out" 2> "$logdir/prod.err" &
prod_pid=$!
wait_for "the producer gets acknowledgements" 60 acked_over 400
victim=$("$spool" cluster info -b "$B" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["controller"])')
[[ $victim =~ ^[123]$ ]] || die "no active controller to kill: $victim"
leads=$("$spool" topic describe $topic -b "$B" -o json | python3 -c '
import json, sys
print(sum(p["leader"] == int(sys.argv[1]) for p in json.load(sys.stdin)[0]["partitions"]))' "$victim")
pass "node $victim is the active controller and leads $leads of 6 partitions"
before=$(acked)
t_kill=$SECONDS
podman kill --signal KILL "$(cname "$victim")" > /dev/null
wait_for "spool cluster health exits non-zero once node $victim is killed" 30 health_bad
expect_contains "spool cluster health names the dead node" "$(cat "$logdir/health")" "brokers down: $victim"
survivor=$((victim % 3 + 1))
wait_for "a new controller among the survivors" 60 bash -c "'$spool' cluster info -b '$B' -o json | python3 -c 'import json,sys; c=json.load(sys.stdin)[\"controller\"]; sys.exit(0 if c not in (-1, $victim) else 1)'"
wait_for "acks=all writes go on with node $victim down (min ISR 2 of 3): 800 more acknowledged" 90 acked_over $((before + 800))
down_for=$((SECONDS - t_kill))
podman start "$(cname "$victim")" > /dev/null
t_start=$SECONDS
wait_for "node $victim's container healthy again" 120 healthy "$victim"
wait_for "node $victim back in the ISR of every partition" 120 isr_has "$victim"
wait_for "kafka-topics.sh --describe --under-replicated-partitions prints nothing (tools image)" 60 no_under_replicated "$survivor"
wait_for "spool cluster health passes again" 60 health_ok
pass "node $victim was down ${down_for}s and rejoined in $((SECONDS - t_start))s"
mid=$(acked)
wait_for "writes go on after the restart (400 more acknowledged)" 60 acked_over $((mid + 400))
# SIGTERM to the JVM (the wrapper script's child): its shutdown hook closes the producer,
# which waits for what is in flight, and prints shutdown_complete.
pkill -TERM -P "$prod_pid"
wait_for "the producer shuts down cleanly on SIGTERM" 60 grep -q '"shutdown_complete"' "$logdir/prod.out"
wait "$prod_pid" || true
prod_pid=
total=$(acked)
errors=$(grep -c '"producer_send_error"' "$logdir/prod.out" || true)
kinds=$(send_errors "$logdir/prod.out")
pass "producer: $total records acknowledged, $errors send errors reported to the client${kinds:+ ($kinds)}"

stage "3-node compose: every acknowledged record read back"
verify() { verify_acked "$logdir/prod.out" "$1"; }
kcat -b "$B" -C -t $topic -e -q -f '%p %o %s\n' > "$logdir/read1"
out=$(verify "$logdir/read1") || die "records lost or duplicated: $out"
pass "read 1 (leaders as after the failure): $out"
kexec "$survivor" /opt/kafka/bin/kafka-leader-election.sh --bootstrap-server "kafka$survivor:9092" --election-type preferred \
	--all-topic-partitions > "$logdir/election" 2>&1 || die "kafka-leader-election.sh: $(tail -n 5 "$logdir/election")"
wait_for "preferred leaders back (node $victim leads its partitions again)" 60 preferred_leaders
kcat -b "$B" -C -t $topic -e -q -f '%p %o %s\n' > "$logdir/read2"
out=$(verify "$logdir/read2") || die "after the preferred election, records lost or duplicated: $out"
expect_eq "read 2 (through the restarted node's replicas) returns the same records" "$(sort "$logdir/read2" | md5sum)" "$(sort "$logdir/read1" | md5sum)"

stage "3-node compose: down"
pc down -v
for n in 1 2 3; do
	if podman volume exists "${project}_kafka$n-data"; then die "down -v left ${project}_kafka$n-data"; fi
done
pass "down -v removes the containers and the three data volumes"
printf '\ncompose-cluster: %s passed, 0 failed\n' "$PASSED"
