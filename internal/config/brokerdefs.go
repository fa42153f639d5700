package config

import "sort"

// brokerDef describes one broker property Spool understands.
type brokerDef struct {
	name  string
	group string
	typ   ConfigType
	def   string // Kafka 4.3 default as DescribeConfigs prints it
	null  bool   // Kafka's default is null (no value)
	doc   string
	check check
	mode  UpdateMode
	// ignored, when set, marks a property Spool accepts but does not
	// honour, and says what happens instead (spool serve --help, startup
	// notices).
	ignored string
	// weakens marks an ignored property whose silent ignoring weakens
	// durability or safety: set to a non-default value, it is logged at
	// WARN on startup.
	weakens bool
	// guard is the protection the property configures (protections.go).
	// While that protection is not implemented, a setting that asks for it
	// refuses startup (Broker.CheckProtections).
	guard protectionID
	// refuse, when set, marks a property Spool does not act on whose
	// ignoring would weaken security: set to anything but Kafka's default,
	// it refuses startup (Broker.Refusals) for the reason given.
	refuse string
	// unlisted marks a property outside Kafka's public ConfigDef (an
	// internal one, a dynamic-only one such as the replication throttle
	// rates, or an authorizer's): DescribeConfigs lists it only once it is
	// set, without a default synonym, as Kafka does.
	unlisted bool
	// untyped marks an unlisted property that KafkaConfig does not know at
	// all (the authorizer's super.users): once set, Kafka lists it with type
	// UNKNOWN and, not knowing better, as sensitive.
	untyped bool
	// noDefault marks a config without a default in Kafka (node.id,
	// process.roles, controller.listener.names): DescribeConfigs shows no
	// DEFAULT_CONFIG synonym for it; def is only Spool's "unset".
	noDefault bool
}

const (
	groupNode     = "Node and KRaft quorum"
	groupListen   = "Listeners and network"
	groupLog      = "Log storage and retention"
	groupTopic    = "Topic defaults"
	groupRepl     = "Replication"
	groupQuotas   = "Client quotas"
	groupGroups   = "Consumer groups and offsets"
	groupTxn      = "Transactions and producers"
	groupSecurity = "Security"
)

// Why leader.imbalance.per.broker.percentage is ignored.
const imbalancePercentage = "as in Kafka's KRaft controller, every partition whose preferred replica can lead is moved back at each check"

const maxLong = "9223372036854775807"
const maxInt = "2147483647"

// zeroConfig is Spool's single-node setup, used as a bundle only when none of
// the node/quorum/listener properties is configured anywhere: what Kafka's
// packaged config/server.properties is to the apache/kafka image started
// without any configuration. Like that file, it sets the internal topics'
// replication to 1, so a lone node serves groups and transactions; any
// explicit node configuration gets Kafka's own defaults instead
// (offsets.topic.replication.factor=3, transaction.state.log.
// replication.factor=3, transaction.state.log.min.isr=2), under which the
// internal topics wait for three live brokers, as on Kafka.
var zeroConfig = map[string]string{
	"node.id":                   "1",
	"process.roles":             "broker,controller",
	"listeners":                 "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093",
	"controller.listener.names": "CONTROLLER",
	"controller.quorum.voters":  "1@127.0.0.1:9093",

	"offsets.topic.replication.factor":                 "1",
	"transaction.state.log.replication.factor":         "1",
	"transaction.state.log.min.isr":                    "1",
	"share.coordinator.state.topic.replication.factor": "1",
	"share.coordinator.state.topic.min.isr":            "1",
}

// zeroConfigTriggers: setting any of these turns the zeroConfig bundle off.
var zeroConfigTriggers = []string{"node.id", "broker.id", "process.roles", "listeners",
	"controller.listener.names", "controller.quorum.voters", "controller.quorum.bootstrap.servers"}

// spoolDefaults replace Kafka's defaults unconditionally.
var spoolDefaults = map[string]string{
	"log.dirs": "./data",
}

