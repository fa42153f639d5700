package server

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spool-broker/spool/replication"
)

// TestFetchSessions drives KIP-227 incremental fetch sessions by hand: a full
// fetch opens a session, an incremental fetch returns only partitions with
// news, wrong epochs and unknown sessions get their error codes, and
// forgetting a partition drops it from the session.
func TestFetchSessions(t *testing.T) {
	n := startTestNode(t)
	createTopic(t, n.addr, "sess", 2, nil)
	cl := newClient(t, n.addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	td, err := kadm.NewClient(cl).ListTopics(ctx, "sess")
	require.NoError(t, err)
	id := td["sess"].ID

	fetch := func(sessionID, epoch int32, parts []int32, forget []int32) *kmsg.FetchResponse {
		t.Helper()
		req := kmsg.NewPtrFetchRequest()
		req.MaxWaitMillis, req.MaxBytes = 0, 1<<20
		req.SessionID, req.SessionEpoch = sessionID, epoch
		if len(parts) > 0 {
			ft := kmsg.NewFetchRequestTopic()
			ft.Topic, ft.TopicID = "sess", id
			for _, p := range parts {
				fp := kmsg.NewFetchRequestTopicPartition()
				fp.Partition, fp.PartitionMaxBytes, fp.CurrentLeaderEpoch = p, 1<<20, -1
				ft.Partitions = append(ft.Partitions, fp)
			}
			req.Topics = append(req.Topics, ft)
		}
		if len(forget) > 0 {
			ff := kmsg.NewFetchRequestForgottenTopic()
			ff.Topic, ff.TopicID, ff.Partitions = "sess", id, forget
			req.ForgottenTopics = append(req.ForgottenTopics, ff)
		}
		resp, err := req.RequestWith(ctx, cl)
		require.NoError(t, err)
		return resp
	}
	partitionsIn := func(resp *kmsg.FetchResponse) map[int32]int64 {
		out := map[int32]int64{}
		for _, tr := range resp.Topics {
			for _, p := range tr.Partitions {
				out[p.Partition] = p.HighWatermark
			}
		}
		return out
	}

	full := fetch(0, 0, []int32{0, 1}, nil)
	require.EqualValues(t, 0, full.ErrorCode)
	require.NotZero(t, full.SessionID, "a full fetch with epoch 0 opens a session")
	require.Len(t, partitionsIn(full), 2, "a full fetch answers every partition")

	// Nothing changed: the incremental response is empty.
	inc := fetch(full.SessionID, 1, nil, nil)
	require.EqualValues(t, 0, inc.ErrorCode)
	require.Equal(t, full.SessionID, inc.SessionID)
	require.Empty(t, partitionsIn(inc))

	// Partition 1 grows: only it comes back, with its new high watermark.
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: "sess", Partition: 1, Value: []byte("x")}).FirstErr())
	inc = fetch(full.SessionID, 2, nil, nil)
	require.Equal(t, map[int32]int64{1: 1}, partitionsIn(inc))

	// A stale epoch and an unknown session are refused.
	require.EqualValues(t, 71, fetch(full.SessionID, 2, nil, nil).ErrorCode, "INVALID_FETCH_SESSION_EPOCH")
	require.EqualValues(t, 70, fetch(full.SessionID+1, 1, nil, nil).ErrorCode, "FETCH_SESSION_ID_NOT_FOUND")

	// Forget partition 1; a produce there is no longer news for the session.
	// The refused requests above did not advance the epoch.
	inc = fetch(full.SessionID, 3, nil, []int32{1})
	require.EqualValues(t, 0, inc.ErrorCode)
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: "sess", Partition: 1, Value: []byte("y")}).FirstErr())
	require.Empty(t, partitionsIn(fetch(full.SessionID, 4, nil, nil)))

	// Epoch -1 closes the session and answers as a sessionless full fetch.
	closed := fetch(full.SessionID, -1, []int32{0, 1}, nil)
	require.EqualValues(t, 0, closed.ErrorCode)
	require.Zero(t, closed.SessionID)
	require.Len(t, partitionsIn(closed), 2)
	require.EqualValues(t, 70, fetch(full.SessionID, 5, nil, nil).ErrorCode, "the closed session is gone")
}

