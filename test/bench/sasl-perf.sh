#!/usr/bin/env bash
# Produce over PLAINTEXT and over SASL_SSL (SCRAM-SHA-512 with ACLs, as the compat matrix's
# kafka-sasl/spool-sasl columns set them up: test/compat/lib/secure.sh), Spool vs Apache Kafka
# 4.3.1, measured with Kafka's own kafka-producer-perf-test: one producer, acks=all,
# linger.ms=5, RECORDS records of SIZE bytes into a 1-partition topic, as fast as it goes.
# Prints MB/s and the producer's p50/p99 latency per (broker, protocol), ROUNDS times each,
# alternating the brokers.
#
#   test/bench/sasl-perf.sh          env: RECORDS=300000 SIZE=1024 ROUNDS=2 PORT=41492
#
# Needs bin/spool (make build) and the compat matrix's Kafka jars (test/compat/install.sh).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo/test/compat/lib/env.sh"
source "$repo/test/compat/lib/secure.sh"
RECORDS=${RECORDS:-300000} SIZE=${SIZE:-1024} ROUNDS=${ROUNDS:-2} PORT=${PORT:-41492}
export COMPAT_RUN=$(mktemp -d "${TMPDIR:-/tmp}/sasl-perf.XXXXXX")
bin=$repo/test/compat/bin
name=
cleanup() { [ -n "$name" ] && "$repo/test/compat/lib/${name%%-*}.sh" stop "$name" > /dev/null 2>&1; rm -rf "$COMPAT_RUN"; }
trap cleanup EXIT
secure_pki "$COMPAT_RUN/pki" > /dev/null
pki_env=$(env | grep -E '^(COMPAT_SECURITY_DIR|COMPAT_CLIENT_CONFIG)=')
printf '%-6s %-10s %5s %10s %10s %8s %8s\n' broker protocol round MB/s rec/s p50_ms p99_ms
for round in $(seq 1 "$ROUNDS"); do
	for proto in PLAINTEXT SASL_SSL; do
		for kind in kafka spool; do
			secure_off
			conf=()
			if [ "$proto" = SASL_SSL ]; then
				export $pki_env
				conf=(--command-config "$COMPAT_CLIENT_CONFIG")
			fi
			name=$kind-perf
			"$repo/test/compat/lib/$kind.sh" start "$name" "$PORT" "$((PORT + 1))" > /dev/null
			bs=127.0.0.1:$PORT
			if [ "$proto" = SASL_SSL ]; then
				for i in 1 2 3; do secure_setup "$bs" > "$COMPAT_RUN/setup.log" 2>&1 && break; done
			fi
			"$bin/kafka-topics" --bootstrap-server "$bs" "${conf[@]}" --create --topic perf --partitions 1 \
				--replication-factor 1 > /dev/null
			props=(bootstrap.servers="$bs" acks=all linger.ms=5)
			pc=()
			[ "$proto" = SASL_SSL ] && pc=(--producer.config "$COMPAT_CLIENT_CONFIG")
			out=$("$bin/kafka-producer-perf-test" --topic perf --num-records "$RECORDS" --record-size "$SIZE" \
				--throughput -1 --producer-props "${props[@]}" "${pc[@]}" 2>&1 | grep '99th' | tail -n 1)
			# "N records sent, R records/sec (M MB/sec), A ms avg latency, X ms max latency, P50 ms 50th, P95 ms 95th, P99 ms 99th, ..."
			rps=$(sed -E 's/.* ([0-9.]+) records\/sec.*/\1/' <<< "$out")
			mbs=$(sed -E 's/.*\(([0-9.]+) MB\/sec\).*/\1/' <<< "$out")
			p50=$(sed -E 's/.* ([0-9]+) ms 50th.*/\1/' <<< "$out")
			p99=$(sed -E 's/.* ([0-9]+) ms 99th.*/\1/' <<< "$out")
			printf '%-6s %-10s %5s %10s %10s %8s %8s\n' "$kind" "$proto" "$round" "$mbs" "$rps" "$p50" "$p99"
			"$repo/test/compat/lib/$kind.sh" stop "$name" > /dev/null
			name=
		done
	done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
