package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Listener is one entry of listeners or advertised.listeners.
type Listener struct {
	Name             string // upper-case, e.g. PLAINTEXT, CONTROLLER
	Host             string // "" binds every interface
	Port             int
	SecurityProtocol string // from listener.security.protocol.map
}

// Addr is host:port, suitable for net.Listen.
func (l Listener) Addr() string { return net.JoinHostPort(l.Host, strconv.Itoa(l.Port)) }

func (l Listener) String() string { return l.Name + "://" + l.Addr() }

// Voter is one entry of controller.quorum.voters.
type Voter struct {
	ID   int32
	Host string
	Port int
}

// Broker is the validated static configuration of one Spool node.
// It is immutable after Load.
type Broker struct {
	// Node and quorum.
	NodeID                    int32
	ProcessRoles              []string // "broker", "controller"
	ControllerQuorumVoters    []Voter
	ControllerQuorumBootstrap []string // host:port
	ControllerListenerNames   []string
	ClusterID                 string // CLUSTER_ID / KAFKA_CLUSTER_ID; "" if unset
	MetadataLogDir            string
	BrokerRack                string
	AutoLeaderRebalanceEnable bool
	ControlledShutdownEnable  bool
	// LeaderImbalanceCheckIntervalSeconds paces the active controller's
	// preferred-leader rebalance (with AutoLeaderRebalanceEnable).
	LeaderImbalanceCheckIntervalSeconds int64
	// Broker liveness and quorum timing.
	BrokerHeartbeatIntervalMs int32
	BrokerSessionTimeoutMs    int32
	// BrokerFastFencing: spool.broker.fast.fencing.enable.
	BrokerFastFencing                 bool
	ControllerQuorumElectionTimeoutMs int32
	ControllerQuorumFetchTimeoutMs    int32

	// Listeners. AdvertisedListeners is effective: explicit entries, plus
	// listeners not advertised explicitly (Kafka's fallback).
	Listeners                   []Listener
	AdvertisedListeners         []Listener
	ListenerSecurityProtocolMap map[string]string
	InterBrokerListenerName     string
	SocketRequestMaxBytes       int32
	SocketSendBufferBytes       int32
	SocketReceiveBufferBytes    int32
	NumNetworkThreads           int32 // accepted, unused
	NumIOThreads                int32 // accepted, unused
	// NumRecoveryThreadsPerDataDir is num.recovery.threads.per.data.dir.
	NumRecoveryThreadsPerDataDir int32
	QueuedMaxRequests            int32
	// Client telemetry (KIP-714): telemetry.max.bytes and Spool's caps on
	// what /metrics exports.
	TelemetryMaxBytes         int32
	ClientTelemetryMaxClients int32
	ClientTelemetryMaxSeries  int32
	ConnectionsMaxIdleMs      int64
	MaxConnections            int32
	MaxConnectionsPerIP       int32

	// Log.
	LogDirs                []string
	LogDirFailureTimeoutMs int64
	// LogDirFullCheckIntervalMs and LogDirFullRecoveryBytes are
	// spool.log.dir.full.check.interval.ms and
	// spool.log.dir.full.recovery.bytes (storage/dirrecovery.go).
	LogDirFullCheckIntervalMs int64
	LogDirFullRecoveryBytes   int64
	// CordonedLogDirs are cordoned.log.dirs (KIP-1066): log dirs that get
	// no new replicas; "*" cordons them all.
	CordonedLogDirs              []string
	LogSegmentBytes              int32
	LogRollMs                    int64 // effective: log.roll.ms, else log.roll.hours
	LogRollJitterMs              int64
	LogRetentionMs               int64 // effective: ms > minutes > hours; -1 forever
	LogRetentionBytes            int64
	LogRetentionCheckIntervalMs  int64
	LogIndexIntervalBytes        int32
	LogIndexSizeMaxBytes         int32
	LogFlushIntervalMessages     int64
	LogFlushIntervalMs           int64 // effective: log.flush.interval.ms, else scheduler interval
	LogFlushSchedulerIntervalMs  int64 // how often flush.ms is checked
	LogFlushCheckpointIntervalMs int32 // log.flush.offset.checkpoint.interval.ms
	LogSegmentDeleteDelayMs      int64
	LogPreallocate               bool
	LogCleanupPolicy             []string
	LogCleanerEnable             bool
	LogCleanerBackoffMs          int64
	LogCleanerDedupeBufferSize   int64
	LogMessageTimestampType      string
	LogMessageTimestampBeforeMax int64
	LogMessageTimestampAfterMax  int64
	MessageMaxBytes              int32
	CompressionType              string

	// Topic defaults.
	NumPartitions               int32
	DefaultReplicationFactor    int16
	MinInsyncReplicas           int32
	AutoCreateTopicsEnable      bool
	DeleteTopicEnable           bool
	UncleanLeaderElectionEnable bool

	// Replication.
	ReplicaLagTimeMaxMs int64
	// ReplicaSelectorClass is replica.selector.class ("": none).
	ReplicaSelectorClass         string
	ReplicaFetchMaxBytes         int32
	ReplicaFetchMinBytes         int32
	ReplicaFetchWaitMaxMs        int32
	ReplicaFetchResponseMaxBytes int32
	ReplicaFetchBackoffMs        int32
	ReplicaSocketTimeoutMs       int32
	NumReplicaFetchers           int32
	// ReplicaHighWatermarkCheckpointIntervalMs is
	// replica.high.watermark.checkpoint.interval.ms.
	ReplicaHighWatermarkCheckpointIntervalMs int64

	// Groups and offsets.
	OffsetsTopicNumPartitions        int32
	OffsetsTopicReplicationFactor    int16
	OffsetsTopicSegmentBytes         int32
	OffsetsRetentionMinutes          int32
	OffsetsRetentionCheckIntervalMs  int64
	OffsetsCommitTimeoutMs           int32
	OffsetMetadataMaxBytes           int32
	GroupInitialRebalanceDelayMs     int32
	GroupMinSessionTimeoutMs         int32
	GroupMaxSessionTimeoutMs         int32
	GroupMaxSize                     int32
	GroupCoordinatorProtocols        []string
	GroupConsumerSessionTimeoutMs    int32
	GroupConsumerMinSessionTimeoutMs int32
	GroupConsumerMaxSessionTimeoutMs int32
	GroupConsumerHeartbeatMs         int32
	GroupConsumerMinHeartbeatMs      int32
	GroupConsumerMaxHeartbeatMs      int32
	GroupConsumerMaxSize             int32
	GroupConsumerAssignors           []string
	GroupConsumerMigrationPolicy     string
	GroupStreamsSessionTimeoutMs     int32
	GroupStreamsHeartbeatMs          int32
	GroupStreamsMaxSize              int32
	GroupStreamsNumStandbyReplicas   int32
	GroupStreamsInitialRebalanceMs   int32
	GroupStreamsMinSessionTimeoutMs  int32
	GroupStreamsMaxSessionTimeoutMs  int32
	GroupStreamsMinHeartbeatMs       int32
	GroupStreamsMaxHeartbeatMs       int32
	GroupStreamsMaxStandbyReplicas   int32

	// Share groups (KIP-932).
	GroupShareSessionTimeoutMs            int32
	GroupShareHeartbeatMs                 int32
	GroupShareRecordLockDurationMs        int32
	GroupShareDeliveryCountLimit          int32
	GroupSharePartitionMaxRecordLocks     int32
	GroupShareMaxSize                     int16
	GroupShareMaxShareSessions            int32
	ShareCoordinatorStateTopicPartitions  int32
	ShareCoordinatorStateTopicRF          int16
	ShareCoordinatorStateTopicSegmentSize int32
	ShareCoordinatorStateTopicMinISR      int32
	ShareCoordinatorUpdatesPerSnapshot    int32

	// Transactions and producers.
	TransactionStateLogNumPartitions     int32
	TransactionStateLogReplicationFactor int16
	TransactionStateLogMinISR            int32
	TransactionStateLogSegmentBytes      int32
	TransactionMaxTimeoutMs              int32
	TransactionalIDExpirationMs          int32
	TransactionAbortCheckIntervalMs      int32 // transaction.abort.timed.out.transaction.cleanup.interval.ms
	TransactionRemoveExpiredIntervalMs   int32 // transaction.remove.expired.transaction.cleanup.interval.ms
	TransactionPartitionVerification     bool  // transaction.partition.verification.enable
	ProducerIDExpirationMs               int32
	ProducerIDExpirationCheckIntervalMs  int32

	// Security: stored for auth/.
	SASLEnabledMechanisms    []string
	SASLInterBrokerMechanism string
	SuperUsers               []string
	AuthorizerClassName      string
	// Security holds every ssl.*, sasl.* and listener.name.* property as set.
	Security map[string]string

	// static holds every property set in the file or environment (after
	// env-over-file), for DescribeConfigs' STATIC_BROKER_CONFIG.
	static map[string]string
}

