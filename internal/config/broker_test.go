package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// composeEnv turns a docker-compose "environment:" block into environ.
func composeEnv(block string) []string {
	var env []string
	for _, line := range strings.Split(block, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, _ := strings.Cut(line, ":")
		v = strings.TrimSpace(v)
		if i := strings.Index(v, " #"); i >= 0 {
			v = strings.TrimSpace(v[:i])
		}
		env = append(env, strings.TrimSpace(k)+"="+strings.Trim(v, `"`))
	}
	return env
}

// SC-01 in kafka-usage-inventory.md, verbatim.
const sc01 = `
KAFKA_NODE_ID: 1
KAFKA_PROCESS_ROLES: broker,controller
KAFKA_LISTENERS: PLAINTEXT://0.0.0.0:9092,CONTROLLER://0.0.0.0:9093
KAFKA_ADVERTISED_LISTENERS: PLAINTEXT://localhost:9092
KAFKA_CONTROLLER_QUORUM_VOTERS: 1@localhost:9093
KAFKA_CONTROLLER_LISTENER_NAMES: CONTROLLER
KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: 1
`

// SC-21 in kafka-usage-inventory.md, verbatim (comments included).
const sc21 = `
KAFKA_NODE_ID: 1 # unique per broker
KAFKA_PROCESS_ROLES: broker,controller # KRaft mode (no ZK)
KAFKA_CONTROLLER_QUORUM_VOTERS: 1@broker1:9093,2@broker2:9093,3@broker3:9093
KAFKA_LISTENERS: PLAINTEXT://:9092,CONTROLLER://:9093
KAFKA_ADVERTISED_LISTENERS: PLAINTEXT://broker1.internal:9092
KAFKA_CONTROLLER_LISTENER_NAMES: CONTROLLER
KAFKA_INTER_BROKER_LISTENER_NAME: PLAINTEXT
KAFKA_LOG_DIRS: /var/lib/kafka/data
KAFKA_LOG_RETENTION_HOURS: 168 # 7 days
KAFKA_LOG_RETENTION_BYTES: -1 # unlimited (rely on time)
KAFKA_NUM_PARTITIONS: 6 # default for auto-created topics
KAFKA_DEFAULT_REPLICATION_FACTOR: 3
KAFKA_MIN_INSYNC_REPLICAS: 2 # acks=all needs 2/3 in sync
KAFKA_AUTO_CREATE_TOPICS_ENABLE: "false" # explicit topic creation only
KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE: "false"
KAFKA_LOG_SEGMENT_BYTES: 1073741824 # 1 GB segments
KAFKA_NUM_NETWORK_THREADS: 8
KAFKA_NUM_IO_THREADS: 16
KAFKA_HEAP_OPTS: "-Xms6g -Xmx6g" # ~25% of instance RAM
KAFKA_JMX_PORT: 9999 # for monitoring
KAFKA_JMX_HOSTNAME: broker1.internal
`

