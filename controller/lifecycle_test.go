package controller

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/internal/spooltest"
)

// TestBrokerLifecycle walks brokers through Kafka's states on a sole
// controller with a fake session clock: register fenced, catch up,
// unfence, duplicate registration, session expiry, a new incarnation, and
// a controlled shutdown that waits for the other brokers to see it.
func TestBrokerLifecycle(t *testing.T) {
	ctx := context.Background()
	clock := spooltest.NewClock(time.Unix(1000, 0))
	cfg := soleConfig(t, t.TempDir())
	cfg.SessionTimeout = 10 * time.Second
	cfg.Now = clock.Now
	c := openController(t, withoutELR(cfg))

	inc1 := NewTopicID()
	epoch1, err := c.RegisterBroker(ctx, BrokerRegistration{ID: 1, ClusterID: "test-cluster", IncarnationID: inc1})
	require.NoError(t, err)
	require.Equal(t, int64(c.Image().Offset()), epoch1, "the epoch is the registration record's offset")
	require.True(t, c.Image().Broker(1).Fenced, "brokers register fenced")

	_, err = c.RegisterBroker(ctx, BrokerRegistration{ID: 9, ClusterID: "other"})
	require.ErrorIs(t, err, ErrInconsistentClusterID)

	hb := func(id int32, epoch, offset int64, wantFence, wantShutDown bool) BrokerHeartbeatReply {
		t.Helper()
		r, err := c.BrokerHeartbeat(ctx, BrokerHeartbeat{BrokerID: id, BrokerEpoch: epoch, CurrentMetadataOffset: offset, WantFence: wantFence, WantShutDown: wantShutDown})
		require.NoError(t, err)
		return r
	}
	// Behind its registration: neither caught up nor unfenced.
	r := hb(1, epoch1, epoch1-1, false, false)
	require.False(t, r.IsCaughtUp)
	require.True(t, r.IsFenced)
	// Caught up, still asking to stay fenced.
	r = hb(1, epoch1, epoch1, true, false)
	require.True(t, r.IsCaughtUp)
	require.True(t, r.IsFenced)
	r = hb(1, epoch1, epoch1, false, false)
	require.False(t, r.IsFenced)
	require.False(t, c.Image().Broker(1).Fenced)

	_, err = c.BrokerHeartbeat(ctx, BrokerHeartbeat{BrokerID: 1, BrokerEpoch: epoch1 + 100})
	require.ErrorIs(t, err, ErrStaleBrokerEpoch)
	_, err = c.BrokerHeartbeat(ctx, BrokerHeartbeat{BrokerID: 7, BrokerEpoch: 1})
	require.ErrorIs(t, err, ErrBrokerIDNotRegistered)

	registerBrokers(t, c, 2, 3)
	epoch2, epoch3 := c.Image().Broker(2).Epoch, c.Image().Broker(3).Epoch

	// Re-registering the same incarnation keeps the epoch; another
	// incarnation is refused while this one heartbeats.
	again, err := c.RegisterBroker(ctx, BrokerRegistration{ID: 1, IncarnationID: inc1})
	require.NoError(t, err)
	require.Equal(t, epoch1, again)
	require.False(t, c.Image().Broker(1).Fenced)
	_, err = c.RegisterBroker(ctx, BrokerRegistration{ID: 1, IncarnationID: NewTopicID()})
	require.ErrorIs(t, err, ErrDuplicateBrokerRegistration)

	res := c.CreateTopics(ctx, []CreateTopic{{Name: "t", Assignments: map[int32][]int32{0: {1, 2}, 1: {2, 1}, 2: {1, 3}}, NumPartitions: -1, ReplicationFactor: -1}}, false)
	require.NoError(t, res[0].Err)

	// Broker 1 goes silent past its session: it is fenced, leaves the ISRs
	// and its leaderships move to ISR members.
	clock.Advance(6 * time.Second)
	off := int64(c.Image().Offset())
	hb(2, epoch2, off, false, false)
	hb(3, epoch3, off, false, false)
	require.False(t, c.fenceOneStaleBroker(ctx), "nobody is stale yet")
	clock.Advance(5 * time.Second)
	require.True(t, c.fenceOneStaleBroker(ctx))
	require.False(t, c.fenceOneStaleBroker(ctx), "brokers 2 and 3 heartbeated 5 s ago")
	img := c.Image()
	require.True(t, img.Broker(1).Fenced)
	parts := img.Topic("t").Partitions
	require.Equal(t, int32(2), parts[0].Leader)
	require.Equal(t, []int32{2}, parts[0].ISR)
	require.Equal(t, int32(2), parts[1].Leader)
	require.Equal(t, int32(3), parts[2].Leader)
	require.Equal(t, []int32{3}, parts[2].ISR)

	// The fenced incarnation is replaced by a new one at once.
	epoch1b, err := c.RegisterBroker(ctx, BrokerRegistration{ID: 1, IncarnationID: NewTopicID()})
	require.NoError(t, err)
	require.Greater(t, epoch1b, epoch1)
	require.True(t, c.Image().Broker(1).Fenced)

	// Controlled shutdown of broker 2: its leaderships go (partitions 0
	// and 1 have no other ISR member left: leaderless, ISR kept), and it
	// may leave only once broker 3, still active, reports the change.
	off = int64(c.Image().Offset())
	hb(3, epoch3, off, false, false)
	r = hb(2, epoch2, off, false, true)
	require.False(t, r.ShouldShutDown)
	require.True(t, c.Image().Broker(2).InControlledShutdown)
	parts = c.Image().Topic("t").Partitions
	require.Equal(t, NoLeader, parts[0].Leader)
	require.Equal(t, []int32{2}, parts[0].ISR)
	r = hb(2, epoch2, off, false, true)
	require.False(t, r.ShouldShutDown, "broker 3 has not seen the leadership change")
	hb(3, epoch3, int64(c.Image().Offset()), false, false)
	r = hb(2, epoch2, int64(c.Image().Offset()), false, true)
	require.True(t, r.ShouldShutDown)
	require.True(t, r.IsFenced)
	require.True(t, c.Image().Broker(2).Fenced)

	// Unfencing the new broker 1: it is in no ISR of the leaderless
	// partitions, so they stay leaderless.
	r = hb(1, epoch1b, int64(c.Image().Offset()), false, false)
	require.False(t, r.IsFenced)
	require.Equal(t, NoLeader, c.Image().Topic("t").Partitions[0].Leader)

	// Unregistering takes the broker's leaderships; as its last ISR
	// member it stays recorded in the ISR (no ELR).
	require.NoError(t, c.UnregisterBroker(ctx, 3))
	require.Nil(t, c.Image().Broker(3))
	require.Equal(t, NoLeader, c.Image().Topic("t").Partitions[2].Leader)
	require.Equal(t, []int32{3}, c.Image().Topic("t").Partitions[2].ISR)
}

