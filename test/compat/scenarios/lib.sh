# Helpers for shell scenarios; sourced by lib/case.sh. Each scenario function gets
# BOOTSTRAP and TOPIC, runs with `set -euo pipefail`, and fails by returning non-zero or via fail.

# COMPAT_RF: the replication factor for topics scenarios create (run.sh: 1, or 3 on a cluster).
COMPAT_RF=${COMPAT_RF:-1}

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_grep PATTERN FILE: FILE must contain PATTERN (extended regex).
expect_grep() { grep -Eq -- "$1" "$2" || { echo "--- $2:"; cat "$2"; fail "expected /$1/ in $2"; }; }

# expect_no_grep PATTERN FILE: FILE must not contain PATTERN (extended regex).
expect_no_grep() { if grep -Eq -- "$1" "$2"; then echo "--- $2:"; cat "$2"; fail "unexpected /$1/ in $2"; fi; }

# expect_count N FILE: FILE must have N lines.
# Kafka tools' deprecation notices on stdout ("Warning: ...", "Option --...") don't count.
expect_count() { local n; n=$(grep -Evc '^(Warning: |Option --)' "$2" || true); [ "$n" -eq "$1" ] || { cat "$2"; fail "expected $1 lines in $2, got $n"; }; }

# mktopic TOPIC [PARTITIONS [CONFIGS]]: create a topic quickly (franz-go admin), 1 partition by
# default; CONFIGS is k=v,k=v. An existing topic is fine (the seed scenarios share names like "orders").
mktopic() {
	"$COMPAT_GOBIN" -scenario create-topic -topic "$1" -partitions "${2:-1}" ${3:+-configs "$3"} -bootstrap "$BOOTSTRAP" > "$W/mktopic" 2>&1 ||
		grep -q TOPIC_ALREADY_EXISTS "$W/mktopic" || { cat "$W/mktopic"; fail "create topic $1"; }
}

# run LABEL CMD...: echo the command, run it, keep its output in $W/LABEL.out and show it.
run() {
	local label=$1; shift
	echo "+ $*"
	local rc=0
	"$@" > "$W/$label.out" 2>&1 || rc=$?
	cat "$W/$label.out"
	[ $rc -eq 0 ] || fail "$label exited $rc"
}

# run_fail LABEL CMD...: like run, for a command that must fail (exit non-zero).
run_fail() {
	local label=$1; shift
	echo "+ $* (must fail)"
	local rc=0
	"$@" > "$W/$label.out" 2>&1 || rc=$?
	cat "$W/$label.out"
	[ $rc -ne 0 ] || fail "$label exited 0, want a failure"
}

W=$(mktemp -d "${TMPDIR:-/tmp}/compat-case.XXXXXX")
trap 'rm -rf "$W"' EXIT

# stop_bg PID [GRACE_SECONDS]: stop a background bin/kafka-* tool started with `&`. The tool is
# a bash wrapper that waits for its java child, so the child is stopped (SIGTERM, then SIGKILL
# after GRACE_SECONDS, default 10): killing only the wrapper would leave the JVM running.
stop_bg() {
	local kids i
	kids=$(pgrep -P "$1" || true)
	kill $kids "$1" 2>/dev/null || true
	for ((i = 0; i < ${2:-10} * 10; i++)); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -9 $kids "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
