package controller

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func strp(s string) *string { return &s }

func sampleRecords() []Record {
	id := NewTopicID()
	return []Record{
		&TopicRecord{Name: "orders", TopicID: id},
		&PartitionRecord{PartitionID: 0, TopicID: id, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2}, Leader: 1, LeaderEpoch: 4, PartitionEpoch: 7},
		&PartitionRecord{PartitionID: 1, TopicID: id, Replicas: []int32{}, ISR: nil, RemovingReplicas: []int32{9}, AddingReplicas: []int32{-1}, Leader: -1},
		&PartitionChangeRecord{PartitionID: 1, TopicID: id, ISR: []int32{2}, Leader: NoLeaderChange},
		&PartitionRecord{PartitionID: 2, TopicID: id, Replicas: []int32{1, 2}, ISR: []int32{2}, Leader: 2, LeaderEpoch: 3, LeaderRecoveryState: LeaderRecovering},
		&PartitionChangeRecord{PartitionID: 2, TopicID: id, ISR: []int32{2}, Leader: 2, LeaderRecoveryState: recoveryState(LeaderRecovering)},
		&PartitionChangeRecord{PartitionID: 2, TopicID: id, ISR: []int32{1, 2}, Leader: NoLeaderChange, LeaderRecoveryState: recoveryState(LeaderRecovered)},
		&ConfigRecord{ResourceType: ResourceTopic, ResourceName: "orders", Name: "retention.ms", Value: strp("1000")},
		&ConfigRecord{ResourceType: ResourceBroker, ResourceName: "", Name: "x", Value: nil},
		&RemoveTopicRecord{TopicID: id},
		&RegisterBrokerRecord{
			BrokerID: 3, IncarnationID: [16]byte{1, 2}, BrokerEpoch: 1 << 40,
			Endpoints: []Endpoint{{Name: "PLAINTEXT", Host: "h", Port: 9092, SecurityProtocol: 0}, {Name: "SSL", Host: "h2", Port: 65535, SecurityProtocol: 1}},
			Features:  []FeatureRange{{Name: "metadata.version", MinSupportedVersion: 1, MaxSupportedVersion: 27}},
			Rack:      strp("r1"), Fenced: true, InControlledShutdown: true,
		},
		&UnregisterBrokerRecord{BrokerID: 3, BrokerEpoch: 5},
		&BrokerRegistrationChangeRecord{BrokerID: 3, BrokerEpoch: 5, Fenced: -1, InControlledShutdown: 1},
		&FeatureLevelRecord{Name: "metadata.version", FeatureLevel: 27},
		&ProducerIDsRecord{BrokerID: 1, BrokerEpoch: -1, NextProducerID: 1000},
		&ClientQuotaRecord{Entity: []QuotaEntityData{{EntityType: "client-id", EntityName: strp("app")}, {EntityType: "user"}},
			Key: "producer_byte_rate", Value: 1048576},
	}
}

func TestBatchRoundTrip(t *testing.T) {
	for _, rec := range sampleRecords() {
		t.Run(fmt.Sprintf("%T", rec), func(t *testing.T) {
			got, err := DecodeBatch(EncodeBatch([]Record{rec}))
			require.NoError(t, err)
			require.Equal(t, []Record{rec}, got)
		})
	}
	all := sampleRecords()
	got, err := DecodeBatch(EncodeBatch(all))
	require.NoError(t, err)
	require.Equal(t, all, got)
}

func TestBatchLongBody(t *testing.T) {
	// A body longer than 127 bytes takes the multi-byte size path.
	big := make([]int32, 300)
	for i := range big {
		big[i] = int32(i * 1000)
	}
	rec := &PartitionRecord{TopicID: NewTopicID(), Replicas: big, ISR: big}
	got, err := DecodeBatch(EncodeBatch([]Record{rec, &RemoveTopicRecord{TopicID: rec.TopicID}}))
	require.NoError(t, err)
	require.Equal(t, rec, got[0])
}

func TestDecodeBatchRejects(t *testing.T) {
	good := EncodeBatch(sampleRecords()[:2])
	tests := map[string][]byte{
		"empty":        nil,
		"bad magic":    append([]byte{0}, good[1:]...),
		"bad version":  append([]byte{batchMagic, 9}, good[2:]...),
		"truncated":    good[:len(good)-1],
		"trailing":     append(append([]byte{}, good...), 0),
		"unknown type": {batchMagic, batchVersion, 1, 200, 0, 0},
		"newer record": {batchMagic, batchVersion, 1, byte(TopicRecordType), 1, 0},
		"huge count":   {batchMagic, batchVersion, 0xff, 0xff, 0xff, 0xff, 0x0f},
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeBatch(b)
			require.ErrorIs(t, err, ErrCorruptRecord)
		})
	}
}

