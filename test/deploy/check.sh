#!/usr/bin/env bash
# make deploy-check: the deployment files that need no container engine.
#  1. systemd: install.sh renders three nodes of a cluster from the template into scratch
#     roots; `systemd-analyze verify` accepts the installed unit with its drop-in; the
#     rendered configs are what the template promises; `spool format` wrote each node's log
#     dirs for the one cluster id; and a node started from a rendered config (as the unit's
#     ExecStart runs it, with the unit's environment file) notifies READY=1 and serves.
#  2. Kubernetes: the manifests and the Helm chart's output decode strictly into the
#     Kubernetes API types (deploy/kubernetes/validate, its own Go module), and helm lint
#     and helm template pass.
# Fails, never skips, when a tool is missing (systemd-analyze comes with Debian's systemd
# package, installed here if absent; helm is built from the Go module proxy).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/lib.sh"
cd "$root"
spool=$root/bin/spool
[ -x "$spool" ] || die "bin/spool missing: make build"
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done; rm -rf "$tmp"' EXIT

stage "systemd: install three nodes from the template"
if ! command -v systemd-analyze > /dev/null; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd > /dev/null || die "apt-get install systemd (for systemd-analyze)"
fi
command -v systemd-analyze > /dev/null || die "systemd-analyze missing after installing systemd"
cluster_id=$("$spool" format random-uuid)
voters=1@broker1.internal:9093,2@broker2.internal:9093,3@broker3.internal:9093
for n in 1 2 3; do
	deploy/systemd/install.sh --root "$tmp/node$n" --node-id $n --advertised-host broker$n.internal --voters $voters \
		--cluster-id "$cluster_id" --log-dirs "$tmp/data$n/a,$tmp/data$n/b" --rack zone-$n --binary "$spool" > "$tmp/install$n.log" ||
		die "install.sh node $n: $(cat "$tmp/install$n.log")"
	props=$tmp/node$n/etc/spool/server.properties
	expect_eq "node $n: node.id" "$(grep '^node.id=' "$props")" "node.id=$n"
	expect_eq "node $n: advertised.listeners" "$(grep '^advertised.listeners=' "$props")" "advertised.listeners=PLAINTEXT://broker$n.internal:9092"
	expect_eq "node $n: voters" "$(grep '^controller.quorum.voters=' "$props")" "controller.quorum.voters=$voters"
	expect_eq "node $n: rack" "$(grep '^broker.rack=' "$props")" "broker.rack=zone-$n"
	grep -q '@[A-Z_]*@' "$props" && die "node $n: unrendered placeholder in $props"
	for d in a b; do
		expect_eq "node $n: log dir $d formatted for the cluster" "$(grep -E '^(cluster|node)\.id=' "$tmp/data$n/$d/meta.properties" | sort | tr '\n' ' ')" "cluster.id=$cluster_id node.id=$n "
	done
	expect_eq "node $n: drop-in opens the log dirs" "$(grep ReadWritePaths "$tmp/node$n/etc/systemd/system/spool.service.d/10-log-dirs.conf" | tr '\n' ' ')" "ReadWritePaths=$tmp/data$n/a ReadWritePaths=$tmp/data$n/b "
done
out=$(deploy/systemd/install.sh --root "$tmp/node1" --node-id 1 --advertised-host x --voters $voters --cluster-id "$cluster_id" \
	--log-dirs "$tmp/data1/a" --binary "$spool")
expect_contains "a second install keeps the edited server.properties" "$out" "kept "
if deploy/systemd/install.sh --root "$tmp/bad" --node-id 4 --advertised-host x --voters $voters --cluster-id "$cluster_id" \
	--log-dirs "$tmp/bad/d" --binary "$spool" > /dev/null 2>&1; then die "install.sh accepted a node that is not a voter"; fi
pass "install.sh refuses a node id missing from the voters"
if deploy/systemd/install.sh --root "$tmp/node1" --force --node-id 1 --advertised-host x --voters $voters \
	--cluster-id "$("$spool" format random-uuid)" --log-dirs "$tmp/data1/a" --binary "$spool" > /dev/null 2>&1; then
	die "install.sh reformatted a log dir of another cluster"
