package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/coordinator/group"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/records"
	"github.com/spool-broker/spool/replication"
	"github.com/spool-broker/spool/storage"
)

// groupHandlers serve the group APIs (the api_NN files with a groupHandlers
// receiver) over coord, the group coordinator, which persists to the hosted
// __consumer_offsets partitions (groupLog) and follows their leadership.
type groupHandlers struct {
	b     *Broker
	coord *group.Coordinator
}

// registerGroupHandlers starts the group coordinator and registers the
// group APIs. Called from registerHandlers, i.e. in newBroker before the
// first reconcile, so the leadership hook sees every partition. The
// coordinator stops when the broker does.
func (b *Broker) registerGroupHandlers(h map[int16]apiHandler) {
	cfg := b.cfg
	gh := &groupHandlers{b: b}
	gh.coord = group.New(group.Config{
		NumPartitions:          cfg.OffsetsTopicNumPartitions,
		InitialRebalanceDelay:  time.Duration(cfg.GroupInitialRebalanceDelayMs) * time.Millisecond,
		MinSessionTimeout:      time.Duration(cfg.GroupMinSessionTimeoutMs) * time.Millisecond,
		MaxSessionTimeout:      time.Duration(cfg.GroupMaxSessionTimeoutMs) * time.Millisecond,
		MaxSize:                int(cfg.GroupMaxSize),
		OffsetMetadataMaxBytes: int(cfg.OffsetMetadataMaxBytes),
		OffsetsRetention:       time.Duration(cfg.OffsetsRetentionMinutes) * time.Minute,
		RetentionCheckInterval: time.Duration(cfg.OffsetsRetentionCheckIntervalMs) * time.Millisecond,
		WriteTimeout:           time.Duration(cfg.OffsetsCommitTimeoutMs) * time.Millisecond,

		ConsumerSessionTimeout:    time.Duration(cfg.GroupConsumerSessionTimeoutMs) * time.Millisecond,
		ConsumerHeartbeatInterval: time.Duration(cfg.GroupConsumerHeartbeatMs) * time.Millisecond,
		ConsumerMaxSize:           int(cfg.GroupConsumerMaxSize),
		ConsumerAssignors:         cfg.GroupConsumerAssignors,
		Topics:                    b.groupTopics,

		StreamsSessionTimeout:     time.Duration(cfg.GroupStreamsSessionTimeoutMs) * time.Millisecond,
		StreamsHeartbeatInterval:  time.Duration(cfg.GroupStreamsHeartbeatMs) * time.Millisecond,
		StreamsMaxSize:            int(cfg.GroupStreamsMaxSize),
		StreamsNumStandbyReplicas: int(cfg.GroupStreamsNumStandbyReplicas),
		StreamsInitialDelay:       time.Duration(cfg.GroupStreamsInitialRebalanceMs) * time.Millisecond,
		CreateStreamsTopics:       b.createStreamsTopics, // api_88_streams_group_heartbeat.go

		ShareSessionTimeout:    time.Duration(cfg.GroupShareSessionTimeoutMs) * time.Millisecond,
		ShareHeartbeatInterval: time.Duration(cfg.GroupShareHeartbeatMs) * time.Millisecond,
		ShareMaxSize:           int(cfg.GroupShareMaxSize),
		ShareMemberRemoved: func(groupID, member string) {
			if sh := b.shareHandlers; sh != nil {
				sh.memberRemoved(groupID, member)
			}
		},
		GroupConfig: func(groupID string) map[string]string {
			return b.image.Load().Config(resourceGroup, groupID)
		},
		ShareGroupDeleted: func(groupID string) {
			if sh := b.shareHandlers; sh != nil {
				sh.groupDeleted(groupID)
			}
		},
	}, groupLog{b}, b.logger.Named("group"))
	b.groupHandlers = gh
	b.attachCoordinator(consumerOffsetsTopic, gh.coord)

	register(h, protocol.KeyOffsetCommit, 0, 10, gh.handleOffsetCommit)
	register(h, protocol.KeyOffsetFetch, 0, 10, gh.handleOffsetFetch)
	register(h, protocol.KeyFindCoordinator, 0, 6, gh.handleFindCoordinator)
	register(h, protocol.KeyJoinGroup, 0, 9, gh.handleJoinGroup)
	register(h, protocol.KeyHeartbeat, 0, 4, gh.handleHeartbeat)
	register(h, protocol.KeyLeaveGroup, 0, 5, gh.handleLeaveGroup)
	register(h, protocol.KeySyncGroup, 0, 5, gh.handleSyncGroup)
	register(h, protocol.KeyDescribeGroups, 0, 6, gh.handleDescribeGroups)
	register(h, protocol.KeyListGroups, 0, 5, gh.handleListGroups)
	register(h, protocol.KeyDeleteGroups, 0, 3, gh.handleDeleteGroups)
	register(h, protocol.KeyOffsetDelete, 0, 0, gh.handleOffsetDelete)
	if slices.Contains(cfg.GroupCoordinatorProtocols, "consumer") {
		register(h, protocol.KeyConsumerGroupHeartbeat, 0, 1, gh.handleConsumerGroupHeartbeat)
		register(h, protocol.KeyConsumerGroupDescribe, 0, 1, gh.handleConsumerGroupDescribe)
	}
	if slices.Contains(cfg.GroupCoordinatorProtocols, "streams") {
		register(h, protocol.KeyStreamsGroupHeartbeat, 0, 1, gh.handleStreamsGroupHeartbeat)
		register(h, protocol.KeyStreamsGroupDescribe, 0, 1, gh.handleStreamsGroupDescribe)
		register(h, protocol.KeyStreamsGroupTopologyDescriptionUpdate, 0, 0, gh.handleStreamsGroupTopologyDescriptionUpdate)
	}
}

