# MirrorMaker 2 (connect-mirror 4.3.1, dedicated mode) mirrors TOPIC and a consumer group's
# committed offsets from this target (cluster A) to a second cluster B of the same kind:
# a second reference Kafka on 17092/17093, or a second Spool node on 27192/27193.

mm2_mm2_mirror() {
	local n=20 b
	MM2_KIND=${COMPAT_TARGET%3} # a cluster column mirrors to a single node of its kind
	case $MM2_KIND in
	kafka) MM2_PEER=ref2 b=127.0.0.1:17092 ;;
	spool) MM2_PEER=spool2 b=127.0.0.1:27192 ;;
	*) fail "unknown COMPAT_TARGET=$COMPAT_TARGET" ;;
	esac
	trap 'exit 143' TERM
	trap 'rm -rf "$W"; [ -n "${MM2_PID:-}" ] && stop_bg $MM2_PID 2; "$COMPAT_DIR/lib/$MM2_KIND.sh" stop $MM2_PEER || true' EXIT
	if [ "$MM2_KIND" = kafka ]; then
		"$COMPAT_DIR/lib/kafka.sh" start ref2 17092 17093
	else
		"$COMPAT_DIR/lib/spool.sh" start spool2 27192 27193
	fi
	"$COMPAT_DIR/lib/javac.sh" "$KAFKA_VERSION"

	mktopic "$TOPIC"
	for ((i = 0; i < n; i++)); do echo "mm-$i"; done | kafka-console-producer --bootstrap-server "$BOOTSTRAP" --topic "$TOPIC"
	# The group reads everything and commits on close; MM2 translates that offset for B.
	kafka-console-consumer --bootstrap-server "$BOOTSTRAP" --topic "$TOPIC" --group "$TOPIC-g" --from-beginning \
		--max-messages $n --timeout-ms 20000 > "$W/got"
	expect_count $n "$W/got"

	cat > "$W/mm2.properties" <<PROPS
clusters=A,B
A.bootstrap.servers=$BOOTSTRAP
B.bootstrap.servers=$b
A->B.enabled=true
A->B.topics=$TOPIC
A->B.groups=$TOPIC-g
B->A.enabled=false
replication.factor=1
checkpoints.topic.replication.factor=1
heartbeats.topic.replication.factor=1
offset-syncs.topic.replication.factor=1
offset.storage.replication.factor=1
status.storage.replication.factor=1
config.storage.replication.factor=1
sync.group.offsets.enabled=true
sync.group.offsets.interval.seconds=1
emit.checkpoints.interval.seconds=1
emit.heartbeats.interval.seconds=1
refresh.topics.interval.seconds=1
refresh.groups.interval.seconds=1
offset.lag.max=0
PROPS
	# MM2's worker for A->B keeps its state in compacted topics on B; made here, as a client's
	# metadata request can otherwise auto-create one with cleanup.policy=delete first.
	COMPAT_RF=1 JAVA_EXTRA_CP=$COMPAT_JAVA_CLASSES/$KAFKA_VERSION java_tool Compat create-compacted "$b" \
		mm2-offsets.A.internal mm2-configs.A.internal mm2-status.A.internal
	connect-mirror-maker "$W/mm2.properties" > "$W/mm2.log" 2>&1 &
	MM2_PID=$!
	if ! JAVA_EXTRA_CP=$COMPAT_JAVA_CLASSES/$KAFKA_VERSION java_tool Compat mirror-check "$b" "A.$TOPIC" "$TOPIC-g" $n; then
		echo "--- mm2 log (errors):"; grep -E 'ERROR|Exception' "$W/mm2.log" | head -n 40
		fail "MirrorMaker 2 did not mirror $TOPIC and group $TOPIC-g to B"
	fi
}
