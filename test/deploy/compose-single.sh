#!/usr/bin/env bash
# The guides' single-node quickstart (deploy/compose/single-node.yml) under podman-compose:
#  1. up; the container becomes healthy through the image's HEALTHCHECK (`spool healthcheck`)
#  2. the quickstart's commands inside the container: kafka-topics.sh --create/--list,
#     kafka-console-producer.sh, kafka-console-consumer.sh (Kafka's own Java tools)
#  3. from the host through the advertised listener localhost:9092: kcat (librdkafka) and
#     `spool` produce and consume, and see each other's records and the in-container ones
#  4. down, and up again with the named data volume of single-node.data.yml: the records
#     are still there; down -v removes the volume.
# The guides' file declares no volume: its data lives in the container's anonymous volume,
# which `down` abandons, so step 4 adds the named volume the way a user would (an override
# file), and checks that without it the data is gone after down/up (the guides' caveat).
# Needs: scripts/install-podman.sh, `make image`, kcat, bin/spool. Port 9092 must be free.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/lib.sh"
compose_dir=$root/deploy/compose
spool=$root/bin/spool
project=kafka
export SPOOL_IMAGE=${SPOOL_IMAGE:-spool:tools}
files=(-f "$compose_dir/single-node.yml")
pc() { podman-compose -p "$project" "${files[@]}" "$@" > "$logdir/compose.log" 2>&1 || { tail -n 30 "$logdir/compose.log" >&2; die "podman-compose $*"; }; }
logdir=$(mktemp -d)
down_all() {
	podman-compose -p "$project" -f "$compose_dir/single-node.yml" -f "$compose_dir/single-node.data.yml" down -v > /dev/null 2>&1 || true
	podman volume rm -f kafka_kafka-data > /dev/null 2>&1 || true
}
trap 'down_all; rm -rf "$logdir"' EXIT

for t in podman-compose kcat "$spool"; do command -v "$t" > /dev/null || die "$t missing (scripts/install-podman.sh, make test-deps, make build)"; done
podman image exists "$SPOOL_IMAGE" || die "image $SPOOL_IMAGE missing: run make image"
down_all
if (exec 3<> /dev/tcp/127.0.0.1/9092) 2> /dev/null; then die "port 9092 is in use on this machine; the quickstart publishes 9092"; fi

cid() { podman ps -q --filter "label=io.podman.compose.project=$project" --filter "label=com.docker.compose.service=kafka"; }
healthy() { local c; c=$(cid) && [ -n "$c" ] && podman healthcheck run "$c" && [ "$(podman inspect --format '{{.State.Health.Status}}' "$c")" = healthy ]; }
# No systemd here to schedule healthchecks, so the test runs them (the same command).
up_healthy() {
	pc up -d
	wait_for "container is healthy (HEALTHCHECK: spool healthcheck)" 120 healthy
}
kexec() { podman exec -i "$(cid)" "$@"; }
sp() { "$spool" "$@" --bootstrap-server localhost:9092; }

stage "single-node: up ($SPOOL_IMAGE)"
up_healthy
expect_eq "container runs as the non-root user" "$(podman exec "$(cid)" /usr/local/bin/spool version > /dev/null && podman inspect --format '{{.Config.User}}' "$(cid)")" "1000:1000"

stage "single-node: the quickstart's commands inside the container"
out=$(kexec /opt/kafka/bin/kafka-topics.sh --create --topic test --partitions 3 --replication-factor 1 --bootstrap-server localhost:9092)
expect_contains "kafka-topics.sh --create" "$out" "Created topic test."
out=$(kexec /opt/kafka/bin/kafka-topics.sh --list --bootstrap-server localhost:9092)
expect_contains "kafka-topics.sh --list" "$out" "test"
echo "hello kafka" | kexec /opt/kafka/bin/kafka-console-producer.sh --topic test --bootstrap-server localhost:9092
out=$(kexec /opt/kafka/bin/kafka-console-consumer.sh --topic test --from-beginning --bootstrap-server localhost:9092 --max-messages 1 --timeout-ms 30000 2> "$logdir/consumer.err")
expect_eq "kafka-console-consumer.sh reads what kafka-console-producer.sh wrote" "$out" "hello kafka"
out=$(kexec /opt/kafka/bin/kafka-topics.sh --describe --topic test --bootstrap-server localhost:9092)
expect_contains "kafka-topics.sh --describe" "$out" "PartitionCount: 3"

