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
	case req.LeaderRecoveryState == LeaderRecovering && (len(req.ISR) > 1 || st.LeaderRecoveryState == LeaderRecovered):
		err = ErrInvalidRequest // KIP-704, as the controller checks
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
	if slices.Equal(slices.Sorted(slices.Values(req.ISR)), slices.Sorted(slices.Values(st.ISR))) && req.LeaderRecoveryState == st.LeaderRecoveryState {
		c.mu.Unlock()
		return st, nil // nothing to change: same partition epoch
	}
	st.ISR = slices.Clone(req.ISR)
	st.LeaderRecoveryState = req.LeaderRecoveryState
	st.PartitionEpoch++
	c.parts[req.TopicPartition] = st
	subs := c.subs
	c.mu.Unlock()
	for _, fn := range subs {
		fn(req.TopicPartition, st)
	}
	return st, nil
}

// Lookup is a BrokerLookup over the brokers this controller knows of:
// every broker is registered (epoch 0, which fetches without a broker
// epoch match) and alive unless Fence marked it.
func (c *InmemController) Lookup(id int32) (BrokerState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return BrokerState{Fenced: c.fenced[id]}, true
}

// Elect moves tp's leadership off the brokers alive rejects, as the
// controller does when it fences a broker (package controller's
// leadershipChanges, without Eligible Leader Replicas): the ISR loses the
// rejected brokers (but never its last member), the current leader stays
// if it may, else the first ISR member in assignment order that is alive
// leads; with unclean (unclean.leader.election.enable) and no such member,
// the first alive replica leads and becomes the whole ISR. No candidate
// leaves the partition leaderless (-1). A leader change bumps the leader
// epoch; any change bumps the partition epoch. The new state is published
// and returned.
func (c *InmemController) Elect(tp storage.TopicPartition, alive func(id int32) bool, unclean bool) LeaderAndISR {
	c.mu.Lock()
	st := c.parts[tp]
	st.Replicas, st.ISR = slices.Clone(st.Replicas), slices.Clone(st.ISR)
	target := slices.DeleteFunc(slices.Clone(st.ISR), func(id int32) bool { return !alive(id) })
	if len(target) == 0 && len(st.ISR) > 0 {
		target = st.ISR[:1]
		if st.Leader >= 0 {
			target = []int32{st.Leader}
		}
	}
	valid := func(id int32) bool { return slices.Contains(target, id) && alive(id) }
	leader, isr := int32(-1), target
	switch {
	case st.Leader >= 0 && valid(st.Leader):
		leader = st.Leader
	default:
		for _, id := range st.Replicas {
			if valid(id) {
				leader = id
				break
			}
		}
		if leader < 0 && unclean {
			for _, id := range st.Replicas {
				if alive(id) {
					leader, isr = id, []int32{id}
					break
				}
			}
		}
	}
	changed := false
	if leader != st.Leader {
		st.Leader = leader
		st.LeaderEpoch++
		changed = true
	}
	if !slices.Equal(isr, st.ISR) {
		st.ISR = slices.Clone(isr)
		changed = true
	}
	if !changed {
		c.mu.Unlock()
		return st
	}
	st.PartitionEpoch++
	c.parts[tp] = st
	subs := c.subs
	c.mu.Unlock()
	for _, fn := range subs {
		fn(tp, st)
	}
	return st
}
