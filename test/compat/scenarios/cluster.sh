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

# cluster-reassign: kafka-reassign-partitions.sh as the operators' guides run it (SC-24) on an
# RF 2 topic holding 12 MB on brokers 1 and 2: --generate proposes replicas on the brokers given;
# --execute --throttle 1000 starts the moves and sets Kafka's throttle configs (the rates on
# every broker, the leader/follower replica lists on the topic), which hold the copy back, so
# --list and --verify --preserve-throttles show the moves in progress; --cancel reverts them and
# clears the throttles; --execute again at 50 MB/s completes, --verify says so and clears the
# throttles; a reassignment to three replicas raises the replication factor; every record is
# still there, read from the new leaders.
cli_cluster_reassign() {
	local p
	run create kafka-topics --bootstrap-server "$(B)" --create --topic "$TOPIC" --replica-assignment 1:2,2:1
	until_ok 30 "2 partitions of $TOPIC with full ISRs" eval 'describe d --topic "$TOPIC"; [ "$(partition_lines "$W/d" "$TOPIC" | grep -cP "\tIsr: [0-9]+,[0-9]+\t")" -eq 2 ]'
	# Keyed records, so both partitions get about 6 MB. A throttled follower still fetches up to
	# replica.fetch.max.bytes (1 MiB) per partition whenever the rate measured over Kafka's
	# 11-second quota window is under the limit, about every 11 s: 6 MB holds the copy back
	# for a minute, longer than the steps before --cancel take.
	python3 -c 'import sys; [print(f"k{i}\t{i:06d}" + "v" * 994) for i in range(12000)]' > "$W/records"
	run load kafka-console-producer --bootstrap-server "$(B)" --topic "$TOPIC" --property parse.key=true \
		--producer-property acks=all < "$W/records"
	run sizes kafka-get-offsets --bootstrap-server "$(B)" --topic "$TOPIC" --time -1
	[ "$(awk -F: '{s += $3} END {print s}' "$W/sizes.out")" -eq 12000 ] || fail "the topic does not end at 12000 records"
	awk -F: '$3 < 5000 {exit 1}' "$W/sizes.out" || fail "a partition has fewer than 5000 of the 12000 records"

	printf '{"version":1,"topics":[{"topic":"%s"}]}\n' "$TOPIC" > "$W/topics.json"
	run generate kafka-reassign-partitions --bootstrap-server "$(B)" --topics-to-move-json-file "$W/topics.json" \
		--broker-list 2,3 --generate
	python3 - "$W/generate.out" "$TOPIC" <<-'PY' || fail "--generate output"
		import json, sys
		lines = open(sys.argv[1]).read().splitlines()
		cur = json.loads(lines[lines.index("Current partition replica assignment") + 1])
		new = json.loads(lines[lines.index("Proposed partition reassignment configuration") + 1])
		want = {0: [1, 2], 1: [2, 1]}
		got = {p["partition"]: p["replicas"] for p in cur["partitions"] if p["topic"] == sys.argv[2]}
		assert got == want, f"current assignment {got}, want {want}"
		for p in new["partitions"]:
		    assert p["topic"] == sys.argv[2] and sorted(p["replicas"]) == [2, 3], f"proposed {p}"
		assert sorted(p["partition"] for p in new["partitions"]) == [0, 1], new
	PY

	printf '{"version":1,"partitions":[{"topic":"%s","partition":0,"replicas":[3,2],"log_dirs":["any","any"]},{"topic":"%s","partition":1,"replicas":[2,3],"log_dirs":["any","any"]}]}\n' \
		"$TOPIC" "$TOPIC" > "$W/plan.json"
	run slow kafka-reassign-partitions --bootstrap-server "$(B)" --reassignment-json-file "$W/plan.json" --execute --throttle 1000
	expect_grep '^The inter-broker throttle limit was set to 1000 B/s$' "$W/slow.out"
	expect_grep "^Successfully started partition reassignments for $TOPIC-0,$TOPIC-1\$" "$W/slow.out"
	run list kafka-reassign-partitions --bootstrap-server "$(B)" --list
	expect_grep "^$TOPIC-0: replicas: 3,2,1. adding: 3. removing: 1.\$" "$W/list.out"
	expect_grep "^$TOPIC-1: replicas: 2,3,1. adding: 3. removing: 1.\$" "$W/list.out"
	run progress kafka-reassign-partitions --bootstrap-server "$(B)" --reassignment-json-file "$W/plan.json" --verify --preserve-throttles
	for p in 0 1; do expect_grep "^Reassignment of partition $TOPIC-$p is still in progress.\$" "$W/progress.out"; done
	run rates kafka-configs --bootstrap-server "$(B)" --describe --entity-type brokers
	for b in 1 2 3; do
		awk -v b="$b" '/^[^ ]/ {on = ($0 == "Dynamic configs for broker " b " are:")} on' "$W/rates.out" > "$W/rates$b"
		expect_grep '^  leader.replication.throttled.rate=1000 ' "$W/rates$b"
		expect_grep '^  follower.replication.throttled.rate=1000 ' "$W/rates$b"
	done
	run tconf kafka-configs --bootstrap-server "$(B)" --describe --entity-type topics --entity-name "$TOPIC"
	expect_grep '^  leader.replication.throttled.replicas=0:1,0:2,1:1,1:2 ' "$W/tconf.out"
	expect_grep '^  follower.replication.throttled.replicas=0:3,1:3 ' "$W/tconf.out"

	run cancel kafka-reassign-partitions --bootstrap-server "$(B)" --reassignment-json-file "$W/plan.json" --cancel
	expect_grep "^Successfully cancelled partition reassignments for: $TOPIC-0,$TOPIC-1\$" "$W/cancel.out"
	expect_grep '^None of the specified partition moves are active.Clearing broker-level throttles on brokers 1,2,3$' "$W/cancel.out"
	expect_grep "^Clearing topic-level throttles on topic $TOPIC\$" "$W/cancel.out"
	run list2 kafka-reassign-partitions --bootstrap-server "$(B)" --list
	expect_grep '^No partition reassignments found.$' "$W/list2.out"
	# Kafka reverts to the replicas less the adding ones, in the order of the reassignment.
	describe c --topic "$TOPIC"
	cat "$W/c"
	for p in 0 1; do expect_grep $'^\tTopic: '"$TOPIC"$'\tPartition: '"$p"$'\tLeader: [12]\tReplicas: 2,1\t' "$W/c"; done
	run tconf2 kafka-configs --bootstrap-server "$(B)" --describe --entity-type topics --entity-name "$TOPIC"
	expect_no_grep 'throttled' "$W/tconf2.out"

	run fast kafka-reassign-partitions --bootstrap-server "$(B)" --reassignment-json-file "$W/plan.json" --execute --throttle 50000000
	expect_grep "^Successfully started partition reassignments for $TOPIC-0,$TOPIC-1\$" "$W/fast.out"
	until_ok 120 "the reassignment of $TOPIC completed" eval 'kafka-reassign-partitions --bootstrap-server "$(B)" --reassignment-json-file "$W/plan.json" --verify > "$W/verify.out" 2>&1 && ! grep -q "in progress" "$W/verify.out"'
	cat "$W/verify.out"
	for p in 0 1; do expect_grep "^Reassignment of partition $TOPIC-$p is completed.\$" "$W/verify.out"; done
	expect_grep '^Clearing broker-level throttles on brokers 1,2,3$' "$W/verify.out"
	expect_grep "^Clearing topic-level throttles on topic $TOPIC\$" "$W/verify.out"
	until_ok 30 "$TOPIC on brokers 2 and 3 with full ISRs" eval 'describe m --topic "$TOPIC"; [ "$(partition_lines "$W/m" "$TOPIC" | grep -cP "\tIsr: [23],[23]\t")" -eq 2 ]'
	cat "$W/m"
	expect_grep $'^\tTopic: '"$TOPIC"$'\tPartition: 0\tLeader: 3\tReplicas: 3,2\t' "$W/m"
	expect_grep $'^\tTopic: '"$TOPIC"$'\tPartition: 1\tLeader: 2\tReplicas: 2,3\t' "$W/m"
	run rates2 kafka-configs --bootstrap-server "$(B)" --describe --entity-type brokers
	expect_no_grep 'throttled' "$W/rates2.out"

	printf '{"version":1,"partitions":[{"topic":"%s","partition":0,"replicas":[3,2,1]}]}\n' "$TOPIC" > "$W/rf.json"
	run rf kafka-reassign-partitions --bootstrap-server "$(B)" --reassignment-json-file "$W/rf.json" --execute
	until_ok 120 "the replication factor change of $TOPIC-0" eval 'kafka-reassign-partitions --bootstrap-server "$(B)" --reassignment-json-file "$W/rf.json" --verify > "$W/rfv.out" 2>&1 && grep -q "^Reassignment of partition $TOPIC-0 is completed.\$" "$W/rfv.out"'
	until_ok 30 "$TOPIC-0 with three replicas in the ISR" eval 'describe r --topic "$TOPIC"; partition_lines "$W/r" "$TOPIC" | grep -qP "\tPartition: 0\tLeader: 3\tReplicas: 3,2,1\tIsr: [123],[123],[123]\t"'
	cat "$W/r"
	expect_grep $'^Topic: '"$TOPIC"$'\tTopicId: [A-Za-z0-9_-]+\tPartitionCount: 2\tReplicationFactor: 3\t' "$W/r"

	kafka-console-consumer --bootstrap-server "$(B)" --topic "$TOPIC" --from-beginning --max-messages 12000 \
		--timeout-ms 30000 > "$W/got" 2> "$W/got.err" || true
	[ "$(wc -l < "$W/got")" -eq 12000 ] || { tail -n 5 "$W/got.err"; fail "read $(wc -l < "$W/got") of 12000 records after the moves"; }
}

