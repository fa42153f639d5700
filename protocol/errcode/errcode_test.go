package errcode

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTable(t *testing.T) {
	for _, tc := range []struct {
		code      int16
		name      string
		retriable bool
	}{
		{None, "NONE", false},
		{UnknownServerError, "UNKNOWN_SERVER_ERROR", false},
		{UnknownTopicOrPartition, "UNKNOWN_TOPIC_OR_PARTITION", true},
		{NotLeaderOrFollower, "NOT_LEADER_OR_FOLLOWER", true},
		{UnsupportedVersion, "UNSUPPORTED_VERSION", false},
		{TopicAuthorizationFailed, "TOPIC_AUTHORIZATION_FAILED", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.True(t, Known(tc.code))
			require.Equal(t, tc.name, Name(tc.code))
			require.Equal(t, tc.retriable, Retriable(tc.code))
		})
	}
	require.Equal(t, int16(3), UnknownTopicOrPartition)
	require.Equal(t, int16(6), NotLeaderOrFollower)
	require.Equal(t, int16(35), UnsupportedVersion)
	require.Contains(t, Message(NotLeaderOrFollower), "not the current leader")
	require.Equal(t, "UNKNOWN_CODE_32000", Name(32000))
	require.False(t, Known(32000))
}
