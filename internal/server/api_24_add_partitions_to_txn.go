package server

import (
	"context"

	"github.com/spool-broker/spool/coordinator/txn"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// AddPartitionsToTxn (key 24): versions 0-5.
//
// Behaviour:
//   - v0-v3 come from producers: the partitions join the producer's
//     transaction (Ongoing). If any partition is unknown, it gets
//     UNKNOWN_TOPIC_OR_PARTITION and the others OPERATION_NOT_ATTEMPTED;
//     otherwise every partition gets the coordinator's one code.
//   - v4+ come from brokers, batching transactions: VerifyOnly asks whether
//     each partition is already in the transaction (KIP-890 part 1); at v5
//     a non-verify add is a transaction.version 2 implicit add.
//   - Authorization (authz.go): v0-3: WRITE on the transactional id and on
//     every topic (the refused ones TOPIC_AUTHORIZATION_FAILED, the rest
//     OPERATION_NOT_ATTEMPTED); v4+ (brokers): CLUSTER_ACTION on the cluster.
//
// Version notes:
//   - v2: PRODUCER_FENCED (older versions get INVALID_PRODUCER_EPOCH). v3:
//     flexible. v4: broker batches with VerifyOnly and a top-level
//     ErrorCode. v5: TRANSACTION_ABORTABLE.
//
// Where Spool differs from Kafka 4.3:
//   - Spool's produce path asks a transaction coordinator on the same
//     broker in process, one on another broker with v4+ (txn_verify.go).
//   - The v4+ top-level ErrorCode is never set.

// checkPartitions resolves a request's topics: partitions that don't exist
// get UNKNOWN_TOPIC_OR_PARTITION.
func (th *txnHandlers) checkPartitions(topics []protocol.AddPartitionsToTxnRequestAddPartitionsToTxnTopic) ([]txn.TopicPartition, map[txn.TopicPartition]int16) {
	img := th.b.image.Load()
	var parts []txn.TopicPartition
	bad := map[txn.TopicPartition]int16{}
	for _, t := range topics {
		ti := img.Topic(string(t.Name))
		for _, p := range t.Partitions {
			tp := txn.TopicPartition{Topic: string(t.Name), Partition: p}
			parts = append(parts, tp)
			if ti == nil || p < 0 || int(p) >= len(ti.Partitions) {
				bad[tp] = errcode.UnknownTopicOrPartition
			}
		}
	}
	return parts, bad
}

func (th *txnHandlers) addPartitions(ctx context.Context, id string, pid int64, epoch int16, verify bool, tv int16,
	topics []protocol.AddPartitionsToTxnRequestAddPartitionsToTxnTopic) []protocol.AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult {
	parts, bad := th.checkPartitions(topics)
	codes := make([]int16, len(parts))
	switch {
	case len(bad) > 0:
		for i, tp := range parts {
			codes[i] = errcode.OperationNotAttempted
			if c, ok := bad[tp]; ok {
				codes[i] = c
			}
		}
	case verify:
		res, code := th.coord.VerifyPartitions(id, pid, epoch, parts)
		for i := range codes {
			if code != 0 {
				codes[i] = code
			} else {
				codes[i] = res[i]
			}
		}
	default:
		code := th.coord.AddPartitions(ctx, id, pid, epoch, parts, tv)
		for i := range codes {
			codes[i] = code
		}
	}
	var out []protocol.AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult
	i := 0
	for _, t := range topics {
		tr := protocol.AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult{Name: t.Name}
		for _, p := range t.Partitions {
			tr.ResultsByPartition = append(tr.ResultsByPartition, protocol.AddPartitionsToTxnResponseAddPartitionsToTxnPartitionResult{
				PartitionIndex: p, PartitionErrorCode: codes[i]})
			i++
		}
		out = append(out, tr)
	}
	return out
}

func (th *txnHandlers) handleAddPartitionsToTxn(ctx context.Context, rc *reqCtx, req *protocol.AddPartitionsToTxnRequest) (*protocol.AddPartitionsToTxnResponse, error) {
	if denied := th.b.authorizeAddPartitionsToTxn(rc, req); denied != nil { // authz_txn.go
		return denied, nil
	}
	resp := &protocol.AddPartitionsToTxnResponse{}
	if rc.v < 4 {
		res := th.addPartitions(ctx, string(req.V3AndBelowTransactionalID), int64(req.V3AndBelowProducerID), req.V3AndBelowProducerEpoch, false, 0, req.V3AndBelowTopics)
		if rc.v < 2 { // PRODUCER_FENCED arrived with v2
			fixFenced(res)
		}
		resp.ResultsByTopicV3AndBelow = res
		return resp, nil
	}
	// v4+ comes from brokers; from v5 a non-verify add is a KIP-890 part 2
	// implicit add for a transaction.version 2 client.
	tv := int16(0)
	if rc.v >= 5 {
		tv = 2
	}
	for _, t := range req.Transactions {
		resp.ResultsByTransaction = append(resp.ResultsByTransaction, protocol.AddPartitionsToTxnResponseAddPartitionsToTxnResult{
			TransactionalID: t.TransactionalID,
			TopicResults:    th.addPartitions(ctx, string(t.TransactionalID), int64(t.ProducerID), t.ProducerEpoch, t.VerifyOnly, tv, t.Topics),
		})
	}
	return resp, nil
}

func fixFenced(res []protocol.AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult) {
	for i := range res {
		for j := range res[i].ResultsByPartition {
			if res[i].ResultsByPartition[j].PartitionErrorCode == errcode.ProducerFenced {
				res[i].ResultsByPartition[j].PartitionErrorCode = errcode.InvalidProducerEpoch
			}
		}
	}
}
