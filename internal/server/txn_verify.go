package server

import (
	"context"
	"sync"
	"time"

	"github.com/spool-broker/spool/coordinator/txn"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
	"github.com/spool-broker/spool/replication"
	"github.com/spool-broker/spool/storage"
)

// Transaction verification (KIP-890). Before a producer's first
// transactional batch of a transaction lands in a partition, the broker asks
// the transaction coordinator about it:
//
//   - produce v3-v11 (clients on transaction.version < 2, which add their
//     partitions with AddPartitionsToTxn): verify only. A partition the
//     coordinator does not have in the open transaction is rejected, so a
//     late or stray write cannot leave a transaction hanging in the log
//     (part 1). transaction.partition.verification.enable=false skips it.
//   - produce v12+ (transaction.version 2): the produce itself adds the
//     partition to the transaction; clients send no AddPartitionsToTxn for
//     produce partitions (part 2). TxnOffsetCommit v5+ does the same for
//     the group's __consumer_offsets partition.
//
// A verificationGuard closes the window between the coordinator's answer and
// the append: a COMMIT/ABORT marker written for the producer in the
// partition meanwhile invalidates it, and the append is rejected with
// INVALID_TXN_STATE (Kafka's VerificationGuard). A batch of an already open
// transaction needs no coordinator call, but takes a guard too, so a marker
// ending that transaction first still rejects it.

// verificationGuard is one in-flight transactional append.
type verificationGuard struct {
	key     verifyKey
	invalid bool // a marker for key was written; guarded by verifyGuards.mu
}

type verifyKey struct {
	topic      string
	partition  int32
	producerID int64
}

// verifyGuards holds the guards of in-flight transactional appends.
// Lock order: a partition log's lock, then mu (markers invalidate and
// appends check guards inside storage.AppendHook).
type verifyGuards struct {
	mu sync.Mutex
	m  map[verifyKey]map[*verificationGuard]struct{}
}

func (v *verifyGuards) start(k verifyKey) *verificationGuard {
	g := &verificationGuard{key: k}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = map[verifyKey]map[*verificationGuard]struct{}{}
	}
	if v.m[k] == nil {
		v.m[k] = map[*verificationGuard]struct{}{}
	}
	v.m[k][g] = struct{}{}
	return g
}

func (v *verifyGuards) finish(g *verificationGuard) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.m[g.key], g)
	if len(v.m[g.key]) == 0 {
		delete(v.m, g.key)
	}
}

func (v *verifyGuards) valid(g *verificationGuard) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return !g.invalid
}

// invalidate is called, under the partition log's lock, when a marker for
// k's producer is appended.
func (v *verifyGuards) invalidate(k verifyKey) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for g := range v.m[k] {
		g.invalid = true
	}
}

// txnVerifyHook verifies (or, for produce v12+, adds) a transactional
// batch's partition with the transaction coordinator before the append. It
// returns the storage.AppendHook that checks the guard under the log's
// lock, a release func to call once the append is done, and a produce
// error code (0: go ahead).
func (b *Broker) txnVerifyHook(rc *reqCtx, transactionalID *protocol.TransactionalID, topic string, p *replication.Partition, batches []byte) (storage.AppendHook, func(), int16) {
	noop := func() {}
	h, err := records.ParseHeader(batches)
	if err != nil || !h.IsTransactional() || h.ProducerID < 0 || transactionalID == nil || *transactionalID == "" || b.txnHandlers == nil {
		return nil, noop, 0
	}
	th := b.txnHandlers
	guard := th.guards.start(verifyKey{topic: topic, partition: p.Index(), producerID: h.ProducerID})
	verify := rc.v >= 12 || b.cfg.TransactionPartitionVerification // v12+ must add its partition
	if verify && !p.Log().HasOngoingTransaction(h.ProducerID, h.ProducerEpoch) {
		tp := txn.TopicPartition{Topic: topic, Partition: p.Index()}
		code := th.verifyOrAdd(b.ctx, string(*transactionalID), h.ProducerID, h.ProducerEpoch, tp, rc.v >= 12)
		if code = produceVerificationError(code, rc.v); code != 0 {
			th.guards.finish(guard)
			return nil, noop, code
		}
	}
	hook := func([]byte, records.Header) error {
		if !th.guards.valid(guard) {
			return errTxnVerification
		}
		return nil
	}
	return hook, func() { th.guards.finish(guard) }, 0
}

