package controller

import (
	"context"
	"slices"
	"time"

	"go.uber.org/zap"
)

// maxElectionsPerImbalance bounds one rebalance (Kafka's
// MAX_ELECTIONS_PER_IMBALANCE); the rest wait for the next check.
const maxElectionsPerImbalance = 1000

// balanceLeaders runs while the node lives: every
// LeaderImbalanceCheckInterval, on the active controller, it runs a
// preferred leader election for the partitions whose leader is not their
// first replica while that replica is in the ISR and its broker is active
// (auto.leader.rebalance.enable, as Kafka's KRaft controller's
// maybeBalancePartitionLeaders). Like KRaft, it does not use
// leader.imbalance.per.broker.percentage: any imbalanced partition whose
// preferred replica can lead is moved back.
func (c *Controller) balanceLeaders(ctx context.Context) {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.LeaderImbalanceCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !c.ready.Load() {
			continue
		}
		parts := imbalancedPartitions(c.Image(), maxElectionsPerImbalance)
		if len(parts) == 0 {
			continue
		}
		_, errs, err := c.ElectLeaders(ctx, ElectionPreferred, parts)
		if err != nil {
			c.logger.Debug("leader rebalance not applied", zap.Error(err))
			continue
		}
		moved := 0
		for _, e := range errs {
			if e == nil {
				moved++
			}
		}
		c.logger.Info("moved leaderships back to preferred replicas", zap.Int("partitions", moved), zap.Int("imbalanced", len(parts)))
	}
}

// imbalancedPartitions lists up to limit partitions whose preferred replica
// (the first) does not lead but could: in the ISR, on an active broker.
func imbalancedPartitions(img *MetadataImage, limit int) []TopicPartition {
	var out []TopicPartition
	for _, t := range img.Topics() {
		for i, p := range t.Partitions {
			if len(p.Replicas) == 0 || p.Leader == p.Replicas[0] || reassigning(p) {
				continue
			}
			pref := p.Replicas[0]
			if !isActive(img, pref) || !slices.Contains(p.ISR, pref) {
				continue
			}
			out = append(out, TopicPartition{Topic: t.Name, Partition: int32(i)})
			if len(out) == limit {
				return out
			}
		}
	}
	return out
}
