package server

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/replication"
	"github.com/spool-broker/spool/storage"
)

// fakeAlterController answers AlterPartition (the only method the batcher
// calls besides Image): it records each request's size, holds the first
// one until release is closed, and refuses partition 13.
type fakeAlterController struct {
	controller.Client // nil: any other method panics
	release           chan struct{}

	mu       sync.Mutex
	requests []int
}

func (f *fakeAlterController) Image() *controller.MetadataImage { return controller.EmptyImage() }

func (f *fakeAlterController) AlterPartition(ctx context.Context, _ int32, _ int64, updates []controller.ISRUpdate) ([]controller.ISRUpdateResult, error) {
	f.mu.Lock()
	f.requests = append(f.requests, len(updates))
	first := len(f.requests) == 1
	f.mu.Unlock()
	if first {
		select {
		case <-f.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	out := make([]controller.ISRUpdateResult, len(updates))
	for i, u := range updates {
		out[i] = controller.ISRUpdateResult{Leader: 1, LeaderEpoch: u.LeaderEpoch, PartitionEpoch: u.PartitionEpoch + 1, ISR: u.NewISR}
		if u.Partition == 13 {
			out[i] = controller.ISRUpdateResult{Err: fmt.Errorf("%w: test", controller.ErrFencedLeaderEpoch)}
		}
	}
	return out, nil
}

func (f *fakeAlterController) sizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int(nil), f.requests...)
}

// TestAlterPartitionBatching: ISR changes submitted while a request is in
// flight go out together in the next one (Kafka's AlterPartitionManager),
// each caller gets its own partition's answer, and a request never exceeds
// maxItems.
func TestAlterPartitionBatching(t *testing.T) {
	fake := &fakeAlterController{release: make(chan struct{})}
	a := newAlterPartitionBatcher(fake)
	a.maxItems = 400
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.run(ctx) }()
	defer func() { cancel(); <-done }()

	call := func(p int32) (replication.LeaderAndISR, error) {
		return a.AlterPartition(context.Background(), replication.AlterPartitionRequest{
			BrokerID: 1, BrokerEpoch: 7, TopicPartition: storage.TopicPartition{Topic: "t", Partition: p},
			LeaderEpoch: 3, PartitionEpoch: p, ISR: []int32{1, 2, 3},
		})
	}
	type answer struct {
		st  replication.LeaderAndISR
		err error
	}
	const n = 1000
	answers := make([]answer, n)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); st, err := call(0); answers[0] = answer{st, err} }()
	require.Eventually(t, func() bool { return len(fake.sizes()) == 1 }, 10*time.Second, time.Millisecond)
	for p := 1; p < n; p++ {
		wg.Add(1)
		go func() { defer wg.Done(); st, err := call(int32(p)); answers[p] = answer{st, err} }()
	}
	require.Eventually(t, func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return len(a.queue) == n-1
	}, 10*time.Second, time.Millisecond)
	close(fake.release)
	wg.Wait()

	require.Equal(t, []int{1, 400, 400, 199}, fake.sizes())
	for p, r := range answers {
		if p == 13 {
			require.ErrorIs(t, r.err, replication.ErrFencedLeaderEpoch)
			continue
		}
		require.NoError(t, r.err, "partition %d", p)
		require.Equal(t, int32(p+1), r.st.PartitionEpoch, "partition %d", p)
		require.Equal(t, []int32{1, 2, 3}, r.st.ISR)
	}
}

// TestAlterPartitionBatcherStops: callers queued when the broker stops get
// the stop's error instead of hanging.
func TestAlterPartitionBatcherStops(t *testing.T) {
	fake := &fakeAlterController{release: make(chan struct{})}
	a := newAlterPartitionBatcher(fake)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.run(ctx) }()
	errs := make(chan error, 2)
	for p := range int32(2) {
		go func() {
			_, err := a.AlterPartition(context.Background(), replication.AlterPartitionRequest{
				BrokerID: 1, TopicPartition: storage.TopicPartition{Topic: "t", Partition: p}, ISR: []int32{1},
			})
			errs <- err
		}()
		if p == 0 {
			require.Eventually(t, func() bool { return len(fake.sizes()) == 1 }, 10*time.Second, time.Millisecond)
		}
	}
	require.Eventually(t, func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return len(a.queue) == 1
	}, 10*time.Second, time.Millisecond)
	cancel()
	<-done
	require.ErrorIs(t, <-errs, context.Canceled)
	require.ErrorIs(t, <-errs, context.Canceled)
}
