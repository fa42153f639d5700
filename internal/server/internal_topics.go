package server

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/protocol/records"
	"github.com/spool-broker/spool/replication"
	"github.com/spool-broker/spool/storage"
)

// scanLog calls fn for every batch of p's log from its log start to its
// log end offset as the scan begins, in order, then waits until the high
// watermark covers them (or ctx ends, or p stops leading). Coordinators use
// it to rebuild their state when they take over a partition of an internal
// topic: a new leader's log end is what the partition will commit (the
// followers truncate to it), but a follower learns the high watermark one
// fetch after the data, so a freshly elected leader's high watermark may
// still stop short of the records its predecessor acknowledged. Loading
// to the log end, as Kafka's coordinators do, and serving only once that
// is committed, loses none of them and acts on nothing uncommitted.
func scanLog(ctx context.Context, p *replication.Partition, fn func(h records.Header, batch []byte) error) error {
	l := p.Log()
	off, end := l.LogStartOffset(), l.LogEndOffset()
	if err := scanRange(ctx, l, off, end, fn); err != nil {
		return err
	}
	return waitCommitted(ctx, p, end)
}

// waitCommitted waits until p's high watermark reaches offset while p
// leads.
func waitCommitted(ctx context.Context, p *replication.Partition, offset int64) error {
	ch := make(chan struct{}, 1)
	defer p.UnwatchFetch(ch, false)
	for {
		p.WatchFetch(ch, false) // woken by high watermark moves and leadership changes
		if p.Log().HighWatermark() >= offset {
			return nil
		}
		if !p.IsLeader() {
			return fmt.Errorf("%s: waiting for the high watermark to reach %d: %w", p.TopicPartition(), offset, replication.ErrNotLeader)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// scanRange calls fn for every batch of l in [off, end).
func scanRange(ctx context.Context, l *storage.Log, off, end int64, fn func(h records.Header, batch []byte) error) error {
	var buf []byte
	for off < end {
		if err := ctx.Err(); err != nil {
			return err
		}
		res, err := l.Read(off, 1<<20, end, true)
		if err != nil {
			return err
		}
		if buf, err = res.ReadInto(buf[:0]); err != nil {
			return err
		}
		if len(buf) == 0 {
			return nil
		}
		for batch, err := range records.Batches(buf) {
			if err != nil {
				return err
			}
			h, err := records.ParseHeader(batch)
			if err != nil {
				return err
			}
			off = h.LastOffset() + 1
			if err := fn(h, batch); err != nil {
				return err
			}
		}
	}
	return nil
}

// replayLog calls fn for every data record (control batches skipped), as
// scanLog reads them.
func replayLog(ctx context.Context, p *replication.Partition, fn func(key, value []byte) error) error {
	return scanLog(ctx, p, func(h records.Header, batch []byte) error {
		if h.IsControl() {
			return nil
		}
		return records.ForEachRecord(batch, maxDecompressedBatch, func(r *records.Record) error {
			return fn(r.Key, r.Value)
		})
	})
}

// liveBrokers counts the unfenced brokers of img.
func liveBrokers(img *controller.MetadataImage) int {
	live := 0
	for _, br := range img.Brokers() {
		if !br.Fenced {
			live++
		}
	}
	return live
}

// ensureInternalTopic creates a coordinator's internal topic on first use,
// as Kafka does when a client first looks for a coordinator, with the
// configured replication factor: never fewer replicas. Until that many
// brokers are live it is not created (Kafka's controller refuses it with
// INVALID_REPLICATION_FACTOR) and the coordinator lookups answer
// COORDINATOR_NOT_AVAILABLE; a single node therefore needs the internal
// topics' replication set to 1, as Kafka's packaged server.properties and
// Spool's zero configuration do.
func (b *Broker) ensureInternalTopic(ctx context.Context, name string, partitions int32, rf int16, configs map[string]string) *controller.MetadataImage {
	img := b.image.Load()
	if img.Topic(name) != nil {
		return img
	}
	if live := liveBrokers(img); int(rf) > live {
		// Asking the controller would only be refused; say so once per
		// change in the number of live brokers, not on every lookup.
		key := fmt.Sprintf("%s/%d", name, live)
		if _, seen := b.internalTopicWaits.LoadOrStore(key, true); !seen {
			b.logger.Info("internal topic waits for enough live brokers", zap.String("topic", name),
				zap.Int16("replication_factor", rf), zap.Int("live_brokers", live))
		}
		return img
	}
	cfg := make(map[string]*string, len(configs))
	for k, v := range configs {
		cfg[k] = &v
	}
	res := b.ctrl.CreateTopics(ctx, []controller.CreateTopic{{
		Name: name, NumPartitions: partitions, ReplicationFactor: rf, Configs: cfg,
	}}, false)
	if err := res[0].Err; err != nil && b.image.Load().Topic(name) == nil {
		b.logger.Warn("cannot create internal topic", zap.String("topic", name), zap.Error(err))
	}
	return b.syncImage()
}
