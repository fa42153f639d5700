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
//   - The Controller API the broker's request handlers call: CreateTopics,
//     DeleteTopics, CreatePartitions, AlterConfigs/ReplaceConfigs,
//     RegisterBroker, SetBrokerFenced, UnregisterBroker,
//     AllocateProducerIDs, ChangePartition. Each is validated on the leader
//     against the current image and written as ONE raft entry, so a
//     multi-topic create is atomic. Errors are sentinels (errors.go) wrapped
//     with Kafka's message; the handler maps them to error codes.
//   - On-disk state under Config.Dir:
//     raft-log/<first index, 20 digits>.seg  raft log segments (LogStore)
//     raft-log/first-index                   start of the log after compaction
//     raft-stable                            term and vote (StableStore)
//     snapshots/                             raft.FileSnapshotStore
//
// # Quorum
//
// Config.Voters is controller.quorum.voters (ParseVoters reads
// "1@host:port,2@host:port"). On first start with no raft state the node
// bootstraps the raft configuration from the full voter list; every voter
// does so with the same list, which raft accepts. A sole voter uses a 50 ms
// heartbeat timeout (it elects itself after one, so Open returns in
// 0.1-0.4 s including fsyncs) and a 200 ms election timeout; larger quorums
// default to 500 ms for both. The leader lease equals the heartbeat timeout. After winning an
// election a leader issues a raft barrier, so its image holds everything
// earlier leaders committed, and only then accepts writes (IsActive). The
// first leader of a new cluster writes BootstrapFeatures (metadata.version,
// transaction.version, group.version).
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
// returns after the local FSM applied the entry. LogStore and StableStore
// each guard their state with their own mutex; no lock is held while calling
// into another of this package's locks except raft's own calls.
package controller
