package controller

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// TestLogDirsInMetadata: brokers register their log dirs, replicas get
// their dirs through AssignReplicasToDirs (with Kafka's per-partition
// errors), a heartbeat naming a failed dir moves the broker out of the ISR
// and leadership of exactly the partitions in it, and all of it survives
// a snapshot and the wire encoding.
func TestLogDirsInMetadata(t *testing.T) {
	ctx := context.Background()
	c := openController(t, withoutELR(soleConfig(t, t.TempDir())))
	dirs := registerTwoDirBrokers(ctx, t, c)
	require.Equal(t, dirs[1], c.Image().Broker(1).LogDirs)
	res := c.CreateTopics(ctx, []CreateTopic{{Name: "t", Assignments: map[int32][]int32{0: {1, 2, 3}, 1: {1, 3, 2}, 2: {2, 3, 1}}, NumPartitions: -1, ReplicationFactor: -1}}, false)
	require.NoError(t, res[0].Err)
	id := res[0].TopicID
	for _, p := range c.Image().Topic("t").Partitions {
		require.Nil(t, p.Directories, "a new replica's dir is UNASSIGNED")
	}
	epoch1 := c.Image().Broker(1).Epoch

	// Broker 1 placed partitions 0 and 2 in its first dir, 1 in its second.
	errs, err := c.AssignReplicasToDirs(ctx, 1, epoch1, []DirAssignment{
		{TopicID: id, Partition: 0, Dir: dirs[1][0]},
		{TopicID: id, Partition: 1, Dir: dirs[1][1]},
		{TopicID: id, Partition: 2, Dir: dirs[1][0]},
		{TopicID: id, Partition: 7, Dir: dirs[1][0]},
		{TopicID: NewTopicID(), Partition: 0, Dir: dirs[1][0]},
	})
	require.NoError(t, err)
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	require.NoError(t, errs[2])
	require.ErrorIs(t, errs[3], ErrUnknownPartition)
	require.ErrorIs(t, errs[4], ErrUnknownTopicID)
	_, err = c.AssignReplicasToDirs(ctx, 1, epoch1+5, nil)
	require.ErrorIs(t, err, ErrStaleBrokerEpoch)
	ps := c.Image().Topic("t").Partitions
	require.Equal(t, dirs[1][0], ps[0].Directory(1))
	require.Equal(t, dirs[1][1], ps[1].Directory(1))
	require.Equal(t, UnassignedDir, ps[0].Directory(2))
	require.Equal(t, int32(1), ps[0].Leader)
	require.Equal(t, int32(1), ps[1].Leader)

	// A reassignment keeps the dirs of the replicas that stay.
	require.NoError(t, c.AssignReplicasToDirs2(ctx, t, 2, id, 0, dirs[2][1]))
	before := c.Image().Topic("t").Partitions[0]
	require.Equal(t, dirs[2][1], before.Directory(2))

	// Broker 1's first dir fails: it leaves the ISR and leadership of
	// partitions 0 and 2, keeps partition 1, and the dir leaves its
	// online dirs. Reporting it again changes nothing.
	_, err = c.BrokerHeartbeat(ctx, BrokerHeartbeat{BrokerID: 1, BrokerEpoch: epoch1, CurrentMetadataOffset: int64(c.Image().Offset()), OfflineLogDirs: []DirectoryID{dirs[1][0]}})
	require.NoError(t, err)
	img := c.Image()
	ps = img.Topic("t").Partitions
	require.Equal(t, int32(2), ps[0].Leader)
	require.Equal(t, []int32{2, 3}, ps[0].ISR)
	require.Equal(t, []int32{2, 3}, ps[2].ISR)
	require.Equal(t, int32(1), ps[1].Leader)
	require.Equal(t, []int32{1, 3, 2}, ps[1].ISR)
	require.Equal(t, []DirectoryID{dirs[1][1]}, img.Broker(1).LogDirs)
	require.False(t, img.Broker(1).Fenced, "the broker keeps serving its other dir")
	off := img.Offset()
	_, err = c.BrokerHeartbeat(ctx, BrokerHeartbeat{BrokerID: 1, BrokerEpoch: epoch1, CurrentMetadataOffset: int64(off), OfflineLogDirs: []DirectoryID{dirs[1][0]}})
	require.NoError(t, err)
	require.Equal(t, off, c.Image().Offset())

	// A replica placed in a dir that is not online leaves the ISR too.
	_, err = c.AssignReplicasToDirs(ctx, 1, epoch1, []DirAssignment{{TopicID: id, Partition: 1, Dir: dirs[1][0]}})
	require.NoError(t, err)
	p1 := c.Image().Topic("t").Partitions[1]
	require.NotContains(t, p1.ISR, int32(1))
	require.NotEqual(t, int32(1), p1.Leader)

	// The image round-trips through its snapshot records.
	restored := restoreImage(t, c.Image())
	require.Equal(t, c.Image().Topic("t").Partitions[0].Directories, restored.Topic("t").Partitions[0].Directories)
	require.Equal(t, c.Image().Broker(1).LogDirs, restored.Broker(1).LogDirs)

	// And the request over the wire.
	as := []DirAssignment{{TopicID: id, Partition: 0, Dir: dirs[3][0]}, {TopicID: id, Partition: 9, Dir: dirs[3][1]}}
	req := assignReplicasToDirsRequest(3, c.Image().Broker(3).Epoch, as)
	resp := c.HandleRPC(ctx, &protocol.RequestHeader{RequestAPIKey: protocol.KeyAssignReplicasToDirs, RequestAPIVersion: 0}, req).(*protocol.AssignReplicasToDirsResponse)
	require.Equal(t, int16(0), resp.ErrorCode)
	out, err := assignResults(as, resp)
	require.NoError(t, err)
	require.NoError(t, out[0])
	require.ErrorIs(t, out[1], ErrUnknownTopic) // the wire code is UNKNOWN_TOPIC_OR_PARTITION
	require.Equal(t, errcode.UnknownTopicOrPartition, resp.Directories[1].Topics[0].Partitions[0].ErrorCode)
	require.Equal(t, dirs[3][0], c.Image().Topic("t").Partitions[0].Directory(3))
}

