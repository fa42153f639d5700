package server

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/coordinator/txn"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
)

// errTxnVerification rejects a transactional batch for a partition the
// producer's transaction does not include (INVALID_TXN_STATE).
var errTxnVerification = errors.New("server: partition is not part of the producer's transaction")

// txnGlue connects the transaction coordinator to this broker: it persists
// to the hosted __transaction_state partitions, writes markers to the hosted
// data partitions, and serves the transaction APIs.
type txnGlue struct {
	b      *Broker
	coord  *txn.Coordinator
	ids    *producerIDs
	guards verifyGuards // in-flight verified transactional appends: txn_verify.go
}

// registerTxnHandlers starts the transaction coordinator and registers the
// producer and transaction APIs; called from registerHandlers.
func (b *Broker) registerTxnHandlers(h map[int16]apiHandler) {
	g := &txnGlue{b: b, ids: &producerIDs{alloc: b.ctrl.AllocateProducerIDs}}
	b.txn = g
	g.coord = txn.New(txn.Config{
		NumPartitions:         b.cfg.TransactionStateLogNumPartitions,
		MaxTimeout:            time.Duration(b.cfg.TransactionMaxTimeoutMs) * time.Millisecond,
		AbortCheckInterval:    time.Duration(b.cfg.TransactionAbortCheckIntervalMs) * time.Millisecond,
		IDExpiration:          time.Duration(b.cfg.TransactionalIDExpirationMs) * time.Millisecond,
		RemoveExpiredInterval: time.Duration(b.cfg.TransactionRemoveExpiredIntervalMs) * time.Millisecond,
		NextProducerID:        g.ids.Next,
		TransactionVersion:    func() int16 { return b.image.Load().Feature(transactionVersionFeature) },
	}, txnStateLog{b}, txnMarkers{g}, b.log.Named("txn"))
	b.attachCoordinator(transactionStateTopic, g.coord)
	register(h, protocol.KeyInitProducerId, 0, 5, g.handleInitProducerID)
	register(h, protocol.KeyAddPartitionsToTxn, 0, 5, g.handleAddPartitionsToTxn)
	register(h, protocol.KeyEndTxn, 0, 5, g.handleEndTxn)
	register(h, protocol.KeyWriteTxnMarkers, 1, 2, g.handleWriteTxnMarkers)
	register(h, protocol.KeyDescribeProducers, 0, 0, g.handleDescribeProducers)
	register(h, protocol.KeyDescribeTransactions, 0, 0, g.handleDescribeTransactions)
	register(h, protocol.KeyListTransactions, 0, 2, g.handleListTransactions)
	g.registerOffsetHandlers(h) // keys 25, 28: txn_offsets.go
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
	return replayLog(ctx, p.Log(), fn)
}

// txnMarkers writes markers to the partitions this broker leads; it is the
// in-process stand-in for WriteTxnMarkers requests to other brokers.
type txnMarkers struct{ g *txnGlue }

func (m txnMarkers) WriteMarkers(ctx context.Context, producerID int64, epoch int16, commit bool, coordinatorEpoch int32, parts []txn.TopicPartition) error {
	var errs []error
	for _, tp := range parts {
		code := m.g.b.writeMarker(tp.Topic, tp.Partition, producerID, epoch, commit, coordinatorEpoch)
		if code != 0 && code != errcode.UnknownTopicOrPartition { // a deleted topic needs no marker
			errs = append(errs, fmt.Errorf("%s-%d: %s", tp.Topic, tp.Partition, errName(code)))
			continue
		}
		if tp.Topic == consumerOffsetsTopic {
			m.g.completeOffsets(producerID, tp.Partition, commit)
		}
	}
	return errors.Join(errs...)
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
		if b.txn != nil {
			b.txn.guards.invalidate(key) // under the log's lock: ordered with produce appends
		}
		return nil
	})
	if err != nil {
		b.log.Warn("cannot write transaction marker", zap.String("topic", topic), zap.Int32("partition", partition), zap.Error(err))
		return replicationErrorCode(err)
	}
	return 0
}

