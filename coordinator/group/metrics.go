package group

// CommittedOffset is one committed offset of a group this coordinator
// serves, for metrics (kafka-exporter's kafka_consumergroup_* series).
type CommittedOffset struct {
	Group           string
	Topic           string
	Partition       int32
	Offset          int64
	CommitTimestamp int64 // ms
}

// GroupSummary is a served group's size, for metrics.
type GroupSummary struct {
	Group   string
	Members int
}

// Snapshot copies the committed offsets and member counts of every group
// of the loaded partitions, taking each shard's lock once. The copy costs
// one slice element per committed offset; it is meant for scrapes, not
// request paths.
func (c *Coordinator) Snapshot() ([]GroupSummary, []CommittedOffset) {
	c.mu.Lock()
	shards := make([]*shard, 0, len(c.shards))
	for _, s := range c.shards {
		shards = append(shards, s)
	}
	c.mu.Unlock()
	var groups []GroupSummary
	var offsets []CommittedOffset
	for _, s := range shards {
		s.mu.Lock()
		if s.availableLocked() == 0 {
			for id, g := range s.groups {
				n := len(g.members)
				if g.consumer != nil {
					n = len(g.consumer.members)
				}
				groups = append(groups, GroupSummary{Group: id, Members: n})
				for tp, v := range g.offsets {
					offsets = append(offsets, CommittedOffset{Group: id, Topic: tp.topic, Partition: tp.partition,
						Offset: v.Offset, CommitTimestamp: v.CommitTimestamp})
				}
			}
		}
		s.mu.Unlock()
	}
	return groups, offsets
}
