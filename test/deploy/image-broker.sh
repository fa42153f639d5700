#!/usr/bin/env bash
# The FROM-scratch broker image (spool:latest) on its own: its size, non-root user, volume
# and HEALTHCHECK, the admin CLI inside it (no JVM, no shell in the image), and clients on
# the host through a published port.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/lib.sh"
image=${SPOOL_BROKER_IMAGE:-spool:latest}
port=${PORT:-31092} # below the ephemeral range (32768+), where a client socket can hold a port
name=spool-image-test
trap 'podman rm -f -v $name > /dev/null 2>&1 || true' EXIT
podman rm -f -v $name > /dev/null 2>&1 || true
podman image exists "$image" || die "image $image missing: run make image"

stage "broker image: $image"
size=$(podman image inspect --format '{{.Size}}' "$image")
[ "$size" -lt $((40 * 1024 * 1024)) ] || die "$image is $size bytes; a FROM-scratch broker image should be well under 40 MB"
pass "$image is $(numfmt --to=iec "$size") uncompressed"
expect_eq "image user" "$(podman image inspect --format '{{.Config.User}}' "$image")" "1000:1000"
expect_eq "image volume" "$(podman image inspect --format '{{range $k, $v := .Config.Volumes}}{{$k}}{{end}}' "$image")" "/var/lib/kafka/data"
expect_contains "image healthcheck" "$(podman image inspect --format '{{json .Config.Healthcheck.Test}}' "$image")" '"/usr/local/bin/spool","healthcheck"'
expect_eq "image entrypoint" "$(podman image inspect --format '{{json .Config.Entrypoint}}' "$image")" '["/usr/local/bin/spool","serve"]'

podman run -d --name $name -p "127.0.0.1:$port:$port" \
	-e KAFKA_NODE_ID=1 -e KAFKA_PROCESS_ROLES=broker,controller \
	-e KAFKA_LISTENERS="PLAINTEXT://0.0.0.0:$port,CONTROLLER://0.0.0.0:9093" \
	-e KAFKA_ADVERTISED_LISTENERS="PLAINTEXT://127.0.0.1:$port" \
	-e KAFKA_CONTROLLER_QUORUM_VOTERS=1@localhost:9093 -e KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER \
	-e KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT \
	"$image" > /dev/null 2> /dev/null
healthy() { podman healthcheck run $name && [ "$(podman inspect --format '{{.State.Health.Status}}' $name)" = healthy ]; }
wait_for "container healthy (the healthcheck finds the listener from KAFKA_LISTENERS, port $port)" 60 healthy
out=$(podman exec $name /usr/local/bin/spool topic create quick -p 2)
expect_contains "spool topic create inside the container" "$out" "created"
printf 'one\ntwo\nthree\n' | kcat -b "127.0.0.1:$port" -P -t quick -p 0
out=$(podman exec $name /usr/local/bin/spool consume quick | tr '\n' ' ')
expect_eq "spool consume inside the container reads kcat's records" "$out" "one two three "
out=$(kcat -b "127.0.0.1:$port" -C -t quick -e -q -f '%s\n' | tr '\n' ' ')
expect_eq "kcat on the host reads them" "$out" "one two three "
podman exec $name /usr/local/bin/spool cluster health > /dev/null || die "spool cluster health in the container"
pass "spool cluster health inside the container"
src=$(podman inspect --format '{{range .Mounts}}{{if eq .Destination "/var/lib/kafka/data"}}{{.Source}}{{end}}{{end}}' $name)
[ -n "$src" ] && [ -f "$src/meta.properties" ] || die "no meta.properties in the data volume ($src)"
expect_eq "data files in the volume belong to the non-root user" "$(stat -c %u "$src/meta.properties")" "1000"
podman stop -t 20 $name > /dev/null
expect_eq "clean shutdown on SIGTERM exits 0" "$(podman inspect --format '{{.State.ExitCode}}' $name)" "0"
if podman healthcheck run $name > /dev/null 2>&1; then die "healthcheck passed on a stopped container"; fi
pass "healthcheck fails once the broker is stopped"
printf '\nimage-broker: %s passed, 0 failed\n' "$PASSED"
