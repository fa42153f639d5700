# Shared helpers for test/deploy/*.sh; sourced, not run.
DEPLOY_TEST_T0=${DEPLOY_TEST_T0:-$SECONDS}
stage() { printf '\n== deploy-test %s [%ss]\n' "$*" "$((SECONDS - DEPLOY_TEST_T0))"; }
pass() { printf '  ok: %s\n' "$*"; PASSED=$((${PASSED:-0} + 1)); }
die() { printf 'deploy-test FAILED: %s\n' "$*" >&2; exit 1; }
# expect_eq WHAT GOT WANT
expect_eq() { [ "$2" = "$3" ] || die "$1: got '$2', want '$3'"; pass "$1"; }
# expect_contains WHAT TEXT NEEDLE
expect_contains() { case $2 in *"$3"*) pass "$1" ;; *) die "$1: '$3' not in: $2" ;; esac; }
# wait_for WHAT SECONDS CMD...: polls CMD every half second until it succeeds.
wait_for() {
	local what=$1 limit=$2 t0=$SECONDS
	shift 2
	until "$@" > /dev/null 2>&1; do
		[ $((SECONDS - t0)) -lt "$limit" ] || die "$what: not within ${limit}s"
		sleep 0.5
	done
	pass "$what ($((SECONDS - t0))s)"
}