stage "single-node: from the host through the advertised listener localhost:9092"
printf 'from-kcat-1\nfrom-kcat-2\n' | kcat -b localhost:9092 -P -t test -p 1
printf 'from-spool\n' | sp produce test -p 2 > /dev/null
out=$(kcat -b localhost:9092 -C -t test -e -q -f '%s\n' | sort | tr '\n' ' ')
expect_eq "kcat reads every record (in-container, kcat's, spool's)" "$out" "from-kcat-1 from-kcat-2 from-spool hello kafka "
out=$(sp consume test | sort | tr '\n' ' ')
expect_eq "spool consume reads every record" "$out" "from-kcat-1 from-kcat-2 from-spool hello kafka "
out=$(kexec /opt/kafka/bin/kafka-console-consumer.sh --topic test --from-beginning --bootstrap-server localhost:9092 --max-messages 4 --timeout-ms 30000 2> /dev/null | sort | tr '\n' ' ')
expect_eq "the in-container consumer reads the host's records" "$out" "from-kcat-1 from-kcat-2 from-spool hello kafka "
kexec /opt/kafka/bin/kafka-configs.sh --bootstrap-server localhost:9092 --alter --entity-type topics --entity-name test \
	--add-config retention.ms=86400000 > /dev/null
out=$(sp topic describe test)
expect_contains "kafka-configs.sh --alter in the container, seen by spool topic describe on the host" "$out" "Configs: retention.ms=86400000"
out=$(kexec /opt/kafka/bin/kafka-acls.sh --bootstrap-server localhost:9092 --list 2>&1 || true)
case $out in *ClassNotFound* | *"Could not find or load main class"*) die "kafka-acls.sh does not start: $out" ;; esac
pass "kafka-acls.sh starts (its answer depends on the authorizer, not tested here)"
sp cluster health > "$logdir/health" || die "spool cluster health: $(cat "$logdir/health")"
pass "spool cluster health from the host"

stage "single-node: down and up without a named volume (the guides' file as is)"
anon=$(podman inspect --format '{{range .Mounts}}{{if eq .Destination "/var/lib/kafka/data"}}{{.Name}}{{end}}{{end}}' "$(cid)")
pc down
[ -n "$anon" ] && podman volume rm -f "$anon" > /dev/null # down leaves the anonymous volume behind, unused
up_healthy
out=$(sp topic list --exclude-internal)
case $out in *test*) die "the guides' file kept data across down/up: expected a fresh anonymous volume" ;; esac
pass "data lives in the container's anonymous volume: gone after down/up, as the guides' caveat says"
anon=$(podman inspect --format '{{range .Mounts}}{{if eq .Destination "/var/lib/kafka/data"}}{{.Name}}{{end}}{{end}}' "$(cid)")
pc down
[ -n "$anon" ] && podman volume rm -f "$anon" > /dev/null

stage "single-node: down and up with the named data volume (single-node.data.yml)"
files+=(-f "$compose_dir/single-node.data.yml")
up_healthy
sp topic create keep -p 2 > /dev/null
seq 1 100 | sed 's/^/rec-/' | sp produce keep > /dev/null
before=$(sp consume keep | sort | md5sum)
pc down
podman volume exists kafka_kafka-data || die "down removed the named volume"
pass "down keeps the named volume"
up_healthy
after=$(sp consume keep | sort | md5sum)
expect_eq "the 100 records are still there after down and up" "$after" "$before"
expect_eq "record count after restart" "$(sp consume keep | wc -l)" "100"
pc down -v
if podman volume exists kafka_kafka-data; then die "down -v left the volume"; fi
pass "down -v removes the volume"
printf '\ncompose-single: %s passed, 0 failed\n' "$PASSED"
