package group

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/spool-broker/spool/internal/spooltest"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// newClockedCoordinator is newTestCoordinator on clk (offsets.retention
// one hour), with no background expiration: the test runs ExpireOffsets.
func newClockedCoordinator(t *testing.T, clk *spooltest.Clock) *Coordinator {
	c := New(Config{
		NumPartitions: 1, MinSessionTimeout: 10 * time.Millisecond, MaxSessionTimeout: time.Minute,
		OffsetMetadataMaxBytes: 10, OffsetsRetention: time.Hour,
	}, &memLog{recs: map[int32][][2][]byte{}}, zaptest.NewLogger(t))
	c.now = clk.Now // before Load starts the replay goroutine
	loadTestCoordinator(t, c)
	return c
}

// TestOffsetExpiration follows Kafka's offset expiration rules
// (GroupMetadataManager.cleanupGroupMetadata, OffsetExpirationCondition) on
// an injected clock: an offset of a group without a protocol type expires
// offsets.retention.minutes after its commit, one committed with a retention
// (OffsetCommit v2-v4) at its own expiry, and one of an empty classic group
// retention after the group became empty. A group left with no offsets and
// no members is deleted.
func TestOffsetExpiration(t *testing.T) {
	ctx := context.Background()
	tp := []TopicPartitions{{Topic: "t", Partitions: []int32{0}}}
	for _, tc := range []struct {
		name string
		// setup commits the offset at the clock's current time and may move
		// the clock; it returns how long after setup the offset lives.
		setup func(t *testing.T, c *Coordinator, clk *spooltest.Clock) time.Duration
	}{
		{"simple group: retention after the commit", func(t *testing.T, c *Coordinator, clk *spooltest.Clock) time.Duration {
			code, codes := c.CommitOffsets(ctx, CommitRequest{Version: 9, Group: "g", Generation: -1, RetentionMs: -1,
				Offsets: []OffsetCommit{{Topic: "t", Partition: 0, Offset: 7}}})
			require.Zero(t, code)
			require.Equal(t, []int16{0}, codes)
			return time.Hour
		}},
		{"commit with its own retention (v2-v4)", func(t *testing.T, c *Coordinator, clk *spooltest.Clock) time.Duration {
			code, _ := c.CommitOffsets(ctx, CommitRequest{Version: 2, Group: "g", Generation: -1, RetentionMs: (10 * time.Minute).Milliseconds(),
				Offsets: []OffsetCommit{{Topic: "t", Partition: 0, Offset: 7}}})
			require.Zero(t, code)
			return 10 * time.Minute
		}},
		{"empty classic group: retention after it emptied", func(t *testing.T, c *Coordinator, clk *spooltest.Clock) time.Duration {
			r := c.JoinGroup(ctx, 3, "cli", "/h", joinReq("", nil, 10000))
			require.Zero(t, r.ErrorCode)
			require.Zero(t, c.SyncGroup(ctx, 3, &protocol.SyncGroupRequest{GroupID: "g", GenerationID: r.GenerationID, MemberID: r.MemberID}).ErrorCode)
			code, _ := c.CommitOffsets(ctx, CommitRequest{Version: 9, Group: "g", Generation: r.GenerationID, MemberID: r.MemberID, RetentionMs: -1,
				Offsets: []OffsetCommit{{Topic: "t", Partition: 0, Offset: 7}}})
			require.Zero(t, code)
			clk.Advance(30 * time.Minute) // a member's offsets do not expire
			c.ExpireOffsets()
			lr := c.LeaveGroup(ctx, 2, &protocol.LeaveGroupRequest{GroupID: "g", MemberID: r.MemberID})
			require.Zero(t, lr.ErrorCode)
			require.Equal(t, "Empty", c.DescribeGroup(ctx, "g").State)
			return time.Hour
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := spooltest.NewClock(time.UnixMilli(1_700_000_000_000))
			c := newClockedCoordinator(t, clk)
			ttl := tc.setup(t, c, clk)

			clk.Advance(ttl - time.Millisecond)
			c.ExpireOffsets()
			code, offs := c.FetchOffsets(ctx, "g", tp, false)
			require.Zero(t, code)
			require.Equal(t, int64(7), offs[0].Offset, "kept until its deadline")

			clk.Advance(time.Millisecond)
			c.ExpireOffsets()
			code, offs = c.FetchOffsets(ctx, "g", tp, false)
			require.Zero(t, code)
			require.Equal(t, int64(-1), offs[0].Offset, "expired at its deadline")
			_, groups := c.ListGroups(nil, nil)
			require.Empty(t, groups, "the group goes with its last offset")
			require.Equal(t, []int16{errcode.GroupIDNotFound}, c.DeleteGroups(ctx, []string{"g"}))
		})
	}
}
