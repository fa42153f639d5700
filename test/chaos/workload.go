package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ack is one acknowledged write.
type ack struct {
	value     string
	partition int32
	offset    int64
	at        time.Time
}

// history is everything the workload saw. It is shared by the producers'
// callbacks and the live reader; mu guards every field.
type history struct {
	mu        sync.Mutex
	attempted int
	acks      []ack
	failed    map[string]error // values whose produce failed: indeterminate
	// seen is what the live reader read at each (partition, offset) while
	// faults ran; a later read of another value there is a violation.
	seen       map[int32]map[int64]string
	liveReads  int
	liveErrors []string
}

func newHistory() *history {
	return &history{failed: map[string]error{}, seen: map[int32]map[int64]string{}}
}

func (h *history) ackCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.acks)
}

// produce runs one acks=all idempotent producer until ctx is done: value
// "p<id>-<seq>" goes to partition seq%partitions, at most rate records a
// second. Records still buffered when ctx ends are flushed within flushFor.
func produce(ctx context.Context, seeds []string, topic string, id, partitions, rate int, flushFor time.Duration, h *history) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(2000),
		kgo.RecordDeliveryTimeout(2*time.Minute), kgo.DialTimeout(2*time.Second),
		kgo.RequestTimeoutOverhead(5*time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	var wg sync.WaitGroup
loop:
	for seq := 0; ; seq++ {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
		}
		r := &kgo.Record{Partition: int32(seq % partitions), Value: fmt.Appendf(nil, "p%d-%08d", id, seq)}
		h.mu.Lock()
		h.attempted++
		h.mu.Unlock()
		wg.Add(1)
		// The records' own context is not ctx: a record already handed to
		// the client is given its delivery timeout, not cut at the end.
		cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
			defer wg.Done()
			h.mu.Lock()
			defer h.mu.Unlock()
			if err != nil {
				h.failed[string(r.Value)] = err
				return
			}
			h.acks = append(h.acks, ack{string(r.Value), r.Partition, r.Offset, time.Now()})
		})
	}
	fctx, cancel := context.WithTimeout(context.Background(), flushFor)
	defer cancel()
	if err := cl.Flush(fctx); err != nil {
		// Unflushed records fail with the cancelled context in their
		// callbacks when the client closes: they are indeterminate.
		cl.PurgeTopicsFromProducing(topic)
	}
	wg.Wait()
	return nil
}

// liveRead consumes every partition from the start while faults run and
// records the value at each offset, and offsets going backwards.
func liveRead(ctx context.Context, seeds []string, topic string, h *history) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DialTimeout(2*time.Second),
		kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	last := map[int32]int64{}
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				h.mu.Lock()
				if len(h.liveErrors) < 20 {
					h.liveErrors = append(h.liveErrors, fmt.Sprintf("p%d: %v", p, err))
				}
				h.mu.Unlock()
			}
		})
		h.mu.Lock()
		fs.EachRecord(func(r *kgo.Record) {
			h.liveReads++
			m := h.seen[r.Partition]
			if m == nil {
				m = map[int64]string{}
				h.seen[r.Partition] = m
			}
			if v, ok := m[r.Offset]; ok && v != string(r.Value) {
				h.liveErrors = append(h.liveErrors, fmt.Sprintf("live reader: p%d offset %d read %q then %q", r.Partition, r.Offset, v, r.Value))
			}
			m[r.Offset] = string(r.Value)
			last[r.Partition] = r.Offset
		})
		h.mu.Unlock()
	}
}

// readAll reads every partition from the start to its end offset as
// ListOffsets reports it after the faults healed.
func readAll(ctx context.Context, seeds []string, topic string, ends map[int32]int64) (map[int32][]*kgo.Record, error) {
	offs := map[int32]kgo.Offset{}
	for p := range ends {
		offs[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offs}),
		kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	out := map[int32][]*kgo.Record{}
	done := func() bool {
		for p, end := range ends {
			rs := out[p]
			if end > 0 && (len(rs) == 0 || rs[len(rs)-1].Offset < end-1) {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			have := map[int32]int64{}
			for p, rs := range out {
				if len(rs) > 0 {
					have[p] = rs[len(rs)-1].Offset
				}
			}
			return out, fmt.Errorf("final read incomplete (last offsets %v, ends %v): %w", have, ends, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) { out[r.Partition] = append(out[r.Partition], r) })
	}
	return out, nil
}

// recentAcks counts the acknowledgements of the last d per partition.
func (h *history) recentAcks(d time.Duration) map[int32]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	since := time.Now().Add(-d)
	out := map[int32]int{}
	for _, a := range h.acks {
		if a.at.After(since) {
			out[a.partition]++
		}
	}
	return out
}

// write saves every acknowledgement as CSV: ack time (UTC), value,
// partition, offset; then every failed write with its error.
func (h *history) write(path string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var b []byte
	b = append(b, "ack_time,value,partition,offset\n"...)
	for _, a := range h.acks {
		b = fmt.Appendf(b, "%s,%s,%d,%d\n", a.at.UTC().Format(time.RFC3339Nano), a.value, a.partition, a.offset)
	}
	for v, err := range h.failed {
		b = fmt.Appendf(b, "failed,%s,-1,-1,%q\n", v, err.Error())
	}
	return os.WriteFile(path, b, 0o644)
}
