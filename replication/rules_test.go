package replication

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func rs(leo, caughtUpMs int64) ReplicaState {
	s := NewReplicaState()
	s.LogEndOffset, s.LastCaughtUpTimeMs = leo, caughtUpMs
	return s
}

func TestIsCaughtUp(t *testing.T) {
	for _, tc := range []struct {
		name           string
		s              ReplicaState
		leaderEnd, now int64
		maxLag         int64
		want           bool
	}{
		{"at the log end", rs(100, 0), 100, 50_000, 30_000, true},
		{"behind, caught up recently", rs(90, 25_000), 100, 50_000, 30_000, true},
		{"behind, exactly max lag ago", rs(90, 20_000), 100, 50_000, 30_000, true},
		{"behind, too long ago", rs(90, 19_999), 100, 50_000, 30_000, false},
		{"never fetched, never caught up", rs(UnknownOffset, 0), 100, 50_000, 30_000, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.s.IsCaughtUp(tc.leaderEnd, tc.now, tc.maxLag))
		})
	}
}

func TestAfterFetch(t *testing.T) {
	prev := ReplicaState{LogStartOffset: 0, LogEndOffset: 50, LastFetchLeaderLogEndOffset: 80, LastFetchTimeMs: 1000, LastCaughtUpTimeMs: 500, BrokerEpoch: 7, HasBrokerEpoch: true}
	for _, tc := range []struct {
		name         string
		f            FollowerFetch
		wantCaughtUp int64
		wantLastLEO  int64
	}{
		{"reads from the leader's log end: caught up now", FollowerFetch{FetchOffset: 100, FetchTimeMs: 2000, LeaderEndOffset: 100}, 2000, 100},
		{"reaches where the log ended at the last fetch: caught up then", FollowerFetch{FetchOffset: 80, FetchTimeMs: 2000, LeaderEndOffset: 120}, 1000, 120},
		{"behind both: unchanged", FollowerFetch{FetchOffset: 60, FetchTimeMs: 2000, LeaderEndOffset: 120}, 500, 120},
		{"leader log end moved back (truncated): the larger is kept", FollowerFetch{FetchOffset: 60, FetchTimeMs: 2000, LeaderEndOffset: 70}, 500, 80},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.f.LogStartOffset, tc.f.BrokerEpoch = 3, 8
			got := prev.AfterFetch(tc.f)
			require.Equal(t, tc.wantCaughtUp, got.LastCaughtUpTimeMs)
			require.Equal(t, tc.wantLastLEO, got.LastFetchLeaderLogEndOffset)
			require.Equal(t, tc.f.FetchOffset, got.LogEndOffset)
			require.Equal(t, int64(3), got.LogStartOffset)
			require.Equal(t, tc.f.FetchTimeMs, got.LastFetchTimeMs)
			require.Equal(t, int64(8), got.BrokerEpoch)
			require.True(t, got.HasBrokerEpoch)
		})
	}
	t.Run("caught-up time never goes back", func(t *testing.T) {
		s := prev
		s.LastCaughtUpTimeMs = 5000
		got := s.AfterFetch(FollowerFetch{FetchOffset: 100, FetchTimeMs: 2000, LeaderEndOffset: 100})
		require.Equal(t, int64(5000), got.LastCaughtUpTimeMs)
	})
}

