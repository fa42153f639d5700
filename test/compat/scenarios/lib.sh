# Helpers for shell scenarios; sourced by lib/case.sh. Each scenario function gets
# BOOTSTRAP and TOPIC, runs with `set -euo pipefail`, and fails by returning non-zero or via fail.

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_grep PATTERN FILE: FILE must contain PATTERN (extended regex).
expect_grep() { grep -Eq -- "$1" "$2" || { echo "--- $2:"; cat "$2"; fail "expected /$1/ in $2"; }; }

# expect_count N FILE: FILE must have N lines.
expect_count() { local n; n=$(wc -l < "$2"); [ "$n" -eq "$1" ] || { cat "$2"; fail "expected $1 lines in $2, got $n"; }; }

# mktopic TOPIC [PARTITIONS]: create a topic quickly (franz-go admin), 1 partition by default.
mktopic() { "$COMPAT_GOBIN" -scenario create-topic -topic "$1" -partitions "${2:-1}" -bootstrap "$BOOTSTRAP"; }

# run LABEL CMD...: echo the command, run it, keep its output in $W/LABEL.out and show it.
run() {
	local label=$1; shift
	echo "+ $*"
	"$@" > "$W/$label.out" 2>&1 || { cat "$W/$label.out"; fail "$label exited $?"; }
	cat "$W/$label.out"
}

W=$(mktemp -d "${TMPDIR:-/tmp}/compat-case.XXXXXX")
trap 'rm -rf "$W"' EXIT
