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
