package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/spool-broker/spool/internal/spooltest"
)

// freeAddr is a loopback address on a port that was free a moment ago and
// that no earlier call in this test process returned (spooltest.FreePort).
func freeAddr(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", spooltest.FreePort(t))
}

func testLogger(t testing.TB) *zap.Logger {
	if tt, ok := t.(*testing.T); ok {
		return zaptest.NewLogger(tt, zaptest.Level(zap.WarnLevel))
	}
	return zap.NewNop()
}

// soleConfig is a single-voter controller in dir.
func soleConfig(t testing.TB, dir string) Config {
	return Config{
		NodeID: 1, ClusterID: "test-cluster", Dir: dir,
		Voters: []Voter{{ID: 1, Addr: freeAddr(t)}},
		Logger: testLogger(t),
	}
}

func openController(t testing.TB, cfg Config) *Controller {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Open(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// registerBrokers registers brokers and unfences them, as their lifecycle
// would: a heartbeat reporting the registration applied, not wanting fence.
func registerBrokers(t testing.TB, c *Controller, ids ...int32) {
	t.Helper()
	for _, id := range ids {
		require.NoError(t, registerBroker(c, id))
	}
}

func registerBroker(c *Controller, id int32) error {
	ctx := context.Background()
	epoch, err := c.RegisterBroker(ctx, BrokerRegistration{
		ID: id, IncarnationID: NewTopicID(),
		Endpoints: []Endpoint{{Name: "PLAINTEXT", Host: "localhost", Port: uint16(9092 + id)}},
	})
	if err != nil {
		return err
	}
	reply, err := c.BrokerHeartbeat(ctx, BrokerHeartbeat{BrokerID: id, BrokerEpoch: epoch, CurrentMetadataOffset: epoch})
	if err != nil {
		return err
	}
	if reply.IsFenced {
		return fmt.Errorf("broker %d still fenced", id)
	}
	return nil
}

func TestSingleVoterLifecycle(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := soleConfig(t, dir)
	start := time.Now()
	c := openController(t, cfg)
	// How fast is reported, not asserted (a loaded machine took 1.9 s):
	// that a sole voter elects itself without peers is what Open's
	// return with an active controller shows.
	t.Logf("startup to leader: %v", time.Since(start))
	require.True(t, c.IsActive())
	id, ok := c.LeaderID()
	require.True(t, ok)
	require.Equal(t, int32(1), id)
	img := c.Image()
	require.Equal(t, "test-cluster", img.ClusterID())
	require.Equal(t, DefaultFeatures[MetadataVersionFeature], img.Feature(MetadataVersionFeature))

	updates, unsubscribe := c.Subscribe()
	defer unsubscribe()
	<-updates // the current image

	registerBrokers(t, c, 1, 2, 3)
	require.Len(t, c.Image().Brokers(), 3)
	ep, ok := c.Image().Broker(2).Endpoint("PLAINTEXT")
	require.True(t, ok)
	require.Equal(t, uint16(9094), ep.Port)

	res := c.CreateTopics(ctx, []CreateTopic{
		{Name: "a", NumPartitions: 3, ReplicationFactor: 2, Configs: map[string]*string{"cleanup.policy": strp("compact")}},
		{Name: "b", NumPartitions: -1, ReplicationFactor: -1},
		{Name: "c", NumPartitions: -1, ReplicationFactor: -1, Assignments: map[int32][]int32{0: {3, 1}, 1: {2, 3}}},
	}, false)
	for _, r := range res {
		require.NoError(t, r.Err, r.Name)
		require.NotEqual(t, TopicID{}, r.TopicID)
	}
	require.Equal(t, int32(3), res[0].NumPartitions)
	require.Equal(t, int16(2), res[0].ReplicationFactor)
	require.Equal(t, int32(1), res[1].NumPartitions)
	require.Equal(t, int16(2), res[2].ReplicationFactor)

	img = c.Image()
	require.Equal(t, 3, img.NumTopics())
	a := img.Topic("a")
	require.Same(t, a, img.TopicByID(res[0].TopicID))
	require.Len(t, a.Partitions, 3)
	for _, p := range a.Partitions {
		require.Len(t, p.Replicas, 2)
		require.Equal(t, p.Replicas, p.ISR)
		require.Equal(t, p.Replicas[0], p.Leader)
	}
	require.Equal(t, map[string]string{"cleanup.policy": "compact"}, img.Config(ResourceTopic, "a"))
	require.Equal(t, []int32{3, 1}, img.Topic("c").Partitions[0].Replicas)
	require.Equal(t, int32(3), img.Topic("c").Partitions[0].Leader)

	// The subscriber sees the latest image.
	var seen *MetadataImage
	require.Eventually(t, func() bool {
		select {
		case seen = <-updates:
		default:
		}
		return seen != nil && seen.Topic("c") != nil
	}, 2*time.Second, 5*time.Millisecond)

	// CreatePartitions, auto and manual.
	require.NoError(t, c.CreatePartitions(ctx, "a", 5, nil, false))
	require.NoError(t, c.CreatePartitions(ctx, "a", 6, [][]int32{{2, 1}}, false))
	require.NoError(t, c.CreatePartitions(ctx, "a", 7, nil, true))
	a = c.Image().Topic("a")
	require.Len(t, a.Partitions, 6)
	require.Equal(t, []int32{2, 1}, a.Partitions[5].Replicas)
	require.Len(t, a.Partitions[4].Replicas, 2)

	// Incremental configs.
	require.NoError(t, c.AlterConfigs(ctx, ResourceTopic, "a", []ConfigOp{
		{Key: "retention.ms", Value: strp("1000"), Op: ConfigSet},
		{Key: "cleanup.policy", Value: strp("delete"), Op: ConfigAppend},
	}, false))
	require.Equal(t, map[string]string{"cleanup.policy": "compact,delete", "retention.ms": "1000"}, c.Image().Config(ResourceTopic, "a"))
	require.NoError(t, c.AlterConfigs(ctx, ResourceTopic, "a", []ConfigOp{
		{Key: "retention.ms", Op: ConfigDelete},
		{Key: "cleanup.policy", Value: strp("compact"), Op: ConfigSubtract},
	}, false))
	require.Equal(t, map[string]string{"cleanup.policy": "delete"}, c.Image().Config(ResourceTopic, "a"))
	require.NoError(t, c.AlterConfigs(ctx, ResourceBroker, "", []ConfigOp{{Key: "log.retention.ms", Value: strp("5"), Op: ConfigSet}}, false))
	require.NoError(t, c.AlterConfigs(ctx, ResourceBroker, "2", []ConfigOp{{Key: "x", Value: strp("y"), Op: ConfigSet}}, true))
	require.Equal(t, map[string]string{"log.retention.ms": "5"}, c.Image().Config(ResourceBroker, ""))
	require.Nil(t, c.Image().Config(ResourceBroker, "2"), "validateOnly writes nothing")
	require.NoError(t, c.ReplaceConfigs(ctx, ResourceBroker, "", map[string]string{"num.io.threads": "4"}, false))
	require.Equal(t, map[string]string{"num.io.threads": "4"}, c.Image().Config(ResourceBroker, ""))

	// Producer IDs.
	first, err := c.AllocateProducerIDs(ctx, 1000)
	require.NoError(t, err)
	second, err := c.AllocateProducerIDs(ctx, 1000)
	require.NoError(t, err)
	require.Equal(t, [2]int64{0, 1000}, [2]int64{first, second})

	// Partition change (leader election / ISR shrink).
	p0 := c.Image().Topic("a").Partitions[0]
	newLeader := p0.Replicas[1]
	p, err := c.ChangePartition(ctx, PartitionChange{TopicID: a.ID, Partition: 0, Leader: newLeader, ISR: []int32{newLeader}, PartitionEpoch: p0.PartitionEpoch})
	require.NoError(t, err)
	require.Equal(t, newLeader, p.Leader)
	require.Equal(t, p0.LeaderEpoch+1, p.LeaderEpoch)
	require.Equal(t, p0.PartitionEpoch+1, p.PartitionEpoch)
	require.Equal(t, []int32{newLeader}, p.ISR)
	_, err = c.ChangePartition(ctx, PartitionChange{TopicID: a.ID, Partition: 0, Leader: NoLeaderChange, ISR: p0.Replicas, PartitionEpoch: p0.PartitionEpoch})
	require.ErrorIs(t, err, ErrInvalidUpdateVersion)
	_, err = c.ChangePartition(ctx, PartitionChange{TopicID: a.ID, Partition: 0, Leader: NoLeaderChange, ISR: []int32{p0.Replicas[0]}, PartitionEpoch: -1})
	require.ErrorIs(t, err, ErrIneligibleReplica, "the leader must stay in the ISR")
	_, err = c.ChangePartition(ctx, PartitionChange{TopicID: a.ID, Partition: 0, Leader: 99, PartitionEpoch: -1})
	require.ErrorIs(t, err, ErrIneligibleReplica)
	_, err = c.ChangePartition(ctx, PartitionChange{TopicID: a.ID, Partition: 42, Leader: NoLeaderChange, PartitionEpoch: -1})
	require.ErrorIs(t, err, ErrUnknownPartition)
	require.Same(t, p0, img.Topic("a").Partitions[0], "older images are untouched")

	// Delete by name and by ID; configs go with the topic.
	del := c.DeleteTopics(ctx, []TopicRef{{Name: "a"}, {ID: res[1].TopicID}, {Name: "nope"}})
	require.NoError(t, del[0].Err)
	require.NoError(t, del[1].Err)
	require.Equal(t, "b", del[1].Name)
	require.ErrorIs(t, del[2].Err, ErrUnknownTopic)
	img = c.Image()
	require.Nil(t, img.Topic("a"))
	require.Nil(t, img.TopicByID(res[0].TopicID))
	require.Nil(t, img.Config(ResourceTopic, "a"))
	require.Equal(t, 1, img.NumTopics())
	// A deleted name can be reused, with a new ID.
	again := c.CreateTopics(ctx, []CreateTopic{{Name: "a", NumPartitions: 1, ReplicationFactor: 3}}, false)
	require.NoError(t, again[0].Err)
	require.NotEqual(t, res[0].TopicID, again[0].TopicID)

	before := c.Image()
	require.NoError(t, c.Close())
	_, err = c.RegisterBroker(ctx, BrokerRegistration{ID: 9})
	require.ErrorIs(t, err, ErrNotController)

	// Restart: raft replays the log.
	start = time.Now()
	c2 := openController(t, cfg)
	t.Logf("restart to leader (log replay): %v", time.Since(start))
	require.Equal(t, before, c2.Image())

	// Restart from a snapshot with the log compacted behind it.
	require.NoError(t, c2.Snapshot())
	registerBrokers(t, c2, 4) // a log tail after the snapshot
	before = c2.Image()
	require.NoError(t, c2.Close())
	cfg.TrailingLogs = 1
	c3 := openController(t, cfg)
	require.Equal(t, before, c3.Image())
	require.NoError(t, c3.Snapshot())
	require.NoError(t, c3.Close())
	c4 := openController(t, cfg)
	first4, _ := c4.logs.FirstIndex()
	require.Greater(t, first4, uint64(1), "log was compacted, the image came from the snapshot")
	require.Equal(t, before, c4.Image())
}

func TestCreateTopicsValidation(t *testing.T) {
	ctx := context.Background()
	cfg := soleConfig(t, t.TempDir())
	cfg.ValidateConfig = func(resourceType int8, name string, merged map[string]string) error {
		if v, ok := merged["retention.ms"]; ok && strings.HasPrefix(v, "-5") {
			return errors.New("Invalid value -5 for configuration retention.ms")
		}
		return nil
	}
	c := openController(t, cfg)
	registerBrokers(t, c, 1, 2)
	require.NoError(t, c.CreateTopics(ctx, []CreateTopic{{Name: "exists.dot", NumPartitions: 1, ReplicationFactor: 1}}, false)[0].Err)

	tests := []struct {
		name  string
		topic CreateTopic
		err   error
		msg   string
	}{
		{"exists", CreateTopic{Name: "exists.dot", NumPartitions: 1, ReplicationFactor: 1}, ErrTopicExists, "Topic 'exists.dot' already exists."},
		{"collision", CreateTopic{Name: "exists_dot", NumPartitions: 1, ReplicationFactor: 1}, ErrInvalidTopic, "collides with existing topic: exists.dot"},
		{"bad name", CreateTopic{Name: "a b", NumPartitions: 1, ReplicationFactor: 1}, ErrInvalidTopic, "contains a character other than ASCII alphanumerics"},
		{"dot", CreateTopic{Name: ".", NumPartitions: 1, ReplicationFactor: 1}, ErrInvalidTopic, `Topic name cannot be "." or ".."`},
		{"zero partitions", CreateTopic{Name: "t", NumPartitions: 0, ReplicationFactor: 1}, ErrInvalidPartitions, "Number of partitions was set to an invalid non-positive value."},
		{"zero rf", CreateTopic{Name: "t", NumPartitions: 1, ReplicationFactor: 0}, ErrInvalidReplicationFactor, "Replication factor must be larger than 0"},
		{"rf too big", CreateTopic{Name: "t", NumPartitions: 1, ReplicationFactor: 3}, ErrInvalidReplicationFactor,
			"Unable to replicate the partition 3 time(s): The target replication factor of 3 cannot be reached because only 2 broker(s) are registered."},
		{"both", CreateTopic{Name: "t", NumPartitions: 1, ReplicationFactor: -1, Assignments: map[int32][]int32{0: {1}}}, ErrInvalidRequest, "Both numPartitions"},
		{"unknown broker", CreateTopic{Name: "t", NumPartitions: -1, ReplicationFactor: -1, Assignments: map[int32][]int32{0: {7}}}, ErrInvalidReplicaAssignment, "broker 7"},
		{"gap", CreateTopic{Name: "t", NumPartitions: -1, ReplicationFactor: -1, Assignments: map[int32][]int32{0: {1}, 2: {2}}}, ErrInvalidReplicaAssignment, "consecutively"},
		{"uneven", CreateTopic{Name: "t", NumPartitions: -1, ReplicationFactor: -1, Assignments: map[int32][]int32{0: {1}, 1: {1, 2}}}, ErrInvalidReplicaAssignment, "same number of replicas"},
		{"dup replica", CreateTopic{Name: "t", NumPartitions: -1, ReplicationFactor: -1, Assignments: map[int32][]int32{0: {1, 1}}}, ErrInvalidReplicaAssignment, "more than once"},
		{"null config", CreateTopic{Name: "t", NumPartitions: 1, ReplicationFactor: 1, Configs: map[string]*string{"x": nil}}, ErrInvalidConfig, "Null value"},
		{"hook", CreateTopic{Name: "t", NumPartitions: 1, ReplicationFactor: 1, Configs: map[string]*string{"retention.ms": strp("-5")}}, ErrInvalidConfig, "Invalid value -5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := c.CreateTopics(ctx, []CreateTopic{tt.topic}, false)
			require.ErrorIs(t, res[0].Err, tt.err)
			require.Contains(t, res[0].Err.Error(), tt.msg)
		})
	}

	// One bad topic does not stop the good ones; duplicates fail both.
	res := c.CreateTopics(ctx, []CreateTopic{
		{Name: "good", NumPartitions: 2, ReplicationFactor: 2},
		{Name: "bad/", NumPartitions: 1, ReplicationFactor: 1},
		{Name: "dup", NumPartitions: 1, ReplicationFactor: 1},
		{Name: "dup", NumPartitions: 1, ReplicationFactor: 1},
		{Name: "good.x", NumPartitions: 1, ReplicationFactor: 1},
		{Name: "good_x", NumPartitions: 1, ReplicationFactor: 1},
	}, false)
	require.NoError(t, res[0].Err)
	require.ErrorIs(t, res[1].Err, ErrInvalidTopic)
	require.ErrorIs(t, res[2].Err, ErrInvalidRequest)
	require.ErrorIs(t, res[3].Err, ErrInvalidRequest)
	require.NoError(t, res[4].Err)
	require.ErrorIs(t, res[5].Err, ErrInvalidTopic, "collides within the request")

	// validateOnly writes nothing.
	res = c.CreateTopics(ctx, []CreateTopic{{Name: "dry", NumPartitions: 4, ReplicationFactor: 2}}, true)
	require.NoError(t, res[0].Err)
	require.Equal(t, int32(4), res[0].NumPartitions)
	require.Nil(t, c.Image().Topic("dry"))

	// CreatePartitions and AlterConfigs errors.
	require.ErrorIs(t, c.CreatePartitions(ctx, "nope", 3, nil, false), ErrUnknownTopic)
	err := c.CreatePartitions(ctx, "good", 1, nil, false)
	require.ErrorIs(t, err, ErrInvalidPartitions)
	require.Contains(t, err.Error(), "Topic currently has 2 partitions, which is higher than the requested 1.")
	require.ErrorIs(t, c.CreatePartitions(ctx, "good", 2, nil, false), ErrInvalidPartitions)
	require.ErrorIs(t, c.CreatePartitions(ctx, "good", 4, [][]int32{{1, 2}}, false), ErrInvalidReplicaAssignment)
	require.ErrorIs(t, c.CreatePartitions(ctx, "good", 3, [][]int32{{1}}, false), ErrInvalidReplicaAssignment)
	require.ErrorIs(t, c.AlterConfigs(ctx, ResourceTopic, "nope", nil, false), ErrUnknownTopic)
	require.ErrorIs(t, c.AlterConfigs(ctx, ResourceBroker, "x", nil, false), ErrInvalidRequest)
	require.ErrorIs(t, c.AlterConfigs(ctx, ResourceTopic, "good", []ConfigOp{{Key: "retention.ms", Value: strp("-5")}}, false), ErrInvalidConfig)
	require.ErrorIs(t, c.AlterConfigs(ctx, ResourceTopic, "good", []ConfigOp{{Key: "a", Value: strp("1")}, {Key: "a", Op: ConfigDelete}}, false), ErrInvalidRequest)
	require.ErrorIs(t, c.AlterConfigs(ctx, ResourceTopic, "good", []ConfigOp{{Key: "a", Op: ConfigSet}}, false), ErrInvalidRequest)
	_, err = c.AllocateProducerIDs(ctx, 0)
	require.ErrorIs(t, err, ErrInvalidRequest)

	// Fencing: a fenced broker takes no new replicas.
	b2 := c.Image().Broker(2)
	require.ErrorIs(t, c.SetBrokerFenced(ctx, 2, b2.Epoch+100, true), ErrStaleBrokerEpoch)
	require.NoError(t, c.SetBrokerFenced(ctx, 2, b2.Epoch, true))
	require.True(t, c.Image().Broker(2).Fenced)
	res = c.CreateTopics(ctx, []CreateTopic{{Name: "rf2", NumPartitions: 1, ReplicationFactor: 2}}, false)
	require.ErrorIs(t, res[0].Err, ErrInvalidReplicationFactor)
	require.Contains(t, res[0].Err.Error(), "only 1 broker(s)")
	require.NoError(t, c.UnregisterBroker(ctx, 2))
	require.ErrorIs(t, c.UnregisterBroker(ctx, 2), ErrBrokerIDNotRegistered)
}

func TestParseVoters(t *testing.T) {
	v, err := ParseVoters("1@localhost:9093, 2@10.0.0.2:9093,3@[::1]:9093")
	require.NoError(t, err)
	require.Equal(t, []Voter{{1, "localhost:9093"}, {2, "10.0.0.2:9093"}, {3, "[::1]:9093"}}, v)
	for _, bad := range []string{"", "1", "x@h:1", "1@nohost", "1@h:1,1@h:2"} {
		_, err := ParseVoters(bad)
		require.Error(t, err, bad)
	}
}

func TestQuorumFailover(t *testing.T) {
	ctx := context.Background()
	var voters []Voter
	for i := int32(1); i <= 3; i++ {
		voters = append(voters, Voter{ID: i, Addr: freeAddr(t)})
	}
	cfgs := make([]Config, 3)
	ctrls := make([]*Controller, 3)
	for i := range ctrls {
		cfgs[i] = Config{
			NodeID: voters[i].ID, ClusterID: "q", Dir: t.TempDir(), Voters: voters,
			Logger: testLogger(t).With(zap.Int("node", i+1)),
			// Short enough for a quick test, long enough that a loaded
			// 2-core machine does not elect over and over.
			HeartbeatTimeout: 500 * time.Millisecond, ElectionTimeout: 500 * time.Millisecond,
		}
		ctrls[i] = openController(t, cfgs[i])
	}
	var (
		leader *Controller
		res    []CreateTopicResult
	)
	require.Eventually(t, func() bool {
		if leader = activeOf(ctrls); leader == nil {
			return false
		}
		for _, id := range []int32{1, 2, 3} {
			if err := registerBroker(leader, id); err != nil {
				return false
			}
		}
		res = leader.CreateTopics(ctx, []CreateTopic{{Name: "replicated", NumPartitions: 6, ReplicationFactor: 3}}, false)
		return !errors.Is(res[0].Err, ErrNotController)
	}, 60*time.Second, 10*time.Millisecond)
	require.NoError(t, res[0].Err)
	waitLeader(t, ctrls) // settle: the same leader is asserted below
	if !leader.IsActive() {
		leader = waitLeader(t, ctrls)
	}
	for _, c := range ctrls {
		if c == leader {
			continue
		}
		require.Eventually(t, func() bool { return c.Image().Topic("replicated") != nil }, 5*time.Second, 10*time.Millisecond)
		require.Equal(t, res[0].TopicID, c.Image().Topic("replicated").ID)
		// Followers refuse writes and name the leader.
		_, err := c.RegisterBroker(ctx, BrokerRegistration{ID: 9})
		require.ErrorIs(t, err, ErrNotController)
		require.Contains(t, err.Error(), fmt.Sprintf("leader is node %d", leader.cfg.NodeID))
	}

	// Kill the leader: the survivors elect a new one that accepts writes
	// and still has the topic.
	require.NoError(t, leader.Close())
	var rest []*Controller
	for _, c := range ctrls {
		if c != leader {
			rest = append(rest, c)
		}
	}
	start := time.Now()
	next := waitLeader(t, rest)
	t.Logf("failover: new leader %d after %v", next.cfg.NodeID, time.Since(start))
	require.NotNil(t, next.Image().Topic("replicated"))
	// Like a client, retry on NOT_CONTROLLER: a slow test machine may see
	// another election right after the first.
	require.Eventually(t, func() bool {
		l := activeOf(rest)
		if l == nil {
			return false
		}
		res = l.CreateTopics(ctx, []CreateTopic{{Name: "after-failover", NumPartitions: 1, ReplicationFactor: 2}}, false)
		return !errors.Is(res[0].Err, ErrNotController)
	}, 60*time.Second, 10*time.Millisecond)
	require.NoError(t, res[0].Err)
	for _, c := range rest {
		require.Eventually(t, func() bool { return c.Image().Topic("after-failover") != nil }, 5*time.Second, 10*time.Millisecond)
	}

	// The old leader restarts, catches up as a follower.
	var old int
	for i, c := range ctrls {
		if c == leader {
			old = i
		}
	}
	back := openController(t, cfgs[old])
	require.Eventually(t, func() bool { return back.Image().Topic("after-failover") != nil }, 10*time.Second, 10*time.Millisecond)
}

// waitLeader waits until exactly one of ctrls is the active controller.
func waitLeader(t *testing.T, ctrls []*Controller) *Controller {
	t.Helper()
	var leader *Controller
	require.Eventually(t, func() bool {
		leader = activeOf(ctrls)
		return leader != nil
	}, 60*time.Second, 10*time.Millisecond)
	return leader
}

// activeOf returns the one active controller of ctrls, nil when none or
// more than one (an old leader that has not noticed yet) is.
func activeOf(ctrls []*Controller) *Controller {
	var leader *Controller
	for _, c := range ctrls {
		if c.IsActive() {
			if leader != nil {
				return nil
			}
			leader = c
		}
	}
	return leader
}

func TestOpenRejectsUnknownNode(t *testing.T) {
	cfg := soleConfig(t, t.TempDir())
	cfg.NodeID = 5
	_, err := Open(context.Background(), cfg)
	require.Error(t, err)
}

func TestConcurrentCreatesSerialize(t *testing.T) {
	ctx := context.Background()
	c := openController(t, soleConfig(t, t.TempDir()))
	registerBrokers(t, c, 1)
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go func() { // a reader racing the writers
		defer close(readerDone)
		for {
			select {
			case <-stop:
				return
			default:
				if tp := c.Image().Topic("same"); tp != nil {
					_ = tp.Partitions[0].Leader
				}
			}
		}
	}()
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			errs <- c.CreateTopics(ctx, []CreateTopic{{Name: "same", NumPartitions: 2, ReplicationFactor: 1}}, false)[0].Err
		}()
	}
	ok := 0
	for range 8 {
		if err := <-errs; err == nil {
			ok++
		} else {
			require.ErrorIs(t, err, ErrTopicExists)
		}
	}
	close(stop)
	<-readerDone
	require.Equal(t, 1, ok)
}
