package server

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/storage"
)

// Log dirs on the broker side (JBOD, KIP-858):
//   - a log dir that failed (storage took it offline) takes its partitions
//     offline here too (logDirFailed): they stop leading and following and
//     answer KAFKA_STORAGE_ERROR; the node reports the dir to the
//     controller with its heartbeats, which moves leadership elsewhere;
//   - a failed dir that comes back (a full dir with space again) has its
//     partitions hosted again (logDirOnline);
//   - on a broker with several log dirs, where each replica was placed is
//     sent to the controller (AssignReplicasToDirs) whenever the metadata
//     says otherwise, by one goroutine (runDirAssigner) that batches them.

// logDirFailed takes the partitions of a failed log dir offline.
func (b *Broker) logDirFailed(dir string, tps []storage.TopicPartition) {
	for _, tp := range tps {
		if p := b.replicas.Partition(tp); p != nil {
			b.offlineTopicIDs.Store(tp, p.TopicID())
		}
	}
	b.replicas.MarkOffline(tps)
	b.logger.Error("partitions on a failed log dir are offline on this broker", zap.String("dir", dir), zap.Int("partitions", len(tps)))
}

// LogDirFailed is logDirFailed for the node (storage.Manager.OnDirFailure).
func (nb *nodeBroker) LogDirFailed(dir string, tps []storage.TopicPartition) {
	nb.b.logDirFailed(dir, tps)
}

// dirAssignments are the replica placements waiting to be sent.
type dirAssignments struct {
	mu      sync.Mutex
	pending map[storage.TopicPartition]controller.DirAssignment
	wake    chan struct{} // 1-buffered
}

// noteReplicaDir queues tp's placement when the image does not have it.
// Only brokers with several log dirs send them: the controller puts a
// replica on a single-dir broker in that dir itself.
func (b *Broker) noteReplicaDir(tp storage.TopicPartition, id controller.TopicID, pi *controller.PartitionImage) {
	if len(b.cfg.LogDirs) < 2 {
		return
	}
	dir, ok := b.logManager.DirOf(tp)
	if !ok {
		return
	}
	dirID, ok := b.logManager.DirID(dir)
	if !ok || pi.Directory(b.nodeID) == dirID {
		return
	}
	a := &b.dirAssign
	a.mu.Lock()
	if a.pending == nil {
		a.pending = map[storage.TopicPartition]controller.DirAssignment{}
		a.wake = make(chan struct{}, 1)
	}
	a.pending[tp] = controller.DirAssignment{TopicID: id, Partition: tp.Partition, Dir: dirID}
	wake := a.wake
	a.mu.Unlock()
	select {
	case wake <- struct{}{}:
	default:
	}
}

// runDirAssigner sends the queued placements until ctx ends. A request
// that fails as a whole is retried with back-off; a placement refused by
// the controller is dropped (the next image that still lacks it queues
// it again).
func (b *Broker) runDirAssigner(ctx context.Context) {
	a := &b.dirAssign
	a.mu.Lock()
	if a.wake == nil {
		a.pending = map[storage.TopicPartition]controller.DirAssignment{}
		a.wake = make(chan struct{}, 1)
	}
	wake := a.wake
	a.mu.Unlock()
	backoff := 100 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		}
		for {
			a.mu.Lock()
			batch := make([]controller.DirAssignment, 0, len(a.pending))
			tps := make([]storage.TopicPartition, 0, len(a.pending))
			for tp, as := range a.pending {
				batch = append(batch, as)
				tps = append(tps, tp)
			}
			a.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			st, _ := b.brokerLookup(b.nodeID)
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			errs, err := b.ctrl.AssignReplicasToDirs(rctx, b.nodeID, st.Epoch, batch)
			cancel()
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				b.logger.Warn("assigning replicas to log dirs failed; retrying", zap.Int("partitions", len(batch)), zap.Error(err))
				t := time.NewTimer(backoff)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
				backoff = min(2*backoff, 5*time.Second)
				continue
			}
			backoff = 100 * time.Millisecond
			a.mu.Lock()
			for i, tp := range tps {
				if cur, ok := a.pending[tp]; ok && cur == batch[i] {
					delete(a.pending, tp)
				}
				if errs[i] != nil {
					b.logger.Warn("the controller refused a replica's log dir", zap.Stringer("partition", tp), zap.Error(errs[i]))
				}
			}
			a.mu.Unlock()
		}
	}
}

// logDirOnline hosts again the partitions of a failed log dir that is back
// online (a full dir with space again, storage/dirrecovery.go), with the
// current metadata: as followers of the leader elected meanwhile, which
// truncate and catch up, and rejoin the ISR once the controller has the
// dir online again (the node amends the broker registration). A partition
// deleted, recreated under the same name, or reassigned away while the dir
// was offline has its log deleted instead.
func (b *Broker) logDirOnline(dir string, tps []storage.TopicPartition) {
	b.reconcileMu.Lock()
	defer b.reconcileMu.Unlock()
	img := b.image.Load()
	if img == nil {
		return // not started: the first reconcile hosts them
	}
	hosted := 0
	for _, tp := range tps {
		was, _ := b.offlineTopicIDs.LoadAndDelete(tp)
		t := img.Topic(tp.Topic)
		if t == nil || int(tp.Partition) >= len(t.Partitions) || !slices.Contains(t.Partitions[tp.Partition].Replicas, b.nodeID) ||
			(was != nil && was.([16]byte) != [16]byte(t.ID)) {
			if err := b.logManager.DeleteLog(tp); err != nil && !errors.Is(err, storage.ErrLogNotFound) {
				b.logger.Warn("cannot delete the log of a partition gone while its dir was offline", zap.Stringer("partition", tp), zap.Error(err))
			}
			continue
		}
		pi := t.Partitions[tp.Partition]
		p, err := b.openPartition(tp, t.ID, b.topicSettings(img, t.Name))
		if err != nil {
			b.logger.Error("cannot open partition log; the partition stays offline on this broker", zap.Stringer("partition", tp), zap.Error(err))
			b.openFailed[tp] = true // the next reconcile retries it
			continue
		}
		b.replicas.Apply(p, leaderAndISR(pi))
		b.noteReplicaDir(tp, t.ID, pi)
		hosted++
	}
	b.logger.Warn("partitions on a log dir back online are hosted again", zap.String("dir", dir), zap.Int("partitions", hosted))
}

// LogDirOnline is logDirOnline for the node (storage.Manager.OnDirOnline).
func (nb *nodeBroker) LogDirOnline(dir string, tps []storage.TopicPartition) {
	nb.b.logDirOnline(dir, tps)
}
