// Package wire holds the primitive encoders and the checked decoder that the
// generated Kafka messages, the record-batch code and the network server share.
//
// Encoding is append-style: every Append* function takes a destination slice
// and returns it extended, so a whole response is built into one buffer with
// no intermediate allocations.
//
// Decoding goes through a Reader. A Reader never panics and never allocates
// more than the bytes it was given can justify: every length and array count is
// checked against the bytes that remain before anything is made. The first
// failure is sticky: later reads return zero values and Err reports the first
// problem, so generated decoders check once at the end (see Complete).
//
// Kafka's primitive types on the wire (all big-endian):
//
//	INT8/16/32/64, UINT16/32   fixed width
//	VARINT, VARLONG            zig-zag, as protobuf
//	UNSIGNED_VARINT            base-128, as protobuf
//	UUID                       16 raw bytes
//	FLOAT64                    IEEE 754 bits as INT64
//	STRING                     INT16 length, then bytes; -1 is null (nullable)
//	BYTES                      INT32 length, then bytes; -1 is null (nullable)
//	COMPACT_STRING/BYTES       UNSIGNED_VARINT length+1, then bytes; 0 is null
//	ARRAY                      INT32 count, -1 null; COMPACT_ARRAY: count+1
//	TAGGED_FIELDS              UNSIGNED_VARINT n, then n × (tag, size, bytes)
//
// Nothing here is safe for concurrent use of the same Reader; distinct Readers
// are independent.
package wire
