package txn

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValueRoundTrip(t *testing.T) {
	base := Metadata{TransactionalID: "t", ProducerID: 7, PrevProducerID: -1, NextProducerID: -1, ProducerEpoch: 3,
		LastProducerEpoch: -1, TimeoutMs: 60000, State: Ongoing, StartMs: 10, UpdateMs: 20,
		Partitions: []TopicPartition{{Topic: "a", Partition: 0}, {Topic: "a", Partition: 2}, {Topic: "b", Partition: 1}}}
	v2 := base
	v2.ClientTransactionVersion, v2.PrevProducerID, v2.NextProducerID, v2.State = 2, 5, 9, PrepareCommit
	empty := base
	empty.State, empty.Partitions, empty.StartMs = CompleteAbort, nil, -1
	for _, tc := range []struct {
		name    string
		m       Metadata
		version int16
		// v0 has no tagged fields: what it cannot carry comes back as defaults.
		want Metadata
	}{
		{"v0", base, 0, base},
		{"v0 drops tags", v2, 0, func() Metadata {
			m := v2
			m.ClientTransactionVersion, m.PrevProducerID, m.NextProducerID = 0, -1, -1
			return m
		}()},
		{"v1", base, 1, base},
		{"v1 tags", v2, 1, v2},
		{"v1 null partitions", empty, 1, empty},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := EncodeValue(&tc.m, tc.version)
			require.Equal(t, tc.version, int16(b[0])<<8|int16(b[1]))
			got, err := DecodeValue("t", b)
			require.NoError(t, err)
			require.Equal(t, tc.want, *got)
		})
	}
}

func FuzzDecodeValue(f *testing.F) {
	m := &Metadata{TransactionalID: "t", ProducerID: 1, PrevProducerID: 2, NextProducerID: 3, ClientTransactionVersion: 2,
		State: Ongoing, Partitions: []TopicPartition{{Topic: "a", Partition: 0}}}
	f.Add(EncodeValue(m, 0))
	f.Add(EncodeValue(m, 1))
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = DecodeValue("t", b) })
}
