package replication

import "slices"

// The ISR and high watermark rules, as pure functions of the leader's view
// (Kafka's Partition and Replica): no locks, no clocks, no I/O. Partition
// calls them under its lock; rules_test.go has their tables.

// UnknownOffset is a follower's log end or start offset before its first
// fetch under the current leader.
const UnknownOffset = -1

// ReplicaState is the leader's view of one follower (Kafka's ReplicaState),
// updated by every fetch the follower sends.
type ReplicaState struct {
	// LogStartOffset and LogEndOffset are the follower's, as its last
	// fetch said (the fetch offset is its log end); UnknownOffset before
	// the first fetch under this leader.
	LogStartOffset int64
	LogEndOffset   int64
	// LastFetchLeaderLogEndOffset is the leader's log end offset when the
	// previous fetch arrived, LastFetchTimeMs that fetch's time.
	LastFetchLeaderLogEndOffset int64
	LastFetchTimeMs             int64
	// LastCaughtUpTimeMs is the last time the follower had read up to
	// the leader's log end offset (as of some fetch): the ISR lag clock.
	LastCaughtUpTimeMs int64
	// BrokerEpoch is the follower's broker epoch from its last fetch
	// (-1: it sent none, Fetch < v15); HasBrokerEpoch is false until the
	// follower fetched under this leader.
	BrokerEpoch    int64
	HasBrokerEpoch bool
}

// NewReplicaState is a follower the leader has heard nothing from.
func NewReplicaState() ReplicaState {
	return ReplicaState{LogStartOffset: UnknownOffset, LogEndOffset: UnknownOffset, BrokerEpoch: -1}
}

// IsCaughtUp: the follower has the leader's whole log, or had it (as of a
// fetch) within maxLagMs. The second case matters: under a steady stream of
// small appends a healthy follower's log end is never equal to the leader's.
func (s ReplicaState) IsCaughtUp(leaderEndOffset, nowMs, maxLagMs int64) bool {
	return s.LogEndOffset == leaderEndOffset || nowMs-s.LastCaughtUpTimeMs <= maxLagMs
}

// FollowerFetch is what one follower fetch tells the leader.
type FollowerFetch struct {
	FetchOffset     int64 // the follower's log end offset
	LogStartOffset  int64 // the follower's log start offset
	FetchTimeMs     int64
	LeaderEndOffset int64 // the leader's log end offset before the read
	BrokerEpoch     int64 // -1 when the request carries none
}

// AfterFetch is s updated by a fetch (Kafka's updateFetchStateOrThrow). The
// follower caught up at this fetch if it asked from the leader's log end,
// and at the previous one if it now asks from where the leader's log ended
// then.
func (s ReplicaState) AfterFetch(f FollowerFetch) ReplicaState {
	caughtUp := s.LastCaughtUpTimeMs
	switch {
	case f.FetchOffset >= f.LeaderEndOffset:
		caughtUp = max(caughtUp, f.FetchTimeMs)
	case f.FetchOffset >= s.LastFetchLeaderLogEndOffset:
		caughtUp = max(caughtUp, s.LastFetchTimeMs)
	}
	return ReplicaState{
		LogStartOffset:              f.LogStartOffset,
		LogEndOffset:                f.FetchOffset,
		LastFetchLeaderLogEndOffset: max(f.LeaderEndOffset, s.LastFetchLeaderLogEndOffset),
		LastFetchTimeMs:             f.FetchTimeMs,
		LastCaughtUpTimeMs:          caughtUp,
		BrokerEpoch:                 f.BrokerEpoch,
		HasBrokerEpoch:              true,
	}
}

// AfterQuietFetch is s after a fetch at atMs that the leader answered
// without reading the partition, because its incremental fetch session
// (ChangeFeed) knew nothing had changed since a read that found the
// follower at the leader's log end: a fetch from the follower's log end
// while the leader's log still ended there, which is what reading it would
// have recorded. Without it an idle partition's follower would look
// caught up only as of its last read, and the first append after a long
// quiet spell would find it "not caught up for replica.lag.time.max.ms".
// A follower not known to have fetched, or a time not after its last
// fetch, leaves s as it is.
func (s ReplicaState) AfterQuietFetch(atMs int64) ReplicaState {
	if !s.HasBrokerEpoch || atMs <= s.LastFetchTimeMs {
		return s
	}
	return s.AfterFetch(FollowerFetch{
		FetchOffset: s.LogEndOffset, LogStartOffset: s.LogStartOffset, FetchTimeMs: atMs,
		LeaderEndOffset: s.LogEndOffset, BrokerEpoch: s.BrokerEpoch,
	})
}

