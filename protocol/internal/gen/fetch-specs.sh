#!/usr/bin/env bash
# fetch-specs.sh VERSION DEST
#
# Downloads kafka-clients-VERSION.jar with Maven, extracts Kafka's JSON
# message specs (common/message/*.json) into DEST, and dumps the Errors table
# of that version into DEST/errors.csv (code,name,retriable,message) by running
# Dump.java against the jar. Touches DEST/.done at the end; when DEST/.done
# already exists it does nothing. Nothing here is committed: DEST is a cache.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 VERSION DEST" >&2
  exit 2
fi
version=$1
dest=$2
here=$(cd "$(dirname "$0")" && pwd)

if [ -f "$dest/.done" ]; then
  echo "fetch-specs: $dest already complete"
  exit 0
fi
for tool in mvn java unzip; do
  if ! command -v "$tool" >/dev/null; then
    echo "fetch-specs: $tool is required (see scripts/install-test-deps.sh)" >&2
    exit 1
  fi
done

mkdir -p "$dest"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "fetch-specs: downloading org.apache.kafka:kafka-clients:$version"
if ! mvn -q dependency:copy -Dartifact="org.apache.kafka:kafka-clients:$version:jar" \
    -DoutputDirectory="$work" >"$work/mvn.log" 2>&1; then
  cat "$work/mvn.log" >&2
  echo "fetch-specs: maven could not download kafka-clients $version" >&2
  exit 1
fi
jar="$work/kafka-clients-$version.jar"
if [ ! -f "$jar" ]; then
  echo "fetch-specs: expected $jar after the maven download" >&2
  exit 1
fi

echo "fetch-specs: extracting common/message/*.json into $dest"
rm -f "$dest"/*.json
unzip -q -o -j "$jar" 'common/message/*.json' -d "$dest"
n=$(find "$dest" -maxdepth 1 -name '*.json' | wc -l)
if [ "$n" -eq 0 ]; then
  echo "fetch-specs: no common/message/*.json in $jar" >&2
  exit 1
fi
echo "fetch-specs: $n spec files"

echo "fetch-specs: dumping the Errors table into $dest/errors.csv"
# Kafka's Errors class initialises an slf4j logger, so slf4j-api must be on the
# class path too (without a binding slf4j only prints a warning on stderr).
slf4j=${SLF4J_VERSION:-2.0.17}
if ! mvn -q dependency:copy -Dartifact="org.slf4j:slf4j-api:$slf4j:jar" \
    -DoutputDirectory="$work" >"$work/mvn.log" 2>&1; then
  cat "$work/mvn.log" >&2
  echo "fetch-specs: maven could not download slf4j-api $slf4j" >&2
  exit 1
fi
if ! java -cp "$jar:$work/slf4j-api-$slf4j.jar" "$here/Dump.java" >"$work/errors.csv" 2>"$work/java.log"; then
  cat "$work/java.log" >&2
  echo "fetch-specs: Dump.java failed" >&2
  exit 1
fi
mv "$work/errors.csv" "$dest/errors.csv"
echo "fetch-specs: $(($(wc -l <"$dest/errors.csv") - 1)) error codes"

touch "$dest/.done"
echo "fetch-specs: done ($dest)"
