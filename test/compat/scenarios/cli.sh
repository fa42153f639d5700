# Scenarios run with Apache Kafka's own command-line tools (bin/kafka-* wrappers).
# Lines marked "seed" are the inventory's command lines verbatim but for the host (and,
# where a scenario must finish on its own, --max-messages/--timeout-ms or a kill).

B() { echo "$BOOTSTRAP"; }

# consume_until FILE N CMD...: run a never-ending consumer until FILE has N lines, then stop it.
consume_until() {
	local f=$1 n=$2 i; shift 2
	"$@" > "$f" 2> "$f.err" &
	local pid=$!
	for ((i = 0; i < 300; i++)); do
		[ "$(wc -l < "$f")" -ge "$n" ] && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.2
	done
	stop_bg $pid
	cat "$f"
}

cli_produce_consume() {
	for i in $(seq 0 9); do printf 'h1:pc,idx:%d\tpc-key-%d\tpc-value-%d\n' $i $i $i; done |
		kafka-console-producer --bootstrap-server "$(B)" --topic "$TOPIC" \
			--property parse.key=true --property parse.headers=true --property key.separator=$'\t'
	kafka-console-consumer --bootstrap-server "$(B)" --topic "$TOPIC" --from-beginning --max-messages 10 \
		--timeout-ms 20000 --property print.key=true --property print.headers=true > "$W/got"
	cat "$W/got"
	expect_count 10 "$W/got"
	expect_grep $'^h1:pc,idx:0\tpc-key-0\tpc-value-0$' "$W/got"
	expect_grep $'^h1:pc,idx:9\tpc-key-9\tpc-value-9$' "$W/got"
}

cli_produce_codecs() {
	for c in gzip snappy lz4 zstd; do
		for i in 1 2 3; do echo "$c-value-$i"; done |
			kafka-console-producer --bootstrap-server "$(B)" --topic "$TOPIC" --compression-codec "$c"
	done
	kafka-console-consumer --bootstrap-server "$(B)" --topic "$TOPIC" --from-beginning --max-messages 12 --timeout-ms 20000 > "$W/got"
	cat "$W/got"
	expect_count 12 "$W/got"
	for c in gzip snappy lz4 zstd; do expect_grep "^$c-value-3\$" "$W/got"; done
}

cli_acks() {
	# acks=1 first: Kafka drops acks=0 records sent while a new topic's leadership propagates.
	for a in 1 0 all; do
		printf 'acks%s-a\nacks%s-b\n' $a $a | kafka-console-producer --bootstrap-server "$(B)" --topic "$TOPIC" --producer-property acks=$a
	done
	kafka-console-consumer --bootstrap-server "$(B)" --topic "$TOPIC" --from-beginning --max-messages 6 --timeout-ms 20000 > "$W/got"
	cat "$W/got"
	expect_count 6 "$W/got"
}

cli_transactions() {
	mktopic "$TOPIC-x"
	"$COMPAT_GOBIN" -client franz -scenario transactions -topic "$TOPIC-x" -bootstrap "$(B)"
	run list kafka-transactions --bootstrap-server "$(B)" list
	expect_grep "$TOPIC-x-tx" "$W/list.out"
	run describe kafka-transactions --bootstrap-server "$(B)" describe --transactional-id "$TOPIC-x-tx"
	expect_grep 'CompleteCommit|Empty' "$W/describe.out"
}

# RF 1 with min.insync.replicas=2: acks=all writes succeed (the required ISR is capped at the
# replica count) on Kafka 4.3.1, and must on Spool.
cli_min_isr_rf1() {
	run create kafka-topics --bootstrap-server "$(B)" --create --topic "$TOPIC" --partitions 1 --replication-factor 1 --config min.insync.replicas=2
	run describe kafka-configs --bootstrap-server "$(B)" --entity-type topics --entity-name "$TOPIC" --describe
	expect_grep 'min.insync.replicas=2' "$W/describe.out"
	printf 'minisr-1\nminisr-2\nminisr-3\n' | kafka-console-producer --bootstrap-server "$(B)" --topic "$TOPIC" \
		--producer-property acks=all --producer-property delivery.timeout.ms=20000 --producer-property request.timeout.ms=10000
	kafka-console-consumer --bootstrap-server "$(B)" --topic "$TOPIC" --from-beginning --max-messages 3 --timeout-ms 20000 > "$W/got"
	cat "$W/got"
	expect_count 3 "$W/got"
	expect_grep '^minisr-3$' "$W/got"
}