// groupTopics lists the topics of the current metadata image for KIP-848
// subscriptions, internal ones included: as in Kafka, a member may
// subscribe to __consumer_offsets by name or by a regex matching it.
func (b *Broker) groupTopics() []group.TopicMetadata {
	img := b.image.Load()
	var out []group.TopicMetadata
	for _, t := range img.Topics() {
		out = append(out, group.TopicMetadata{Name: t.Name, ID: protocol.UUID(t.ID), Partitions: int32(len(t.Partitions))})
	}
	return out
}

// groupLog is group.Log over the hosted __consumer_offsets partitions.
type groupLog struct{ b *Broker }

func (l groupLog) leader(partition int32) (*replication.Partition, error) {
	p := l.b.partition(consumerOffsetsTopic, partition)
	if p == nil || !p.IsLeader() {
		return nil, fmt.Errorf("%s-%d: %w", consumerOffsetsTopic, partition, group.ErrNotLeader)
	}
	return p, nil
}

// Append writes recs as one batch (acks=all: refused below
// min.insync.replicas) and returns how to wait until it is committed (the
// high watermark covers it); the group coordinator waits with no lock held.
// Like Kafka, durability against power loss comes from replication and the
// flush policy, not from an fsync per commit.
func (l groupLog) Append(ctx context.Context, partition int32, recs []records.Record) (group.Committed, error) {
	p, err := l.leader(partition)
	if err != nil {
		return nil, err
	}
	batch, err := records.AppendBatch(nil, records.NewBatchOptions(), recs)
	if err != nil {
		return nil, fmt.Errorf("build __consumer_offsets batch: %w", err)
	}
	return groupAppend(p, batch, nil)
}

// groupAppend appends batch for the group coordinator: the error of the
// append itself, or how to wait for the high watermark (nil when it covers
// the batch already: ISR {self}).
func groupAppend(p *replication.Partition, batch []byte, hook storage.AppendHook) (group.Committed, error) {
	partition := p.Index()
	res, err := p.AppendAsLeader(batch, replication.AppendOptions{RequiredAcks: -1, Hook: hook})
	if err != nil {
		return nil, groupAppendError(partition, err)
	}
	if res.Done() {
		if err := res.Wait(context.Background()); err != nil {
			return nil, groupAppendError(partition, err)
		}
		return nil, nil
	}
	return func(ctx context.Context) error {
		if err := res.Wait(ctx); err != nil {
			return groupAppendError(partition, err)
		}
		return nil
	}, nil
}

// groupAppendError wraps an append error for the group coordinator, which
// answers NOT_COORDINATOR for group.ErrNotLeader.
func groupAppendError(partition int32, err error) error {
	if errors.Is(err, replication.ErrNotLeader) {
		return fmt.Errorf("append to %s-%d: %w: %w", consumerOffsetsTopic, partition, group.ErrNotLeader, err)
	}
	return fmt.Errorf("append to %s-%d: %w", consumerOffsetsTopic, partition, err)
}

// Replay reads the partition from its log start to its log end and
// returns once that is committed (scanLog).
func (l groupLog) Replay(ctx context.Context, partition int32, fn func(key, value []byte) error) error {
	p, err := l.leader(partition)
	if err != nil {
		return err
	}
	if err := replayLog(ctx, p, fn); err != nil {
		return fmt.Errorf("replay %s-%d: %w", consumerOffsetsTopic, partition, err)
	}
	return nil
}

// ensureOffsetsTopic creates __consumer_offsets on first use, as Kafka
// does when a client first looks for a group coordinator.
func (b *Broker) ensureOffsetsTopic(ctx context.Context) *controller.MetadataImage {
	return b.ensureInternalTopic(ctx, consumerOffsetsTopic, b.cfg.OffsetsTopicNumPartitions, b.cfg.OffsetsTopicReplicationFactor,
		map[string]string{
			"cleanup.policy":   "compact",
			"segment.bytes":    strconv.Itoa(int(b.cfg.OffsetsTopicSegmentBytes)),
			"compression.type": "producer",
		})
}
