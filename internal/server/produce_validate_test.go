package server

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
)

// TestCheckRecordsTimestamps: the summary's shortcut never hides a bad
// record, including one between a -1 timestamp and a good one, and the
// defaults (before.max.ms = Long.MAX_VALUE) compute in Kafka's wrapping
// arithmetic without rejecting old records.
func TestCheckRecordsTimestamps(t *testing.T) {
	const now, hour = int64(1_800_000_000_000), int64(3600_000)
	for _, tc := range []struct {
		name              string
		timestamps        []int64
		before, after     int64
		logAppendTimeAttr bool
		logAppendTimeType bool // the topic's message.timestamp.type
		bad               []int32
	}{
		{"all in range", []int64{now, now - hour/2, now + hour/2}, hour, hour, false, false, nil},
		{"no timestamps", []int64{-1, -1}, hour, hour, false, false, nil},
		{"old record behind a -1 minimum", []int64{-1, now - 2*hour, now}, hour, hour, false, false, []int32{1}},
		{"future record", []int64{now, now + 2*hour}, hour, hour, false, false, []int32{1}},
		{"defaults take any past", []int64{0, 1, now}, math.MaxInt64, hour, false, false, nil},
		{"negative timestamps other than -1 are checked", []int64{-5, now}, hour, hour, false, false, []int32{0}},
		{"LogAppendTime topic ignores the range", []int64{0, now + 2*hour}, hour, hour, false, true, nil},
		// Records of a LogAppendTime batch read as its max timestamp.
		{"LogAppendTime attribute on a LogAppendTime topic", []int64{now, now}, hour, hour, true, true, []int32{0, 1}},
		{"LogAppendTime attribute, CreateTime topic, timestamps in range", []int64{now - 2*hour, now}, hour, hour, true, false, nil},
		{"LogAppendTime attribute, CreateTime topic, no timestamp", []int64{-1, -1}, hour, hour, true, false, []int32{0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var recs []records.Record
			for _, ts := range tc.timestamps {
				recs = append(recs, records.Record{Timestamp: ts, Key: []byte("k"), Value: []byte("v")})
			}
			o := records.NewBatchOptions()
			o.LogAppendTime = tc.logAppendTimeAttr
			batch, err := records.AppendBatch(nil, o, recs)
			require.NoError(t, err)
			info, err := records.Validate(batch, maxDecompressedBatch)
			require.NoError(t, err)
			var sum recordSummary
			sum.add(info)
			rej := checkRecords(batch, sum, recordChecks{topicPartition: "t-0", logAppendTime: tc.logAppendTimeType,
				beforeMaxMs: tc.before, afterMaxMs: tc.after, now: now})
			if tc.bad == nil {
				require.Zero(t, rej.code, rej.message)
				return
			}
			require.Equal(t, errcode.InvalidTimestamp, rej.code)
			var got []int32
			for _, e := range rej.records {
				got = append(got, e.BatchIndex)
			}
			require.Equal(t, tc.bad, got)
		})
	}
}
