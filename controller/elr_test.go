package controller

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPartitionChangeELR checks the ELR rules (KIP-966) against Kafka's
// PartitionChangeBuilder with eligible.leader.replicas.version 1: replicas
// 1, 2, 3 and min.insync.replicas 2. Nil want fields: unchanged.
func TestPartitionChangeELR(t *testing.T) {
	alive := func(ids ...int32) func(int32) bool {
		return func(r int32) bool { return slices.Contains(ids, r) }
	}
	none := NoLeaderChange
	replicas := []int32{1, 2, 3}
	tests := []struct {
		name         string
		cur          PartitionImage
		target       []int32
		election     Election
		acceptable   func(int32) bool
		elrOff       bool
		wantNil      bool
		wantLeader   int32
		wantISR      []int32
		wantELR      []int32
		wantLastKnow []int32
	}{
		{
			name:   "ISR shrinks but stays at min ISR: no ELR",
			cur:    PartitionImage{Replicas: replicas, ISR: []int32{1, 2, 3}, Leader: 1},
			target: []int32{1, 2}, acceptable: alive(1, 2),
			wantLeader: none, wantISR: []int32{1, 2},
		},
		{
			name:   "ISR drops below min ISR: the member leaving joins the ELR",
			cur:    PartitionImage{Replicas: replicas, ISR: []int32{1, 2}, Leader: 1},
			target: []int32{1}, acceptable: alive(1),
			wantLeader: none, wantISR: []int32{1}, wantELR: []int32{2},
		},
		{
			name:   "last ISR member fenced: ISR empty, it joins the ELR, the last leader is remembered",
			cur:    PartitionImage{Replicas: replicas, ISR: []int32{1}, ELR: []int32{2}, Leader: 1},
			target: []int32{}, acceptable: alive(3),
			wantLeader: NoLeader, wantISR: []int32{}, wantELR: []int32{2, 1}, wantLastKnow: []int32{1},
		},
		{
			name:   "without ELR the last ISR member stays recorded",
			cur:    PartitionImage{Replicas: replicas, ISR: []int32{1}, Leader: 1},
			target: []int32{}, acceptable: alive(3), elrOff: true,
			wantLeader: NoLeader,
		},
		{
			name:   "an ELR member comes back: it leads cleanly and becomes the ISR",
			cur:    PartitionImage{Replicas: replicas, ISR: []int32{}, ELR: []int32{2, 1}, LastKnownELR: []int32{1}, Leader: NoLeader},
			target: []int32{}, acceptable: alive(2, 3),
			wantLeader: 2, wantISR: []int32{2}, wantELR: []int32{1}, wantLastKnow: []int32{},
		},
		{
			name:   "a replica outside ISR and ELR may not lead without unclean election",
			cur:    PartitionImage{Replicas: replicas, ISR: []int32{}, ELR: []int32{2}, LastKnownELR: []int32{1}, Leader: NoLeader},
			target: []int32{}, acceptable: alive(3),
			wantNil: true,
		},
		{
			name:   "unclean election clears the ELR",
			cur:    PartitionImage{Replicas: replicas, ISR: []int32{}, ELR: []int32{2}, LastKnownELR: []int32{1}, Leader: NoLeader},
			target: []int32{}, acceptable: alive(3), election: ElectionUnclean,
			wantLeader: 3, wantISR: []int32{3}, wantELR: []int32{}, wantLastKnow: []int32{},
		},
		{
			name:   "no ISR nor ELR: the last known leader leads again once unfenced",
			cur:    PartitionImage{Replicas: replicas, ISR: []int32{}, LastKnownELR: []int32{1}, Leader: NoLeader},
			target: []int32{}, acceptable: alive(1, 3),
			wantLeader: 1, wantISR: []int32{1}, wantLastKnow: []int32{},
		},
		{
			name:   "ISR back at min ISR: the ELR is cleared",
			cur:    PartitionImage{Replicas: replicas, ISR: []int32{1}, ELR: []int32{2}, Leader: 1},
			target: []int32{1, 2}, acceptable: alive(1, 2),
			wantLeader: none, wantISR: []int32{1, 2}, wantELR: []int32{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cur := tt.cur
			election := tt.election
			if election == 0 {
				election = ElectionOnline
			}
			rec := partitionChange(changeInput{topicID: NewTopicID(), cur: &cur, targetISR: tt.target,
				election: election, acceptable: tt.acceptable, elr: !tt.elrOff, minISR: 2})
			if tt.wantNil {
				require.Nil(t, rec)
				return
			}
			require.NotNil(t, rec)
			require.Equal(t, tt.wantLeader, rec.Leader, "leader")
			require.Equal(t, tt.wantISR, rec.ISR, "ISR")
			require.Equal(t, tt.wantELR, rec.ELR, "ELR")
			require.Equal(t, tt.wantLastKnow, rec.LastKnownELR, "LastKnownELR")
		})
	}
}