# Java consumers with both group protocols (KIP-848 "consumer" and "classic") share a topic.
cli_group_protocol() {
	for i in $(seq 1 6); do echo "gp-$i"; done | kafka-console-producer --bootstrap-server "$(B)" --topic "$TOPIC"
	for p in classic consumer; do
		kafka-console-consumer --bootstrap-server "$(B)" --topic "$TOPIC" --group "$TOPIC-$p" --from-beginning \
			--consumer-property group.protocol=$p --max-messages 6 --timeout-ms 30000 > "$W/$p"
		cat "$W/$p"
		expect_count 6 "$W/$p"
		run desc-$p kafka-consumer-groups --bootstrap-server "$(B)" --describe --group "$TOPIC-$p" --state
		expect_grep 'Empty' "$W/desc-$p.out"
	done
}

# Share groups (KIP-932) with Kafka's tools: a GROUP config (share.auto.offset.reset),
# the console share consumer, kafka-share-groups.sh --list/--describe (offsets, state,
# members)/--reset-offsets/--delete-offsets/--delete.
cli_share_groups_cli() {
	local g="$TOPIC-sg"
	mktopic "$TOPIC" 1
	run cfg kafka-configs --bootstrap-server "$(B)" --alter --entity-type groups --entity-name "$g" --add-config share.auto.offset.reset=earliest
	for i in $(seq 1 8); do echo "sg-$i"; done | kafka-console-producer --bootstrap-server "$(B)" --topic "$TOPIC"
	kafka-console-share-consumer --bootstrap-server "$(B)" --topic "$TOPIC" --group "$g" --max-messages 8 --timeout-ms 30000 > "$W/c"
	cat "$W/c"
	expect_count 8 "$W/c"
	run list kafka-share-groups --bootstrap-server "$(B)" --list
	expect_grep "^$g\$" "$W/list.out"
	# The acknowledgements of the last records may still be in flight when the consumer
	# exits: wait for the lag to reach 0 (Kafka's start offset may trail the acknowledged
	# records; the lag counts what is left to deliver).
	for _ in $(seq 1 50); do
		run desc kafka-share-groups --bootstrap-server "$(B)" --describe --group "$g"
		awk -v t="$TOPIC" '$2==t && $3==0 {print $(NF-1), $NF}' "$W/desc.out" > "$W/p0"
		read -r start lag < "$W/p0" || true
		[ "${lag:-}" = 0 ] && break
		sleep 0.2
	done
	[ "${lag:-}" = 0 ] || { cat "$W/desc.out"; fail "lag ${lag:-?} after consuming, want 0"; }
	run state kafka-share-groups --bootstrap-server "$(B)" --describe --group "$g" --state
	expect_grep 'Empty' "$W/state.out"
	run reset kafka-share-groups --bootstrap-server "$(B)" --reset-offsets --to-earliest --group "$g" --topic "$TOPIC" --execute
	run desc2 kafka-share-groups --bootstrap-server "$(B)" --describe --group "$g"
	awk -v t="$TOPIC" '$2==t && $3==0 {print $(NF-1), $NF}' "$W/desc2.out" > "$W/p0"
	read -r start lag < "$W/p0"
	[ "$start" = 0 ] && [ "$lag" = 8 ] || { cat "$W/desc2.out"; fail "start offset/lag $start/$lag after --reset-offsets --to-earliest, want 0/8"; }
	kafka-console-share-consumer --bootstrap-server "$(B)" --topic "$TOPIC" --group "$g" --max-messages 8 --timeout-ms 30000 > "$W/c2"
	expect_count 8 "$W/c2"
	run deloff kafka-share-groups --bootstrap-server "$(B)" --delete-offsets --group "$g" --topic "$TOPIC"
	run del kafka-share-groups --bootstrap-server "$(B)" --delete --group "$g"
	expect_grep 'successful' "$W/del.out"
	run list2 kafka-share-groups --bootstrap-server "$(B)" --list
	grep -q "^$g\$" "$W/list2.out" && fail "$g still listed after --delete"
	true
}

