package server

import (
	"context"
	"math"
	"math/rand/v2"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// Metadata (key 3): versions 0-13.
//
// Behaviour:
//   - Answers from this broker's metadata image: unfenced brokers with their
//     endpoint on the listener the request came in on, and topics with each
//     partition's leader, epoch, replicas, ISR and offline replicas
//     (replicas on fenced or unknown brokers). A partition without a leader
//     has LEADER_NOT_AVAILABLE.
//   - A missing topic gets UNKNOWN_TOPIC_OR_PARTITION, or
//     INVALID_TOPIC_EXCEPTION for an illegal name; one asked for by ID,
//     UNKNOWN_TOPIC_ID. Before answering that a named topic is missing the
//     broker catches up with the committed metadata log
//     (metadata_catchup.go).
//   - Missing topics are created with the broker defaults when
//     auto.create.topics.enable is set and the request allows it (always
//     before v4); internal topic names are never auto-created.
//   - Authorization (authz.go): topics the principal may not DESCRIBE are
//     left out of "all topics" and answered TOPIC_AUTHORIZATION_FAILED when
//     named (by ID: with the ID and no name), after the other topics;
//     auto-creation needs CREATE on the cluster or the topic. Authorized
//     operations come from the authorizer; the cluster's need DESCRIBE on
//     it.
//
// Version notes:
//   - v0: an empty topic list means all topics; v1+: null means all and
//     empty means none. v1: racks, controller, IsInternal. v2: ClusterID.
//   - v4: AllowAutoTopicCreation. v5: OfflineReplicas. v7: LeaderEpoch.
//   - v8: authorized operations. v9: flexible. v10: TopicID. v11: cluster
//     operations moved to DescribeCluster (KIP-700). v12: topics by ID.
//     v13: a top-level ErrorCode.
//
// Where Spool differs from Kafka 4.3:
//   - Kafka answers from its metadata cache as it is, so a topic created a
//     moment ago may be unknown to a broker that has not applied it yet;
//     Spool waits (≤ 1 s) until it has applied what was committed.
//   - An auto-created topic comes back with its partitions in the same
//     response; Kafka answers LEADER_NOT_AVAILABLE until it has propagated.
//   - Topics are looked up by ID from v10 (Kafka refuses IDs below v12), and
//     the v13 top-level ErrorCode is never set.

// notRequestedOps is the "not provided" value of authorized-operations
// fields; what a principal may do comes from the authorizer (authz.go).
const notRequestedOps = math.MinInt32

func (b *Broker) handleMetadata(ctx context.Context, rc *reqCtx, req *protocol.MetadataRequest) (*protocol.MetadataResponse, error) {
	resp := &protocol.MetadataResponse{}
	v := rc.v
	// A named topic this broker does not know may be one whose creation
	// it has not applied yet: catch up before saying so.
	img := b.image.Load()
	if req.Topics != nil && !(v == 0 && len(req.Topics) == 0) {
		img = b.imageKnowing(ctx, metadataRequestTopics(req))
	}

	// Which topics: v0 uses an empty list for "all"; v1+ uses null for all.
	all := req.Topics == nil || (v == 0 && len(req.Topics) == 0)
	// v0-3 have no flag: auto-creation is allowed whenever the broker allows it.
	allowAuto := req.AllowAutoTopicCreation || v < 4

	// Authorization (authz.go), as Kafka's handleTopicMetadataRequest:
	// topics the principal may not DESCRIBE are left out of "all topics"
	// and answered TOPIC_AUTHORIZATION_FAILED when named, without saying
	// whether they exist; auto-creation needs CREATE on the cluster or the
	// topic. Denied topics come after the others, as in Kafka.
	var deniedCreate, deniedDescribe []protocol.MetadataResponseTopic
	describable, createDenied := map[string]bool{}, map[string]bool{}
	mayDescribe := func(name string) bool {
		ok, seen := describable[name]
		if !seen {
			ok = b.authorize(rc, acl.OpDescribe, acl.ResourceTopic, name)
			describable[name] = ok
		}
		return ok
	}
	if !all {
		var create []controller.CreateTopic
		clusterCreate := -1 // unknown until needed
		for _, t := range req.Topics {
			if t.Name == nil || *t.Name == "" {
				continue
			}
			name := string(*t.Name)
			if img.Topic(name) == nil && allowAuto && b.cfg.AutoCreateTopicsEnable && controller.ValidateTopicName(name) == nil && !isInternalTopic(name) {
				if !mayDescribe(name) {
					continue
				}
				if clusterCreate < 0 {
					clusterCreate = 0
					if b.authorizeCluster(rc, acl.OpCreate) {
						clusterCreate = 1
					}
				}
				if clusterCreate == 0 && !b.authorize(rc, acl.OpCreate, acl.ResourceTopic, name) {
					deniedCreate = append(deniedCreate, protocol.MetadataResponseTopic{
						ErrorCode: errcode.TopicAuthorizationFailed, Name: t.Name, TopicAuthorizedOperations: notRequestedOps,
						IsInternal: isInternalTopic(name)})
					createDenied[name] = true
					continue
				}
				create = append(create, controller.CreateTopic{Name: name, NumPartitions: -1, ReplicationFactor: -1})
			}
		}
		if len(create) > 0 {
			b.ctrl.CreateTopics(ctx, create, false)
			img = b.syncImage()
		}
	}

	resp.Brokers = b.metadataBrokers(img, rc.c.listener)
	clusterID := img.ClusterID()
	resp.ClusterID = &clusterID
	resp.ControllerID = protocol.BrokerID(b.controllerIDForClients())
	resp.ClusterAuthorizedOperations = notRequestedOps
	if req.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = b.authorizedOperationsIfDescribed(rc, acl.ResourceCluster, acl.ClusterName)
	}

	addTopic := func(t *controller.TopicImage) {
		mt := protocol.MetadataResponseTopic{
			Name:                      ptrTopic(t.Name),
			TopicID:                   protocol.UUID(t.ID),
			IsInternal:                isInternalTopic(t.Name),
			TopicAuthorizedOperations: notRequestedOps,
		}
		if req.IncludeTopicAuthorizedOperations {
			mt.TopicAuthorizedOperations = b.authorizedOperations(rc, acl.ResourceTopic, t.Name)
		}
		mt.Partitions = make([]protocol.MetadataResponsePartition, len(t.Partitions))
		for i, p := range t.Partitions {
			mt.Partitions[i] = metadataPartition(img, int32(i), p)
		}
		resp.Topics = append(resp.Topics, mt)
	}

	if all {
		for _, t := range img.Topics() {
			if mayDescribe(t.Name) {
				addTopic(t)
			}
		}
		return resp, nil
	}
	for _, rt := range req.Topics {
		if rt.Name == nil || *rt.Name == "" {
			// Lookup by topic ID (v10+ with a null name).
			if t := img.TopicByID(controller.TopicID(rt.TopicID)); t != nil && rt.TopicID != (protocol.UUID{}) {
				if !mayDescribe(t.Name) {
					// Topic IDs are not secret: Kafka answers with the ID.
					deniedDescribe = append(deniedDescribe, protocol.MetadataResponseTopic{
						ErrorCode: errcode.TopicAuthorizationFailed, TopicID: rt.TopicID, TopicAuthorizedOperations: notRequestedOps})
					continue
				}
				addTopic(t)
				continue
			}
			resp.Topics = append(resp.Topics, protocol.MetadataResponseTopic{
				ErrorCode: errcode.UnknownTopicID, TopicID: rt.TopicID,
				TopicAuthorizedOperations: notRequestedOps,
			})
			continue
		}
		name := string(*rt.Name)
		if createDenied[name] {
			continue // answered above
		}
		if !mayDescribe(name) {
			deniedDescribe = append(deniedDescribe, protocol.MetadataResponseTopic{
				ErrorCode: errcode.TopicAuthorizationFailed, Name: rt.Name, TopicAuthorizedOperations: notRequestedOps})
			continue
		}
		if t := img.Topic(name); t != nil {
			addTopic(t)
			continue
		}
		code := errcode.UnknownTopicOrPartition
		if controller.ValidateTopicName(name) != nil {
			code = errcode.InvalidTopicException
		}
		resp.Topics = append(resp.Topics, protocol.MetadataResponseTopic{
			ErrorCode: code, Name: rt.Name, TopicAuthorizedOperations: notRequestedOps,
		})
	}
	resp.Topics = append(append(resp.Topics, deniedCreate...), deniedDescribe...)
	return resp, nil
}