// Reset is s when this broker starts a new leader epoch (Kafka's
// resetReplicaState). An ISR member counts as caught up now; anyone else as
// never, so it cannot hold the high watermark back. A broker that just
// became leader forgets what it knew of the follower's log.
func (s ReplicaState) Reset(nowMs, leaderEndOffset int64, newLeader, inISR bool) ReplicaState {
	caughtUp := int64(0)
	if inISR {
		caughtUp = nowMs
	}
	if newLeader {
		r := NewReplicaState()
		r.LastCaughtUpTimeMs = caughtUp
		return r
	}
	s.LastFetchLeaderLogEndOffset = leaderEndOffset
	s.LastFetchTimeMs = caughtUp // 0 keeps a non-member out of the ISR until it fetches
	s.LastCaughtUpTimeMs = caughtUp
	return s
}

// Follower is one remote replica in the assignment and what the leader
// knows of it.
type Follower struct {
	ID    int32
	State ReplicaState
	// Eligible: the follower may be in the ISR (registered, not fenced,
	// not shutting down, broker epoch current); see IsrEligible.
	Eligible bool
}

// IsrEligible is Kafka's isReplicaIsrEligible for KRaft: the broker is
// alive in the metadata (registered, not fenced, not in controlled
// shutdown) and the broker epoch of its fetches is the registered one (or
// its fetches carry none).
func IsrEligible(s ReplicaState, registeredEpoch int64, alive bool) bool {
	return alive && s.HasBrokerEpoch && (s.BrokerEpoch == -1 || s.BrokerEpoch == registeredEpoch)
}

// HighWatermarkInput is what the leader's high watermark depends on.
type HighWatermarkInput struct {
	LeaderEndOffset int64
	Followers       []Follower
	// ISR is the committed ISR; MaximalISR adds a member whose
	// expansion is in flight (Kafka's maximalIsr), since a batch is not
	// committed until that member has it too.
	ISR, MaximalISR []int32
	// MinISR is the effective min.insync.replicas.
	MinISR          int
	NowMs, MaxLagMs int64
}

// HighWatermark is where the leader's high watermark may move (Kafka 4.3's
// maybeIncrementLeaderHW): the smallest log end offset among the leader and
// the followers in the maximal ISR, and also among followers that are caught
// up and eligible but not in the ISR yet, so that one joining never finds
// the high watermark beyond its log. ok is false when the committed ISR is
// below the min ISR: the high watermark does not move at all then
// (KIP-966). The caller never moves the high watermark down.
func HighWatermark(in HighWatermarkInput) (hw int64, ok bool) {
	if len(in.ISR) < in.MinISR {
		return 0, false
	}
	hw = in.LeaderEndOffset
	for _, f := range in.Followers {
		if f.State.LogEndOffset >= hw {
			continue
		}
		if slices.Contains(in.MaximalISR, f.ID) ||
			(f.Eligible && f.State.IsCaughtUp(in.LeaderEndOffset, in.NowMs, in.MaxLagMs)) {
			hw = f.State.LogEndOffset
		}
	}
	return hw, true
}

// OutOfSyncReplicas are the ISR members other than the leader (self) that
// have not been caught up within maxLagMs (Kafka's getOutOfSyncReplicas):
// stuck followers (no fetch) and slow ones (fetching, never reaching the
// leader's log end) alike. A member the leader has no state for is out of
// sync.
func OutOfSyncReplicas(self int32, isr []int32, followers []Follower, leaderEndOffset, nowMs, maxLagMs int64) []int32 {
	var out []int32
	for _, id := range isr {
		if id == self {
			continue
		}
		i := slices.IndexFunc(followers, func(f Follower) bool { return f.ID == id })
		if i < 0 || !followers[i].State.IsCaughtUp(leaderEndOffset, nowMs, maxLagMs) {
			out = append(out, id)
		}
	}
	return out
}

// CanJoinISR is Kafka's isFollowerInSync: a follower may join the ISR once
// its log reaches both the high watermark and the start of the leader's
// current epoch. The second bound keeps a follower that has not yet got
// this leader's first batch from joining and later being elected without
// data the old leader committed.
func CanJoinISR(followerEndOffset, highWatermark, leaderEpochStartOffset int64) bool {
	return followerEndOffset >= highWatermark && followerEndOffset >= leaderEpochStartOffset
}

// Acked is checkEnoughReplicasReachOffset for an acks=all append that
// needs the high watermark at required: done once the high watermark
// covers it, with ErrNotEnoughReplicasAfterAppend if the ISR shrank below
// min ISR while it waited.
func Acked(highWatermark, required int64, maximalISR, minISR int) (done bool, err error) {
	if highWatermark < required {
		return false, nil
	}
	if maximalISR < minISR {
		return true, ErrNotEnoughReplicasAfterAppend
	}
	return true, nil
}
