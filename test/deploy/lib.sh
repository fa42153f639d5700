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
# verify_acked PRODUCER_OUT READ: every record Kafka's VerifiableProducer reported acknowledged
# (its producer_send_success JSON lines in PRODUCER_OUT) is in READ ("partition offset value"
# lines, e.g. kcat -f '%p %o %s\n') at the same partition and offset, and no value is read
# twice. Prints a one-line summary; fails if anything is missing or duplicated.
verify_acked() {
	python3 - "$1" "$2" << 'PY'
import json, sys
acked = set()
for line in open(sys.argv[1]):
    try:
        j = json.loads(line)
    except ValueError:
        continue
    if j.get("name") == "producer_send_success":
        acked.add((j["partition"], j["offset"], j["value"]))
got = [tuple(l.split(" ", 2)) for l in open(sys.argv[2]).read().splitlines()]
got = [(int(p), int(o), v) for p, o, v in got]
values = [v for _, _, v in got]
missing = acked - set(got)
dups = len(values) - len(set(values))
print(f"acknowledged {len(acked)}, read {len(got)}, missing {len(missing)}, duplicated values {dups}")
if missing:
    print("first missing (partition, offset, value):", sorted(missing)[:10])
sys.exit(1 if missing or dups or not acked else 0)
PY
}
# send_errors PRODUCER_OUT: the VerifiableProducer's send errors, counted by exception.
send_errors() {
	{ grep '"producer_send_error"' "$1" || true; } | python3 -c '
import collections, json, sys
c = collections.Counter(json.loads(l).get("exception", "?") + ": " + json.loads(l).get("message", "")[:120] for l in sys.stdin)
print("; ".join(f"{n} x {k}" for k, n in c.most_common()))'
}