func metadataPartition(img *controller.MetadataImage, index int32, p *controller.PartitionImage) protocol.MetadataResponsePartition {
	mp := protocol.MetadataResponsePartition{
		PartitionIndex:  index,
		LeaderID:        protocol.BrokerID(p.Leader),
		LeaderEpoch:     p.LeaderEpoch,
		ReplicaNodes:    brokerIDs(p.Replicas),
		IsrNodes:        brokerIDs(p.ISR),
		OfflineReplicas: []protocol.BrokerID{},
	}
	for _, r := range p.Replicas {
		// Kafka's getOfflineReplicas: the broker is gone or fenced, or the
		// replica's log dir failed (KIP-858).
		if br := img.Broker(r); br == nil || br.Fenced || !br.HasOnlineDir(p.Directory(r)) {
			mp.OfflineReplicas = append(mp.OfflineReplicas, protocol.BrokerID(r))
		}
	}
	if p.Leader < 0 {
		mp.ErrorCode = errcode.LeaderNotAvailable
	}
	return mp
}

// metadataBrokers lists unfenced brokers with their endpoint on the listener
// the client used, as Kafka does.
func (b *Broker) metadataBrokers(img *controller.MetadataImage, listener string) []protocol.MetadataResponseBroker {
	var out []protocol.MetadataResponseBroker
	for _, br := range img.Brokers() {
		if br.Fenced {
			continue
		}
		ep, ok := br.Endpoint(listener)
		if !ok {
			continue
		}
		out = append(out, protocol.MetadataResponseBroker{
			NodeID: protocol.BrokerID(br.ID), Host: ep.Host, Port: int32(ep.Port), Rack: br.Rack,
		})
	}
	return out
}