cli_group_admin() {
	mktopic "$TOPIC" 2
	for i in $(seq 1 20); do echo "k$i:v$i"; done |
		kafka-console-producer --bootstrap-server "$(B)" --topic "$TOPIC" --property parse.key=true --property key.separator=:
	kafka-console-consumer --bootstrap-server "$(B)" --topic "$TOPIC" --group "$TOPIC-g" --from-beginning --max-messages 20 --timeout-ms 20000 > "$W/c"
	expect_count 20 "$W/c"
	run list kafka-consumer-groups --bootstrap-server "$(B)" --list
	expect_grep "^$TOPIC-g\$" "$W/list.out"
	run desc kafka-consumer-groups --bootstrap-server "$(B)" --describe --group "$TOPIC-g"
	expect_grep 'TOPIC +PARTITION +CURRENT-OFFSET +LOG-END-OFFSET +LAG' "$W/desc.out"
	run reset kafka-consumer-groups --bootstrap-server "$(B)" --group "$TOPIC-g" --topic "$TOPIC:0" --reset-offsets --to-offset 1 --execute
	run desc2 kafka-consumer-groups --bootstrap-server "$(B)" --describe --group "$TOPIC-g"
	awk -v t="$TOPIC" '$2==t && $3==0 {print $4, $6}' "$W/desc2.out" > "$W/p0"
	read -r cur lag < "$W/p0"
	[ "$cur" = 1 ] || fail "current offset on partition 0 is $cur after reset to 1"
	run del kafka-consumer-groups --bootstrap-server "$(B)" --delete --group "$TOPIC-g"
	expect_grep 'successful' "$W/del.out"
}

cli_admin_topics() {
	run create kafka-topics --bootstrap-server "$(B)" --create --topic "$TOPIC" --partitions 3 --replication-factor "$COMPAT_RF" --config retention.ms=604800000
	run describe kafka-topics --bootstrap-server "$(B)" --describe --topic "$TOPIC"
	expect_grep 'PartitionCount: 3' "$W/describe.out"
	expect_grep 'retention.ms=604800000' "$W/describe.out"
	run alter kafka-topics --bootstrap-server "$(B)" --alter --topic "$TOPIC" --partitions 6
	run describe2 kafka-topics --bootstrap-server "$(B)" --describe --topic "$TOPIC"
	expect_grep 'PartitionCount: 6' "$W/describe2.out"
	if kafka-topics --bootstrap-server "$(B)" --alter --topic "$TOPIC" --partitions 2 > "$W/dec.out" 2>&1; then
		fail "decreasing partitions succeeded"
	fi
	run delete kafka-topics --bootstrap-server "$(B)" --delete --topic "$TOPIC"
	# The broker answering Metadata learns of the deletion from the metadata log a moment after
	# the controller commits it: list until the topic is gone, at most 20 times.
	for _ in $(seq 1 20); do
		run list kafka-topics --bootstrap-server "$(B)" --list
		grep -qx "$TOPIC" "$W/list.out" || break
		sleep 0.2
	done
	if grep -qx "$TOPIC" "$W/list.out"; then fail "topic still listed after delete"; fi
}

cli_admin_configs() {
	mktopic "$TOPIC"
	run alter kafka-configs --bootstrap-server "$(B)" --entity-type topics --entity-name "$TOPIC" --alter --add-config retention.ms=86400000,cleanup.policy=compact
	run describe kafka-configs --bootstrap-server "$(B)" --entity-type topics --entity-name "$TOPIC" --describe
	expect_grep 'retention.ms=86400000' "$W/describe.out"
	expect_grep 'cleanup.policy=compact' "$W/describe.out"
	run delete kafka-configs --bootstrap-server "$(B)" --entity-type topics --entity-name "$TOPIC" --alter --delete-config retention.ms
	run describe2 kafka-configs --bootstrap-server "$(B)" --entity-type topics --entity-name "$TOPIC" --describe
	if grep -q 'retention.ms=86400000' "$W/describe2.out"; then fail "retention.ms still set after --delete-config"; fi
	run broker kafka-configs --bootstrap-server "$(B)" --entity-type brokers --entity-name 1 --describe --all
	expect_grep 'log.retention.hours' "$W/broker.out"
}

