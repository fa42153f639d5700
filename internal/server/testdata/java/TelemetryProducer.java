import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * TelemetryProducer BOOTSTRAP TOPIC CLIENT_ID produces a record every 20 ms
 * until its standard input closes, then closes the producer (which sends a
 * terminating PushTelemetry) and prints "sent N". enable.metrics.push keeps
 * its default (true): the client asks for its telemetry subscription and
 * pushes what it matches (KIP-714).
 */
public class TelemetryProducer {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put("bootstrap.servers", args[0]);
        props.put("client.id", args[2]);
        props.put("key.serializer", StringSerializer.class.getName());
        props.put("value.serializer", StringSerializer.class.getName());
        AtomicBoolean stop = new AtomicBoolean();
        Thread stdin = new Thread(() -> {
            try {
                while (System.in.read() >= 0) { }
            } catch (Exception e) {
                // closed
            }
            stop.set(true);
        });
        stdin.setDaemon(true);
        stdin.start();
        long n = 0;
        try (KafkaProducer<String, String> p = new KafkaProducer<>(props)) {
            while (!stop.get()) {
                p.send(new ProducerRecord<>(args[1], "k" + n, "v" + n)).get();
                n++;
                Thread.sleep(20);
            }
        }
        System.out.println("sent " + n);
    }
}
