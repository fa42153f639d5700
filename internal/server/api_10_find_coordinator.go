package server

import (
	"context"
	"strconv"
	"strings"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/coordinator/group"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// FindCoordinator (key 10): versions 0-6.
//
// Behaviour:
//   - Key type GROUP (0) names the leader of the group's __consumer_offsets
//     partition, TRANSACTION (1) the leader of the transactional id's
//     __transaction_state partition. The internal topic is created on first
//     use, as Kafka does, with offsets.topic.replication.factor or
//     transaction.state.log.replication.factor replicas: while fewer brokers
//     are live it is not created and the answer is COORDINATOR_NOT_AVAILABLE.
//   - The coordinator's endpoint is the one on the listener the request came
//     in on. No leader, a fenced leader or no such endpoint gives
//     COORDINATOR_NOT_AVAILABLE; every error carries Kafka's message.
//   - Key type SHARE (2, v6+, inter-broker) names the share coordinator of
//     "group:topicId:partition": the leader of its __share_group_state
//     partition (CLUSTER_ACTION on the cluster).
//   - Any other key type is INVALID_REQUEST.
//   - Authorization (authz.go): DESCRIBE on the group
//     (GROUP_AUTHORIZATION_FAILED) or the transactional id
//     (TRANSACTIONAL_ID_AUTHORIZATION_FAILED).
//
// Version notes:
//   - v1: KeyType, error messages. v3: flexible. v4: several keys at once
//     (KIP-699), answered in Coordinators. v5: may answer
//     TRANSACTION_ABORTABLE. v6: key type SHARE (KIP-932).
//
// Where Spool differs from Kafka 4.3:
//   - The request that finds __consumer_offsets, __transaction_state or
//     __share_group_state missing creates it and waits for the creation,
//     so it may name the coordinator at once; Kafka's KafkaApis starts the
//     creation and answers COORDINATOR_NOT_AVAILABLE (the client retries).
//     Otherwise none known: every field of v0-v6 is read and answered.

func (gh *groupHandlers) handleFindCoordinator(ctx context.Context, rc *reqCtx, req *protocol.FindCoordinatorRequest) (*protocol.FindCoordinatorResponse, error) {
	resp := &protocol.FindCoordinatorResponse{}
	if rc.v < 4 {
		c := gh.findCoordinator(ctx, rc, req.KeyType, req.Key)
		resp.ErrorCode, resp.ErrorMessage, resp.NodeID, resp.Host, resp.Port = c.ErrorCode, c.ErrorMessage, c.NodeID, c.Host, c.Port
		return resp, nil
	}
	for _, key := range req.CoordinatorKeys {
		resp.Coordinators = append(resp.Coordinators, gh.findCoordinator(ctx, rc, req.KeyType, key))
	}
	return resp, nil
}

func (gh *groupHandlers) findCoordinator(ctx context.Context, rc *reqCtx, keyType int8, key string) protocol.FindCoordinatorResponseCoordinator {
	c := protocol.FindCoordinatorResponseCoordinator{Key: key, NodeID: -1, Port: -1}
	fail := func(code int16) protocol.FindCoordinatorResponseCoordinator {
		c.ErrorCode = code
		msg := errcode.Message(code)
		c.ErrorMessage = &msg
		return c
	}
	if code := gh.b.authorizeCoordinatorKey(rc, keyType, key); code != 0 { // authz.go
		return fail(code)
	}
	// The coordinator is the leader of the key's partition of its state
	// topic, looked up in one image.
	var img *controller.MetadataImage
	var topic string
	var p int32
	switch keyType {
	case 0: // GROUP: the group's __consumer_offsets partition
		img, topic, p = gh.b.ensureOffsetsTopic(ctx), consumerOffsetsTopic, gh.coord.PartitionFor(key)
	case 1: // TRANSACTION: the id's __transaction_state partition
		img, topic, p = gh.b.ensureTxnTopic(ctx), transactionStateTopic, gh.b.txnHandlers.coord.PartitionFor(key)
	case 2: // SHARE: "group:topicId:partition", the share coordinator
		if rc.v < 6 || !validShareCoordinatorKey(key) {
			return fail(errcode.InvalidRequest)
		}
		img, topic, p = gh.b.ensureShareStateTopic(ctx), shareGroupStateTopic, group.PartitionFor(key, gh.b.cfg.ShareCoordinatorStateTopicPartitions)
	default:
		return fail(errcode.InvalidRequest)
	}
	t := img.Topic(topic)
	if t == nil || int(p) >= len(t.Partitions) || t.Partitions[p].Leader < 0 {
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

// validShareCoordinatorKey checks a SHARE key "group:topicId:partition"
// (the group may hold colons; the last two fields are the topic id and a
// partition number).
func validShareCoordinatorKey(key string) bool {
	i := strings.LastIndexByte(key, ':')
	if i <= 0 {
		return false
	}
	if _, err := strconv.ParseInt(key[i+1:], 10, 32); err != nil {
		return false
	}
	j := strings.LastIndexByte(key[:i], ':')
	return j > 0 && j < i-1
}
