// Package replication owns the replication state of a partition: its leader
// epoch, its in-sync replica set (ISR) and its high watermark, and the rules
// that decide, from that state, whether a write may be appended and when it
// is committed.
//
// Today it holds only the min-ISR rule of the Produce path (minisr.go), as
// pure functions of the partition's replica count, ISR size and
// min.insync.replicas: every partition Spool hosts has a single replica, so
// ISR = replicas = {leader}. The per-partition state (one lock over leader
// epoch, ISR, replicas and follower progress, Kafka's leaderIsrUpdateLock),
// follower fetching and high-watermark advancement move here with
// multi-node clusters; the rules stay pure functions with table tests.
//
// Nothing in this package starts goroutines or holds locks; every function
// is safe for concurrent use.
package replication