// TestPartitionRecordsELRRoundTrip: ELR fields survive encoding, and
// records without them are written as version 0, which nodes predating
// ELR read.
func TestPartitionRecordsELRRoundTrip(t *testing.T) {
	id := NewTopicID()
	recs := []Record{
		&PartitionRecord{TopicID: id, Replicas: []int32{1, 2}, ISR: []int32{1}, Leader: 1, ELR: []int32{2}, LastKnownELR: []int32{3}},
		&PartitionChangeRecord{TopicID: id, Leader: NoLeaderChange, ISR: []int32{}, ELR: []int32{2, 1}, LastKnownELR: []int32{1}},
		&PartitionChangeRecord{TopicID: id, Leader: NoLeaderChange, ELR: []int32{}},
	}
	got, err := DecodeBatch(EncodeBatch(recs))
	require.NoError(t, err)
	require.Equal(t, recs, got)

	plain := EncodeBatch([]Record{&PartitionChangeRecord{TopicID: id, Leader: 2}, &PartitionRecord{TopicID: id, Replicas: []int32{1}, Leader: 1}})
	// magic, batch version, count, then type and version of the first record.
	require.Equal(t, byte(0), plain[4], "a change without ELR fields is version 0")
}

// TestELRFailover walks a partition (replicas 1, 2, 3; min.insync.replicas
// 2) through KIP-966 on a sole controller with ELR finalized by default:
// brokers fenced one by one, the ISR emptied with the ELR kept, an ELR
// member that is not the last leader elected when it returns.
func TestELRFailover(t *testing.T) {
	ctx := context.Background()
	cfg := soleConfig(t, t.TempDir())
	cfg.MinInsyncReplicas = func(*MetadataImage, string) int { return 2 }
	c := openController(t, cfg)
	require.Equal(t, int16(1), c.Image().Feature(EligibleLeaderReplicasFeature), "a new cluster finalizes ELR, as Kafka 4.1+")
	registerBrokers(t, c, 1, 2, 3)
	res := c.CreateTopics(ctx, []CreateTopic{{Name: "t", Assignments: map[int32][]int32{0: {1, 2, 3}}, NumPartitions: -1, ReplicationFactor: -1}}, false)
	require.NoError(t, res[0].Err)
	part := func() PartitionImage { return *c.Image().Topic("t").Partitions[0] }
	fence := func(id int32) {
		require.NoError(t, c.SetBrokerFenced(ctx, id, c.Image().Broker(id).Epoch, true))
	}

	fence(3)
	require.Equal(t, []int32{1, 2}, part().ISR)
	require.Nil(t, part().ELR)
	fence(2)
	p := part()
	require.Equal(t, []int32{1}, p.ISR)
	require.Equal(t, []int32{2}, p.ELR, "2 left an ISR below min.insync.replicas: it has every committed record")
	fence(1)
	p = part()
	require.Equal(t, NoLeader, p.Leader)
	require.Empty(t, p.ISR)
	require.ElementsMatch(t, []int32{1, 2}, p.ELR)
	require.Equal(t, []int32{1}, p.LastKnownELR)

	// Broker 3 returns first: outside ISR and ELR, it may not lead.
	require.NoError(t, c.SetBrokerFenced(ctx, 3, c.Image().Broker(3).Epoch, false))
	require.Equal(t, NoLeader, part().Leader)
	// Broker 2 returns: an ELR member, it leads and is the ISR.
	require.NoError(t, c.SetBrokerFenced(ctx, 2, c.Image().Broker(2).Epoch, false))
	p = part()
	require.Equal(t, int32(2), p.Leader)
	require.Equal(t, []int32{2}, p.ISR)
	require.Equal(t, []int32{1}, p.ELR)
	require.Nil(t, p.LastKnownELR)

	// Broker 3 catches up: the ISR is back at the minimum, the ELR goes.
	out, err := c.AlterPartition(ctx, 2, c.Image().Broker(2).Epoch, []ISRUpdate{{TopicID: res[0].TopicID, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch, NewISR: []int32{2, 3}}})
	require.NoError(t, err)
	require.NoError(t, out[0].Err)
	p = part()
	require.Equal(t, []int32{2, 3}, p.ISR)
	require.Nil(t, p.ELR)
}

