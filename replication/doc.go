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
//	Partition    one replica: AppendAsLeader, Read, CheckLeader, ISR changes;
//	             as a follower (follower.go) AppendAsFollower, TruncateAsFollower
//	fetcher.go   the replica fetchers (Kafka's ReplicaFetcherManager and
//	             ReplicaFetcherThread): num.replica.fetchers goroutines per leader
//	TCPEndpoints the LeaderEndpoint of real brokers: Kafka's Fetch (v18, replica
//	             state), OffsetForLeaderEpoch and ListOffsets over the wire
//	ChangeFeed   an incremental fetch session's standing subscription to its
//	             partitions (feed.go): appends, high watermark, log start,
//	             leadership and ISR changes mark them, so a fetch reads only those
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
// # The follower side
//
// Manager.Apply hands a partition whose leader or leader epoch changed to
// the fetcher of its new leader (fetcherIndex spreads partitions over
// num.replica.fetchers goroutines per leader; a fetcher left without
// partitions stops). A partition starts in the truncating state: the
// fetcher asks the leader, with OffsetForLeaderEpoch, where the follower's
// latest leader epoch ends there, and truncates to min(that end, its own
// end of that epoch) — again when the leader names an epoch the follower
// never had (KIP-279); a log without any epoch has nothing to truncate. It
// is never truncated to its high watermark alone. Then it fetches from its
// log end with LastFetchedEpoch: a diverging epoch in the answer truncates
// again (KIP-320); OFFSET_OUT_OF_RANGE compares log ends and starts with
// the leader's (ListOffsets): a leader whose log ends earlier (an unclean
// leader change) truncates the follower to its end, one whose log starts
// after the follower's end restarts the follower's log there.
//
// A follower appends the leader's batches as they are (offsets and leader
// epochs kept; storage.Log.AppendAsFollower feeds the producer state and
// the aborted-transaction index, so idempotence and read_committed survive
// a failover), never a batch of an epoch newer than the one it follows,
// sets its high watermark to min(leader's, own log end) — the leader's as
// of the read, so a follower learns a new high watermark one fetch later,
// as in Kafka — and moves its log start up to the leader's. Every follower
// append and truncation names the leader epoch it was fetched under and is
// refused (ErrNotFollower) unless the partition still follows under it,
// checked under the partition lock: a fetcher that has not yet heard of a
// leadership change cannot write into a log that moved on. Errors back a
// partition off for replica.fetch.backoff.ms, except a leader that has not
// applied the leadership change yet (UNKNOWN_LEADER_EPOCH,
// NOT_LEADER_OR_FOLLOWER): 50 ms, since acks=all producers wait for this
// follower; FENCED_LEADER_EPOCH parks it until new metadata restarts it.
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
//   - Leader recovery (KIP-704): an unclean election marks the partition
//     RECOVERING in the metadata; the new leader marks itself RECOVERED
//     once it leads (its log needs nothing more), expands the ISR only
//     when RECOVERED, and every AlterPartition carries the state, so the
//     controller records RECOVERED with the first expansion.
//   - Fetch from follower (KIP-392, selector.go): any replica serves a
//     consumer's read up to its own high watermark (ReadOptions.AnyReplica);
//     a follower's high watermark move wakes its parked consumer fetches.
//     The leader names a preferred read replica (ReplicaSelector) among the
//     in-sync followers whose log covers the fetch offset.
//
// # Concurrency
//
// Partition.mu (Kafka's leaderIsrUpdateLock) is written by leadership and
// ISR changes and read-held by appends, reads and follower updates; under it
// come the storage.Log locks (appends) and then Partition.hwMu (follower
// progress, high watermark moves, acks=all waiters), never while appending;
// the wait sets' locks are leaves. See docs/lock-order.md. Manager.Apply and
// Remove are called by the one goroutine following metadata; everything
// else is safe for concurrent use. AlterPartition requests, the ISR check
// and the replica fetchers run on goroutines the Manager owns; Close stops
// and waits for them. A fetcher's partition states belong to its goroutine;
// fetcherManager.mu and then a fetcher's mu guard only which partitions it
// has, and no fetcher lock is held across a request or a partition call.
//
// # On disk
//
// The high watermark lives in each storage.Log and is kept across restarts
// by storage.Manager in each log dir's replication-offset-checkpoint
// (layout in package storage's doc): rewritten every
// replica.high.watermark.checkpoint.interval.ms when it changed and at
// clean shutdown; a log opens with min(checkpoint, log end offset).
package replication
