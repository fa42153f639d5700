package replication

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/spool-broker/spool/storage"
)

// InmemController is an in-memory controller for tests: it holds each
// partition's LeaderAndISR, answers AlterPartition with the checks Kafka's
// controller makes (ReplicationControlManager), and publishes every change
// to subscribers as the metadata log would. Safe for concurrent use.
type InmemController struct {
	mu       sync.Mutex
	parts    map[storage.TopicPartition]LeaderAndISR
	fenced   map[int32]bool
	requests []AlterPartitionRequest
	inject   []error
	subs     []func(storage.TopicPartition, LeaderAndISR)
}

var _ AlterPartitionSender = (*InmemController)(nil)

// NewInmemController returns a controller with no partitions.
func NewInmemController() *InmemController {
	return &InmemController{parts: map[storage.TopicPartition]LeaderAndISR{}, fenced: map[int32]bool{}}
}

// Set makes st tp's state (a leader election, say) and publishes it.
func (c *InmemController) Set(tp storage.TopicPartition, st LeaderAndISR) {
	c.mu.Lock()
	st.Replicas, st.ISR = slices.Clone(st.Replicas), slices.Clone(st.ISR)
	c.parts[tp] = st
	subs := c.subs
	c.mu.Unlock()
	for _, fn := range subs {
		fn(tp, st)
	}
}

// Get is tp's current state.
func (c *InmemController) Get(tp storage.TopicPartition) (LeaderAndISR, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.parts[tp]
	return st, ok
}

// Fence marks a broker fenced: it may not join an ISR.
func (c *InmemController) Fence(id int32, fenced bool) {
	c.mu.Lock()
	c.fenced[id] = fenced
	c.mu.Unlock()
}

// Subscribe calls fn with every committed change, in commit order, on the
// goroutine that made it (Set, or AlterPartition's caller).
func (c *InmemController) Subscribe(fn func(storage.TopicPartition, LeaderAndISR)) {
	c.mu.Lock()
	c.subs = append(c.subs, fn)
	c.mu.Unlock()
}

// FailNext makes the next AlterPartition calls fail with errs, in order.
func (c *InmemController) FailNext(errs ...error) {
	c.mu.Lock()
	c.inject = append(c.inject, errs...)
	c.mu.Unlock()
}

// Requests returns every AlterPartition received so far.
func (c *InmemController) Requests() []AlterPartitionRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.requests)
}

// AlterPartition validates req against the partition's state (leader
// epoch, sender is the leader, partition epoch, ISR members assigned and
// not fenced, leader in the ISR), commits the new ISR with the next
// partition epoch and publishes it.
func (c *InmemController) AlterPartition(ctx context.Context, req AlterPartitionRequest) (LeaderAndISR, error) {
	if err := ctx.Err(); err != nil {
		return LeaderAndISR{}, err
	}
	c.mu.Lock()
	c.requests = append(c.requests, req)
	if len(c.inject) > 0 {
		err := c.inject[0]
		c.inject = c.inject[1:]
		c.mu.Unlock()
		return LeaderAndISR{}, err
	}
	st, ok := c.parts[req.TopicPartition]
	var err error
	switch {
	case !ok:
		err = ErrUnknownTopicOrPartition
	case req.LeaderEpoch != st.LeaderEpoch:
		err = ErrFencedLeaderEpoch
	case req.BrokerID != st.Leader:
		err = ErrInvalidRequest
	case req.PartitionEpoch != st.PartitionEpoch:
		err = ErrInvalidUpdateVersion
	case !slices.Contains(req.ISR, st.Leader):
		err = ErrInvalidRequest
	}
	if err == nil {
		for _, id := range req.ISR {
			if !slices.Contains(st.Replicas, id) || (c.fenced[id] && !slices.Contains(st.ISR, id)) {
				err = ErrIneligibleReplica
			}
		}
	}
	if err != nil {
		c.mu.Unlock()
		return LeaderAndISR{}, fmt.Errorf("alter partition %s: %w", req.TopicPartition, err)
	}
	if slices.Equal(slices.Sorted(slices.Values(req.ISR)), slices.Sorted(slices.Values(st.ISR))) {
		c.mu.Unlock()
		return st, nil // nothing to change: same partition epoch
	}
	st.ISR = slices.Clone(req.ISR)
	st.PartitionEpoch++
	c.parts[req.TopicPartition] = st
	subs := c.subs
	c.mu.Unlock()
	for _, fn := range subs {
		fn(req.TopicPartition, st)
	}
	return st, nil
}
