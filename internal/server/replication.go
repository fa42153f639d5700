package server

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/replication"
	"github.com/spool-broker/spool/storage"
)

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
