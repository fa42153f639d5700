// Java-client scenarios for the compatibility matrix, compiled by lib/javac.sh against
// kafka-clients 4.3.1 and 3.9.2 (so only API both have):
//
//     java Compat SCENARIO BOOTSTRAP TOPIC [ARGS...]
//
// Exits 0 when the scenario passed. Records carry keys and headers on partition 0 of TOPIC,
// as in test/compat/go.
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class Compat {
    static String bootstrap;

    public static void main(String[] args) throws Exception {
        String scenario = args[0];
        bootstrap = args[1];
        String topic = args[2];
        switch (scenario) {
            case "produce-consume": produceConsume(topic); break;
            case "eos-loop": eosLoop(topic); break;
            case "create-compacted": createCompacted(Arrays.copyOfRange(args, 2, args.length)); break;
            case "mirror-check": mirrorCheck(topic, args[3], Integer.parseInt(args[4])); break;
            case "produce-record-errors": produceRecordErrors(topic); break;
            default: throw new IllegalArgumentException("unknown scenario " + scenario);
        }
        System.out.println("java " + scenario + ": ok");
        System.exit(0);
    }

    static Properties props(Object... kv) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        for (int i = 0; i < kv.length; i += 2) p.put(kv[i], kv[i + 1]);
        return p;
    }

    static KafkaProducer<String, String> producer(Object... kv) {
        return new KafkaProducer<>(props(kv), new StringSerializer(), new StringSerializer());
    }

    static KafkaConsumer<String, String> consumer(Object... kv) {
        Properties p = props(kv);
        p.putIfAbsent("enable.auto.commit", "false");
        p.putIfAbsent("auto.offset.reset", "earliest");
        return new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer());
    }

    static void check(boolean ok, String msg) {
        if (!ok) throw new AssertionError(msg);
    }

    static String header(ConsumerRecord<String, String> r, String key) {
        Header h = r.headers().lastHeader(key);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    static void createTopics(String... names) throws Exception {
        try (Admin a = Admin.create(props())) {
            List<NewTopic> ts = new ArrayList<>();
            for (String n : names) ts.add(new NewTopic(n, 1, (short) 1));
            a.createTopics(ts).all().get();
        }
    }

    // createCompacted creates compacted topics (Connect's internal topics, which a broker with
    // auto.create.topics.enable could otherwise create first with cleanup.policy=delete).
    static void createCompacted(String... names) throws Exception {
        try (Admin a = Admin.create(props())) {
            List<NewTopic> ts = new ArrayList<>();
            for (String n : names) ts.add(new NewTopic(n, 1, (short) 1).configs(Map.of("cleanup.policy", "compact")));
            a.createTopics(ts).all().get();
        }
    }

    // readAll reads partition 0 of topic from the start until n records arrived (or timeout),
    // then keeps polling for a second to catch extra records.
    static List<ConsumerRecord<String, String>> readAll(String topic, int n, String isolation) {
        List<ConsumerRecord<String, String>> out = new ArrayList<>();
        try (KafkaConsumer<String, String> c = consumer("isolation.level", isolation)) {
            TopicPartition tp = new TopicPartition(topic, 0);
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            long deadline = System.currentTimeMillis() + 30_000, extra = Long.MAX_VALUE;
            while (System.currentTimeMillis() < Math.min(deadline, extra)) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) out.add(r);
                if (out.size() >= n && extra == Long.MAX_VALUE) extra = System.currentTimeMillis() + 1000;
            }
        }
        return out;
    }

    // produceConsume: 10 records with keys and two headers each, read back in order.
    static void produceConsume(String topic) throws Exception {
        int n = 10;
        try (KafkaProducer<String, String> p = producer("acks", "all", "linger.ms", "0")) {
            for (int i = 0; i < n; i++) {
                ProducerRecord<String, String> r = new ProducerRecord<>(topic, 0, "pc-key-" + i, "pc-value-" + i);
                r.headers().add("h1", "pc".getBytes(StandardCharsets.UTF_8));
                r.headers().add("idx", String.valueOf(i).getBytes(StandardCharsets.UTF_8));
                p.send(r).get();
            }
        }
        List<ConsumerRecord<String, String>> got = readAll(topic, n, "read_uncommitted");
        check(got.size() == n, "got " + got.size() + " records, want " + n);
        for (int i = 0; i < n; i++) {
            ConsumerRecord<String, String> r = got.get(i);
            check(r.key().equals("pc-key-" + i) && r.value().equals("pc-value-" + i),
                    "record " + i + ": got " + r.key() + " " + r.value());
            check("pc".equals(header(r, "h1")) && String.valueOf(i).equals(header(r, "idx")),
                    "record " + i + ": headers " + r.headers());
        }
    }

    // produceRecordErrors: one batch of 100 records, 10 without a key, to a compacted topic. From
    // the response's record errors (KIP-467) the producer fails the 10 with the broker's
    // InvalidRecordException message and the other 90 with a KafkaException saying a record of
    // their batch was invalid. Nothing was appended; the 90 resent go in (issue 11).
    static void produceRecordErrors(String topic) throws Exception {
        createCompacted(topic);
        String keyless = "Compacted topic cannot accept message without key in topic partition " + topic + "-0";
        Map<Integer, Exception> errs = new TreeMap<>();
        List<Integer> keyed = new ArrayList<>();
        try (KafkaProducer<String, String> p = producer("acks", "all", "linger.ms", "500")) {
            p.partitionsFor(topic); // metadata first, so all 100 wait in one batch
            for (int i = 0; i < 100; i++) {
                final int idx = i;
                String key = i % 10 == 3 ? null : "re-key-" + i;
                if (key != null) keyed.add(i);
                p.send(new ProducerRecord<>(topic, 0, key, "re-value-" + i), (md, e) -> {
                    synchronized (errs) { errs.put(idx, e); }
                });
            }
            p.flush();
        }
        check(errs.size() == 100, errs.size() + " callbacks, want 100");
        for (Map.Entry<Integer, Exception> e : errs.entrySet()) {
            Exception x = e.getValue();
            if (keyed.contains(e.getKey())) {
                check(x != null && !(x instanceof org.apache.kafka.common.InvalidRecordException)
                        && x.getMessage().contains("part of a batch which had one more more invalid records"),
                        "keyed record " + e.getKey() + ": " + x);
            } else {
                check(x instanceof org.apache.kafka.common.InvalidRecordException && keyless.equals(x.getMessage()),
                        "keyless record " + e.getKey() + ": " + x);
            }
        }
        try (KafkaProducer<String, String> p = producer("acks", "all")) {
            for (int i : keyed) p.send(new ProducerRecord<>(topic, 0, "re-key-" + i, "re-value-" + i)).get();
        }
        List<ConsumerRecord<String, String>> got = readAll(topic, keyed.size(), "read_uncommitted");
        check(got.size() == keyed.size(), "got " + got.size() + " records, want " + keyed.size());
        for (int j = 0; j < got.size(); j++) {
            check(got.get(j).key().equals("re-key-" + keyed.get(j)), "record " + j + ": key " + got.get(j).key());
        }
    }

    // eosLoop: consume-transform-produce with sendOffsetsToTransaction. N input records are
    // upper-cased into TOPIC-out in transactions of up to 10; the third transaction is aborted
    // and its input re-read. A read_committed reader must see every output exactly once, a
    // read_uncommitted one also the aborted batch, and the group's committed offset must be N.
    static void eosLoop(String in) throws Exception {
        int n = 100;
        String out = in + "-out", group = in + "-g";
        createTopics(in, out);
        try (KafkaProducer<String, String> p = producer("acks", "all")) {
            for (int i = 0; i < n; i++) p.send(new ProducerRecord<>(in, 0, "k-" + i, "in-" + i));
        }
        int committed = 0, aborted = 0, txns = 0;
        try (KafkaConsumer<String, String> c = consumer("group.id", group, "isolation.level", "read_committed",
                "max.poll.records", "10");
             KafkaProducer<String, String> p = producer("transactional.id", in + "-tx")) {
            p.initTransactions();
            c.subscribe(List.of(in));
            long deadline = System.currentTimeMillis() + 60_000;
            while (committed < n) {
                check(System.currentTimeMillis() < deadline, "timed out after committing " + committed + " of " + n);
                ConsumerRecords<String, String> rs = c.poll(Duration.ofMillis(200));
                if (rs.isEmpty()) continue;
                p.beginTransaction();
                Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
                Map<TopicPartition, Long> first = new HashMap<>();
                for (ConsumerRecord<String, String> r : rs) {
                    p.send(new ProducerRecord<>(out, 0, r.key(), r.value().toUpperCase()));
                    TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                    first.putIfAbsent(tp, r.offset());
                    next.put(tp, new OffsetAndMetadata(r.offset() + 1));
                }
                if (++txns == 3) {
                    p.flush(); // the aborted records reach the log
                    p.abortTransaction();
                    aborted = rs.count();
                    first.forEach(c::seek);
                    continue;
                }
                p.sendOffsetsToTransaction(next, c.groupMetadata());
                p.commitTransaction();
                committed += rs.count();
            }
        }
        check(committed == n, "committed " + committed + " records, want " + n);
        List<ConsumerRecord<String, String>> got = readAll(out, n, "read_committed");
        check(got.size() == n, "read_committed: got " + got.size() + " records, want exactly " + n);
        for (int i = 0; i < n; i++) {
            check(got.get(i).value().equals("IN-" + i), "read_committed record " + i + " is " + got.get(i).value());
        }
        int all = readAll(out, n + aborted, "read_uncommitted").size();
        check(all == n + aborted, "read_uncommitted: got " + all + " records, want " + n + " + " + aborted + " aborted");
        try (Admin a = Admin.create(props())) {
            OffsetAndMetadata o = a.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get()
                    .get(new TopicPartition(in, 0));
            check(o != null && o.offset() == n, "group " + group + " committed " + o + ", want offset " + n);
        }
    }

    // mirrorCheck (for scenarios/mm2.sh, run against the target cluster): TOPIC must fill up to
    // n records from the source, and the group's committed offset n must be translated to it.
    static void mirrorCheck(String topic, String group, int n) throws Exception {
        TopicPartition tp = new TopicPartition(topic, 0);
        long deadline = System.currentTimeMillis() + 150_000;
        String state = "";
        try (Admin a = Admin.create(props());
             KafkaConsumer<String, String> c = consumer()) {
            List<String> values = new ArrayList<>();
            boolean assigned = false;
            while (System.currentTimeMillis() < deadline) {
                if (!assigned && a.listTopics().names().get().contains(topic)) {
                    c.assign(List.of(tp));
                    c.seekToBeginning(List.of(tp));
                    assigned = true;
                }
                if (assigned) for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) values.add(r.value());
                else Thread.sleep(500);
                OffsetAndMetadata o = a.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get().get(tp);
                String s = "topic " + topic + (assigned ? " has " + values.size() + " records" : " missing")
                        + ", group " + group + " offset " + (o == null ? "none" : o.offset());
                if (!s.equals(state)) System.out.println(s);
                state = s;
                // The source group committed n, and A.TOPIC's offsets equal TOPIC's (a fresh copy),
                // so with offset.lag.max=0 the translated offset reaches exactly n.
                if (values.size() >= n && o != null && o.offset() == n) {
                    check(values.size() == n, "mirrored " + values.size() + " records, want " + n);
                    for (int i = 0; i < n; i++) check(values.get(i).equals("mm-" + i), "mirrored record " + i + " is " + values.get(i));
                    return;
                }
            }
        }
        throw new AssertionError("timed out: " + state);
    }
}
