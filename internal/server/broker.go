package server

import (
	"context"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/internal/audit"
	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/internal/seclink"
	"github.com/spool-broker/spool/internal/telemetry"
	"github.com/spool-broker/spool/metrics"
	"github.com/spool-broker/spool/quota"
	"github.com/spool-broker/spool/replication"
	"github.com/spool-broker/spool/storage"
)

// Broker owns the partitions this node hosts and answers client requests
// about them. Topic metadata comes from the controller's MetadataImage; the
// broker follows every new image (reconcile) to create and delete the
// partition logs it hosts.
type Broker struct {
	nodeID int32
	cfg    *config.Broker
	// interBroker dials other brokers' inter-broker listeners (nil:
	// PLAINTEXT); set by NewNodeBroker before the broker starts.
	interBroker *seclink.Dialer
	// audit is the security audit log (audit.go); nil: none.
	audit *audit.Logger
	// onBrokerConfig, when set (by NewNodeBroker), is handed this broker's
	// dynamic per-broker configs of every new image, under reconcileMu
	// (the Server reloads listener keystores from them).
	onBrokerConfig func(perBroker map[string]string)
	logger         *zap.Logger
	// dirAssign queues replica placements for the controller (logdirs.go).
	dirAssign dirAssignments
	// offlineTopicIDs are the topic ids of the partitions on failed log
	// dirs (storage.TopicPartition → [16]byte), so a topic recreated under
	// the same name while its dir was offline is told apart (logdirs.go).
	offlineTopicIDs sync.Map
	ctrl            controller.Client
	tokenCreds      tokenCredentials // SCRAM credentials of delegation tokens (api_38_delegation_tokens.go)
	logManager      *storage.Manager

	handlers map[int16]apiHandler
	metrics  *serverMetrics

	// image is the newest MetadataImage the broker has reconciled.
	image atomic.Pointer[controller.MetadataImage]
	// brokersImage is the image whose brokers replication sees (ISR
	// eligibility, broker epochs, inter-broker addresses): stored as
	// reconcile begins, so leadership and ISR changes are applied
	// knowing which brokers the same image fenced, as Kafka updates its
	// metadata cache before applying partition changes.
	brokersImage atomic.Pointer[controller.MetadataImage]
	// internalTopicWaits remembers "topic/live brokers" already logged
	// while an internal topic waits for enough brokers.
	internalTopicWaits sync.Map
	// streamsTopicsCreating holds the streams internal topics being
	// created (api_88_streams_group_heartbeat.go), so concurrent heartbeats
	// do not ask the controller twice.
	streamsTopicsCreating sync.Map
	// alterPartitions sends the ISR changes of the partitions this broker
	// leads, batched (replication.go); its run goroutine is started by start.
	alterPartitions *alterPartitionBatcher
	// reconcileMu serializes reconcile.
	reconcileMu sync.Mutex
	// openFailed holds the partitions whose log failed to open, so the
	// next reconcile walks the whole image and retries them; under
	// reconcileMu.
	openFailed map[storage.TopicPartition]bool
	// leaderGains wakes parked replica fetches on a new leadership
	// (leadership_gains.go).
	leaderGains leadershipGains
	// metaCatchUp coalesces catch-ups before answering that a topic is
	// unknown (metadata_catchup.go).
	metaCatchUp metadataCatchUp

	// replicas owns the partitions hosted here (replication.Manager):
	// leadership, ISR, high watermark, the one append and read paths.
	replicas *replication.Manager
	// leaderThrottle and followerThrottle are the replication quotas
	// (leader/follower.replication.throttled.rate), their bounds updated
	// from the dynamic broker configs on every image (partition.go).
	leaderThrottle, followerThrottle *quota.ReplicationQuota
	// replicaSelector is replica.selector.class (KIP-392); nil: consumers
	// are not sent to followers (they may still read from one).
	replicaSelector replication.ReplicaSelector

	fetchSessions *fetchSessionCache
	// telemetry is client telemetry (KIP-714): subscriptions from the
	// client-metrics config resources, pushed metrics for /metrics.
	telemetry *telemetry.Manager
	// topicMetrics are Kafka's BrokerTopicMetrics, counted by the request
	// path (serverMetrics) and the replica fetchers (ReplicationBytesIn).
	topicMetrics *metrics.BrokerTopicMetrics
	// groupHandlers serve the group APIs over the group coordinator
	// (groupHandlers.coord, groups.go); txnHandlers the producer and
	// transaction APIs over the transaction coordinator (txn.go), and hand
	// transactional offsets and their markers to the group coordinator.
	groupHandlers *groupHandlers
	txnHandlers   *txnHandlers
	// shareHandlers serve the share-group APIs (share.go).
	shareHandlers *shareHandlers
	// authz is the ACL authorizer (authz.go); nil: authorizer.class.name is
	// unset and everything is allowed. Set by Listen before any request.
	authz *acl.Authorizer

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// partition returns the hosted partition, or nil.
func (b *Broker) partition(topic string, p int32) *replication.Partition {
	return b.replicas.Get(topic, p)
}