// Static returns the value set in server.properties or the environment.
func (b *Broker) Static(name string) (string, bool) {
	v, ok := b.static[name]
	return v, ok
}

// HasRole reports whether process.roles contains role.
func (b *Broker) HasRole(role string) bool { return slices.Contains(b.ProcessRoles, role) }

// Default returns a Broker with only built-in defaults: Spool's zero-config
// single node.
func Default() *Broker {
	b, _, err := build(map[string]string{}, "")
	if err != nil {
		panic("config: built-in defaults are invalid: " + err.Error())
	}
	return b
}

// Load reads path (skipped if "") and environ (KEY=VALUE, as os.Environ),
// applies defaults < file < environment, and validates the result. Notices
// list ignored launcher variables and unknown or removed properties.
func Load(path string, environ []string) (*Broker, []Notice, error) {
	props := map[string]string{}
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, fmt.Errorf("config: %w", err)
		}
		props, err = ParseProperties(f)
		_ = f.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	env, notices := readEnv(environ)
	if err := applyImageSecrets(env.props, env.propEnv); err != nil {
		return nil, nil, err
	}
	for k, v := range env.props {
		props[k] = v
	}
	if env.clusterID != "" {
		if err := validateClusterID(env.clusterID); err != nil {
			return nil, nil, fmt.Errorf("config: invalid value %q for %q: %w", env.clusterID, env.idVar, err)
		}
	}
	b, more, err := build(props, env.clusterID)
	if err != nil {
		return nil, nil, err
	}
	return b, append(notices, more...), nil
}

