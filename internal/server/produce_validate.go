package server

import (
	"fmt"
	"strings"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
)

// Per-record validation of produced batches (KIP-467). Kafka's LogValidator
// checks every record of a batch and, when some fail, rejects the batch
// naming each bad record by its index in the batch, so that a client fails
// only those records (INVALID_RECORD, INVALID_TIMESTAMP) and resends the
// others (librdkafka: _INVALID_DIFFERENT_RECORD). The checks, in Kafka's
// order, the first failing one reported for a record:
//
//   - a compacted topic takes no record without a key (INVALID_RECORD);
//   - with message.timestamp.type=CreateTime, a record's timestamp (unless
//     -1) must lie within [now - before.max.ms, now + after.max.ms]
//     (INVALID_TIMESTAMP);
//   - otherwise a producer may not set the LogAppendTime attribute
//     (INVALID_TIMESTAMP).
//
// The partition's code is INVALID_TIMESTAMP when any record failed a
// timestamp check, INVALID_RECORD otherwise; the messages are Kafka's, word
// for word, since clients show them to users.

// recordSummary is what Validate learned about the records of a partition's
// batches, enough to skip the per-record pass when no record can fail.
type recordSummary struct {
	hasNullKey bool
	// minTimestamp and maxTimestamp bound the records' timestamps,
	// NoTimestamp (-1) included.
	minTimestamp, maxTimestamp int64
	// logAppendTime: a v2 batch has the LogAppendTime attribute set.
	logAppendTime bool
	batches       int
}

func (s *recordSummary) add(info records.BatchInfo) {
	s.hasNullKey = s.hasNullKey || info.HasNullKey
	s.logAppendTime = s.logAppendTime || (info.Magic == 2 && info.Header.LogAppendTime())
	if s.batches == 0 {
		s.minTimestamp, s.maxTimestamp = info.MinTimestamp, info.MaxTimestamp
	} else {
		s.minTimestamp, s.maxTimestamp = min(s.minTimestamp, info.MinTimestamp), max(s.maxTimestamp, info.MaxTimestamp)
	}
	s.batches++
}

// recordChecks are the per-record rules a partition's configuration sets.
type recordChecks struct {
	topicPartition string // "topic-partition", as Kafka's messages name it
	compacted      bool
	logAppendTime  bool // message.timestamp.type=LogAppendTime
	// beforeMaxMs and afterMaxMs are message.timestamp.before/after.max.ms.
	beforeMaxMs, afterMaxMs int64
	now                     int64
}

// recordRejection is a batch refused for some of its records.
type recordRejection struct {
	code    int16 // 0: accepted
	message string
	records []protocol.ProduceResponseBatchIndexAndErrorMessage
}

// timestampOutOfRange is Kafka's test, in its (wrapping) int64 arithmetic.
func (c *recordChecks) timestampOutOfRange(ts int64) bool {
	diff := c.now - ts
	return diff > c.beforeMaxMs || -diff > c.afterMaxMs
}

// mayFail reports whether a record summarised by sum can fail a check; when
// not, checkRecords need not look at the records again.
func (c *recordChecks) mayFail(sum recordSummary) bool {
	// Timestamps lie between the bounds, so the bounds alone decide, unless
	// a -1 bound hides the real minimum.
	return (c.compacted && sum.hasNullKey) || sum.logAppendTime ||
		(!c.logAppendTime && (sum.minTimestamp == records.NoTimestamp ||
			c.timestampOutOfRange(sum.minTimestamp) || c.timestampOutOfRange(sum.maxTimestamp)))
}

// checkRecords applies the per-record checks to validated v2 batches and
// reports the records of the first batch that has failing ones, as Kafka
// stops at that batch.
func checkRecords(batches []byte, sum recordSummary, c recordChecks) recordRejection {
	if !c.mayFail(sum) {
		return recordRejection{}
	}
	for batch := range records.Batches(batches) {
		h, err := records.ParseHeader(batch)
		if err != nil {
			return recordRejection{code: errcode.CorruptMessage, message: err.Error()}
		}
		var errs []protocol.ProduceResponseBatchIndexAndErrorMessage
		timestampErr := false
		index := int32(0)
		err = records.ForEachRecord(batch, maxDecompressedBatch, func(r *records.Record) error {
			msg, isTimestamp := c.checkRecord(&h, r)
			if msg != "" {
				errs = append(errs, protocol.ProduceResponseBatchIndexAndErrorMessage{BatchIndex: index, BatchIndexErrorMessage: &msg})
				timestampErr = timestampErr || isTimestamp
			}
			index++
			return nil
		})
		if err != nil {
			return recordRejection{code: recordErrorCode(err), message: err.Error()}
		}
		if len(errs) == 0 {
			continue
		}
		if timestampErr {
			return recordRejection{code: errcode.InvalidTimestamp, records: errs,
				message: "One or more records have been rejected due to invalid timestamp"}
		}
		var b strings.Builder
		fmt.Fprintf(&b, "One or more records have been rejected due to %d record errors in total, "+
			"and only showing the first three errors at most: [", len(errs))
		for i, e := range errs[:min(len(errs), 3)] {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "RecordError(batchIndex=%d, message='%s')", e.BatchIndex, *e.BatchIndexErrorMessage)
		}
		b.WriteString("]")
		return recordRejection{code: errcode.InvalidRecord, message: b.String(), records: errs}
	}
	return recordRejection{}
}

// checkRecord returns the message of the first check r fails, and whether
// it is a timestamp check; "" when r passes.
func (c *recordChecks) checkRecord(h *records.Header, r *records.Record) (string, bool) {
	if c.compacted && r.Key == nil {
		return "Compacted topic cannot accept message without key in topic partition " + c.topicPartition, false
	}
	// A LogAppendTime batch's records all read as the batch's max
	// timestamp, in Kafka's record iterators as here.
	ts := r.Timestamp
	if h.LogAppendTime() {
		ts = h.MaxTimestamp
	}
	if !c.logAppendTime && ts != records.NoTimestamp {
		if c.timestampOutOfRange(ts) {
			return fmt.Sprintf("Timestamp %d of message with offset %d is out of range. The timestamp should be within [%d, %d]",
				ts, r.Offset, c.now-c.beforeMaxMs, c.now+c.afterMaxMs), true
		}
	} else if h.LogAppendTime() {
		return fmt.Sprintf("Invalid timestamp type in message %s. Producer should not set timestamp type to LogAppendTime.",
			kafkaRecordString(h, r, ts)), true
	}
	return "", false
}

// kafkaRecordString is how Kafka prints a record in a message: a record of
// a compressed batch is read without its key and value (PartialDefaultRecord,
// which gives a null's size as -1), one of an uncompressed batch in full.
func kafkaRecordString(h *records.Header, r *records.Record, ts int64) string {
	if h.Compression() != records.CompressionNone {
		size := func(b []byte) int {
			if b == nil {
				return -1
			}
			return len(b)
		}
		return fmt.Sprintf("PartialDefaultRecord(offset=%d, timestamp=%d, key=%d bytes, value=%d bytes)", r.Offset, ts, size(r.Key), size(r.Value))
	}
	return fmt.Sprintf("DefaultRecord(offset=%d, timestamp=%d, key=%d bytes, value=%d bytes)", r.Offset, ts, len(r.Key), len(r.Value))
}
