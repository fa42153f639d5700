package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCompactedTopicIsCleaned writes many updates of a few keys and a
// tombstone to a cleanup.policy=compact topic whose segments roll after
// 100ms, and waits for the log cleaner (backoff 200ms): a consumer from the
// start then sees only the latest value of each key, at its original offset,
// and the tombstone (delete.retention.ms is a day).
//
// segment.ms counts from a segment's first record timestamp, as in Kafka, so
// the updates carry a timestamp an hour old: each append rolls the segment
// before it, and the last record ("z", timestamped now) leaves everything
// before it in closed, cleanable segments without the test waiting.
func TestCompactedTopicIsCleaned(t *testing.T) {
	n := startTestNode(t, "KAFKA_LOG_CLEANER_BACKOFF_MS=200")
	const topic = "compacted"
	createTopic(t, n.addr, topic, 1, map[string]*string{
		"cleanup.policy": cfgValue("compact"),
		"segment.ms":     cfgValue("100"),
		// A slow machine can roll a segment mid-way; the second, small dirty
		// section must still be cleaned (the default ratio 0.5 would wait).
		"min.cleanable.dirty.ratio": cfgValue("0.01"),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	prod := newClient(t, n.addr, kgo.DefaultProduceTopic(topic))
	produce := func(key string, value []byte, ts time.Time) int64 {
		r, err := prod.ProduceSync(ctx, &kgo.Record{Key: []byte(key), Value: value, Timestamp: ts}).First()
		require.NoError(t, err)
		return r.Offset
	}
	old := time.Now().Add(-time.Hour)
	want := map[string]int64{} // key → offset of its latest record
	for round := range 20 {
		for _, k := range []string{"a", "b", "c"} {
			want[k] = produce(k, fmt.Appendf(nil, "%s%d", k, round), old)
		}
	}
	want["c"] = produce("c", nil, old)                // tombstone
	want["z"] = produce("z", []byte("z"), time.Now()) // rolls: everything before is cleanable

	require.Eventually(t, func() bool {
		recs := consumeUpTo(t, n.addr, topic, want["z"])
		if len(recs) != len(want) {
			return false
		}
		for _, r := range recs {
			require.Equal(t, want[string(r.Key)], r.Offset, "key %s", r.Key)
		}
		return true
	}, 30*time.Second, 200*time.Millisecond)

	recs := consumeUpTo(t, n.addr, topic, want["z"])
	got := map[string]string{}
	for _, r := range recs {
		if r.Value == nil {
			got[string(r.Key)] = "<tombstone>"
		} else {
			got[string(r.Key)] = string(r.Value)
		}
	}
	require.Equal(t, map[string]string{"a": "a19", "b": "b19", "c": "<tombstone>", "z": "z"}, got)
}

// consumeUpTo reads topic from the start through offset last.
func consumeUpTo(t *testing.T, addr, topic string, last int64) []*kgo.Record {
	t.Helper()
	cl := newClient(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []*kgo.Record
	for {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "consumed up to offset %d, want %d", len(out), last)
		fs.EachError(func(topic string, p int32, err error) {
			t.Fatalf("fetch %s[%d]: %v", topic, p, err)
		})
		for _, r := range fs.Records() {
			out = append(out, r)
			if r.Offset >= last {
				return out
			}
		}
	}
}

func cfgValue(s string) *string { return &s }
