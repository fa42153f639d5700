# Kafka Streams 4.3.1 (java/WordCount.java): word count with processing.guarantee=exactly_once_v2;
# the output topic, read with read_committed, must end at the exact counts.

streams_streams_wordcount_eos() {
	"$COMPAT_DIR/lib/javac.sh" "$KAFKA_VERSION"
	JAVA_EXTRA_CP=$COMPAT_JAVA_CLASSES/$KAFKA_VERSION java_tool WordCount "$BOOTSTRAP" "$TOPIC" 500 "$W/state"
}