func TestTopicIDs(t *testing.T) {
	seen := map[TopicID]bool{}
	for range 1000 {
		id := NewTopicID()
		require.NotEqual(t, TopicID{}, id)
		require.Equal(t, byte(0x40), id[6]&0xf0)
		require.False(t, seen[id])
		seen[id] = true
	}
}

func TestValidateTopicName(t *testing.T) {
	long := make([]byte, 250)
	for i := range long {
		long[i] = 'a'
	}
	for _, name := range []string{"", ".", "..", string(long), "a b", "a/b", "é"} {
		require.ErrorIs(t, ValidateTopicName(name), ErrInvalidTopic, name)
	}
	for _, name := range []string{"a", "...", "A-z_0.9", string(long[:249])} {
		require.NoError(t, ValidateTopicName(name), name)
	}
}

func TestPlaceReplicas(t *testing.T) {
	brokers := []int32{1, 2, 3, 4}
	out := placeReplicas(brokers, 0, 100, 3)
	require.Len(t, out, 100)
	leaders := map[int32]int{}
	for _, rs := range out {
		require.Len(t, rs, 3)
		seen := map[int32]bool{}
		for _, r := range rs {
			require.False(t, seen[r], "duplicate replica in %v", rs)
			seen[r] = true
		}
		leaders[rs[0]]++
	}
	for _, b := range brokers {
		require.Equal(t, 25, leaders[b], "leaders are spread round-robin")
	}
	require.Equal(t, [][]int32{{7}, {7}}, placeReplicas([]int32{7}, 3, 2, 1))
}

// TestPlaceReplicasRackAware: with racks, one replica per rack before a
// second in any rack, leaders round-robin over the brokers.
func TestPlaceReplicasRackAware(t *testing.T) {
	racksOf := func(pairs ...any) map[int32]string {
		m := map[int32]string{}
		for i := 0; i < len(pairs); i += 2 {
			m[int32(pairs[i].(int))] = pairs[i+1].(string)
		}
		return m
	}
	for _, tc := range []struct {
		name  string
		racks map[int32]string
		rf    int
		// want is how many distinct racks every partition spans.
		want int
	}{
		{"three racks of two, RF 3", racksOf(1, "a", 2, "a", 3, "b", 4, "b", 5, "c", 6, "c"), 3, 3},
		{"three racks of two, RF 2", racksOf(1, "a", 2, "a", 3, "b", 4, "b", 5, "c", 6, "c"), 2, 2},
		{"uneven racks, RF 2", racksOf(1, "a", 2, "a", 3, "a", 4, "b"), 2, 2},
		{"two racks, RF 3: one rack twice", racksOf(1, "a", 2, "a", 3, "b", 4, "b"), 3, 2},
		{"a broker without a rack is a rack of its own", racksOf(1, "a", 2, "a", 3, "", 4, "b"), 3, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			brokers := slices.Sorted(maps.Keys(tc.racks))
			const n = 120
			out := placeReplicasRackAware(brokers, tc.racks, 0, n, tc.rf)
			require.Len(t, out, n)
			leaders := map[int32]int{}
			for _, rs := range out {
				require.Len(t, rs, tc.rf)
				require.Len(t, slices.Compact(slices.Sorted(slices.Values(rs))), tc.rf, "distinct brokers in %v", rs)
				spanned := map[string]bool{}
				for _, r := range rs {
					spanned[tc.racks[r]] = true
				}
				require.Len(t, spanned, tc.want, "racks of %v", rs)
				leaders[rs[0]]++
			}
			for _, b := range brokers {
				require.Equal(t, n/len(brokers), leaders[b], "leaders of broker %d", b)
			}
		})
	}
	require.Equal(t, [][]int32{{7}, {7}}, placeReplicasRackAware([]int32{7}, map[int32]string{7: "a"}, 3, 2, 1))
	require.Equal(t, []int32{1, 3, 5, 2, 4, 6}, rackAlternated([]int32{6, 5, 4, 3, 2, 1}, racksOf(1, "a", 2, "a", 3, "b", 4, "b", 5, "c", 6, "c")))
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add(EncodeBatch(sampleRecords()))
	f.Add([]byte{batchMagic, batchVersion, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := DecodeBatch(b)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode and decode to the same records.
		again, err := DecodeBatch(EncodeBatch(recs))
		require.NoError(t, err)
		require.Equal(t, len(recs), len(again))
	})
}

func FuzzReadSnapshot(f *testing.F) {
	f.Add(encodeSnapshot(emptyImage("c")))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = readSnapshot(bytes.NewReader(b))
	})
}
