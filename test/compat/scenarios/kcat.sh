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
	for a in 0 1 all; do kcat_produce 5 "acks$a" -X "acks=$a"; done
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
