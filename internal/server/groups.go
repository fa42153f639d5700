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
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
	"github.com/spool-broker/spool/replication"
)

// groupGlue connects the group coordinator to this broker: it persists to
// the hosted __consumer_offsets partitions, follows their leadership, and
// serves the group APIs.
type groupGlue struct {
	b     *Broker
	coord *group.Coordinator
}

// registerGroupHandlers starts the group coordinator and registers the
// group APIs. Called from registerHandlers, i.e. in newBroker before the
// first reconcile, so the leadership hook sees every partition. The
// coordinator stops when the broker does.
func (b *Broker) registerGroupHandlers(h map[int16]apiHandler) {
	cfg := b.cfg
	g := &groupGlue{b: b}
	g.coord = group.New(group.Config{
		NumPartitions:          cfg.OffsetsTopicNumPartitions,
		InitialRebalanceDelay:  time.Duration(cfg.GroupInitialRebalanceDelayMs) * time.Millisecond,
		MinSessionTimeout:      time.Duration(cfg.GroupMinSessionTimeoutMs) * time.Millisecond,
		MaxSessionTimeout:      time.Duration(cfg.GroupMaxSessionTimeoutMs) * time.Millisecond,
		MaxSize:                int(cfg.GroupMaxSize),
		OffsetMetadataMaxBytes: int(cfg.OffsetMetadataMaxBytes),
		OffsetsRetention:       time.Duration(cfg.OffsetsRetentionMinutes) * time.Minute,
		RetentionCheckInterval: time.Duration(cfg.OffsetsRetentionCheckIntervalMs) * time.Millisecond,

		ConsumerSessionTimeout:    time.Duration(cfg.GroupConsumerSessionTimeoutMs) * time.Millisecond,
		ConsumerHeartbeatInterval: time.Duration(cfg.GroupConsumerHeartbeatMs) * time.Millisecond,
		ConsumerMaxSize:           int(cfg.GroupConsumerMaxSize),
		ConsumerAssignors:         cfg.GroupConsumerAssignors,
		Topics:                    b.groupTopics,
	}, groupLog{b}, b.log.Named("group"))
	b.groupCoord = g.coord
	b.attachCoordinator(consumerOffsetsTopic, g.coord)

	register(h, protocol.KeyOffsetCommit, 0, 10, g.handleOffsetCommit)
	register(h, protocol.KeyOffsetFetch, 0, 10, g.handleOffsetFetch)
	register(h, protocol.KeyFindCoordinator, 0, 6, g.handleFindCoordinator)
	register(h, protocol.KeyJoinGroup, 0, 9, g.handleJoinGroup)
	register(h, protocol.KeyHeartbeat, 0, 4, g.handleHeartbeat)
	register(h, protocol.KeyLeaveGroup, 0, 5, g.handleLeaveGroup)
	register(h, protocol.KeySyncGroup, 0, 5, g.handleSyncGroup)
	register(h, protocol.KeyDescribeGroups, 0, 6, g.handleDescribeGroups)
	register(h, protocol.KeyListGroups, 0, 5, g.handleListGroups)
	register(h, protocol.KeyDeleteGroups, 0, 2, g.handleDeleteGroups)
	register(h, protocol.KeyOffsetDelete, 0, 0, g.handleOffsetDelete)
	if slices.Contains(cfg.GroupCoordinatorProtocols, "consumer") {
		register(h, protocol.KeyConsumerGroupHeartbeat, 0, 1, g.handleConsumerGroupHeartbeat)
		register(h, protocol.KeyConsumerGroupDescribe, 0, 1, g.handleConsumerGroupDescribe)
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

// Append writes recs as one batch and returns once it is committed (the
// high watermark covers it). Like Kafka, durability against power loss
// comes from replication and the flush policy, not from an fsync per
// commit.
func (l groupLog) Append(ctx context.Context, partition int32, recs []records.Record) error {
	p, err := l.leader(partition)
	if err != nil {
		return err
	}
	batch, err := records.AppendBatch(nil, records.NewBatchOptions(), recs)
	if err != nil {
		return fmt.Errorf("build __consumer_offsets batch: %w", err)
	}
	if _, err := appendCommitted(ctx, p, batch, nil); err != nil {
		return groupAppendError(partition, err)
	}
	return nil
}

// groupAppendError wraps an append error for the group coordinator, which
// answers NOT_COORDINATOR for group.ErrNotLeader.
func groupAppendError(partition int32, err error) error {
	if errors.Is(err, replication.ErrNotLeader) {
		return fmt.Errorf("append to %s-%d: %w: %w", consumerOffsetsTopic, partition, group.ErrNotLeader, err)
	}
	return fmt.Errorf("append to %s-%d: %w", consumerOffsetsTopic, partition, err)
}

// Replay reads the partition from its log start to its high watermark.
func (l groupLog) Replay(ctx context.Context, partition int32, fn func(key, value []byte) error) error {
	p, err := l.leader(partition)
	if err != nil {
		return err
	}
	if err := replayLog(ctx, p.Log(), fn); err != nil {
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

func (g *groupGlue) handleFindCoordinator(ctx context.Context, rc *reqCtx, req *protocol.FindCoordinatorRequest) (*protocol.FindCoordinatorResponse, error) {
	resp := &protocol.FindCoordinatorResponse{}
	if rc.v < 4 {
		c := g.findCoordinator(ctx, rc, req.KeyType, req.Key)
		resp.ErrorCode, resp.ErrorMessage, resp.NodeID, resp.Host, resp.Port = c.ErrorCode, c.ErrorMessage, c.NodeID, c.Host, c.Port
		return resp, nil
	}
	for _, key := range req.CoordinatorKeys {
		resp.Coordinators = append(resp.Coordinators, g.findCoordinator(ctx, rc, req.KeyType, key))
	}
	return resp, nil
}

func (g *groupGlue) findCoordinator(ctx context.Context, rc *reqCtx, keyType int8, key string) protocol.FindCoordinatorResponseCoordinator {
	c := protocol.FindCoordinatorResponseCoordinator{Key: key, NodeID: -1, Port: -1}
	fail := func(code int16) protocol.FindCoordinatorResponseCoordinator {
		c.ErrorCode = code
		msg := errcode.Message(code)
		c.ErrorMessage = &msg
		return c
	}
	if code := g.b.authorizeCoordinatorKey(rc, keyType, key); code != 0 { // authz.go
		return fail(code)
	}
	switch keyType {
	case 0: // GROUP
	case 1: // TRANSACTION (txn.go owns this branch)
		node, code := g.b.txnCoordinatorNode(ctx, key)
		if code != 0 {
			return fail(code)
		}
		br := g.b.image.Load().Broker(node)
		if br == nil || br.Fenced {
			return fail(errcode.CoordinatorNotAvailable)
		}
		ep, ok := br.Endpoint(rc.c.listener)
		if !ok {
			return fail(errcode.CoordinatorNotAvailable)
		}
		c.NodeID, c.Host, c.Port = protocol.BrokerID(br.ID), ep.Host, int32(ep.Port)
		return c
	default:
		return fail(errcode.InvalidRequest)
	}
	img := g.b.ensureOffsetsTopic(ctx)
	t := img.Topic(consumerOffsetsTopic)
	if t == nil {
		return fail(errcode.CoordinatorNotAvailable)
	}
	p := g.coord.PartitionFor(key)
	if int(p) >= len(t.Partitions) || t.Partitions[p].Leader < 0 {
		return fail(errcode.CoordinatorNotAvailable)
	}
	br := img.Broker(t.Partitions[p].Leader)
	if br == nil || br.Fenced {
		return fail(errcode.CoordinatorNotAvailable)
	}
	ep, ok := br.Endpoint(rc.c.listener)
	if !ok {
		return fail(errcode.CoordinatorNotAvailable)
	}
	c.NodeID, c.Host, c.Port = protocol.BrokerID(br.ID), ep.Host, int32(ep.Port)
	return c
}

// countGroupError records a group API error in the metrics.
func (g *groupGlue) countGroupError(api string, code int16) {
	if code != 0 && g.b.metrics != nil {
		g.b.metrics.errors.WithLabelValues(api, errName(code)).Inc()
	}
}
