package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestFetchEmptyRecordSetNotNull: a partition that returns no data gets an
// empty record set (length 0), never a null one (-1), at every Fetch version,
// as Kafka 4.3 answers. librdkafka fails to parse a null record set ("invalid
// MessageSetSize -1") and so never reports partition EOF. The nullable
// AbortedTransactions and the offsets of error partitions are checked against
// what Kafka 4.3.1 sends for the same requests (captured from a running
// broker): an empty list for read_committed and for unknown partitions, null
// for read_uncommitted and for errors met while reading, which also carry -1
// offsets.
//
// The response bytes are decoded with kmsg, whose decoder keeps a length-0
// field as an empty slice and a length -1 field as nil.
func TestFetchEmptyRecordSetNotNull(t *testing.T) {
	n := startTestNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, topic := range []string{"empty", "data", "aborted"} {
		createTopic(t, n.addr, topic, 1, nil)
	}
	cl := newClient(t, n.addr)
	for i := range 10 {
		require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: "data", Value: []byte(fmt.Sprint(i))}).FirstErr())
	}
	// "aborted" holds one aborted transaction of 5 records and its marker.
	tx := newClient(t, n.addr, kgo.TransactionalID("fetch-empty-tx"), kgo.DefaultProduceTopic("aborted"))
	require.NoError(t, tx.BeginTransaction())
	for i := range 5 {
		require.NoError(t, tx.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprint(i))}).FirstErr())
	}
	require.NoError(t, tx.EndTransaction(ctx, kgo.TryAbort))
	md, err := kadm.NewClient(cl).Metadata(ctx, "empty", "data", "aborted")
	require.NoError(t, err)

	rc := dialRaw(t, n.addr)
	fetch := func(v int16, topic string, partition int32, offset int64, isolation int8) kmsg.FetchResponseTopicPartition {
		t.Helper()
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID, req.SessionEpoch = -1, -1
		req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 50, 1, 1<<20
		req.IsolationLevel = isolation
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = topic, md.Topics[topic].ID
		if topic == "unknown" {
			rt.TopicID = [16]byte{1, 2, 3}
		}
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = partition, offset, 1<<20
		rp.CurrentLeaderEpoch, rp.LastFetchedEpoch, rp.LogStartOffset = -1, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := rc.do(req, v).(*kmsg.FetchResponse)
		require.Zero(t, resp.ErrorCode)
		require.Len(t, resp.Topics, 1)
		require.Len(t, resp.Topics[0].Partitions, 1)
		return resp.Topics[0].Partitions[0]
	}
	// The abort is complete once the marker is below the last stable offset.
	require.Eventually(t, func() bool {
		p := fetch(18, "aborted", 0, 0, 1)
		return p.HighWatermark == 6 && p.LastStableOffset == 6
	}, 10*time.Second, 20*time.Millisecond)

	const null, empty = -1, 0 // AbortedTransactions: null or an empty list
	for _, tc := range []struct {
		name      string
		topic     string
		partition int32
		offset    int64
		isolation int8
		code      int16
		hw        int64 // -1: the offsets are all -1
		aborted   int
	}{
		{"empty topic, long poll times out", "empty", 0, 0, 0, 0, 0, null},
		{"empty topic read_committed", "empty", 0, 0, 1, 0, 0, empty},
		{"caught up, long poll times out", "data", 0, 10, 0, 0, 10, null},
		{"caught up read_committed", "data", 0, 10, 1, 0, 10, empty},
		{"offset out of range", "data", 0, 99, 0, kerr.OffsetOutOfRange.Code, -1, null},
		{"offset out of range read_committed", "data", 0, 99, 1, kerr.OffsetOutOfRange.Code, -1, null},
		{"only aborted data, past the marker, read_committed", "aborted", 0, 6, 1, 0, 6, empty},
		{"unknown partition", "empty", 7, 0, 0, kerr.UnknownTopicOrPartition.Code, -1, empty},
	} {
		for v := int16(4); v <= 18; v++ {
			t.Run(fmt.Sprintf("%s/v%d", tc.name, v), func(t *testing.T) {
				p := fetch(v, tc.topic, tc.partition, tc.offset, tc.isolation)
				require.Equal(t, tc.code, p.ErrorCode)
				require.NotNil(t, p.RecordBatches, "records sent as null (length -1)")
				require.Empty(t, p.RecordBatches)
				if tc.aborted == null {
					require.Nil(t, p.AbortedTransactions)
				} else {
					require.NotNil(t, p.AbortedTransactions)
					require.Empty(t, p.AbortedTransactions)
				}
				require.Equal(t, tc.hw, p.HighWatermark)
				if tc.hw < 0 {
					require.Equal(t, int64(-1), p.LastStableOffset)
					if v >= 5 {
						require.Equal(t, int64(-1), p.LogStartOffset)
					}
				}
			})
		}
	}
	t.Run("unknown topic ID", func(t *testing.T) {
		for v := int16(13); v <= 18; v++ {
			p := fetch(v, "unknown", 0, 0, 0)
			require.Equal(t, kerr.UnknownTopicID.Code, p.ErrorCode)
			require.NotNil(t, p.RecordBatches)
			require.Empty(t, p.RecordBatches)
			require.NotNil(t, p.AbortedTransactions)
		}
	})
	t.Run("aborted data read_committed lists the transaction", func(t *testing.T) {
		for v := int16(4); v <= 18; v++ {
			p := fetch(v, "aborted", 0, 0, 1)
			require.Zero(t, p.ErrorCode)
			require.NotEmpty(t, p.RecordBatches)
			require.Len(t, p.AbortedTransactions, 1)
		}
	})
}
