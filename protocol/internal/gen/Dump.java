// Dump prints Kafka's protocol error table as CSV on stdout:
//
//	code,name,retriable,message
//
// Run it against a kafka-clients jar: java -cp kafka-clients.jar Dump.java
// retriable is true when the error's exception is a RetriableException.
// Fields are quoted as RFC 4180 when they contain a comma, quote or newline.
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.protocol.Errors;

public class Dump {
    public static void main(String[] args) {
        StringBuilder out = new StringBuilder("code,name,retriable,message\n");
        for (Errors e : Errors.values()) {
            Throwable ex = e.exception();
            boolean retriable = ex instanceof RetriableException;
            String msg = ex == null ? "" : ex.getMessage();
            if (msg == null) {
                msg = "";
            }
            out.append(e.code()).append(',')
               .append(e.name()).append(',')
               .append(retriable).append(',')
               .append(quote(msg)).append('\n');
        }
        System.out.print(out);
    }

    static String quote(String s) {
        if (s.indexOf(',') < 0 && s.indexOf('"') < 0 && s.indexOf('\n') < 0) {
            return s;
        }
        return '"' + s.replace("\"", "\"\"") + '"';
    }
}
