// Package group is Spool's group coordinator for the classic consumer group
// protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup), committed offsets
// (OffsetCommit, OffsetFetch, OffsetDelete) and group administration
// (ListGroups, DescribeGroups, DeleteGroups), following Apache Kafka 4.3's
// GroupMetadataManager, ClassicGroup and OffsetMetadataManager, including
// KIP-394 (member id required), KIP-345 (static membership) and KIP-814
// (static leader skips assignment), and KIP-848 consumer groups
// (ConsumerGroupHeartbeat, ConsumerGroupDescribe; consumer.go), following
// Kafka's ConsumerGroup, CurrentAssignmentBuilder and the server-side
// uniform and range assignors (assignor.go).
//
// # Consumer groups (KIP-848)
//
// A group is classic or consumer (group.consumer != nil), never both; the
// committed offsets belong to the group id and survive a change of type.
// An empty classic group becomes a consumer group on the first
// ConsumerGroupHeartbeat (epoch 0), an empty consumer group becomes classic
// on the first JoinGroup; otherwise the wrong protocol gets
// GROUP_ID_NOT_FOUND (heartbeat) or INCONSISTENT_GROUP_PROTOCOL (join):
// classic members inside consumer groups are not supported.
//
// The group epoch is bumped when a member joins, leaves or changes its
// subscription, or when a subscribed topic's partition count changes. A
// heartbeat that finds the group epoch ahead of the target assignment epoch
// runs the group's assignor (the one most members ask for, else the first
// of group.consumer.assignors) for a new target. Each member then moves
// towards its target one step per heartbeat (reconcile): first it revokes
// what it must give up, keeping its epoch; then it takes the epoch of the
// target and gets the partitions no other member still owns, waiting for
// the others (UNRELEASED_PARTITIONS). Each partition a member holds carries
// its assignment epoch, the target epoch at which the member got it
// (KIP-1251): an offset commit at an older member epoch is accepted for the
// partitions the member has held since then, so a commit racing the
// heartbeat that moved the epoch is not failed. Subscriptions are names
// and a regex; a regex is matched against every topic, internal ones
// included, at each heartbeat. Consumer group state changes only by
// replaying the records a request appended, so memory never runs ahead of
// the log. Session timers (group.consumer.session.timeout.ms) and
// revocation timers (the member's rebalance timeout) remove members, like
// the classic timers, under shard.mu.
//
// # Streams groups (KIP-1071)
//
// A group may instead be a streams group (group.streams != nil; streams.go)
// for Kafka Streams' group.protocol=streams. The first member to join
// brings the topology (subtopologies with their source, repartition and
// changelog topics); the coordinator resolves it against the cluster's
// topics (streams_topology.go, Kafka's InternalTopicManager), reports
// missing source or internal topics as heartbeat statuses and hands the
// missing internal topics to Config.CreateStreamsTopics, and assigns tasks
// (subtopology, partition) only once every topic exists with the expected
// partition count. The sticky task assignor (streams_assignor.go) keeps
// active tasks with their owner, balances members within one task and puts
// the group's streams.num.standby.replicas (Config.GroupConfig; else
// group.streams.num.standby.replicas) standbys on other processes. Members
// move to their target as consumer members do: active tasks are revoked
// first, and a task another member still holds is not handed out until it
// is released. The group is persisted as Kafka 4.3.1 writes it (record types
// 17 and 19-23, laid out in streams_records.go): group epoch, topology,
// member metadata, target assignment and each member's current assignment,
// written after every change by comparing the group with what the log
// holds, with tombstones for members that leave and for every record of a
// deleted group. After a coordinator move the group is rebuilt with the
// same members, epochs and assignments and members go on heartbeating.
// Its committed offsets are ordinary offset records.
//
// The package knows nothing of the network. The broker calls the exported
// methods with decoded requests and persists through Log, which it
// implements over the __consumer_offsets partitions it leads. Results are
// Kafka error codes: the coordinator implements protocol semantics, and the
// codes are its answers, not failures of the coordinator.
//
// # Share groups (KIP-932)
//
// A share group (group.share != nil; share.go) is the third type: members
// join with ShareGroupHeartbeat, subscribe by topic name and get their
// partitions from the simple assignor at once (no revocation: partitions
// are shared when members outnumber them, and the partition leaders hand
// records out one acquisition at a time, coordinator/share). The group,
// its members and their assignments are persisted as Kafka 4.3.1's share
// group records (types 10-15, laid out in share_records.go), written after
// every change as for streams groups, so members keep their epochs and
// assignments across a coordinator move. Share groups are listed as type "share", deleted by
// DeleteGroups when empty (Config.ShareGroupDeleted removes their state),
// and refused by the classic and consumer protocols (and vice versa). A
// member leaving or timing out (group.share.session.timeout.ms) calls
// Config.ShareMemberRemoved so its acquired records are released.
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
// with shard.mu held so the log's order is the order state changed, but it
// does not wait for replication: the answer waits for the high watermark
// after shard.mu is released (writes.go), so a slow follower delays the
// answers about the group that wrote, not the shard. A
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
// fields).
//
// KIP-848 records (Kafka's ConsumerGroup*.json). Keys are not flexible;
// values are version 0, flexible: compact strings and arrays (length+1 as
// an unsigned varint, 0 for null) and a tagged-field section (written
// empty and skipped when read, but for record 8's AssignmentEpochs).
//
//	key: int16 type | string group [| string member, types 5, 7, 8]
//	3 ConsumerGroupMetadata           value: int16 0 | int32 epoch | tags
//	4 ConsumerGroupPartitionMetadata  skipped on replay; only tombstoned
//	5 ConsumerGroupMemberMetadata     value: int16 0 | nstring instanceId |
//	        nstring rackId | string clientId | string clientHost |
//	        []string subscribedTopicNames | nstring subscribedTopicRegex |
//	        int32 rebalanceTimeoutMs | nstring serverAssignor | tags
//	6 ConsumerGroupTargetAssignmentMetadata  value: int16 0 | int32 epoch | tags
//	7 ConsumerGroupTargetAssignmentMember    value: int16 0 | []tp | tags
//	8 ConsumerGroupCurrentMemberAssignment   value: int16 0 | int32 memberEpoch |
//	        int32 previousMemberEpoch | int8 state | []tp assigned |
//	        []tp pendingRevocation | tags
//	tp: uuid topicId | []int32 partitions | tags
//	    (in record 8 the tags hold tag 0, nullable []int32 AssignmentEpochs, as
//	    long as partitions; absent: every partition gets the member epoch)
//
// A member is removed with tombstones for 8, 7 then 5; a group with
// tombstones for its members, then 4, 6 and 3. Keys of other versions
// (16 ConsumerGroupRegularExpression, and 18, Kafka 4.0's
// StreamsGroupPartitionMetadata) are skipped on replay.
//
// Transactional offsets (txn_offsets.go): TxnOffsetCommit writes ordinary
// OffsetCommitKey/Value records, but as one transactional batch of the
// transaction's producer id and epoch. They stay pending until that
// producer's COMMIT (applied) or ABORT (dropped) control batch follows in the
// partition; the replay applies the same rule, so pending offsets survive a
// restart. OffsetFetch with require_stable answers UNSTABLE_OFFSET_COMMIT for
// a partition with pending offsets.
package group
