// Package controller is Spool's metadata quorum: a KRaft-style replicated
// log of metadata records on hashicorp/raft, the FSM that folds them into an
// immutable MetadataImage, and the raft log, stable and snapshot stores.
//
// # What it owns
//
//   - Metadata records (records.go), modeled field for field on Kafka's
//     metadata records, with Kafka's apiKeys as type codes.
//   - The MetadataImage: cluster ID, brokers, topics by name and ID with
//     their partitions, topic/broker/cluster-default dynamic configs,
//     finalized features, the next producer ID and client quotas
//     (quotas.go: ClientQuotaRecord, AlterClientQuotas, DescribeClientQuotas;
//     CreateTopics, CreatePartitions and DeleteTopics charge the
//     PartitionChangeQuota their context carries).
//   - The Controller API (the Client interface, client.go): CreateTopics,
//     DeleteTopics, CreatePartitions, AlterConfigs/ReplaceConfigs,
//     ElectLeaders, AlterPartitionReassignments, AllocateProducerIDs,
//     RegisterBroker, BrokerHeartbeat, UnregisterBroker, AlterPartition
//     (plus SetBrokerFenced and ChangePartition for tests and tools). Each
//     is validated on the active controller against the current image and
//     written as ONE raft entry, so a multi-topic create is atomic. Errors
//     are sentinels (errors.go) wrapped with Kafka's message; ErrorCode and
//     CodeError map them to Kafka codes and back.
//   - The controller RPCs (rpc.go, quorumrpc.go): Kafka's own requests,
//     served by HandleRPC on the CONTROLLER listener (internal/node owns the
//     socket) and sent by the Router (forward.go) and the Observer.
//   - Leader election policy (election.go) and broker liveness
//     (lifecycle.go).
//   - On-disk state under Config.Dir:
//     raft-log/<first index, 20 digits>.seg  raft log segments (LogStore)
//     raft-log/first-index                   start of the log after compaction
//     raft-stable                            term and vote (StableStore)
//     snapshots/                             raft.FileSnapshotStore
//
// # Quorum
//
// Config.Voters is controller.quorum.voters (ParseVoters reads
// "1@host:port,2@host:port"). Raft's traffic goes through Config.Stream,
// which internal/node multiplexes with the Kafka controller RPCs on the
// CONTROLLER listener. On first start with no raft state the node
// bootstraps the raft configuration from the full voter list; every voter
// does so with the same list, which raft accepts. A sole voter uses a 50 ms
// heartbeat timeout (it elects itself after one, so Open returns in
// 0.1-0.4 s including fsyncs) and a 200 ms election timeout; larger quorums
// default to 500 ms for both. The leader lease equals the heartbeat timeout. After winning an
// election a leader issues a raft barrier, so its image holds everything
// earlier leaders committed, and only then accepts writes (IsActive). The
// first leader of a new cluster writes BootstrapFeatures (metadata.version,
// transaction.version, group.version, and kraft.version 1 for a dynamic
// quorum).
//
// The voter set can change at runtime (KIP-853, voters.go): AddRaftVoter,
// RemoveRaftVoter and UpdateRaftVoter map onto raft's AddNonvoter/AddVoter,
// DemoteVoter/RemoveServer. A controller outside the voter set (Config.Voters
// without NodeID: it starts with no raft configuration) runs an Observer
// that applies the fetched log to the controller's own fsm until raft
// replicates to it; the fsm skips entries its image already holds, so the
// two writers (serialized by fsm.applyMu) agree.
//
// # Roles, and how metadata reaches every node
//
// A node is a quorum member (Controller: process.roles has controller) or
// an observer (Observer: process.roles=broker). Kafka makes broker-only
// nodes raft observers that fetch the metadata log from the quorum leader;
// Spool does the same with Kafka's RPCs rather than making them hashicorp
// raft non-voters, so brokers never take part in raft's own protocol and a
// broker can follow the quorum given only controller.quorum.bootstrap.servers:
//
//	observer ──Fetch(__cluster_metadata, offset)──► any voter
//	         ◄── NOT_LEADER_OR_FOLLOWER + leader id and endpoint (not leader)
//	         ◄── committed entries as record batches, HW   (leader)
//	         ◄── SnapshotID when offset < first retained entry
//	observer ──FetchSnapshot(id, position)──► leader ◄── snapshot bytes
//
// The observer applies the same batches with the same fsm code as the
// voters, so images agree offset for offset. It keeps nothing on disk: a
// restarted broker-only node loads the snapshot and the log from the
// leader again (metadata is small; Kafka keeps a local copy instead). The
// serving layout is in quorumrpc.go.
//
// Every metadata write goes to the active controller. A broker's Client is
// a Router: when this node's own Controller is active it is called
// directly; otherwise the Router sends the Kafka RPC (CreateTopics,
// BrokerHeartbeat, ...) to the raft leader's CONTROLLER listener (the
// leader's address from raft on a voter, from Fetch responses on an
// observer) and retries NOT_CONTROLLER with bounded back-off. The
// translations between calls and RPCs are shared by both ends, so a
// forwarded call fails with the same sentinel and message as a local one.
//
// # Broker liveness
//
// See lifecycle.go for the state machine. Brokers register fenced; the
// broker epoch is the raft index of the registration record (the fsm fills
// it in for a record written with BrokerEpoch -1), so "caught up" is
// "applied offset >= epoch". Sessions live in the active controller's
// memory only; a newly active controller gives every unfenced broker a
// fresh session. Fencing, unfencing, unregistering and controlled shutdown
// change leaderships with Kafka's rules (election.go). With ELR disabled the
// broker leaves every ISR it is in unless it is the last member, and a
// partition whose ISR has no live member is left leaderless with its ISR
// unchanged, unless unclean.leader.election.enable lets a live replica
// outside the ISR lead; with ELR (the default) see election.go. A new
// incarnation whose PreviousBrokerEpoch is not its registered epoch (no
// clean shutdown files) also leaves every ELR (uncleanShutdownChanges).
//
// # Batch encoding (one raft entry)
//
//	batch  := magic:u8=0xCB  version:u8=0  count:uvarint  record*count
//	record := type:u8  version:u8  size:uvarint  body[size]
//	body   := the record's fields in declaration order:
//	          intN    zig-zag varint          bool  one byte 0/1
//	          string  uvarint(len+1) bytes    nullable: 0 = null
//	          []int32 uvarint(len+1) varint*  nullable: 0 = null
//	          uuid    16 raw bytes            structs: count + fields
//
// The size prefix lets a decoder bound each body; a record whose version is
// newer than this build knows is rejected rather than misread. A batch whose
// records do not all apply (say, a partition of an unknown topic) changes
// nothing: every voter reaches the same verdict.
//
// # Snapshot layout (raft FSMSnapshot)
//
//	"SPMI" version:u8=0 len:u32be body[len] crc32c(body):u32be
//	body := clusterID:string  offset:uvarint  batch
//
// where batch holds the records that rebuild the image from empty
// (features, brokers, topics + partitions, configs, producer IDs).
//
// # Raft log segment layout (LogStore)
//
//	frame := len:u32be  crc32c(body):u32be  body[len]
//	body  := index:u64be term:u64be type:u8 appendedAt:i64be(unix ns)
//	         data:bytes extensions:bytes        (bytes as in records)
//
// Frames are appended to the newest segment; a segment rolls at 16 MiB and
// is named after its first index. StoreLogs fsyncs before returning. On open,
// a short, oversized or checksum-failing frame at the end of the newest
// segment is a torn write and is truncated away; the same in an older
// segment is ErrCorruptLog. DeleteRange drops a suffix by truncation and a
// prefix by removing the segments it empties plus writing the new first
// index to raft-log/first-index (8 bytes, big-endian, replaced atomically).
//
// The stable store is one file rewritten atomically:
//
//	"SPST" count:uvarint(n+1) (key:string value:bytes)*n crc32c:u32be
//
// # Concurrency
//
// raft's FSM goroutine is the only writer of the image; it builds each new
// image copy-on-write (maps touched by the batch are cloned, the rest are
// shared) and publishes it with an atomic pointer store. Image() never
// blocks; images and everything reachable from them are read-only.
// Subscribe channels hold only the newest image (older unread ones are
// replaced), so the FSM never waits on a subscriber.
//
// Controller methods are safe for concurrent use. Mutating calls are
// serialized by Controller.opMu (validate, raft Apply, wait for local apply)
// so each validates against the result of the previous one; raft Apply
// returns after the local FSM applied the entry. opMu also guards the
// broker sessions; the stale-broker check takes it like any write. beginOp
// waits for a new leader's barrier before taking opMu, never while holding
// it. An Observer's fetch goroutine is the only writer of its fsm; Router
// and Observer connections come from a kafkarpc.Client pool (one request per
// connection at a time) guarded by its own mutex. LogStore and StableStore
// each guard their state with their own mutex; no lock is held while calling
// into another of this package's locks except raft's own calls.
package controller
