package controller

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPartitionChange checks the election rules against Kafka's
// PartitionChangeBuilder (ELR disabled).
func TestPartitionChange(t *testing.T) {
	alive := func(ids ...int32) func(int32) bool {
		return func(r int32) bool { return slices.Contains(ids, r) }
	}
	none := NoLeaderChange
	tests := []struct {
		name       string
		cur        PartitionImage
		target     []int32
		election   Election
		acceptable func(int32) bool
		wantNil    bool
		wantLeader int32
		wantISR    []int32 // nil: unchanged
		// target and wantRecovery: the leader recovery state an
		// AlterPartition asks for and the one the record sets (nil: none).
		target2      *LeaderRecoveryState
		wantRecovery *LeaderRecoveryState
	}{
		{
			name:   "leader fenced: first live ISR member in replica order leads, ISR shrinks",
			cur:    PartitionImage{Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}, Leader: 1},
			target: []int32{2, 3}, election: ElectionOnline, acceptable: alive(2, 3),
			wantLeader: 2, wantISR: []int32{2, 3},
		},
		{
			name:   "follower fenced: leader stays, ISR shrinks, no epoch bump",
			cur:    PartitionImage{Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}, Leader: 1},
			target: []int32{1, 3}, election: ElectionOnline, acceptable: alive(1, 3),
			wantLeader: none, wantISR: []int32{1, 3},
		},
		{
			name:   "last ISR member fenced: leaderless, ISR left as is",
			cur:    PartitionImage{Replicas: []int32{1, 2}, ISR: []int32{1}, Leader: 1},
			target: []int32{}, election: ElectionOnline, acceptable: alive(2),
			wantLeader: NoLeader,
		},
		{
			name:   "last ISR member fenced, unclean allowed: a live replica outside the ISR leads alone",
			cur:    PartitionImage{Replicas: []int32{1, 2}, ISR: []int32{1}, Leader: 1},
			target: []int32{}, election: ElectionUnclean, acceptable: alive(2),
			wantLeader: 2, wantISR: []int32{2}, wantRecovery: recoveryState(LeaderRecovering),
		},
		{
			name:   "unclean election of a partition still RECOVERING: stays so",
			cur:    PartitionImage{Replicas: []int32{1, 2, 3}, ISR: []int32{1}, Leader: 1, LeaderRecoveryState: LeaderRecovering},
			target: []int32{}, election: ElectionUnclean, acceptable: alive(3),
			wantLeader: 3, wantISR: []int32{3},
		},
		{
			name:   "the recovered leader's AlterPartition: RECOVERED with the expansion",
			cur:    PartitionImage{Replicas: []int32{1, 2}, ISR: []int32{2}, Leader: 2, LeaderRecoveryState: LeaderRecovering},
			target: []int32{2, 1}, election: ElectionOnline, acceptable: alive(1, 2), target2: recoveryState(LeaderRecovered),
			wantLeader: none, wantISR: []int32{2, 1}, wantRecovery: recoveryState(LeaderRecovered),
		},
		{
			name:   "RECOVERED alone is a change",
			cur:    PartitionImage{Replicas: []int32{1, 2}, ISR: []int32{2}, Leader: 2, LeaderRecoveryState: LeaderRecovering},
			target: []int32{2}, election: ElectionOnline, acceptable: alive(2), target2: recoveryState(LeaderRecovered),
			wantLeader: none, wantRecovery: recoveryState(LeaderRecovered),
		},
		{
			name:   "RECOVERED asked of a RECOVERED partition: nothing to do",
			cur:    PartitionImage{Replicas: []int32{1, 2}, ISR: []int32{1, 2}, Leader: 1},
			target: []int32{1, 2}, election: ElectionOnline, acceptable: alive(1, 2), target2: recoveryState(LeaderRecovered),
			wantNil: true,
		},
		{
			name:   "unclean allowed but an ISR member is live: clean election",
			cur:    PartitionImage{Replicas: []int32{1, 2, 3}, ISR: []int32{1, 3}, Leader: 1},
			target: []int32{3}, election: ElectionUnclean, acceptable: alive(2, 3),
			wantLeader: 3, wantISR: []int32{3},
		},
		{
			name:   "leaderless partition, ISR member comes back: it leads",
			cur:    PartitionImage{Replicas: []int32{1, 2}, ISR: []int32{1}, Leader: NoLeader},
			target: []int32{1}, election: ElectionOnline, acceptable: alive(1, 2),
			wantLeader: 1,
		},
		{
			name:   "leaderless, returning broker not in the ISR: stays leaderless",
			cur:    PartitionImage{Replicas: []int32{1, 2}, ISR: []int32{1}, Leader: NoLeader},
			target: []int32{1}, election: ElectionOnline, acceptable: alive(2),
			wantNil: true,
		},
		{
			name:   "nothing to do",
			cur:    PartitionImage{Replicas: []int32{1, 2}, ISR: []int32{1, 2}, Leader: 1},
			target: []int32{1, 2}, election: ElectionOnline, acceptable: alive(1, 2),
			wantNil: true,
		},
		{
			name:   "preferred: the first replica takes over when eligible",
			cur:    PartitionImage{Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}, Leader: 2},
			target: []int32{1, 2, 3}, election: ElectionPreferred, acceptable: alive(1, 2, 3),
			wantLeader: 1,
		},
		{
			name:   "preferred replica fenced: the current leader stays",
			cur:    PartitionImage{Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}, Leader: 2},
			target: []int32{1, 2, 3}, election: ElectionPreferred, acceptable: alive(2, 3),
			wantNil: true,
		},
		{
			name:   "preferred: neither preferred nor current leader eligible, next in replica order",
			cur:    PartitionImage{Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}, Leader: 2},
			target: []int32{1, 2, 3}, election: ElectionPreferred, acceptable: alive(3),
			wantLeader: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := NewTopicID()
			cur := tt.cur
			rec := partitionChange(changeInput{topicID: id, partition: 7, cur: &cur, targetISR: tt.target, election: tt.election, acceptable: tt.acceptable,
				targetRecovery: tt.target2})
			if tt.wantNil {
				require.Nil(t, rec)
				return
			}
			require.NotNil(t, rec)
			require.Equal(t, id, rec.TopicID)
			require.Equal(t, int32(7), rec.PartitionID)
			require.Equal(t, tt.wantLeader, rec.Leader)
			require.Equal(t, tt.wantISR, rec.ISR)
			require.Equal(t, tt.wantRecovery, rec.LeaderRecoveryState)
			require.Nil(t, rec.Replicas)
		})
	}
}