# Client quotas with kafka-configs.sh: clients, users, user+client, defaults, ips, delete, an
# invalid value, and describes. The expected lines are Kafka 4.3.1's output.
# client-metrics: KIP-714 subscriptions (CLIENT_METRICS config resources) with
# kafka-client-metrics.sh: create, list, describe (set values and defaults), Kafka's errors for
# a bad interval and a bad match pattern, delete.
cli_client_metrics() {
	local n="${TOPIC}-sub" q=kafka-client-metrics
	run a1 $q --bootstrap-server "$(B)" --alter --name "$n" --metrics org.apache.kafka.producer. \
		--interval 1000 --match 'client_id=tele-.*'
	expect_grep "^Altered client metrics config for $n\.$" "$W/a1.out"
	run l1 $q --bootstrap-server "$(B)" --list
	expect_grep "^$n$" "$W/l1.out"
	run d1 $q --bootstrap-server "$(B)" --describe --name "$n"
	expect_grep "^Client metrics configs for $n are:$" "$W/d1.out"
	expect_grep "^  interval\.ms=1000$" "$W/d1.out"
	expect_grep "^  match=client_id=tele-\.\*$" "$W/d1.out"
	expect_grep "^  metrics=org\.apache\.kafka\.producer\.$" "$W/d1.out"
	run a2 $q --bootstrap-server "$(B)" --alter --name "$n" --metrics '*'
	run d2 $q --bootstrap-server "$(B)" --describe --name "$n"
	expect_grep "^  metrics=\*$" "$W/d2.out"
	if $q --bootstrap-server "$(B)" --alter --name "$n" --interval 50 > "$W/bad1.out" 2>&1; then
		cat "$W/bad1.out"
		fail "interval 50 was accepted"
	fi
	expect_grep "InvalidRequestException: Invalid value 50 for interval\.ms, interval must be between 100 and 3600000 \(1 hour\)$" "$W/bad1.out"
	if $q --bootstrap-server "$(B)" --alter --name "$n" --match client_id > "$W/bad2.out" 2>&1; then
		cat "$W/bad2.out"
		fail "match pattern 'client_id' was accepted"
	fi
	expect_grep "InvalidConfigurationException: Illegal client matching pattern: client_id$" "$W/bad2.out"
	run x1 $q --bootstrap-server "$(B)" --delete --name "$n"
	expect_grep "^Deleted client metrics config for $n\.$" "$W/x1.out"
	run l2 $q --bootstrap-server "$(B)" --list
	if grep -q "^$n$" "$W/l2.out"; then fail "$n still listed after --delete"; fi
	run d3 $q --bootstrap-server "$(B)" --describe --name "$n"
	expect_grep "^The client metric resource $n doesn't exist and doesn't have dynamic config\.$" "$W/d3.out"
}

