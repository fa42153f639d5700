package server

import (
	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// Authorization of the transaction APIs, as Kafka's KafkaApis: each
// handler (txn.go, txn_offsets.go, or their api_NN files) calls the check
// for its API first and answers what it returns, when anything.

// authorizeInitProducerID: WRITE on the transactional id; an idempotent
// producer needs IDEMPOTENT_WRITE on the cluster, or WRITE on some topic
// (Kafka's authorizeByResourceType).
func (b *Broker) authorizeInitProducerID(rc *reqCtx, req *protocol.InitProducerIdRequest) *protocol.InitProducerIdResponse {
	code := int16(0)
	if req.TransactionalID != nil && *req.TransactionalID != "" {
		if !b.authorize(rc, acl.OpWrite, acl.ResourceTransactionalID, string(*req.TransactionalID)) {
			code = errcode.TransactionalIDAuthorizationFailed
		}
	} else if !b.authorizeCluster(rc, acl.OpIdempotentWrite) && !b.authorizeByResourceType(rc, acl.OpWrite, acl.ResourceTopic) {
		code = errcode.ClusterAuthorizationFailed
	}
	if code == 0 {
		return nil
	}
	return &protocol.InitProducerIdResponse{ErrorCode: code, ProducerID: -1, ProducerEpoch: -1, OngoingTxnProducerID: -1, OngoingTxnProducerEpoch: -1}
}

// authorizeAddPartitionsToTxn: v4+ comes from brokers and needs
// CLUSTER_ACTION; a client's (v0-3) needs WRITE on the transactional id and
// on every topic. A refusal answers every partition: the refused topics
// TOPIC_AUTHORIZATION_FAILED, unknown ones UNKNOWN_TOPIC_OR_PARTITION, the
// rest OPERATION_NOT_ATTEMPTED, and nothing is added.
func (b *Broker) authorizeAddPartitionsToTxn(rc *reqCtx, req *protocol.AddPartitionsToTxnRequest) *protocol.AddPartitionsToTxnResponse {
	if rc.v >= 4 {
		if b.authorizeCluster(rc, acl.OpClusterAction) {
			return nil
		}
		return &protocol.AddPartitionsToTxnResponse{ErrorCode: errcode.ClusterAuthorizationFailed,
			ResultsByTransaction: []protocol.AddPartitionsToTxnResponseAddPartitionsToTxnResult{}}
	}
	txnDenied := !b.authorize(rc, acl.OpWrite, acl.ResourceTransactionalID, string(req.V3AndBelowTransactionalID))
	denied := map[protocol.TopicName]bool{}
	if !txnDenied {
		for _, t := range req.V3AndBelowTopics {
			if !b.authorize(rc, acl.OpWrite, acl.ResourceTopic, string(t.Name)) {
				denied[t.Name] = true
			}
		}
		if len(denied) == 0 {
			return nil
		}
	}
	img := b.image.Load()
	resp := &protocol.AddPartitionsToTxnResponse{}
	for _, t := range req.V3AndBelowTopics {
		tr := protocol.AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult{Name: t.Name}
		ti := img.Topic(string(t.Name))
		for _, p := range t.Partitions {
			code := errcode.OperationNotAttempted
			switch {
			case txnDenied:
				code = errcode.TransactionalIDAuthorizationFailed
			case denied[t.Name]:
				code = errcode.TopicAuthorizationFailed
			case ti == nil || p < 0 || int(p) >= len(ti.Partitions):
				code = errcode.UnknownTopicOrPartition
			}
			tr.ResultsByPartition = append(tr.ResultsByPartition, protocol.AddPartitionsToTxnResponseAddPartitionsToTxnPartitionResult{
				PartitionIndex: p, PartitionErrorCode: code})
		}
		resp.ResultsByTopicV3AndBelow = append(resp.ResultsByTopicV3AndBelow, tr)
	}
	return resp
}

// authorizeAddOffsetsToTxn: WRITE on the transactional id, READ on the
// group.
func (b *Broker) authorizeAddOffsetsToTxn(rc *reqCtx, req *protocol.AddOffsetsToTxnRequest) *protocol.AddOffsetsToTxnResponse {
	switch {
	case !b.authorize(rc, acl.OpWrite, acl.ResourceTransactionalID, string(req.TransactionalID)):
		return &protocol.AddOffsetsToTxnResponse{ErrorCode: errcode.TransactionalIDAuthorizationFailed}
	case !b.authorize(rc, acl.OpRead, acl.ResourceGroup, string(req.GroupID)):
		return &protocol.AddOffsetsToTxnResponse{ErrorCode: errcode.GroupAuthorizationFailed}
	}
	return nil
}

// authorizeEndTxn: WRITE on the transactional id.
func (b *Broker) authorizeEndTxn(rc *reqCtx, req *protocol.EndTxnRequest) *protocol.EndTxnResponse {
	if b.authorize(rc, acl.OpWrite, acl.ResourceTransactionalID, string(req.TransactionalID)) {
		return nil
	}
	return &protocol.EndTxnResponse{ErrorCode: errcode.TransactionalIDAuthorizationFailed, ProducerID: -1, ProducerEpoch: -1}
}

// authorizeWriteTxnMarkers: ALTER or CLUSTER_ACTION on the cluster (a
// coordinator's request); a refusal answers every partition.
func (b *Broker) authorizeWriteTxnMarkers(rc *reqCtx, req *protocol.WriteTxnMarkersRequest) *protocol.WriteTxnMarkersResponse {
	if b.authorizeCluster(rc, acl.OpAlter) || b.authorizeCluster(rc, acl.OpClusterAction) {
		return nil
	}
	resp := &protocol.WriteTxnMarkersResponse{}
	for _, m := range req.Markers {
		mr := protocol.WriteTxnMarkersResponseWritableTxnMarkerResult{ProducerID: m.ProducerID}
		for _, t := range m.Topics {
			tr := protocol.WriteTxnMarkersResponseWritableTxnMarkerTopicResult{Name: t.Name}
			for _, p := range t.PartitionIndexes {
				tr.Partitions = append(tr.Partitions, protocol.WriteTxnMarkersResponseWritableTxnMarkerPartitionResult{
					PartitionIndex: p, ErrorCode: errcode.ClusterAuthorizationFailed})
			}
			mr.Topics = append(mr.Topics, tr)
		}
		resp.Markers = append(resp.Markers, mr)
	}
	return resp
}

// authorizeTxnOffsetCommit: WRITE on the transactional id, READ on the
// group (a refusal answers every partition), READ on each topic: topics
// refused are taken out of req and returned, to be answered
// TOPIC_AUTHORIZATION_FAILED after the rest (txnOffsetCommitDenied).
func (b *Broker) authorizeTxnOffsetCommit(rc *reqCtx, req *protocol.TxnOffsetCommitRequest) (*protocol.TxnOffsetCommitResponse, []protocol.TxnOffsetCommitRequestTopic) {
	code := int16(0)
	switch {
	case !b.authorize(rc, acl.OpWrite, acl.ResourceTransactionalID, string(req.TransactionalID)):
		code = errcode.TransactionalIDAuthorizationFailed
	case !b.authorize(rc, acl.OpRead, acl.ResourceGroup, string(req.GroupID)):
		code = errcode.GroupAuthorizationFailed
	}
	if code != 0 {
		return txnOffsetCommitDenied(&protocol.TxnOffsetCommitResponse{}, req.Topics, code), nil
	}
	var kept, denied []protocol.TxnOffsetCommitRequestTopic
	for _, t := range req.Topics {
		if b.authorize(rc, acl.OpRead, acl.ResourceTopic, string(t.Name)) {
			kept = append(kept, t)
		} else {
			denied = append(denied, t)
		}
	}
	if len(denied) > 0 {
		req.Topics = kept
	}
	return nil, denied
}

// txnOffsetCommitDenied answers every partition of topics with code.
func txnOffsetCommitDenied(resp *protocol.TxnOffsetCommitResponse, topics []protocol.TxnOffsetCommitRequestTopic, code int16) *protocol.TxnOffsetCommitResponse {
	for _, t := range topics {
		tr := protocol.TxnOffsetCommitResponseTopic{Name: t.Name, TopicID: t.TopicID}
		for _, p := range t.Partitions {
			tr.Partitions = append(tr.Partitions, protocol.TxnOffsetCommitResponsePartition{PartitionIndex: p.PartitionIndex, ErrorCode: code})
		}
		resp.Topics = append(resp.Topics, tr)
	}
	return resp
}

// describeProducersDenied: READ on each topic; refused topics are
// answered TOPIC_AUTHORIZATION_FAILED per partition (nil: allowed).
func (b *Broker) describeProducersDenied(rc *reqCtx, t protocol.DescribeProducersRequestTopicRequest) *protocol.DescribeProducersResponseTopicResponse {
	if b.authorize(rc, acl.OpRead, acl.ResourceTopic, string(t.Name)) {
		return nil
	}
	msg := errcode.Message(errcode.TopicAuthorizationFailed)
	tr := &protocol.DescribeProducersResponseTopicResponse{Name: t.Name}
	for _, idx := range t.PartitionIndexes {
		tr.Partitions = append(tr.Partitions, protocol.DescribeProducersResponsePartitionResponse{PartitionIndex: idx,
			ErrorCode: errcode.TopicAuthorizationFailed, ErrorMessage: &msg})
	}
	return tr
}

// authorizeDescribeTransaction: DESCRIBE on the transactional id; the
// partitions listed are only those of topics the principal may DESCRIBE.
// false: answer TRANSACTIONAL_ID_AUTHORIZATION_FAILED.
func (b *Broker) authorizeDescribeTransaction(rc *reqCtx, st *protocol.DescribeTransactionsResponseTransactionState) bool {
	if !b.authorize(rc, acl.OpDescribe, acl.ResourceTransactionalID, string(st.TransactionalID)) {
		return false
	}
	kept := st.Topics[:0]
	for _, t := range st.Topics {
		if b.authorize(rc, acl.OpDescribe, acl.ResourceTopic, string(t.Topic)) {
			kept = append(kept, t)
		}
	}
	st.Topics = kept
	return true
}