func TestZeroConfig(t *testing.T) {
	b, notices, err := Load("", nil)
	require.NoError(t, err)
	require.Empty(t, notices)
	require.Equal(t, int32(1), b.NodeID)
	require.Equal(t, []string{"broker", "controller"}, b.ProcessRoles)
	require.Equal(t, []Listener{
		{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 9092, SecurityProtocol: "PLAINTEXT"},
		{Name: "CONTROLLER", Host: "127.0.0.1", Port: 9093, SecurityProtocol: "PLAINTEXT"},
	}, b.Listeners)
	require.Equal(t, []Voter{{ID: 1, Host: "127.0.0.1", Port: 9093}}, b.ControllerQuorumVoters)
	require.Equal(t, []string{"./data"}, b.LogDirs)
	require.Equal(t, int16(1), b.OffsetsTopicReplicationFactor)
	require.Equal(t, int16(1), b.TransactionStateLogReplicationFactor)
	require.Equal(t, "PLAINTEXT", b.InterBrokerListenerName)
	// Kafka 4.3 defaults elsewhere.
	require.Equal(t, int32(1), b.NumPartitions)
	require.Equal(t, int64(7*24*3600*1000), b.LogRetentionMs)
	require.Equal(t, int64(7*24*3600*1000), b.LogRollMs)
	require.Equal(t, int32(1048588), b.MessageMaxBytes)
	require.Equal(t, int32(1<<30), b.LogSegmentBytes)
	require.Equal(t, int32(50), b.OffsetsTopicNumPartitions)
	require.Equal(t, "producer", b.CompressionType)
	require.Equal(t, []string{"delete"}, b.LogCleanupPolicy)
	require.True(t, b.AutoCreateTopicsEnable)
	require.False(t, b.UncleanLeaderElectionEnable)
	require.Equal(t, int64(3600000), b.LogMessageTimestampAfterMax)
	require.Equal(t, []string{"uniform", "range"}, b.GroupConsumerAssignors)
	require.Equal(t, int32(45000), b.GroupConsumerSessionTimeoutMs)
	require.Equal(t, Default().Listeners, b.Listeners)
}

func TestComposeSC01(t *testing.T) {
	b, notices, err := Load("", composeEnv(sc01))
	require.NoError(t, err)
	require.Equal(t, int32(1), b.NodeID)
	require.True(t, b.HasRole("broker"))
	require.True(t, b.HasRole("controller"))
	require.Equal(t, "0.0.0.0:9092", b.Listeners[0].Addr())
	require.Equal(t, []Listener{
		{Name: "PLAINTEXT", Host: "localhost", Port: 9092, SecurityProtocol: "PLAINTEXT"},
		{Name: "CONTROLLER", Host: "0.0.0.0", Port: 9093, SecurityProtocol: "PLAINTEXT"},
	}, b.AdvertisedListeners)
	require.Equal(t, []Voter{{ID: 1, Host: "localhost", Port: 9093}}, b.ControllerQuorumVoters)
	require.Equal(t, []string{"CONTROLLER"}, b.ControllerListenerNames)
	require.Equal(t, int16(1), b.OffsetsTopicReplicationFactor)
	require.Equal(t, "PLAINTEXT", b.InterBrokerListenerName)
	// Kafka 3.9+ refuses this file; Spool starts and says why it is unusual.
	require.Len(t, notices, 1)
	require.Equal(t, "advertised.listeners", notices[0].Property)
}

func TestComposeSC21(t *testing.T) {
	b, notices, err := Load("", composeEnv(sc21))
	require.NoError(t, err)
	require.Equal(t, []Voter{{1, "broker1", 9093}, {2, "broker2", 9093}, {3, "broker3", 9093}}, b.ControllerQuorumVoters)
	require.Equal(t, []Listener{
		{Name: "PLAINTEXT", Host: "", Port: 9092, SecurityProtocol: "PLAINTEXT"},
		{Name: "CONTROLLER", Host: "", Port: 9093, SecurityProtocol: "PLAINTEXT"}, // implicit mapping
	}, b.Listeners)
	require.Equal(t, ":9092", b.Listeners[0].Addr())
	require.Equal(t, "PLAINTEXT", b.InterBrokerListenerName)
	require.Equal(t, []string{"/var/lib/kafka/data"}, b.LogDirs)
	require.Equal(t, int64(168*3600*1000), b.LogRetentionMs)
	require.Equal(t, int64(-1), b.LogRetentionBytes)
	require.Equal(t, int32(6), b.NumPartitions)
	require.Equal(t, int16(3), b.DefaultReplicationFactor)
	require.Equal(t, int32(2), b.MinInsyncReplicas)
	require.False(t, b.AutoCreateTopicsEnable)
	require.False(t, b.UncleanLeaderElectionEnable)
	require.Equal(t, int32(1073741824), b.LogSegmentBytes)
	require.Equal(t, int32(8), b.NumNetworkThreads)
	require.Equal(t, int32(16), b.NumIOThreads)
	// Internal topic replication not set: Kafka's defaults (only the
	// zero-config bundle, like Kafka's packaged server.properties, sets 1).
	require.Equal(t, int16(3), b.OffsetsTopicReplicationFactor)
	require.Equal(t, int16(3), b.TransactionStateLogReplicationFactor)
	require.Equal(t, int32(2), b.TransactionStateLogMinISR)
	var ignored []string
	for _, n := range notices {
		ignored = append(ignored, n.Property)
	}
	require.Equal(t, []string{"KAFKA_HEAP_OPTS", "KAFKA_JMX_HOSTNAME", "KAFKA_JMX_PORT"}, ignored)
}

