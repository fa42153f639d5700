package server

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/replication"
	"github.com/spool-broker/spool/storage"
)

// The hosted partitions are replication.Partitions, owned by b.replicas
// (replication.Manager); this file follows the metadata image onto them.

// leaderCheck validates a request's view of the leader epoch (KIP-320) and
// returns this broker's epoch (-1 when it does not lead) with the error
// code, if any: FENCED_LEADER_EPOCH (client behind), UNKNOWN_LEADER_EPOCH
// (client ahead), NOT_LEADER_OR_FOLLOWER. A requested epoch of -1 skips the
// epoch check.
func leaderCheck(p *replication.Partition, requested int32) (int32, int16) {
	epoch, err := p.CheckLeader(requested)
	if err != nil {
		return epoch, replicationErrorCode(err)
	}
	return epoch, 0
}

// storageConfig converts a topic's effective settings to the log's config.
func storageConfig(s config.LogSettings) storage.Config { return s.StorageConfig() }

// dynamicBrokerConfig is what AlterConfigs set for brokers, as the catalog
// resolves it.
func (b *Broker) dynamicBrokerConfig(img *controller.MetadataImage) config.Dynamic {
	return config.Dynamic{
		PerBroker:      img.Config(controller.ResourceBroker, fmt.Sprint(b.nodeID)),
		ClusterDefault: img.Config(controller.ResourceBroker, ""),
	}
}

// topicSettings resolves a topic's effective log settings from an image.
func (b *Broker) topicSettings(img *controller.MetadataImage, topic string) config.LogSettings {
	s, err := b.cfg.LogConfigForTopic(img.Config(controller.ResourceTopic, topic), b.dynamicBrokerConfig(img))
	if err != nil {
		// Configs were validated before they were committed; a failure here
		// means a default changed underneath. Keep serving with what parsed.
		b.logger.Warn("topic config does not resolve cleanly", zap.String("topic", topic), zap.Error(err))
	}
	return s
}

// syncImage reconciles the controller's current image and returns it.
func (b *Broker) syncImage() *controller.MetadataImage {
	img := b.ctrl.Image()
	b.reconcile(img)
	return b.image.Load()
}

// reconcile makes the hosted partitions match img: it opens logs for
// partitions assigned to this node, deletes logs of deleted topics, and
// updates leadership and configs. Calls are serialized; an image no newer
// than the one already applied is ignored (a handler's syncImage after a
// write usually finds the follower goroutine already did it).
//
// Only what changed since the applied image is walked: images share every
// TopicImage and PartitionImage a record batch did not touch (the
// controller's builder is copy-on-write), so an unchanged pointer with
// unchanged configs is an unchanged partition, and Apply of an unchanged
// state is a no-op anyway. Walking every hosted partition per image made a
// burst of n metadata changes (topic creation, ISR changes after a restart)
// cost O(n × partitions). The whole image is walked on the first image,
// when the broker's dynamic configs changed (every topic's effective
// settings may have), when a topic name now has another id, and while a
// partition failed to open (so it is retried).
func (b *Broker) reconcile(img *controller.MetadataImage) {
	b.reconcileMu.Lock()
	defer b.reconcileMu.Unlock()
	cur := b.image.Load()
	if cur != nil && cur.Offset() >= img.Offset() {
		return
	}
	b.brokersImage.Store(img)
	rt := b.cfg.ReplicationThrottles(b.dynamicBrokerConfig(img))
	b.leaderThrottle.SetBound(rt.LeaderRate)
	b.followerThrottle.SetBound(rt.FollowerRate)
	b.applyLogDirConfigs(img) // config_log_dirs.go
	if b.needsFullReconcileLocked(cur, img) {
		b.reconcileAllLocked(img)
	} else {
		b.reconcileChangedLocked(cur, img)
	}
	if cur != nil && brokerLivenessChanged(cur, img) {
		// A follower fenced or shutting down no longer holds back a high
		// watermark it held as a caught-up replica outside the ISR, and
		// one unfenced may count again; partitions whose ISR changed were
		// recomputed by Apply already.
		b.replicas.MaybeIncrementHighWatermarks()
	}
	b.applySecurityImageLocked(img) // authz.go
	b.telemetry.SetSubscriptions(img.ConfigsOfType(controller.ResourceClientMetrics))
	b.image.Store(img)
}