cli_client_quotas() {
	local c="${TOPIC}-app" u="${TOPIC}-alice" q=kafka-configs
	run a1 $q --bootstrap-server "$(B)" --alter --entity-type clients --entity-name "$c" \
		--add-config producer_byte_rate=1048576,consumer_byte_rate=2097152
	expect_grep "^Completed updating config for client $c\.$" "$W/a1.out"
	run d1 $q --bootstrap-server "$(B)" --describe --entity-type clients --entity-name "$c"
	expect_grep "^Quota configs for client-id '$c' are consumer_byte_rate=2097152\.0, producer_byte_rate=1048576\.0$" "$W/d1.out"
	run a2 $q --bootstrap-server "$(B)" --alter --entity-type users --entity-name "$u" \
		--add-config request_percentage=50,controller_mutation_rate=10
	expect_grep "^Completed updating config for user $u\.$" "$W/a2.out"
	# Describing users also asks for their SCRAM credentials (none here).
	run d2 $q --bootstrap-server "$(B)" --describe --entity-type users --entity-name "$u"
	expect_grep "^Quota configs for user-principal '$u' are controller_mutation_rate=10\.0, request_percentage=50\.0$" "$W/d2.out"
	expect_count 1 "$W/d2.out"
	run a3 $q --bootstrap-server "$(B)" --alter --entity-type users --entity-name "$u" \
		--entity-type clients --entity-name "$c" --add-config producer_byte_rate=500000
	run d3 $q --bootstrap-server "$(B)" --describe --entity-type users --entity-name "$u" \
		--entity-type clients --entity-name "$c"
	expect_grep "^Quota configs for user-principal '$u', client-id '$c' are producer_byte_rate=500000\.0$" "$W/d3.out"
	run a4 $q --bootstrap-server "$(B)" --alter --entity-type clients --entity-default \
		--add-config consumer_byte_rate=1000000
	expect_grep "^Completed updating default config for clients in the cluster\.$" "$W/a4.out"
	run d4 $q --bootstrap-server "$(B)" --describe --entity-type clients --entity-default
	expect_grep "^Quota configs for the default client-id are consumer_byte_rate=1000000\.0$" "$W/d4.out"
	run a5 $q --bootstrap-server "$(B)" --alter --entity-type clients --entity-name "$c" \
		--delete-config producer_byte_rate
	run d5 $q --bootstrap-server "$(B)" --describe --entity-type clients --entity-name "$c"
	expect_grep "^Quota configs for client-id '$c' are consumer_byte_rate=2097152\.0$" "$W/d5.out"
	if $q --bootstrap-server "$(B)" --alter --entity-type clients --entity-name "$c" \
		--add-config producer_byte_rate=1.5 > "$W/bad.out" 2>&1; then
		cat "$W/bad.out"
		fail "a fractional producer_byte_rate was accepted"
	fi
	expect_grep "InvalidRequestException: producer_byte_rate cannot be a fractional value\.$" "$W/bad.out"
	run d6 $q --bootstrap-server "$(B)" --describe --entity-type clients
	expect_grep "^Quota configs for client-id '$c' are consumer_byte_rate=2097152\.0$" "$W/d6.out"
	expect_grep "^Quota configs for the default client-id are consumer_byte_rate=1000000\.0$" "$W/d6.out"
	run a7 $q --bootstrap-server "$(B)" --alter --entity-type ips --entity-name 127.0.0.9 \
		--add-config connection_creation_rate=100
	expect_grep "^Completed updating config for ip 127\.0\.0\.9\.$" "$W/a7.out"
	run d7 $q --bootstrap-server "$(B)" --describe --entity-type ips --entity-name 127.0.0.9
	expect_grep "^Quota configs for ip '127\.0\.0\.9' are connection_creation_rate=100\.0$" "$W/d7.out"
	# Clean up what other scenarios on this broker could see.
	run c1 $q --bootstrap-server "$(B)" --alter --entity-type clients --entity-default --delete-config consumer_byte_rate
	run c2 $q --bootstrap-server "$(B)" --alter --entity-type ips --entity-name 127.0.0.9 --delete-config connection_creation_rate
	run d8 $q --bootstrap-server "$(B)" --describe --entity-type clients --entity-default
	expect_count 0 "$W/d8.out"
}

cli_list_offsets_time() {
	mktopic "$TOPIC"
	for i in $(seq 1 5); do echo "v$i"; done | kafka-console-producer --bootstrap-server "$(B)" --topic "$TOPIC"
	run latest kafka-get-offsets --bootstrap-server "$(B)" --topic "$TOPIC" --time -1
	expect_grep "^$TOPIC:0:5\$" "$W/latest.out"
	run earliest kafka-get-offsets --bootstrap-server "$(B)" --topic "$TOPIC" --time -2
	expect_grep "^$TOPIC:0:0\$" "$W/earliest.out"
	run bytime kafka-get-offsets --bootstrap-server "$(B)" --topic "$TOPIC" --time $(( $(date +%s) * 1000 - 3600000 ))
	expect_grep "^$TOPIC:0:0\$" "$W/bytime.out"
	run maxts kafka-get-offsets --bootstrap-server "$(B)" --topic "$TOPIC" --time -3
	expect_grep "^$TOPIC:0:[0-4]\$" "$W/maxts.out"
}

cli_delete_records() {
	mktopic "$TOPIC"
	for i in $(seq 1 10); do echo "v$i"; done | kafka-console-producer --bootstrap-server "$(B)" --topic "$TOPIC"
	echo "{\"partitions\":[{\"topic\":\"$TOPIC\",\"partition\":0,\"offset\":4}],\"version\":1}" > "$W/del.json"
	run del kafka-delete-records --bootstrap-server "$(B)" --offset-json-file "$W/del.json"
	expect_grep 'low_watermark: 4' "$W/del.out"
	run earliest kafka-get-offsets --bootstrap-server "$(B)" --topic "$TOPIC" --time -2
	expect_grep "^$TOPIC:0:4\$" "$W/earliest.out"
}

