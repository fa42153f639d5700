#!/usr/bin/env bash
# make bench / make bench-smoke: Spool vs Apache Kafka 4.3.1 on this machine.
#
# Builds bin/spool and test/bench (spool-bench), then runs `spool-bench run`, which
# starts each broker on fresh storage, alternates them A/B (PAIRS pairs), and writes
# test/bench/out/results.json, docs/benchmarks.md and docs/bench/*.png.
# Brokers are pinned to CPU 0 and the load generator to the other CPUs with taskset.
#
# Knobs (env): PAIRS=3 DURATION=60s WARMUP=5s IDLE=10s SCENARIOS=M1,P1,C1,P2,X1,X2,L1,PERF,S1
#   L1_RATE=50000 S1_RATE=5000 S1_PARTITIONS=1,10,100,1000,5000 PERF_RECORDS=500000
#   COMPRESSION=none LINGER=5ms LABEL=full
# Reference Kafka comes from test/compat (run test/compat/install.sh once).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
# Other work in progress may not compile; then benchmark the last commit instead.
spool_rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if ! make build >/dev/null 2>"${TMPDIR:-/tmp}/spool-bench-build.log"; then
	echo "bench: the working tree does not build (see ${TMPDIR:-/tmp}/spool-bench-build.log); building HEAD $spool_rev" >&2
	src=$(mktemp -d)
	trap 'rm -rf "$src"' EXIT
	git archive HEAD | tar -x -C "$src"
	(cd "$src" && go build -o "$repo/bin/spool" ./cmd/spool)
else
	git diff --quiet HEAD -- . ':!test/bench' ':!docs' 2>/dev/null || spool_rev="$spool_rev+dirty"
fi
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
"${pin[@]}" "$repo/bin/spool-bench" run -repo "$repo" -out out \
	-report "$repo/docs/benchmarks.md" -plots "$repo/docs/bench" \
	-label "${LABEL:-full}" -pairs "${PAIRS:-3}" -scenarios "${SCENARIOS:-M1,P1,C1,P2,X1,X2,L1,PERF,S1}" \
	-duration "${DURATION:-60s}" -warmup "${WARMUP:-5s}" -idle "${IDLE:-10s}" \
	-l1-rate "${L1_RATE:-50000}" -s1-rate "${S1_RATE:-5000}" \
	-s1-partitions "${S1_PARTITIONS:-1,10,100,1000,5000}" -perf-records "${PERF_RECORDS:-500000}" \
	-compression "${COMPRESSION:-none}" -linger "${LINGER:-5ms}" \
	-broker-cpus "$broker_cpus" -load-cpus "$load_cpus" -spool-rev "$spool_rev"