func (b *Broker) needsFullReconcileLocked(cur, img *controller.MetadataImage) bool {
	if cur == nil || cur.Offset() == 0 || len(b.openFailed) > 0 {
		return true
	}
	node := fmt.Sprint(b.nodeID)
	if !maps.Equal(cur.Config(controller.ResourceBroker, node), img.Config(controller.ResourceBroker, node)) ||
		!maps.Equal(cur.Config(controller.ResourceBroker, ""), img.Config(controller.ResourceBroker, "")) {
		return true
	}
	for _, t := range img.Topics() {
		if old := cur.Topic(t.Name); old != nil && old.ID != t.ID {
			return true
		}
	}
	return false
}

// reconcileAllLocked walks every partition of img and drops hosted
// partitions img does not assign here.
func (b *Broker) reconcileAllLocked(img *controller.MetadataImage) {
	want := make(map[storage.TopicPartition]bool)
	clear(b.openFailed)
	for _, t := range img.Topics() {
		b.reconcileTopicLocked(img, t, nil, want)
	}
	var gone []storage.TopicPartition
	for _, p := range b.replicas.Partitions() {
		if tp := p.TopicPartition(); !want[tp] {
			gone = append(gone, tp)
		}
	}
	for _, tp := range gone {
		b.dropPartition(tp)
	}
}

// reconcileChangedLocked walks the topics whose image or config differs
// between cur and img, and drops the partitions of deleted topics.
func (b *Broker) reconcileChangedLocked(cur, img *controller.MetadataImage) {
	for _, t := range img.Topics() {
		old := cur.Topic(t.Name)
		if old == t && maps.Equal(cur.Config(controller.ResourceTopic, t.Name), img.Config(controller.ResourceTopic, t.Name)) {
			continue
		}
		if old != nil && !maps.Equal(cur.Config(controller.ResourceTopic, t.Name), img.Config(controller.ResourceTopic, t.Name)) {
			old = nil // every partition's settings may have changed
		}
		b.reconcileTopicLocked(img, t, old, nil)
	}
	for _, old := range cur.Topics() {
		if img.Topic(old.Name) != nil {
			continue
		}
		for i := range old.Partitions {
			if b.partition(old.Name, int32(i)) != nil {
				b.dropPartition(storage.TopicPartition{Topic: old.Name, Partition: int32(i)})
			}
		}
	}
}

// reconcileTopicLocked opens, updates and (when want is nil) drops t's
// partitions on this broker. Partitions whose image is the same pointer in
// old (the topic as last applied, with the same configs; nil: none) are
// skipped. With want non-nil the hosted partitions are recorded there and
// the caller drops the rest. New logs are created in parallel
// (openPartitions) before any partition is applied.
func (b *Broker) reconcileTopicLocked(img *controller.MetadataImage, t, old *controller.TopicImage, want map[storage.TopicPartition]bool) {
	var settings *config.LogSettings // resolved once, when first needed
	var work []hostedPartition
	for i, pi := range t.Partitions {
		if old != nil && i < len(old.Partitions) && old.Partitions[i] == pi {
			continue
		}
		tp := storage.TopicPartition{Topic: t.Name, Partition: int32(i)}
		if !slices.Contains(pi.Replicas, b.nodeID) {
			if want == nil && b.partition(t.Name, int32(i)) != nil {
				b.dropPartition(tp) // moved away by a reassignment
			}
			continue
		}
		if want != nil {
			want[tp] = true
		}
		if settings == nil {
			s := b.topicSettings(img, t.Name)
			settings = &s
		}
		p := b.partition(t.Name, int32(i))
		if p != nil && controller.TopicID(p.TopicID()) != t.ID {
			// Same name, new topic: the old one was deleted and recreated.
			b.dropPartition(tp)
			p = nil
		}
		if p == nil && b.replicas.Offline(tp) {
			continue // on a failed log dir until the broker restarts
		}
		work = append(work, hostedPartition{tp: tp, pi: pi, p: p, open: p == nil})
	}
	if len(work) == 0 {
		return
	}
	b.openPartitions(work, t.ID, *settings)
	for _, w := range work {
		p := w.p
		switch {
		case errors.Is(w.err, storage.ErrLogMoving):
			continue // moveReplica opens it again once moved
		case w.err != nil:
			b.logger.Error("cannot open partition log; the partition stays offline on this broker",
				zap.String("topic", t.Name), zap.Int32("partition", w.tp.Partition), zap.Error(w.err))
			b.openFailed[w.tp] = true
			continue
		case !w.open:
			if cur := p.Settings(); !sameSettings(cur, settings) {
				s := *settings
				p.SetSettings(&s)
				if err := p.Log().SetConfig(storageConfig(s)); err != nil {
					b.logger.Warn("cannot apply topic config", zap.String("topic", t.Name), zap.Error(err))
				}
			}
		}
		b.replicas.Apply(p, leaderAndISR(w.pi))
		b.noteReplicaDir(w.tp, t.ID, w.pi)
	}
}