// TestElectLeadersAndAlterPartition covers the preferred and unclean
// elections and the leader's ISR changes.
func TestElectLeadersAndAlterPartition(t *testing.T) {
	ctx := context.Background()
	c := openController(t, withoutELR(soleConfig(t, t.TempDir())))
	registerBrokers(t, c, 1, 2, 3)
	res := c.CreateTopics(ctx, []CreateTopic{{Name: "t", Assignments: map[int32][]int32{0: {1, 2, 3}, 1: {2, 3, 1}}, NumPartitions: -1, ReplicationFactor: -1}}, false)
	require.NoError(t, res[0].Err)
	id := res[0].TopicID

	parts, errs, err := c.ElectLeaders(ctx, ElectionPreferred, []TopicPartition{{Topic: "t", Partition: 0}, {Topic: "t", Partition: 9}, {Topic: "nope", Partition: 0}})
	require.NoError(t, err)
	require.Len(t, parts, 3)
	require.ErrorIs(t, errs[0], ErrElectionNotNeeded)
	require.ErrorIs(t, errs[1], ErrUnknownPartition)
	require.ErrorIs(t, errs[2], ErrUnknownTopic)

	// The leader shrinks the ISR of partition 0 to itself.
	p0 := c.Image().Topic("t").Partitions[0]
	out, err := c.AlterPartition(ctx, 1, c.Image().Broker(1).Epoch, []ISRUpdate{{TopicID: id, Partition: 0, LeaderEpoch: p0.LeaderEpoch, PartitionEpoch: p0.PartitionEpoch, NewISR: []int32{1}}})
	require.NoError(t, err)
	require.NoError(t, out[0].Err)
	require.Equal(t, p0.PartitionEpoch+1, out[0].PartitionEpoch)
	require.Equal(t, []int32{1}, c.Image().Topic("t").Partitions[0].ISR)

	// Stale or foreign requests are refused with Kafka's codes.
	for name, tc := range map[string]struct {
		broker int32
		u      ISRUpdate
		want   error
	}{
		"stale partition epoch": {1, ISRUpdate{TopicID: id, LeaderEpoch: 0, PartitionEpoch: 0, NewISR: []int32{1, 2}}, ErrInvalidUpdateVersion},
		"old leader epoch":      {1, ISRUpdate{TopicID: id, LeaderEpoch: -1, PartitionEpoch: 1, NewISR: []int32{1, 2}}, ErrFencedLeaderEpoch},
		"newer than here":       {1, ISRUpdate{TopicID: id, LeaderEpoch: 5, PartitionEpoch: 1, NewISR: []int32{1, 2}}, ErrNotController},
		"not the leader":        {2, ISRUpdate{TopicID: id, LeaderEpoch: 0, PartitionEpoch: 1, NewISR: []int32{1, 2}}, ErrInvalidRequest},
		"leader not in ISR":     {1, ISRUpdate{TopicID: id, LeaderEpoch: 0, PartitionEpoch: 1, NewISR: []int32{2}}, ErrInvalidRequest},
		"not a replica":         {1, ISRUpdate{TopicID: id, LeaderEpoch: 0, PartitionEpoch: 1, NewISR: []int32{1, 4}}, ErrInvalidRequest},
		"wrong member epoch":    {1, ISRUpdate{TopicID: id, LeaderEpoch: 0, PartitionEpoch: 1, NewISR: []int32{1, 2}, BrokerEpochs: []int64{-1, 12345}}, ErrIneligibleReplica},
		"unknown topic":         {1, ISRUpdate{TopicID: NewTopicID(), NewISR: []int32{1}}, ErrUnknownTopicID},
	} {
		out, err := c.AlterPartition(ctx, tc.broker, -1, []ISRUpdate{tc.u})
		require.NoError(t, err, name)
		require.ErrorIs(t, out[0].Err, tc.want, name)
	}
	_, err = c.AlterPartition(ctx, 1, 12345, nil)
	require.ErrorIs(t, err, ErrStaleBrokerEpoch)

	// Fence broker 1: partition 0 (ISR [1]) goes leaderless; an unclean
	// election then picks a live replica and makes it the whole ISR.
	require.NoError(t, c.SetBrokerFenced(ctx, 1, c.Image().Broker(1).Epoch, true))
	p0 = c.Image().Topic("t").Partitions[0]
	require.Equal(t, NoLeader, p0.Leader)
	require.Equal(t, []int32{1}, p0.ISR)
	_, errs, err = c.ElectLeaders(ctx, ElectionUnclean, []TopicPartition{{Topic: "t", Partition: 0}, {Topic: "t", Partition: 1}})
	require.NoError(t, err)
	require.NoError(t, errs[0])
	require.ErrorIs(t, errs[1], ErrElectionNotNeeded)
	p0 = c.Image().Topic("t").Partitions[0]
	require.Equal(t, int32(2), p0.Leader)
	require.Equal(t, []int32{2}, p0.ISR)
	require.Equal(t, LeaderRecovering, p0.LeaderRecoveryState, "KIP-704: an unclean election marks the leader RECOVERING")

	// While RECOVERING, the leader may not grow the ISR; its RECOVERED
	// comes with the expansion, and it cannot go back (INVALID_REQUEST).
	alter := func(isr []int32, s LeaderRecoveryState) ISRUpdateResult {
		t.Helper()
		p := c.Image().Topic("t").Partitions[0]
		out, err := c.AlterPartition(ctx, 2, -1, []ISRUpdate{{TopicID: id, Partition: 0, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch,
			NewISR: isr, LeaderRecoveryState: s}})
		require.NoError(t, err)
		return out[0]
	}
	require.ErrorIs(t, alter([]int32{2, 3}, LeaderRecovering).Err, ErrInvalidRequest, "ISR beyond the leader while RECOVERING")
	require.ErrorIs(t, alter([]int32{2}, 7).Err, ErrInvalidRequest, "unknown state")
	r := alter([]int32{2}, LeaderRecovering)
	require.NoError(t, r.Err, "RECOVERING alone changes nothing")
	require.Equal(t, LeaderRecovering, r.LeaderRecoveryState)
	require.Equal(t, p0.PartitionEpoch, c.Image().Topic("t").Partitions[0].PartitionEpoch)
	r = alter([]int32{2, 3}, LeaderRecovered)
	require.NoError(t, r.Err)
	require.Equal(t, LeaderRecovered, r.LeaderRecoveryState)
	p0 = c.Image().Topic("t").Partitions[0]
	require.Equal(t, []int32{2, 3}, p0.ISR)
	require.Equal(t, LeaderRecovered, p0.LeaderRecoveryState)
	require.ErrorIs(t, alter([]int32{2}, LeaderRecovering).Err, ErrInvalidRequest, "RECOVERED to RECOVERING")
	require.Equal(t, LeaderRecovered, c.Image().Topic("t").Partitions[1].LeaderRecoveryState, "a clean partition is RECOVERED")

	// Preferred election where the preferred replica (1) is fenced.
	_, errs, err = c.ElectLeaders(ctx, ElectionPreferred, []TopicPartition{{Topic: "t", Partition: 0}})
	require.NoError(t, err)
	require.ErrorIs(t, errs[0], ErrPreferredLeaderNotAvailable)
}

