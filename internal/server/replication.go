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
	"github.com/spool-broker/spool/replication"
	"github.com/spool-broker/spool/storage"
)

// brokerLookup answers replication's questions about other brokers from
// the reconciled metadata image.
func (b *Broker) brokerLookup(id int32) (replication.BrokerState, bool) {
	img := b.brokersImage.Load()
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

// interBrokerAddr is where this broker's replica fetchers reach broker id:
// its inter-broker listener (inter.broker.listener.name, or the listener of
// security.inter.broker.protocol) as registered in the metadata.
func (b *Broker) interBrokerAddr(id int32) (string, error) {
	img := b.brokersImage.Load()
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
	if want := b.interBroker.Protocol(); ep.SecurityProtocol != securityProtocolCode(want) {
		return "", fmt.Errorf("broker %d's %s listener is registered with security protocol %d; this broker dials it as %s", id, name, ep.SecurityProtocol, want)
	}
	return net.JoinHostPort(ep.Host, strconv.Itoa(int(ep.Port))), nil
}

// dialInterBroker connects to another broker's inter-broker listener with
// this broker's own credentials (seclink.Dialer: TLS and
// sasl.mechanism.inter.broker.protocol as the listener asks).
func (b *Broker) dialInterBroker(ctx context.Context, addr string) (net.Conn, error) {
	return b.interBroker.DialContext(ctx, addr)
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
