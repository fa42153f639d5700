// Package share is Spool's share-group (KIP-932, "queues for Kafka")
// delivery state: the share partitions a partition leader keeps for each
// share group consuming from it (Kafka's SharePartition and
// SharePartitionManager) and the share coordinator that persists their
// state in __share_group_state (Kafka's ShareCoordinator).
//
// # Share partitions
//
// A share partition tracks, for one group and one topic partition, the
// records between the share-partition start offset (SPSO) and the end
// offset: each is AVAILABLE, ACQUIRED by one member until its acquisition
// lock (group.share.record.lock.duration.ms) expires, ACKNOWLEDGED or
// ARCHIVED. Every delivery counts; a record released or timed out after
// group.share.delivery.count.limit deliveries is archived. The start
// offset moves past the acknowledged and archived records at its front.
// Locks expire lazily, at the next call, against the configured clock.
//
// # Persistence
//
// The durable state (start offset, state epoch, the non-default record
// states) is written through a Persister after every acknowledgement;
// acquisitions are not persisted, so after a restart a record that was
// acquired is available again with the delivery count last written.
//
// The share coordinator (Store) writes it to __share_group_state as Kafka
// does: a ShareSnapshot (the whole state) on a share partition's first
// write, and then ShareUpdate records carrying only the changed state
// batches, a snapshot again after UpdatesPerSnapshot updates. Loading
// replays the log from its start, combining each update into the snapshot
// before it. The topic is not compacted (updates share the snapshot's key):
// Prune deletes the records before the lowest offset among the share
// partitions' latest snapshots, and SnapshotCold rewrites the snapshots of
// idle share partitions so that offset keeps moving. Record layouts are in
// records.go.
package share
