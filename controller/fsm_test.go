package controller

import (
	"bytes"
	"io"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
)

func applyBatch(t *testing.T, f *fsm, index uint64, recs ...Record) error {
	t.Helper()
	r, _ := f.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: EncodeBatch(recs)}).(applyResult)
	return r.err
}

func TestFSMBatchIsAtomic(t *testing.T) {
	f := newFSM("c")
	id := NewTopicID()
	require.NoError(t, applyBatch(t, f, 1, &TopicRecord{Name: "t", TopicID: id},
		&PartitionRecord{PartitionID: 0, TopicID: id, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1}))
	before := f.image.Load()

	// The second record is bad: the first must not become visible.
	err := applyBatch(t, f, 2, &TopicRecord{Name: "u", TopicID: NewTopicID()},
		&PartitionRecord{PartitionID: 5, TopicID: id})
	require.Error(t, err)
	require.Same(t, before, f.image.Load())
	require.Nil(t, f.image.Load().Topic("u"))

	for name, rec := range map[string]Record{
		"duplicate name":     &TopicRecord{Name: "t", TopicID: NewTopicID()},
		"duplicate id":       &TopicRecord{Name: "v", TopicID: id},
		"zero id":            &TopicRecord{Name: "w"},
		"unknown topic":      &RemoveTopicRecord{TopicID: NewTopicID()},
		"unknown partition":  &PartitionChangeRecord{TopicID: id, PartitionID: 3, Leader: NoLeaderChange},
		"producer ids back":  &ProducerIDsRecord{NextProducerID: -1},
		"unregister unknown": &UnregisterBrokerRecord{BrokerID: 4},
	} {
		require.Error(t, applyBatch(t, f, 3, rec), name)
	}
	require.Same(t, before, f.image.Load())

	// A non-command entry (raft configuration, barrier) is ignored.
	require.Nil(t, f.Apply(&raft.Log{Index: 4, Type: raft.LogConfiguration}))
	require.Same(t, before, f.image.Load())
}

type bufSink struct {
	bytes.Buffer
	cancelled bool
}

func (s *bufSink) ID() string    { return "test" }
func (s *bufSink) Cancel() error { s.cancelled = true; return nil }
func (s *bufSink) Close() error  { return nil }

func TestFSMSnapshotRestore(t *testing.T) {
	f := newFSM("c")
	id := NewTopicID()
	require.NoError(t, applyBatch(t, f, 7,
		&FeatureLevelRecord{Name: MetadataVersionFeature, FeatureLevel: 27},
		&RegisterBrokerRecord{BrokerID: 1, BrokerEpoch: 3, Endpoints: []Endpoint{{Name: "PLAINTEXT", Host: "h", Port: 1}}, Rack: strp("r")},
		&TopicRecord{Name: "t", TopicID: id},
		&PartitionRecord{PartitionID: 0, TopicID: id, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1, LeaderEpoch: 2},
		&ConfigRecord{ResourceType: ResourceTopic, ResourceName: "t", Name: "k", Value: strp("v")},
		&ConfigRecord{ResourceType: ResourceBroker, ResourceName: "", Name: "d", Value: strp("")},
		&ProducerIDsRecord{NextProducerID: 5000},
	))
	snap, err := f.Snapshot()
	require.NoError(t, err)
	sink := &bufSink{}
	require.NoError(t, snap.Persist(sink))
	snap.Release()
	raw := append([]byte{}, sink.Bytes()...)

	g := newFSM("c")
	require.NoError(t, g.Restore(io.NopCloser(bytes.NewReader(raw))))
	require.Equal(t, f.image.Load(), g.image.Load())
	require.Equal(t, uint64(7), g.image.Load().Offset())

	other := newFSM("other-cluster")
	require.Error(t, other.Restore(io.NopCloser(bytes.NewReader(raw))))

	raw[len(raw)-6] ^= 1
	require.ErrorIs(t, newFSM("c").Restore(io.NopCloser(bytes.NewReader(raw))), errBadSnapshot)
}

func TestSubscribeKeepsLatest(t *testing.T) {
	f := newFSM("c")
	ch, stop := f.subscribe()
	for i := uint64(1); i <= 5; i++ {
		require.NoError(t, applyBatch(t, f, i, &FeatureLevelRecord{Name: "x", FeatureLevel: int16(i)}))
	}
	img := <-ch
	require.Equal(t, uint64(5), img.Offset(), "stale images are replaced, the FSM never blocks")
	stop()
	stop()
	require.NoError(t, applyBatch(t, f, 6, &FeatureLevelRecord{Name: "x", FeatureLevel: 6}))
	select {
	case <-ch:
		t.Fatal("unsubscribed channel got an image")
	default:
	}
}

// TestFSMCountsElections: replayed partition changes count the elections
// behind ControllerStats UncleanLeaderElectionsPerSec and
// ElectionFromEligibleLeaderReplicasPerSec as Kafka's TopicDelta does; a
// refused batch counts nothing.
func TestFSMCountsElections(t *testing.T) {
	f := newFSM("c")
	id := NewTopicID()
	require.NoError(t, applyBatch(t, f, 1, &TopicRecord{Name: "t", TopicID: id},
		&PartitionRecord{PartitionID: 0, TopicID: id, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2}, Leader: 1}))
	counts := func() [2]int64 { return [2]int64{f.uncleanElections.Load(), f.elrElections.Load()} }
	index := uint64(1)
	for _, tc := range []struct {
		name string
		recs []Record
		want [2]int64 // unclean, from ELR: totals after the step
	}{
		{"ISR shrink, no election", []Record{&PartitionChangeRecord{TopicID: id, PartitionID: 0, ISR: []int32{1}, Leader: NoLeaderChange}}, [2]int64{0, 0}},
		{"leader from the ISR", []Record{&PartitionChangeRecord{TopicID: id, PartitionID: 0, ISR: []int32{1, 2}, Leader: NoLeaderChange},
			&PartitionChangeRecord{TopicID: id, PartitionID: 0, Leader: 2}}, [2]int64{0, 0}},
		{"ISR empties into the ELR", []Record{&PartitionChangeRecord{TopicID: id, PartitionID: 0, ISR: []int32{}, ELR: []int32{1, 2}, Leader: NoLeader}}, [2]int64{0, 0}},
		{"leader from the ELR", []Record{&PartitionChangeRecord{TopicID: id, PartitionID: 0, ISR: []int32{1}, ELR: []int32{2}, Leader: 1}}, [2]int64{0, 1}},
		{"no leader", []Record{&PartitionChangeRecord{TopicID: id, PartitionID: 0, ISR: []int32{}, ELR: []int32{}, Leader: NoLeader}}, [2]int64{0, 1}},
		{"unclean", []Record{&PartitionChangeRecord{TopicID: id, PartitionID: 0, ISR: []int32{3}, Leader: 3}}, [2]int64{1, 1}},
		{"refused batch", []Record{&PartitionChangeRecord{TopicID: id, PartitionID: 0, ISR: []int32{}, Leader: NoLeader},
			&PartitionChangeRecord{TopicID: id, PartitionID: 0, ISR: []int32{2}, Leader: 2},
			&PartitionChangeRecord{TopicID: id, PartitionID: 9, Leader: NoLeaderChange}}, [2]int64{1, 1}},
	} {
		index++
		err := applyBatch(t, f, index, tc.recs...)
		if tc.name == "refused batch" {
			require.Error(t, err)
		} else {
			require.NoError(t, err, tc.name)
		}
		require.Equal(t, tc.want, counts(), tc.name)
	}
}