// validateClusterID accepts what kafka-storage format accepts: a base64url
// (unpadded) encoding of 16 bytes.
func validateClusterID(id string) error {
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(raw) != 16 {
		return errors.New("must be a 22-character base64url UUID, e.g. from 'kafka-storage random-uuid'")
	}
	return nil
}

// resolver reads typed values from properties that build has already
// validated, so a value that does not parse reads as zero.
type resolver struct {
	vals map[string]string
}

func (r *resolver) raw(name string) (string, bool) {
	if v, ok := r.vals[name]; ok {
		return v, true
	}
	d := brokerDefs[name]
	if d == nil || d.null {
		return "", false
	}
	return d.def, true
}

func (r *resolver) str(name string) string {
	v, _ := r.raw(name)
	return normalize(brokerDefs[name].typ, v)
}

func (r *resolver) i64(name string) int64 {
	v, ok := r.raw(name)
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0 // already reported by validation
	}
	return n
}

func (r *resolver) i32(name string) int32 { return int32(r.i64(name)) }
func (r *resolver) i16(name string) int16 { return int16(r.i64(name)) }
func (r *resolver) boolean(name string) bool {
	return strings.EqualFold(r.str(name), "true")
}
func (r *resolver) list(name string) []string { return splitList(r.str(name)) }
func (r *resolver) set(name string) bool {
	_, ok := r.vals[name]
	return ok
}