# cluster-quorum-tools: kafka-metadata-quorum.sh describe --status and --replication (through a
# broker and through --bootstrap-controller), kafka-features.sh describe/upgrade/downgrade
# --dry-run and kafka-cluster.sh cluster-id/unregister on a 3-node combined cluster whose quorum
# is static (controller.quorum.voters): Kafka 4.3.1's fields and values, one leader and two
# followers, no directory IDs (kraft.version 0), the feature levels a new 4.3.1 cluster has.
cli_cluster_quorum_tools() {
	local props cport cid leader
	props="$(cat "$COMPAT_RUN/${COMPAT_CLUSTER#* }.dir")/node1/server.properties"
	cport=$(grep -oP '^listeners=.*CONTROLLER://127\.0\.0\.1:\K[0-9]+' "$props")
	[ -n "$cport" ] || fail "no CONTROLLER listener in $props"
	cid=$(cat "$COMPAT_RUN/${COMPAT_CLUSTER#* }.cid")

	run status kafka-metadata-quorum --bootstrap-server "$(B)" describe --status
	awk -F: '{print $1}' "$W/status.out" > "$W/status.keys"
	printf '%s\n' ClusterId LeaderId LeaderEpoch HighWatermark MaxFollowerLag MaxFollowerLagTimeMs CurrentVoters CurrentObservers > "$W/status.want"
	diff -u "$W/status.want" "$W/status.keys" || fail "describe --status fields differ from Kafka 4.3.1's (- Kafka, + this broker)"
	expect_grep "^ClusterId: +$cid\$" "$W/status.out"
	leader=$(grep -oP '^LeaderId: +\K[123]$' "$W/status.out") || fail "LeaderId is not one of the three controllers"
	voters="CurrentVoters:          [{\"id\": 1, \"endpoints\": [\"CONTROLLER://127.0.0.1:$cport\"]}, {\"id\": 2, \"endpoints\": [\"CONTROLLER://127.0.0.1:$((cport + 1))\"]}, {\"id\": 3, \"endpoints\": [\"CONTROLLER://127.0.0.1:$((cport + 2))\"]}]"
	grep -Fxq -- "$voters" "$W/status.out" || { cat "$W/status.out"; fail "want the line: $voters"; }
	expect_grep '^CurrentObservers: +\[\]$' "$W/status.out"
	expect_grep '^MaxFollowerLag: +[0-9]+$' "$W/status.out"

	for via in "--bootstrap-server $(B)" "--bootstrap-controller 127.0.0.1:$cport"; do
		# shellcheck disable=SC2086 # $via is two words
		run repl kafka-metadata-quorum $via describe --replication
		head -n 1 "$W/repl.out" | tr -s ' \t' ' ' > "$W/repl.head"
		echo 'NodeId DirectoryId LogEndOffset Lag LastFetchTimestamp LastCaughtUpTimestamp Status ' > "$W/repl.want"
		diff -u "$W/repl.want" "$W/repl.head" || fail "describe --replication ($via) header differs from Kafka 4.3.1's"
		tail -n +2 "$W/repl.out" | awk '{print $1, $2, $7}' | sort > "$W/repl.rows"
		{
			for n in 1 2 3; do
				if [ "$n" = "$leader" ]; then s=Leader; else s=Follower; fi
				echo "$n AAAAAAAAAAAAAAAAAAAAAA $s"
			done
		} > "$W/repl.rowswant"
		diff -u "$W/repl.rowswant" "$W/repl.rows" || fail "describe --replication ($via): voters, directory IDs or roles differ (- want, + got)"
	done

	run features kafka-features --bootstrap-server "$(B)" describe
	sed -E 's/ +/ /g; s/ Epoch: [0-9]+ *$//' "$W/features.out" > "$W/features.got"
	cat > "$W/features.want" <<-'EOF2'
		Feature: eligible.leader.replicas.version SupportedMinVersion: 0 SupportedMaxVersion: 1 FinalizedVersionLevel: 1
		Feature: group.version SupportedMinVersion: 0 SupportedMaxVersion: 1 FinalizedVersionLevel: 1
		Feature: kraft.version SupportedMinVersion: 0 SupportedMaxVersion: 1 FinalizedVersionLevel: 0
		Feature: metadata.version SupportedMinVersion: 3.3-IV3 SupportedMaxVersion: 4.3-IV0 FinalizedVersionLevel: 4.3-IV0
		Feature: share.version SupportedMinVersion: 0 SupportedMaxVersion: 1 FinalizedVersionLevel: 1
		Feature: streams.version SupportedMinVersion: 0 SupportedMaxVersion: 1 FinalizedVersionLevel: 1
		Feature: transaction.version SupportedMinVersion: 0 SupportedMaxVersion: 2 FinalizedVersionLevel: 2
	EOF2
	diff -u "$W/features.want" "$W/features.got" || fail "kafka-features describe differs from a new Kafka 4.3.1 cluster's (- Kafka, + this broker)"
	run dry kafka-features --bootstrap-server "$(B)" downgrade --feature group.version=0 --dry-run
	expect_grep '^group.version can be downgraded to 0.$' "$W/dry.out"
	run up kafka-features --bootstrap-server "$(B)" upgrade --feature group.version=1
	expect_grep '^group.version was upgraded to 1.$' "$W/up.out"
	run_fail unknown kafka-features --bootstrap-server "$(B)" upgrade --feature foo.version=1
	expect_grep '^Could not upgrade foo.version to 1. The update failed for all features since the following feature had an error: Invalid update version 1 for feature foo.version. Local controller [123] does not support this feature.$' "$W/unknown.out"

	run id kafka-cluster cluster-id --bootstrap-server "$(B)"
	expect_grep "^Cluster ID: $cid\$" "$W/id.out"
	run_fail unreg kafka-cluster unregister --bootstrap-server "$(B)" --id 99
	expect_grep 'BrokerIdNotRegisteredException: Broker ID 99 is not currently registered' "$W/unreg.out"
}

# cluster-follower-fetch: fetch from follower (KIP-392). Node i is in rack<i>, with Kafka's
# RackAwareReplicaSelector (lib/env.sh). A consumer (kcat, librdkafka) with client.rack naming
# a follower's rack is sent there by the leader's preferred read replica, and every record
# comes from that follower; without client.rack, every record comes from the leader.
cli_cluster_follower_fetch() {
	local leader follower
	run create kafka-topics --bootstrap-server "$(B)" --create --topic "$TOPIC" --partitions 1 --replication-factor 3
	until_ok 30 "$TOPIC with a full ISR" eval 'describe d --topic "$TOPIC"; partition_lines "$W/d" "$TOPIC" | grep -qP "\tIsr: [0-9]+,[0-9]+,[0-9]+\t"'
	cat "$W/d"
	leader=$(partition_lines "$W/d" "$TOPIC" | grep -oP '\tLeader: \K[0-9]+')
	follower=$(partition_lines "$W/d" "$TOPIC" | grep -oP '\tReplicas: \K[0-9,]+' | tr , '\n' | grep -vx "$leader" | head -n 1)
	[ -n "$leader" ] && [ -n "$follower" ] || fail "no leader and follower in the describe output"
	seq 1 200 > "$W/records"
	run produce kcat -P -b "$(B)" -t "$TOPIC" -X acks=all -l "$W/records"
	# served FILE: "broker-id count" for every broker that delivered records (kcat's debug log).
	served() { grep -oP '/\K[0-9]+(?=: Enqueue [0-9]+ message)|Enqueue \K[0-9]+(?= message)' "$1" | paste - - | awk '{n[$1] += $2} END {for (b in n) print b, n[b]}' | sort; }
	timeout 60 kcat -C -b "$(B)" -t "$TOPIC" -o beginning -c 200 -e -X client.rack="rack$follower" -d fetch,topic > "$W/rack.out" 2> "$W/rack.err" ||
		{ tail -n 20 "$W/rack.err"; fail "kcat with client.rack=rack$follower"; }
	diff -u "$W/records" "$W/rack.out" || fail "records read with client.rack=rack$follower"
	expect_grep "Topic $TOPIC \[0\]: migrating from broker $leader to $follower \(leader is $leader\): preferred replica updated" "$W/rack.err"
	served "$W/rack.err" > "$W/rack.served"
	echo "client.rack=rack$follower: records per broker: $(tr '\n' ';' < "$W/rack.served")"
	[ "$(cat "$W/rack.served")" = "$follower 200" ] || fail "with client.rack=rack$follower, records came from: $(cat "$W/rack.served")"
	timeout 60 kcat -C -b "$(B)" -t "$TOPIC" -o beginning -c 200 -e -d fetch,topic > "$W/norack.out" 2> "$W/norack.err" ||
		{ tail -n 20 "$W/norack.err"; fail "kcat without client.rack"; }
	diff -u "$W/records" "$W/norack.out" || fail "records read without client.rack"
	expect_no_grep "preferred replica updated" "$W/norack.err"
	served "$W/norack.err" > "$W/norack.served"
	[ "$(cat "$W/norack.served")" = "$leader 200" ] || fail "without client.rack, records came from: $(cat "$W/norack.served")"
}
