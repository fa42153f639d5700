# kcat (librdkafka) scenarios. Records are "key<TAB>value" lines; headers via -H.

# kcat_produce N PREFIX [kcat options...]: produce N keyed records with headers to partition 0.
kcat_produce() {
	local n=$1 prefix=$2 i; shift 2
	for ((i = 0; i < n; i++)); do printf '%s-key-%d\t%s-value-%d\n' "$prefix" $i "$prefix" $i; done |
		kcat -b "$BOOTSTRAP" -t "$TOPIC" -p 0 -P -K $'\t' -H "h1=$prefix" "$@"
}

# kcat_consume N: the first N records as "key value h1" lines.
kcat_consume() {
	kcat -b "$BOOTSTRAP" -t "$TOPIC" -p 0 -C -o beginning -c "$1" -e -f '%k %s %h\n' -q
}

kcat_produce_consume() {
	kcat_produce 10 pc
	kcat_consume 10 > "$W/got"
	cat "$W/got"
	expect_count 10 "$W/got"
	expect_grep '^pc-key-0 pc-value-0 h1=pc$' "$W/got"
	expect_grep '^pc-key-9 pc-value-9 h1=pc$' "$W/got"
}

kcat_produce_codecs() {
	for c in gzip snappy lz4 zstd; do kcat_produce 5 "$c" -z "$c"; done
	kcat_consume 20 > "$W/got"
	cat "$W/got"
	expect_count 20 "$W/got"
	for c in gzip snappy lz4 zstd; do expect_grep "^$c-key-4 $c-value-4 h1=$c\$" "$W/got"; done
}

kcat_large_record() {
	head -c 921600 /dev/zero | tr '\0' 'x' > "$W/big"
	kcat -b "$BOOTSTRAP" -t "$TOPIC" -p 0 -P -k big -X message.max.bytes=2000000 "$W/big"
	kcat -b "$BOOTSTRAP" -t "$TOPIC" -p 0 -C -o beginning -c 1 -e -q -f '%k %S\n' > "$W/got"
	cat "$W/got"
	expect_grep '^big 921600$' "$W/got"
}

kcat_acks() {
	# acks=1 first: Kafka drops acks=0 records sent while a new topic's leadership propagates.
	for a in 1 0 all; do kcat_produce 5 "acks$a" -X "acks=$a"; done
	kcat_consume 15 > "$W/got"
	cat "$W/got"
	expect_count 15 "$W/got"
}

# SC-05's kcat lines, verbatim but for the host and the topic.
kcat_seed_sc05_inspect() {
	mktopic "$TOPIC" 3
	echo '{"id":1,"amount":99.99}' | kcat -b "$BOOTSTRAP" -t "$TOPIC" -P -k "order-1"
	for i in $(seq 1 20); do echo "{\"id\":$i}"; done | kcat -b "$BOOTSTRAP" -t "$TOPIC" -P -p 2
	timeout 20 kcat -b "$BOOTSTRAP" -t "$TOPIC" -C -f '%T %p %o %k %s\n' -c 5 > "$W/c5"
	cat "$W/c5"
	expect_count 5 "$W/c5"
	expect_grep '^[0-9]{13} [0-2] [0-9]+ ' "$W/c5"
	kcat -b "$BOOTSTRAP" -L > "$W/L"
	cat "$W/L"
	expect_grep "topic \"$TOPIC\" with 3 partitions" "$W/L"
	expect_grep 'broker 1 at ' "$W/L"
	# -C added: the seed ran this at a terminal, where kcat picks consumer mode by itself.
	timeout 20 kcat -b "$BOOTSTRAP" -t "$TOPIC" -C -p 2 -o 10 -c 10 > "$W/p2"
	cat "$W/p2"
	expect_count 10 "$W/p2"
	expect_grep '^\{"id":11\}$' "$W/p2"
}

# kcat_new_libs: a LD_LIBRARY_PATH that runs kcat on the librdkafka confluent-kafka-python bundles
# (2.1x, Fetch v16) instead of the system's (2.0.2, which stops at Fetch v11), so the kcat
# scenarios below cover the flexible Fetch versions too. librdkafka keeps its ABI, so the same
# kcat binary runs on either.
kcat_new_libs() {
	local lib
	lib=$(ls "$COMPAT_VENV"/lib/python3*/site-packages/confluent_kafka.libs/librdkafka*.so.1 2> /dev/null | head -n 1)
	[ -n "$lib" ] || fail "no librdkafka bundled in $COMPAT_VENV (confluent-kafka); run make test-deps"
	mkdir -p "$W/rdk" && ln -sf "$lib" "$W/rdk/librdkafka.so.1"
	echo "$W/rdk:$(dirname "$lib")"
}

# kcat_first_lib: the librdkafka kcat_to_eof runs first, whose output the scenarios check further:
# the system one, or the bundled one alone on the SASL_SSL columns.
kcat_first_lib() { if [ -n "${COMPAT_SECURITY_DIR:-}" ]; then echo bundled; else echo system; fi; }

