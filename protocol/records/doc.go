// Package records owns Kafka's record formats: v2 record batches, the legacy
// v0/v1 message sets, control records, and the compression codecs that wrap
// them. It is the only package that looks inside a batch; the Produce handler
// validates incoming batches with it, storage iterates batches with it, and
// the transaction coordinator builds end-transaction markers with it.
//
// Everything here is stateless apart from internal sync.Pools of codecs and
// buffers, so every function may be called from any number of goroutines at
// once. Functions that hand out records (ForEachRecord, ForEachMessage) alias
// the caller's or a pooled buffer: the slices are valid only until the
// callback returns.
//
// Every malformed input yields an error wrapping ErrCorrupt (CORRUPT_MESSAGE
// or INVALID_RECORD at the edge); nothing in this package panics on input.
// Decompression always takes a bound and fails with ErrTooLarge rather than
// allocate past it, so a small compressed batch cannot exhaust memory.
//
// # v2 record batch (magic 2), big-endian
//
//	+-------------------------+  0
//	| BaseOffset        int64 |
//	| BatchLength       int32 |  bytes after this field
//	| PartitionLeaderEp int32 |
//	| Magic              int8 |  2
//	| CRC              uint32 |  CRC-32C (Castagnoli) of Attributes..end
//	+-------------------------+ 21  ── CRC coverage starts
//	| Attributes        int16 |  bits 0-2 codec, 3 LogAppendTime,
//	|                         |  4 transactional, 5 control, 6 delete horizon
//	| LastOffsetDelta   int32 |
//	| BaseTimestamp     int64 |
//	| MaxTimestamp      int64 |
//	| ProducerID        int64 |
//	| ProducerEpoch     int16 |
//	| BaseSequence      int32 |
//	| RecordCount       int32 |
//	+-------------------------+ 61
//	| records …               |  compressed as a whole when codec != 0
//	+-------------------------+
//
// # v2 record (inside the records section)
//
// Every integer is a zig-zag varint (varlong for 64-bit), as in protobuf.
//
//	Length          varint   bytes after this field
//	Attributes      int8     unused, 0
//	TimestampDelta  varlong  relative to BaseTimestamp
//	OffsetDelta     varint   relative to BaseOffset; 0..n-1 from producers
//	KeyLength       varint   -1 = null key
//	Key             bytes
//	ValueLength     varint   -1 = null value (a tombstone)
//	Value           bytes
//	HeaderCount     varint
//	Headers         HeaderCount × {
//	    HeaderKeyLength    varint  never null
//	    HeaderKey          bytes (UTF-8)
//	    HeaderValueLength  varint  -1 = null
//	    HeaderValue        bytes
//	}
//
// # Control records (control bit set, transactional bit set)
//
// A control batch holds exactly one record whose key and value are:
//
//	key:   Version int16 (0) | Type int16 (0 = ABORT, 1 = COMMIT)
//	value: Version int16 (0) | CoordinatorEpoch int32
//
// # Legacy messages (magic 0 and 1), big-endian
//
//	Offset       int64   absolute; inside a v1 wrapper, relative (0..n-1)
//	MessageSize  int32   bytes after this field
//	CRC          uint32  CRC-32 (IEEE) of Magic..end
//	Magic        int8    0 or 1
//	Attributes   int8    bits 0-2 codec (zstd not allowed), 3 LogAppendTime (v1)
//	Timestamp    int64   v1 only
//	KeyLength    int32   -1 = null
//	Key          bytes
//	ValueLength  int32   -1 = null
//	Value        bytes
//
// A compressed legacy message is a wrapper whose value is a compressed
// message set of uncompressed inner messages. In v1 the inner offsets are
// relative and the wrapper's offset is the absolute offset of the last inner
// message; in v0 inner offsets are absolute. Both formats share the first 17
// bytes' shape (offset, length, 4 bytes, magic), which is how Batches tells
// them apart.
//
// # Snappy framing
//
// Java clients write snappy in xerial framing and librdkafka accepts it:
//
//	"\x82SNAPPY\x00" | Version int32 (1) | Compatible int32 (1) |
//	{ ChunkLength int32 | raw snappy block }…
//
// Decompression accepts both raw snappy and xerial; compression writes xerial.
package records
