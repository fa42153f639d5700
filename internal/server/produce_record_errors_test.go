package server

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spool-broker/spool/protocol/records"
)

// TestProduceRecordErrors: a batch with invalid records is rejected whole,
// and from Produce v8 the response names each bad record by its index with
// Kafka's message (KIP-467), so clients fail only those records and resend
// the rest. The expected codes, messages and log start offsets are what
// Kafka 4.3.1 answered to the same hand-built batches (captured from a
// running broker).
func TestProduceRecordErrors(t *testing.T) {
	n := startTestNode(t)
	compact, hour, lat := "compact", "3600000", "LogAppendTime"
	createTopic(t, n.addr, "compacted", 1, map[string]*string{"cleanup.policy": &compact})
	createTopic(t, n.addr, "bounded", 1, map[string]*string{
		"message.timestamp.before.max.ms": &hour, "message.timestamp.after.max.ms": &hour})
	createTopic(t, n.addr, "both", 1, map[string]*string{"cleanup.policy": &compact, "message.timestamp.before.max.ms": &hour})
	createTopic(t, n.addr, "appendtime", 1, map[string]*string{"message.timestamp.type": &lat})
	md, err := kadm.NewClient(newClient(t, n.addr)).Metadata(context.Background(), "compacted", "bounded", "both", "appendtime")
	require.NoError(t, err)
	rc := dialRaw(t, n.addr)
	produce := func(t *testing.T, v int16, topic string, batch []byte) kmsg.ProduceResponseTopicPartition {
		return rawProduce(t, rc, v, topic, md.Topics[topic].ID, batch)
	}

	const noKey = "Compacted topic cannot accept message without key in topic partition "
	now := time.Now().UnixMilli()
	// recs builds n keyed records stamped now; mod changes record i.
	recs := func(n int, mod func(i int, r *records.Record)) []records.Record {
		out := make([]records.Record, n)
		for i := range out {
			out[i] = records.Record{Timestamp: now, Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d", i))}
			if mod != nil {
				mod(i, &out[i])
			}
		}
		return out
	}
	keyless := func(every int) func(int, *records.Record) {
		return func(i int, r *records.Record) {
			if i%every == 3 {
				r.Key = nil
			}
		}
	}
	skewed := func(i int, r *records.Record) { // records 1, 5 two hours old, 2, 6 two hours ahead
		switch i % 4 {
		case 1:
			r.Timestamp = now - 2*3600_000
		case 2:
			r.Timestamp = now + 2*3600_000
		}
	}
	tsMsg := func(ts, offset int64) string {
		return fmt.Sprintf(`Timestamp %d of message with offset %d is out of range\. The timestamp should be within \[(\d+), (\d+)\]`, ts, offset)
	}
	latMsg := func(kind string, offset int64) string {
		return fmt.Sprintf(`Invalid timestamp type in message %s\(offset=%d, timestamp=%d, key=2 bytes, value=2 bytes\)\. Producer should not set timestamp type to LogAppendTime\.`,
			kind, offset, now)
	}
	tens := func(topic string) map[int32]string {
		m := map[int32]string{}
		for i := int32(3); i < 100; i += 10 {
			m[i] = regexp.QuoteMeta(noKey + topic + "-0")
		}
		return m
	}
	gzip := records.NewBatchOptions()
	gzip.Compression = records.CompressionGzip
	appendTime := records.NewBatchOptions()
	appendTime.LogAppendTime = true
	appendTimeGzip := appendTime
	appendTimeGzip.Compression = records.CompressionGzip

	for _, tc := range []struct {
		name    string
		topic   string
		opts    records.BatchOptions
		recs    []records.Record
		code    int16
		message string           // the partition's ErrorMessage, a regexp
		errors  map[int32]string // batch index → message regexp
	}{
		{
			name: "compacted, 10 keyless among 100", topic: "compacted", opts: records.NewBatchOptions(),
			recs: recs(100, keyless(10)), code: kerr.InvalidRecord.Code,
			message: regexp.QuoteMeta("One or more records have been rejected due to 10 record errors in total, and only showing the first three errors at most: [" +
				"RecordError(batchIndex=3, message='" + noKey + "compacted-0'), " +
				"RecordError(batchIndex=13, message='" + noKey + "compacted-0'), " +
				"RecordError(batchIndex=23, message='" + noKey + "compacted-0')]"),
			errors: tens("compacted"),
		},
		{
			name: "compacted, gzip", topic: "compacted", opts: gzip,
			recs: recs(100, keyless(10)), code: kerr.InvalidRecord.Code,
			message: `^One or more records have been rejected due to 10 record errors in total, .*batchIndex=23.*\]$`,
			errors:  tens("compacted"),
		},
		{
			name: "compacted, two keyless of four", topic: "compacted", opts: records.NewBatchOptions(),
			recs: recs(4, func(i int, r *records.Record) {
				if i < 2 {
					r.Key = nil
				}
			}),
			code: kerr.InvalidRecord.Code,
			message: regexp.QuoteMeta("One or more records have been rejected due to 2 record errors in total, and only showing the first three errors at most: [" +
				"RecordError(batchIndex=0, message='" + noKey + "compacted-0'), RecordError(batchIndex=1, message='" + noKey + "compacted-0')]"),
			errors: map[int32]string{0: regexp.QuoteMeta(noKey + "compacted-0"), 1: regexp.QuoteMeta(noKey + "compacted-0")},
		},
		{
			name: "timestamps out of range", topic: "bounded", opts: records.NewBatchOptions(),
			recs: recs(8, skewed), code: kerr.InvalidTimestamp.Code,
			message: "^One or more records have been rejected due to invalid timestamp$",
			errors: map[int32]string{
				1: tsMsg(now-2*3600_000, 1), 2: tsMsg(now+2*3600_000, 2), 5: tsMsg(now-2*3600_000, 5), 6: tsMsg(now+2*3600_000, 6)},
		},
		{
			name: "timestamps out of range, gzip", topic: "bounded", opts: gzip,
			recs: recs(8, skewed), code: kerr.InvalidTimestamp.Code,
			message: "^One or more records have been rejected due to invalid timestamp$",
			errors: map[int32]string{
				1: tsMsg(now-2*3600_000, 1), 2: tsMsg(now+2*3600_000, 2), 5: tsMsg(now-2*3600_000, 5), 6: tsMsg(now+2*3600_000, 6)},
		},
		{
			// A record failing both checks reports the key; any timestamp
			// error makes the partition's code INVALID_TIMESTAMP.
			name: "keyless and old on a compacted bounded topic", topic: "both", opts: records.NewBatchOptions(),
			recs: recs(4, func(i int, r *records.Record) {
				if i%2 == 0 {
					r.Key = nil
				}
				if i < 2 {
					r.Timestamp = now - 2*3600_000
				}
			}),
			code:    kerr.InvalidTimestamp.Code,
			message: "^One or more records have been rejected due to invalid timestamp$",
			errors: map[int32]string{0: regexp.QuoteMeta(noKey + "both-0"), 1: tsMsg(now-2*3600_000, 1),
				2: regexp.QuoteMeta(noKey + "both-0")},
		},
		{
			name: "LogAppendTime set by the producer", topic: "appendtime", opts: appendTime,
			recs: recs(2, nil), code: kerr.InvalidTimestamp.Code,
			message: "^One or more records have been rejected due to invalid timestamp$",
			errors:  map[int32]string{0: latMsg("DefaultRecord", 0), 1: latMsg("DefaultRecord", 1)},
		},
		{
			name: "LogAppendTime set by the producer, gzip", topic: "appendtime", opts: appendTimeGzip,
			recs: recs(2, nil), code: kerr.InvalidTimestamp.Code,
			message: "^One or more records have been rejected due to invalid timestamp$",
			errors:  map[int32]string{0: latMsg("PartialDefaultRecord", 0), 1: latMsg("PartialDefaultRecord", 1)},
		},
	} {
		batch, err := records.AppendBatch(nil, tc.opts, tc.recs)
		require.NoError(t, err)
		for _, v := range []int16{3, 7, 8, 9, 12, 13} {
			t.Run(fmt.Sprintf("%s/v%d", tc.name, v), func(t *testing.T) {
				p := produce(t, v, tc.topic, batch)
				require.Equal(t, tc.code, p.ErrorCode, kerr.ErrorForCode(p.ErrorCode))
				require.Equal(t, int64(-1), p.BaseOffset)
				// No current leader tag: librdkafka would take leader 0 for a move.
				require.Equal(t, kmsg.ProduceResponseTopicPartitionCurrentLeader{LeaderID: -1, LeaderEpoch: -1}, p.CurrentLeader)
				if v < 8 {
					return // no record errors nor message before v8
				}
				require.Equal(t, int64(0), p.LogStartOffset)
				require.NotNil(t, p.ErrorMessage)
				require.Regexp(t, tc.message, *p.ErrorMessage)
				got := map[int32]string{}
				for _, e := range p.ErrorRecords {
					require.NotNil(t, e.ErrorMessage)
					got[e.RelativeOffset] = *e.ErrorMessage
				}
				require.Len(t, got, len(tc.errors), "record errors: %v", got)
				for i, re := range tc.errors {
					require.Contains(t, got, i)
					m := regexp.MustCompile("^" + re + "$").FindStringSubmatch(got[i])
					require.NotNil(t, m, "record %d: %q does not match %q", i, got[i], re)
					if len(m) == 3 { // the timestamp bounds: [now - 1h, now + 1h] at the broker's now
						lo, _ := strconv.ParseInt(m[1], 10, 64)
						hi, _ := strconv.ParseInt(m[2], 10, 64)
						require.Equal(t, int64(2*3600_000), hi-lo)
						require.InDelta(t, now, lo+3600_000, 60_000)
					}
				}
			})
		}
	}

	// Nothing was appended, and good batches still go in.
	for _, tc := range []struct {
		topic string
		opts  records.BatchOptions
	}{{"compacted", records.NewBatchOptions()}, {"compacted", gzip}, {"bounded", records.NewBatchOptions()}, {"both", gzip}} {
		batch, err := records.AppendBatch(nil, tc.opts, recs(5, nil))
		require.NoError(t, err)
		p := produce(t, 13, tc.topic, batch)
		require.Zero(t, p.ErrorCode, kerr.ErrorForCode(p.ErrorCode))
		require.Empty(t, p.ErrorRecords)
		require.Nil(t, p.ErrorMessage)
		require.Equal(t, kmsg.ProduceResponseTopicPartitionCurrentLeader{LeaderID: -1, LeaderEpoch: -1}, p.CurrentLeader)
	}
	ends, err := kadm.NewClient(newClient(t, n.addr)).ListEndOffsets(context.Background(), "compacted", "bounded", "both", "appendtime")
	require.NoError(t, err)
	for topic, want := range map[string]int64{"compacted": 10, "bounded": 5, "both": 5, "appendtime": 0} {
		o, ok := ends.Lookup(topic, 0)
		require.True(t, ok)
		require.Equal(t, want, o.Offset, topic)
	}

	t.Run("producer ID without a sequence", func(t *testing.T) {
		o := records.NewBatchOptions()
		o.ProducerID = 7
		batch, err := records.AppendBatch(nil, o, recs(2, nil))
		require.NoError(t, err)
		require.Equal(t, kerr.InvalidRecord.Code, produce(t, 13, "bounded", batch).ErrorCode)
	})
}

// rawProduce sends batch to partition 0 of topic (named by id from v13) at
// version v, acks=-1, and returns the partition's answer.
func rawProduce(t *testing.T, rc *rawConn, v int16, topic string, id [16]byte, batch []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID = topic, id
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := rc.do(req, v).(*kmsg.ProduceResponse)
	require.Len(t, resp.Topics, 1)
	require.Len(t, resp.Topics[0].Partitions, 1)
	return resp.Topics[0].Partitions[0]
}
