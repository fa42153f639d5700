package replication

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestThrottled(t *testing.T) {
	for _, tc := range []struct {
		list              []string
		partition, broker int32
		want              bool
	}{
		{nil, 0, 1, false},
		{[]string{"*"}, 7, 3, true},
		{[]string{"0:1", "0:2"}, 0, 2, true},
		{[]string{"0:1", "0:2"}, 0, 3, false},
		{[]string{"0:1", "1:3"}, 1, 3, true},
		{[]string{" 2 : 4 "}, 2, 4, true},
		{[]string{"bad", "0:x"}, 0, 1, false},
	} {
		require.Equal(t, tc.want, Throttled(tc.list, tc.partition, tc.broker), "%v p%d b%d", tc.list, tc.partition, tc.broker)
	}
}
