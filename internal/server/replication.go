package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
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

// alterPartitionBatcher sends the leaders' ISR changes to the active
// controller through the controller client (locally when this node's
// controller is active, else as Kafka's AlterPartition RPC), which makes
// Kafka's checks; its refusals are translated to replication's errors.
//
// Like Kafka's AlterPartitionManager it keeps at most one request in flight
// and sends everything queued meanwhile in the next one: every partition
// whose ISR changes submits on its own, so when a broker restarts with
// thousands of partitions and each leader expands the ISR, one request per
// partition would be thousands of concurrent controller operations, each
// its own metadata record batch and image (and each image is walked by
// every broker's reconcile). Batched, they are a handful.
//
// run, started by Broker.start, is the only goroutine that sends; callers
// block in AlterPartition until their answer or their ctx ends.
type alterPartitionBatcher struct {
	ctrl controller.Client
	// maxItems bounds one request (and so one metadata record batch and
	// the controller's time on it). At 5000, a restart at 10k partitions
	// on a heavily loaded machine (load average 40-80) saw whole batches
	// exceed the controller client's 30 s deadline and be retried in full.
	maxItems int

	mu    sync.Mutex
	queue []*alterCall
	kick  chan struct{} // buffer of one: "the queue is not empty"
}

type alterCall struct {
	req  replication.AlterPartitionRequest
	done chan alterAnswer // buffer of one; run sends exactly once
}

type alterAnswer struct {
	st  replication.LeaderAndISR
	err error
}

func newAlterPartitionBatcher(ctrl controller.Client) *alterPartitionBatcher {
	return &alterPartitionBatcher{ctrl: ctrl, maxItems: 1000, kick: make(chan struct{}, 1)}
}

// AlterPartition implements replication.AlterPartitionSender.
func (a *alterPartitionBatcher) AlterPartition(ctx context.Context, req replication.AlterPartitionRequest) (replication.LeaderAndISR, error) {
	c := &alterCall{req: req, done: make(chan alterAnswer, 1)}
	a.mu.Lock()
	a.queue = append(a.queue, c)
	a.mu.Unlock()
	select {
	case a.kick <- struct{}{}:
	default:
	}
	select {
	case r := <-c.done:
		return r.st, r.err
	case <-ctx.Done():
		return replication.LeaderAndISR{}, ctx.Err()
	}
}

// run sends the queue until ctx ends; callers still queued then get ctx's
// error.
func (a *alterPartitionBatcher) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			a.mu.Lock()
			q := a.queue
			a.queue = nil
			a.mu.Unlock()
			for _, c := range q {
				c.done <- alterAnswer{err: ctx.Err()}
			}
			return
		case <-a.kick:
		}
		for ctx.Err() == nil {
			batch := a.take()
			if len(batch) == 0 {
				break
			}
			a.send(ctx, batch)
		}
	}
}

// take removes the next request's calls from the queue: up to maxItems
// calls of one broker epoch, at most one per partition (a partition has at
// most one change pending, but a retry may queue behind an abandoned call).
func (a *alterPartitionBatcher) take() []*alterCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.queue) == 0 {
		return nil
	}
	epoch := a.queue[0].req.BrokerEpoch
	seen := make(map[storage.TopicPartition]bool)
	var batch, rest []*alterCall
	for _, c := range a.queue {
		if len(batch) < a.maxItems && c.req.BrokerEpoch == epoch && !seen[c.req.TopicPartition] {
			seen[c.req.TopicPartition] = true
			batch = append(batch, c)
		} else {
			rest = append(rest, c)
		}
	}
	a.queue = rest
	return batch
}

func (a *alterPartitionBatcher) send(ctx context.Context, batch []*alterCall) {
	first := batch[0].req
	updates := make([]controller.ISRUpdate, len(batch))
	for i, c := range batch {
		updates[i] = controller.ISRUpdate{
			TopicID: controller.TopicID(c.req.TopicID), Partition: c.req.TopicPartition.Partition,
			LeaderEpoch: c.req.LeaderEpoch, PartitionEpoch: c.req.PartitionEpoch, NewISR: slices.Clone(c.req.ISR),
			LeaderRecoveryState: controller.LeaderRecoveryState(c.req.LeaderRecoveryState),
		}
	}
	out, err := a.ctrl.AlterPartition(ctx, first.BrokerID, first.BrokerEpoch, updates)
	if err == nil && len(out) != len(batch) {
		err = fmt.Errorf("controller answered %d of %d ISR changes", len(out), len(batch))
	}
	img := a.ctrl.Image()
	for i, c := range batch {
		if err != nil { // NOT_CONTROLLER, STALE_BROKER_EPOCH, transport: retried by the partition
			c.done <- alterAnswer{err: err}
			continue
		}
		st, perr := alterPartitionAnswer(img, c.req, out[i])
		c.done <- alterAnswer{st: st, err: perr}
	}
}

// alterPartitionAnswer translates the controller's answer for one
// partition.
func alterPartitionAnswer(img *controller.MetadataImage, req replication.AlterPartitionRequest, res controller.ISRUpdateResult) (replication.LeaderAndISR, error) {
	switch err := res.Err; {
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
	default: // NOT_CONTROLLER: retried
		return replication.LeaderAndISR{}, err
	}
	li := replication.LeaderAndISR{Leader: res.Leader, LeaderEpoch: res.LeaderEpoch, PartitionEpoch: res.PartitionEpoch, ISR: res.ISR,
		LeaderRecoveryState: replication.LeaderRecoveryState(res.LeaderRecoveryState)}
	// AlterPartition never changes the replicas; the response does not
	// carry them.
	if t := img.TopicByID(controller.TopicID(req.TopicID)); t != nil && int(req.TopicPartition.Partition) < len(t.Partitions) {
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
