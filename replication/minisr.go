package replication

// EffectiveMinISR is the min.insync.replicas a partition enforces: the
// configured value capped by the number of assigned replicas, as Kafka 4.3's
// Partition.effectiveMinIsr does (min(minInSyncReplicas, remote replicas +
// 1)). So a topic with replication factor 1 and min.insync.replicas=2
// accepts acks=all writes instead of refusing every one. A value below 1
// counts as 1: the leader itself is always needed.
func EffectiveMinISR(minInsyncReplicas int32, replicas int) int {
	m := max(int(minInsyncReplicas), 1)
	if replicas >= 1 {
		m = min(m, replicas)
	}
	return m
}

// UnderMinISR reports whether an ISR of isrSize is below the effective
// minimum: acks=all appends are refused (NOT_ENOUGH_REPLICAS) and the high
// watermark does not advance (Kafka's Partition.isUnderMinIsr, KIP-966).
func UnderMinISR(isrSize int, minInsyncReplicas int32, replicas int) bool {
	return isrSize < EffectiveMinISR(minInsyncReplicas, replicas)
}
