// Kafka Streams word count with processing.guarantee=exactly_once_v2, for
// scenarios/streams.sh; compiled by lib/javac.sh against kafka-streams 4.3.1:
//
//     java WordCount BOOTSTRAP TOPIC LINES STATE_DIR
//
// Writes LINES lines to TOPIC, counts their words into TOPIC-counts and reads that topic with
// read_committed until every word's latest count is the expected final count. Exit 0 = pass.
import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.StreamsGroupDescription;
import org.apache.kafka.clients.admin.StreamsGroupMemberAssignment;
import org.apache.kafka.clients.admin.StreamsGroupMemberDescription;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.*;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Produced;

public class WordCount {
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], in = args[1], out = in + "-counts";
        int lines = Integer.parseInt(args[2]);
        // COMPAT_RF: the replication factor run.sh wants (1, or 3 on a cluster column).
        String rf = Optional.ofNullable(System.getenv("COMPAT_RF")).orElse("1");
        Properties base = new Properties();
        base.put("bootstrap.servers", bootstrap);
        try (Admin a = Admin.create(base)) {
            a.createTopics(List.of(new NewTopic(in, 1, Short.parseShort(rf)), new NewTopic(out, 1, Short.parseShort(rf)))).all().get();
        }

        Map<String, Long> want = new TreeMap<>();
        try (KafkaProducer<String, String> p = new KafkaProducer<>(base, new StringSerializer(), new StringSerializer())) {
            for (int i = 0; i < lines; i++) {
                String line = "w" + (i % 7) + " w" + (i % 3) + " every";
                for (String w : line.split(" ")) want.merge(w, 1L, Long::sum);
                p.send(new ProducerRecord<>(in, 0, null, line));
            }
        }

        StreamsBuilder b = new StreamsBuilder();
        b.<String, String>stream(in)
                .flatMapValues(v -> Arrays.asList(v.split(" ")))
                .groupBy((k, w) -> w)
                .count()
                .toStream()
                .to(out, Produced.with(Serdes.String(), Serdes.Long()));
        Properties sp = new Properties();
        sp.putAll(base);
        sp.put("application.id", in + "-app");
        sp.put("processing.guarantee", "exactly_once_v2");
        sp.put("replication.factor", rf);
        sp.put("num.stream.threads", "1");
        sp.put("commit.interval.ms", "200");
        sp.put("state.dir", args[3]);
        sp.put("default.key.serde", Serdes.String().getClass().getName());
        sp.put("default.value.serde", Serdes.String().getClass().getName());
        sp.put("consumer.auto.offset.reset", "earliest");
        // An optional fifth argument picks the rebalance protocol: "streams"
        // for KIP-1071 (broker-side task assignment), else the classic one.
        if (args.length > 4) sp.put("group.protocol", args[4]);
        KafkaStreams streams = new KafkaStreams(b.build(), sp);
        streams.setUncaughtExceptionHandler(e -> {
            e.printStackTrace();
            return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        streams.start();

        Properties cp = new Properties();
        cp.putAll(base);
        cp.put("isolation.level", "read_committed");
        Map<String, Long> got = new TreeMap<>();
        try (KafkaConsumer<String, Long> c = new KafkaConsumer<>(cp, new StringDeserializer(), new LongDeserializer())) {
            TopicPartition tp = new TopicPartition(out, 0);
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            long deadline = System.currentTimeMillis() + 120_000;
            while (!got.equals(want)) {
                if (System.currentTimeMillis() > deadline || streams.state() == KafkaStreams.State.ERROR
                        || streams.state() == KafkaStreams.State.NOT_RUNNING) {
                    System.err.println("FAIL: streams " + streams.state() + "; counts " + got + ", want " + want);
                    streams.close(Duration.ofSeconds(10));
                    System.exit(1);
                }
                for (ConsumerRecord<String, Long> r : c.poll(Duration.ofMillis(500))) got.put(r.key(), r.value());
            }
        }
        if (args.length > 4 && args[4].equals("streams")) describeStreamsGroup(base, in + "-app");
        streams.close(Duration.ofSeconds(10));
        System.out.println("wordcount: " + lines + " lines, final counts " + got);
        System.exit(0);
    }

    // describeStreamsGroup checks, through Admin#describeStreamsGroups (StreamsGroupDescribe), that
    // the application runs as a KIP-1071 streams group: one member holding both subtopologies' task.
    static void describeStreamsGroup(Properties base, String app) throws Exception {
        try (Admin a = Admin.create(base)) {
            long deadline = System.currentTimeMillis() + 30_000;
            while (true) {
                StreamsGroupDescription d = a.describeStreamsGroups(List.of(app)).describedGroups().get(app).get();
                List<String> active = new ArrayList<>();
                for (StreamsGroupMemberDescription m : d.members())
                    for (StreamsGroupMemberAssignment.TaskIds t : m.assignment().activeTasks())
                        for (int p : t.partitions()) active.add(t.subtopologyId() + "_" + p);
                Collections.sort(active);
                String line = "streams group " + d.groupId() + ": " + d.groupState() + ", " + d.members().size()
                        + " member(s), " + d.subtopologies().size() + " subtopologies, active tasks " + active;
                if (d.groupState() == GroupState.STABLE && d.members().size() == 1 && active.size() == 2) {
                    System.out.println(line);
                    return;
                }
                if (System.currentTimeMillis() > deadline) {
                    System.err.println("FAIL: " + line);
                    System.exit(1);
                }
                Thread.sleep(200);
            }
        }
    }
}