// AssignReplicasToDirs2 assigns one replica of broker id.
func (c *Controller) AssignReplicasToDirs2(ctx context.Context, t *testing.T, id int32, topic TopicID, partition int32, dir DirectoryID) error {
	errs, err := c.AssignReplicasToDirs(ctx, id, c.Image().Broker(id).Epoch, []DirAssignment{{TopicID: topic, Partition: partition, Dir: dir}})
	if err != nil {
		return err
	}
	return errs[0]
}

func restoreImage(t *testing.T, img *MetadataImage) *MetadataImage {
	t.Helper()
	restored, err := readSnapshot(bytes.NewReader(encodeSnapshot(img)))
	require.NoError(t, err)
	return restored
}

// TestCordonedLogDirsInMetadata: heartbeats carry a broker's cordoned dirs
// (KIP-1066) into its registration; a broker whose every online dir is
// cordoned gets no new replicas, and it survives a snapshot.
func TestCordonedLogDirsInMetadata(t *testing.T) {
	ctx := context.Background()
	c := openController(t, withoutELR(soleConfig(t, t.TempDir())))
	dirs := map[int32][]DirectoryID{}
	epochs := map[int32]int64{}
	for _, id := range []int32{1, 2, 3} {
		dirs[id] = []DirectoryID{NewTopicID(), NewTopicID()}
		epoch, err := c.RegisterBroker(ctx, BrokerRegistration{ID: id, IncarnationID: NewTopicID(), LogDirs: dirs[id],
			Endpoints: []Endpoint{{Name: "PLAINTEXT", Host: "localhost", Port: uint16(9092 + id)}}})
		require.NoError(t, err)
		epochs[id] = epoch
		_, err = c.BrokerHeartbeat(ctx, BrokerHeartbeat{BrokerID: id, BrokerEpoch: epoch, CurrentMetadataOffset: epoch, CordonedLogDirs: []DirectoryID{}})
		require.NoError(t, err)
	}
	require.Nil(t, c.Image().Broker(1).CordonedLogDirs)
	// Broker 2 cordons both dirs, broker 3 one of them.
	_, err := c.BrokerHeartbeat(ctx, BrokerHeartbeat{BrokerID: 2, BrokerEpoch: epochs[2], CurrentMetadataOffset: int64(c.Image().Offset()), CordonedLogDirs: dirs[2]})
	require.NoError(t, err)
	_, err = c.BrokerHeartbeat(ctx, BrokerHeartbeat{BrokerID: 3, BrokerEpoch: epochs[3], CurrentMetadataOffset: int64(c.Image().Offset()), CordonedLogDirs: dirs[3][:1]})
	require.NoError(t, err)
	img := c.Image()
	require.Equal(t, dirs[2], img.Broker(2).CordonedLogDirs)
	require.False(t, img.Broker(2).HasUncordonedDirs())
	require.True(t, img.Broker(3).HasUncordonedDirs())
	require.Equal(t, []int32{1, 3}, usableBrokers(img))

	res := c.CreateTopics(ctx, []CreateTopic{{Name: "t", NumPartitions: 6, ReplicationFactor: 2}}, false)
	require.NoError(t, res[0].Err)
	for _, p := range c.Image().Topic("t").Partitions {
		require.NotContains(t, p.Replicas, int32(2))
	}
	res = c.CreateTopics(ctx, []CreateTopic{{Name: "rf3", NumPartitions: 1, ReplicationFactor: 3}}, false)
	require.ErrorIs(t, res[0].Err, ErrInvalidReplicationFactor)

	require.Equal(t, dirs[2], restoreImage(t, c.Image()).Broker(2).CordonedLogDirs)

	// Uncordoned again: placeable again.
	_, err = c.BrokerHeartbeat(ctx, BrokerHeartbeat{BrokerID: 2, BrokerEpoch: epochs[2], CurrentMetadataOffset: int64(c.Image().Offset()), CordonedLogDirs: []DirectoryID{}})
	require.NoError(t, err)
	require.Equal(t, []int32{1, 2, 3}, usableBrokers(c.Image()))
}

