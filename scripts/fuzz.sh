#!/usr/bin/env bash
# fuzz.sh [FUZZTIME]
#
# Runs every Fuzz* function in the repository, one at a time (go test can
# fuzz only one target per run), for FUZZTIME each (default 60s). Set
# FUZZPARALLEL to limit the number of fuzzing workers. New crashers land in
# the package's testdata/fuzz/<Name>/ as usual; the script fails if any
# target fails.
set -euo pipefail
fuzztime=${1:-60s}
cd "$(dirname "$0")/.."
failed=()
ran=0
while IFS=: read -r file name; do
  dir=./$(dirname "$file")
  echo "=== fuzz $name in $dir for $fuzztime"
  ran=$((ran + 1))
  if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" ${FUZZPARALLEL:+-parallel "$FUZZPARALLEL"} "$dir"; then
    failed+=("$dir $name")
  fi
done < <(grep -rEo --include='*_test.go' '^func (Fuzz[A-Za-z0-9_]*)\(' . \
  | grep -v '^./vendor/' | sed -E 's/^\.\/([^:]*):func (Fuzz[A-Za-z0-9_]*)\(/\1:\2/' | sort -u)
echo "fuzz: ran $ran targets"
if [ ${#failed[@]} -gt 0 ]; then
  printf 'fuzz: FAILED %s\n' "${failed[@]}" >&2
  exit 1
fi