// verifyOrAdd asks the coordinator whether tp is in the producer's open
// transaction (add false) or adds it with transaction version 2 (add true).
// It returns the coordinator's code for tp. A coordinator on another broker
// (the leader of id's __transaction_state partition) is asked with
// AddPartitionsToTxn v4+ as Kafka's AddPartitionsToTxnManager does.
func (th *txnHandlers) verifyOrAdd(ctx context.Context, id string, producerID int64, epoch int16, tp txn.TopicPartition, add bool) int16 {
	if coord := th.coordinatorOf(id); coord >= 0 && coord != th.b.nodeID {
		return th.verifyOrAddRemote(ctx, coord, id, producerID, epoch, tp, add)
	}
	if add {
		return th.coord.AddPartitions(ctx, id, producerID, epoch, []txn.TopicPartition{tp}, 2)
	}
	res, code := th.coord.VerifyPartitions(id, producerID, epoch, []txn.TopicPartition{tp})
	if code != 0 {
		return code
	}
	return res[0]
}

// produceVerificationError turns a coordinator answer into what Kafka's
// produce path returns (AddPartitionsToTxnManager and ReplicaManager):
// PRODUCER_FENCED becomes INVALID_PRODUCER_EPOCH; TRANSACTION_ABORTABLE is
// INVALID_TXN_STATE for clients older than produce v11; retriable
// coordinator errors become NOT_ENOUGH_REPLICAS, which every producer
// retries without refreshing metadata.
func produceVerificationError(code, v int16) int16 {
	switch code {
	case errcode.ProducerFenced:
		return errcode.InvalidProducerEpoch
	case errcode.TransactionAbortable:
		if v < 11 {
			return errcode.InvalidTxnState
		}
	case errcode.ConcurrentTransactions, errcode.NetworkException, errcode.CoordinatorLoadInProgress,
		errcode.CoordinatorNotAvailable, errcode.NotCoordinator:
		return errcode.NotEnoughReplicas
	}
	return code
}

// coordinatorOf is the broker leading id's __transaction_state partition
// in the newest image, or -1.
func (th *txnHandlers) coordinatorOf(id string) int32 {
	t := th.b.image.Load().Topic(transactionStateTopic)
	p := th.coord.PartitionFor(id)
	if t == nil || int(p) >= len(t.Partitions) {
		return -1
	}
	return t.Partitions[p].Leader
}

// verifyRequestTimeout bounds an AddPartitionsToTxn to another broker's
// coordinator (the add waits for the state record's commit).
const verifyRequestTimeout = 15 * time.Second

// verifyOrAddRemote is verifyOrAdd against broker coord. A request that
// fails below the Kafka protocol is NOT_COORDINATOR: the produce answers
// NOT_ENOUGH_REPLICAS and the producer retries.
func (th *txnHandlers) verifyOrAddRemote(ctx context.Context, coord int32, id string, producerID int64, epoch int16, tp txn.TopicPartition, add bool) int16 {
	addr, err := th.b.interBrokerAddr(coord)
	if err != nil {
		return errcode.CoordinatorNotAvailable
	}
	ctx, cancel := context.WithTimeout(ctx, verifyRequestTimeout)
	defer cancel()
	r, err := th.rpc.Call(ctx, addr, &protocol.AddPartitionsToTxnRequest{Transactions: []protocol.AddPartitionsToTxnRequestAddPartitionsToTxnTransaction{{
		TransactionalID: protocol.TransactionalID(id), ProducerID: protocol.ProducerID(producerID), ProducerEpoch: epoch, VerifyOnly: !add,
		Topics: []protocol.AddPartitionsToTxnRequestAddPartitionsToTxnTopic{{Name: protocol.TopicName(tp.Topic), Partitions: []int32{tp.Partition}}},
	}}})
	if err != nil {
		return errcode.NotCoordinator
	}
	resp := r.(*protocol.AddPartitionsToTxnResponse)
	if resp.ErrorCode != 0 {
		return resp.ErrorCode
	}
	for _, tr := range resp.ResultsByTransaction {
		for _, t := range tr.TopicResults {
			for _, p := range t.ResultsByPartition {
				if string(t.Name) == tp.Topic && p.PartitionIndex == tp.Partition {
					return p.PartitionErrorCode
				}
			}
		}
	}
	return errcode.NotCoordinator
}
