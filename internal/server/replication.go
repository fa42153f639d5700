package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/replication"
	"github.com/spool-broker/spool/storage"
)

// replicationErrorCode is the Kafka code of an error from an append or read
// through package replication; storage's errors fall through to
// storageErrorCode.
func replicationErrorCode(err error) int16 {
	switch {
	case errors.Is(err, replication.ErrNotLeader):
		return errcode.NotLeaderOrFollower
	case errors.Is(err, replication.ErrFencedLeaderEpoch):
		return errcode.FencedLeaderEpoch
	case errors.Is(err, replication.ErrUnknownLeaderEpoch):
		return errcode.UnknownLeaderEpoch
	case errors.Is(err, replication.ErrNotEnoughReplicas):
		return errcode.NotEnoughReplicas
	case errors.Is(err, replication.ErrNotEnoughReplicasAfterAppend):
		return errcode.NotEnoughReplicasAfterAppend
	case errors.Is(err, replication.ErrTimedOut):
		return errcode.RequestTimedOut
	case errors.Is(err, replication.ErrUnknownTopicOrPartition):
		return errcode.UnknownTopicOrPartition
	}
	return storageErrorCode(err)
}

// brokerLookup answers replication's questions about other brokers from
// the reconciled metadata image.
func (b *Broker) brokerLookup(id int32) (replication.BrokerState, bool) {
	img := b.image.Load()
	if img == nil {
		return replication.BrokerState{}, false
	}
	br := img.Broker(id)
	if br == nil {
		return replication.BrokerState{}, false
	}
	return replication.BrokerState{Epoch: br.Epoch, Fenced: br.Fenced, InControlledShutdown: br.InControlledShutdown}, true
}

// localAlterPartition sends AlterPartition to the controller in this
// process, with the checks Kafka's controller makes. It stands in until the
// controller client (forwarding to the active controller) implements
// replication.AlterPartitionSender.
type localAlterPartition struct{ ctrl *controller.Controller }

func (l localAlterPartition) AlterPartition(ctx context.Context, req replication.AlterPartitionRequest) (replication.LeaderAndISR, error) {
	img := l.ctrl.Image()
	t := img.TopicByID(controller.TopicID(req.TopicID))
	if t == nil || req.TopicPartition.Partition < 0 || int(req.TopicPartition.Partition) >= len(t.Partitions) {
		return replication.LeaderAndISR{}, fmt.Errorf("%s: %w", req.TopicPartition, replication.ErrUnknownTopicOrPartition)
	}
	pi := t.Partitions[req.TopicPartition.Partition]
	switch {
	case req.LeaderEpoch != pi.LeaderEpoch:
		return replication.LeaderAndISR{}, fmt.Errorf("%s: leader epoch %d, current %d: %w", req.TopicPartition, req.LeaderEpoch, pi.LeaderEpoch, replication.ErrFencedLeaderEpoch)
	case req.BrokerID != pi.Leader:
		return replication.LeaderAndISR{}, fmt.Errorf("%s: broker %d is not the leader: %w", req.TopicPartition, req.BrokerID, replication.ErrInvalidRequest)
	}
	for _, id := range req.ISR {
		if slices.Contains(pi.ISR, id) {
			continue
		}
		if br := img.Broker(id); br == nil || br.Fenced || br.InControlledShutdown {
			return replication.LeaderAndISR{}, fmt.Errorf("%s: broker %d may not join the ISR: %w", req.TopicPartition, id, replication.ErrIneligibleReplica)
		}
	}
	res, err := l.ctrl.ChangePartition(ctx, controller.PartitionChange{
		TopicID: t.ID, Partition: req.TopicPartition.Partition, Leader: controller.NoLeaderChange,
		ISR: req.ISR, PartitionEpoch: req.PartitionEpoch,
	})
	switch {
	case errors.Is(err, controller.ErrInvalidUpdateVersion):
		return replication.LeaderAndISR{}, fmt.Errorf("%w: %w", replication.ErrInvalidUpdateVersion, err)
	case errors.Is(err, controller.ErrIneligibleReplica):
		return replication.LeaderAndISR{}, fmt.Errorf("%w: %w", replication.ErrIneligibleReplica, err)
	case errors.Is(err, controller.ErrUnknownTopicID), errors.Is(err, controller.ErrUnknownPartition):
		return replication.LeaderAndISR{}, fmt.Errorf("%w: %w", replication.ErrUnknownTopicOrPartition, err)
	case err != nil:
		return replication.LeaderAndISR{}, err
	}
	return leaderAndISR(res), nil
}

// appendCommitted is how the group and transaction coordinators write: one
// batch through the partition's AppendAsLeader with acks=all, then a wait
// (bounded by ctx) until the high watermark covers it, so a coordinator
// acts only on committed state. With ISR {self} the wait is immediate.
func appendCommitted(ctx context.Context, p *replication.Partition, batch []byte, hook storage.AppendHook) (storage.AppendInfo, error) {
	res, err := p.AppendAsLeader(batch, replication.AppendOptions{RequiredAcks: -1, Hook: hook})
	if err != nil {
		return res.AppendInfo, err
	}
	return res.AppendInfo, res.Wait(ctx)
}

// interBrokerAddr is where this broker's replica fetchers reach broker id:
// its inter-broker listener (inter.broker.listener.name, or the listener of
// security.inter.broker.protocol) as registered in the metadata.
func (b *Broker) interBrokerAddr(id int32) (string, error) {
	img := b.image.Load()
	if img == nil {
		return "", errors.New("no metadata yet")
	}
	br := img.Broker(id)
	if br == nil {
		return "", fmt.Errorf("broker %d is not registered", id)
	}
	name := b.cfg.InterBrokerListenerName
	ep, ok := br.Endpoint(name)
	if !ok {
		return "", fmt.Errorf("broker %d registered no %s listener (inter.broker.listener.name)", id, name)
	}
	if ep.SecurityProtocol != securityProtocolCode("PLAINTEXT") {
		return "", fmt.Errorf("broker %d's %s listener is not PLAINTEXT: the replica fetcher speaks PLAINTEXT only", id, name)
	}
	return net.JoinHostPort(ep.Host, strconv.Itoa(int(ep.Port))), nil
}

// replicaFetcherConfig is the replica fetchers' share of the broker
// config (replica.fetch.*, num.replica.fetchers).
func replicaFetcherConfig(cfg *config.Broker) replication.FetcherConfig {
	fc := replication.FetcherConfig{
		NumFetchers:      int(cfg.NumReplicaFetchers),
		MaxBytes:         int(cfg.ReplicaFetchMaxBytes),
		MinBytes:         int(cfg.ReplicaFetchMinBytes),
		MaxWait:          time.Duration(cfg.ReplicaFetchWaitMaxMs) * time.Millisecond,
		ResponseMaxBytes: int(cfg.ReplicaFetchResponseMaxBytes),
		Backoff:          time.Duration(cfg.ReplicaFetchBackoffMs) * time.Millisecond,
	}
	// 0 means "do not wait" / "no pause" here, not the default.
	if cfg.ReplicaFetchWaitMaxMs == 0 {
		fc.MaxWait = -1
	}
	if cfg.ReplicaFetchBackoffMs == 0 {
		fc.Backoff = time.Millisecond
	}
	return fc
}