// hostedPartition is one partition reconcileTopicLocked applies: p is
// hosted already unless open, in which case openPartitions sets p or err.
type hostedPartition struct {
	tp   storage.TopicPartition
	pi   *controller.PartitionImage
	p    *replication.Partition
	open bool
	err  error
}

// openPartitionsParallelism bounds the logs created at once: creating one
// is a directory and a few files, I/O the kernel overlaps well, and one at
// a time made a CreateTopics of thousands of partitions wait for each in
// turn (its answer waits for this broker's image, and so for them).
const openPartitionsParallelism = 8

// openPartitions creates the logs of the work items marked open, up to
// openPartitionsParallelism at once, and returns when all are done.
func (b *Broker) openPartitions(work []hostedPartition, id controller.TopicID, s config.LogSettings) {
	var idx []int
	for i := range work {
		if work[i].open {
			idx = append(idx, i)
		}
	}
	if len(idx) <= 1 {
		for _, i := range idx {
			work[i].p, work[i].err = b.openPartition(work[i].tp, id, s)
		}
		return
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(len(idx), openPartitionsParallelism) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				// Each goroutine writes only its own items.
				work[i].p, work[i].err = b.openPartition(work[i].tp, id, s)
			}
		}()
	}
	for _, i := range idx {
		next <- i
	}
	close(next)
	wg.Wait()
}

// brokerLivenessChanged reports whether a broker registered, left, or
// changed epoch, fencing or controlled-shutdown state between two images.
func brokerLivenessChanged(a, b *controller.MetadataImage) bool {
	ab, bb := a.Brokers(), b.Brokers()
	if len(ab) != len(bb) {
		return true
	}
	for _, x := range ab {
		y := b.Broker(x.ID)
		if y == nil || y.Epoch != x.Epoch || y.Fenced != x.Fenced || y.InControlledShutdown != x.InControlledShutdown {
			return true
		}
	}
	return false
}

// sameSettings compares by value; LogSettings holds slices and pointers
// (CompressionLevel), which DeepEqual follows.
func sameSettings(a, b *config.LogSettings) bool { return reflect.DeepEqual(a, b) }

func (b *Broker) openPartition(tp storage.TopicPartition, id controller.TopicID, s config.LogSettings) (*replication.Partition, error) {
	return b.replicas.Open(tp, id, storageConfig(s), &s)
}

func (b *Broker) dropPartition(tp storage.TopicPartition) {
	if err := b.replicas.Remove(tp); err != nil {
		b.logger.Warn("cannot delete partition log", zap.String("partition", tp.String()), zap.Error(err))
	}
}

// leaderAndISR is a partition's state as replication takes it.
func leaderAndISR(pi *controller.PartitionImage) replication.LeaderAndISR {
	return replication.LeaderAndISR{
		Leader: pi.Leader, LeaderEpoch: pi.LeaderEpoch, PartitionEpoch: pi.PartitionEpoch,
		Replicas: pi.Replicas, ISR: pi.ISR, LeaderRecoveryState: replication.LeaderRecoveryState(pi.LeaderRecoveryState),
	}
}

// LeadershipHook learns when this broker starts or stops leading a
// partition (see replication.LeadershipHook).
type LeadershipHook = replication.LeadershipHook

// OnLeadership adds a hook; call before the broker starts.
func (b *Broker) OnLeadership(h LeadershipHook) { b.replicas.OnLeadership(h) }
