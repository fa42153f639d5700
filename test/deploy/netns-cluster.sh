#!/usr/bin/env bash
# docs/deploy.md's bare-metal walkthrough, on this machine: three hosts are three network
# namespaces (plus one for the clients) on a bridge, each resolving broker1.internal,
# broker2.internal and broker3.internal through its own /etc/netns/NS/hosts, which
# `ip netns exec` mounts over /etc/hosts. Every namespace, link and file the test makes it
# removes on exit.
#  1. install: deploy/systemd/install.sh per node with the docs' flags (--root: there is
#     no systemd as PID 1 here to install into), from one `spool format random-uuid`
#  2. start: each node runs the installed unit's ExecStart= command line with its
#     EnvironmentFile=, as systemd would (the test reads both from the unit), with a
#     NOTIFY_SOCKET: a node counts as started when it sends READY=1 (Type=notify)
#  3. check: the docs' `spool cluster health`, `spool cluster info` and `spool topic create`
#     from the clients' namespace; records produced there, read back from each node
#  4. rolling restart, the docs' loop: one node at a time, each only once the cluster is
#     healthy, SIGTERM (STOPPING=1, exit 0) then start (READY=1), while Kafka's
#     VerifiableProducer writes with acks=all; every acknowledged record read back
#  5. a node killed (SIGKILL): `spool cluster health` exits non-zero and names it; started
#     again (as Restart=on-failure would), health passes
#  6. upgrade, the docs' way: install.sh again with the same flags replaces the binary and
#     keeps server.properties; the node restarts on the new binary
# The docs' commands the test runs are checked to be in docs/deploy.md, so the two agree.
# Not emulated here (they need systemd as PID 1): User=spool, LimitNOFILE=100000 (this
# machine's hard limit is lower) and the sandboxing options; `make deploy-check` runs
# systemd-analyze verify on the same unit.
# Needs: root, ip (iproute2), python3, bin/spool, kcat, Kafka's tools (make test-deps).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/lib.sh"
cd "$root"
spool=$root/bin/spool
vprod=$root/test/compat/bin/kafka-verifiable-producer.sh
[ "$(id -u)" = 0 ] || die "run as root (network namespaces)"
for t in ip python3 kcat "$spool" "$vprod"; do command -v "$t" > /dev/null || die "$t missing (make build, make test-deps)"; done

