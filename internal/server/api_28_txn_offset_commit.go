package server

import (
	"context"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/coordinator/group"
	"github.com/spool-broker/spool/coordinator/txn"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// TxnOffsetCommit (key 28): versions 0-6.
//
// Behaviour:
//   - Writes the offsets to the group's __consumer_offsets partition as a
//     transactional batch of the producer. They stay pending, invisible to
//     OffsetFetch, until the transaction's marker lands in that partition:
//     COMMIT applies them, ABORT drops them (txn_offsets.go).
//   - The group's partition must be in the producer's open transaction
//     (AddOffsetsToTxn first, else INVALID_TXN_STATE), with the same
//     producer id (INVALID_PRODUCER_ID_MAPPING) and epoch
//     (PRODUCER_FENCED).
//   - v3+: the member and generation are checked as for OffsetCommit; a
//     classic group takes the commit while its members sync.
//   - Authorization (authz.go): WRITE on the transactional id, READ on the
//     group (every partition refused), READ on each topic
//     (TOPIC_AUTHORIZATION_FAILED).
//
// Version notes:
//   - v2: CommittedLeaderEpoch; PRODUCER_FENCED (older versions get
//     INVALID_PRODUCER_EPOCH). v3: MemberID, GroupInstanceID, GenerationID
//     (KIP-447). v4: TRANSACTION_ABORTABLE.
//   - v5: the commit adds the group's partition to the transaction itself
//     (KIP-890 part 2); the coordinator's retriable errors become
//     COORDINATOR_LOAD_IN_PROGRESS.
//   - v6 (KIP-1319, Kafka 4.4): topics by ID, not name: an ID the metadata
//     does not know is UNKNOWN_TOPIC_ID for its partitions (resolved before
//     authorization, which is by name); GenerationIdOrMemberEpoch is the
//     classic generation or the consumer-group member epoch, as before, but
//     a missing group (with an epoch >= 0) is GROUP_ID_NOT_FOUND and a
//     stale consumer-group member STALE_MEMBER_EPOCH, where older versions
//     get ILLEGAL_GENERATION.
//
// Where Spool differs from Kafka 4.3:
//   - None known: every field of v0-v6 is read and answered. The errors of
//     the v5+ implicit add are mapped by txnOffsetVerificationError; the
//     eos-* compat cases cover its success path, not each error.

func (th *txnHandlers) handleTxnOffsetCommit(ctx context.Context, rc *reqCtx, req *protocol.TxnOffsetCommitRequest) (*protocol.TxnOffsetCommitResponse, error) {
	var unknownIDs []protocol.TxnOffsetCommitRequestTopic
	if rc.v >= 6 { // topics by ID: names for authorization and the log
		img := th.b.image.Load()
		var known []protocol.TxnOffsetCommitRequestTopic
		for _, t := range req.Topics {
			if ti := img.TopicByID(controller.TopicID(t.TopicID)); ti != nil {
				t.Name = protocol.TopicName(ti.Name)
				known = append(known, t)
			} else {
				unknownIDs = append(unknownIDs, t)
			}
		}
		req.Topics = known
	}
	refused, deniedTopics := th.b.authorizeTxnOffsetCommit(rc, req) // authz_txn.go
	if refused != nil {
		return txnOffsetCommitDenied(refused, unknownIDs, errcode.UnknownTopicID), nil
	}
	pid, epoch := int64(req.ProducerID), req.ProducerEpoch
	tp := txn.TopicPartition{Topic: consumerOffsetsTopic, Partition: th.groupPartition(string(req.GroupID))}
	// The guard is taken before asking the coordinator, so a marker
	// written after its answer rejects the append.
	guard := th.guards.start(verifyKey{topic: tp.Topic, partition: tp.Partition, producerID: pid})
	defer th.guards.finish(guard)
	var code int16
	if rc.v >= 5 {
		// transaction.version 2 clients send no AddOffsetsToTxn: the
		// commit adds the group's partition itself (KIP-890 part 2).
		code = txnOffsetVerificationError(th.verifyOrAdd(ctx, string(req.TransactionalID), pid, epoch, tp, true))
	} else {
		// The partition must be in the open transaction already; the
		// transaction coordinator may be on another broker.
		switch code = th.verifyOrAdd(ctx, string(req.TransactionalID), pid, epoch, tp, false); code {
		case errcode.TransactionAbortable, errcode.ConcurrentTransactions:
			code = errcode.InvalidTxnState // AddOffsetsToTxn must come first
		case errcode.CoordinatorNotAvailable, errcode.NotCoordinator:
			code = errcode.CoordinatorLoadInProgress // the transaction coordinator's, not the group's
		}
	}
	if rc.v < 2 && code == errcode.ProducerFenced {
		code = errcode.InvalidProducerEpoch
	}
	commit := group.CommitRequest{Version: 8, Group: string(req.GroupID), Generation: -1, RetentionMs: -1}
	if rc.v >= 3 {
		commit.Generation, commit.MemberID, commit.InstanceID = req.GenerationIDOrMemberEpoch, req.MemberID, req.GroupInstanceID
	}
	commit.TxnMemberErrors = rc.v >= 6
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			commit.Offsets = append(commit.Offsets, group.OffsetCommit{Topic: string(t.Name), Partition: p.PartitionIndex,
				Offset: p.CommittedOffset, LeaderEpoch: p.CommittedLeaderEpoch, Metadata: p.CommittedMetadata})
		}
	}
	var codes []int16
	if code == 0 {
		code, codes = th.b.groupHandlers.coord.CommitTxnOffsets(context.WithValue(ctx, verificationGuardKey{}, guard), commit, pid, epoch)
	}
	resp := &protocol.TxnOffsetCommitResponse{}
	i := 0
	for _, t := range req.Topics {
		tr := protocol.TxnOffsetCommitResponseTopic{Name: t.Name, TopicID: t.TopicID}
		for _, p := range t.Partitions {
			pc := code
			if code == 0 {
				pc = codes[i]
			}
			i++
			tr.Partitions = append(tr.Partitions, protocol.TxnOffsetCommitResponsePartition{PartitionIndex: p.PartitionIndex, ErrorCode: pc})
		}
		resp.Topics = append(resp.Topics, tr)
	}
	resp = txnOffsetCommitDenied(resp, deniedTopics, errcode.TopicAuthorizationFailed)
	return txnOffsetCommitDenied(resp, unknownIDs, errcode.UnknownTopicID), nil
}

// txnOffsetVerificationError maps the coordinator's answer to an implicit
// add into TxnOffsetCommit's errors: a fenced producer is
// INVALID_PRODUCER_EPOCH, as on the produce path, and the coordinator's
// retriable errors become COORDINATOR_LOAD_IN_PROGRESS, which the client
// retries without looking for another group coordinator.
func txnOffsetVerificationError(code int16) int16 {
	switch code {
	case errcode.ProducerFenced:
		return errcode.InvalidProducerEpoch
	case errcode.ConcurrentTransactions, errcode.CoordinatorLoadInProgress, errcode.CoordinatorNotAvailable, errcode.NotCoordinator:
		return errcode.CoordinatorLoadInProgress
	}
	return code
}
