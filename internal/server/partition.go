package server

import (
	"fmt"
	"reflect"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/storage"
)

// Partition is one partition replica hosted by this broker.
type Partition struct {
	topic   string
	topicID controller.TopicID
	index   int32
	log     *storage.Log

	// leaderEpoch is the epoch under which this broker leads the
	// partition; -1 when it does not lead.
	leaderEpoch atomic.Int32
	// settings is the topic's effective log config.
	settings atomic.Pointer[config.LogSettings]
	// replicaCount and isrSize are the sizes of the partition's assignment
	// and ISR in the latest metadata image, for the min-ISR check of
	// acks=all produces (replication.CheckMinISR). Every partition has a
	// single replica today, so both are 1.
	replicaCount atomic.Int32
	isrSize      atomic.Int32
	// waiters are long-polling fetches to wake on append.
	waiters waitSet
}

func (p *Partition) isLeader() bool { return p.leaderEpoch.Load() >= 0 }

// checkLeader validates a request's view of the leader epoch (KIP-320) and
// returns this broker's epoch with the error code, if any: not the leader,
// a client behind (FENCED_LEADER_EPOCH) or ahead (UNKNOWN_LEADER_EPOCH) of
// this broker. A requested epoch of -1 skips the check.
func (p *Partition) checkLeader(requested int32) (int32, int16) {
	epoch := p.leaderEpoch.Load()
	switch {
	case epoch < 0:
		return epoch, errcode.NotLeaderOrFollower
	case requested >= 0 && requested < epoch:
		return epoch, errcode.FencedLeaderEpoch
	case requested > epoch:
		return epoch, errcode.UnknownLeaderEpoch
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
		b.log.Warn("topic config does not resolve cleanly", zap.String("topic", topic), zap.Error(err))
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
// write usually finds the follower goroutine already did it, and walking
// every hosted partition again is not free with thousands of them).
func (b *Broker) reconcile(img *controller.MetadataImage) {
	b.reconcileMu.Lock()
	defer b.reconcileMu.Unlock()
	if cur := b.image.Load(); cur != nil && cur.Offset() >= img.Offset() {
		return
	}
	want := make(map[storage.TopicPartition]bool)
	for _, t := range img.Topics() {
		settings := b.topicSettings(img, t.Name)
		for i, pi := range t.Partitions {
			if !containsID(pi.Replicas, b.nodeID) {
				continue
			}
			tp := storage.TopicPartition{Topic: t.Name, Partition: int32(i)}
			want[tp] = true
			p := b.partition(t.Name, int32(i))
			if p != nil && p.topicID != t.ID {
				// Same name, new topic: the old one was deleted and recreated.
				b.dropPartition(tp)
				p = nil
			}
			if p == nil {
				var err error
				if p, err = b.openPartition(tp, t.ID, settings); err != nil {
					b.log.Error("cannot open partition log; the partition stays offline on this broker",
						zap.String("topic", t.Name), zap.Int("partition", i), zap.Error(err))
					continue
				}
			} else if old := p.settings.Load(); !sameSettings(old, &settings) {
				p.settings.Store(&settings)
				if err := p.log.SetConfig(storageConfig(settings)); err != nil {
					b.log.Warn("cannot apply topic config", zap.String("topic", t.Name), zap.Error(err))
				}
			}
			b.applyLeadership(p, pi)
		}
	}
	b.partMu.RLock()
	var gone []storage.TopicPartition
	for tp := range b.partitions {
		if !want[tp] {
			gone = append(gone, tp)
		}
	}
	b.partMu.RUnlock()
	for _, tp := range gone {
		b.dropPartition(tp)
	}
	b.image.Store(img)
}

// sameSettings compares by value; LogSettings holds slices and pointers
// (CompressionLevel), which DeepEqual follows.
func sameSettings(a, b *config.LogSettings) bool { return reflect.DeepEqual(a, b) }

func (b *Broker) openPartition(tp storage.TopicPartition, id controller.TopicID, s config.LogSettings) (*Partition, error) {
	cfg := storageConfig(s)
	l, err := b.logs.GetOrCreateLog(tp, &cfg)
	if err != nil {
		return nil, err
	}
	p := &Partition{topic: tp.Topic, topicID: id, index: tp.Partition, log: l}
	p.leaderEpoch.Store(-1)
	p.settings.Store(&s)
	b.partMu.Lock()
	b.partitions[tp] = p
	b.partMu.Unlock()
	return p, nil
}

func (b *Broker) dropPartition(tp storage.TopicPartition) {
	b.partMu.Lock()
	p := b.partitions[tp]
	delete(b.partitions, tp)
	b.partMu.Unlock()
	if p == nil {
		return
	}
	if p.leaderEpoch.Swap(-1) >= 0 {
		b.notifyLeadership(p, false)
	}
	p.waiters.wake()
	if err := b.logs.DeleteLog(tp); err != nil {
		b.log.Warn("cannot delete partition log", zap.String("partition", tp.String()), zap.Error(err))
	}
}

// applyLeadership makes p lead when the image names this broker leader. A
// new leader epoch starts at the current log end offset.
func (b *Broker) applyLeadership(p *Partition, pi *controller.PartitionImage) {
	p.replicaCount.Store(int32(len(pi.Replicas)))
	p.isrSize.Store(int32(len(pi.ISR)))
	if pi.Leader != b.nodeID {
		if p.leaderEpoch.Swap(-1) >= 0 {
			b.notifyLeadership(p, false)
		}
		return
	}
	if p.leaderEpoch.Load() == pi.LeaderEpoch {
		return
	}
	if latest := p.log.LeaderEpochCache().LatestEpoch(); latest < pi.LeaderEpoch {
		if err := p.log.AssignEpoch(pi.LeaderEpoch, p.log.LogEndOffset()); err != nil {
			b.log.Warn("cannot record leader epoch", zap.String("topic", p.topic), zap.Int32("partition", p.index), zap.Error(err))
		}
	}
	p.leaderEpoch.Store(pi.LeaderEpoch)
	// Single replica: everything written is committed.
	p.log.SetHighWatermark(p.log.LogEndOffset())
	b.notifyLeadership(p, true)
}

// LeadershipHook learns when this broker starts or stops leading a
// partition. Coordinators use it to load and unload the state kept in
// __consumer_offsets and __transaction_state. Hooks run on the reconcile
// goroutine and must not block: start loading asynchronously.
type LeadershipHook func(topic string, partition int32, leader bool, epoch int32)

// OnLeadership adds a hook; call before the broker starts.
func (b *Broker) OnLeadership(h LeadershipHook) { b.leadershipHooks = append(b.leadershipHooks, h) }

func (b *Broker) notifyLeadership(p *Partition, leader bool) {
	for _, h := range b.leadershipHooks {
		h(p.topic, p.index, leader, p.leaderEpoch.Load())
	}
}

func containsID(ids []int32, id int32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