net=10.231.7 # the namespaces' /24 on the bridge
br=splbr0
nss=(spool-n1 spool-n2 spool-n3 spool-cl)
tmp=$(mktemp -d /tmp/spool-netns.XXXXXX)
declare -A pid=() lpid=()
prod_pid=
cleanup() {
	local rc=$?
	if [ $rc != 0 ]; then
		for n in 1 2 3; do
			[ -f "$tmp/node$n.log" ] && { echo "--- node $n log (last 15 lines), notify: $(tr '\n' ' ' < "$tmp/notify$n.out" 2> /dev/null)"; tail -n 15 "$tmp/node$n.log" | cut -c1-400; } >&2
		done
	fi
	[ -n "$prod_pid" ] && pkill -KILL -P "$prod_pid" 2> /dev/null || true
	for p in "${pid[@]}" "${lpid[@]}"; do kill -KILL "$p" 2> /dev/null || true; done
	{ wait; } 2> /dev/null || true
	for ns in "${nss[@]}"; do
		ip netns del "$ns" 2> /dev/null || true
		rm -rf "/etc/netns/$ns"
	done
	ip link del $br 2> /dev/null || true
	rmdir /etc/netns 2> /dev/null || true
	if [ -n "${KEEP_TMP:-}" ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
cleanup_stale() {
	for ns in "${nss[@]}"; do ip netns del "$ns" 2> /dev/null || true; done
	ip link del $br 2> /dev/null || true
}
cleanup_stale
if ip route | grep -q "^$net\."; then die "$net.0/24 is routed on this machine already: pick another net= in $0"; fi

stage "netns: three hosts and a client host on a bridge"
ip link add $br type bridge
ip link set $br up
hosts=$(printf '127.0.0.1 localhost\n%s.11 broker1.internal\n%s.12 broker2.internal\n%s.13 broker3.internal\n%s.100 client.internal\n' \
	$net $net $net $net)
i=0
for ns in "${nss[@]}"; do
	i=$((i + 1))
	addr=$net.1$i
	[ "$ns" = spool-cl ] && addr=$net.100
	ip netns add "$ns"
	ip link add "splv$i" type veth peer name eth0 netns "$ns"
	ip link set "splv$i" master $br up
	ip -n "$ns" addr add "$addr/24" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" link set lo up
	mkdir -p "/etc/netns/$ns"
	printf '%s\n' "$hosts" > "/etc/netns/$ns/hosts"
done
# on NS CMD...: CMD on that host.
on() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
client() { on spool-cl "$@"; }
# reach NAME: NAME resolves on the client host and its host answers (port 9 refuses).
reach() {
	client python3 -c '
import socket, sys
try:
    socket.create_connection((sys.argv[1], 9), 1)
except ConnectionRefusedError:
    sys.exit(0)
sys.exit(1)' "$1"
}
for n in 1 2 3; do wait_for "client.internal reaches broker$n.internal (connection refused: the host answers)" 10 reach "broker$n.internal"; done

stage "netns: install (deploy/systemd/install.sh, the docs' flags)"
cluster_id=$("$spool" format random-uuid)
VOTERS=1@broker1.internal:9093,2@broker2.internal:9093,3@broker3.internal:9093
racks=(- us-east-1a us-east-1b us-east-1c)
install_node() { # install_node N [BINARY]
	local n=$1
	deploy/systemd/install.sh --root "$tmp/host$n" --node-id "$n" --advertised-host "broker$n.internal" \
		--voters $VOTERS --cluster-id "$cluster_id" \
		--log-dirs "$tmp/host$n/data/kafka-1,$tmp/host$n/data/kafka-2" --rack "${racks[$n]}" \
		--binary "${2:-$spool}"
}
for n in 1 2 3; do
	install_node $n > "$tmp/install$n.log" 2>&1 || die "install.sh node $n: $(cat "$tmp/install$n.log")"
	expect_eq "node $n: rendered from the template" "$(grep -E '^(node.id|advertised.listeners|min.insync.replicas)=' "$tmp/host$n/etc/spool/server.properties" | tr '\n' ' ')" \
		"node.id=$n advertised.listeners=PLAINTEXT://broker$n.internal:9092 min.insync.replicas=2 "
done
unit=$tmp/host1/etc/systemd/system/spool.service
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
env_file=$(sed -n 's/^EnvironmentFile=-\{0,1\}//p' "$unit")
expect_eq "the unit's ExecStart" "$exec_start" "/usr/local/bin/spool serve /etc/spool/server.properties"
expect_eq "the unit's EnvironmentFile" "$env_file" "/etc/spool/spool.env"

# launch_node N: what `systemctl start spool` does on host N: the environment file, the
# ExecStart command line (paths under the node's install root), a notify socket.
# ready_node N waits for READY=1, as `systemctl start` does for Type=notify.
launch_node() {
	local n=$1
	local sock=$tmp/notify$n.sock
	rm -f "$sock" "$tmp/notify$n.out"
	python3 - "$sock" > "$tmp/notify$n.out" << 'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(300)
while True:
    msg = s.recv(4096).decode()
    print(msg.replace("\n", " "), flush=True)
    if "STOPPING=1" in msg:
        break
PY
	lpid[$n]=$!
	wait_for "node $n: notify socket bound" 10 test -S "$sock"
	local cmd
	read -ra cmd <<< "${exec_start//\/usr\/local\/bin\//$tmp/host$n/usr/local/bin/}"
	cmd=("${cmd[@]//\/etc\/spool\//$tmp/host$n/etc/spool/}")
	(
		set -a
		source "$tmp/host$n$env_file"
		export NOTIFY_SOCKET=$sock
		exec ip netns exec "spool-n$n" "${cmd[@]}"
	) >> "$tmp/node$n.log" 2>&1 &
	pid[$n]=$!
}
ready_node() {
	local n=$1
	wait_for "node $n: READY=1 (systemctl start returns)" 120 ready_or_dead "$n"
}
ready_or_dead() {
	kill -0 "${pid[$1]}" 2> /dev/null || die "node $1 exited before READY=1: $(tail -n 20 "$tmp/node$1.log")"
	grep -q 'READY=1' "$tmp/notify$1.out"
}
start_node() { launch_node "$1" && ready_node "$1"; }
# stop_node N: `systemctl stop`: SIGTERM, STOPPING=1, exit 0 within TimeoutStopSec=.
stop_node() {
	local n=$1 rc=0
	kill -TERM "${pid[$n]}"
	wait_for "node $n: STOPPING=1 on SIGTERM" 30 grep -q 'STOPPING=1' "$tmp/notify$n.out"
	wait "${pid[$n]}" || rc=$?
	unset "pid[$n]"
	expect_eq "node $n: clean shutdown exits 0" "$rc" "0"
}
BS=broker1.internal:9092,broker2.internal:9092,broker3.internal:9092
health_ok() { client "$spool" cluster health -b "$BS" --timeout 10s > "$tmp/health" 2>&1; }
health_bad() { ! health_ok; }

stage "netns: start the three nodes (Type=notify: start returns when ready)"
# systemctl start on all three at about the same time (docs: a node waits for the quorum's majority).
for n in 1 2 3; do launch_node $n; done
for n in 1 2 3; do ready_node $n; done
for n in 1 2 3; do
	expect_eq "node $n: cluster id is the one install.sh formatted" \
		"$(grep '^cluster.id=' "$tmp/host$n/data/kafka-2/meta.properties")" "cluster.id=$cluster_id"
done

stage "netns: check and use the cluster from the client host (docs step 4)"
wait_for "spool cluster health -b broker1.internal:9092 passes" 60 client "$spool" cluster health -b broker1.internal:9092
out=$(client "$spool" cluster info -b broker1.internal:9092 -o json)
expect_eq "spool cluster info: three brokers with their advertised names and racks" "$(python3 -c '
import json, sys
print(" ".join("%d:%s:%d:%s" % (b["id"], b["host"], b["port"], b.get("rack", "")) for b in json.load(sys.stdin)["brokers"]))' <<< "$out")" \
	"1:broker1.internal:9092:us-east-1a 2:broker2.internal:9092:us-east-1b 3:broker3.internal:9092:us-east-1c"
out=$(client "$spool" topic create orders -p 6 -r 3 -c min.insync.replicas=2 -b broker1.internal:9092)
expect_contains "spool topic create orders -p 6 -r 3 -c min.insync.replicas=2" "$out" "orders"
isr_full() {
	client "$spool" topic describe orders -b "$BS" -o json | python3 -c '
import json, sys
parts = json.load(sys.stdin)[0]["partitions"]
sys.exit(0 if len(parts) == 6 and all(sorted(p["isr"]) == [1, 2, 3] for p in parts) else 1)'
}
wait_for "every partition of orders has ISR 1,2,3" 60 isr_full
seq 1 300 | sed 's/^/first-/' | client kcat -b broker2.internal:9092 -P -t orders -X acks=all 2> "$tmp/kcat.err" || die "kcat produce: $(cat "$tmp/kcat.err")"
for n in 1 2 3; do
	got=$(client kcat -b "broker$n.internal:9092" -C -t orders -e -q -f '%s\n' | sort | md5sum)
	expect_eq "kcat bootstrapped from broker$n.internal reads the 300 records" "$got" "$(seq 1 300 | sed 's/^/first-/' | sort | md5sum)"
done

stage "netns: rolling restart (docs step 5) under an acks=all producer"
# Kafka's VerifiableProducer runs with retries=0, as in Kafka's system tests: a send that
# meets a leader change fails to the application instead of being retried, and only what
# was acknowledged is checked.
# Started directly (not through the client function) so that $! is the wrapper script whose
# child is the JVM: pkill -P signals the JVM.
ip netns exec spool-cl "$vprod" --bootstrap-server "$BS" --topic orders --max-messages -1 --throughput 300 --acks -1 \
	> "$tmp/prod.out" 2> "$tmp/prod.err" &
prod_pid=$!
acked() { grep -c '"producer_send_success"' "$tmp/prod.out" || true; }
acked_over() { [ "$(acked)" -ge "$1" ]; }
wait_for "the producer gets acknowledgements" 60 acked_over 300
# docs/deploy.md: until spool cluster health -b broker1...,broker2... > /dev/null; do sleep 5; done
gate() { client "$spool" cluster health -b broker1.internal:9092,broker2.internal:9092 > /dev/null 2>&1; }
for n in 1 2 3; do
	wait_for "health gate before restarting node $n" 120 gate
	stop_node $n
	start_node $n
	a=$(acked)
	wait_for "acknowledgements go on after node $n's restart" 60 acked_over $((a + 100))
done
wait_for "healthy after the rolling restart" 120 health_ok
wait_for "every partition of orders has ISR 1,2,3 again" 60 isr_full
pkill -TERM -P "$prod_pid"
wait_for "the producer shuts down cleanly" 60 grep -q '"shutdown_complete"' "$tmp/prod.out"
wait "$prod_pid" || true
prod_pid=
errs=$(send_errors "$tmp/prod.out")
pass "producer: $(acked) acknowledged, $(grep -c '"producer_send_error"' "$tmp/prod.out" || true) send errors${errs:+ ($errs)}"
client kcat -b "$BS" -C -t orders -e -q -f '%p %o %s\n' | grep -v ' first-' > "$tmp/read" || true
out=$(verify_acked "$tmp/prod.out" "$tmp/read") || die "records lost or duplicated in the rolling restart: $out"
pass "every acknowledged record read back at its offset: $out"

stage "netns: a node dies; spool cluster health flips"
kill -KILL "${pid[2]}"
wait "${pid[2]}" 2> /dev/null || true
unset "pid[2]"
t0=$SECONDS
wait_for "spool cluster health exits non-zero once node 2 is killed" 30 health_bad
expect_contains "spool cluster health names the dead node" "$(cat "$tmp/health")" "brokers down: 2"
health_json() { client "$spool" cluster health -b "$BS" -o json 2> /dev/null || true; }
expect_eq "spool cluster health -o json: healthy false, brokers_down [2]" \
	"$(health_json | python3 -c 'import json,sys; h=json.load(sys.stdin); print(h["healthy"], h["brokers_down"])')" "False [2]"
kill -KILL "${lpid[2]}" 2> /dev/null || true
start_node 2 # Restart=on-failure would, RestartSec=5s later
wait_for "healthy again once node 2 is back ($((SECONDS - t0))s after the kill)" 120 health_ok
wait_for "node 2 back in every ISR" 60 isr_full

stage "netns: upgrade (docs step 6): install.sh replaces the binary, keeps the configuration"
echo "# edited by the operator" >> "$tmp/host1/etc/spool/server.properties"
old_inode=$(stat -c %i "$tmp/host1/usr/local/bin/spool")
cp "$spool" "$tmp/spool-new"
out=$(install_node 1 "$tmp/spool-new" 2>&1) || die "install.sh (upgrade): $out"
expect_contains "install.sh keeps the edited server.properties" "$out" "kept "
grep -q '^# edited by the operator' "$tmp/host1/etc/spool/server.properties" || die "install.sh rewrote server.properties"
[ "$(stat -c %i "$tmp/host1/usr/local/bin/spool")" != "$old_inode" ] || die "install.sh wrote the binary in place"
kill -0 "${pid[1]}" || die "node 1 died when its binary was replaced"
pass "the binary is replaced by rename (new inode); the running node keeps its own"
wait_for "health gate before restarting node 1" 60 gate
stop_node 1
start_node 1
expect_eq "node 1 runs the new binary" "$(readlink "/proc/${pid[1]}/exe")" "$tmp/host1/usr/local/bin/spool"
wait_for "healthy after the upgrade" 120 health_ok

stage "netns: docs/deploy.md shows the commands this test ran"
for line in \
	'spool format random-uuid' \
	'VOTERS=1@broker1.internal:9093,2@broker2.internal:9093,3@broker3.internal:9093' \
	'sudo deploy/systemd/install.sh --node-id 1 --advertised-host broker1.internal \' \
	'  --log-dirs /data/kafka-1,/data/kafka-2 --rack us-east-1a --binary bin/spool' \
	'spool cluster health -b broker1.internal:9092' \
	'spool cluster info -b broker1.internal:9092' \
	'spool topic create orders -p 6 -r 3 -c min.insync.replicas=2 -b broker1.internal:9092' \
	'  until spool cluster health -b broker1.internal:9092,broker2.internal:9092 > /dev/null; do sleep 5; done' \
	'sudo deploy/systemd/install.sh ...same flags... --binary spool-new   # server.properties kept'; do
	grep -qxF -- "$line" docs/deploy.md || grep -qF -- "$line" docs/deploy.md || die "docs/deploy.md lacks: $line"
done
pass "docs/deploy.md's install, start/check, rolling restart and upgrade commands are the ones run here"

stage "netns: stop (systemctl stop on every host at once)"
for n in 1 2 3; do kill -TERM "${pid[$n]}"; done
for n in 1 2 3; do
	wait_for "node $n: STOPPING=1 on SIGTERM" 30 grep -q 'STOPPING=1' "$tmp/notify$n.out"
	rc=0
	wait "${pid[$n]}" || rc=$?
	unset "pid[$n]"
	expect_eq "node $n: exits 0" "$rc" "0"
done
printf '\nnetns-cluster: %s passed, 0 failed\n' "$PASSED"
