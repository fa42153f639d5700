package server

import (
	"errors"
	"fmt"
	"reflect"
	"slices"

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
// write usually finds the follower goroutine already did it, and walking
// every hosted partition again is not free with thousands of them).
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
	want := make(map[storage.TopicPartition]bool)
	for _, t := range img.Topics() {
		settings := b.topicSettings(img, t.Name)
		for i, pi := range t.Partitions {
			if !slices.Contains(pi.Replicas, b.nodeID) {
				continue
			}
			tp := storage.TopicPartition{Topic: t.Name, Partition: int32(i)}
			want[tp] = true
			p := b.partition(t.Name, int32(i))
			if p != nil && controller.TopicID(p.TopicID()) != t.ID {
				// Same name, new topic: the old one was deleted and recreated.
				b.dropPartition(tp)
				p = nil
			}
			if p == nil && b.replicas.Offline(tp) {
				continue // on a failed log dir until the broker restarts
			}
			if p == nil {
				var err error
				if p, err = b.openPartition(tp, t.ID, settings); errors.Is(err, storage.ErrLogMoving) {
					continue // alterReplicaLogDirs opens it again once moved
				} else if err != nil {
					b.logger.Error("cannot open partition log; the partition stays offline on this broker",
						zap.String("topic", t.Name), zap.Int("partition", i), zap.Error(err))
					continue
				}
			} else if old := p.Settings(); !sameSettings(old, &settings) {
				p.SetSettings(&settings)
				if err := p.Log().SetConfig(storageConfig(settings)); err != nil {
					b.logger.Warn("cannot apply topic config", zap.String("topic", t.Name), zap.Error(err))
				}
			}
			b.replicas.Apply(p, leaderAndISR(pi))
			b.noteReplicaDir(tp, t.ID, pi)
		}
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
		Replicas: pi.Replicas, ISR: pi.ISR,
	}
}

// LeadershipHook learns when this broker starts or stops leading a
// partition (see replication.LeadershipHook).
type LeadershipHook = replication.LeadershipHook

// OnLeadership adds a hook; call before the broker starts.
func (b *Broker) OnLeadership(h LeadershipHook) { b.replicas.OnLeadership(h) }
