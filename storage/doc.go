// Package storage is the partition log, built the way Kafka's storage module
// is: a Log per partition made of Segments (a .log file of record batches
// plus a sparse offset index and a time index), a leader epoch cache, and a
// Manager that owns every log of the broker across its log dirs together
// with retention, flushing, checkpoints, recovery and topic deletion.
//
// Storage never decodes records: it reads and rewrites only the 61-byte v2
// batch header (protocol/records). Batches are written exactly as received,
// after the leader rewrites BaseOffset and PartitionLeaderEpoch in place
// (both outside the CRC).
//
// # Directory layout
//
//	<log.dir>/
//	  .kafka_cleanshutdown                 {"version":0,"brokerEpoch":<epoch>}; written by Manager.Close (clean_shutdown.go)
//	  recovery-point-offset-checkpoint     offset checkpoint (below)
//	  log-start-offset-checkpoint          offset checkpoint (below)
//	  replication-offset-checkpoint        offset checkpoint: high watermarks
//	  cleaner-offset-checkpoint            offset checkpoint: first dirty offset of compacted logs
//	  <topic>-<partition>/
//	    00000000000000000000.log           batches
//	    00000000000000000000.index         offset index
//	    00000000000000000000.timeindex     time index
//	    00000000000000004211.log ...       next segment, named by base offset
//	    leader-epoch-checkpoint
//	    *.deleted                          segments awaiting file.delete.delay.ms
//	    *.cleaned, *.swap                  log cleaner output being written / swapped in
//	  <topic>-<partition>.<32 hex>-delete/ deleted log awaiting removal
//
// Segment files are named by their base offset, zero-padded to 20 digits.
//
// # .log
//
// Record batches back to back, byte for byte as appended (v2 layout in
// protocol/records/header.go). Offsets strictly increase; a segment holds
// offsets [base, base+2^31) so relative offsets fit in 32 bits.
//
//	+----------------+-------------+-----------------------------+
//	| BaseOffset i64 | Length i32  | rest of batch (Length bytes)|  repeated
//	+----------------+-------------+-----------------------------+
//
// # .index (offset index), big-endian, 8-byte entries
//
//	+-----------------------+-----------------------+
//	| relative offset u32   | file position u32     |  repeated
//	+-----------------------+-----------------------+
//
// relative offset = (last offset of a batch) - base offset; position is where
// that batch starts in the .log. One entry is added once more than
// IndexIntervalBytes were appended since the previous one, so lookups land at
// most ~IndexIntervalBytes before the target. Entries strictly increase in
// both columns.
//
// # .timeindex (time index), big-endian, 12-byte entries
//
//	+-----------------------+-----------------------+
//	| timestamp i64 (ms)    | relative offset u32   |  repeated
//	+-----------------------+-----------------------+
//
// Written alongside offset index entries, only when the segment's max
// timestamp grew: (max timestamp so far, last offset of the first batch that
// reached it). Timestamps strictly increase. On roll and close a final entry
// records the segment's max timestamp.
//
// Index files of the active segment are preallocated to IndexMaxBytes
// (rounded down to whole entries) and memory-mapped (see mmapIndex for why
// mmap over pwrite); only the leading entries are live. They are trimmed to
// the live entries on roll and close, so after a clean shutdown an index's
// length is its entry count. A missing index, or one failing the sanity check
// (last entries increasing, last position inside the .log), is rebuilt from
// the .log.
//
// # Checkpoint files (Kafka's text format, written to <name>.tmp, fsynced,
// renamed over <name>, directory fsynced)
//
//	recovery-point-offset-checkpoint, log-start-offset-checkpoint,
//	replication-offset-checkpoint:
//	  0                          version
//	  2                          number of entries
//	  orders 0 1200              topic partition offset
//	  orders 1 977
//
//	leader-epoch-checkpoint (per partition):
//	  0                          version
//	  2                          number of entries
//	  3 0                        leader epoch, its start offset
//	  5 640
//
// replication-offset-checkpoint keeps each partition's high watermark across
// restarts: the Manager rewrites it every HighWatermarkCheckpointInterval
// (replica.high.watermark.checkpoint.interval.ms, when a value changed) and
// at Close, and a log opens with min(checkpoint, log end offset). Package
// replication decides the value; storage only keeps it.
//
// The leader epoch cache lives in memory; leader-epoch-checkpoint is written
// only when the log is flushed (before the recovery point moves) and after a
// recovery changed it, never on leader election or partition creation. So
// it is exact below the recovery point and may be stale (or, for a log never
// flushed, missing) above it, where recovery rebuilds it from the batches.
// A new partition's directory gets just its first segment's three files.
//
// # Recovery
//
// A log dir with .kafka_cleanshutdown trusts its indexes: each segment's
// indexes get the sanity check and only the batches after the last offset
// index entry are read. Without it, every segment from the one holding the
// recovery point onward is rescanned: header sanity, increasing offsets and
// CRC of each batch, indexes rebuilt; the first invalid byte truncates the
// segment and later segments are deleted (logged with bytes and offsets).
// The leader epoch entries starting in the rescanned segments are dropped
// and reassigned from the batches' PartitionLeaderEpoch (a batch whose epoch
// is above the latest starts an entry, as in Kafka's LogSegment.recover); a
// missing or unreadable leader-epoch-checkpoint of a non-empty log makes
// every segment's batch headers be scanned for it, clean shutdown or not.
// The marker is removed once the dir is loaded and written again by a clean
// Manager.Close.
//
// # Concurrency and lock order
//
// A Log serializes its writers (Append, AppendAsFollower, roll, TruncateTo,
// DeleteRecordsBefore, DeleteOldSegments, Close) with Log.mu. Readers (Read,
// LogEndOffset, HighWatermark, ...) take only Log.stateMu.RLock to snapshot
// the copy-on-write segment list and offsets, then pread without locks. The
// writer writes a batch's bytes before publishing the new log end offset
// under stateMu, so readers only ever see whole batches. Deleted segments are
// renamed *.deleted and closed after FileDeleteDelayMs, so reads in flight
// stay valid for that long. A Region pinned by a reader (a fetch response
// waiting to be written) keeps its .log descriptor open past that, until
// Unpin: the segment's descriptor is reference counted (Segment.logRefs).
//
// Locks are taken in this order, never the reverse:
//
//	Manager.mu → Log.mu → Log.flushMu → Log.stateMu → mmapIndex.mu
//	Log.flushMu → LeaderEpochCache.fileMu → LeaderEpochCache.mu
//	LeaderEpochCache.mu is a leaf, taken under Log.mu or alone.
//
// Flushing (fsync) holds flushMu but not Log.mu, so appends continue while an
// fsync runs; appenders that need a flush queue on flushMu and the first
// syncs through the current log end offset on behalf of all of them.
//
// The Manager owns seven kinds of goroutines (retention, flush, checkpoint
// loops, the log cleaner, delayed removal of deleted logs, the log dir
// failure loop and the full dir probe, dirfailure.go and dirrecovery.go);
// Close cancels and waits for them before closing the logs, 16 at a time
// (their fsyncs then share journal commits). Taking a dir offline and
// bringing a full one back are serialized by Manager.recoverMu, held
// across the handlers (OnDirFailure, OnDirOnline).
//
// # Compaction (cleaner.go)
//
// The log cleaner reads inactive segments without locks (they only change
// by deletion or truncation, which it detects) and takes Log.mu only to plan
// a pass and to swap a cleaned segment in; appends and reads continue during
// a pass. Replaced segments are renamed *.deleted and closed after
// file.delete.delay.ms, like retention's. The cleaner's own mutex is a leaf.
// The swap protocol and its crash recovery are described in cleaner.go.
//
// # Producer state: .snapshot and .txnindex
//
// Each Log keeps a producer table (producer_state.go): per producer id its
// epoch, its last batches' sequences and offsets (duplicate detection), the
// coordinator epoch of its last marker and the first offset of its open
// transaction, from which the last stable offset follows.
//
//	<topic>-<partition>/
//	  00000000000000004211.snapshot   producer table as of offset 4211
//	  00000000000000000000.txnindex   aborted transactions of that segment
//
// .snapshot is written (tmp, fsync, rename) when a segment rolls, named by
// the new segment's base offset, and on a clean Close at the log end offset
// unless the table is unchanged since it was loaded there (nothing appended,
// no producer expired), as Kafka's takeSnapshot skips.
// Kafka's format, version 1, big-endian; crc is CRC-32C (Castagnoli) of every
// byte after it:
//
//	+-------------+---------+------------+
//	| version i16 | crc u32 | count i32  |   then count entries of 46 bytes:
//	+-------------+---------+------------+
//	+----------------+-------------------+------------------+----------------+
//	| ProducerId i64 | ProducerEpoch i16 | LastSequence i32 | LastOffset i64 |
//	+----------------+-------------------+------------------+----------------+
//	| OffsetDelta i32 | Timestamp i64 | CoordinatorEpoch i32 | CurrentTxnFirstOffset i64 |
//	+-----------------+---------------+----------------------+---------------------------+
//
// Recovery loads the newest snapshot at or below the log end offset (ones
// past it are deleted) and replays the batches after it; without one it
// replays from the log start. Only each producer's last batch survives a
// snapshot.
//
// .txnindex lists the segment's aborted transactions, appended when an ABORT
// marker is written to it (read_committed fetches return them as
// AbortedTransactions). Kafka's layout: fixed 34-byte big-endian entries,
// ascending by LastOffset; a torn trailing entry is dropped on open:
//
//	+-------------+----------------+-----------------+----------------+----------------------+
//	| version i16 | ProducerId i64 | FirstOffset i64 | LastOffset i64 | LastStableOffset i64 |
//	+-------------+----------------+-----------------+----------------+----------------------+
//
// version is 0. FirstOffset is the transaction's first batch, LastOffset its
// ABORT marker, LastStableOffset the partition's LSO once it completed.
// Entries for the range a recovery replays are dropped and written again.
package storage