func TestEnvToProperty(t *testing.T) {
	tests := map[string]string{
		"KAFKA_NODE_ID":                          "node.id",
		"KAFKA_LOG_DIRS":                         "log.dirs",
		"KAFKA_LOG_DIR":                          "log.dir",
		"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "offsets.topic.replication.factor",
		"KAFKA_LISTENER_NAME_SASL__SSL_PLAIN_SASL_JAAS_CONFIG": "listener.name.sasl_ssl.plain.sasl.jaas.config",
		"KAFKA_FOO___BAR": "foo-bar",
		"KAFKA_FOO__BAR":  "foo_bar",
	}
	for env, want := range tests {
		got, ok := EnvToProperty(env)
		require.True(t, ok, env)
		require.Equal(t, want, got, env)
	}
	for _, env := range []string{"PATH", "KAFKA_", "KAFKA_CLUSTER_ID", "XKAFKA_NODE_ID"} {
		_, ok := EnvToProperty(env)
		require.False(t, ok, env)
	}
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "server.properties")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

const fileBase = `
process.roles=broker,controller
node.id=3
listeners=PLAINTEXT://:19092,CONTROLLER://:19093
advertised.listeners=PLAINTEXT://h:19092
controller.listener.names=CONTROLLER
controller.quorum.voters=3@h:19093
num.partitions=4
log.retention.hours=24
log.dirs=/a,/b
`

func TestPrecedence(t *testing.T) {
	p := writeFile(t, fileBase)
	b, _, err := Load(p, nil)
	require.NoError(t, err)
	require.Equal(t, int32(3), b.NodeID)
	require.Equal(t, int32(4), b.NumPartitions)
	require.Equal(t, []string{"/a", "/b"}, b.LogDirs)
	require.Equal(t, int64(24*3600*1000), b.LogRetentionMs)
	v, ok := b.Static("num.partitions")
	require.True(t, ok)
	require.Equal(t, "4", v)

	b, _, err = Load(p, []string{"KAFKA_NUM_PARTITIONS=9", "CLUSTER_ID=MkU3OEVBNTcwNTJENDM2Qk", "HOME=/root"})
	require.NoError(t, err)
	require.Equal(t, int32(9), b.NumPartitions, "environment beats the file")
	require.Equal(t, int16(1), b.DefaultReplicationFactor, "default when neither sets it")
	require.Equal(t, "MkU3OEVBNTcwNTJENDM2Qk", b.ClusterID)

	b, _, err = Load(p, []string{"KAFKA_CLUSTER_ID=MkU3OEVBNTcwNTJENDM2Qk"})
	require.NoError(t, err)
	require.Equal(t, "MkU3OEVBNTcwNTJENDM2Qk", b.ClusterID)

	_, _, err = Load(p, []string{"CLUSTER_ID=short"})
	require.ErrorContains(t, err, `invalid value "short" for "CLUSTER_ID"`)

	_, _, err = Load(filepath.Join(t.TempDir(), "missing.properties"), nil)
	require.Error(t, err)
}

