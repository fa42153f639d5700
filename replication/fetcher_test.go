package replication

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/protocol/records"
	"github.com/spool-broker/spool/storage"
)

// scriptedLeader is a LeaderEndpoint whose answers a test writes: each
// handler sees the request and answers for the single partition asked.
type scriptedLeader struct {
	mu      sync.Mutex
	fetch   func(FetchPartition) FetchPartitionResponse
	epochs  func(OffsetForLeaderEpochPartition) OffsetForLeaderEpochPartitionResponse
	offsets func(ListOffsetsPartition) ListOffsetsPartitionResponse
	// seen records every request's first partition, as "kind offset/epoch".
	seen []string
}

func (s *scriptedLeader) log(format string, args ...any) {
	s.mu.Lock()
	s.seen = append(s.seen, fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

func (s *scriptedLeader) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

func (s *scriptedLeader) Fetch(ctx context.Context, req *FetchRequest) (*FetchResponse, error) {
	resp := &FetchResponse{}
	for _, fp := range req.Partitions {
		s.log("fetch %d/%d", fp.FetchOffset, fp.LastFetchedEpoch)
		s.mu.Lock()
		fn := s.fetch
		s.mu.Unlock()
		pr := fn(fp)
		pr.TopicPartition = fp.TopicPartition
		resp.Partitions = append(resp.Partitions, pr)
	}
	// A caught-up follower's fetch would wait on the leader.
	select {
	case <-ctx.Done():
	case <-time.After(time.Millisecond):
	}
	return resp, nil
}

func (s *scriptedLeader) OffsetForLeaderEpoch(ctx context.Context, req *OffsetForLeaderEpochRequest) (*OffsetForLeaderEpochResponse, error) {
	resp := &OffsetForLeaderEpochResponse{}
	for _, p := range req.Partitions {
		s.log("epoch %d", p.LeaderEpoch)
		pr := s.epochs(p)
		pr.TopicPartition = p.TopicPartition
		resp.Partitions = append(resp.Partitions, pr)
	}
	return resp, nil
}

func (s *scriptedLeader) ListOffsets(ctx context.Context, req *ListOffsetsRequest) (*ListOffsetsResponse, error) {
	resp := &ListOffsetsResponse{}
	for _, p := range req.Partitions {
		s.log("list %d", p.Timestamp)
		pr := s.offsets(p)
		pr.TopicPartition = p.TopicPartition
		resp.Partitions = append(resp.Partitions, pr)
	}
	return resp, nil
}

// leaderBatch is a batch as a leader stored it: offsets from base, epoch.
func leaderBatch(t *testing.T, base int64, epoch int32, n int) []byte {
	t.Helper()
	o := records.NewBatchOptions()
	o.BaseOffset, o.PartitionLeaderEpoch = base, epoch
	recs := make([]records.Record, n)
	for i := range recs {
		recs[i] = records.Record{Timestamp: time.Now().UnixMilli(), Value: fmt.Appendf(nil, "e%d-%d", epoch, base+int64(i))}
	}
	b, err := records.AppendBatch(nil, o, recs)
	require.NoError(t, err)
	return b
}

// followerWithLog builds broker 2 holding testTP with a log written as
// leader under each epoch in turn (counts[i] records under epochs[i]),
// then makes it follow broker 1 under leader epoch follow, fetching from
// leader.
func followerWithLog(t *testing.T, leader *scriptedLeader, epochs []int32, counts []int, follow int32) (*Partition, *Manager) {
	t.Helper()
	logs, err := storage.NewManager(storage.ManagerConfig{Dirs: []string{t.TempDir()}, Default: storage.DefaultConfig()}, zaptest.NewLogger(t))
	require.NoError(t, err)
	m := NewManager(Config{NodeID: 2, Clock: NewManualClock(time.Unix(1000, 0)), Endpoints: func(int32) LeaderEndpoint { return leader },
		Fetcher: FetcherConfig{Backoff: time.Millisecond, MaxWait: time.Millisecond}}, logs, zaptest.NewLogger(t))
	t.Cleanup(func() {
		m.Close()
		require.NoError(t, logs.Close())
	})
	p, err := m.Open(testTP, [16]byte{1}, storage.DefaultConfig(), &config.LogSettings{MinInsyncReplicas: 1})
	require.NoError(t, err)
	pe := int32(1)
	for i, e := range epochs {
		m.Apply(p, LeaderAndISR{Leader: 2, LeaderEpoch: e, PartitionEpoch: pe, Replicas: []int32{1, 2}, ISR: []int32{2}})
		pe++
		for range counts[i] { // one record a batch: truncation cuts between any two
			_, err := p.AppendAsLeader(batch(t, 1), AppendOptions{RequiredAcks: 1})
			require.NoError(t, err)
		}
	}
	m.Apply(p, LeaderAndISR{Leader: 1, LeaderEpoch: follow, PartitionEpoch: pe, Replicas: []int32{1, 2}, ISR: []int32{1, 2}})
	return p, m
}

func epochEntries(p *Partition) []storage.EpochEntry { return p.Log().LeaderEpochCache().Entries() }

func waitLog(t *testing.T, p *Partition, leo, hw int64) {
	t.Helper()
	require.Eventually(t, func() bool {
		return p.Log().LogEndOffset() == leo && p.Log().HighWatermark() == hw
	}, 10*time.Second, time.Millisecond, "log end %d and high watermark %d", leo, hw)
}

// TestFetcherTruncatesByLeaderEpoch: on becoming follower the fetcher asks
// the leader where its latest epoch ends and truncates there, again and
// again while the leader names epochs it never had (KIP-279), then fetches
// from that point with the epoch it has last.
func TestFetcherTruncatesByLeaderEpoch(t *testing.T) {
	// The follower: epoch 1 at [0,3), epoch 3 at [3,6). The leader had
	// epoch 1 up to 2 and then epoch 2; it never saw epoch 3.
	leader := &scriptedLeader{
		epochs: func(p OffsetForLeaderEpochPartition) OffsetForLeaderEpochPartitionResponse {
			switch p.LeaderEpoch {
			case 3:
				return OffsetForLeaderEpochPartitionResponse{EpochEndOffset: EpochEndOffset{Epoch: 2, EndOffset: 5}}
			case 1:
				return OffsetForLeaderEpochPartitionResponse{EpochEndOffset: EpochEndOffset{Epoch: 1, EndOffset: 2}}
			}
			return OffsetForLeaderEpochPartitionResponse{Err: ErrInvalidRequest}
		},
	}
	var served sync.Once
	leader.fetch = func(fp FetchPartition) FetchPartitionResponse {
		resp := FetchPartitionResponse{HighWatermark: 4, LogStartOffset: 0}
		if fp.FetchOffset == 2 {
			served.Do(func() { resp.Records = append(leaderBatch(t, 2, 2, 3), leaderBatch(t, 5, 4, 1)...) })
		}
		return resp
	}
	p, _ := followerWithLog(t, leader, []int32{1, 3}, []int{3, 3}, 4)
	waitLog(t, p, 6, 4)
	require.Equal(t, []storage.EpochEntry{{Epoch: 1, StartOffset: 0}, {Epoch: 2, StartOffset: 2}, {Epoch: 4, StartOffset: 5}}, epochEntries(p))
	got := leader.requests()
	require.Equal(t, []string{"epoch 3", "epoch 1", "fetch 2/1"}, got[:3], "truncate to 3 (end of own epoch 1), ask again, truncate to 2")
	require.Contains(t, got, "fetch 6/4")
}

// TestFetcherDivergingEpoch: a fetch answered with a diverging epoch
// truncates the follower to that epoch's end and fetches on from there.
func TestFetcherDivergingEpoch(t *testing.T) {
	leader := &scriptedLeader{
		epochs: func(p OffsetForLeaderEpochPartition) OffsetForLeaderEpochPartitionResponse {
			// Wrong on purpose: "nothing to truncate".
			return OffsetForLeaderEpochPartitionResponse{EpochEndOffset: EpochEndOffset{Epoch: p.LeaderEpoch, EndOffset: 100}}
		},
	}
	leader.fetch = func(fp FetchPartition) FetchPartitionResponse {
		switch {
		case fp.FetchOffset == 5 && fp.LastFetchedEpoch == 1:
			return FetchPartitionResponse{HighWatermark: 3, LogStartOffset: 0, DivergingEpoch: &EpochEndOffset{Epoch: 1, EndOffset: 3}}
		case fp.FetchOffset == 3:
			return FetchPartitionResponse{HighWatermark: 3, LogStartOffset: 0, Records: leaderBatch(t, 3, 2, 2)}
		}
		return FetchPartitionResponse{HighWatermark: 5, LogStartOffset: 0}
	}
	p, _ := followerWithLog(t, leader, []int32{1}, []int{5}, 2)
	require.Eventually(t, func() bool { return len(epochEntries(p)) == 2 }, 10*time.Second, time.Millisecond)
	waitLog(t, p, 5, 5)
	require.Equal(t, []storage.EpochEntry{{Epoch: 1, StartOffset: 0}, {Epoch: 2, StartOffset: 3}}, epochEntries(p))
	require.Subset(t, leader.requests(), []string{"epoch 1", "fetch 5/1", "fetch 3/1", "fetch 5/2"})
}

// TestFetcherOffsetOutOfRange covers Kafka's two out-of-range cases: the
// leader's log ends before the follower's (an unclean leader change:
// truncate to its end) and starts after it (retention or DeleteRecords:
// restart the log at the leader's start).
func TestFetcherOffsetOutOfRange(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		leaderStart, leaderEnd int64
		wantStart, wantEnd     int64
	}{
		{"leader log shorter", 0, 2, 0, 2},
		{"leader log starts later", 50, 100, 50, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leader := &scriptedLeader{
				epochs: func(p OffsetForLeaderEpochPartition) OffsetForLeaderEpochPartitionResponse {
					return OffsetForLeaderEpochPartitionResponse{EpochEndOffset: EpochEndOffset{Epoch: p.LeaderEpoch, EndOffset: 100}}
				},
				offsets: func(p ListOffsetsPartition) ListOffsetsPartitionResponse {
					if p.Timestamp == LatestTimestamp {
						return ListOffsetsPartitionResponse{Offset: tc.leaderEnd, LeaderEpoch: 2}
					}
					return ListOffsetsPartitionResponse{Offset: tc.leaderStart, LeaderEpoch: 1}
				},
			}
			leader.fetch = func(fp FetchPartition) FetchPartitionResponse {
				if fp.FetchOffset == 5 {
					return FetchPartitionResponse{Err: fmt.Errorf("fetch 5: %w", storage.ErrOffsetOutOfRange)}
				}
				return FetchPartitionResponse{HighWatermark: tc.wantEnd, LogStartOffset: tc.leaderStart}
			}
			p, _ := followerWithLog(t, leader, []int32{1}, []int{5}, 2)
			require.Eventually(t, func() bool {
				reqs := leader.requests()
				return len(reqs) > 0 && reqs[len(reqs)-1] == fmt.Sprintf("fetch %d/%d", tc.wantEnd, map[bool]int32{true: -1, false: 1}[tc.wantStart > 0])
			}, 10*time.Second, time.Millisecond)
			require.Equal(t, tc.wantStart, p.Log().LogStartOffset())
			require.Equal(t, tc.wantEnd, p.Log().LogEndOffset())
		})
	}
}

