package controller

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReassignmentPhases walks KIP-455's phases on a controller: grow,
// catch-up through the leader's AlterPartition, completion with the leader
// moved off a removed replica; a shrink that completes at once; cancel; a
// new target replacing an ongoing one.
func TestReassignmentPhases(t *testing.T) {
	ctx := context.Background()
	c := openController(t, soleConfig(t, t.TempDir()))
	registerBrokers(t, c, 1, 2, 3, 4)
	res := c.CreateTopics(ctx, []CreateTopic{{Name: "t", Assignments: map[int32][]int32{0: {1, 2, 3}, 1: {1, 2, 3}, 2: {1, 2, 4}}, NumPartitions: -1, ReplicationFactor: -1}}, false)
	require.NoError(t, res[0].Err)
	id := res[0].TopicID
	// Partition 2 at RF 2, by reassignment.
	errs, err := c.AlterPartitionReassignments(ctx, true, []Reassignment{{Topic: "t", Partition: 2, Replicas: []int32{1, 2}}})
	require.NoError(t, err)
	require.NoError(t, errs[0])
	part := func(i int) *PartitionImage { return c.Image().Topic("t").Partitions[i] }
	reassign := func(allowRF bool, rs ...Reassignment) []error {
		errs, err := c.AlterPartitionReassignments(ctx, allowRF, rs)
		require.NoError(t, err)
		return errs
	}
	isr := func(i int, broker int32, newISR ...int32) ISRUpdateResult {
		p := part(i)
		out, err := c.AlterPartition(ctx, broker, c.Image().Broker(broker).Epoch, []ISRUpdate{{
			TopicID: id, Partition: int32(i), LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch, NewISR: newISR}})
		require.NoError(t, err)
		return out[0]
	}

	// Move partition 0 from {1,2,3} to {4,2,3}: grow phase.
	require.NoError(t, reassign(false, Reassignment{Topic: "t", Partition: 0, Replicas: []int32{4, 2, 3}})[0])
	p := part(0)
	require.Equal(t, []int32{4, 2, 3, 1}, p.Replicas)
	require.Equal(t, []int32{4}, p.AddingReplicas)
	require.Equal(t, []int32{1}, p.RemovingReplicas)
	require.Equal(t, []int32{1, 2, 3}, p.ISR)
	require.Equal(t, int32(1), p.Leader, "the leader stays during the copy")
	epoch := p.LeaderEpoch

	// The leader (1) adds the caught-up replica 4: the reassignment
	// completes in the same change; 1 leaves and hands leadership over.
	out := isr(0, 1, 1, 2, 3, 4)
	require.NoError(t, out.Err)
	p = part(0)
	require.Equal(t, []int32{4, 2, 3}, p.Replicas)
	require.Equal(t, []int32{2, 3, 4}, p.ISR)
	require.Empty(t, p.AddingReplicas)
	require.Empty(t, p.RemovingReplicas)
	require.Equal(t, int32(4), p.Leader, "the first replica of the target in the ISR leads")
	require.Equal(t, epoch+1, p.LeaderEpoch)
	require.Equal(t, p.Leader, out.Leader)
	require.Equal(t, p.PartitionEpoch, out.PartitionEpoch)

	// A shrink (RF 3 -> 2) adds nothing and completes at once.
	require.Error(t, reassign(false, Reassignment{Topic: "t", Partition: 1, Replicas: []int32{2, 3}})[0], "RF change needs allow")
	require.NoError(t, reassign(true, Reassignment{Topic: "t", Partition: 1, Replicas: []int32{2, 3}})[0])
	p = part(1)
	require.Equal(t, []int32{2, 3}, p.Replicas)
	require.Equal(t, []int32{2, 3}, p.ISR)
	require.Equal(t, int32(2), p.Leader)

	// Start moving partition 2 {1,2} -> {3,4}, then replace the target by
	// {2,4}: it starts from the original replicas, 3 is no longer adding.
	require.NoError(t, reassign(false, Reassignment{Topic: "t", Partition: 2, Replicas: []int32{3, 4}})[0])
	p = part(2)
	require.Equal(t, []int32{3, 4, 1, 2}, p.Replicas)
	require.Equal(t, []int32{3, 4}, p.AddingReplicas)
	require.Equal(t, []int32{1, 2}, p.RemovingReplicas)
	require.NoError(t, reassign(false, Reassignment{Topic: "t", Partition: 2, Replicas: []int32{2, 4}})[0])
	p = part(2)
	require.Equal(t, []int32{2, 4, 1}, p.Replicas)
	require.Equal(t, []int32{4}, p.AddingReplicas)
	require.Equal(t, []int32{1}, p.RemovingReplicas)
	// Partial catch-up does not complete; replica 3 is not a replica any
	// more, so the leader cannot add it.
	require.ErrorIs(t, isr(2, 1, 1, 2, 3).Err, ErrInvalidRequest)

	// Cancel: back to brokers {1,2}, nothing adding or removing. As in
	// Kafka's PartitionReassignmentRevert the order is the grown list's
	// minus the adding replicas, so 2 now comes first.
	require.NoError(t, reassign(false, Reassignment{Topic: "t", Partition: 2})[0])
	p = part(2)
	require.Equal(t, []int32{2, 1}, p.Replicas)
	require.Empty(t, p.AddingReplicas)
	require.Empty(t, p.RemovingReplicas)
	require.Equal(t, int32(1), p.Leader)
	require.ErrorIs(t, reassign(false, Reassignment{Topic: "t", Partition: 2})[0], ErrNoReassignmentInProgress)

	// A reorder is a change of preferred leader only.
	require.NoError(t, reassign(false, Reassignment{Topic: "t", Partition: 2, Replicas: []int32{1, 2}})[0])
	require.Equal(t, []int32{1, 2}, part(2).Replicas)
	require.Equal(t, int32(1), part(2).Leader)
}

