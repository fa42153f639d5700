package replication

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEffectiveMinISR(t *testing.T) {
	for _, tc := range []struct {
		minInsync, replicas, want int
	}{
		{1, 1, 1},
		{2, 1, 1}, // RF 1, min.insync.replicas=2: Kafka 4.3.1 accepts acks=all
		{3, 1, 1},
		{2, 3, 2},
		{3, 3, 3},
		{4, 3, 3},
		{1, 3, 1},
	} {
		t.Run(fmt.Sprintf("min%d_rf%d", tc.minInsync, tc.replicas), func(t *testing.T) {
			require.Equal(t, tc.want, EffectiveMinISR(tc.minInsync, tc.replicas))
		})
	}
}

// TestCheckMinISR is Kafka's rule as a table: (replication factor, ISR
// size, min.insync.replicas, acks) -> accepted or NOT_ENOUGH_REPLICAS.
func TestCheckMinISR(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		rf, isr, minInsync   int
		acks                 int16
		notEnoughReplicasErr bool
	}{
		{"rf1 isr1 min1", 1, 1, 1, AcksAll, false},
		{"rf1 isr1 min2 capped at rf", 1, 1, 2, AcksAll, false},
		{"rf1 isr1 min5 capped at rf", 1, 1, 5, AcksAll, false},
		{"rf3 isr3 min2", 3, 3, 2, AcksAll, false},
		{"rf3 isr2 min2", 3, 2, 2, AcksAll, false},
		{"rf3 isr1 min2", 3, 1, 2, AcksAll, true},
		{"rf3 isr2 min3", 3, 2, 3, AcksAll, true},
		{"rf3 isr2 min4 capped at rf", 3, 2, 4, AcksAll, true},
		{"rf3 isr3 min4 capped at rf", 3, 3, 4, AcksAll, false},
		{"rf2 isr1 min2", 2, 1, 2, AcksAll, true},
		{"rf3 isr1 min2 acks1", 3, 1, 2, 1, false},
		{"rf3 isr1 min2 acks0", 3, 1, 2, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckMinISR(tc.acks, tc.isr, tc.rf, tc.minInsync)
			if !tc.notEnoughReplicasErr {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrNotEnoughReplicas)
			require.Contains(t, err.Error(), fmt.Sprintf("min.isr requirement of %d", EffectiveMinISR(tc.minInsync, tc.rf)))
		})
	}
}
