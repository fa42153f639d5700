#!/usr/bin/env bash
# lint-selftest.sh shows that `make lint` fails on what it exists to catch.
#
# It copies the working tree (tracked files and untracked ones git does not
# ignore; no .git, so nothing here can touch the real checkout) to a scratch
# directory, plants one problem at a time there, runs `make lint` in the copy
# and requires it to fail with a message naming the planted problem:
#
#   unused-func      an unexported function nothing calls (staticcheck U1000)
#   direct-indirect  a direct requirement marked // indirect in go.mod (the
#                    state issue 21 found: zap, raft, prometheus... all indirect)
#   unused-require   a requirement no package imports
#   test-module      an untidy go.mod in test/bench, a module of its own
#
# A plant that `make lint` passes, or that fails for another reason, fails
# the self-test. Each case restores the copy before the next. Most of the time
# is vet and staticcheck on the copy in the first case (about 40 s on 2 cores).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
copy=$scratch/spool
mkdir -p "$copy"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard) |
	(cd "$repo" && tar --null --files-from=- -cf -) | tar -xf - -C "$copy"

passed=0
failed=0

# expect_lint_fails NAME PATTERN: `make lint` in the copy must fail and its
# output must match the extended regexp PATTERN.
expect_lint_fails() {
	local name=$1 pattern=$2 out=$scratch/$1.out rc=0
	local began=$SECONDS
	GIT_CEILING_DIRECTORIES=$scratch make -C "$copy" --no-print-directory lint >"$out" 2>&1 || rc=$?
	if [ "$rc" -eq 0 ]; then
		echo "FAIL $name: make lint passed with the plant in place"
		sed 's/^/    /' "$out" | tail -20
		failed=$((failed + 1))
	elif ! grep -Eq "$pattern" "$out"; then
		echo "FAIL $name: make lint failed (exit $rc) but its output does not match /$pattern/"
		sed 's/^/    /' "$out" | tail -30
		failed=$((failed + 1))
	else
		echo "ok   $name: make lint failed as it should ($((SECONDS - began)) s): $(grep -Em1 "$pattern" "$out")"
		passed=$((passed + 1))
	fi
}

# plant FILE: keep FILE's content so restore can put it back.
plant() { cp "$copy/$1" "$scratch/saved"; saved=$1; }
restore() { cp "$scratch/saved" "$copy/$saved"; }

# unused-func
cat >"$copy/cmd/spool/zz_lint_selftest.go" <<'EOF'
package main

func lintSelftestUnused() {}
EOF
expect_lint_fails unused-func 'func lintSelftestUnused is unused \(U1000\)'
rm "$copy/cmd/spool/zz_lint_selftest.go"

# direct-indirect: zap is imported by nearly every package.
plant go.mod
sed -i -E 's|^(\s*go\.uber\.org/zap v[^ ]+)$|\1 // indirect|' "$copy/go.mod"
grep -q 'go.uber.org/zap .* // indirect' "$copy/go.mod" || { echo "FAIL direct-indirect: could not plant (no direct zap line in go.mod)"; exit 1; }
expect_lint_fails direct-indirect 'tidy-check: go mod tidy would change \./go\.mod'
restore

# unused-require: goleak is in the module graph (zap's tests use it), so tidy
# needs no download to decide that nothing here imports it.
plant go.mod
printf '\nrequire go.uber.org/goleak v1.3.0\n' >>"$copy/go.mod"
expect_lint_fails unused-require '^-require go\.uber\.org/goleak'
restore

# test-module: test/bench imports golang.org/x/sys directly.
plant test/bench/go.mod
sed -i -E 's|^(\s*golang\.org/x/sys v[^ ]+)$|\1 // indirect|' "$copy/test/bench/go.mod"
grep -q 'golang.org/x/sys .* // indirect' "$copy/test/bench/go.mod" || { echo "FAIL test-module: could not plant (no direct x/sys line in test/bench/go.mod)"; exit 1; }
expect_lint_fails test-module 'tidy-check: go mod tidy would change (\./)?test/bench/go\.mod'
restore

echo "lint-selftest: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