// TestMinISRChangeClearsELR: with ELR enabled, a change of
// min.insync.replicas clears the ELR and LastKnownELR of the topics it
// governs (a topic's change that topic, a cluster-level change all), and
// broker-level changes and removing the cluster-level value are refused,
// as Kafka 4.3's ConfigurationControlManager does.
func TestMinISRChangeClearsELR(t *testing.T) {
	ctx := context.Background()
	strp := func(s string) *string { return &s }
	for _, tc := range []struct {
		name         string
		resourceType int8
		resource     string
		ops          []ConfigOp
		err          string // "" : accepted
		clearedA     bool   // topic a's ELR cleared
		clearedB     bool
	}{
		{"topic a raised", ResourceTopic, "a", []ConfigOp{{Key: "min.insync.replicas", Value: strp("3"), Op: ConfigSet}}, "", true, false},
		{"topic a set to the effective value", ResourceTopic, "a", []ConfigOp{{Key: "min.insync.replicas", Value: strp("2"), Op: ConfigSet}}, "", true, false},
		{"topic a removed while unset", ResourceTopic, "a", []ConfigOp{{Key: "min.insync.replicas", Op: ConfigDelete}}, "", false, false},
		{"topic a other config", ResourceTopic, "a", []ConfigOp{{Key: "retention.ms", Value: strp("1000"), Op: ConfigSet}}, "", false, false},
		{"cluster level set", ResourceBroker, "", []ConfigOp{{Key: "min.insync.replicas", Value: strp("1"), Op: ConfigSet}}, "", true, true},
		{"broker level set", ResourceBroker, "1", []ConfigOp{{Key: "min.insync.replicas", Value: strp("1"), Op: ConfigSet}},
			"Broker-level min.insync.replicas cannot be altered while ELR is enabled.", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := soleConfig(t, t.TempDir())
			cfg.MinInsyncReplicas = func(*MetadataImage, string) int { return 2 }
			c := openController(t, cfg)
			registerBrokers(t, c, 1, 2, 3)
			for _, name := range []string{"a", "b"} {
				res := c.CreateTopics(ctx, []CreateTopic{{Name: name, Assignments: map[int32][]int32{0: {1, 2, 3}}, NumPartitions: -1, ReplicationFactor: -1}}, false)
				require.NoError(t, res[0].Err)
			}
			// Brokers 3, 2 and 1 fenced: ISR empty, ELR {1, 2} (below
			// the minimum of 2), LastKnownELR {1}.
			for _, id := range []int32{3, 2, 1} {
				require.NoError(t, c.SetBrokerFenced(ctx, id, c.Image().Broker(id).Epoch, true))
			}
			for _, name := range []string{"a", "b"} {
				p := c.Image().Topic(name).Partitions[0]
				require.ElementsMatch(t, []int32{1, 2}, p.ELR)
				require.Equal(t, []int32{1}, p.LastKnownELR)
			}
			epoch := c.Image().Topic("a").Partitions[0].PartitionEpoch

			// validate_only writes nothing but refuses the same.
			err := c.AlterConfigs(ctx, tc.resourceType, tc.resource, tc.ops, true)
			if tc.err != "" {
				require.ErrorIs(t, err, ErrInvalidConfig)
				require.ErrorContains(t, err, tc.err)
			} else {
				require.NoError(t, err)
			}
			require.NotEmpty(t, c.Image().Topic("a").Partitions[0].ELR)

			err = c.AlterConfigs(ctx, tc.resourceType, tc.resource, tc.ops, false)
			if tc.err != "" {
				require.ErrorIs(t, err, ErrInvalidConfig)
				require.ErrorContains(t, err, tc.err)
			} else {
				require.NoError(t, err)
			}
			for name, cleared := range map[string]bool{"a": tc.clearedA, "b": tc.clearedB} {
				p := c.Image().Topic(name).Partitions[0]
				if cleared {
					require.Empty(t, p.ELR, "topic %s", name)
					require.Empty(t, p.LastKnownELR, "topic %s", name)
				} else {
					require.ElementsMatch(t, []int32{1, 2}, p.ELR, "topic %s", name)
					require.Equal(t, []int32{1}, p.LastKnownELR, "topic %s", name)
				}
			}
			if tc.clearedA {
				require.Greater(t, c.Image().Topic("a").Partitions[0].PartitionEpoch, epoch)
			}
		})
	}

	// Removing the cluster-level value is refused once it is set.
	cfg := soleConfig(t, t.TempDir())
	c := openController(t, cfg)
	require.NoError(t, c.AlterConfigs(ctx, ResourceBroker, "", []ConfigOp{{Key: "min.insync.replicas", Value: strp("2"), Op: ConfigSet}}, false))
	err := c.AlterConfigs(ctx, ResourceBroker, "", []ConfigOp{{Key: "min.insync.replicas", Op: ConfigDelete}}, false)
	require.ErrorIs(t, err, ErrInvalidConfig)
	require.ErrorContains(t, err, "Cluster-level min.insync.replicas cannot be removed while ELR is enabled.")
	require.Equal(t, "2", c.Image().Config(ResourceBroker, "")["min.insync.replicas"])
}

