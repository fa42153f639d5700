package server

import (
	"context"
	"sync"
)

// producerIDBlockSize is how many producer ids one AllocateProducerIDs
// reserves (Kafka's ProducerIdManager asks for blocks of 1000).
const producerIDBlockSize = 1000

// producerIDs hands out producer ids from blocks the controller reserved
// through raft, so ids are never reused across restarts or brokers.
type producerIDs struct {
	alloc func(ctx context.Context, n int32) (int64, error)

	mu   sync.Mutex
	next int64 // next id to hand out
	end  int64 // one past the block's last id
}

// Next returns a fresh producer id.
func (p *producerIDs) Next(ctx context.Context) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next >= p.end {
		first, err := p.alloc(ctx, producerIDBlockSize)
		if err != nil {
			return -1, err
		}
		p.next, p.end = first, first+producerIDBlockSize
	}
	id := p.next
	p.next++
	return id, nil
}