// withoutELR is cfg for a cluster bootstrapped with
// eligible.leader.replicas.version 0 (Kafka before 4.1, or disabled): the
// last ISR member of a leaderless partition stays in its ISR.
func withoutELR(cfg Config) Config {
	cfg.BootstrapFeatures = maps.Clone(DefaultFeatures)
	delete(cfg.BootstrapFeatures, EligibleLeaderReplicasFeature)
	return cfg
}

// TestCreateTopicsRackAware: with broker.rack on the brokers, CreateTopics
// and CreatePartitions place one replica per rack before a second in any.
func TestCreateTopicsRackAware(t *testing.T) {
	ctx := context.Background()
	c := openController(t, soleConfig(t, t.TempDir()))
	for id, rack := range map[int32]string{1: "a", 2: "a", 3: "b", 4: "b"} {
		epoch, err := c.RegisterBroker(ctx, BrokerRegistration{
			ID: id, IncarnationID: NewTopicID(), Rack: &rack,
			Endpoints: []Endpoint{{Name: "PLAINTEXT", Host: "localhost", Port: uint16(9092 + id)}},
		})
		require.NoError(t, err)
		reply, err := c.BrokerHeartbeat(ctx, BrokerHeartbeat{BrokerID: id, BrokerEpoch: epoch, CurrentMetadataOffset: epoch})
		require.NoError(t, err)
		require.False(t, reply.IsFenced)
	}
	res := c.CreateTopics(ctx, []CreateTopic{{Name: "racked", NumPartitions: 8, ReplicationFactor: 2}}, false)
	require.NoError(t, res[0].Err)
	require.NoError(t, c.CreatePartitions(ctx, "racked", 16, nil, false))
	parts := c.Image().Topic("racked").Partitions
	require.Len(t, parts, 16)
	for i, p := range parts {
		racks := map[string]bool{}
		for _, r := range p.Replicas {
			racks[*c.Image().Broker(r).Rack] = true
		}
		require.Len(t, racks, 2, "partition %d: replicas %v in both racks", i, p.Replicas)
	}
}