// controllerIDForClients is what Metadata and DescribeCluster report as the
// controller. KRaft controllers are not reachable by clients, so Kafka 4.3
// reports a random unfenced broker of its metadata image
// (KRaftMetadataCache.getRandomAliveBrokerId), -1 when there is none; so
// does Spool. It is never a controller-only node, which clients could not
// resolve against the brokers list.
func (b *Broker) controllerIDForClients() int32 {
	var alive []int32
	for _, br := range b.image.Load().Brokers() {
		if !br.Fenced {
			alive = append(alive, br.ID)
		}
	}
	if len(alive) == 0 {
		return -1
	}
	return alive[rand.IntN(len(alive))]
}

// liveEndpoint is broker id's endpoint on listener when it is registered
// and unfenced (Kafka's getAliveBrokerNode), for KIP-951's NodeEndpoints.
func (b *Broker) liveEndpoint(id int32, listener string) (protocol.MetadataResponseBroker, bool) {
	br := b.image.Load().Broker(id)
	if br == nil || br.Fenced {
		return protocol.MetadataResponseBroker{}, false
	}
	ep, ok := br.Endpoint(listener)
	if !ok {
		return protocol.MetadataResponseBroker{}, false
	}
	return protocol.MetadataResponseBroker{NodeID: protocol.BrokerID(id), Host: ep.Host, Port: int32(ep.Port), Rack: br.Rack}, true
}

func brokerIDs(ids []int32) []protocol.BrokerID {
	out := make([]protocol.BrokerID, len(ids))
	for i, id := range ids {
		out[i] = protocol.BrokerID(id)
	}
	return out
}

func ptrTopic(s string) *protocol.TopicName {
	t := protocol.TopicName(s)
	return &t
}

// Internal topic names.
const (
	consumerOffsetsTopic  = "__consumer_offsets"
	transactionStateTopic = "__transaction_state"
)

func isInternalTopic(name string) bool {
	return name == consumerOffsetsTopic || name == transactionStateTopic
}
