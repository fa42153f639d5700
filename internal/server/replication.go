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

// controllerAlterPartition sends a leader's ISR change to the active
// controller through the controller client (locally when this node's
// controller is active, else as Kafka's AlterPartition RPC), which makes
// Kafka's checks; its refusals are translated to replication's errors.
type controllerAlterPartition struct{ ctrl controller.Client }

func (c controllerAlterPartition) AlterPartition(ctx context.Context, req replication.AlterPartitionRequest) (replication.LeaderAndISR, error) {
	out, err := c.ctrl.AlterPartition(ctx, req.BrokerID, req.BrokerEpoch, []controller.ISRUpdate{{
		TopicID: controller.TopicID(req.TopicID), Partition: req.TopicPartition.Partition,
		LeaderEpoch: req.LeaderEpoch, PartitionEpoch: req.PartitionEpoch, NewISR: slices.Clone(req.ISR),
	}})
	if err == nil {
		err = out[0].Err
	}
	switch {
	case err == nil:
	case errors.Is(err, controller.ErrInvalidUpdateVersion):
		return replication.LeaderAndISR{}, fmt.Errorf("%s: %w: %w", req.TopicPartition, replication.ErrInvalidUpdateVersion, err)
	case errors.Is(err, controller.ErrIneligibleReplica):
		return replication.LeaderAndISR{}, fmt.Errorf("%s: %w: %w", req.TopicPartition, replication.ErrIneligibleReplica, err)
	case errors.Is(err, controller.ErrFencedLeaderEpoch):
		return replication.LeaderAndISR{}, fmt.Errorf("%s: %w: %w", req.TopicPartition, replication.ErrFencedLeaderEpoch, err)
	case errors.Is(err, controller.ErrUnknownTopicID), errors.Is(err, controller.ErrUnknownPartition), errors.Is(err, controller.ErrUnknownTopic):
		return replication.LeaderAndISR{}, fmt.Errorf("%s: %w: %w", req.TopicPartition, replication.ErrUnknownTopicOrPartition, err)
	case errors.Is(err, controller.ErrInvalidRequest):
		return replication.LeaderAndISR{}, fmt.Errorf("%s: %w: %w", req.TopicPartition, replication.ErrInvalidRequest, err)
	default: // NOT_CONTROLLER, STALE_BROKER_EPOCH, transport: retried
		return replication.LeaderAndISR{}, err
	}
	res := out[0]
	li := replication.LeaderAndISR{Leader: res.Leader, LeaderEpoch: res.LeaderEpoch, PartitionEpoch: res.PartitionEpoch, ISR: res.ISR}
	// AlterPartition never changes the replicas; the response does not
	// carry them.
	if t := c.ctrl.Image().TopicByID(controller.TopicID(req.TopicID)); t != nil && int(req.TopicPartition.Partition) < len(t.Partitions) {
		li.Replicas = t.Partitions[req.TopicPartition.Partition].Replicas
	}
	return li, nil
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
