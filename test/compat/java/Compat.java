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
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.InvalidTxnStateException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class Compat {
    static String bootstrap;
    /** The replication factor for topics scenarios create: COMPAT_RF (run.sh: 1, or 3 on a cluster column). */
    static final short RF = Short.parseShort(Optional.ofNullable(System.getenv("COMPAT_RF")).orElse("1"));

    public static void main(String[] args) throws Exception {
        String scenario = args[0];
        bootstrap = args[1];
        String topic = args[2];
        switch (scenario) {
            case "produce-consume": produceConsume(topic); break;
            case "eos-loop": eosLoop(topic); break;
            case "eos-rebalance-eager": eosRebalance(topic, "eager"); break;
            case "eos-rebalance-cooperative": eosRebalance(topic, "cooperative"); break;
            case "eos-rebalance-consumer": eosRebalance(topic, "consumer"); break;
            case "regex-848": regex848(topic); break;
            case "create-compacted": createCompacted(Arrays.copyOfRange(args, 2, args.length)); break;
            case "mirror-check": mirrorCheck(topic, args[3], Integer.parseInt(args[4])); break;
            case "produce-record-errors": produceRecordErrors(topic); break;
            // ShareCompat.java is compiled against kafka-clients 4.x only.
            case "share-consumer": Class.forName("ShareCompat").getMethod("run", String.class, String.class, short.class)
                    .invoke(null, bootstrap, topic, RF); break;
            default: throw new IllegalArgumentException("unknown scenario " + scenario);
        }
        System.out.println("java " + scenario + ": ok");
        System.exit(0);
    }

    static Properties props(Object... kv) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        // The SASL_SSL columns (lib/secure.sh): security.protocol, sasl.*, ssl.truststore.*.
        String sec = System.getenv("COMPAT_CLIENT_CONFIG");
        if (sec != null && !sec.isEmpty()) {
            try (java.io.FileInputStream in = new java.io.FileInputStream(sec)) {
                p.load(in);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
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
            for (String n : names) ts.add(new NewTopic(n, 1, RF));
            a.createTopics(ts).all().get();
        }
    }

    // createCompacted creates compacted topics (Connect's internal topics, which a broker with
    // auto.create.topics.enable could otherwise create first with cleanup.policy=delete).
    static void createCompacted(String... names) throws Exception {
        try (Admin a = Admin.create(props())) {
            List<NewTopic> ts = new ArrayList<>();
            for (String n : names) ts.add(new NewTopic(n, 1, RF).configs(Map.of("cleanup.policy", "compact")));
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

    // eosRebalance: a transactional ETL (consume-transform-produce, sendOffsetsToTransaction,
    // one transaction per poll) run by a group whose members join, leave and restart while it
    // works, each member with its own transactional.id. variant picks the group protocol:
    // "eager" (classic, RangeAssignor), "cooperative" (classic, CooperativeStickyAssignor, static
    // members) or "consumer" (KIP-848, one static member). A member that sees an error aborts and
    // rewinds to its committed offsets, as Kafka's examples do; INVALID_TXN_STATE, a fenced
    // producer or a failed abort fails the scenario. At the end a read_committed reader must see
    // every input record exactly once, and the group's offsets must be at the end of the input.
    static void eosRebalance(String in, String variant) throws Exception {
        int n = 1200, parts = 6;
        String out = in + "-out", group = in + "-g";
        try (Admin a = Admin.create(props())) {
            a.createTopics(List.of(new NewTopic(in, parts, RF), new NewTopic(out, 3, RF))).all().get();
        }
        Map<String, Integer> errors = new ConcurrentHashMap<>();
        AtomicInteger moved = new AtomicInteger(), produced = new AtomicInteger();
        List<EtlMember> members = new ArrayList<>();
        Thread feeder = new Thread(() -> { // 100 records a second, so the work spans the rebalances
            try (KafkaProducer<String, String> p = producer("acks", "all", "linger.ms", "5")) {
                for (int i = 0; i < n; i++) {
                    p.send(new ProducerRecord<>(in, i % parts, "k-" + i, "in-" + i));
                    produced.incrementAndGet();
                    if (i % 10 == 9) Thread.sleep(100);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        feeder.start();
        long deadline = System.currentTimeMillis() + 120_000;
        boolean statics = !variant.equals("eager");
        // The schedule: (moved records reached, action). Static members restart (a classic static
        // member's close does not leave the group); dynamic ones leave.
        Object[][] plan = {
            {0, "start", 0}, {0, "start", 1}, {150, "start", 2}, {350, variant.equals("eager") ? "stop" : "restart", 0},
            {550, "start", 3}, {750, "stop", 1}, {900, "restart", statics ? 2 : 3},
        };
        int step = 0;
        try {
            while (true) {
                check(System.currentTimeMillis() < deadline, "timed out: moved " + moved.get() + " of " + n + ", errors " + errors);
                for (EtlMember m : members) check(m.failure == null, m.name + " failed: " + m.failure);
                if (step < plan.length && moved.get() >= (Integer) plan[step][0]) {
                    int idx = (Integer) plan[step][2];
                    String action = (String) plan[step][1];
                    boolean isStatic = statics && (variant.equals("cooperative") || idx == 2);
                    if (!action.equals("start")) members.get(idx).close();
                    if (!action.equals("stop")) {
                        EtlMember m = new EtlMember(in, out, group, variant, idx, isStatic, moved, errors);
                        if (action.equals("start")) members.add(m); else members.set(idx, m);
                        m.start();
                    }
                    System.out.println(action + " member " + idx + (isStatic ? " (static)" : "") + " at " + moved.get() + " moved");
                    step++;
                    continue;
                }
                if (step == plan.length && produced.get() == n && groupAtEnd(in, group)) break;
                Thread.sleep(200);
            }
        } finally {
            feeder.join();
            for (EtlMember m : members) m.close();
        }
        System.out.println("moved " + moved.get() + " records (with re-processing after aborts), errors " + errors);
        for (EtlMember m : members) check(m.failure == null, m.name + " failed: " + m.failure);
        Map<String, Integer> seen = new HashMap<>();
        for (ConsumerRecord<String, String> r : readAllPartitions(out, n, "read_committed")) seen.merge(r.value(), 1, Integer::sum);
        List<String> wrong = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Integer c = seen.remove("IN-" + i);
            if (c == null || c != 1) wrong.add("IN-" + i + " x" + (c == null ? 0 : c));
        }
        check(wrong.isEmpty() && seen.isEmpty(), "not exactly once: " + wrong.size() + " wrong " + wrong.subList(0, Math.min(10, wrong.size()))
                + ", unexpected " + seen.keySet());
    }

    // regex848: KIP-848 (group.protocol=consumer) regex subscriptions. A SubscriptionPattern is
    // resolved by the group coordinator against every topic, internal ones included: one that
    // names __consumer_offsets, quoted or not, is assigned all its partitions and reads the
    // group commits in it; a pattern for TOPIC gets only TOPIC. A java.util.regex.Pattern is
    // resolved by the client (leaving internal topics out): one that matches nothing yet joins
    // with an empty subscription and picks up a matching topic created later. SubscriptionPattern
    // is kafka-clients 4.0+, so it is reached by reflection (this file also builds against 3.9).
    static void regex848(String topic) throws Exception {
        createTopics(topic);
        try (KafkaProducer<String, String> p = producer("acks", "all")) {
            for (int i = 0; i < 5; i++) p.send(new ProducerRecord<>(topic, 0, "k-" + i, "rx-" + i));
        }
        int offsetsPartitions;
        try (Admin a = Admin.create(props())) {
            // A group commit, so __consumer_offsets exists and holds a record.
            a.alterConsumerGroupOffsets(topic + "-seed", Map.of(new TopicPartition(topic, 0), new OffsetAndMetadata(1))).all().get();
            offsetsPartitions = a.describeTopics(List.of("__consumer_offsets")).allTopicNames().get()
                    .get("__consumer_offsets").partitions().size();
        }
        for (String regex : List.of("__consumer_offsets", "\\Q__consumer_offsets\\E", "__consumer_offs.*")) {
            Map<String, Integer> got = consumeSubscription(topic + "-g-" + regex.hashCode(), regex, true, "__consumer_offsets", 1);
            check(got.getOrDefault("assigned:__consumer_offsets", 0) == offsetsPartitions,
                    "regex " + regex + ": assigned " + got + ", want " + offsetsPartitions + " partitions of __consumer_offsets");
            check(got.getOrDefault("__consumer_offsets", 0) >= 1, "regex " + regex + ": read no record of __consumer_offsets: " + got);
        }
        Map<String, Integer> got = consumeSubscription(topic + "-g-own", java.util.regex.Pattern.quote(topic), true, topic, 5);
        check(got.equals(Map.of("assigned:" + topic, 1, topic, 5)), "regex for the topic only: " + got);

        // A client-side Pattern that matches nothing yet: the member joins with no topic and
        // gets the topic once it exists.
        String late = topic + "-late";
        Thread creator = new Thread(() -> {
            try {
                Thread.sleep(3000);
                createTopics(late);
                try (KafkaProducer<String, String> p = producer("acks", "all")) {
                    for (int i = 0; i < 3; i++) p.send(new ProducerRecord<>(late, 0, "k", "late-" + i)).get();
                }
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        creator.start();
        got = consumeSubscription(topic + "-g-late", java.util.regex.Pattern.quote(late) + ".*", false, late, 3);
        creator.join();
        check(got.getOrDefault(late, 0) == 3, "pattern for a topic created later: " + got);
    }

    // consumeSubscription joins a consumer-protocol group subscribed to regex (a SubscriptionPattern
    // when server, else a java.util.regex.Pattern) and polls until it read want records of topic
    // (or 45 s passed). It returns records per topic and "assigned:T" partition counts.
    static Map<String, Integer> consumeSubscription(String group, String regex, boolean server, String topic, int want) throws Exception {
        Map<String, Integer> out = new TreeMap<>();
        // A short metadata age, so a client-side Pattern sees a new topic soon.
        try (KafkaConsumer<String, String> c = consumer("group.id", group, "group.protocol", "consumer",
                "metadata.max.age.ms", "1000")) {
            if (server) {
                Class<?> sp = Class.forName("org.apache.kafka.clients.consumer.SubscriptionPattern");
                KafkaConsumer.class.getMethod("subscribe", sp).invoke(c, sp.getConstructor(String.class).newInstance(regex));
            } else {
                c.subscribe(java.util.regex.Pattern.compile(regex));
            }
            long deadline = System.currentTimeMillis() + 45_000;
            while (System.currentTimeMillis() < deadline && out.getOrDefault(topic, 0) < want) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) out.merge(r.topic(), 1, Integer::sum);
            }
            for (TopicPartition tp : c.assignment()) out.merge("assigned:" + tp.topic(), 1, Integer::sum);
        }
        return out;
    }

    // groupAtEnd: the group's committed offsets equal the end offsets of every partition of topic.
    static boolean groupAtEnd(String topic, String group) throws Exception {
        try (Admin a = Admin.create(props());
             KafkaConsumer<String, String> c = consumer()) {
            Map<TopicPartition, OffsetAndMetadata> offs = a.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            List<TopicPartition> tps = new ArrayList<>();
            c.partitionsFor(topic).forEach(pi -> tps.add(new TopicPartition(topic, pi.partition())));
            for (Map.Entry<TopicPartition, Long> e : c.endOffsets(tps).entrySet()) {
                OffsetAndMetadata o = offs.get(e.getKey());
                if (e.getValue() > 0 && (o == null || o.offset() != e.getValue())) return false;
            }
            return true;
        }
    }

    // readAllPartitions reads every partition of topic from the start until n records arrived
    // (or timeout), then polls for one more second to catch extra records.
    static List<ConsumerRecord<String, String>> readAllPartitions(String topic, int n, String isolation) {
        List<ConsumerRecord<String, String>> out = new ArrayList<>();
        try (KafkaConsumer<String, String> c = consumer("isolation.level", isolation)) {
            List<TopicPartition> tps = new ArrayList<>();
            c.partitionsFor(topic).forEach(pi -> tps.add(new TopicPartition(topic, pi.partition())));
            c.assign(tps);
            c.seekToBeginning(tps);
            long deadline = System.currentTimeMillis() + 30_000, extra = Long.MAX_VALUE;
            while (System.currentTimeMillis() < Math.min(deadline, extra)) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) out.add(r);
                if (out.size() >= n && extra == Long.MAX_VALUE) extra = System.currentTimeMillis() + 1000;
            }
        }
        return out;
    }

    // EtlMember is one group member of eosRebalance: a consumer and a transactional producer on
    // their own thread. Even members run one transaction per poll. Odd members keep a
    // transaction open across polls (up to 40 records or 300 ms), buffer their records
    // (linger.ms=1000, so nothing reaches the broker before the commit flushes it) and abort the
    // open transaction when partitions are revoked, rewinding the partitions they keep: an abort
    // of a transaction the coordinator never saw, which a transaction.version 2 producer still
    // sends as EndTxn.
    static class EtlMember implements Runnable {
        final String name, in, out;
        final boolean spanPolls;
        final KafkaConsumer<String, String> consumer;
        final KafkaProducer<String, String> producer;
        final AtomicInteger moved;
        final Map<String, Integer> errors;
        final Thread thread;
        volatile boolean stop;
        volatile Throwable failure;
        boolean inTxn;
        long txnStart;
        final Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
        int pending;

        EtlMember(String in, String out, String group, String variant, int idx, boolean isStatic,
                  AtomicInteger moved, Map<String, Integer> errors) {
            this.name = "member-" + idx;
            this.in = in;
            this.out = out;
            this.moved = moved;
            this.errors = errors;
            this.spanPolls = idx % 2 == 1;
            List<Object> kv = new ArrayList<>(List.of("group.id", group, "isolation.level", "read_committed",
                    "max.poll.records", "20", "client.id", in + "-" + name));
            if (variant.equals("consumer")) {
                kv.addAll(List.of("group.protocol", "consumer"));
            } else {
                kv.addAll(List.of("session.timeout.ms", "10000", "heartbeat.interval.ms", "500",
                        "partition.assignment.strategy", variant.equals("eager")
                                ? "org.apache.kafka.clients.consumer.RangeAssignor"
                                : "org.apache.kafka.clients.consumer.CooperativeStickyAssignor"));
            }
            if (isStatic) kv.addAll(List.of("group.instance.id", in + "-" + name));
            consumer = consumer(kv.toArray());
            producer = producer("transactional.id", in + "-tx-" + idx, "transaction.timeout.ms", "10000",
                    "linger.ms", spanPolls ? "1000" : "5");
            thread = new Thread(this, name);
        }

        void start() {
            thread.start();
        }

        void close() throws InterruptedException {
            stop = true;
            thread.join();
        }

        void error(Throwable e) {
            errors.merge(e.getClass().getSimpleName(), 1, Integer::sum);
            System.out.println(name + ": " + e);
        }

        // abort ends the open transaction and rewinds the partitions still assigned (minus gone)
        // to their committed offsets.
        void abort(Collection<TopicPartition> gone) {
            producer.abortTransaction();
            inTxn = false;
            next.clear();
            pending = 0;
            Set<TopicPartition> keep = new HashSet<>(consumer.assignment());
            keep.removeAll(gone);
            Map<TopicPartition, OffsetAndMetadata> committed = consumer.committed(keep);
            for (TopicPartition tp : keep) {
                OffsetAndMetadata o = committed.get(tp);
                if (o != null) consumer.seek(tp, o.offset());
                else consumer.seekToBeginning(List.of(tp));
            }
        }

        void commit() {
            producer.sendOffsetsToTransaction(next, consumer.groupMetadata());
            producer.commitTransaction();
            moved.addAndGet(pending);
            inTxn = false;
            next.clear();
            pending = 0;
        }

        public void run() {
            try {
                producer.initTransactions();
                consumer.subscribe(List.of(in), new ConsumerRebalanceListener() {
                    public void onPartitionsRevoked(Collection<TopicPartition> parts) {
                        if (inTxn && !parts.isEmpty()) abort(parts); // an abort after a revoke
                    }

                    public void onPartitionsAssigned(Collection<TopicPartition> parts) {
                    }

                    public void onPartitionsLost(Collection<TopicPartition> parts) {
                        if (inTxn) abort(parts);
                    }
                });
                while (!stop) {
                    ConsumerRecords<String, String> rs = consumer.poll(Duration.ofMillis(100));
                    try {
                        for (ConsumerRecord<String, String> r : rs) {
                            if (!inTxn) {
                                producer.beginTransaction();
                                inTxn = true;
                                txnStart = System.currentTimeMillis();
                            }
                            producer.send(new ProducerRecord<>(out, r.key(), r.value().toUpperCase()));
                            next.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
                            pending++;
                        }
                        if (inTxn && (!spanPolls || pending >= 40 || System.currentTimeMillis() - txnStart > 300)) commit();
                    } catch (ProducerFencedException e) {
                        throw e;
                    } catch (KafkaException e) {
                        error(e);
                        for (Throwable c = e; c != null; c = c.getCause()) {
                            if (c instanceof InvalidTxnStateException) throw e;
                        }
                        abort(List.of());
                    }
                }
                if (inTxn) abort(List.of());
            } catch (Throwable e) {
                error(e);
                failure = e;
            } finally {
                consumer.close();
                producer.close();
            }
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