# SC-01: the container quick start's CLI block.
cli_seed_sc01_smoke() {
	run create kafka-topics.sh --create \
		--topic test --partitions 3 --replication-factor "$COMPAT_RF" \
		--bootstrap-server "$(B)"
	run list kafka-topics.sh --list \
		--bootstrap-server "$(B)"
	expect_grep '^test$' "$W/list.out"
	echo "hello kafka" | kafka-console-producer.sh \
		--topic test --bootstrap-server "$(B)"
	consume_until "$W/c" 1 kafka-console-consumer.sh \
		--topic test --from-beginning --bootstrap-server "$(B)"
	expect_grep '^hello kafka$' "$W/c"
}

# SC-02: topic lifecycle with configs (RF 1 on a single broker, 3 on a cluster column).
cli_seed_sc02_topics() {
	run create kafka-topics.sh --bootstrap-server "$(B)" \
		--create \
		--topic orders \
		--partitions 6 \
		--replication-factor "$COMPAT_RF" \
		--config min.insync.replicas=2 \
		--config retention.ms=604800000
	run describe kafka-topics.sh --bootstrap-server "$(B)" --describe --topic orders
	expect_grep 'PartitionCount: 6' "$W/describe.out"
	expect_grep 'min.insync.replicas=2' "$W/describe.out"
	run alter kafka-topics.sh --bootstrap-server "$(B)" \
		--alter --topic orders --partitions 12
	run describe2 kafka-topics.sh --bootstrap-server "$(B)" --describe --topic orders
	expect_grep 'PartitionCount: 12' "$W/describe2.out"
	run delete kafka-topics.sh --bootstrap-server "$(B)" --delete --topic orders
}

# SC-03: the everyday operations block (topics, console tools, groups, configs, log dirs).
cli_seed_sc03_ops() {
	mktopic orders 3
	run list kafka-topics.sh --bootstrap-server "$(B)" --list
	expect_grep '^orders$' "$W/list.out"
	run describe kafka-topics.sh --bootstrap-server "$(B)" --describe --topic orders
	run describe-all kafka-topics.sh --bootstrap-server "$(B)" --describe
	printf 'order-123:{"amount":99.99}\norder-124:{"amount":5}\n' | kafka-console-producer.sh --bootstrap-server "$(B)" \
		--topic orders \
		--property "key.separator=:" \
		--property "parse.key=true"
	consume_until "$W/c1" 2 kafka-console-consumer.sh --bootstrap-server "$(B)" \
		--topic orders \
		--from-beginning \
		--property print.key=true \
		--property key.separator=" | "
	expect_grep '^order-123 \| \{"amount":99.99\}$' "$W/c1"
	run part kafka-console-consumer.sh --bootstrap-server "$(B)" \
		--topic orders \
		--partition 0 \
		--offset 0 \
		--max-messages 10 --timeout-ms 5000
	# a group for the group commands: the seed's order-processing-group
	kafka-console-consumer.sh --bootstrap-server "$(B)" --topic orders --group order-processing-group \
		--from-beginning --max-messages 2 --timeout-ms 20000 > /dev/null
	run glist kafka-consumer-groups.sh --bootstrap-server "$(B)" --list
	expect_grep '^order-processing-group$' "$W/glist.out"
	run gdesc kafka-consumer-groups.sh --bootstrap-server "$(B)" \
		--describe --group order-processing-group
	expect_grep 'TOPIC +PARTITION +CURRENT-OFFSET +LOG-END-OFFSET +LAG +CONSUMER-ID +HOST' "$W/gdesc.out"
	run r1 kafka-consumer-groups.sh --bootstrap-server "$(B)" \
		--group order-processing-group \
		--topic orders \
		--reset-offsets --to-earliest --execute
	run r2 kafka-consumer-groups.sh --bootstrap-server "$(B)" \
		--group order-processing-group \
		--topic orders:0 \
		--reset-offsets --to-offset 500 --execute
	run r3 kafka-consumer-groups.sh --bootstrap-server "$(B)" \
		--group order-processing-group \
		--topic orders \
		--reset-offsets --to-datetime 2026-02-01T00:00:00.000 --execute
	expect_grep 'orders +[0-2] +0' "$W/r3.out"
	kafka-consumer-groups.sh --bootstrap-server "$(B)" \
		--delete --group old-group > "$W/gdel.out" 2>&1 || true
	cat "$W/gdel.out"
	expect_grep 'old-group' "$W/gdel.out"
	run c1 kafka-configs.sh --bootstrap-server "$(B)" \
		--entity-type brokers --entity-name 1 \
		--alter --add-config log.retention.ms=86400000
	run c2 kafka-configs.sh --bootstrap-server "$(B)" \
		--entity-type topics --entity-name orders \
		--alter --add-config retention.ms=604800000,min.insync.replicas=2
	run c3 kafka-configs.sh --bootstrap-server "$(B)" \
		--entity-type topics --entity-name orders --describe
	expect_grep 'retention.ms=604800000' "$W/c3.out"
	# Leave the cluster as found: broker 1's log.retention.ms would otherwise appear in later
	# scenarios' kafka-topics --describe whenever broker 1 answers (cluster-describe, ×3 columns).
	run c4 kafka-configs.sh --bootstrap-server "$(B)" \
		--entity-type brokers --entity-name 1 --alter --delete-config log.retention.ms
	# --describe added: Kafka 4.x's kafka-log-dirs requires it ("Missing required argument").
	run logdirs kafka-log-dirs.sh --bootstrap-server "$(B)" \
		--topic-list orders --broker-list 1 --describe
	expect_grep '"partition":"orders-0"' "$W/logdirs.out"
	kafka-consumer-groups.sh --bootstrap-server "$(B)" \
		--describe --all-groups 2>/dev/null | awk 'NR>1 {print $1, $6}' | sort -k2 -rn | head -20
}

