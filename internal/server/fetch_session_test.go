package server

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
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
