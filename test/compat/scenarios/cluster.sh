# Cluster scenarios (cluster-*): run on the 3-node columns only (kafka3, spool3), with Kafka's
# command-line tools (client "cli"). COMPAT_CLUSTER is "KIND NAME" for lib/cluster.sh, which
# stops and starts single nodes. Every topic here has replication factor 3; the cluster has
# min.insync.replicas=2.

B() { echo "$BOOTSTRAP"; }

# cluster CMD I: lib/cluster.sh's stop-node or start-node for node I of this column's cluster.
cluster() { "$COMPAT_DIR/lib/cluster.sh" "${COMPAT_CLUSTER% *}" "$1" "${COMPAT_CLUSTER#* }" "$2"; }

# until_ok SECONDS LABEL CMD...: run CMD every half second until it succeeds; fail after SECONDS.
until_ok() {
	local secs=$1 label=$2 t
	shift 2
	for ((t = 0; t < secs * 2; t++)); do
		"$@" && return 0
		sleep 0.5
	done
	fail "$label: not within ${secs}s"
}

# describe OUT [ARGS...]: kafka-topics --describe into $W/OUT (stderr apart: a stopped node's
# connection warnings go there).
describe() {
	local out=$1
	shift
	kafka-topics --bootstrap-server "$(B)" --describe "$@" > "$W/$out" 2> "$W/$out.err" ||
		{ cat "$W/$out.err"; echo "kafka-topics --describe $* exited non-zero"; return 1; }
}

# expect_empty FILE WHAT: FILE is empty, or the scenario fails saying WHAT.
expect_empty() { if [ -s "$1" ]; then cat "$1"; fail "$2"; fi; }

# partition_lines FILE TOPIC: the partition lines of TOPIC in a describe output.
partition_lines() { grep -P "^\tTopic: $2\tPartition: " "$1" || true; }

# urp_empty TOPIC: no partition of TOPIC is under-replicated.
urp_empty() {
	describe urp --under-replicated-partitions --topic "$1"
	[ -z "$(partition_lines "$W/urp" "$1")" ]
}

# shape FILE TOPIC: the describe output of TOPIC with its id, leaders, replicas and ISRs
# replaced by placeholders, so two brokers' outputs compare as structure.
shape() {
	grep -P "^\t?Topic: $2\t" "$1" | sed -E "s/Topic: $2\t/Topic: T\t/; s/TopicId: [A-Za-z0-9_-]{22}/TopicId: ID/;
		s/Leader: [0-9]+/Leader: L/; s/Replicas: [0-9]+(,[0-9]+)*/Replicas: R/; s/Isr: [0-9]+(,[0-9]+)*/Isr: I/"
}

# check_placement FILE TOPIC PARTITIONS: every partition has three distinct replicas of brokers
# 1-3, the first (preferred) one leads, the ISR holds exactly the replicas, and each broker
# leads PARTITIONS/3 of them.
check_placement() {
	partition_lines "$1" "$2" | awk -F'\t' -v n="$3" '
	{
		for (i = 2; i <= NF; i++) { split($i, kv, ": "); f[kv[1]] = kv[2] }
		r = f["Replicas"]; isr = f["Isr"]
		k = split(r, rs, ","); m = split(isr, is, ",")
		if (k != 3) { print "partition " f["Partition"] ": " k " replicas: " $0; bad = 1 }
		delete seen
		for (j = 1; j <= k; j++) { if (rs[j] < 1 || rs[j] > 3 || seen[rs[j]]++) { print "replicas not brokers 1-3 once each: " $0; bad = 1 } }
		if (f["Leader"] != rs[1]) { print "the preferred replica does not lead: " $0; bad = 1 }
		delete inisr
		for (j = 1; j <= m; j++) inisr[is[j]] = 1
		for (j = 1; j <= k; j++) if (!(rs[j] in inisr)) { print "ISR is not the replica set: " $0; bad = 1 }
		if (m != k) { print "ISR is not the replica set: " $0; bad = 1 }
		leads[f["Leader"]]++; parts++
	}
	END {
		if (parts != n) { print parts " partition lines, want " n; bad = 1 }
		for (b = 1; b <= 3; b++) if (leads[b] != n / 3) { print "broker " b " leads " leads[b] + 0 " partitions, want " n / 3; bad = 1 }
		exit bad
	}' || { cat "$1"; fail "placement of $2"; }
}

