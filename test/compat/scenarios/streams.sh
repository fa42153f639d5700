# Kafka Streams 4.3.1 (java/WordCount.java): word count with processing.guarantee=exactly_once_v2;
# the output topic, read with read_committed, must end at the exact counts.

streams_streams_wordcount_eos() {
	"$COMPAT_DIR/lib/javac.sh" "$KAFKA_VERSION"
	JAVA_EXTRA_CP=$COMPAT_JAVA_CLASSES/$KAFKA_VERSION java_tool WordCount "$BOOTSTRAP" "$TOPIC" 500 "$W/state"
}

# The same word count with group.protocol=streams (KIP-1071): the broker assigns the tasks and
# creates the repartition and changelog topics; WordCount checks the group through
# Admin#describeStreamsGroups (Stable, one member, both subtopologies' tasks). Then Kafka's
# kafka-streams-groups.sh lists the group and describes it once the application has left.
streams_streams_wordcount_streams_protocol() {
	"$COMPAT_DIR/lib/javac.sh" "$KAFKA_VERSION"
	JAVA_EXTRA_CP=$COMPAT_JAVA_CLASSES/$KAFKA_VERSION run wc java_tool WordCount "$BOOTSTRAP" "$TOPIC" 500 "$W/state" streams
	expect_grep "^streams group $TOPIC-app: Stable, 1 member\(s\), 2 subtopologies, active tasks \[0_0, 1_0\]" "$W/wc.out"
	expect_grep '^wordcount: 500 lines, final counts' "$W/wc.out"
	run list kafka-streams-groups.sh --bootstrap-server "$BOOTSTRAP" --list
	expect_grep "^$TOPIC-app\$" "$W/list.out"
	run state kafka-streams-groups.sh --bootstrap-server "$BOOTSTRAP" --describe --group "$TOPIC-app" --state
	expect_grep "^$TOPIC-app +[^ ]+ \([0-9]+\) +Empty +0\$" "$W/state.out"
}

# Two Kafka Streams instances with group.protocol=streams (java/StreamsRebalance.java) share a
# word count over 4 partitions: the broker splits the 8 tasks 4/4 (the first instance revokes
# before the second gets them), gives them all back to the first when the second closes, and
# the exactly_once_v2 output ends at the exact counts.
streams_streams_rebalance_streams_protocol() {
	"$COMPAT_DIR/lib/javac.sh" "$KAFKA_VERSION"
	JAVA_EXTRA_CP=$COMPAT_JAVA_CLASSES/$KAFKA_VERSION run reb java_tool StreamsRebalance "$BOOTSTRAP" "$TOPIC" "$W/state"
	expect_grep '^two members: 4 active tasks each$' "$W/reb.out"
	expect_grep '^rebalance: final counts \{every=900, w0=180, w1=180, w2=180, w3=180, w4=180\}$' "$W/reb.out"
}