func TestRetentionPrecedence(t *testing.T) {
	tests := []struct {
		props string
		want  int64
	}{
		{"", 168 * 3600 * 1000},
		{"log.retention.hours=1", 3600 * 1000},
		{"log.retention.hours=1\nlog.retention.minutes=2", 2 * 60 * 1000},
		{"log.retention.hours=1\nlog.retention.minutes=2\nlog.retention.ms=3", 3},
		{"log.retention.ms=3\nlog.retention.hours=1", 3},
		{"log.retention.ms=-1", -1},
		{"log.retention.hours=-1", -1},
		{"log.retention.minutes=-5", -1},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.props, "\n", ","), func(t *testing.T) {
			b, _, err := Load(writeFile(t, fileBase+tt.props), nil)
			require.NoError(t, err)
			if tt.props == "" {
				require.Equal(t, int64(24*3600*1000), b.LogRetentionMs) // fileBase sets 24h
				return
			}
			require.Equal(t, tt.want, b.LogRetentionMs)
		})
	}
	_, _, err := Load("", []string{"KAFKA_LOG_RETENTION_MS=0"})
	require.ErrorContains(t, err, `"log.retention.ms"`)
}

func TestLoadNotices(t *testing.T) {
	_, notices, err := Load(writeFile(t, "zookeeper.connect=zk:2181\nadvertised.host.name=x\nfoo.bar=1\nretention.ms=5\nssl.keystore.location=/k\nlistener.name.sasl_ssl.plain.sasl.jaas.config=x"),
		[]string{"KAFKA_HEAP_OPTS=-Xmx1g", "KAFKA_OPTS=-Dx", "KAFKA_JVM_PERFORMANCE_OPTS=-server", "KAFKA_LOG4J_OPTS=x", "KAFKA_GC_LOG_OPTS=x", "KAFKA_DEBUG=y"})
	require.NoError(t, err)
	got := map[string]string{}
	for _, n := range notices {
		got[n.Property] = n.Message
	}
	for _, k := range []string{"zookeeper.connect", "advertised.host.name", "foo.bar", "retention.ms",
		"KAFKA_HEAP_OPTS", "KAFKA_OPTS", "KAFKA_JVM_PERFORMANCE_OPTS", "KAFKA_LOG4J_OPTS", "KAFKA_GC_LOG_OPTS", "KAFKA_DEBUG"} {
		require.Contains(t, got, k)
	}
	require.Contains(t, got["foo.bar"], "isn't a known config")
	require.Contains(t, got["retention.ms"], "log.retention.ms")
	require.NotContains(t, got, "ssl.keystore.location")
}

func TestSecurityStored(t *testing.T) {
	b, _, err := Load(writeFile(t, "ssl.keystore.location=/k\nssl.keystore.password=secret\nsasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512\nsuper.users=User:admin;User:ops\nlistener.name.sasl_ssl.plain.sasl.jaas.config=x"), nil)
	require.NoError(t, err)
	require.Equal(t, "/k", b.Security["ssl.keystore.location"])
	require.Equal(t, "x", b.Security["listener.name.sasl_ssl.plain.sasl.jaas.config"])
	require.Equal(t, []string{"PLAIN", "SCRAM-SHA-512"}, b.SASLEnabledMechanisms)
	require.Equal(t, []string{"User:admin", "User:ops"}, b.SuperUsers)
	for _, e := range ResolveBroker(b, Dynamic{}) {
		if e.Name == "ssl.keystore.password" {
			require.True(t, e.Sensitive)
			require.Nil(t, e.Value)
			require.Equal(t, SourceStaticBroker, e.Source)
			require.Nil(t, e.Synonyms[0].Value)
		}
	}
}

func TestReplicaSelectorClass(t *testing.T) {
	b, _, err := Load("", nil)
	require.NoError(t, err)
	require.Empty(t, b.ReplicaSelectorClass, "default: none, consumers read from leaders")
	b, notices, err := Load("", []string{"KAFKA_REPLICA_SELECTOR_CLASS=" + RackAwareReplicaSelector, "KAFKA_BROKER_RACK=r1"})
	require.NoError(t, err)
	require.Equal(t, RackAwareReplicaSelector, b.ReplicaSelectorClass)
	require.Equal(t, "r1", b.BrokerRack)
	for _, n := range notices {
		require.NotEqual(t, "replica.selector.class", n.Property, "a known, honoured property: %s", n.Message)
	}
}