func build(props map[string]string, clusterID string) (*Broker, []Notice, error) {
	var notices []Notice
	vals := map[string]string{}
	static := map[string]string{}
	security := map[string]string{}
	var errs []error
	for k, v := range props {
		static[k] = v
		switch {
		case brokerDefs[k] != nil:
			d := brokerDefs[k]
			if err := validateValue(k, d.typ, d.check, v); err != nil {
				errs = append(errs, err)
			}
			vals[k] = v
			if strings.HasPrefix(k, "ssl.") || strings.HasPrefix(k, "sasl.") {
				security[k] = v
			}
		case removedProps[k] != "":
			notices = append(notices, Notice{Property: k, Message: removedProps[k]})
		case hasPassthroughPrefix(k):
			if strings.HasPrefix(k, "ssl.") || strings.HasPrefix(k, "sasl.") || strings.HasPrefix(k, "listener.name.") {
				security[k] = v
			}
		default:
			if _, ok := LookupTopicConfig(k); ok {
				syn := ""
				if s := topicSynonyms[k]; len(s) > 0 {
					syn = "; the broker-wide default is " + s[0].name
				}
				notices = append(notices, Notice{Property: k, Message: "is a topic-level config, not a broker config; ignored" + syn})
				continue
			}
			notices = append(notices, Notice{Property: k, Message: "was supplied but isn't a known config; ignored"})
		}
	}
	delete(static, "") // a stray "=value" line
	// Kafka's AbstractKafkaConfig.populateSynonyms: node.id and broker.id
	// are one setting, and DescribeConfigs shows both as set.
	if v, ok := static["node.id"]; ok && static["broker.id"] == "" {
		static["broker.id"] = v
	} else if v, ok := static["broker.id"]; ok && static["node.id"] == "" {
		static["node.id"] = v
	}
	if zero := !slices.ContainsFunc(zeroConfigTriggers, func(k string) bool { _, ok := vals[k]; return ok }); zero {
		for k, v := range zeroConfig {
			vals[k] = v
		}
	}
	for k, v := range spoolDefaults {
		if _, ok := vals[k]; !ok {
			vals[k] = v
		}
	}
	if len(errs) > 0 {
		return nil, nil, fmt.Errorf("config: %w", errors.Join(errs...))
	}
	r := &resolver{vals: vals}
	b := &Broker{static: static, Security: security, ClusterID: clusterID}
	b.fill(r)
	if err := b.validate(r); err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	b.noticeNonroutable(&notices)
	slices.SortFunc(notices, func(a, c Notice) int { return strings.Compare(a.Property, c.Property) })
	return b, notices, nil
}

func hasPassthroughPrefix(k string) bool {
	return slices.ContainsFunc(passthroughPrefixes, func(p string) bool { return strings.HasPrefix(k, p) })
}

