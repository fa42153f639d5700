// KafkaRecordSerde runs one of Kafka 4.3.1's own coordinator record serdes
// (the class named by the first argument: GroupCoordinatorRecordSerde for
// __consumer_offsets, ShareCoordinatorRecordSerde for __share_group_state)
// over records Spool wrote: each stdin line is "hexKey hexValue" ("-" for a
// tombstone). Each record is deserialized and serialized again; the output line is "hexKey hexValue<TAB>record",
// or "error<TAB>message" when Kafka cannot read it. Equal bytes mean
// Kafka reads and writes the record exactly as Spool does.
//
// Run by spooltest.RequireKafkaReadsAsWritten with the source-file launcher:
// java -cp <kafka jars> KafkaRecordSerde.java <serde class>
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.util.HexFormat;

import org.apache.kafka.coordinator.common.runtime.CoordinatorRecord;
import org.apache.kafka.coordinator.common.runtime.CoordinatorRecordSerde;

public class KafkaRecordSerde {
    public static void main(String[] args) throws Exception {
        CoordinatorRecordSerde serde = (CoordinatorRecordSerde) Class.forName(args[0]).getDeclaredConstructor().newInstance();
        HexFormat hex = HexFormat.of();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        String line;
        while ((line = in.readLine()) != null) {
            String[] parts = line.trim().split(" ");
            try {
                ByteBuffer key = ByteBuffer.wrap(hex.parseHex(parts[0]));
                ByteBuffer value = parts[1].equals("-") ? null : ByteBuffer.wrap(hex.parseHex(parts[1]));
                CoordinatorRecord r = serde.deserialize(key, value);
                byte[] v = serde.serializeValue(r);
                System.out.println(hex.formatHex(serde.serializeKey(r)) + " " + (v == null ? "-" : hex.formatHex(v)) + "\t" + r);
            } catch (Exception e) {
                System.out.println("error\t" + e);
            }
        }
    }
}
