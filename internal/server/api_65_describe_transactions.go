package server

import (
	"context"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// DescribeTransactions (key 65): version 0.
//
// Behaviour:
//   - Describes each transactional id from its transaction coordinator:
//     state, producer id and epoch, timeout, start time and partitions
//     (KIP-664). NOT_COORDINATOR for ids coordinated elsewhere,
//     TRANSACTIONAL_ID_NOT_FOUND for unknown ones.
//   - Authorization (authz.go): DESCRIBE on the transactional id
//     (TRANSACTIONAL_ID_AUTHORIZATION_FAILED); only partitions of topics the
//     principal may DESCRIBE are listed.
//
// Where Spool differs from Kafka 4.3:
//   - None known: every field of the version served is read and
//     answered.

func (th *txnHandlers) handleDescribeTransactions(ctx context.Context, rc *reqCtx, req *protocol.DescribeTransactionsRequest) (*protocol.DescribeTransactionsResponse, error) {
	resp := &protocol.DescribeTransactionsResponse{}
	for _, id := range req.TransactionalIDs {
		st := protocol.DescribeTransactionsResponseTransactionState{TransactionalID: id, ProducerID: -1, ProducerEpoch: -1, TransactionStartTimeMs: -1}
		m, code := th.coord.Describe(string(id))
		st.ErrorCode = code
		if m != nil {
			st.TransactionState = m.State.String()
			st.TransactionTimeoutMs = m.TimeoutMs
			st.TransactionStartTimeMs = m.StartMs
			st.ProducerID, st.ProducerEpoch = protocol.ProducerID(m.ProducerID), m.ProducerEpoch
			for _, tp := range m.Partitions {
				if n := len(st.Topics); n == 0 || string(st.Topics[n-1].Topic) != tp.Topic {
					st.Topics = append(st.Topics, protocol.DescribeTransactionsResponseTopicData{Topic: protocol.TopicName(tp.Topic)})
				}
				last := &st.Topics[len(st.Topics)-1]
				last.Partitions = append(last.Partitions, tp.Partition)
			}
		}
		if !th.b.authorizeDescribeTransaction(rc, &st) { // authz_txn.go
			st = protocol.DescribeTransactionsResponseTransactionState{TransactionalID: id, ProducerID: -1, ProducerEpoch: -1,
				TransactionStartTimeMs: -1, ErrorCode: errcode.TransactionalIDAuthorizationFailed}
		}
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	return resp, nil
}
