#!/usr/bin/env bash
# compare.sh GENERATED COMMITTED
#
# Fails when the generator's fresh output (GENERATED) differs from the
# committed tree (COMMITTED): a changed or missing generated file, or a
# committed zz_*_gen.go the generator no longer writes.
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 GENERATED COMMITTED" >&2
  exit 2
fi
gen=$1
committed=$2
bad=0
while IFS= read -r f; do
  if [ ! -f "$committed/$f" ]; then
    echo "verify-gen: $committed/$f is missing"
    bad=1
  elif ! cmp -s "$gen/$f" "$committed/$f"; then
    echo "verify-gen: $committed/$f differs from the generator's output"
    diff -u "$committed/$f" "$gen/$f" | head -20 || true
    bad=1
  fi
done < <(cd "$gen" && find . -name '*_gen.go' | sed 's|^\./||' | sort)
while IFS= read -r f; do
  if [ ! -f "$gen/$f" ]; then
    echo "verify-gen: $committed/$f is stale (the generator no longer writes it)"
    bad=1
  fi
done < <(cd "$committed" && { find . -maxdepth 1 -name 'zz_*_gen.go'; find ./errcode -maxdepth 1 -name 'zz_*_gen.go' 2>/dev/null; } | sed 's|^\./||' | sort)
if [ "$bad" -ne 0 ]; then
  echo "verify-gen: generated protocol code is out of date: run make generate" >&2
  exit 1
fi
echo "verify-gen: generated code is up to date"