func (b *Broker) fill(r *resolver) {
	b.NodeID = r.i32("node.id")
	if !r.set("node.id") && r.set("broker.id") {
		b.NodeID = r.i32("broker.id")
	}
	b.ProcessRoles = r.list("process.roles")
	b.ControllerQuorumBootstrap = r.list("controller.quorum.bootstrap.servers")
	b.ControllerListenerNames = upperAll(r.list("controller.listener.names"))
	b.MetadataLogDir = r.str("metadata.log.dir")
	b.BrokerRack = r.str("broker.rack")
	b.AutoLeaderRebalanceEnable = r.boolean("auto.leader.rebalance.enable")
	b.ControlledShutdownEnable = r.boolean("controlled.shutdown.enable")
	b.LeaderImbalanceCheckIntervalSeconds = r.i64("leader.imbalance.check.interval.seconds")
	b.BrokerHeartbeatIntervalMs = r.i32("broker.heartbeat.interval.ms")
	b.BrokerSessionTimeoutMs = r.i32("broker.session.timeout.ms")
	b.BrokerFastFencing = r.boolean("spool.broker.fast.fencing.enable")
	b.ControllerQuorumElectionTimeoutMs = r.i32("controller.quorum.election.timeout.ms")
	b.ControllerQuorumFetchTimeoutMs = r.i32("controller.quorum.fetch.timeout.ms")

	b.InterBrokerListenerName = strings.ToUpper(r.str("inter.broker.listener.name"))
	b.SocketRequestMaxBytes = r.i32("socket.request.max.bytes")
	b.SocketSendBufferBytes = r.i32("socket.send.buffer.bytes")
	b.SocketReceiveBufferBytes = r.i32("socket.receive.buffer.bytes")
	b.NumNetworkThreads = r.i32("num.network.threads")
	b.NumIOThreads = r.i32("num.io.threads")
	b.NumRecoveryThreadsPerDataDir = r.i32("num.recovery.threads.per.data.dir")
	b.QueuedMaxRequests = r.i32("queued.max.requests")
	b.TelemetryMaxBytes = r.i32("telemetry.max.bytes")
	b.ClientTelemetryMaxClients = r.i32("spool.client.telemetry.max.clients")
	b.ClientTelemetryMaxSeries = r.i32("spool.client.telemetry.max.series.per.client")
	b.ConnectionsMaxIdleMs = r.i64("connections.max.idle.ms")
	b.MaxConnections = r.i32("max.connections")
	b.MaxConnectionsPerIP = r.i32("max.connections.per.ip")

	b.LogDirs = r.list("log.dirs")
	if len(b.LogDirs) == 0 {
		b.LogDirs = r.list("log.dir")
	}
	b.LogDirFailureTimeoutMs = r.i64("log.dir.failure.timeout.ms")
	b.LogDirFullCheckIntervalMs = r.i64("spool.log.dir.full.check.interval.ms")
	b.LogDirFullRecoveryBytes = r.i64("spool.log.dir.full.recovery.bytes")
	b.CordonedLogDirs = r.list("cordoned.log.dirs")
	b.LogSegmentBytes = r.i32("log.segment.bytes")
	b.LogRollMs = firstMs(r, "log.roll.ms", "", "log.roll.hours")
	b.LogRollJitterMs = firstMs(r, "log.roll.jitter.ms", "", "log.roll.jitter.hours")
	b.LogRetentionMs = firstMs(r, "log.retention.ms", "log.retention.minutes", "log.retention.hours")
	b.LogRetentionBytes = r.i64("log.retention.bytes")
	b.LogRetentionCheckIntervalMs = r.i64("log.retention.check.interval.ms")
	b.LogIndexIntervalBytes = r.i32("log.index.interval.bytes")
	b.LogIndexSizeMaxBytes = r.i32("log.index.size.max.bytes")
	b.LogFlushIntervalMessages = r.i64("log.flush.interval.messages")
	b.LogFlushIntervalMs = r.i64("log.flush.scheduler.interval.ms")
	if r.set("log.flush.interval.ms") {
		b.LogFlushIntervalMs = r.i64("log.flush.interval.ms")
	}
	b.LogFlushSchedulerIntervalMs = r.i64("log.flush.scheduler.interval.ms")
	b.LogFlushCheckpointIntervalMs = r.i32("log.flush.offset.checkpoint.interval.ms")
	b.LogSegmentDeleteDelayMs = r.i64("log.segment.delete.delay.ms")
	b.LogPreallocate = r.boolean("log.preallocate")
	b.LogCleanupPolicy = r.list("log.cleanup.policy")
	b.LogCleanerEnable = r.boolean("log.cleaner.enable")
	b.LogCleanerBackoffMs = r.i64("log.cleaner.backoff.ms")
	b.LogCleanerDedupeBufferSize = r.i64("log.cleaner.dedupe.buffer.size")
	b.LogMessageTimestampType = r.str("log.message.timestamp.type")
	b.LogMessageTimestampBeforeMax = r.i64("log.message.timestamp.before.max.ms")
	b.LogMessageTimestampAfterMax = r.i64("log.message.timestamp.after.max.ms")
	b.MessageMaxBytes = r.i32("message.max.bytes")
	b.CompressionType = r.str("compression.type")

	b.NumPartitions = r.i32("num.partitions")
	b.DefaultReplicationFactor = r.i16("default.replication.factor")
	b.MinInsyncReplicas = r.i32("min.insync.replicas")
	b.AutoCreateTopicsEnable = r.boolean("auto.create.topics.enable")
	b.DeleteTopicEnable = r.boolean("delete.topic.enable")
	b.UncleanLeaderElectionEnable = r.boolean("unclean.leader.election.enable")

	b.ReplicaLagTimeMaxMs = r.i64("replica.lag.time.max.ms")
	b.ReplicaSelectorClass = r.str("replica.selector.class")
	b.ReplicaFetchMaxBytes = r.i32("replica.fetch.max.bytes")
	b.ReplicaFetchMinBytes = r.i32("replica.fetch.min.bytes")
	b.ReplicaFetchWaitMaxMs = r.i32("replica.fetch.wait.max.ms")
	b.ReplicaFetchResponseMaxBytes = r.i32("replica.fetch.response.max.bytes")
	b.ReplicaFetchBackoffMs = r.i32("replica.fetch.backoff.ms")
	b.ReplicaSocketTimeoutMs = r.i32("replica.socket.timeout.ms")
	b.NumReplicaFetchers = r.i32("num.replica.fetchers")
	b.ReplicaHighWatermarkCheckpointIntervalMs = r.i64("replica.high.watermark.checkpoint.interval.ms")

	b.OffsetsTopicNumPartitions = r.i32("offsets.topic.num.partitions")
	b.OffsetsTopicReplicationFactor = r.i16("offsets.topic.replication.factor")
	b.OffsetsTopicSegmentBytes = r.i32("offsets.topic.segment.bytes")
	b.OffsetsRetentionMinutes = r.i32("offsets.retention.minutes")
	b.OffsetsRetentionCheckIntervalMs = r.i64("offsets.retention.check.interval.ms")
	b.OffsetsCommitTimeoutMs = r.i32("offsets.commit.timeout.ms")
	b.OffsetMetadataMaxBytes = r.i32("offset.metadata.max.bytes")
	b.GroupInitialRebalanceDelayMs = r.i32("group.initial.rebalance.delay.ms")
	b.GroupMinSessionTimeoutMs = r.i32("group.min.session.timeout.ms")
	b.GroupMaxSessionTimeoutMs = r.i32("group.max.session.timeout.ms")
	b.GroupMaxSize = r.i32("group.max.size")
	b.GroupCoordinatorProtocols = r.list("group.coordinator.rebalance.protocols")
	b.GroupConsumerSessionTimeoutMs = r.i32("group.consumer.session.timeout.ms")
	b.GroupConsumerMinSessionTimeoutMs = r.i32("group.consumer.min.session.timeout.ms")
	b.GroupConsumerMaxSessionTimeoutMs = r.i32("group.consumer.max.session.timeout.ms")
	b.GroupConsumerHeartbeatMs = r.i32("group.consumer.heartbeat.interval.ms")
	b.GroupConsumerMinHeartbeatMs = r.i32("group.consumer.min.heartbeat.interval.ms")
	b.GroupConsumerMaxHeartbeatMs = r.i32("group.consumer.max.heartbeat.interval.ms")
	b.GroupConsumerMaxSize = r.i32("group.consumer.max.size")
	b.GroupConsumerAssignors = r.list("group.consumer.assignors")
	b.GroupConsumerMigrationPolicy = r.str("group.consumer.migration.policy")
	b.GroupStreamsSessionTimeoutMs = r.i32("group.streams.session.timeout.ms")
	b.GroupStreamsHeartbeatMs = r.i32("group.streams.heartbeat.interval.ms")
	b.GroupStreamsMaxSize = r.i32("group.streams.max.size")
	b.GroupStreamsMinSessionTimeoutMs = r.i32("group.streams.min.session.timeout.ms")
	b.GroupStreamsMaxSessionTimeoutMs = r.i32("group.streams.max.session.timeout.ms")
	b.GroupStreamsMinHeartbeatMs = r.i32("group.streams.min.heartbeat.interval.ms")
	b.GroupStreamsMaxHeartbeatMs = r.i32("group.streams.max.heartbeat.interval.ms")
	b.GroupStreamsMaxStandbyReplicas = r.i32("group.streams.max.standby.replicas")
	b.GroupStreamsNumStandbyReplicas = r.i32("group.streams.num.standby.replicas")
	b.GroupStreamsInitialRebalanceMs = r.i32("group.streams.initial.rebalance.delay.ms")
	b.GroupShareSessionTimeoutMs = r.i32("group.share.session.timeout.ms")
	b.GroupShareHeartbeatMs = r.i32("group.share.heartbeat.interval.ms")
	b.GroupShareRecordLockDurationMs = r.i32("group.share.record.lock.duration.ms")
	b.GroupShareDeliveryCountLimit = r.i32("group.share.delivery.count.limit")
	b.GroupSharePartitionMaxRecordLocks = r.i32("group.share.partition.max.record.locks")
	b.GroupShareMaxSize = r.i16("group.share.max.size")
	b.GroupShareMaxShareSessions = r.i32("group.share.max.share.sessions")
	b.ShareCoordinatorStateTopicPartitions = r.i32("share.coordinator.state.topic.num.partitions")
	b.ShareCoordinatorStateTopicRF = r.i16("share.coordinator.state.topic.replication.factor")
	b.ShareCoordinatorStateTopicSegmentSize = r.i32("share.coordinator.state.topic.segment.bytes")
	b.ShareCoordinatorStateTopicMinISR = r.i32("share.coordinator.state.topic.min.isr")
	b.ShareCoordinatorUpdatesPerSnapshot = r.i32("share.coordinator.snapshot.update.records.per.snapshot")

	b.TransactionStateLogNumPartitions = r.i32("transaction.state.log.num.partitions")
	b.TransactionStateLogReplicationFactor = r.i16("transaction.state.log.replication.factor")
	b.TransactionStateLogMinISR = r.i32("transaction.state.log.min.isr")
	b.TransactionStateLogSegmentBytes = r.i32("transaction.state.log.segment.bytes")
	b.TransactionMaxTimeoutMs = r.i32("transaction.max.timeout.ms")
	b.TransactionalIDExpirationMs = r.i32("transactional.id.expiration.ms")
	b.TransactionAbortCheckIntervalMs = r.i32("transaction.abort.timed.out.transaction.cleanup.interval.ms")
	b.TransactionRemoveExpiredIntervalMs = r.i32("transaction.remove.expired.transaction.cleanup.interval.ms")
	b.TransactionPartitionVerification = r.boolean("transaction.partition.verification.enable")
	b.ProducerIDExpirationMs = r.i32("producer.id.expiration.ms")
	b.ProducerIDExpirationCheckIntervalMs = r.i32("producer.id.expiration.check.interval.ms")

	b.SASLEnabledMechanisms = r.list("sasl.enabled.mechanisms")
	b.SASLInterBrokerMechanism = r.str("sasl.mechanism.inter.broker.protocol")
	for _, u := range strings.Split(r.str("super.users"), ";") {
		if u = strings.TrimSpace(u); u != "" {
			b.SuperUsers = append(b.SuperUsers, u)
		}
	}
	b.AuthorizerClassName = r.str("authorizer.class.name")
}