// TestFetchSessionReadsWhatChanged: an incremental fetch reads only the
// partitions its session's feed marked, the request named or the last
// answer left busy, so its answers must still carry every partition with
// news: new records, a moved high watermark or log start offset, a
// leadership error (from the replication layer alone, and from a new
// metadata image), while the quiet partitions stay out; and a parked
// incremental fetch wakes for an append to any partition of the session.
func TestFetchSessionReadsWhatChanged(t *testing.T) {
	n := startTestNode(t)
	const topic = "sess-changed"
	const parts = 40
	createTopic(t, n.addr, topic, parts, nil)
	cl := newClient(t, n.addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	td, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	require.NoError(t, err)
	id := td[topic].ID

	type news struct {
		code        int16
		hw, start   int64
		withRecords bool
	}
	offsets := make([]int64, parts)
	var sessionID, epoch int32
	fetch := func(maxWait int32, named ...int32) map[int32]news {
		t.Helper()
		req := kmsg.NewPtrFetchRequest()
		req.MaxWaitMillis, req.MinBytes, req.MaxBytes = maxWait, 1, 1<<20
		req.SessionID, req.SessionEpoch = sessionID, epoch
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic, ft.TopicID = topic, id
		for p := range int32(parts) {
			if sessionID != 0 && !slices.Contains(named, p) {
				continue
			}
			fp := kmsg.NewFetchRequestTopicPartition()
			fp.Partition, fp.FetchOffset, fp.PartitionMaxBytes, fp.CurrentLeaderEpoch = p, offsets[p], 1<<20, -1
			ft.Partitions = append(ft.Partitions, fp)
		}
		if len(ft.Partitions) > 0 {
			req.Topics = append(req.Topics, ft)
		}
		resp, err := req.RequestWith(ctx, cl)
		require.NoError(t, err)
		require.EqualValues(t, 0, resp.ErrorCode)
		if sessionID == 0 {
			sessionID = resp.SessionID
		}
		epoch++
		out := map[int32]news{}
		for _, tr := range resp.Topics {
			for _, p := range tr.Partitions {
				out[p.Partition] = news{code: p.ErrorCode, hw: p.HighWatermark, start: p.LogStartOffset, withRecords: len(p.RecordBatches) > 0}
			}
		}
		return out
	}
	produce := func(p int32, n int) {
		t.Helper()
		for range n {
			require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte("v")}).FirstErr())
		}
	}

	require.Len(t, fetch(0), parts, "the full fetch opening the session answers every partition")
	require.NotZero(t, sessionID)
	require.Empty(t, fetch(0), "nothing changed")

	produce(3, 1)
	produce(17, 2)
	require.Equal(t, map[int32]news{3: {hw: 1, withRecords: true}, 17: {hw: 2, withRecords: true}}, fetch(0))
	require.Equal(t, map[int32]news{3: {hw: 1, withRecords: true}, 17: {hw: 2, withRecords: true}}, fetch(0),
		"records not yet taken (the fetch offset did not move) are sent again")
	offsets[3], offsets[17] = 1, 2
	require.Empty(t, fetch(0, 3, 17), "named at their ends, they have no news")
	require.Empty(t, fetch(0))

	// DeleteRecords moves a log start offset and nothing else.
	produce(9, 3)
	offsets[9] = 3
	require.Equal(t, map[int32]news{9: {hw: 3}}, fetch(0, 9))
	dr := kmsg.NewPtrDeleteRecordsRequest()
	drt := kmsg.NewDeleteRecordsRequestTopic()
	drt.Topic = topic
	drt.Partitions = []kmsg.DeleteRecordsRequestTopicPartition{{Partition: 9, Offset: 2}}
	dr.Topics, dr.TimeoutMillis = []kmsg.DeleteRecordsRequestTopic{drt}, 5000
	drResp, err := dr.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.EqualValues(t, 0, drResp.Topics[0].Partitions[0].ErrorCode)
	require.Equal(t, map[int32]news{9: {hw: 3, start: 2}}, fetch(0))
	require.Empty(t, fetch(0))

	// A leadership change the replication layer applies without a new
	// metadata image (the image is what makes a fetch read everything):
	// the follower still serves this consumer (Fetch v11+, KIP-392), so
	// there is no news, as after it leads again.
	p21 := n.broker.replicas.Get(topic, 21)
	st := p21.State()
	n.broker.replicas.Apply(p21, replication.LeaderAndISR{Leader: 2, LeaderEpoch: st.LeaderEpoch + 1, PartitionEpoch: st.PartitionEpoch + 1,
		Replicas: []int32{1, 2}, ISR: []int32{1, 2}})
	require.Empty(t, fetch(0), "a follower serves the consumer")
	n.broker.replicas.Apply(p21, replication.LeaderAndISR{Leader: 1, LeaderEpoch: st.LeaderEpoch + 2, PartitionEpoch: st.PartitionEpoch + 2,
		Replicas: []int32{1}, ISR: []int32{1}})
	require.Empty(t, fetch(0), "leading again: no news")

	// A parked incremental fetch wakes for an append to a quiet partition.
	done := make(chan map[int32]news, 1)
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 20_000, 1, 1<<20
	req.SessionID, req.SessionEpoch = sessionID, epoch
	go func() {
		resp, err := req.RequestWith(ctx, cl)
		out := map[int32]news{}
		if err == nil && resp.ErrorCode == 0 {
			for _, tr := range resp.Topics {
				for _, p := range tr.Partitions {
					out[p.Partition] = news{code: p.ErrorCode, hw: p.HighWatermark, start: p.LogStartOffset, withRecords: len(p.RecordBatches) > 0}
				}
			}
		}
		done <- out
	}()
	epoch++
	produce(33, 1)
	got := <-done
	require.Equal(t, news{hw: 1, withRecords: true}, got[33], "woken by the append (a timeout would answer without it)")
}
