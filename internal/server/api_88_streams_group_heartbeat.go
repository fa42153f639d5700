package server

import (
	"context"
	"maps"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/coordinator/group"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// StreamsGroupHeartbeat (key 88): versions 0-1.
//
// Behaviour:
//   - The KIP-1071 streams rebalance protocol (coordinator/group/streams.go):
//     the first member initializes the group's topology; joining (epoch 0),
//     heartbeats with task reconciliation (active tasks revoked before they
//     move; UNRELEASED until the previous owner gave them up) and leaving
//     (-1). Static membership is refused (INVALID_REQUEST), as in Kafka.
//   - The coordinator resolves the topology against the cluster's topics
//     (InternalTopicManager): repartition topics take the partition count
//     of the subtopologies writing to them, changelogs that of their
//     subtopology; missing source topics answer the MISSING_SOURCE_TOPICS
//     status, missing internal topics MISSING_INTERNAL_TOPICS while this
//     broker creates them in the background (createStreamsTopics); no tasks
//     are assigned until all exist with the expected partition counts.
//   - A new group's first assignment waits
//     group.streams.initial.rebalance.delay.ms (default 3000) for more
//     members, answering ASSIGNMENT_DELAYED meanwhile.
//   - Task assignment with a sticky assignor (active tasks stay with their
//     owner, members balanced within one task) and the group's
//     streams.num.standby.replicas (a GROUP config; else the broker's
//     group.streams.num.standby.replicas) standbys on other processes;
//     a change of it rebalances the group at the next heartbeat. The
//     group's streams.session.timeout.ms, streams.heartbeat.interval.ms
//     and streams.initial.rebalance.delay.ms likewise override the
//     broker's group.streams.* (bounded by group.streams.min/max.* when
//     set, as Kafka's GroupConfig.validate does);
//     partitionsByUserEndpoint when the member's endpoint epoch is behind.
//   - Served only when group.coordinator.rebalance.protocols includes
//     "streams"; UNSUPPORTED_VERSION while streams.version is not finalized
//     at 1 or more (Kafka's isStreamsGroupProtocolEnabled).
//   - Authorization (authz.go): READ on the group
//     (GROUP_AUTHORIZATION_FAILED).
//   - Version 1 (Kafka 4.4, KIP-1331) answers as Kafka 4.4.0 does without a
//     topology description plugin: TopologyDescriptionRequired is always
//     false, and TaskOffsetIntervalMs and AcceptableRecoveryLag carry
//     Kafka's defaults (group.streams.task.offset.interval.ms 60000,
//     acceptable recovery lag 10000). Version 0 keeps Kafka 4.3.1's zeros.
//     The MISSING_CLIENT_TAGS status v1 allows is never sent (Spool's
//     assignor has no client-tag awareness).
//
// Version notes:
//   - v0 is Kafka 4.3.1's only version (KIP-1071).
//   - v1 is Kafka 4.4.0's (KIP-1331): the request is unchanged; the
//     response adds TopologyDescriptionRequired, AcceptableRecoveryLag and
//     TaskOffsetIntervalMs, and may carry the MISSING_CLIENT_TAGS status
//     (see the Behaviour section for what Spool puts there).
//
// Where Spool differs from Kafka 4.3:
//   - No assignment interval (group.streams.assignment.interval.ms): a new
//     target is computed at the heartbeat that bumps the group epoch.
//   - No warm-up tasks are ever assigned, as with Kafka 4.3.1 and 4.4.0:
//     4.4.0 stores the members' TaskOffsets and has
//     group.streams.num.warmup.replicas and
//     group.streams.acceptable.recovery.lag, but its AssignmentRefiner.refine
//     hands the target assignment back unchanged. The v1 answer's
//     AcceptableRecoveryLag and TaskOffsetIntervalMs are 4.4.0's broker
//     defaults; the 4.4-only GROUP configs that would change them are
//     unknown here, as in 4.3.1.
//   - Internal topics are created without Kafka's CREATE authorization of
//     the member's principal.

func (gh *groupHandlers) handleStreamsGroupHeartbeat(ctx context.Context, rc *reqCtx, req *protocol.StreamsGroupHeartbeatRequest) (*protocol.StreamsGroupHeartbeatResponse, error) {
	if !gh.b.streamsGroupsEnabled() {
		msg := "The streams group protocol is not enabled: streams.version is not finalized."
		return &protocol.StreamsGroupHeartbeatResponse{ErrorCode: errcode.UnsupportedVersion, ErrorMessage: &msg}, nil
	}
	if !gh.b.authorize(rc, acl.OpRead, acl.ResourceGroup, string(req.GroupID)) { // authz.go
		msg := errcode.Message(errcode.GroupAuthorizationFailed)
		return &protocol.StreamsGroupHeartbeatResponse{ErrorCode: errcode.GroupAuthorizationFailed, ErrorMessage: &msg}, nil
	}
	resp := gh.coord.StreamsGroupHeartbeat(ctx, requestClientID(rc), clientHost(rc), req)
	if rc.v >= 1 && resp.ErrorCode == errcode.None {
		resp.TaskOffsetIntervalMs = streamsTaskOffsetIntervalMs
		resp.AcceptableRecoveryLag = streamsAcceptableRecoveryLag
	}
	return resp, nil
}

// Kafka 4.4's defaults for the streams group settings a v1 heartbeat
// response carries (group.streams.task.offset.interval.ms and the
// acceptable recovery lag); Kafka 4.3.1's v0 answers leave both zero.
const (
	streamsTaskOffsetIntervalMs  int32 = 60000
	streamsAcceptableRecoveryLag int64 = 10000
)

// streamsGroupsEnabled is Kafka's check of the finalized streams.version.
func (b *Broker) streamsGroupsEnabled() bool {
	return b.image.Load().Features()[controller.StreamsVersionFeature] >= 1
}

// createStreamsTopics creates the internal topics a streams group misses
// (group.Config.CreateStreamsTopics). A topic created meanwhile by another
// member's heartbeat is not an error; the next heartbeat sees the result.
func (b *Broker) createStreamsTopics(ctx context.Context, groupID string, topics []group.StreamsInternalTopic) {
	img := b.image.Load()
	var create []controller.CreateTopic
	for _, t := range topics {
		if img.Topic(t.Name) != nil {
			continue
		}
		if _, busy := b.streamsTopicsCreating.LoadOrStore(t.Name, true); busy {
			continue
		}
		defer b.streamsTopicsCreating.Delete(t.Name)
		cfg := make(map[string]*string, len(t.Configs))
		for k, v := range maps.Clone(t.Configs) {
			cfg[k] = &v
		}
		create = append(create, controller.CreateTopic{Name: t.Name, NumPartitions: t.Partitions, ReplicationFactor: t.ReplicationFactor, Configs: cfg})
	}
	if len(create) == 0 {
		return
	}
	for i, res := range b.ctrl.CreateTopics(ctx, create, false) {
		if res.Err != nil && b.image.Load().Topic(create[i].Name) == nil {
			b.logger.Warn("cannot create streams internal topic", zap.String("group", groupID), zap.String("topic", create[i].Name), zap.Error(res.Err))
			continue
		}
		b.logger.Info("created streams internal topic", zap.String("group", groupID), zap.String("topic", create[i].Name),
			zap.Int32("partitions", create[i].NumPartitions))
	}
}