# SC-05: console inspection and GetOffsetShell's modern form.
cli_seed_sc05_inspect() {
	mktopic orders 3
	for i in 1 2 3 4 5; do echo "k$i:v$i"; done | kafka-console-producer.sh --bootstrap-server "$(B)" --topic orders \
		--property parse.key=true --property key.separator=:
	run peek kafka-console-consumer.sh --bootstrap-server "$(B)" \
		--topic orders --from-beginning --max-messages 5 \
		--property print.key=true --property print.timestamp=true
	expect_grep '^CreateTime:[0-9]{13}	k[1-5]	v[1-5]$' "$W/peek.out"
	run offsets kafka-get-offsets.sh --bootstrap-server "$(B)" --topic orders --time -1
	expect_grep '^orders:0:' "$W/offsets.out"
}

cli_cli_api_versions() {
	run v kafka-broker-api-versions.sh --bootstrap-server "$(B)"
	expect_grep 'ApiVersions\(18\)' "$W/v.out"
	expect_grep 'Produce\(0\)' "$W/v.out"
}

cli_cli_perf() {
	mktopic "$TOPIC"
	run p kafka-producer-perf-test.sh --topic "$TOPIC" --num-records 10000 --record-size 100 --throughput -1 \
		--producer-props bootstrap.servers="$(B)" acks=all
	expect_grep '10000 records sent' "$W/p.out"
	run c kafka-consumer-perf-test.sh --bootstrap-server "$(B)" --topic "$TOPIC" --num-records 10000 --timeout 30000
	awk -F, '/^[0-9][0-9][0-9][0-9]-/ {gsub(/ /,"",$5); print $5}' "$W/c.out" > "$W/n"
	[ "$(cat "$W/n")" -ge 10000 ] || fail "consumer perf test read $(cat "$W/n") messages"
}

cli_cli_verifiable() {
	mktopic "$TOPIC" 2
	run p kafka-verifiable-producer.sh --bootstrap-server "$(B)" --topic "$TOPIC" --max-messages 200 --acks -1
	expect_grep '"name":"tool_data".*"sent":200.*"acked":200' "$W/p.out"
	run c kafka-verifiable-consumer.sh --bootstrap-server "$(B)" --topic "$TOPIC" --group-id "$TOPIC-g" --max-messages 200 --reset-policy earliest
	expect_grep '"name":"records_consumed"' "$W/c.out"
	expect_grep '"name":"offsets_committed".*"success":true' "$W/c.out"
}
