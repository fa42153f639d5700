// Package group is Spool's group coordinator for the classic consumer group
// protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup), committed offsets
// (OffsetCommit, OffsetFetch, OffsetDelete) and group administration
// (ListGroups, DescribeGroups, DeleteGroups), following Apache Kafka 4.3's
// GroupMetadataManager, ClassicGroup and OffsetMetadataManager, including
// KIP-394 (member id required), KIP-345 (static membership) and KIP-814
// (static leader skips assignment).
//
// The package knows nothing of the network. The broker calls the exported
// methods with decoded requests and persists through Log, which it
// implements over the __consumer_offsets partitions it leads. Results are
// Kafka error codes: the coordinator implements protocol semantics, and the
// codes are its answers, not failures of the coordinator.
//
// # Placement and loading
//
// Group g lives in partition PartitionFor(g, offsets.topic.num.partitions)
// (Java's String.hashCode, sign bit cleared). When the broker becomes a
// partition's leader it calls Load, which replays the partition in the
// background; requests for its groups meanwhile get
// COORDINATOR_LOAD_IN_PROGRESS. Unload (leadership lost) answers parked
// requests and later ones with NOT_COORDINATOR.
//
// # Concurrency
//
// Each partition is a shard whose state (groups, members, offsets) is
// guarded by shard.mu. Handlers, session/rebalance timers (time.AfterFunc)
// and the expiration loop take shard.mu; timers carry a sequence number so a
// superseded timer does nothing. Coordinator.mu guards the shard map and is
// taken before shard.mu, never while calling the Log. Log.Append is called
// with shard.mu held so the log's order is the order state changed. A
// parked JoinGroup or SyncGroup waits on a one-slot channel outside the
// lock; completing it never blocks. All methods are safe for concurrent
// use. Close stops the expiration goroutine and the loaders.
//
// # On-disk format (__consumer_offsets, Kafka's own schemas)
//
// Every record key and value starts with an int16 version. Strings are
// int16 length + UTF-8, bytes are int32 length + data, nullable strings use
// length -1 for null; all big-endian. A nil value is a tombstone.
//
//	OffsetCommitKey (version 1; 0 is read too)
//	+---------+--------------+--------------+---------------+
//	| int16 1 | string group | string topic | int32 partition |
//	+---------+--------------+--------------+---------------+
//
//	OffsetCommitValue version 3 (version 1 when the commit set a retention)
//	+---------+--------------+-------------------+-----------------+-----------------------+
//	| int16 3 | int64 offset | int32 leaderEpoch | string metadata | int64 commitTimestamp |
//	+---------+--------------+-------------------+-----------------+-----------------------+
//	v1: int16 1 | int64 offset | string metadata | int64 commitTimestamp | int64 expireTimestamp
//
//	GroupMetadataKey (version 2)
//	+---------+--------------+
//	| int16 2 | string group |
//	+---------+--------------+
//
//	GroupMetadataValue version 3
//	+---------+---------------------+------------------+---------------------------+
//	| int16 3 | string protocolType | int32 generation | nullable string protocol  |
//	+---------+---------------------+------------------+---------------------------+
//	| nullable string leader | int64 currentStateTimestamp | int32 n | n × member    |
//	+------------------------+-----------------------------+---------+--------------+
//	member: string memberId | nullable string groupInstanceId | string clientId |
//	        string clientHost | int32 rebalanceTimeout | int32 sessionTimeout |
//	        bytes subscription | bytes assignment
//
// Values of versions 0-4 are read (4 is flexible: compact lengths and tagged
// fields). Keys of other versions (KIP-848 and share-group records) are
// skipped on replay.
package group