func TestAfterQuietFetch(t *testing.T) {
	// The follower read up to the leader's log end (100) at 1000.
	at := ReplicaState{LogStartOffset: 3, LogEndOffset: 100, LastFetchLeaderLogEndOffset: 100, LastFetchTimeMs: 1000, LastCaughtUpTimeMs: 1000, BrokerEpoch: 7, HasBrokerEpoch: true}
	for _, tc := range []struct {
		name string
		s    ReplicaState
		atMs int64
		want ReplicaState
	}{
		{"skipped later: caught up and fetched then", at, 40_000,
			ReplicaState{LogStartOffset: 3, LogEndOffset: 100, LastFetchLeaderLogEndOffset: 100, LastFetchTimeMs: 40_000, LastCaughtUpTimeMs: 40_000, BrokerEpoch: 7, HasBrokerEpoch: true}},
		{"not after the last fetch: unchanged", at, 1000, at},
		{"earlier than the last fetch: unchanged", at, 500, at},
		{"never fetched under this leader: unchanged", NewReplicaState(), 40_000, NewReplicaState()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.s.AfterQuietFetch(tc.atMs))
		})
	}
	t.Run("the next append finds it caught up as of the skip", func(t *testing.T) {
		// Quiet for 40 s (replica.lag.time.max.ms is 30 s), then the
		// leader appends and the follower's next read is still at 100.
		s := at.AfterQuietFetch(40_000).AfterFetch(FollowerFetch{FetchOffset: 100, FetchTimeMs: 40_010, LeaderEndOffset: 101, LogStartOffset: 3, BrokerEpoch: 7})
		require.True(t, s.IsCaughtUp(101, 40_020, 30_000))
		without := at.AfterFetch(FollowerFetch{FetchOffset: 100, FetchTimeMs: 40_010, LeaderEndOffset: 101, LogStartOffset: 3, BrokerEpoch: 7})
		require.False(t, without.IsCaughtUp(101, 40_020, 30_000), "what reading only changed partitions would get wrong")
	})
}

func TestReset(t *testing.T) {
	s := ReplicaState{LogStartOffset: 3, LogEndOffset: 50, LastFetchLeaderLogEndOffset: 80, LastFetchTimeMs: 1000, LastCaughtUpTimeMs: 500, BrokerEpoch: 7, HasBrokerEpoch: true}
	for _, tc := range []struct {
		name             string
		newLeader, inISR bool
		want             ReplicaState
	}{
		{"new leader, ISR member", true, true, ReplicaState{LogStartOffset: -1, LogEndOffset: -1, LastCaughtUpTimeMs: 9000, BrokerEpoch: -1}},
		{"new leader, not in ISR", true, false, ReplicaState{LogStartOffset: -1, LogEndOffset: -1, BrokerEpoch: -1}},
		{"re-elected, ISR member", false, true, ReplicaState{LogStartOffset: 3, LogEndOffset: 50, LastFetchLeaderLogEndOffset: 200, LastFetchTimeMs: 9000, LastCaughtUpTimeMs: 9000, BrokerEpoch: 7, HasBrokerEpoch: true}},
		{"re-elected, not in ISR", false, false, ReplicaState{LogStartOffset: 3, LogEndOffset: 50, LastFetchLeaderLogEndOffset: 200, BrokerEpoch: 7, HasBrokerEpoch: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, s.Reset(9000, 200, tc.newLeader, tc.inISR))
		})
	}
}

func TestIsrEligible(t *testing.T) {
	fetched := func(epoch int64) ReplicaState {
		s := NewReplicaState()
		s.BrokerEpoch, s.HasBrokerEpoch = epoch, true
		return s
	}
	for _, tc := range []struct {
		name       string
		s          ReplicaState
		registered int64
		alive      bool
		want       bool
	}{
		{"alive, same epoch", fetched(5), 5, true, true},
		{"alive, fetch without epoch", fetched(-1), 5, true, true},
		{"alive, stale epoch (restarted broker)", fetched(4), 5, true, false},
		{"fenced or shutting down", fetched(5), 5, false, false},
		{"never fetched", NewReplicaState(), 5, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, IsrEligible(tc.s, tc.registered, tc.alive))
		})
	}
}