func TestValidationErrorsNameTheProperty(t *testing.T) {
	tests := []struct {
		env  string
		want string
	}{
		{"KAFKA_NUM_PARTITIONS=abc", `invalid value "abc" for "num.partitions": must be an integer >= 1`},
		{"KAFKA_NUM_PARTITIONS=0", `invalid value "0" for "num.partitions"`},
		{"KAFKA_AUTO_CREATE_TOPICS_ENABLE=yes", `"auto.create.topics.enable": must be true or false`},
		{"KAFKA_LOG_SEGMENT_BYTES=1000", `"log.segment.bytes": must be an integer >= 1048576`},
		{"KAFKA_MESSAGE_MAX_BYTES=99999999999", `"message.max.bytes"`},
		{"KAFKA_COMPRESSION_TYPE=brotli", `"compression.type": must be one of uncompressed, zstd, lz4, snappy, gzip, producer`},
		{"KAFKA_LOG_CLEANUP_POLICY=delete,purge", `"log.cleanup.policy"`},
		{"KAFKA_LOG_MESSAGE_TIMESTAMP_TYPE=Now", `"log.message.timestamp.type"`},
		{"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=40000", `"offsets.topic.replication.factor"`},
		{"KAFKA_PROCESS_ROLES=broker,zk", `"process.roles"`},
		{"KAFKA_LISTENERS=PLAINTEXT:9092", `"listeners"`},
		{"KAFKA_CONTROLLER_QUORUM_VOTERS=a@b", `"controller.quorum.voters"`},
		{"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=PLAINTEXT:TLS", `"listener.security.protocol.map"`},
		{"KAFKA_GROUP_CONSUMER_MIGRATION_POLICY=sometimes", `"group.consumer.migration.policy"`},
		{"KAFKA_REPLICA_SELECTOR_CLASS=com.example.NearestSelector", `invalid value "com.example.NearestSelector" for "replica.selector.class": class com.example.NearestSelector cannot be found`},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			_, _, err := Load("", []string{tt.env})
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestCrossFieldValidation(t *testing.T) {
	base := map[string]string{
		"process.roles":             "broker,controller",
		"node.id":                   "1",
		"listeners":                 "PLAINTEXT://:9092,CONTROLLER://:9093",
		"advertised.listeners":      "PLAINTEXT://h:9092",
		"controller.listener.names": "CONTROLLER",
		"controller.quorum.voters":  "1@h:9093",
	}
	tests := []struct {
		name   string
		change map[string]string
		want   string // "" means valid
	}{
		{"base", nil, ""},
		{"cordoned log dir", map[string]string{"log.dirs": "/d1,/d2", "cordoned.log.dirs": "/d2"}, ""},
		{"all log dirs cordoned", map[string]string{"log.dirs": "/d1,/d2", "cordoned.log.dirs": "*"}, ""},
		{"cordoned dir not a log dir", map[string]string{"log.dirs": "/d1,/d2", "cordoned.log.dirs": "/d2,/d3,/d4"}, "All entries in cordoned.log.dirs must be present in log.dirs or log.dir. Missing entries : /d3,/d4"},
		{"cordoned * with others", map[string]string{"log.dirs": "/d1", "cordoned.log.dirs": "*,/d1"}, "When cordoned.log.dirs is set to *, it must not contain other values"},
		{"no node id", map[string]string{"node.id": "-1"}, `"node.id": must be set`},
		{"no roles", map[string]string{"process.roles": ""}, `"process.roles"`},
		{"no quorum", map[string]string{"controller.quorum.voters": ""}, `"controller.quorum.voters": either`},
		{"bootstrap servers instead", map[string]string{"controller.quorum.voters": "", "controller.quorum.bootstrap.servers": "h:9093"}, ""},
		{"controller not in voters", map[string]string{"controller.quorum.voters": "2@h:9093"}, "must contain this node (node.id=1)"},
		{"controller listener missing", map[string]string{"listeners": "PLAINTEXT://:9092"}, `"controller.listener.names"`},
		{"no controller listener names", map[string]string{"controller.listener.names": ""}, `"controller.listener.names": must be set`},
		{"broker-only binding controller listener", map[string]string{"process.roles": "broker"}, `"listeners": must not contain the controller listener CONTROLLER`},
		{"broker-only advertising controller", map[string]string{"process.roles": "broker", "listeners": "PLAINTEXT://:9092", "advertised.listeners": "PLAINTEXT://h:9092,CONTROLLER://h:9093"}, `"advertised.listeners": must not contain the controller listener`},
		{"combined may advertise controller", map[string]string{"advertised.listeners": "PLAINTEXT://h:9092,CONTROLLER://h:9093"}, ""},
		{"controller-only with broker listener", map[string]string{"process.roles": "controller"}, `"listeners": must contain only controller listeners`},
		{"advertise 0.0.0.0", map[string]string{"advertised.listeners": "PLAINTEXT://0.0.0.0:9092"}, "nonroutable meta-address 0.0.0.0"},
		{"derived advertise 0.0.0.0", map[string]string{"advertised.listeners": "", "listeners": "PLAINTEXT://0.0.0.0:9092,CONTROLLER://:9093"}, `"advertised.listeners": must be set`},
		{"unmapped listener", map[string]string{"listeners": "PLAINTEXT://:9092,CONTROLLER://:9093,EXTERNAL://:9094"}, "must map listener EXTERNAL"},
		{"mapped listener", map[string]string{"listeners": "PLAINTEXT://:9092,CONTROLLER://:9093,EXTERNAL://:9094", "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,EXTERNAL:SASL_SSL"}, ""},
		{"explicit map must include controller", map[string]string{"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT"}, "must map listener CONTROLLER"},
		{"duplicate port", map[string]string{"listeners": "PLAINTEXT://:9092,CONTROLLER://:9092"}, "both use 9092"},
		{"duplicate listener name", map[string]string{"listeners": "PLAINTEXT://:9092,PLAINTEXT://:9094"}, "appears more than once"},
		{"advertised not bound", map[string]string{"advertised.listeners": "EXTERNAL://h:1"}, "EXTERNAL is not in listeners"},
		{"inter broker is controller", map[string]string{"inter.broker.listener.name": "CONTROLLER"}, `"inter.broker.listener.name": must not be a controller listener`},
		{"inter broker unknown", map[string]string{"inter.broker.listener.name": "INTERNAL"}, `"inter.broker.listener.name": must be one of the listeners (PLAINTEXT)`},
		{"broker.id mismatch", map[string]string{"broker.id": "2"}, `"broker.id": must equal node.id`},
		{"broker.id alone", map[string]string{"broker.id": "1", "node.id": ""}, ""},
		{"duplicate log dir", map[string]string{"log.dirs": "/a,/a"}, `"log.dirs"`},
		{"session bounds", map[string]string{"group.min.session.timeout.ms": "10", "group.max.session.timeout.ms": "5"}, `"group.min.session.timeout.ms"`},
		{"848 heartbeat bounds", map[string]string{"group.consumer.heartbeat.interval.ms": "50000"}, `"group.consumer.heartbeat.interval.ms"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var env []string
			props := map[string]string{}
			for k, v := range base {
				props[k] = v
			}
			for k, v := range tt.change {
				props[k] = v
			}
			var file strings.Builder
			for k, v := range props {
				if v != "" {
					file.WriteString(k + "=" + v + "\n")
				}
			}
			_, _, err := Load(writeFile(t, file.String()), env)
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestUsage(t *testing.T) {
	u := Usage()
	for _, d := range brokerDefList {
		require.Contains(t, u, d.name)
	}
	require.Contains(t, u, "Log storage and retention:")
	require.Regexp(t, `num\.partitions\s+1\s+`, u)
	require.Regexp(t, `log\.dirs\s+\./data\s+`, u)
}