# cluster-describe: kafka-topics --describe of a 6-partition RF 3 topic has Kafka 4.3.1's shape
# (fields, order, the Elr columns, the broker-level min.insync.replicas among the configs),
# leaders on the preferred replicas and balanced, full ISRs; --under-replicated-partitions,
# --under-min-isr-partitions and --unavailable-partitions list none of its partitions (other
# scenarios' topics can be under min ISR: RF 1 with min.insync.replicas=2); a topic with a
# replica set given by --replica-assignment is described with it.
cli_cluster_describe() {
	run create kafka-topics --bootstrap-server "$(B)" --create --topic "$TOPIC" --partitions 6 --replication-factor 3
	until_ok 30 "6 partitions of $TOPIC with full ISRs" eval 'describe d --topic "$TOPIC"; [ "$(partition_lines "$W/d" "$TOPIC" | grep -cP "\tIsr: [0-9]+,[0-9]+,[0-9]+\t")" -eq 6 ]'
	cat "$W/d"
	shape "$W/d" "$TOPIC" > "$W/shape"
	# Kafka 4.3.1's output for this topic, normalized by shape().
	{
		printf 'Topic: T\tTopicId: ID\tPartitionCount: 6\tReplicationFactor: 3\tConfigs: min.insync.replicas=2\n'
		for p in 0 1 2 3 4 5; do
			printf '\tTopic: T\tPartition: %d\tLeader: L\tReplicas: R\tIsr: I\tElr: \tLastKnownElr: \n' $p
		done
	} > "$W/want"
	diff -u "$W/want" "$W/shape" || fail "kafka-topics --describe output differs from Kafka 4.3.1's shape (- Kafka, + this broker)"
	check_placement "$W/d" "$TOPIC" 6
	for opt in --under-replicated-partitions --under-min-isr-partitions --unavailable-partitions; do
		describe health "$opt" --topic "$TOPIC"
		expect_empty "$W/health" "kafka-topics --describe $opt lists partitions on a healthy cluster"
	done
	run create2 kafka-topics --bootstrap-server "$(B)" --create --topic "$TOPIC-a" --replica-assignment 3:1:2,2:3:1
	until_ok 30 "$TOPIC-a described with its replica assignment" eval 'describe a --topic "$TOPIC-a"; [ "$(partition_lines "$W/a" "$TOPIC-a" | grep -cP "\tIsr: [0-9]+,[0-9]+,[0-9]+\t")" -eq 2 ]'
	cat "$W/a"
	expect_grep $'^\tTopic: '"$TOPIC-a"$'\tPartition: 0\tLeader: 3\tReplicas: 3,1,2\tIsr: ' "$W/a"
	expect_grep $'^\tTopic: '"$TOPIC-a"$'\tPartition: 1\tLeader: 2\tReplicas: 2,3,1\tIsr: ' "$W/a"
}

# cluster-leader-election: a node restart leaves the partitions it preferred led by others;
# kafka-leader-election.sh --election-type PREFERRED --all-topic-partitions moves them back
# and says which it moved; asked again for one partition it says none was needed.
cli_cluster_leader_election() {
	local moved want
	run create kafka-topics --bootstrap-server "$(B)" --create --topic "$TOPIC" --partitions 6 --replication-factor 3
	until_ok 30 "6 partitions of $TOPIC with full ISRs" eval 'describe d --topic "$TOPIC"; [ "$(partition_lines "$W/d" "$TOPIC" | grep -cP "\tIsr: [0-9]+,[0-9]+,[0-9]+\t")" -eq 6 ]'
	cat "$W/d"
	# The partitions node 2 prefers: it leads them now and will not after its restart.
	want=$(partition_lines "$W/d" "$TOPIC" | awk -F'\t' '$5 ~ /^Replicas: 2,/ {sub("Partition: ", "", $3); print $3}' | sort -n | tr '\n' ' ')
	[ -n "$want" ] || fail "node 2 is no partition's preferred replica"
	cluster stop-node 2
	until_ok 30 "node 2's leaderships moved" eval 'describe d2 --topic "$TOPIC"; ! partition_lines "$W/d2" "$TOPIC" | grep -qP "\tLeader: (2|-1)\t"'
	cluster start-node 2
	until_ok 60 "node 2 back in every ISR of $TOPIC" urp_empty "$TOPIC"
	describe d3 --topic "$TOPIC"
	cat "$W/d3"
	run elect kafka-leader-election --bootstrap-server "$(B)" --election-type PREFERRED --all-topic-partitions
	expect_grep '^Successfully completed leader election \(PREFERRED\) for partitions ' "$W/elect.out"
	moved=$(grep -oE "$TOPIC-[0-9]+" "$W/elect.out" | sed "s/^$TOPIC-//" | sort -n | tr '\n' ' ')
	[ "$moved" = "$want" ] || fail "elected partitions of $TOPIC: '$moved', want '$want'"
	until_ok 30 "preferred leaders of $TOPIC" eval 'describe d4 --topic "$TOPIC"; check_placement "$W/d4" "$TOPIC" 6 > /dev/null 2>&1'
	cat "$W/d4"
	run again kafka-leader-election --bootstrap-server "$(B)" --election-type PREFERRED --topic "$TOPIC" --partition 0
	expect_grep "^Valid replica already elected for partitions $TOPIC-0\$" "$W/again.out"
}

