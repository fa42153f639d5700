package replication

import (
	"strconv"
	"strings"
)

// Throttle is a replication quota (quota.ReplicationQuota): Exceeded says
// whether throttled replicas are held back now, Record counts their bytes.
type Throttle interface {
	Exceeded() bool
	Record(bytes int)
}

// Throttled reports whether a topic's leader.replication.throttled.replicas
// or follower.replication.throttled.replicas list names partition on
// broker: entries are "partition:broker", or "*" for every replica
// (Kafka's parseThrottledPartitions). Malformed entries name nothing (the
// config was validated when set).
func Throttled(list []string, partition, broker int32) bool {
	for _, e := range list {
		e = strings.TrimSpace(e)
		if e == "*" {
			return true
		}
		p, b, ok := strings.Cut(e, ":")
		if !ok {
			continue
		}
		pi, err1 := strconv.ParseInt(strings.TrimSpace(p), 10, 32)
		bi, err2 := strconv.ParseInt(strings.TrimSpace(b), 10, 32)
		if err1 == nil && err2 == nil && int32(pi) == partition && int32(bi) == broker {
			return true
		}
	}
	return false
}

// leaderThrottledLocked reports whether a fetch by follower id is subject
// to the leader's replication quota (Kafka's shouldLeaderThrottle without
// the quota check): the partition is listed for this broker in
// leader.replication.throttled.replicas and id is not in the ISR. p.mu
// is held.
func (p *Partition) leaderThrottledLocked(id int32) bool {
	if p.env.leaderThrottle == nil {
		return false
	}
	for _, r := range p.isr.isr {
		if r == id {
			return false
		}
	}
	s := p.settings.Load()
	return s != nil && Throttled(s.LeaderThrottledReplicas, p.tp.Partition, p.env.nodeID)
}

// followerThrottled reports whether this follower's fetches of p are
// subject to the follower replication quota (Kafka's
// shouldFollowerThrottle without the quota check): listed for this broker
// in follower.replication.throttled.replicas and not in the ISR.
func (p *Partition) followerThrottled() bool {
	if p.env.followerThrottle == nil {
		return false
	}
	p.mu.RLock()
	inSync := p.inSyncAsFollower
	p.mu.RUnlock()
	s := p.settings.Load()
	return !inSync && s != nil && Throttled(s.FollowerThrottledReplicas, p.tp.Partition, p.env.nodeID)
}
