package server

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/coordinator/txn"
	"github.com/spool-broker/spool/internal/kafkarpc"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// txnMarkers is txn.Markers, Kafka's TransactionMarkerChannelManager: the
// markers of one transaction are grouped by the leader of each partition
// in the newest metadata image; those this broker leads are appended here,
// the others sent as one WriteTxnMarkers request per leader over the
// inter-broker listener. Partitions that fail with a retriable code (the
// leader moved, not enough replicas, timed out, or the broker cannot be
// reached) are looked up again and resent until every marker is written;
// a partition whose topic is gone from the metadata needs no marker and is
// dropped, as Kafka drops it.
//
// Concurrency: WriteMarkers is called without any coordinator lock held
// and may run for several transactions at once; th.rpc is safe for
// concurrent use.
type txnMarkers struct{ th *txnHandlers }

// errMarkersFenced: a partition leader refused a marker because the
// transaction's producer epoch or this coordinator's epoch is stale
// (INVALID_PRODUCER_EPOCH, TRANSACTION_COORDINATOR_FENCED). Kafka stops
// sending that transaction's markers: a newer coordinator completes it.
var errMarkersFenced = errors.New("server: transaction markers fenced")

// markerRetryBackoff is the wait before markers that failed are looked up
// and sent again (Kafka: retry.backoff.ms, 100 ms).
const markerRetryBackoff = 100 * time.Millisecond

// markerRequestTimeout bounds one WriteTxnMarkers round trip: the leader
// waits up to markerCommitTimeout for its high watermark.
const markerRequestTimeout = markerCommitTimeout + 5*time.Second

func (m txnMarkers) WriteMarkers(ctx context.Context, producerID int64, epoch int16, commit bool, coordinatorEpoch int32, parts []txn.TopicPartition) error {
	pending := append([]txn.TopicPartition(nil), parts...)
	for attempt := 0; ; attempt++ {
		var err error
		pending, err = m.round(ctx, producerID, epoch, commit, coordinatorEpoch, pending)
		switch {
		case err != nil:
			return err
		case len(pending) == 0:
			return nil
		}
		if attempt%50 == 49 { // every ~5 s
			m.th.b.logger.Warn("transaction markers still pending", zap.Int64("producer_id", producerID),
				zap.Int16("producer_epoch", epoch), zap.Int("partitions", len(pending)))
		}
		t := time.NewTimer(markerRetryBackoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("server: %d transaction markers not written: %w", len(pending), ctx.Err())
		case <-t.C:
		}
	}
}

// round sends every pending marker once, grouped by leader, and returns
// the partitions to retry.
func (m txnMarkers) round(ctx context.Context, producerID int64, epoch int16, commit bool, coordinatorEpoch int32, pending []txn.TopicPartition) ([]txn.TopicPartition, error) {
	b := m.th.b
	img := b.image.Load()
	byLeader := map[int32][]txn.TopicPartition{}
	var retry []txn.TopicPartition
	for _, tp := range pending {
		t := img.Topic(tp.Topic)
		if t == nil || tp.Partition < 0 || int(tp.Partition) >= len(t.Partitions) {
			b.logger.Info("transaction marker dropped: partition no longer exists", zap.String("topic", tp.Topic),
				zap.Int32("partition", tp.Partition), zap.Int64("producer_id", producerID))
			continue
		}
		leader := t.Partitions[tp.Partition].Leader
		if leader < 0 {
			retry = append(retry, tp)
			continue
		}
		byLeader[leader] = append(byLeader[leader], tp)
	}
	var (
		mu     sync.Mutex
		fenced bool
		wg     sync.WaitGroup
	)
	for leader, tps := range byLeader {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var codes []int16
			if leader == b.nodeID {
				codes = make([]int16, len(tps))
				for i, tp := range tps {
					codes[i] = m.th.writeMarker(tp.Topic, tp.Partition, producerID, epoch, commit, coordinatorEpoch)
				}
			} else {
				codes = m.send(ctx, leader, producerID, epoch, commit, coordinatorEpoch, tps)
			}
			mu.Lock()
			defer mu.Unlock()
			for i, tp := range tps {
				switch codes[i] {
				case errcode.None, errcode.UnsupportedForMessageFormat:
				case errcode.InvalidProducerEpoch, errcode.TransactionCoordinatorFenced:
					fenced = true
				default:
					// NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION (the
					// leader has not created it yet, or it is being
					// deleted: the next lookup decides), NOT_ENOUGH_REPLICAS*,
					// REQUEST_TIMED_OUT, KAFKA_STORAGE_ERROR, unreachable.
					retry = append(retry, tp)
				}
			}
		}()
	}
	wg.Wait()
	if fenced {
		return nil, errMarkersFenced
	}
	sort.Slice(retry, func(i, j int) bool {
		if retry[i].Topic != retry[j].Topic {
			return retry[i].Topic < retry[j].Topic
		}
		return retry[i].Partition < retry[j].Partition
	})
	return retry, nil
}