// TestLogDirBackOnline: a broker's dir that failed comes back when the
// broker amends its registration (same incarnation) with it among its
// online dirs (Spool: a full dir once space returns). The broker keeps its
// epoch and cordoned dirs; its replica there may rejoin the ISR (refused
// as INELIGIBLE_REPLICA while the dir was offline); and where the dir held
// the last ISR member of a partition left without a leader, it leads again.
func TestLogDirBackOnline(t *testing.T) {
	ctx := context.Background()
	c := openController(t, withoutELR(soleConfig(t, t.TempDir())))
	dirs := map[int32][]DirectoryID{}
	incarnations := map[int32][16]byte{}
	for _, id := range []int32{1, 2, 3} {
		dirs[id] = []DirectoryID{NewTopicID(), NewTopicID()}
		incarnations[id] = NewTopicID()
		epoch, err := c.RegisterBroker(ctx, BrokerRegistration{ID: id, IncarnationID: incarnations[id], LogDirs: dirs[id],
			Endpoints: []Endpoint{{Name: "PLAINTEXT", Host: "localhost", Port: uint16(9092 + id)}}})
		require.NoError(t, err)
		_, err = c.BrokerHeartbeat(ctx, BrokerHeartbeat{BrokerID: id, BrokerEpoch: epoch, CurrentMetadataOffset: epoch})
		require.NoError(t, err)
	}
	res := c.CreateTopics(ctx, []CreateTopic{
		{Name: "t", Assignments: map[int32][]int32{0: {1, 2, 3}}, NumPartitions: -1, ReplicationFactor: -1},
		{Name: "s", Assignments: map[int32][]int32{0: {1}}, NumPartitions: -1, ReplicationFactor: -1},
	}, false)
	require.NoError(t, res[0].Err)
	require.NoError(t, res[1].Err)
	id, sole := res[0].TopicID, res[1].TopicID
	epoch1 := c.Image().Broker(1).Epoch
	require.NoError(t, c.AssignReplicasToDirs2(ctx, t, 1, id, 0, dirs[1][1]))
	require.NoError(t, c.AssignReplicasToDirs2(ctx, t, 1, sole, 0, dirs[1][1]))
	_, err := c.BrokerHeartbeat(ctx, BrokerHeartbeat{BrokerID: 1, BrokerEpoch: epoch1, CurrentMetadataOffset: int64(c.Image().Offset()), CordonedLogDirs: dirs[1][:1]})
	require.NoError(t, err)

	// The second dir fails.
	_, err = c.BrokerHeartbeat(ctx, BrokerHeartbeat{BrokerID: 1, BrokerEpoch: epoch1, CurrentMetadataOffset: int64(c.Image().Offset()),
		OfflineLogDirs: dirs[1][1:], CordonedLogDirs: dirs[1][:1]})
	require.NoError(t, err)
	ps := c.Image().Topic("t").Partitions
	require.Equal(t, int32(2), ps[0].Leader)
	require.Equal(t, []int32{2, 3}, ps[0].ISR)
	require.Equal(t, int32(-1), c.Image().Topic("s").Partitions[0].Leader, "its only replica is on the failed dir")
	require.Equal(t, []DirectoryID{dirs[1][0]}, c.Image().Broker(1).LogDirs)
	rejoin := func() error {
		p := c.Image().Topic("t").Partitions[0]
		out, err := c.AlterPartition(ctx, 2, c.Image().Broker(2).Epoch, []ISRUpdate{{TopicID: id, Partition: 0,
			LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch, NewISR: []int32{2, 3, 1}}})
		require.NoError(t, err)
		return out[0].Err
	}
	require.ErrorIs(t, rejoin(), ErrIneligibleReplica)

	// Space returns: the broker amends its registration.
	epoch, err := c.RegisterBroker(ctx, BrokerRegistration{ID: 1, IncarnationID: incarnations[1], LogDirs: dirs[1],
		Endpoints: []Endpoint{{Name: "PLAINTEXT", Host: "localhost", Port: 9093}}})
	require.NoError(t, err)
	require.Equal(t, epoch1, epoch)
	b := c.Image().Broker(1)
	require.Equal(t, dirs[1], b.LogDirs)
	require.Equal(t, dirs[1][:1], b.CordonedLogDirs)
	require.False(t, b.Fenced)
	require.Equal(t, int32(1), c.Image().Topic("s").Partitions[0].Leader, "the sole replica leads again")
	require.Equal(t, []int32{1}, c.Image().Topic("s").Partitions[0].ISR)
	require.Equal(t, int32(2), c.Image().Topic("t").Partitions[0].Leader, "a partition with a leader keeps it")
	require.NoError(t, rejoin())
	require.Equal(t, []int32{2, 3, 1}, c.Image().Topic("t").Partitions[0].ISR)

	// The next heartbeat (without the dir) changes nothing.
	off := c.Image().Offset()
	_, err = c.BrokerHeartbeat(ctx, BrokerHeartbeat{BrokerID: 1, BrokerEpoch: epoch1, CurrentMetadataOffset: int64(off), CordonedLogDirs: dirs[1][:1]})
	require.NoError(t, err)
	require.Equal(t, off, c.Image().Offset())
}