# kcat_to_eof LABEL LINES OFFSET [kcat options...]: consume partition 0 with -e (exit at partition
# EOF), once on each librdkafka; each run must read LINES records, reach EOF at OFFSET and log no
# protocol error (a null record set in a Fetch response is "invalid MessageSetSize -1" and no EOF).
kcat_to_eof() {
	local label=$1 lines=$2 offset=$3 bundled libs lib out rc; shift 3
	bundled=$(kcat_new_libs)
	local libsets="system bundled"
	# The SASL_SSL columns: Debian's librdkafka cannot log in to Kafka 4.3.1 (see the end of this file).
	[ -n "${COMPAT_SECURITY_DIR:-}" ] && libsets=bundled
	for lib in $libsets; do
		out=$W/$label.$lib libs=
		[ $lib = bundled ] && libs=$bundled
		echo "+ kcat -C -e $* ($(LD_LIBRARY_PATH=$libs kcat -V 2>&1 | grep -o 'librdkafka [0-9.]*'), $lib)"
		rc=0
		timeout 20 env LD_LIBRARY_PATH="$libs" kcat -b "$BOOTSTRAP" -t "$TOPIC" -p 0 -C -e -f '%o %k %s\n' "$@" \
			> "$out" 2> "$out.err" || rc=$?
		cat "$out" "$out.err"
		[ $rc -eq 0 ] || fail "$label: kcat exited $rc (124: no partition EOF within 20s)"
		if grep -q 'PROTOERR\|parse failure' "$out.err"; then fail "$label: kcat logged a protocol error"; fi
		expect_count "$lines" "$out"
		expect_grep "Reached end of topic $TOPIC \[0\] at offset $offset" "$out.err"
	done
}

# An empty partition, a partition reset to its end, and one reset after OFFSET_OUT_OF_RANGE are
# all read to partition EOF (issue 11).
kcat_consume_eof() {
	kcat_to_eof empty 0 0 -o beginning
	kcat_produce 5 eof
	kcat_to_eof end 0 5 -o end
	kcat_to_eof out-of-range 0 5 -o 100 -X auto.offset.reset=end
	kcat_to_eof beginning 5 5 -o beginning
	expect_grep '^4 eof-key-4 eof-value-4$' "$W/beginning.$(kcat_first_lib)"
}

# A partition holding only an aborted transaction: read_committed reads nothing and reaches EOF
# past the abort marker; read_uncommitted reads the 5 aborted records.
kcat_consume_eof_aborted() {
	"$COMPAT_GOBIN" -scenario abort-txn -topic "$TOPIC" -bootstrap "$BOOTSTRAP" || fail "abort-txn"
	kcat_to_eof committed 0 6 -o beginning -X isolation.level=read_committed
	kcat_to_eof uncommitted 5 6 -o beginning -X isolation.level=read_uncommitted
}

# One batch of 100 records, 10 without a key, to a compacted topic: librdkafka (the bundled 2.1x;
# the system's 2.0.2 predates KIP-467 and fails all 100) fails only the 10 with INVALID_RECORD,
# "Broker failed to validate record", and the other 90 with _INVALID_DIFFERENT_RECORD, from the
# response's record errors. Nothing was appended; the 90 resent go in (issue 11).
kcat_produce_record_errors() {
	local i libs
	mktopic "$TOPIC" 1 cleanup.policy=compact
	for ((i = 0; i < 100; i++)); do
		if ((i % 10 == 3)); then printf 're-value-%d\n' $i; else printf 're-key-%d\tre-value-%d\n' $i $i; fi
	done > "$W/batch"
	libs=$(kcat_new_libs)
	echo "+ kcat -P ($(LD_LIBRARY_PATH=$libs kcat -V 2>&1 | grep -o 'librdkafka [0-9.]*')) < 100 records, 10 keyless"
	LD_LIBRARY_PATH=$libs kcat -b "$BOOTSTRAP" -t "$TOPIC" -p 0 -P -K $'\t' -X linger.ms=500 < "$W/batch" 2> "$W/produce.err" &&
		fail "kcat reported no delivery failure"
	cat "$W/produce.err"
	grep '^% Delivery failed' "$W/produce.err" | sort | uniq -c > "$W/counts"
	expect_grep '^ +10 % Delivery failed for message: Broker: Broker failed to validate record$' "$W/counts"
	expect_grep '^ +90 % Delivery failed for message: Local: an invalid record in the same batch caused the failure of this message too$' "$W/counts"
	expect_count 2 "$W/counts"
	grep $'\t' "$W/batch" | kcat -b "$BOOTSTRAP" -t "$TOPIC" -p 0 -P -K $'\t'
	kcat_to_eof keyed 90 90 -o beginning
	expect_grep '^0 re-key-0 re-value-0$' "$W/keyed.$(kcat_first_lib)"
	expect_grep '^89 re-key-99 re-value-99$' "$W/keyed.$(kcat_first_lib)"
}

# On the SASL_SSL columns (lib/secure.sh: KCAT_CONFIG) kcat runs on the bundled librdkafka:
# librdkafka before 2.6.1 (Debian's 2.0.2) sends the SCRAM client nonce twice in its final
# message, which Kafka 4.x refuses (SASL_AUTHENTICATION_FAILED; 3.8.1-3.9 accepted it) and
# Spool too, while confluent-kafka-python's librdkafka logs in with the same configuration.
if [ -n "${COMPAT_SECURITY_DIR:-}" ]; then
	kcat() { LD_LIBRARY_PATH=$(kcat_new_libs) command kcat "$@"; }
fi