// ensureTxnTopic creates __transaction_state on first use, as Kafka does
// when a client first looks for a transaction coordinator.
func (b *Broker) ensureTxnTopic(ctx context.Context) *controller.MetadataImage {
	minISR := b.cfg.TransactionStateLogMinISR
	if live := liveBrokers(b.image.Load()); live > 0 && int(minISR) > live {
		minISR = int32(live)
	}
	return b.ensureInternalTopic(ctx, transactionStateTopic, b.cfg.TransactionStateLogNumPartitions, b.cfg.TransactionStateLogReplicationFactor,
		map[string]string{
			"cleanup.policy":      "compact",
			"segment.bytes":       strconv.Itoa(int(b.cfg.TransactionStateLogSegmentBytes)),
			"min.insync.replicas": strconv.Itoa(int(minISR)),
		})
}

// txnCoordinatorNode is FindCoordinator for key type TRANSACTION: the
// leader of the id's __transaction_state partition, or an error code.
func (b *Broker) txnCoordinatorNode(ctx context.Context, key string) (int32, int16) {
	img := b.ensureTxnTopic(ctx)
	t := img.Topic(transactionStateTopic)
	if t == nil {
		return -1, errcode.CoordinatorNotAvailable
	}
	p := b.txn.coord.PartitionFor(key)
	if int(p) >= len(t.Partitions) || t.Partitions[p].Leader < 0 {
		return -1, errcode.CoordinatorNotAvailable
	}
	return t.Partitions[p].Leader, 0
}

func (g *txnGlue) handleInitProducerID(ctx context.Context, rc *reqCtx, req *protocol.InitProducerIdRequest) (*protocol.InitProducerIdResponse, error) {
	if denied := g.b.authorizeInitProducerID(rc, req); denied != nil { // authz_txn.go
		return denied, nil
	}
	resp := &protocol.InitProducerIdResponse{ProducerID: -1, ProducerEpoch: -1, OngoingTxnProducerID: -1, OngoingTxnProducerEpoch: -1}
	if req.TransactionalID == nil || *req.TransactionalID == "" {
		// Idempotent producer: always a fresh producer id, as Kafka does; a
		// producer bumps its own epoch after a sequence problem (KIP-360).
		pid, err := g.ids.Next(ctx)
		if err != nil {
			resp.ErrorCode = errcode.CoordinatorNotAvailable
			return resp, nil
		}
		resp.ProducerID, resp.ProducerEpoch = protocol.ProducerID(pid), 0
		return resp, nil
	}
	pid, epoch := int64(-1), int16(-1)
	if rc.v >= 3 {
		pid, epoch = int64(req.ProducerID), req.ProducerEpoch
	}
	r := g.coord.InitProducerID(ctx, string(*req.TransactionalID), req.TransactionTimeoutMs, pid, epoch)
	resp.ErrorCode, resp.ProducerID, resp.ProducerEpoch = r.ErrorCode, protocol.ProducerID(r.ProducerID), r.ProducerEpoch
	if rc.v < 4 && resp.ErrorCode == errcode.ProducerFenced {
		resp.ErrorCode = errcode.InvalidProducerEpoch // PRODUCER_FENCED is v4+
	}
	return resp, nil
}