// TestUncleanShutdownLeavesELR checks KIP-966's PreviousBrokerEpoch rule
// as Kafka 4.3.1's ClusterControlManager.registerBroker and
// ReplicationControlManager.handleBrokerShutdown apply it: a new
// incarnation whose PreviousBrokerEpoch is the epoch registered for the
// broker shut down cleanly and keeps its ELR places; any other value (-1:
// no clean shutdown files, or a stale epoch) removes it from every ISR and
// ELR, and keeps it out of the ELR it would have joined. LastKnownELR is
// kept either way. Replicas 1, 2, 3; min.insync.replicas 2.
func TestUncleanShutdownLeavesELR(t *testing.T) {
	ctx := context.Background()
	const (
		clean = iota
		uncleanNoFile
		uncleanStaleEpoch
	)
	for _, tc := range []struct {
		name     string
		restart  int32 // the broker that registers a new incarnation
		fenced   []int32
		previous int // clean, uncleanNoFile or uncleanStaleEpoch
		elrOff   bool
		// reopen restarts the controller first: its new sessions were
		// never renewed, so a broker still unfenced (and in the ISR) may
		// register a new incarnation, as when a combined node restarts.
		reopen bool
		// the partition after the new registration
		wantISR, wantELR, wantLastKnown []int32
		wantLeader                      int32
	}{
		{name: "ELR member, clean", restart: 2, fenced: []int32{3, 2}, previous: clean,
			wantISR: []int32{1}, wantELR: []int32{2}, wantLeader: 1},
		{name: "ELR member, no clean shutdown file", restart: 2, fenced: []int32{3, 2}, previous: uncleanNoFile,
			wantISR: []int32{1}, wantLeader: 1},
		{name: "ELR member, stale epoch", restart: 2, fenced: []int32{3, 2}, previous: uncleanStaleEpoch,
			wantISR: []int32{1}, wantLeader: 1},
		{name: "ELR member of a leaderless partition, unclean: the last known leader is kept", restart: 2, fenced: []int32{3, 2, 1},
			previous: uncleanNoFile, wantISR: []int32{}, wantELR: []int32{1}, wantLastKnown: []int32{1}, wantLeader: NoLeader},
		{name: "last known leader and ELR member, unclean", restart: 1, fenced: []int32{3, 2, 1},
			previous: uncleanNoFile, wantISR: []int32{}, wantELR: []int32{2}, wantLastKnown: []int32{1}, wantLeader: NoLeader},
		{name: "leader still in the ISR (controller restarted too), clean: it joins the ELR", restart: 1, fenced: []int32{3, 2},
			previous: clean, reopen: true, wantISR: []int32{}, wantELR: []int32{2, 1}, wantLastKnown: []int32{1}, wantLeader: NoLeader},
		{name: "leader still in the ISR, unclean: it leaves the ISR and does not join the ELR", restart: 1, fenced: []int32{3, 2},
			previous: uncleanNoFile, reopen: true, wantISR: []int32{}, wantELR: []int32{2}, wantLastKnown: []int32{1}, wantLeader: NoLeader},
		{name: "ELR off: an unclean restart only leaves the ISR", restart: 1, fenced: []int32{3}, previous: uncleanNoFile, elrOff: true, reopen: true,
			wantISR: []int32{2}, wantLeader: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := soleConfig(t, t.TempDir())
			cfg.MinInsyncReplicas = func(*MetadataImage, string) int { return 2 }
			c := openController(t, cfg)
			registerBrokers(t, c, 1, 2, 3)
			if tc.elrOff {
				require.NoError(t, c.UpdateFeatures(ctx, []FeatureUpdate{{EligibleLeaderReplicasFeature, 0, SafeDowngrade}}, false))
			}
			res := c.CreateTopics(ctx, []CreateTopic{{Name: "t", Assignments: map[int32][]int32{0: {1, 2, 3}}, NumPartitions: -1, ReplicationFactor: -1}}, false)
			require.NoError(t, res[0].Err)
			for _, id := range tc.fenced {
				require.NoError(t, c.SetBrokerFenced(ctx, id, c.Image().Broker(id).Epoch, true))
			}
			if tc.reopen {
				require.NoError(t, c.Close())
				c = openController(t, cfg)
			}
			before := *c.Image().Topic("t").Partitions[0]

			epoch := c.Image().Broker(tc.restart).Epoch
			previous := map[int]int64{clean: epoch, uncleanNoFile: -1, uncleanStaleEpoch: epoch - 1}[tc.previous]
			newEpoch, err := c.RegisterBroker(ctx, BrokerRegistration{ID: tc.restart, IncarnationID: NewTopicID(), PreviousBrokerEpoch: previous,
				Endpoints: []Endpoint{{Name: "PLAINTEXT", Host: "localhost", Port: uint16(9092 + tc.restart)}}})
			require.NoError(t, err)
			require.Greater(t, newEpoch, epoch)

			p := *c.Image().Topic("t").Partitions[0]
			require.Equal(t, tc.wantLeader, p.Leader, "leader (before: %+v)", before)
			require.Equal(t, tc.wantISR, nonNil(p.ISR), "ISR")
			require.Equal(t, tc.wantELR, p.ELR, "ELR")
			require.Equal(t, tc.wantLastKnown, p.LastKnownELR, "LastKnownELR")
		})
	}
}