# cluster-rolling-restart: an acks=all producer (kafka-verifiable-producer: idempotent, 3
# partitions) runs while each node in turn gets SIGTERM (controlled shutdown) and is started
# again. While a node is down its partitions are under-replicated with the two others in the
# ISR (and, checked with the second node down, neither under min ISR nor unavailable), and
# records keep being acknowledged; after each restart --under-replicated-partitions is empty
# again. At the end every acknowledged record is in the topic exactly once.
cli_cluster_rolling_restart() {
	local i acked n end
	run create kafka-topics --bootstrap-server "$(B)" --create --topic "$TOPIC" --partitions 3 --replication-factor 3
	until_ok 30 "3 partitions of $TOPIC with full ISRs" eval 'describe d --topic "$TOPIC"; [ "$(partition_lines "$W/d" "$TOPIC" | grep -cP "\tIsr: [0-9]+,[0-9]+,[0-9]+\t")" -eq 3 ]'
	# VerifiableProducer sets retries=0 unless told otherwise; idempotence needs retries.
	printf 'enable.idempotence=true\nretries=2147483647\ndelivery.timeout.ms=120000\n' > "$W/producer.properties"
	kafka-verifiable-producer --bootstrap-server "$(B)" --topic "$TOPIC" --acks -1 --throughput 200 --max-messages -1 \
		--command-config "$W/producer.properties" > "$W/prod" 2> "$W/prod.err" &
	PROD_PID=$!
	trap 'stop_bg $PROD_PID 2; rm -rf "$W"' EXIT
	acks() { local n; n=$(grep -c '"name":"producer_send_success"' "$W/prod" 2> /dev/null) || true; echo "${n:-0}"; }
	until_ok 60 "the producer's first 100 acks" eval '[ "$(acks)" -ge 100 ]'
	for i in 1 2 3; do
		echo "== node $i: SIGTERM"
		cluster stop-node "$i"
		describe urp --under-replicated-partitions --topic "$TOPIC"
		cat "$W/urp"
		[ "$(partition_lines "$W/urp" "$TOPIC" | grep -vcP "\tIsr: [0-9]+,[0-9]+\t" || true)" -eq 0 ] ||
			fail "with node $i down, an under-replicated partition's ISR is not the two other nodes"
		[ "$(partition_lines "$W/urp" "$TOPIC" | wc -l)" -eq 3 ] || fail "with node $i down, $(partition_lines "$W/urp" "$TOPIC" | wc -l) of 3 partitions are under-replicated"
		if [ "$i" = 2 ]; then # once is enough, and each describe is a JVM start
			describe minisr --under-min-isr-partitions --topic "$TOPIC"
			expect_empty "$W/minisr" "with node $i down, partitions are under min ISR"
			describe unav --unavailable-partitions --topic "$TOPIC"
			expect_empty "$W/unav" "with node $i down, partitions are unavailable"
		fi
		n=$(acks)
		until_ok 30 "acks with node $i down" eval '[ "$(acks)" -ge $((n + 100)) ]'
		echo "== node $i: start"
		cluster start-node "$i"
		until_ok 60 "node $i back in every ISR of $TOPIC" urp_empty "$TOPIC"
		kill -0 $PROD_PID 2> /dev/null || { cat "$W/prod.err"; fail "the producer exited"; }
	done
	describe urp-all --under-replicated-partitions
	expect_empty "$W/urp-all" "partitions are still under-replicated after the rolling restart"
	n=$(acks)
	until_ok 30 "acks after the rolling restart" eval '[ "$(acks)" -ge $((n + 100)) ]'
	stop_bg $PROD_PID 30
	trap 'rm -rf "$W"' EXIT
	{ grep '"name":"producer_send_error"' "$W/prod" || true; } | head -n 5
	grep '"name":"producer_send_success"' "$W/prod" | grep -oP '"value":"\K[0-9]+' | sort > "$W/acked"
	acked=$(wc -l < "$W/acked")
	run offsets kafka-get-offsets --bootstrap-server "$(B)" --topic "$TOPIC" --time -1
	end=$(awk -F: '{s += $3} END {print s}' "$W/offsets.out")
	echo "$acked records acknowledged; the topic ends at $end records in all"
	kafka-console-consumer --bootstrap-server "$(B)" --topic "$TOPIC" --from-beginning --max-messages "$end" \
		--timeout-ms 30000 > "$W/got" 2> "$W/got.err" || true
	sort "$W/got" > "$W/got.sorted"
	[ "$(wc -l < "$W/got.sorted")" -eq "$end" ] || fail "read $(wc -l < "$W/got.sorted") of $end records"
	uniq -d "$W/got.sorted" > "$W/dups"
	[ -s "$W/dups" ] && fail "records in the topic twice: $(head -n 5 "$W/dups" | tr '\n' ' ')"
	comm -23 "$W/acked" "$W/got.sorted" > "$W/lost"
	[ -s "$W/lost" ] && fail "$(wc -l < "$W/lost") acknowledged records lost: $(head -n 5 "$W/lost" | tr '\n' ' ')"
	echo "rolling restart: $acked acknowledged records all read back once"
}