// topicPartitions resolves a request's topics: partitions that don't exist
// get UNKNOWN_TOPIC_OR_PARTITION.
func (g *txnGlue) checkPartitions(topics []protocol.AddPartitionsToTxnRequestAddPartitionsToTxnTopic) ([]txn.TopicPartition, map[txn.TopicPartition]int16) {
	img := g.b.image.Load()
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

func (g *txnGlue) addPartitions(ctx context.Context, id string, pid int64, epoch int16, verify bool, tv int16,
	topics []protocol.AddPartitionsToTxnRequestAddPartitionsToTxnTopic) []protocol.AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult {
	parts, bad := g.checkPartitions(topics)
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
		res, code := g.coord.VerifyPartitions(id, pid, epoch, parts)
		for i := range codes {
			if code != 0 {
				codes[i] = code
			} else {
				codes[i] = res[i]
			}
		}
	default:
		code := g.coord.AddPartitions(ctx, id, pid, epoch, parts, tv)
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

func (g *txnGlue) handleAddPartitionsToTxn(ctx context.Context, rc *reqCtx, req *protocol.AddPartitionsToTxnRequest) (*protocol.AddPartitionsToTxnResponse, error) {
	if denied := g.b.authorizeAddPartitionsToTxn(rc, req); denied != nil { // authz_txn.go
		return denied, nil
	}
	resp := &protocol.AddPartitionsToTxnResponse{}
	if rc.v < 4 {
		res := g.addPartitions(ctx, string(req.V3AndBelowTransactionalID), int64(req.V3AndBelowProducerID), req.V3AndBelowProducerEpoch, false, 0, req.V3AndBelowTopics)
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
			TopicResults:    g.addPartitions(ctx, string(t.TransactionalID), int64(t.ProducerID), t.ProducerEpoch, t.VerifyOnly, tv, t.Topics),
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

func (g *txnGlue) handleEndTxn(ctx context.Context, rc *reqCtx, req *protocol.EndTxnRequest) (*protocol.EndTxnResponse, error) {
	// EndTxn v5+ is sent only by transaction.version 2 clients: the epoch
	// is bumped and the response carries the producer id and epoch to go on
	// with (KIP-890 part 2).
	if denied := g.b.authorizeEndTxn(rc, req); denied != nil { // authz_txn.go
		return denied, nil
	}
	tv := int16(0)
	if rc.v >= 5 {
		tv = 2
	}
	r := g.coord.EndTxn(ctx, string(req.TransactionalID), int64(req.ProducerID), req.ProducerEpoch, req.Committed, tv)
	if rc.v < 2 && r.ErrorCode == errcode.ProducerFenced {
		r.ErrorCode = errcode.InvalidProducerEpoch
	}
	return &protocol.EndTxnResponse{ErrorCode: r.ErrorCode, ProducerID: protocol.ProducerID(r.ProducerID), ProducerEpoch: r.ProducerEpoch}, nil
}

func (g *txnGlue) handleWriteTxnMarkers(ctx context.Context, rc *reqCtx, req *protocol.WriteTxnMarkersRequest) (*protocol.WriteTxnMarkersResponse, error) {
	if denied := g.b.authorizeWriteTxnMarkers(rc, req); denied != nil { // authz_txn.go
		return denied, nil
	}
	resp := &protocol.WriteTxnMarkersResponse{}
	for _, m := range req.Markers {
		mr := protocol.WriteTxnMarkersResponseWritableTxnMarkerResult{ProducerID: m.ProducerID}
		for _, t := range m.Topics {
			tr := protocol.WriteTxnMarkersResponseWritableTxnMarkerTopicResult{Name: t.Name}
			for _, p := range t.PartitionIndexes {
				code := g.b.writeMarker(string(t.Name), p, int64(m.ProducerID), m.ProducerEpoch, m.TransactionResult, m.CoordinatorEpoch)
				tr.Partitions = append(tr.Partitions, protocol.WriteTxnMarkersResponseWritableTxnMarkerPartitionResult{PartitionIndex: p, ErrorCode: code})
			}
			mr.Topics = append(mr.Topics, tr)
		}
		resp.Markers = append(resp.Markers, mr)
	}
	return resp, nil
}

func (g *txnGlue) handleDescribeProducers(ctx context.Context, rc *reqCtx, req *protocol.DescribeProducersRequest) (*protocol.DescribeProducersResponse, error) {
	resp := &protocol.DescribeProducersResponse{}
	for _, t := range req.Topics {
		if denied := g.b.describeProducersDenied(rc, t); denied != nil { // authz_txn.go
			resp.Topics = append(resp.Topics, *denied)
			continue
		}
		tr := protocol.DescribeProducersResponseTopicResponse{Name: t.Name}
		for _, idx := range t.PartitionIndexes {
			pr := protocol.DescribeProducersResponsePartitionResponse{PartitionIndex: idx}
			p := g.b.partition(string(t.Name), idx)
			switch {
			case p == nil:
				pr.ErrorCode = g.b.missingPartitionCode(string(t.Name), idx)
			case !p.IsLeader():
				pr.ErrorCode = errcode.NotLeaderOrFollower
			default:
				for _, s := range p.Log().ActiveProducers() {
					pr.ActiveProducers = append(pr.ActiveProducers, protocol.DescribeProducersResponseProducerState{
						ProducerID: protocol.ProducerID(s.ProducerID), ProducerEpoch: int32(s.Epoch), LastSequence: s.LastSequence,
						LastTimestamp: s.LastTimestamp, CoordinatorEpoch: s.CoordinatorEpoch, CurrentTxnStartOffset: s.CurrentTxnStartOffset,
					})
				}
			}
			tr.Partitions = append(tr.Partitions, pr)
		}
		resp.Topics = append(resp.Topics, tr)
	}
	return resp, nil
}

func (g *txnGlue) handleDescribeTransactions(ctx context.Context, rc *reqCtx, req *protocol.DescribeTransactionsRequest) (*protocol.DescribeTransactionsResponse, error) {
	resp := &protocol.DescribeTransactionsResponse{}
	for _, id := range req.TransactionalIDs {
		st := protocol.DescribeTransactionsResponseTransactionState{TransactionalID: id, ProducerID: -1, ProducerEpoch: -1, TransactionStartTimeMs: -1}
		m, code := g.coord.Describe(string(id))
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
		if !g.b.authorizeDescribeTransaction(rc, &st) { // authz_txn.go
			st = protocol.DescribeTransactionsResponseTransactionState{TransactionalID: id, ProducerID: -1, ProducerEpoch: -1,
				TransactionStartTimeMs: -1, ErrorCode: errcode.TransactionalIDAuthorizationFailed}
		}
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	return resp, nil
}

func (g *txnGlue) handleListTransactions(ctx context.Context, rc *reqCtx, req *protocol.ListTransactionsRequest) (*protocol.ListTransactionsResponse, error) {
	resp := &protocol.ListTransactionsResponse{}
	var f txn.Filter
	for _, s := range req.StateFilters {
		if st, ok := txn.ParseState(s); ok {
			f.States = append(f.States, st)
		} else {
			resp.UnknownStateFilters = append(resp.UnknownStateFilters, s)
		}
	}
	if len(req.StateFilters) > 0 && len(f.States) == 0 {
		return resp, nil // only unknown states: nothing can match
	}
	for _, p := range req.ProducerIDFilters {
		f.ProducerIDs = append(f.ProducerIDs, int64(p))
	}
	if rc.v >= 1 && req.DurationFilter > 0 {
		f.MinDuration = time.Duration(req.DurationFilter) * time.Millisecond
	}
	var re *regexp.Regexp
	if rc.v >= 2 && req.TransactionalIDPattern != nil && *req.TransactionalIDPattern != "" {
		var err error
		if re, err = regexp.Compile(*req.TransactionalIDPattern); err != nil {
			resp.ErrorCode = errcode.InvalidRegularExpression
			return resp, nil
		}
	}
	for _, m := range g.coord.List(f) {
		if re != nil && !re.MatchString(m.TransactionalID) {
			continue
		}
		if !g.b.authorize(rc, acl.OpDescribe, acl.ResourceTransactionalID, m.TransactionalID) { // authz.go
			continue
		}
		resp.TransactionStates = append(resp.TransactionStates, protocol.ListTransactionsResponseTransactionState{
			TransactionalID: protocol.TransactionalID(m.TransactionalID), ProducerID: protocol.ProducerID(m.ProducerID),
			TransactionState: m.State.String(),
		})
	}
	return resp, nil
}
