// ConfigDefDump prints the broker and topic configs of the Kafka whose jars are
// on the class path, one per line, tab-separated, for TestCatalogueMatchesKafka:
//
//   broker <name> <type> <default> <mode> <sensitive> - <documentation>
//       every non-internal key of KafkaConfig's ConfigDef: what
//       DescribeConfigs of a broker lists even when nothing sets it
//   dynamic <name> <type> <default> <mode> <sensitive>
//       DynamicConfig.Broker's keys that KafkaConfig does not define (the
//       replication throttle rates): listed only once they are set
//   topic <name> <type> <default> - <sensitive> <broker synonyms, comma-separated>
//       every non-internal key of LogConfig
//
// <default> is ConfigDef.convertToString of the default, "<null>" for a null
// default; <mode> is read-only, per-broker or cluster-wide (DescribeConfigs'
// ReadOnly flag is true only for read-only).
//
// Run: java -cp "$HOME/.cache/spool-compat/java/lib-4.3.1/*" ConfigDefDump.java
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.server.config.DynamicBrokerConfig;
import org.apache.kafka.server.config.DynamicConfig;
import org.apache.kafka.server.config.ServerTopicConfigSynonyms;
import org.apache.kafka.storage.internals.log.LogConfig;

public class ConfigDefDump {
	static String def(ConfigDef.ConfigKey k) {
		if (k.defaultValue == ConfigDef.NO_DEFAULT_VALUE) return "<none>";
		String s = ConfigDef.convertToString(k.defaultValue, k.type);
		return s == null ? "<null>" : s;
	}

	static String mode(String name) {
		if (!DynamicBrokerConfig.ALL_DYNAMIC_CONFIGS.contains(name)) return "read-only";
		String m = DynamicBrokerConfig.dynamicConfigUpdateModes().get(name);
		return m == null ? "cluster-wide" : m;
	}

	static String doc(ConfigDef.ConfigKey k) {
		return k.documentation == null ? "" : k.documentation.replaceAll("\\s+", " ").trim();
	}

	static boolean sensitive(ConfigDef.Type t) {
		return t == null || t == ConfigDef.Type.PASSWORD;
	}

	public static void main(String[] args) {
		ConfigDef broker = kafka.server.KafkaConfig$.MODULE$.configDef();
		for (ConfigDef.ConfigKey k : new TreeMap<>(broker.configKeys()).values()) {
			if (k.internalConfig) continue;
			System.out.println(String.join("\t", "broker", k.name, k.type.toString(), def(k), mode(k.name),
				String.valueOf(sensitive(k.type)), "", doc(k)));
		}
		for (ConfigDef.ConfigKey k : new TreeMap<>(DynamicConfig.Broker.configKeys()).values()) {
			if (broker.configKeys().containsKey(k.name)) continue;
			System.out.println(String.join("\t", "dynamic", k.name, k.type.toString(), def(k), mode(k.name),
				String.valueOf(sensitive(k.type))));
		}
		Map<String, ConfigDef.ConfigKey> topic = LogConfig.configKeys();
		Set<String> names = new java.util.TreeSet<>(LogConfig.nonInternalConfigNames());
		for (String n : names) {
			ConfigDef.ConfigKey k = topic.get(n);
			List<String> syn = ServerTopicConfigSynonyms.ALL_TOPIC_CONFIG_SYNONYMS.getOrDefault(n, List.of())
				.stream().map(s -> s.name()).collect(Collectors.toList());
			System.out.println(String.join("\t", "topic", n, k.type.toString(), def(k), "-",
				String.valueOf(sensitive(k.type)), String.join(",", syn)));
		}
	}
}