// TestUncleanShutdownThenRecovery: after every ELR member restarted
// uncleanly, the partition's last known leader is elected once it is
// unfenced (Kafka's balanced recovery: an unclean pick, so it is the
// whole ISR); while an ELR member that restarted cleanly remains, that
// member leads instead.
func TestUncleanShutdownThenRecovery(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name        string
		cleanBroker int32 // 0: every broker restarts uncleanly
		wantLeader  int32
		// the ControllerStats counts: unclean elections (the last known
		// leader's recovery is one, as in Kafka), elections from the ELR
		wantUnclean, wantFromELR int64
	}{
		{name: "all unclean: the last known leader", wantLeader: 1, wantUnclean: 1},
		{name: "broker 2 clean: the ELR member leads", cleanBroker: 2, wantLeader: 2, wantFromELR: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := soleConfig(t, t.TempDir())
			cfg.MinInsyncReplicas = func(*MetadataImage, string) int { return 2 }
			c := openController(t, cfg)
			registerBrokers(t, c, 1, 2, 3)
			res := c.CreateTopics(ctx, []CreateTopic{{Name: "t", Assignments: map[int32][]int32{0: {1, 2, 3}}, NumPartitions: -1, ReplicationFactor: -1}}, false)
			require.NoError(t, res[0].Err)
			for _, id := range []int32{3, 2, 1} {
				require.NoError(t, c.SetBrokerFenced(ctx, id, c.Image().Broker(id).Epoch, true))
			}
			epochs := map[int32]int64{}
			for _, id := range []int32{1, 2, 3} {
				previous := int64(-1)
				if id == tc.cleanBroker {
					previous = c.Image().Broker(id).Epoch
				}
				e, err := c.RegisterBroker(ctx, BrokerRegistration{ID: id, IncarnationID: NewTopicID(), PreviousBrokerEpoch: previous,
					Endpoints: []Endpoint{{Name: "PLAINTEXT", Host: "localhost", Port: uint16(9092 + id)}}})
				require.NoError(t, err)
				epochs[id] = e
			}
			p := c.Image().Topic("t").Partitions[0]
			require.Equal(t, NoLeader, p.Leader)
			if tc.cleanBroker == 0 {
				require.Empty(t, p.ELR)
			} else {
				require.Equal(t, []int32{tc.cleanBroker}, p.ELR)
			}
			for _, id := range []int32{3, 2, 1} {
				require.NoError(t, c.SetBrokerFenced(ctx, id, epochs[id], false))
			}
			p = c.Image().Topic("t").Partitions[0]
			require.Equal(t, tc.wantLeader, p.Leader)
			require.Equal(t, []int32{tc.wantLeader}, p.ISR)
			require.Equal(t, tc.wantUnclean, c.fsm.uncleanElections.Load(), "unclean elections")
			require.Equal(t, tc.wantFromELR, c.fsm.elrElections.Load(), "elections from the ELR")
		})
	}
}
