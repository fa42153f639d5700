#!/usr/bin/env bash
# Builds both Spool images from deploy/Containerfile (see there), with podman, or
# ENGINE=docker where a Docker engine runs:
#   spool:latest   FROM scratch, the broker alone (a few MB)
#   spool:tools    broker + JRE + Kafka 4.3.1's CLI tools at /opt/kafka/bin
# ONLY=broker builds just the first (no JRE base, no Kafka jars needed).
#
# Inputs, none pulled from an image registry: the static binary (CGO_ENABLED=0 go build),
# this machine's CA bundle (Debian's ca-certificates package), the Kafka jars that
# test/compat/install.sh caches (~/.cache/spool-compat/java/lib-4.3.1, less Streams' and
# Connect's), and the JRE base image scripts/build-jre-base.sh makes with debootstrap.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
engine=${ENGINE:-podman}
tag=${TAG:-latest}
only=${ONLY:-}
# podman writes OCI images by default, which have no HEALTHCHECK: ask for Docker's format.
fmt=()
[ "$(basename "$engine")" = podman ] && fmt=(--format docker)
ctx=$root/build/image
say() { printf '== image: %s\n' "$*"; }
die() { echo "build-image FAILED: $*" >&2; exit 1; }
t0=$SECONDS

version=$(git describe --tags --always --dirty 2> /dev/null || echo dev)
rm -rf "$ctx"
mkdir -p "$ctx/etc/ssl/certs" "$ctx/empty" "$ctx/kafka"
say "static binary (CGO_ENABLED=0, version $version)"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$ctx/spool" ./cmd/spool
file "$ctx/spool" 2> /dev/null | grep -q 'statically linked' || ldd "$ctx/spool" 2>&1 | grep -q 'not a dynamic' ||
	die "$ctx/spool is not static"
ca=/etc/ssl/certs/ca-certificates.crt
[ -s "$ca" ] || die "$ca missing: apt-get install ca-certificates"
cp "$ca" "$ctx/etc/ssl/certs/ca-certificates.crt"
cp deploy/image/passwd deploy/image/group "$ctx/etc/"
grep '^appuser:' deploy/image/passwd > "$ctx/etc/passwd-appuser"
grep '^appuser:' deploy/image/group > "$ctx/etc/group-appuser"

# A rebuild leaves the previous image untagged: remove it (if no container uses it).
drop_old() { [ -n "$1" ] && [ "$1" != "$($engine image inspect --format '{{.Id}}' "$2" 2> /dev/null)" ] && $engine rmi "$1" > /dev/null 2>&1 || true; }
old_broker=$($engine image inspect --format '{{.Id}}' "spool:$tag" 2> /dev/null || true)
old_tools=$($engine image inspect --format '{{.Id}}' spool:tools 2> /dev/null || true)
say "building spool:$tag (FROM scratch) with $engine"
$engine build "${fmt[@]}" -q -f deploy/Containerfile --target broker -t "spool:$tag" "$ctx" > /dev/null
drop_old "$old_broker" "spool:$tag"
say "spool:$tag: $($engine image inspect --format '{{.Size}}' "spool:$tag" | numfmt --to=si) ($((SECONDS - t0))s)"
[ "$only" = broker ] && exit 0

libs=$HOME/.cache/spool-compat/java/lib-4.3.1
[ -f "$libs/kafka-tools-4.3.1.jar" ] || die "Kafka 4.3.1 jars missing in $libs: run test/compat/install.sh (make test-deps)"
cp -r deploy/image/kafka/bin deploy/image/kafka/config "$ctx/kafka/"
mkdir -p "$ctx/kafka/libs"
# The CLI tools need the clients, tools, server and Scala jars; Streams (with its 70 MB
# RocksDB), Connect and its REST server (Jersey, Jetty, HK2) are left out.
for j in "$libs"/*.jar; do
	case $(basename "$j") in
	rocksdbjni-* | kafka-streams-* | connect-* | jersey-* | jetty-* | hk2-* | javassist-* | swagger-* | \
		jakarta.ws.rs-* | jakarta.servlet-* | maven-artifact-* | reflections-*) ;;
	*) cp "$j" "$ctx/kafka/libs/" ;;
	esac
done
# Every /opt/kafka/bin script must name a class that is in the jars (Kafka moves tools
# between modules and packages across releases: kafka.admin.AclCommand became
# org.apache.kafka.tools.AclCommand in 4.0).
python3 - "$ctx/kafka" << 'PY' || die "a kafka/bin script names a class missing from the jars"
import glob, os, re, sys, zipfile
root = sys.argv[1]
classes = set()
for j in glob.glob(os.path.join(root, "libs", "*.jar")):
    with zipfile.ZipFile(j) as z:
        classes.update(n[:-6].replace("/", ".") for n in z.namelist() if n.endswith(".class"))
bad = []
for sh in sorted(glob.glob(os.path.join(root, "bin", "*.sh"))):
    m = re.search(r"kafka-run-class\.sh\" (\S+)", open(sh).read())
    if m and m.group(1) not in classes:
        bad.append(f"{os.path.basename(sh)}: {m.group(1)}")
for b in bad:
    print("  missing main class:", b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
say "every /opt/kafka/bin script's main class is in the jars"
./scripts/build-jre-base.sh localhost/spool-jre-base:bookworm
say "building spool:tools with $engine"
$engine build "${fmt[@]}" -q -f deploy/Containerfile --target tools --build-arg JRE_BASE=localhost/spool-jre-base:bookworm \
	-t spool:tools "$ctx" > /dev/null
drop_old "$old_tools" spool:tools
say "spool:tools: $($engine image inspect --format '{{.Size}}' spool:tools | numfmt --to=si) ($((SECONDS - t0))s)"