// TestReassignmentRevertWithoutOriginalISR: cancelling when only adding
// replicas are in sync is refused without unclean leader election.
func TestReassignmentRevertWithoutOriginalISR(t *testing.T) {
	img := EmptyImage()
	img.brokers = map[int32]*BrokerImage{1: {ID: 1}, 2: {ID: 2}, 3: {ID: 3}}
	tid := NewTopicID()
	ti := &TopicImage{Name: "t", ID: tid, Partitions: []*PartitionImage{{
		Replicas: []int32{3, 1}, AddingReplicas: []int32{3}, RemovingReplicas: []int32{1}, ISR: []int32{3}, Leader: 3,
	}}}
	img.topics = map[string]*TopicImage{"t": ti}
	img.topicsByID = map[TopicID]*TopicImage{tid: ti}
	_, err := reassignment(img, Reassignment{Topic: "t", Partition: 0}, false, nil)
	require.ErrorIs(t, err, ErrInvalidReplicaAssignment)
	rec, err := reassignment(img, Reassignment{Topic: "t", Partition: 0}, false, func(string) bool { return true })
	require.NoError(t, err)
	ch := rec.(*PartitionChangeRecord)
	require.Equal(t, []int32{1}, ch.Replicas)
	require.Equal(t, []int32{1}, ch.ISR)
	require.Equal(t, int32(1), ch.Leader)
}

// TestReassignmentELR checks the ELR of a change that sets the replicas
// (reassign.go): Kafka's maybePopulateTargetElr, then only members of the
// new replica set. Replicas 1, 2, 3 at first; min.insync.replicas 2. Nil
// want fields: unchanged.
func TestReassignmentELR(t *testing.T) {
	for _, tc := range []struct {
		name          string
		cur           PartitionImage
		rec           PartitionChangeRecord // Replicas, ISR, Leader of the change
		elrOff        bool
		wantELR       []int32
		wantLastKnown []int32
	}{
		{name: "a removed ELR member is dropped (Kafka 4.3.1 keeps it)",
			cur:     PartitionImage{Replicas: []int32{1, 2, 3}, ISR: []int32{1}, ELR: []int32{2}, Leader: 1},
			rec:     PartitionChangeRecord{Replicas: []int32{1, 3}, Leader: NoLeaderChange},
			wantELR: []int32{}},
		{name: "a removed ISR member does not join the ELR (Kafka 4.3.1 adds it)",
			cur: PartitionImage{Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2}, Leader: 1},
			rec: PartitionChangeRecord{Replicas: []int32{1, 3}, ISR: []int32{1}, Leader: NoLeaderChange}},
		{name: "an ELR member that stays a replica stays",
			cur: PartitionImage{Replicas: []int32{1, 2, 3}, ISR: []int32{1}, ELR: []int32{2}, Leader: 1},
			rec: PartitionChangeRecord{Replicas: []int32{1, 2}, Leader: NoLeaderChange}},
		{name: "the grow phase keeps the ELR: removing replicas are still replicas",
			cur: PartitionImage{Replicas: []int32{1, 2, 3}, ISR: []int32{1}, ELR: []int32{2}, Leader: 1},
			rec: PartitionChangeRecord{Replicas: []int32{1, 3, 4, 2}, Leader: NoLeaderChange}},
		{name: "a completion with the ISR at the minimum clears the ELR",
			cur:     PartitionImage{Replicas: []int32{1, 3, 4, 2}, ISR: []int32{1}, ELR: []int32{2}, Leader: 1},
			rec:     PartitionChangeRecord{Replicas: []int32{1, 3, 4}, ISR: []int32{1, 4}, Leader: NoLeaderChange},
			wantELR: []int32{}},
		{name: "a removed last known leader is forgotten",
			cur:           PartitionImage{Replicas: []int32{1, 2, 3}, ISR: []int32{}, ELR: []int32{2}, LastKnownELR: []int32{3}, Leader: NoLeader},
			rec:           PartitionChangeRecord{Replicas: []int32{1, 2}, Leader: NoLeaderChange},
			wantLastKnown: []int32{}},
		{name: "ELR off: untouched",
			cur:    PartitionImage{Replicas: []int32{1, 2, 3}, ISR: []int32{1}, ELR: []int32{2}, Leader: 1},
			rec:    PartitionChangeRecord{Replicas: []int32{1, 3}, Leader: NoLeaderChange},
			elrOff: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := tc.rec
			cur := tc.cur
			reassignmentELR(&rec, &cur, !tc.elrOff, 2)
			require.Equal(t, tc.wantELR, rec.ELR, "ELR")
			require.Equal(t, tc.wantLastKnown, rec.LastKnownELR, "LastKnownELR")
		})
	}
}