// TestLeadershipChanges runs the per-broker rules over an image: fencing
// broker 1 moves what it leads, shrinks the ISRs it is in, and leaves
// partitions it was the last ISR member of leaderless.
func TestLeadershipChanges(t *testing.T) {
	f := newFSM("c")
	id := NewTopicID()
	recs := []Record{&TopicRecord{Name: "t", TopicID: id}}
	for i, p := range []PartitionRecord{
		{Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}, Leader: 1}, // leader moves to 2
		{Replicas: []int32{2, 1, 3}, ISR: []int32{2, 1, 3}, Leader: 2}, // ISR shrinks only
		{Replicas: []int32{1, 2}, ISR: []int32{1}, Leader: 1},          // leaderless, ISR kept
		{Replicas: []int32{2, 3}, ISR: []int32{2, 3}, Leader: 3},       // untouched
	} {
		p.PartitionID, p.TopicID = int32(i), id
		recs = append(recs, &p)
	}
	for _, b := range []int32{1, 2, 3} {
		recs = append(recs, &RegisterBrokerRecord{BrokerID: b, BrokerEpoch: int64(b)})
	}
	require.NoError(t, applyBatch(t, f, 1, recs...))
	img := f.image.Load()

	changes := leadershipChanges(img, 1, -1, inISR(1), electionPolicy{})
	require.Len(t, changes, 3)
	require.NoError(t, applyBatch(t, f, 2, changes...))
	parts := f.image.Load().Topic("t").Partitions
	require.Equal(t, int32(2), parts[0].Leader)
	require.Equal(t, []int32{2, 3}, parts[0].ISR)
	require.Equal(t, int32(1), parts[0].LeaderEpoch)
	require.Equal(t, int32(2), parts[1].Leader)
	require.Equal(t, []int32{2, 3}, parts[1].ISR)
	require.Equal(t, int32(0), parts[1].LeaderEpoch)
	require.Equal(t, NoLeader, parts[2].Leader)
	require.Equal(t, []int32{1}, parts[2].ISR)
	require.Equal(t, int32(3), parts[3].Leader)

	// Unfencing broker 1 (still fenced in the image) gives it back the
	// partition it is the only ISR member of.
	img = f.image.Load()
	changes = leadershipChanges(img, -1, 1, leaderless, electionPolicy{})
	require.Len(t, changes, 1)
	require.Equal(t, int32(1), changes[0].(*PartitionChangeRecord).Leader)
	require.Equal(t, int32(2), changes[0].(*PartitionChangeRecord).PartitionID)
}