// TestFetcherAppliesLeaderOffsets: the follower's high watermark is
// min(leader's, own log end); its log start follows the leader's (never
// past its own high watermark); batches of an epoch newer than the one
// followed are not appended.
func TestFetcherAppliesLeaderOffsets(t *testing.T) {
	var mu sync.Mutex
	step := 0
	leader := &scriptedLeader{
		epochs: func(p OffsetForLeaderEpochPartition) OffsetForLeaderEpochPartitionResponse {
			return OffsetForLeaderEpochPartitionResponse{EpochEndOffset: EpochEndOffset{Epoch: p.LeaderEpoch, EndOffset: 100}}
		},
	}
	leader.fetch = func(fp FetchPartition) FetchPartitionResponse {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case fp.FetchOffset == 3 && step == 0:
			step++
			// Leader's high watermark is past what it sends this time.
			return FetchPartitionResponse{HighWatermark: 9, LogStartOffset: 0, Records: leaderBatch(t, 3, 2, 2)}
		case fp.FetchOffset == 5 && step == 1:
			step++
			return FetchPartitionResponse{HighWatermark: 5, LogStartOffset: 4, Records: leaderBatch(t, 5, 3, 1)}
		}
		return FetchPartitionResponse{HighWatermark: 5, LogStartOffset: 4}
	}
	p, _ := followerWithLog(t, leader, []int32{1}, []int{3}, 2)
	waitLog(t, p, 5, 5)
	require.Eventually(t, func() bool { return p.Log().LogStartOffset() == 4 }, 10*time.Second, time.Millisecond)
	require.Never(t, func() bool { return p.Log().LogEndOffset() > 5 }, 20*time.Millisecond, time.Millisecond,
		"a batch of epoch 3 while following epoch 2 is not appended")
}