func TestHighWatermark(t *testing.T) {
	const now, lag = 100_000, 30_000
	f := func(id int32, leo, caughtUp int64, eligible bool) Follower {
		return Follower{ID: id, State: rs(leo, caughtUp), Eligible: eligible}
	}
	for _, tc := range []struct {
		name      string
		leaderEnd int64
		followers []Follower
		isr, maxi []int32
		minISR    int
		want      int64
		wantOK    bool
	}{
		{"single replica: the log end", 100, nil, []int32{1}, []int32{1}, 1, 100, true},
		{"ISR {1,2,3}: the smallest log end", 100,
			[]Follower{f(2, 80, now, true), f(3, 90, now, true)}, []int32{1, 2, 3}, []int32{1, 2, 3}, 1, 80, true},
		{"followers ahead of nothing: the leader's log end", 100,
			[]Follower{f(2, 100, now, true), f(3, 100, now, true)}, []int32{1, 2, 3}, []int32{1, 2, 3}, 2, 100, true},
		{"new leader, followers unknown: holds at -1 (caller keeps the old HW)", 100,
			[]Follower{f(2, UnknownOffset, now, true), f(3, UnknownOffset, now, true)}, []int32{1, 2, 3}, []int32{1, 2, 3}, 1, UnknownOffset, true},
		{"out of the ISR and lagging: ignored", 100,
			[]Follower{f(2, 95, now, true), f(3, 10, 0, true)}, []int32{1, 2}, []int32{1, 2}, 1, 95, true},
		{"out of the ISR but caught up and eligible: waited for", 100,
			[]Follower{f(2, 95, now, true), f(3, 90, now-1000, true)}, []int32{1, 2}, []int32{1, 2}, 1, 90, true},
		{"out of the ISR, caught up, not eligible (fenced): ignored", 100,
			[]Follower{f(2, 95, now, true), f(3, 90, now-1000, false)}, []int32{1, 2}, []int32{1, 2}, 1, 95, true},
		{"expansion in flight counts (maximal ISR)", 100,
			[]Follower{f(2, 95, now, true), f(3, 70, 0, false)}, []int32{1, 2}, []int32{1, 2, 3}, 1, 70, true},
		{"under min ISR: no move", 100,
			[]Follower{f(2, 10, 0, true), f(3, 10, 0, true)}, []int32{1}, []int32{1}, 2, 0, false},
		{"min ISR capped by replicas: rf 1, min 2 still moves", 100, nil, []int32{1}, []int32{1}, EffectiveMinISR(2, 1), 100, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hw, ok := HighWatermark(HighWatermarkInput{
				LeaderEndOffset: tc.leaderEnd, Followers: tc.followers, ISR: tc.isr, MaximalISR: tc.maxi,
				MinISR: tc.minISR, NowMs: now, MaxLagMs: lag,
			})
			require.Equal(t, tc.wantOK, ok)
			if ok {
				require.Equal(t, tc.want, hw)
			}
		})
	}
}

func TestOutOfSyncReplicas(t *testing.T) {
	const now, lag = 100_000, 30_000
	f := func(id int32, leo, caughtUp int64) Follower { return Follower{ID: id, State: rs(leo, caughtUp)} }
	for _, tc := range []struct {
		name      string
		isr       []int32
		followers []Follower
		want      []int32
	}{
		{"all caught up", []int32{1, 2, 3}, []Follower{f(2, 100, 0), f(3, 90, now-lag)}, nil},
		{"one stuck past the lag", []int32{1, 2, 3}, []Follower{f(2, 100, 0), f(3, 90, now-lag-1)}, []int32{3}},
		{"both slow", []int32{1, 2, 3}, []Follower{f(2, 99, 1), f(3, 90, 2)}, []int32{2, 3}},
		{"member the leader has no state for", []int32{1, 4}, []Follower{f(2, 100, now)}, []int32{4}},
		{"the leader itself never", []int32{1}, nil, nil},
		{"non-members are not candidates", []int32{1, 2}, []Follower{f(2, 100, now), f(3, 0, 0)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, OutOfSyncReplicas(1, tc.isr, tc.followers, 100, now, lag))
		})
	}
}

func TestCanJoinISR(t *testing.T) {
	for _, tc := range []struct {
		name                string
		leo, hw, epochStart int64
		want                bool
	}{
		{"at hw and epoch start", 100, 100, 100, true},
		{"past both", 120, 100, 90, true},
		{"below hw", 99, 100, 50, false},
		{"at hw, below this leader's first offset", 100, 100, 110, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, CanJoinISR(tc.leo, tc.hw, tc.epochStart))
		})
	}
}

func TestAcked(t *testing.T) {
	for _, tc := range []struct {
		name            string
		hw, required    int64
		maximal, minISR int
		done            bool
		err             error
	}{
		{"not yet", 10, 11, 3, 2, false, nil},
		{"covered", 11, 11, 3, 2, true, nil},
		{"covered after the ISR shrank below min", 11, 11, 1, 2, true, ErrNotEnoughReplicasAfterAppend},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done, err := Acked(tc.hw, tc.required, tc.maximal, tc.minISR)
			require.Equal(t, tc.done, done)
			require.Equal(t, tc.err, err)
		})
	}
}