// TestAllLogDirsOfflineSurvivesSnapshot: a broker whose every log dir
// failed has no online dir, not "registered none, every dir online": the
// empty list survives a snapshot, the record encoding and a re-registration
// of the same incarnation, and no replica of it is online.
func TestAllLogDirsOfflineSurvivesSnapshot(t *testing.T) {
	ctx := context.Background()
	c := openController(t, withoutELR(soleConfig(t, t.TempDir())))
	dirs := []DirectoryID{NewTopicID(), NewTopicID()}
	inc := NewTopicID()
	reg := BrokerRegistration{ID: 1, IncarnationID: inc, LogDirs: dirs,
		Endpoints: []Endpoint{{Name: "PLAINTEXT", Host: "localhost", Port: 9093}}}
	epoch, err := c.RegisterBroker(ctx, reg)
	require.NoError(t, err)
	_, err = c.BrokerHeartbeat(ctx, BrokerHeartbeat{BrokerID: 1, BrokerEpoch: epoch, CurrentMetadataOffset: epoch})
	require.NoError(t, err)
	_, err = c.BrokerHeartbeat(ctx, BrokerHeartbeat{BrokerID: 1, BrokerEpoch: epoch,
		CurrentMetadataOffset: int64(c.Image().Offset()), OfflineLogDirs: dirs})
	require.NoError(t, err)

	check := func(img *MetadataImage, how string) {
		t.Helper()
		b := img.Broker(1)
		require.NotNil(t, b.LogDirs, "%s: every dir offline is not 'registered none'", how)
		require.Empty(t, b.LogDirs, how)
		require.False(t, b.HasOnlineDir(dirs[0]), how)
		require.False(t, b.HasOnlineDir(dirs[1]), how)
		require.True(t, b.HasOnlineDir(UnassignedDir), how)
		require.False(t, b.HasUncordonedDirs(), "%s: no new replicas for a broker without online dirs", how)
	}
	check(c.Image(), "live image")
	check(restoreImage(t, c.Image()), "after a snapshot")

	// The records, through their encoding: RegisterBrokerRecord (what a
	// snapshot holds) and BrokerRegistrationChangeRecord (what the log holds).
	recs := []Record{
		&RegisterBrokerRecord{BrokerID: 1, BrokerEpoch: epoch, LogDirs: []DirectoryID{}},
		&BrokerRegistrationChangeRecord{BrokerID: 1, BrokerEpoch: epoch, LogDirs: []DirectoryID{}},
		&RegisterBrokerRecord{BrokerID: 1, BrokerEpoch: epoch},
	}
	got, err := DecodeBatch(EncodeBatch(recs))
	require.NoError(t, err)
	require.Equal(t, recs, got)
	require.Nil(t, got[2].(*RegisterBrokerRecord).LogDirs, "nil stays nil: registered none")

	// The same incarnation re-registering without dirs still has none online.
	reg.LogDirs = nil
	_, err = c.RegisterBroker(ctx, reg)
	require.NoError(t, err)
	check(c.Image(), "after re-registering")
	check(restoreImage(t, c.Image()), "after re-registering and a snapshot")
}