var brokerDefList = append([]brokerDef{
	// Node and KRaft.
	{name: "node.id", group: groupNode, typ: TypeInt, def: "-1", doc: "Unique id of this node in the cluster (required with process.roles)", check: intAtLeast(-1), noDefault: true},
	{name: "broker.id", group: groupNode, typ: TypeInt, def: "-1", doc: "Legacy alias of node.id; must equal node.id if both are set", check: intAtLeast(-1)},
	{name: "process.roles", group: groupNode, typ: TypeList, def: "", doc: "Roles of this node: broker, controller or both", check: listOf(false, "broker", "controller"), noDefault: true},
	{name: "controller.quorum.voters", group: groupNode, typ: TypeList, def: "", doc: "Static quorum: id@host:port of every controller"},
	{name: "controller.quorum.bootstrap.servers", group: groupNode, typ: TypeList, def: "", doc: "host:port of controllers to find the quorum from (brokers; a controller only when it is the sole, standalone voter)"},
	{name: "controller.listener.names", group: groupNode, typ: TypeList, null: true, noDefault: true, doc: "Names of the listeners used by the controller"},
	{name: "controller.quorum.election.timeout.ms", group: groupNode, typ: TypeInt, def: "1000", doc: "Max time without a leader before starting an election (unset: tuned by quorum size)", check: intAtLeast(0)},
	{name: "controller.quorum.fetch.timeout.ms", group: groupNode, typ: TypeInt, def: "2000", doc: "Max time without a successful fetch from the leader", check: intAtLeast(0)},
	{name: "metadata.log.dir", group: groupNode, typ: TypeString, null: true, doc: "Directory of the cluster metadata log (default: first log dir)"},
	{name: "broker.rack", group: groupNode, typ: TypeString, null: true, doc: "Rack of this broker, for rack-aware replica placement"},
	{name: "broker.heartbeat.interval.ms", group: groupNode, typ: TypeInt, def: "2000", doc: "Interval between broker heartbeats to the controller", check: intAtLeast(1)},
	{name: "broker.session.timeout.ms", group: groupNode, typ: TypeInt, def: "9000", doc: "Time a broker lease lasts without heartbeats", check: intAtLeast(1)},
	{name: "spool.broker.fast.fencing.enable", group: groupNode, typ: TypeBoolean, def: "true", doc: "Spool only: the active controller fences a broker at once when its heartbeat connection closes and every listener it registered refuses connections (its process is gone), instead of after broker.session.timeout.ms as Kafka (docs/operations.md)"},
	{name: "controlled.shutdown.enable", group: groupNode, typ: TypeBoolean, def: "true", doc: "Move leadership away before shutting down"},
	{name: "auto.leader.rebalance.enable", group: groupNode, typ: TypeBoolean, def: "true", doc: "Periodically move leadership back to preferred replicas"},
	{name: "leader.imbalance.check.interval.seconds", group: groupNode, typ: TypeLong, def: "300", doc: "Interval of the preferred-leader check", check: longAtLeast(1)},
	{name: "leader.imbalance.per.broker.percentage", group: groupNode, typ: TypeInt, def: "10", doc: "Leader imbalance allowed per broker (percent)", check: intAtLeast(0), ignored: imbalancePercentage, unlisted: true, untyped: true},
	{name: "background.threads", group: groupNode, typ: TypeInt, def: "10", doc: "Threads for background tasks", check: intAtLeast(1), mode: ClusterWide, ignored: "background work runs on goroutines"},

	// Listeners and network.
	{name: "listeners", group: groupListen, typ: TypeList, def: "PLAINTEXT://:9092", doc: "NAME://host:port to bind; empty host binds all interfaces (PLAINTEXT only, see Security)", mode: PerBroker},
	{name: "advertised.listeners", group: groupListen, typ: TypeList, null: true, doc: "NAME://host:port clients are told to use (default: listeners)"},
	{name: "listener.security.protocol.map", group: groupListen, typ: TypeString, def: "SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT", doc: "Listener name to security protocol (PLAINTEXT only, see Security)", mode: PerBroker},
	{name: "inter.broker.listener.name", group: groupListen, typ: TypeString, null: true, doc: "Listener brokers use to talk to each other"},
	{name: "security.inter.broker.protocol", group: groupListen, typ: TypeString, def: "PLAINTEXT", doc: "Protocol between brokers (if inter.broker.listener.name is unset)", check: oneOf("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")},
	{name: "socket.request.max.bytes", group: groupListen, typ: TypeInt, def: "104857600", doc: "Largest request the broker reads", check: intAtLeast(1)},
	{name: "socket.send.buffer.bytes", group: groupListen, typ: TypeInt, def: "102400", doc: "SO_SNDBUF of server sockets (-1: OS default)", check: anyInt(), ignored: "sockets keep the OS default buffer sizes"},
	{name: "socket.receive.buffer.bytes", group: groupListen, typ: TypeInt, def: "102400", doc: "SO_RCVBUF of server sockets (-1: OS default)", check: anyInt(), ignored: "sockets keep the OS default buffer sizes"},
	{name: "socket.listen.backlog.size", group: groupListen, typ: TypeInt, def: "50", doc: "Listen backlog of server sockets", check: intAtLeast(1), ignored: "listeners use the OS listen backlog (net.core.somaxconn)"},
	{name: "num.network.threads", group: groupListen, typ: TypeInt, def: "3", doc: "Network threads", check: intAtLeast(1), mode: ClusterWide, ignored: "connections are served by goroutines"},
	{name: "num.io.threads", group: groupListen, typ: TypeInt, def: "8", doc: "Request handler threads", check: intAtLeast(1), mode: ClusterWide, ignored: "requests are handled by goroutines"},
	{name: "telemetry.max.bytes", group: groupListen, typ: TypeInt, def: "1048576", doc: "Largest client telemetry payload (PushTelemetry, KIP-714) accepted, compressed and decompressed", check: intAtLeast(1)},
	{name: "spool.client.telemetry.max.clients", group: groupListen, typ: TypeInt, def: "100", doc: "Spool only: most client instances whose pushed telemetry is exported on /metrics (further ones are accepted, not exported)", check: intAtLeast(0)},
	{name: "spool.client.telemetry.max.series.per.client", group: groupListen, typ: TypeInt, def: "1000", doc: "Spool only: most /metrics series one client instance's pushed telemetry may create", check: intAtLeast(0)},
	{name: "queued.max.requests", group: groupListen, typ: TypeInt, def: "500", doc: "Requests queued per broker before reads block", check: intAtLeast(1)},
	{name: "connections.max.idle.ms", group: groupListen, typ: TypeLong, def: "600000", doc: "Close connections idle this long", check: anyLong()},
	{name: "max.connections", group: groupListen, typ: TypeInt, def: maxInt, doc: "Max connections to this broker (per listener: listener.name.<l>.max.connections); further connections wait in the listen backlog", check: intAtLeast(0), mode: ClusterWide},
	{name: "max.connections.per.ip", group: groupListen, typ: TypeInt, def: maxInt, doc: "Max connections from one IP; further ones are closed at once", check: intAtLeast(0), mode: ClusterWide},
	{name: "max.connections.per.ip.overrides", group: groupListen, typ: TypeString, def: "", doc: "Per-IP or hostname overrides of max.connections.per.ip: host:count,host:count", check: checkIPOverrides, mode: ClusterWide},
	{name: "max.connection.creation.rate", group: groupListen, typ: TypeInt, def: maxInt, doc: "Max new connections per second (per listener: listener.name.<l>.max.connection.creation.rate); further ones wait", check: intAtLeast(0), mode: ClusterWide},
	{name: "request.timeout.ms", group: groupListen, typ: TypeInt, def: "30000", doc: "Timeout of requests this broker sends", check: intAtLeast(0), ignored: "this broker sends no requests to other brokers"},

	// Log storage.
	{name: "log.dirs", group: groupLog, typ: TypeList, null: true, doc: "Directories holding partition data (default: log.dir)"},
	{name: "log.dir", group: groupLog, typ: TypeList, def: "/tmp/kafka-logs", doc: "Directory holding partition data, if log.dirs is unset"},
	{name: "cordoned.log.dirs", group: groupLog, typ: TypeList, def: "", doc: "A comma-separated list of the directories that are cordoned. Entries in this list must be entries in log.dirs or log.dir configuration. This can also be set to * to cordon all log directories.", mode: PerBroker},
	{name: "log.dir.failure.timeout.ms", group: groupLog, typ: TypeLong, def: "30000", doc: "If the broker is unable to successfully communicate to the controller that some log directory has failed for longer than this time, the broker will fail and shut down.", check: longAtLeast(1)},
	{name: "spool.log.dir.full.check.interval.ms", group: groupLog, typ: TypeLong, def: "5000", doc: "Spool only: how often a log dir taken offline because its file system was full (ENOSPC) is checked for free space; it comes back online without a restart once it has spool.log.dir.full.recovery.bytes free (Kafka needs a restart; docs/operations.md)", check: longAtLeast(1)},
	{name: "spool.log.dir.full.recovery.bytes", group: groupLog, typ: TypeLong, def: "67108864", doc: "Spool only: free bytes a full log dir needs before it comes back online", check: longAtLeast(1)},
	{name: "log.segment.bytes", group: groupLog, typ: TypeInt, def: "1073741824", doc: "Max size of a segment file", check: intAtLeast(1048576), mode: ClusterWide},
	{name: "log.roll.ms", group: groupLog, typ: TypeLong, null: true, doc: "Max age of a segment before rolling (overrides log.roll.hours)", check: longAtLeast(1), mode: ClusterWide},
	{name: "log.roll.hours", group: groupLog, typ: TypeInt, def: "168", doc: "Max age of a segment before rolling, in hours", check: intAtLeast(1)},
	{name: "log.roll.jitter.ms", group: groupLog, typ: TypeLong, null: true, doc: "Max jitter subtracted from the roll time", check: longAtLeast(0), mode: ClusterWide, ignored: "segments roll at segment.ms without jitter"},
	{name: "log.roll.jitter.hours", group: groupLog, typ: TypeInt, def: "0", doc: "Max jitter subtracted from the roll time, in hours", check: intAtLeast(0), ignored: "segments roll at segment.ms without jitter"},
	{name: "log.retention.ms", group: groupLog, typ: TypeLong, null: true, doc: "Time to keep a segment; -1 forever (beats minutes and hours)", check: longAtLeast(-1), mode: ClusterWide},
	{name: "log.retention.minutes", group: groupLog, typ: TypeInt, null: true, doc: "Time to keep a segment in minutes (beats hours)", check: anyInt()},
	{name: "log.retention.hours", group: groupLog, typ: TypeInt, def: "168", doc: "Time to keep a segment in hours", check: anyInt()},
	{name: "log.retention.bytes", group: groupLog, typ: TypeLong, def: "-1", doc: "Max partition size before deleting old segments; -1 unlimited", check: anyLong(), mode: ClusterWide},
	{name: "log.retention.check.interval.ms", group: groupLog, typ: TypeLong, def: "300000", doc: "How often retention is enforced", check: longAtLeast(1)},
	{name: "log.index.interval.bytes", group: groupLog, typ: TypeInt, def: "4096", doc: "Bytes between offset index entries", check: intAtLeast(0), mode: ClusterWide},
	{name: "log.index.size.max.bytes", group: groupLog, typ: TypeInt, def: "10485760", doc: "Max size of an offset index", check: intAtLeast(4), mode: ClusterWide},
	{name: "log.flush.interval.messages", group: groupLog, typ: TypeLong, def: maxLong, doc: "Messages appended before fsync", check: longAtLeast(1), mode: ClusterWide},
	{name: "log.flush.interval.ms", group: groupLog, typ: TypeLong, null: true, doc: "Max time before fsync (default: log.flush.scheduler.interval.ms)", check: anyLong(), mode: ClusterWide},
	{name: "log.flush.scheduler.interval.ms", group: groupLog, typ: TypeLong, def: maxLong, doc: "How often the flusher checks logs", check: anyLong()},
	{name: "log.flush.offset.checkpoint.interval.ms", group: groupLog, typ: TypeInt, def: "60000", doc: "How often the recovery point is checkpointed", check: intAtLeast(0)},
	{name: "log.segment.delete.delay.ms", group: groupLog, typ: TypeLong, def: "60000", doc: "Delay before deleting a file from disk", check: longAtLeast(0), mode: ClusterWide},
	{name: "log.preallocate", group: groupLog, typ: TypeBoolean, def: "false", doc: "Preallocate segment files", mode: ClusterWide, ignored: "segment files grow as they are written"},
	{name: "log.cleanup.policy", group: groupLog, typ: TypeList, def: "delete", doc: "Default cleanup policy: delete, compact or both", check: listOf(true, "delete", "compact"), mode: ClusterWide},
	{name: "log.cleaner.enable", group: groupLog, typ: TypeBoolean, def: "true", doc: "Run the log cleaner (needed for compacted topics)"},
	{name: "log.cleaner.backoff.ms", group: groupLog, typ: TypeLong, def: "15000", doc: "Sleep when no log needs cleaning", check: longAtLeast(0), mode: ClusterWide},
	{name: "log.cleaner.dedupe.buffer.size", group: groupLog, typ: TypeLong, def: "134217728", doc: "Memory for the cleaner's key map", check: longAtLeast(0), mode: ClusterWide},
	{name: "log.cleaner.threads", group: groupLog, typ: TypeInt, def: "1", doc: "Log cleaner threads", check: intAtLeast(0), mode: ClusterWide, ignored: "one cleaner goroutine compacts every log"},
	{name: "log.cleaner.delete.retention.ms", group: groupLog, typ: TypeLong, def: "86400000", doc: "How long delete markers are kept in compacted topics", check: longAtLeast(0), mode: ClusterWide},
	{name: "log.cleaner.min.compaction.lag.ms", group: groupLog, typ: TypeLong, def: "0", doc: "Min age of a message before compaction", check: longAtLeast(0), mode: ClusterWide},
	{name: "log.cleaner.max.compaction.lag.ms", group: groupLog, typ: TypeLong, def: maxLong, doc: "Max age of a message before it must be compacted", check: longAtLeast(1), mode: ClusterWide},
	{name: "log.cleaner.min.cleanable.ratio", group: groupLog, typ: TypeDouble, def: "0.5", doc: "Min dirty ratio before cleaning", check: doubleBetween(0, 1), mode: ClusterWide},
	{name: "log.message.timestamp.type", group: groupLog, typ: TypeString, def: "CreateTime", doc: "CreateTime or LogAppendTime", check: oneOf("CreateTime", "LogAppendTime"), mode: ClusterWide},
	{name: "log.message.timestamp.before.max.ms", group: groupLog, typ: TypeLong, def: maxLong, doc: "How far in the past a CreateTime may be", check: longAtLeast(0), mode: ClusterWide},
	{name: "log.message.timestamp.after.max.ms", group: groupLog, typ: TypeLong, def: "3600000", doc: "How far in the future a CreateTime may be", check: longAtLeast(0), mode: ClusterWide},
	{name: "log.local.retention.ms", group: groupLog, typ: TypeLong, def: "-2", doc: "Local retention with tiered storage (-2: log.retention.ms)", check: longAtLeast(-2), mode: ClusterWide, ignored: "tiered storage is not supported: all data stays local, under log.retention.*"},
	{name: "log.local.retention.bytes", group: groupLog, typ: TypeLong, def: "-2", doc: "Local retention with tiered storage (-2: log.retention.bytes)", check: longAtLeast(-2), mode: ClusterWide, ignored: "tiered storage is not supported: all data stays local, under log.retention.*"},
	{name: "num.recovery.threads.per.data.dir", group: groupLog, typ: TypeInt, def: "2", doc: "Threads per log dir that open (and recover) its logs at startup", check: intAtLeast(1), mode: ClusterWide},
	{name: "remote.log.storage.system.enable", group: groupLog, typ: TypeBoolean, def: "false", doc: "Enable tiered storage", ignored: "tiered storage is not supported: all data stays local, and topics with remote.storage.enable=true are refused"},
	{name: "message.max.bytes", group: groupLog, typ: TypeInt, def: "1048588", doc: "Largest record batch the broker accepts", check: intAtLeast(0), mode: ClusterWide},
	{name: "compression.type", group: groupLog, typ: TypeString, def: "producer", doc: "Final compression of topics: uncompressed, zstd, lz4, snappy, gzip or producer", check: oneOf(compressionTypes...), mode: ClusterWide, ignored: "batches are stored as the producer compressed them (as with producer)"},
	{name: "compression.gzip.level", group: groupLog, typ: TypeInt, def: "-1", doc: "gzip level when compression.type=gzip", check: gzipLevel, mode: ClusterWide, ignored: "batches are stored as the producer compressed them"},
	{name: "compression.lz4.level", group: groupLog, typ: TypeInt, def: "9", doc: "lz4 level when compression.type=lz4", check: intBetween(1, 17), mode: ClusterWide, ignored: "batches are stored as the producer compressed them"},
	{name: "compression.zstd.level", group: groupLog, typ: TypeInt, def: "3", doc: "zstd level when compression.type=zstd", check: intBetween(-131072, 22), mode: ClusterWide, ignored: "batches are stored as the producer compressed them"},

	// Topic defaults.
	{name: "num.partitions", group: groupTopic, typ: TypeInt, def: "1", doc: "Partitions of auto-created topics", check: intAtLeast(1)},
	{name: "default.replication.factor", group: groupTopic, typ: TypeInt, def: "1", doc: "Replication factor of auto-created topics", check: intAtLeast(1)},
	{name: "min.insync.replicas", group: groupTopic, typ: TypeInt, def: "1", doc: "Replicas that must acknowledge an acks=all write", check: intAtLeast(1), mode: ClusterWide},
	{name: "auto.create.topics.enable", group: groupTopic, typ: TypeBoolean, def: "true", doc: "Create topics on first Metadata/Produce for them"},
	{name: "delete.topic.enable", group: groupTopic, typ: TypeBoolean, def: "true", doc: "Allow DeleteTopics"},
	{name: "unclean.leader.election.enable", group: groupTopic, typ: TypeBoolean, def: "false", doc: "Allow out-of-sync replicas to become leader (data loss)", mode: ClusterWide},
	{name: "create.topic.policy.class.name", group: groupTopic, typ: TypeClass, null: true, doc: "CreateTopics policy class", ignored: "no policy checks topic creation: every valid CreateTopics request is applied", weakens: true},
	{name: "alter.config.policy.class.name", group: groupTopic, typ: TypeClass, null: true, doc: "AlterConfigs policy class", ignored: "no policy checks config changes: every valid AlterConfigs request is applied", weakens: true},

	// Replication.
	{name: "replica.lag.time.max.ms", group: groupRepl, typ: TypeLong, def: "30000", doc: "A follower this far behind leaves the ISR", check: longAtLeast(1)},
	{name: "replica.selector.class", group: groupRepl, typ: TypeString, null: true, doc: "Class choosing a consumer's preferred read replica (KIP-392): org.apache.kafka.common.replica.RackAwareReplicaSelector sends a consumer with client.rack to an in-sync replica in its rack; unset, consumers read from leaders", check: checkReplicaSelector},
	{name: "replica.fetch.max.bytes", group: groupRepl, typ: TypeInt, def: "1048576", doc: "Bytes per partition a follower fetches", check: intAtLeast(0)},
	{name: "replica.fetch.min.bytes", group: groupRepl, typ: TypeInt, def: "1", doc: "Min bytes a follower fetch waits for", check: intAtLeast(1)},
	{name: "replica.fetch.wait.max.ms", group: groupRepl, typ: TypeInt, def: "500", doc: "Max wait of a follower fetch", check: intAtLeast(0)},
	{name: "replica.fetch.response.max.bytes", group: groupRepl, typ: TypeInt, def: "10485760", doc: "Bytes a whole follower fetch returns", check: intAtLeast(0)},
	{name: "replica.fetch.backoff.ms", group: groupRepl, typ: TypeInt, def: "1000", doc: "Sleep after a follower fetch error", check: intAtLeast(0)},
	{name: "replica.socket.timeout.ms", group: groupRepl, typ: TypeInt, def: "30000", doc: "Socket timeout of follower fetches", check: anyInt()},
	{name: "replica.socket.receive.buffer.bytes", group: groupRepl, typ: TypeInt, def: "65536", doc: "SO_RCVBUF of follower connections", check: anyInt(), ignored: "follower connections use the operating system's default receive buffer"},
	{name: "replica.high.watermark.checkpoint.interval.ms", group: groupRepl, typ: TypeLong, def: "5000", doc: "How often high watermarks are checkpointed", check: longAtLeast(1)},
	{name: "num.replica.fetchers", group: groupRepl, typ: TypeInt, def: "1", doc: "Fetcher goroutines per source broker", check: intAtLeast(1), mode: ClusterWide},
	{name: "leader.replication.throttled.rate", group: groupRepl, typ: TypeLong, def: maxLong, doc: "Replication throttle on leaders (bytes/s)", check: longAtLeast(0), mode: ClusterWide, unlisted: true},
	{name: "follower.replication.throttled.rate", group: groupRepl, typ: TypeLong, def: maxLong, doc: "Replication throttle on followers (bytes/s)", check: longAtLeast(0), mode: ClusterWide, unlisted: true},
	{name: "replica.alter.log.dirs.io.max.bytes.per.second", group: groupRepl, typ: TypeLong, def: maxLong, doc: "Bound on the bytes/s AlterReplicaLogDirs copies between this broker's log dirs", check: longAtLeast(0), mode: ClusterWide, unlisted: true},

	// Client quotas (the quotas themselves are set with AlterClientQuotas).
	{name: "quota.window.num", group: groupQuotas, typ: TypeInt, def: "11", doc: "Samples of client quota rates", check: intAtLeast(1)},
	{name: "quota.window.size.seconds", group: groupQuotas, typ: TypeInt, def: "1", doc: "Span of each client quota sample", check: intAtLeast(1)},
	{name: "controller.quota.window.num", group: groupQuotas, typ: TypeInt, def: "11", doc: "Samples of controller mutation quota rates", check: intAtLeast(1)},
	{name: "controller.quota.window.size.seconds", group: groupQuotas, typ: TypeInt, def: "1", doc: "Span of each controller mutation quota sample", check: intAtLeast(1)},
	{name: "replication.quota.window.num", group: groupQuotas, typ: TypeInt, def: "11", doc: "Samples of replication quota rates", check: intAtLeast(1)},
	{name: "replication.quota.window.size.seconds", group: groupQuotas, typ: TypeInt, def: "1", doc: "Span of each replication quota sample", check: intAtLeast(1)},
	{name: "alter.log.dirs.replication.quota.window.num", group: groupQuotas, typ: TypeInt, def: "11", doc: "Samples of log dir move quota rates", check: intAtLeast(1), ignored: "replica.alter.log.dirs.io.max.bytes.per.second bounds AlterReplicaLogDirs copies with a token bucket of one second, not with sampled windows"},
	{name: "alter.log.dirs.replication.quota.window.size.seconds", group: groupQuotas, typ: TypeInt, def: "1", doc: "Span of each log dir move quota sample", check: intAtLeast(1), ignored: "replica.alter.log.dirs.io.max.bytes.per.second bounds AlterReplicaLogDirs copies with a token bucket of one second, not with sampled windows"},
	{name: "client.quota.callback.class", group: groupQuotas, typ: TypeClass, null: true, doc: "Custom ClientQuotaCallback class", ignored: "custom quota callbacks are not supported: quotas follow Kafka's default callback (user and client-id quotas from AlterClientQuotas)", weakens: true},

	// Groups and offsets.
	{name: "offsets.topic.num.partitions", group: groupGroups, typ: TypeInt, def: "50", doc: "Partitions of __consumer_offsets", check: intAtLeast(1)},
	{name: "offsets.topic.replication.factor", group: groupGroups, typ: TypeShort, def: "3", doc: "Replication factor of __consumer_offsets (created once this many brokers are live)", check: shortAtLeast(1)},
	{name: "offsets.topic.segment.bytes", group: groupGroups, typ: TypeInt, def: "104857600", doc: "Segment size of __consumer_offsets", check: intAtLeast(1)},
	{name: "offsets.retention.minutes", group: groupGroups, typ: TypeInt, def: "10080", doc: "How long committed offsets of empty groups are kept", check: intAtLeast(1)},
	{name: "offsets.retention.check.interval.ms", group: groupGroups, typ: TypeLong, def: "600000", doc: "How often stale offsets are expired", check: longAtLeast(1)},
	{name: "offset.metadata.max.bytes", group: groupGroups, typ: TypeInt, def: "4096", doc: "Max size of offset commit metadata", check: anyInt()},
	{name: "offsets.commit.timeout.ms", group: groupGroups, typ: TypeInt, def: "5000", doc: "Max wait for a group coordinator write (offset commit, join, sync, ...) to be committed before COORDINATOR_NOT_AVAILABLE", check: intAtLeast(1)},
	{name: "group.initial.rebalance.delay.ms", group: groupGroups, typ: TypeInt, def: "3000", doc: "Wait for more members before the first classic rebalance", check: anyInt()},
	{name: "group.min.session.timeout.ms", group: groupGroups, typ: TypeInt, def: "6000", doc: "Min session timeout of classic members", check: anyInt()},
	{name: "group.max.session.timeout.ms", group: groupGroups, typ: TypeInt, def: "1800000", doc: "Max session timeout of classic members", check: anyInt()},
	{name: "group.max.size", group: groupGroups, typ: TypeInt, def: maxInt, doc: "Max members of a classic group", check: intAtLeast(1)},
	{name: "group.coordinator.rebalance.protocols", group: groupGroups, typ: TypeList, def: "classic,consumer,streams", doc: "Enabled group protocols", check: listOf(false, "classic", "consumer", "share", "streams")},
	{name: "group.consumer.session.timeout.ms", group: groupGroups, typ: TypeInt, def: "45000", doc: "Session timeout of KIP-848 consumer members", check: intAtLeast(1)},
	{name: "group.consumer.min.session.timeout.ms", group: groupGroups, typ: TypeInt, def: "45000", doc: "Min session timeout of KIP-848 members", check: intAtLeast(1)},
	{name: "group.consumer.max.session.timeout.ms", group: groupGroups, typ: TypeInt, def: "60000", doc: "Max session timeout of KIP-848 members", check: intAtLeast(1)},
	{name: "group.consumer.heartbeat.interval.ms", group: groupGroups, typ: TypeInt, def: "5000", doc: "Heartbeat interval of KIP-848 members", check: intAtLeast(1)},
	{name: "group.consumer.min.heartbeat.interval.ms", group: groupGroups, typ: TypeInt, def: "5000", doc: "Min heartbeat interval of KIP-848 members", check: intAtLeast(1)},
	{name: "group.consumer.max.heartbeat.interval.ms", group: groupGroups, typ: TypeInt, def: "15000", doc: "Max heartbeat interval of KIP-848 members", check: intAtLeast(1)},
	{name: "group.consumer.max.size", group: groupGroups, typ: TypeInt, def: maxInt, doc: "Max members of a KIP-848 group", check: intAtLeast(1)},
	{name: "group.streams.session.timeout.ms", group: groupGroups, typ: TypeInt, def: "45000", doc: "Session timeout of KIP-1071 streams group members", check: intAtLeast(1)},
	{name: "group.streams.heartbeat.interval.ms", group: groupGroups, typ: TypeInt, def: "5000", doc: "Heartbeat interval of KIP-1071 streams group members", check: intAtLeast(1)},
	{name: "group.streams.max.size", group: groupGroups, typ: TypeInt, def: maxInt, doc: "Max members of a KIP-1071 streams group", check: intAtLeast(1)},
	{name: "group.streams.initial.rebalance.delay.ms", group: groupGroups, typ: TypeInt, def: "3000", doc: "How long a new KIP-1071 streams group waits for more members before its first assignment", check: intAtLeast(0)},
	{name: "group.streams.num.standby.replicas", group: groupGroups, typ: TypeInt, def: "0", doc: "Standby replicas of each task in KIP-1071 streams groups", check: intAtLeast(0)},
	{name: "group.consumer.assignors", group: groupGroups, typ: TypeList, def: "uniform,range", doc: "Server-side assignors of KIP-848 groups, first is the default", check: nonEmptyList},
	{name: "group.consumer.migration.policy", group: groupGroups, typ: TypeString, def: "bidirectional", doc: "Classic <-> consumer group conversion policy", check: oneOf("bidirectional", "upgrade", "downgrade", "disabled"), ignored: "an empty group converts between the classic and consumer protocols either way; a non-empty group never mixes them"},

	// Share groups (KIP-932).
	{name: "group.share.session.timeout.ms", group: groupGroups, typ: TypeInt, def: "45000", doc: "Session timeout of share group members", check: intAtLeast(1)},
	{name: "group.share.heartbeat.interval.ms", group: groupGroups, typ: TypeInt, def: "5000", doc: "Heartbeat interval of share group members", check: intAtLeast(1)},
	{name: "group.share.record.lock.duration.ms", group: groupGroups, typ: TypeInt, def: "30000", doc: "How long a share consumer holds an acquired record", check: intBetween(1000, 3600000)},
	{name: "group.share.delivery.count.limit", group: groupGroups, typ: TypeInt, def: "5", doc: "Deliveries of a record before it is archived", check: intBetween(2, 10)},
	{name: "group.share.max.size", group: groupGroups, typ: TypeInt, def: "200", doc: "Max members of a share group", check: intBetween(1, 1000)},
	{name: "group.share.max.share.sessions", group: groupGroups, typ: TypeInt, def: "2000", doc: "Share sessions a broker keeps", check: intAtLeast(1)},
	{name: "group.share.partition.max.record.locks", group: groupGroups, typ: TypeInt, def: "2000", doc: "In-flight records of a share partition", check: intBetween(100, 10000)},
	{name: "share.coordinator.state.topic.num.partitions", group: groupGroups, typ: TypeInt, def: "50", doc: "Partitions of __share_group_state", check: intAtLeast(1)},
	{name: "share.coordinator.state.topic.replication.factor", group: groupGroups, typ: TypeShort, def: "3", doc: "Replication factor of __share_group_state (created once this many brokers are live)", check: shortAtLeast(1)},
	{name: "share.coordinator.state.topic.min.isr", group: groupGroups, typ: TypeShort, def: "2", doc: "min.insync.replicas of __share_group_state", check: shortAtLeast(1)},
	{name: "share.coordinator.state.topic.segment.bytes", group: groupGroups, typ: TypeInt, def: "104857600", doc: "Segment size of __share_group_state", check: intAtLeast(1)},

	// Transactions and producers.
	{name: "transaction.state.log.num.partitions", group: groupTxn, typ: TypeInt, def: "50", doc: "Partitions of __transaction_state", check: intAtLeast(1)},
	{name: "transaction.state.log.replication.factor", group: groupTxn, typ: TypeShort, def: "3", doc: "Replication factor of __transaction_state (created once this many brokers are live)", check: shortAtLeast(1)},
	{name: "transaction.state.log.min.isr", group: groupTxn, typ: TypeInt, def: "2", doc: "min.insync.replicas of __transaction_state", check: intAtLeast(1)},
	{name: "transaction.state.log.segment.bytes", group: groupTxn, typ: TypeInt, def: "104857600", doc: "Segment size of __transaction_state", check: intAtLeast(1)},
	{name: "transaction.max.timeout.ms", group: groupTxn, typ: TypeInt, def: "900000", doc: "Largest transaction.timeout.ms a producer may ask for", check: intAtLeast(1)},
	{name: "transactional.id.expiration.ms", group: groupTxn, typ: TypeInt, def: "604800000", doc: "Idle time before a transactional id expires", check: intAtLeast(1)},
	{name: "transaction.abort.timed.out.transaction.cleanup.interval.ms", group: groupTxn, typ: TypeInt, def: "10000", doc: "How often timed-out transactions are aborted", check: intAtLeast(1)},
	{name: "transaction.remove.expired.transaction.cleanup.interval.ms", group: groupTxn, typ: TypeInt, def: "3600000", doc: "How often expired transactional ids are removed", check: intAtLeast(1)},
	{name: "transaction.partition.verification.enable", group: groupTxn, typ: TypeBoolean, def: "true", doc: "Verify partitions are in the transaction before appending", mode: ClusterWide},
	{name: "producer.id.expiration.ms", group: groupTxn, typ: TypeInt, def: "86400000", doc: "Idle time before an idempotent producer's state expires", check: intAtLeast(1), mode: ClusterWide},
	{name: "producer.id.expiration.check.interval.ms", group: groupTxn, typ: TypeInt, def: "600000", doc: "How often producer ids are expired", check: intAtLeast(1), unlisted: true},

	// Security (auth/, internal/server/security.go); refused at startup while not implemented (protections.go).
	{name: "sasl.enabled.mechanisms", group: groupSecurity, typ: TypeList, def: "GSSAPI", doc: "SASL mechanisms offered to clients", mode: PerBroker, guard: protSASL},
	{name: "sasl.mechanism.inter.broker.protocol", group: groupSecurity, typ: TypeString, def: "GSSAPI", doc: "SASL mechanism between brokers", mode: PerBroker, guard: protSASL},
	{name: "sasl.mechanism.controller.protocol", group: groupSecurity, typ: TypeString, def: "GSSAPI", doc: "SASL mechanism towards controllers", guard: protSASL},
	{name: "sasl.jaas.config", group: groupSecurity, typ: TypePassword, null: true, doc: "JAAS login configuration", mode: PerBroker, guard: protSASL,
		ignored: "brokers read listener.name.<listener>.<mechanism>.sasl.jaas.config, as Kafka's do"},
	{name: "sasl.server.max.receive.size", group: groupSecurity, typ: TypeInt, def: "524288", doc: "Largest frame read before a SASL client is authenticated", check: intAtLeast(1), guard: protSASL},
	{name: "connections.max.reauth.ms", group: groupSecurity, typ: TypeLong, def: "0", doc: "SASL session lifetime; clients re-authenticate before it ends (0: never)", check: longAtLeast(0), guard: protSASL},
	{name: "delegation.token.secret.key", group: groupSecurity, typ: TypePassword, null: true, doc: "Secret for delegation token HMACs, the same on every node; unset: delegation tokens disabled"},
	{name: "delegation.token.max.lifetime.ms", group: groupSecurity, typ: TypeLong, def: "604800000", doc: "Longest a delegation token can be renewed for", check: longAtLeast(1)},
	{name: "delegation.token.expiry.time.ms", group: groupSecurity, typ: TypeLong, def: "86400000", doc: "Default renewal period of a delegation token", check: longAtLeast(1)},
	{name: "delegation.token.expiry.check.interval.ms", group: groupSecurity, typ: TypeLong, def: "3600000", doc: "How often the active controller removes expired delegation tokens", check: longAtLeast(1)},
	{name: "spool.audit.log.file", group: groupSecurity, typ: TypeString, null: true, doc: "Spool only: the security audit log, JSON lines (authorization denials, authentications, ACL and SCRAM credential changes); unset: none"},
	{name: "spool.audit.log.max.bytes", group: groupSecurity, typ: TypeLong, def: "104857600", doc: "Spool only: size at which the audit log rotates to <file>.1", check: longAtLeast(1024)},
	{name: "spool.audit.log.max.backups", group: groupSecurity, typ: TypeInt, def: "5", doc: "Spool only: rotated audit log files kept (<file>.1 newest)", check: intAtLeast(1)},
	{name: "spool.audit.log.allowed", group: groupSecurity, typ: TypeBoolean, def: "false", doc: "Spool only: also log allowed authorizations (one line per ACL check)"},
	{name: "spool.login.failure.threshold", group: groupSecurity, typ: TypeInt, def: "0", doc: "Spool only: failed SASL logins from one client address within spool.login.failure.window.ms before its logins fail unchecked for spool.login.block.ms (0: off, as Kafka)", check: intAtLeast(0), guard: protSASL},
	{name: "spool.login.failure.window.ms", group: groupSecurity, typ: TypeLong, def: "60000", doc: "Spool only: window of spool.login.failure.threshold", check: longAtLeast(1), guard: protSASL},
	{name: "spool.login.block.ms", group: groupSecurity, typ: TypeLong, def: "30000", doc: "Spool only: how long logins from an address over spool.login.failure.threshold fail", check: longAtLeast(1), guard: protSASL},
	{name: "spool.login.tracked.addresses", group: groupSecurity, typ: TypeInt, def: "10000", doc: "Spool only: most client addresses the login throttle remembers per listener (bounded memory)", check: intAtLeast(1), guard: protSASL},
	{name: "connection.failed.authentication.delay.ms", group: groupSecurity, typ: TypeInt, def: "100", doc: "Delay before a failed SASL authentication is answered and the connection closed", check: intAtLeast(0), guard: protSASL},
	{name: "ssl.keystore.type", group: groupSecurity, typ: TypeString, def: "JKS", doc: "Keystore format: JKS, PKCS12 or PEM", mode: PerBroker, guard: protTLS},
	{name: "ssl.keystore.location", group: groupSecurity, typ: TypeString, null: true, doc: "Keystore file", mode: PerBroker, guard: protTLS},
	{name: "ssl.keystore.password", group: groupSecurity, typ: TypePassword, null: true, doc: "Keystore password", mode: PerBroker, guard: protTLS},
	{name: "ssl.key.password", group: groupSecurity, typ: TypePassword, null: true, doc: "Private key password", mode: PerBroker, guard: protTLS},
	{name: "ssl.truststore.type", group: groupSecurity, typ: TypeString, def: "JKS", doc: "Truststore format: JKS, PKCS12 or PEM", mode: PerBroker, guard: protTLS},
	{name: "ssl.truststore.location", group: groupSecurity, typ: TypeString, null: true, doc: "Truststore file", mode: PerBroker, guard: protTLS},
	{name: "ssl.truststore.password", group: groupSecurity, typ: TypePassword, null: true, doc: "Truststore password", mode: PerBroker, guard: protTLS},
	{name: "ssl.client.auth", group: groupSecurity, typ: TypeString, def: "none", doc: "Client certificates: required, requested or none", check: oneOf("required", "requested", "none"), mode: PerBroker, guard: protClientCert},
	{name: "ssl.endpoint.identification.algorithm", group: groupSecurity, typ: TypeString, def: "https", doc: "Hostname verification towards brokers (empty disables)", mode: PerBroker, guard: protTLS},
	{name: "ssl.protocol", group: groupSecurity, typ: TypeString, def: "TLSv1.3", doc: "TLS protocol", mode: PerBroker, guard: protTLS},
	{name: "ssl.enabled.protocols", group: groupSecurity, typ: TypeList, def: "TLSv1.2,TLSv1.3", doc: "Enabled TLS versions", mode: PerBroker, guard: protTLS},
	{name: "ssl.cipher.suites", group: groupSecurity, typ: TypeList, def: "", doc: "Enabled cipher suites (empty: all)", mode: PerBroker, guard: protTLS},
	{name: "super.users", group: groupSecurity, typ: TypeString, null: true, doc: "Semicolon-separated principals that bypass ACLs", guard: protAuthorizer, unlisted: true, untyped: true},
	{name: "principal.builder.class", group: groupSecurity, typ: TypeClass, def: DefaultPrincipalBuilder, doc: "Builds a connection's principal; only Kafka's default (User:<SASL name> or the certificate's subject after ssl.principal.mapping.rules)", mode: PerBroker, guard: protAuthorizer},
	{name: "authorizer.class.name", group: groupSecurity, typ: TypeString, def: "", doc: "Authorizer; org.apache.kafka.metadata.authorizer.StandardAuthorizer enables ACLs", guard: protAuthorizer},
	{name: "allow.everyone.if.no.acl.found", group: groupSecurity, typ: TypeBoolean, def: "false", doc: "Allow access to resources without ACLs", guard: protAuthorizer, unlisted: true, untyped: true},
}, kafkaOnlyBrokerDefs...)