// TestReassignmentELRRecovery: a replica removed by a reassignment while
// the ISR is below min.insync.replicas leaves the ELR, so when the only
// ISR member later restarts uncleanly the partition recovers through its
// last known leader. With Kafka 4.3.1's rule the removed broker would stay
// in the ELR (it is not a replica, so never elected) and keep the
// partition leaderless.
func TestReassignmentELRRecovery(t *testing.T) {
	ctx := context.Background()
	cfg := soleConfig(t, t.TempDir())
	cfg.MinInsyncReplicas = func(*MetadataImage, string) int { return 2 }
	c := openController(t, cfg)
	registerBrokers(t, c, 1, 2, 3)
	res := c.CreateTopics(ctx, []CreateTopic{{Name: "t", Assignments: map[int32][]int32{0: {1, 2, 3}}, NumPartitions: -1, ReplicationFactor: -1}}, false)
	require.NoError(t, res[0].Err)
	part := func() *PartitionImage { return c.Image().Topic("t").Partitions[0] }
	for _, id := range []int32{3, 2} {
		require.NoError(t, c.SetBrokerFenced(ctx, id, c.Image().Broker(id).Epoch, true))
	}
	require.Equal(t, []int32{2}, part().ELR)

	// RF 3 -> 2 without broker 2: completes at once, ISR [1] below the
	// minimum, and 2 leaves the ELR with the replica set.
	errs, err := c.AlterPartitionReassignments(ctx, true, []Reassignment{{Topic: "t", Partition: 0, Replicas: []int32{1, 3}}})
	require.NoError(t, err)
	require.NoError(t, errs[0])
	p := part()
	require.Equal(t, []int32{1, 3}, p.Replicas)
	require.Equal(t, []int32{1}, p.ISR)
	require.Empty(t, p.ELR)

	// 1 fails: the ISR empties into the ELR, 1 is the last known leader.
	require.NoError(t, c.SetBrokerFenced(ctx, 1, c.Image().Broker(1).Epoch, true))
	p = part()
	require.Equal(t, NoLeader, p.Leader)
	require.Equal(t, []int32{1}, p.ELR)
	require.Equal(t, []int32{1}, p.LastKnownELR)
	// 1 restarts uncleanly: out of the ELR, which is now empty, so it
	// leads again as the last known leader once unfenced.
	epoch, err := c.RegisterBroker(ctx, BrokerRegistration{ID: 1, IncarnationID: NewTopicID(), PreviousBrokerEpoch: -1,
		Endpoints: []Endpoint{{Name: "PLAINTEXT", Host: "localhost", Port: 9093}}})
	require.NoError(t, err)
	require.Empty(t, part().ELR)
	require.NoError(t, c.SetBrokerFenced(ctx, 1, epoch, false))
	p = part()
	require.Equal(t, int32(1), p.Leader)
	require.Equal(t, []int32{1}, p.ISR)
}