// TestOfflineDirReplicaNotElected: as Kafka's LeaderAcceptor, a replica
// whose log dir is offline is never an acceptable leader, not even in an
// unclean election where it is the only live replica left.
func TestOfflineDirReplicaNotElected(t *testing.T) {
	ctx := context.Background()
	c := openController(t, withoutELR(soleConfig(t, t.TempDir())))
	dirs := registerTwoDirBrokers(ctx, t, c)
	res := c.CreateTopics(ctx, []CreateTopic{{Name: "t", Assignments: map[int32][]int32{0: {1, 2, 3}, 1: {1, 3, 2}}, NumPartitions: -1, ReplicationFactor: -1}}, false)
	require.NoError(t, res[0].Err)
	id := res[0].TopicID
	for _, p := range []int32{0, 1} {
		require.NoError(t, c.AssignReplicasToDirs2(ctx, t, 2, id, p, dirs[2][0]))
		require.NoError(t, c.AssignReplicasToDirs2(ctx, t, 3, id, p, dirs[3][0]))
	}
	// Broker 2's dir fails: it leaves both ISRs but stays registered and
	// unfenced for its other dir.
	b2 := c.Image().Broker(2)
	_, err := c.BrokerHeartbeat(ctx, BrokerHeartbeat{BrokerID: 2, BrokerEpoch: b2.Epoch,
		CurrentMetadataOffset: int64(c.Image().Offset()), OfflineLogDirs: []DirectoryID{dirs[2][0]}})
	require.NoError(t, err)
	require.Equal(t, []int32{1, 3}, c.Image().Topic("t").Partitions[0].ISR)
	require.False(t, c.Image().Broker(2).Fenced)

	// Brokers 1 and 3 are fenced: both partitions lose their leader, and
	// broker 2 is the only active replica left.
	for _, b := range []int32{1, 3} {
		require.NoError(t, c.SetBrokerFenced(ctx, b, c.Image().Broker(b).Epoch, true))
	}
	for _, p := range c.Image().Topic("t").Partitions {
		require.Equal(t, NoLeader, p.Leader)
	}
	_, errs, err := c.ElectLeaders(ctx, ElectionUnclean, []TopicPartition{{Topic: "t", Partition: 0}})
	require.NoError(t, err)
	require.ErrorIs(t, errs[0], ErrEligibleLeadersNotAvailable, "a replica on an offline dir is not elected")
	require.Equal(t, NoLeader, c.Image().Topic("t").Partitions[0].Leader)

	// Its dir back online (Spool: a full dir with space again), it may lead.
	b2 = c.Image().Broker(2)
	_, err = c.RegisterBroker(ctx, BrokerRegistration{ID: 2, IncarnationID: b2.IncarnationID, LogDirs: dirs[2],
		Endpoints: b2.Endpoints})
	require.NoError(t, err)
	_, errs, err = c.ElectLeaders(ctx, ElectionUnclean, []TopicPartition{{Topic: "t", Partition: 0}})
	require.NoError(t, err)
	if errs[0] != nil {
		require.ErrorIs(t, errs[0], ErrElectionNotNeeded, "the returning dir's partitions may already have been given a leader")
	}
	require.Equal(t, int32(2), c.Image().Topic("t").Partitions[0].Leader)
}

// registerTwoDirBrokers registers and unfences brokers 1-3, each with two
// fresh log dirs, and returns their dirs.
func registerTwoDirBrokers(ctx context.Context, t *testing.T, c *Controller) map[int32][]DirectoryID {
	t.Helper()
	dirs := map[int32][]DirectoryID{}
	for _, id := range []int32{1, 2, 3} {
		dirs[id] = []DirectoryID{NewTopicID(), NewTopicID()}
		epoch, err := c.RegisterBroker(ctx, BrokerRegistration{ID: id, IncarnationID: NewTopicID(), LogDirs: dirs[id],
			Endpoints: []Endpoint{{Name: "PLAINTEXT", Host: "localhost", Port: uint16(9092 + id)}}})
		require.NoError(t, err)
		_, err = c.BrokerHeartbeat(ctx, BrokerHeartbeat{BrokerID: id, BrokerEpoch: epoch, CurrentMetadataOffset: epoch})
		require.NoError(t, err)
	}
	return dirs
}
