#!/usr/bin/env bash
# Compiles java/*.java against the cached kafka-clients jars, once per source change:
#   javac.sh VERSION   # → $COMPAT_JAVA_CLASSES/VERSION (4.3.1 also gets the Streams program)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/lib/env.sh"
v=$1 lib=$COMPAT_CACHE/java/lib-$1 out=$COMPAT_JAVA_CLASSES/$1
srcs=("$here/java/Compat.java")
[ "$v" = "$KAFKA_VERSION" ] && srcs+=("$here/java/WordCount.java" "$here/java/StreamsRebalance.java" "$here/java/ShareCompat.java")
h=$( (echo "$v"; cat "${srcs[@]}") | sha256sum | cut -c1-16)
[ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$h" ] && exit 0
[ -d "$lib" ] || { echo "javac.sh: $lib missing; run test/compat/install.sh" >&2; exit 2; }
rm -rf "$out.tmp" && mkdir -p "$out.tmp"
javac -nowarn -encoding UTF-8 -cp "$lib/*" -d "$out.tmp" "${srcs[@]}"
echo "$h" > "$out.tmp/.stamp"
rm -rf "$out" && mv "$out.tmp" "$out"