// send writes markers through broker leader's WriteTxnMarkers and returns
// one code per partition of tps; a request that fails below the Kafka
// protocol answers NOT_LEADER_OR_FOLLOWER for all, so they are retried.
func (m txnMarkers) send(ctx context.Context, leader int32, producerID int64, epoch int16, commit bool, coordinatorEpoch int32, tps []txn.TopicPartition) []int16 {
	codes := make([]int16, len(tps))
	fail := func(err error) []int16 {
		m.th.b.logger.Info("cannot send transaction markers", zap.Int32("leader", leader), zap.Int64("producer_id", producerID), zap.Error(err))
		for i := range codes {
			codes[i] = errcode.NotLeaderOrFollower
		}
		return codes
	}
	addr, err := m.th.b.interBrokerAddr(leader)
	if err != nil {
		return fail(err)
	}
	marker := protocol.WriteTxnMarkersRequestWritableTxnMarker{
		ProducerID: protocol.ProducerID(producerID), ProducerEpoch: epoch, TransactionResult: commit, CoordinatorEpoch: coordinatorEpoch,
	}
	index := map[string]int{}
	for _, tp := range tps {
		i, ok := index[tp.Topic]
		if !ok {
			i = len(marker.Topics)
			index[tp.Topic] = i
			marker.Topics = append(marker.Topics, protocol.WriteTxnMarkersRequestWritableTxnMarkerTopic{Name: protocol.TopicName(tp.Topic)})
		}
		marker.Topics[i].PartitionIndexes = append(marker.Topics[i].PartitionIndexes, tp.Partition)
	}
	rctx, cancel := context.WithTimeout(ctx, markerRequestTimeout)
	defer cancel()
	r, err := m.th.rpc.Call(rctx, addr, &protocol.WriteTxnMarkersRequest{Markers: []protocol.WriteTxnMarkersRequestWritableTxnMarker{marker}})
	if err != nil {
		return fail(err)
	}
	resp := r.(*protocol.WriteTxnMarkersResponse)
	got := map[txn.TopicPartition]int16{}
	for _, mr := range resp.Markers {
		for _, t := range mr.Topics {
			for _, p := range t.Partitions {
				got[txn.TopicPartition{Topic: string(t.Name), Partition: p.PartitionIndex}] = p.ErrorCode
			}
		}
	}
	for i, tp := range tps {
		code, ok := got[tp]
		if !ok {
			code = errcode.NotLeaderOrFollower // not answered: send again
		}
		codes[i] = code
	}
	return codes
}

// writeMarker appends a marker to a partition this broker leads and, on
// a __consumer_offsets partition, hands the outcome to the group
// coordinator; both the coordinator's local markers and WriteTxnMarkers
// from other brokers' coordinators come here.
func (th *txnHandlers) writeMarker(topic string, partition int32, producerID int64, epoch int16, commit bool, coordinatorEpoch int32) int16 {
	code := th.b.writeMarker(topic, partition, producerID, epoch, commit, coordinatorEpoch)
	if code == 0 && topic == consumerOffsetsTopic {
		th.completeOffsets(producerID, partition, commit)
	}
	return code
}

// newInterBrokerClient is the transaction coordinator's and the produce
// path's client for other brokers: it dials their inter-broker listeners
// with this broker's credentials, as the replica fetchers do.
func newInterBrokerClient(b *Broker) *kafkarpc.Client {
	return kafkarpc.NewDialing("broker-"+strconv.Itoa(int(b.nodeID))+"-txn", b.dialInterBroker)
}