fi
pass "install.sh refuses log dirs formatted for another cluster"

stage "systemd: systemd-analyze verify"
# --root gives verify the installed files; it also needs the system's own units there
# (sysinit.target, network-online.target, ...), copied from this machine's systemd.
sysunits=$(dirname "$(readlink -f /lib/systemd/system/sysinit.target)")
for n in 1 2 3; do
	mkdir -p "$tmp/node$n/usr/lib/systemd"
	cp -r "$sysunits" "$tmp/node$n/usr/lib/systemd/system"
	out=$(systemd-analyze verify --man=no --root="$tmp/node$n" /etc/systemd/system/spool.service 2>&1) ||
		die "systemd-analyze verify node $n: $out"
	# verify exits 0 on some warnings; the unit must produce none about itself.
	if grep -i 'spool.service' <<< "$out"; then die "systemd-analyze verify warns about the unit: $out"; fi
	pass "node $n: systemd-analyze verify (unit + drop-in) passes, no warnings"
done
bad=$tmp/bad.service
sed 's/^Type=notify/Type=notifyy/' deploy/systemd/spool.service > "$bad"
if out=$(systemd-analyze verify --man=no --root="$tmp/node1" "$bad" 2>&1) && ! grep -qi 'notifyy' <<< "$out"; then
	die "systemd-analyze verify does not catch a broken unit, so its pass means nothing"
fi
pass "systemd-analyze verify catches a broken unit (Type=notifyy)"
for want in Type=notify LimitNOFILE= Restart=on-failure ProtectSystem=strict NoNewPrivileges=yes; do
	grep -q "^$want" deploy/systemd/spool.service || die "spool.service lacks $want"
done
pass "unit: Type=notify, LimitNOFILE, Restart=on-failure, ProtectSystem=strict, NoNewPrivileges"

stage "systemd: a node from a rendered config starts as ExecStart runs it"
port=$( (python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'))
cport=$( (python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'))
single=$tmp/single
deploy/systemd/install.sh --root "$single" --node-id 1 --advertised-host 127.0.0.1 --voters "1@127.0.0.1:$cport" \
	--cluster-id "$cluster_id" --log-dirs "$tmp/single-data" --binary "$spool" > /dev/null
sed -i -e "s|^listeners=.*|listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport|" \
	-e "s|^advertised.listeners=.*|advertised.listeners=PLAINTEXT://127.0.0.1:$port|" \
	-e 's/replication.factor=3/replication.factor=1/; s/min.insync.replicas=2/min.insync.replicas=1/; s/min.isr=2/min.isr=1/' \
	"$single/etc/spool/server.properties"
python3 - "$tmp/notify.sock" > "$tmp/notify.out" << 'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
print(s.recv(4096).decode().replace("\n", " "), flush=True)
PY
pids+=($!)
wait_for "notify socket bound" 10 test -S "$tmp/notify.sock"
# The unit's environment file, then the unit's ExecStart with its arguments.
(
	set -a
	source "$single/etc/spool/spool.env"
	SPOOL_HTTP_ADDR=127.0.0.1:0
	NOTIFY_SOCKET=$tmp/notify.sock
	exec "$single/usr/local/bin/spool" serve "$single/etc/spool/server.properties"
) > "$tmp/serve.log" 2>&1 &
pids+=($!)
wait_for "READY=1 on the notify socket" 60 grep -q 'READY=1' "$tmp/notify.out"
expect_eq "cluster id is the one install.sh formatted" "$("$spool" cluster info -o json -b 127.0.0.1:$port | python3 -c 'import json,sys; print(json.load(sys.stdin)["cluster_id"])')" "$cluster_id"
"$spool" healthcheck --config "$single/etc/spool/server.properties" > /dev/null || die "spool healthcheck against the rendered config"
pass "spool healthcheck reads the rendered config and finds the node serving"

stage "kubernetes: manifests and Helm chart"
"$here/kubernetes.sh"
printf '\ndeploy-check: %s passed, 0 failed\n' "$PASSED"
