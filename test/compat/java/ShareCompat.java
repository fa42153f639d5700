// The share-consumer scenario (KIP-932) for the compatibility matrix: compiled by
// lib/javac.sh against kafka-clients 4.3.1 only (KafkaShareConsumer is 4.x API), and run
// from Compat.main through reflection.
//
// Two KafkaShareConsumers in explicit acknowledgement mode share a two-partition topic;
// share.auto.offset.reset=earliest is set as a GROUP config. Every record is accepted
// once, but v-7, released at its first delivery (it comes back with delivery count 2),
// and v-13, rejected (never delivered again). Then the group is described (type share,
// two members), its offsets listed (no lag left) and, once the consumers
// closed, it is deleted.
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class ShareCompat {
    static final int N = 100;

    static void check(boolean ok, String msg) {
        if (!ok) throw new AssertionError(msg);
    }

    public static void run(String bootstrap, String topic, short rf) throws Exception {
        String group = topic + "-share";
        Properties ap = new Properties();
        ap.put("bootstrap.servers", bootstrap);
        try (Admin a = Admin.create(ap)) {
            a.createTopics(List.of(new NewTopic(topic, 2, rf))).all().get();
            ConfigResource cr = new ConfigResource(ConfigResource.Type.GROUP, group);
            a.incrementalAlterConfigs(Map.of(cr, List.of(new AlterConfigOp(
                    new ConfigEntry("share.auto.offset.reset", "earliest"), AlterConfigOp.OpType.SET)))).all().get();
        }
        Properties pp = new Properties();
        pp.put("bootstrap.servers", bootstrap);
        pp.put("acks", "all");
        try (KafkaProducer<String, String> p = new KafkaProducer<>(pp, new StringSerializer(), new StringSerializer())) {
            for (int i = 0; i < N; i++) p.send(new ProducerRecord<>(topic, i % 2, "k-" + i, "v-" + i));
        }

        Map<String, Integer> accepted = new ConcurrentHashMap<>();
        Map<String, List<Short>> deliveries = new ConcurrentHashMap<>();
        CountDownLatch bothPolled = new CountDownLatch(2);
        CountDownLatch done = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        List<Future<?>> fs = new ArrayList<>();
        for (int c = 0; c < 2; c++) {
            fs.add(pool.submit(() -> {
                Properties cp = new Properties();
                cp.put("bootstrap.servers", bootstrap);
                cp.put("group.id", group);
                cp.put("share.acknowledgement.mode", "explicit");
                try (KafkaShareConsumer<String, String> sc = new KafkaShareConsumer<>(cp, new StringDeserializer(), new StringDeserializer())) {
                    sc.subscribe(List.of(topic));
                    boolean counted = false;
                    long deadline = System.currentTimeMillis() + 90_000;
                    while (System.currentTimeMillis() < deadline && done.getCount() > 0) {
                        ConsumerRecords<String, String> rs = sc.poll(Duration.ofMillis(200));
                        if (!counted) {
                            bothPolled.countDown();
                            counted = true;
                        }
                        for (ConsumerRecord<String, String> r : rs) {
                            short dc = r.deliveryCount().orElse((short) -1);
                            deliveries.computeIfAbsent(r.value(), k -> Collections.synchronizedList(new ArrayList<>())).add(dc);
                            if (r.value().equals("v-7") && dc == 1) {
                                sc.acknowledge(r, AcknowledgeType.RELEASE);
                            } else if (r.value().equals("v-13")) {
                                sc.acknowledge(r, AcknowledgeType.REJECT);
                            } else {
                                sc.acknowledge(r, AcknowledgeType.ACCEPT);
                                accepted.merge(r.value(), 1, Integer::sum);
                            }
                        }
                        if (!rs.isEmpty()) sc.commitSync();
                        if (accepted.size() == N - 1) {
                            // Stay in the group until the admin checks below ran.
                            bothPolled.await(30, TimeUnit.SECONDS);
                            done.await(30, TimeUnit.SECONDS);
                        }
                    }
                }
                return null;
            }));
        }
        try {
            checkAndAdmin(ap, group, accepted, deliveries, bothPolled, done, fs);
        } finally {
            done.countDown(); // the consumers leave, also when a check failed
            pool.shutdown();
        }
        System.out.println("share-consumer: " + accepted.size() + " accepted, v-7 delivered " + deliveries.get("v-7") + ", v-13 rejected");
    }

    static void checkAndAdmin(Properties ap, String group, Map<String, Integer> accepted, Map<String, List<Short>> deliveries,
            CountDownLatch bothPolled, CountDownLatch done, List<Future<?>> fs) throws Exception {
        long deadline = System.currentTimeMillis() + 90_000;
        while (System.currentTimeMillis() < deadline && accepted.size() < N - 1) Thread.sleep(100);
        check(accepted.size() == N - 1, "accepted " + accepted.size() + " of " + (N - 1) + " records: " + new TreeMap<>(deliveries));
        for (Map.Entry<String, Integer> e : accepted.entrySet()) check(e.getValue() == 1, e.getKey() + " accepted " + e.getValue() + " times");
        check(!accepted.containsKey("v-13"), "the rejected record was accepted");
        check(deliveries.get("v-13").equals(List.of((short) 1)), "v-13 delivered " + deliveries.get("v-13"));
        check(deliveries.get("v-7").equals(List.of((short) 1, (short) 2)), "v-7 delivered " + deliveries.get("v-7"));

        try (Admin a = Admin.create(ap)) {
            check(bothPolled.await(30, TimeUnit.SECONDS), "both consumers polled");
            ShareGroupDescription d = null;
            for (long until = System.currentTimeMillis() + 30_000; System.currentTimeMillis() < until; Thread.sleep(200)) {
                d = a.describeShareGroups(List.of(group)).describedGroups().get(group).get();
                if (d.members().size() == 2) break;
            }
            check(d.groupState() == GroupState.STABLE && d.members().size() == 2, "described " + d);
            boolean listed = false;
            for (GroupListing g : a.listGroups(ListGroupsOptions.forShareGroups()).all().get()) {
                listed |= g.groupId().equals(group);
            }
            check(listed, "the group is not listed among share groups");
            // Every record is acknowledged or archived: no lag. (Kafka's start offset may
            // trail the acknowledged records; the lag counts what is left to deliver.)
            Map<TopicPartition, SharePartitionOffsetInfo> offs = null;
            for (long until = System.currentTimeMillis() + 30_000; System.currentTimeMillis() < until; Thread.sleep(200)) {
                offs = a.listShareGroupOffsets(Map.of(group, new ListShareGroupOffsetsSpec())).partitionsToOffsetInfo(group).get();
                if (offs.size() == 2 && offs.values().stream().allMatch(o -> o.lag().orElse(-1L) == 0)) break;
            }
            check(offs.size() == 2 && offs.values().stream().allMatch(o -> o.lag().orElse(-1L) == 0 && o.startOffset() >= 0 && o.startOffset() <= N / 2),
                    "share group offsets " + offs);
            done.countDown();
            for (Future<?> f : fs) f.get(60, TimeUnit.SECONDS);
            Exception last = null;
            for (long until = System.currentTimeMillis() + 30_000; System.currentTimeMillis() < until; Thread.sleep(200)) {
                try {
                    a.deleteShareGroups(List.of(group)).all().get();
                    last = null;
                    break;
                } catch (ExecutionException e) {
                    last = e; // members may still be leaving
                }
            }
            check(last == null, "delete share group: " + last);
        }
    }
}