// firstMs applies Kafka's precedence ms > minutes > hours.
func firstMs(r *resolver, ms, minutes, hours string) int64 {
	switch {
	case r.set(ms):
		return r.i64(ms)
	case minutes != "" && r.set(minutes):
		return toMs(r.i64(minutes), 60_000)
	}
	return toMs(r.i64(hours), 3_600_000)
}

// toMs converts, keeping negative values (-1 means "forever") as they are,
// as Kafka's retention logic does.
func toMs(n, unit int64) int64 {
	if n < 0 {
		return -1
	}
	return n * unit
}

func upperAll(s []string) []string {
	for i := range s {
		s[i] = strings.ToUpper(s[i])
	}
	return s
}

var listenerRE = regexp.MustCompile(`^([^:/]+)://\[?([0-9a-zA-Z\-%._:]*?)\]?:(-?[0-9]+)$`)

func parseListeners(prop, v string) ([]Listener, error) {
	var out []Listener
	for _, it := range splitList(v) {
		m := listenerRE.FindStringSubmatch(it)
		if m == nil {
			return nil, &ValueError{Name: prop, Value: v, Allowed: fmt.Sprintf("%q must look like NAME://host:port", it)}
		}
		port, err := strconv.Atoi(m[3])
		if err != nil || port < 0 || port > 65535 {
			return nil, &ValueError{Name: prop, Value: v, Allowed: fmt.Sprintf("port of %q must be in [0, 65535]", it)}
		}
		name := strings.ToUpper(m[1])
		for _, l := range out {
			if l.Name == name {
				return nil, &ValueError{Name: prop, Value: v, Allowed: fmt.Sprintf("listener name %s appears more than once", name)}
			}
		}
		out = append(out, Listener{Name: name, Host: m[2], Port: port})
	}
	return out, nil
}

