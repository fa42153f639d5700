import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.StreamsGroupDescription;
import org.apache.kafka.clients.admin.StreamsGroupMemberAssignment;
import org.apache.kafka.clients.admin.StreamsGroupMemberDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.*;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Produced;

// StreamsRebalance: two Kafka Streams 4.3.1 instances with group.protocol=streams share a
// word count over a 4-partition input (8 tasks): the broker splits the tasks 4/4, moves them
// all to the first instance when the second closes, and the exactly_once_v2 output ends at
// the exact counts. Usage: StreamsRebalance BOOTSTRAP TOPIC STATE_DIR
public class StreamsRebalance {
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], in = args[1], out = in + "-counts", app = in + "-app";
        Properties base = new Properties();
        base.put("bootstrap.servers", bootstrap);
        String rf = Optional.ofNullable(System.getenv("COMPAT_RF")).orElse("1");
        try (Admin a = Admin.create(base)) {
            a.createTopics(List.of(new NewTopic(in, 4, Short.parseShort(rf)), new NewTopic(out, 1, Short.parseShort(rf)))).all().get();
        }
        Map<String, Long> want = new TreeMap<>();
        produce(base, in, 0, 300, want);

        KafkaStreams first = start(base, in, out, app, args[2] + "/a");
        awaitGroup(base, app, 1, 8, 8, first);
        KafkaStreams second = start(base, in, out, app, args[2] + "/b");
        awaitGroup(base, app, 2, 4, 4, first, second);
        System.out.println("two members: 4 active tasks each");
        produce(base, in, 300, 600, want);
        second.close(Duration.ofSeconds(30));
        awaitGroup(base, app, 1, 8, 8, first);
        System.out.println("one member left: the other holds all 8 tasks");
        produce(base, in, 600, 900, want);

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
                if (System.currentTimeMillis() > deadline || first.state() == KafkaStreams.State.ERROR) {
                    System.err.println("FAIL: streams " + first.state() + "; counts " + got + ", want " + want);
                    System.exit(1);
                }
                for (ConsumerRecord<String, Long> r : c.poll(Duration.ofMillis(500))) got.put(r.key(), r.value());
            }
        }
        first.close(Duration.ofSeconds(30));
        System.out.println("rebalance: final counts " + got);
        System.exit(0);
    }

    static void produce(Properties base, String topic, int from, int to, Map<String, Long> want) {
        try (KafkaProducer<String, String> p = new KafkaProducer<>(base, new StringSerializer(), new StringSerializer())) {
            for (int i = from; i < to; i++) {
                String line = "w" + (i % 5) + " every";
                for (String w : line.split(" ")) want.merge(w, 1L, Long::sum);
                p.send(new ProducerRecord<>(topic, i % 4, null, line));
            }
        }
    }

    static KafkaStreams start(Properties base, String in, String out, String app, String stateDir) {
        StreamsBuilder b = new StreamsBuilder();
        b.<String, String>stream(in)
                .flatMapValues(v -> Arrays.asList(v.split(" ")))
                .groupBy((k, w) -> w)
                .count()
                .toStream()
                .to(out, Produced.with(Serdes.String(), Serdes.Long()));
        Properties sp = new Properties();
        sp.putAll(base);
        sp.put("application.id", app);
        sp.put("group.protocol", "streams");
        sp.put("processing.guarantee", "exactly_once_v2");
        sp.put("replication.factor", Optional.ofNullable(System.getenv("COMPAT_RF")).orElse("1"));
        sp.put("num.stream.threads", "1");
        sp.put("commit.interval.ms", "200");
        sp.put("state.dir", stateDir);
        sp.put("default.key.serde", Serdes.String().getClass().getName());
        sp.put("default.value.serde", Serdes.String().getClass().getName());
        sp.put("consumer.auto.offset.reset", "earliest");
        KafkaStreams s = new KafkaStreams(b.build(), sp);
        s.setUncaughtExceptionHandler(e -> {
            e.printStackTrace();
            return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        s.start();
        return s;
    }

    // awaitGroup waits until the group is Stable with members members, each holding between
    // min and max active tasks, all 8 tasks held once, and the instances running them.
    static void awaitGroup(Properties base, String app, int members, int min, int max, KafkaStreams... instances) throws Exception {
        try (Admin a = Admin.create(base)) {
            long deadline = System.currentTimeMillis() + 90_000;
            String last = "";
            while (System.currentTimeMillis() < deadline) {
                StreamsGroupDescription d;
                try {
                    d = a.describeStreamsGroups(List.of(app)).describedGroups().get(app).get();
                } catch (java.util.concurrent.ExecutionException e) {
                    last = e.getCause().toString(); // not created yet
                    Thread.sleep(200);
                    continue;
                }
                Set<String> all = new TreeSet<>();
                boolean ok = d.groupState() == GroupState.STABLE && d.members().size() == members;
                List<Integer> sizes = new ArrayList<>();
                for (StreamsGroupMemberDescription m : d.members()) {
                    int n = 0;
                    for (StreamsGroupMemberAssignment.TaskIds t : m.assignment().activeTasks())
                        for (int p : t.partitions()) {
                            ok &= all.add(t.subtopologyId() + "_" + p);
                            n++;
                        }
                    sizes.add(n);
                    ok &= n >= min && n <= max;
                }
                List<Integer> local = new ArrayList<>();
                for (KafkaStreams k : instances) {
                    int n = 0;
                    for (org.apache.kafka.streams.ThreadMetadata t : k.metadataForLocalThreads()) n += t.activeTasks().size();
                    local.add(n);
                    ok &= n >= min && n <= max && k.state() == KafkaStreams.State.RUNNING;
                }
                last = d.groupState() + " " + sizes + " " + all + ", instances run " + local;
                if (ok && all.size() == 8) return;
                Thread.sleep(200);
            }
            System.err.println("FAIL: group " + app + " did not settle on " + members + " member(s): " + last);
            System.exit(1);
        }
    }
}