// TestFetcherFencedWaitsForMetadata: FENCED_LEADER_EPOCH stops fetching the
// partition until new metadata restarts it.
func TestFetcherFencedWaitsForMetadata(t *testing.T) {
	leader := &scriptedLeader{
		epochs: func(p OffsetForLeaderEpochPartition) OffsetForLeaderEpochPartitionResponse {
			if p.CurrentLeaderEpoch < 3 {
				return OffsetForLeaderEpochPartitionResponse{Err: ErrFencedLeaderEpoch}
			}
			return OffsetForLeaderEpochPartitionResponse{EpochEndOffset: EpochEndOffset{Epoch: p.LeaderEpoch, EndOffset: 100}}
		},
		fetch: func(fp FetchPartition) FetchPartitionResponse {
			return FetchPartitionResponse{HighWatermark: 1, LogStartOffset: 0}
		},
	}
	p, m := followerWithLog(t, leader, []int32{1}, []int{1}, 2)
	require.Eventually(t, func() bool { return len(leader.requests()) == 1 }, 10*time.Second, time.Millisecond)
	require.Never(t, func() bool { return len(leader.requests()) > 1 }, 30*time.Millisecond, time.Millisecond, "fenced: no retry")
	m.Apply(p, LeaderAndISR{Leader: 1, LeaderEpoch: 3, PartitionEpoch: 10, Replicas: []int32{1, 2}, ISR: []int32{1, 2}})
	require.Eventually(t, func() bool { return p.Log().HighWatermark() == 1 }, 10*time.Second, time.Millisecond)
}