func parseVoters(v string) ([]Voter, error) {
	var out []Voter
	for _, it := range splitList(v) {
		idStr, addr, ok := strings.Cut(it, "@")
		host, portStr, err := net.SplitHostPort(addr)
		id, idErr := strconv.ParseInt(idStr, 10, 32)
		port, portErr := strconv.Atoi(portStr)
		if !ok || err != nil || idErr != nil || id < 0 || portErr != nil || port <= 0 || port > 65535 || host == "" {
			return nil, &ValueError{Name: "controller.quorum.voters", Value: v, Allowed: fmt.Sprintf("%q must look like id@host:port", it)}
		}
		for _, o := range out {
			if o.ID == int32(id) {
				return nil, &ValueError{Name: "controller.quorum.voters", Value: v, Allowed: fmt.Sprintf("voter id %d appears more than once", id)}
			}
		}
		out = append(out, Voter{ID: int32(id), Host: host, Port: port})
	}
	return out, nil
}

func parseProtocolMap(v string) (map[string]string, error) {
	m := map[string]string{}
	for _, it := range splitList(v) {
		name, proto, ok := strings.Cut(it, ":")
		name, proto = strings.ToUpper(strings.TrimSpace(name)), strings.ToUpper(strings.TrimSpace(proto))
		if !ok || name == "" || !slices.Contains([]string{"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}, proto) {
			return nil, &ValueError{Name: "listener.security.protocol.map", Value: v,
				Allowed: fmt.Sprintf("%q must look like NAME:PROTOCOL with PROTOCOL one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL", it)}
		}
		if _, dup := m[name]; dup {
			return nil, &ValueError{Name: "listener.security.protocol.map", Value: v, Allowed: fmt.Sprintf("listener %s is mapped more than once", name)}
		}
		m[name] = proto
	}
	return m, nil
}

// IsCordoned reports whether log dir dir is in cordoned.log.dirs (or "*").
func (b *Broker) IsCordoned(dir string) bool {
	return slices.Contains(b.CordonedLogDirs, "*") || slices.Contains(b.CordonedLogDirs, dir)
}

// CordonedLogDirsNow are the log dirs cordoned under the dynamic configs
// dyn: this broker's cordoned.log.dirs override (it is a per-broker
// config, as in Kafka), else the static one; "*" is every log dir.
func (b *Broker) CordonedLogDirsNow(dyn Dynamic) []string {
	list := b.CordonedLogDirs
	if v, ok := dyn.PerBroker["cordoned.log.dirs"]; ok {
		list = splitList(v)
	}
	if slices.Contains(list, "*") {
		return slices.Clone(b.LogDirs)
	}
	var out []string
	for _, d := range b.LogDirs {
		if slices.Contains(list, d) {
			out = append(out, d)
		}
	}
	return out
}

// ErrInvalidDynamicConfig marks a dynamic broker config this broker
// refuses (Kafka's DynamicBrokerConfig validation answers INVALID_REQUEST).
var ErrInvalidDynamicConfig = errors.New("invalid dynamic broker config")

// ValidateCordonedLogDirs checks a cordoned.log.dirs value set on this
// broker at runtime as Kafka's DynamicLogConfig does, with its messages:
// no empty entries, "*" alone, and every entry one of log.dirs.
func (b *Broker) ValidateCordonedLogDirs(value string) error {
	var list []string
	if strings.TrimSpace(value) != "" {
		for _, e := range strings.Split(value, ",") {
			e = strings.TrimSpace(e)
			if e == "" {
				//lint:ignore ST1005 Kafka's message, sent to clients verbatim
				return fmt.Errorf("%w: Configuration 'cordoned.log.dirs' values must not be empty.", ErrInvalidDynamicConfig)
			}
			list = append(list, e)
		}
	}
	if slices.Contains(list, "*") {
		if len(list) > 1 {
			return fmt.Errorf("%w: requirement failed: When cordoned.log.dirs is set to *, it must not contain other values", ErrInvalidDynamicConfig)
		}
		return nil
	}
	var missing []string
	for _, d := range list {
		if !slices.Contains(b.LogDirs, d) {
			missing = append(missing, d)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: requirement failed: All entries in cordoned.log.dirs must be present in log.dirs or log.dir. Missing entries : %s",
			ErrInvalidDynamicConfig, strings.Join(missing, ","))
	}
	return nil
}