var compressionTypes = []string{"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"}

func gzipLevel(v string) (string, bool) {
	n, ok := parseInt(v, 32)
	if !ok || !(n == -1 || (n >= 1 && n <= 9)) {
		return "must be an integer in [1, 9] or -1", false
	}
	return "", true
}

func nonEmptyList(v string) (string, bool) {
	if len(splitList(v)) == 0 {
		return "must be a non-empty comma-separated list", false
	}
	return "", true
}

var brokerDefs = func() map[string]*brokerDef {
	m := make(map[string]*brokerDef, len(brokerDefList))
	for i := range brokerDefList {
		m[brokerDefList[i].name] = &brokerDefList[i]
	}
	return m
}()

var brokerDefNames = func() []string {
	names := make([]string, 0, len(brokerDefList))
	for _, d := range brokerDefList {
		names = append(names, d.name)
	}
	sort.Strings(names)
	return names
}()

// removedProps are broker properties of older Kafka versions that Kafka 4
// dropped; they are accepted with a notice so that old files still start.
var removedProps = map[string]string{
	"zookeeper.connect":               "ZooKeeper mode was removed in Kafka 4.0; ignored",
	"zookeeper.session.timeout.ms":    "ZooKeeper mode was removed in Kafka 4.0; ignored",
	"zookeeper.connection.timeout.ms": "ZooKeeper mode was removed in Kafka 4.0; ignored",
	"zookeeper.set.acl":               "ZooKeeper mode was removed in Kafka 4.0; ignored",
	"inter.broker.protocol.version":   "removed in Kafka 4.0 (KRaft uses metadata.version); ignored",
	"log.message.format.version":      "removed in Kafka 4.0; ignored",
	"advertised.host.name":            "removed in Kafka 3.0, use advertised.listeners; ignored",
	"advertised.port":                 "removed in Kafka 3.0, use advertised.listeners; ignored",
	"host.name":                       "removed in Kafka 3.0, use listeners; ignored",
	"port":                            "removed in Kafka 3.0, use listeners; ignored",
	"control.plane.listener.name":     "removed in Kafka 4.0; ignored",
}

// passthroughPrefixes are families Spool stores without typing (listener
// overrides such as listener.name.sasl_ssl.plain.sasl.jaas.config, and the
// many ssl.*/sasl.* knobs).
var passthroughPrefixes = []string{"listener.name.", "ssl.", "sasl.", "remote.log.", "metric.reporters",
	"metrics.", "log.cleaner.", "quota.", "client.quota.", "confluent."}
