package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/coordinator/txn"
	"github.com/spool-broker/spool/internal/kafkarpc"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
)

// errTxnVerification rejects a transactional batch for a partition the
// producer's transaction does not include (INVALID_TXN_STATE).
var errTxnVerification = errors.New("server: partition is not part of the producer's transaction")

// txnHandlers serve the producer and transaction APIs (the api_NN files with
// a txnHandlers receiver) over coord, the transaction coordinator, which
// persists to the hosted __transaction_state partitions (txnStateLog) and
// writes markers to the partitions' leaders, here or on other brokers
// (txnMarkers, txn_markers.go).
type txnHandlers struct {
	b      *Broker
	coord  *txn.Coordinator
	ids    *producerIDs
	guards verifyGuards // in-flight verified transactional appends: txn_verify.go
	// rpc carries WriteTxnMarkers (txn_markers.go) and AddPartitionsToTxn
	// verifications (txn_verify.go) to other brokers.
	rpc *kafkarpc.Client
}

// registerTxnHandlers starts the transaction coordinator and registers the
// producer and transaction APIs; called from registerHandlers.
func (b *Broker) registerTxnHandlers(h map[int16]apiHandler) {
	th := &txnHandlers{b: b, ids: &producerIDs{alloc: b.ctrl.AllocateProducerIDs}, rpc: newInterBrokerClient(b)}
	b.txnHandlers = th
	th.coord = txn.New(txn.Config{
		NumPartitions:         b.cfg.TransactionStateLogNumPartitions,
		MaxTimeout:            time.Duration(b.cfg.TransactionMaxTimeoutMs) * time.Millisecond,
		AbortCheckInterval:    time.Duration(b.cfg.TransactionAbortCheckIntervalMs) * time.Millisecond,
		IDExpiration:          time.Duration(b.cfg.TransactionalIDExpirationMs) * time.Millisecond,
		RemoveExpiredInterval: time.Duration(b.cfg.TransactionRemoveExpiredIntervalMs) * time.Millisecond,
		NextProducerID:        th.ids.Next,
		TransactionVersion:    func() int16 { return b.image.Load().Feature(transactionVersionFeature) },
	}, txnStateLog{b}, txnMarkers{th}, b.logger.Named("txn"))
	b.attachCoordinator(transactionStateTopic, th.coord)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		<-b.ctx.Done()
		th.rpc.Close()
	}()
	register(h, protocol.KeyInitProducerId, 0, 5, th.handleInitProducerID)
	register(h, protocol.KeyAddPartitionsToTxn, 0, 5, th.handleAddPartitionsToTxn)
	register(h, protocol.KeyEndTxn, 0, 5, th.handleEndTxn)
	register(h, protocol.KeyWriteTxnMarkers, 1, 2, th.handleWriteTxnMarkers)
	register(h, protocol.KeyDescribeProducers, 0, 0, th.handleDescribeProducers)
	register(h, protocol.KeyDescribeTransactions, 0, 0, th.handleDescribeTransactions)
	register(h, protocol.KeyListTransactions, 0, 2, th.handleListTransactions)
	th.registerOffsetHandlers(h) // keys 25, 28: txn_offsets.go
}

// transactionVersionFeature is KIP-584's name for the KIP-890 level.
const transactionVersionFeature = "transaction.version"

// txnStateLog is txn.Log over the hosted __transaction_state partitions.
type txnStateLog struct{ b *Broker }

func (l txnStateLog) Append(ctx context.Context, partition int32, key, value []byte) error {
	p := l.b.partition(transactionStateTopic, partition)
	if p == nil || !p.IsLeader() {
		return fmt.Errorf("%s-%d: not the leader", transactionStateTopic, partition)
	}
	batch, err := records.AppendBatch(nil, records.NewBatchOptions(), []records.Record{{Timestamp: time.Now().UnixMilli(), Key: key, Value: value}})
	if err != nil {
		return fmt.Errorf("build __transaction_state batch: %w", err)
	}
	if _, err := appendCommitted(ctx, p, batch, nil); err != nil {
		return fmt.Errorf("append to %s-%d: %w", transactionStateTopic, partition, err)
	}
	return nil
}

func (l txnStateLog) Replay(ctx context.Context, partition int32, fn func(key, value []byte) error) error {
	p := l.b.partition(transactionStateTopic, partition)
	if p == nil || !p.IsLeader() {
		return fmt.Errorf("%s-%d: not the leader", transactionStateTopic, partition)
	}
	return replayLog(ctx, p, fn)
}

// markerCommitTimeout bounds how long a marker waits to be committed.
const markerCommitTimeout = 30 * time.Second

// writeMarker appends one COMMIT/ABORT control batch and returns its code.
func (b *Broker) writeMarker(topic string, partition int32, producerID int64, epoch int16, commit bool, coordinatorEpoch int32) int16 {
	p := b.partition(topic, partition)
	if p == nil {
		return b.missingPartitionCode(topic, partition)
	}
	if !p.IsLeader() {
		return errcode.NotLeaderOrFollower
	}
	marker := records.EndTxnMarker(producerID, epoch, commit, coordinatorEpoch, time.Now().UnixMilli())
	key := verifyKey{topic: topic, partition: partition, producerID: producerID}
	// Kafka writes markers with acks=all and request.timeout.ms (30s).
	ctx, cancel := context.WithTimeout(b.ctx, markerCommitTimeout)
	defer cancel()
	_, err := appendCommitted(ctx, p, marker, func([]byte, records.Header) error {
		if b.txnHandlers != nil {
			b.txnHandlers.guards.invalidate(key) // under the log's lock: ordered with produce appends
		}
		return nil
	})
	if err != nil {
		b.logger.Warn("cannot write transaction marker", zap.String("topic", topic), zap.Int32("partition", partition), zap.Error(err))
		return replicationErrorCode(err)
	}
	return 0
}

// ensureTxnTopic creates __transaction_state on first use, as Kafka does
// when a client first looks for a transaction coordinator.
func (b *Broker) ensureTxnTopic(ctx context.Context) *controller.MetadataImage {
	// transaction.state.log.min.isr as configured: Kafka does not lower
	// it (the effective min ISR is capped by the replica count anyway).
	minISR := b.cfg.TransactionStateLogMinISR
	return b.ensureInternalTopic(ctx, transactionStateTopic, b.cfg.TransactionStateLogNumPartitions, b.cfg.TransactionStateLogReplicationFactor,
		map[string]string{
			"cleanup.policy":      "compact",
			"segment.bytes":       strconv.Itoa(int(b.cfg.TransactionStateLogSegmentBytes)),
			"min.insync.replicas": strconv.Itoa(int(minISR)),
		})
}
