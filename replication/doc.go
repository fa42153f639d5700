// Package replication owns the partition replicas a broker hosts, as
// Kafka's ReplicaManager and Partition do: who leads each partition under
// which leader and partition epochs, its replica set and ISR, the leader's
// view of every follower's progress, the high watermark, and the appends
// and fetches waiting on them (Kafka's purgatories).
//
// # Shape
//
//	Manager      hosted partitions (Open, Apply from metadata, Remove), leadership
//	             hooks, the periodic ISR shrink, the leader side of replication
//	             (it is a LeaderEndpoint: Fetch, OffsetForLeaderEpoch, ListOffsets)
//	Partition    one replica: AppendAsLeader, Read, CheckLeader, ISR changes
//	rules.go     the ISR and high watermark rules as pure functions
//	minisr.go    EffectiveMinISR (min.insync.replicas capped by the replica count)
//	             and CheckMinISR (NOT_ENOUGH_REPLICAS for acks=all below it)
//	LeaderEndpoint, InmemNetwork        what a follower fetches from; an in-process
//	                                    network with per-link drop/delay/partition
//	AlterPartitionSender, InmemController   ISR changes to the controller; a fake
//	Clock, ManualClock                  ISR lag is measured with an injectable clock
//
// # One write path, one read path
//
// Everything that writes to a partition this broker leads calls
// Partition.AppendAsLeader: Produce, the group coordinator
// (__consumer_offsets) and the transaction coordinator (__transaction_state
// and transaction markers). Under the partition lock it checks leadership,
// reads the leader epoch, checks min.insync.replicas for acks=all, appends,
// moves the high watermark and wakes waiters, so leadership or the ISR
// cannot change between the check and the write. AppendResult.Wait then
// blocks an acks=all append until the high watermark covers it (at once
// with ISR {self}); a caller holding its own lock should release it first.
//
// Every Fetch reads through Partition.Read: a consumer's read is bounded by
// the high watermark (the last stable offset for read_committed); a
// follower's (ReadOptions.ReplicaID >= 0) by the log end, and the read
// records the follower's progress, may move the high watermark and may
// propose adding the follower to the ISR.
//
// # Rules (Kafka 4.3's Partition; rules.go)
//
//   - High watermark: the smallest log end offset among the leader, the
//     maximal ISR (committed ISR plus a member whose addition is in
//     flight) and followers outside it that are caught up and ISR-eligible;
//     it only moves up, and not at all while the ISR is below the effective
//     min ISR (KIP-966). With ISR {self} it is the log end offset.
//   - Effective min ISR: min(min.insync.replicas, number of replicas).
//     acks=all appends are refused (NOT_ENOUGH_REPLICAS) below it, before
//     anything is written.
//   - Shrink: an ISR member not caught up (fetched up to the leader's log
//     end) within replica.lag.time.max.ms is proposed for removal; it keeps
//     counting for the high watermark until the controller commits.
//   - Expand: a follower whose log reaches the high watermark and the
//     current leader epoch's start offset, and that is eligible (registered,
//     not fenced, not shutting down, current broker epoch), is proposed for
//     addition and counts at once.
//   - ISR changes go to the controller through AlterPartitionSender with
//     the leader and partition epochs they were computed from; a stale
//     answer, or one overtaken by newer metadata, is ignored.
//
// # Concurrency
//
// Partition.mu (Kafka's leaderIsrUpdateLock) is written by leadership and
// ISR changes and read-held by appends, reads and follower updates; under it
// come the storage.Log locks (appends) and then Partition.hwMu (follower
// progress, high watermark moves, acks=all waiters), never while appending;
// the wait sets' locks are leaves. See docs/lock-order.md. Manager.Apply and
// Remove are called by the one goroutine following metadata; everything
// else is safe for concurrent use. AlterPartition requests and the ISR
// check run on goroutines the Manager owns; Close stops and waits for them.
//
// # On disk
//
// The high watermark lives in each storage.Log and is kept across restarts
// by storage.Manager in each log dir's replication-offset-checkpoint
// (layout in package storage's doc): rewritten every
// replica.high.watermark.checkpoint.interval.ms when it changed and at
// clean shutdown; a log opens with min(checkpoint, log end offset).
package replication
