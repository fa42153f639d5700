#!/usr/bin/env bash
# make bench-cluster / make bench-cluster-smoke: three-node Spool vs three-node Apache Kafka
# 4.3.1 on this machine (acks=all, replication factor 3, min.insync.replicas=2).
#
# Builds bin/spool and spool-bench, then runs `spool-bench cluster`, which rewrites the
# cluster section of docs/benchmarks.md and writes test/bench/out/cluster-results.json.
# The nodes listen on 127.0.0.1-3 (ports 25192/25193, below the kernel's ephemeral range). Broker processes are pinned to
# CPU 0 and the load generator to the others, as in test/bench/run.sh.
#
# Knobs (env): PAIRS=3 DURATION=30s WARMUP=5s LATENCY_RATE=5000 FAILOVER_RATE=1000
#   PARTITIONS=6 SET=k=v,k=v (server properties for both systems) LABEL=full
#   NOTE='text for the report (the machine, what else ran)'
#   SCENARIOS=R1,R2,R3,R4,R6 (R4 rolling restart under load, R6 consumer catch-up from the
#   leaders and with client.rack; KIP-392 fetch from follower) SYSTEMS=spool,kafka
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
spool_rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
make build >/dev/null
git diff --quiet HEAD -- . ':!test/bench' ':!docs' 2>/dev/null || spool_rev="$spool_rev+dirty"
[ -d "$HOME/.cache/spool-compat/java/lib-4.3.1" ] || ./test/compat/install.sh
(cd test/bench && go build -o "$repo/bin/spool-bench" .)

ncpu=$(nproc)
pin=()
broker_cpus="" load_cpus=""
if command -v taskset >/dev/null && [ "$ncpu" -ge 2 ]; then
	broker_cpus=0
	load_cpus="1-$((ncpu - 1))"
	pin=(taskset -c "$load_cpus")
fi
cd test/bench
"${pin[@]}" "$repo/bin/spool-bench" cluster -repo "$repo" -out out -report "$repo/docs/benchmarks.md" \
	-label "${LABEL:-full}" -pairs "${PAIRS:-3}" -duration "${DURATION:-30s}" -warmup "${WARMUP:-5s}" \
	-latency-rate "${LATENCY_RATE:-5000}" -failover-rate "${FAILOVER_RATE:-1000}" -partitions "${PARTITIONS:-6}" \
	-set "${SET:-}" -note "${NOTE:-}" -broker-cpus "$broker_cpus" -load-cpus "$load_cpus" -spool-rev "$spool_rev" \
	-scenarios "${SCENARIOS:-R1,R2,R3,R4,R6}" -systems "${SYSTEMS:-spool,kafka}"
