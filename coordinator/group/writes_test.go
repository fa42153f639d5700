package group

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
)

// within returns fn's result, failing the test if fn has not returned
// within d: the bound for answers that must not wait for replication.
func within[T any](t *testing.T, d time.Duration, what string, fn func() T) T {
	t.Helper()
	ch := make(chan T, 1)
	go func() { ch <- fn() }()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		require.FailNow(t, what+" did not return: the shard is blocked by a write waiting for replication")
		panic("unreachable")
	}
}

// stableGroup joins one member to group id and syncs it: the group is
// Stable at generation 1.
func stableGroup(t *testing.T, c *Coordinator, id string) string {
	ctx := context.Background()
	req := joinReq("", nil, 10000)
	req.GroupID = protocol.GroupID(id)
	r := c.JoinGroup(ctx, 9, "cli", "/h", req)
	require.Equal(t, errcode.MemberIDRequired, r.ErrorCode)
	req.MemberID = r.MemberID
	r = c.JoinGroup(ctx, 9, "cli", "/h", req)
	require.Zero(t, r.ErrorCode)
	sr := c.SyncGroup(ctx, 5, &protocol.SyncGroupRequest{GroupID: protocol.GroupID(id), GenerationID: r.GenerationID, MemberID: r.MemberID,
		Assignments: []protocol.SyncGroupRequestAssignment{{MemberID: r.MemberID, Assignment: []byte("A")}}})
	require.Zero(t, sr.ErrorCode)
	return r.MemberID
}

// TestWriteWaitDoesNotBlockShard: an offset commit whose write waits for
// the high watermark (a slow follower) holds no shard lock, so another
// group of the same __consumer_offsets partition is served meanwhile; the
// commit and every answer about its group complete only when the write is
// committed, with the code Kafka gives when it is not.
func TestWriteWaitDoesNotBlockShard(t *testing.T) {
	for _, tc := range []struct {
		name      string
		replicate error // what the slow write's wait ends with
		want      int16
	}{
		{"committed", nil, 0},
		{"timed out", errors.New("offset 7: request timed out"), errcode.CoordinatorNotAvailable},
		{"not enough replicas after append", errors.New("NOT_ENOUGH_REPLICAS_AFTER_APPEND"), errcode.CoordinatorNotAvailable},
		{"leadership lost", fmt.Errorf("append: %w", ErrNotLeader), errcode.NotCoordinator},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			replicating := make(chan struct{}, 16)
			release := make(chan struct{})
			l := &memLog{recs: map[int32][][2][]byte{}}
			l.replication = func(_ context.Context, recs []records.Record) error {
				if id, _ := keyGroup(recs[0].Key); id != "slow" {
					return nil
				}
				replicating <- struct{}{}
				<-release
				return tc.replicate
			}
			c := newTestCoordinator(t, l, 10) // one partition: both groups share a shard
			fast := stableGroup(t, c, "fast")

			type commitResult struct {
				code  int16
				codes []int16
			}
			committed := make(chan commitResult, 1)
			go func() {
				code, codes := c.CommitOffsets(ctx, CommitRequest{Version: 8, Group: "slow", Generation: -1,
					Offsets: []OffsetCommit{{Topic: "t", Partition: 0, Offset: 42, LeaderEpoch: -1}}})
				committed <- commitResult{code, codes}
			}()
			<-replicating // appended; its wait for the high watermark has begun

			// The other group is served while the write waits.
			hb := within(t, 10*time.Second, "Heartbeat of another group", func() int16 {
				return c.Heartbeat(ctx, &protocol.HeartbeatRequest{GroupID: "fast", GenerationID: 1, MemberID: fast})
			})
			require.Zero(t, hb)
			fc := within(t, 10*time.Second, "OffsetCommit of another group", func() commitResult {
				code, codes := c.CommitOffsets(ctx, CommitRequest{Version: 8, Group: "fast", Generation: 1, MemberID: fast,
					Offsets: []OffsetCommit{{Topic: "t", Partition: 0, Offset: 7, LeaderEpoch: -1}}})
				return commitResult{code, codes}
			})
			require.Equal(t, commitResult{0, []int16{0}}, fc)

			// Answers about the slow group wait for its write: with a
			// context that has already ended they give up at once, while
			// the other group's need no wait at all.
			ended, cancel := context.WithCancel(ctx)
			cancel()
			code, _ := c.FetchOffsets(ended, "slow", []TopicPartitions{{Topic: "t", Partitions: []int32{0}}}, false)
			require.Equal(t, errcode.CoordinatorNotAvailable, code)
			code, _ = c.FetchOffsets(ended, "fast", []TopicPartitions{{Topic: "t", Partitions: []int32{0}}}, false)
			require.Zero(t, code)
			select {
			case r := <-committed:
				require.FailNow(t, "the commit was answered before its write was committed", "%+v", r)
			default:
			}
			close(release)
			r := <-committed
			require.Equal(t, commitResult{0, []int16{tc.want}}, r)

			// The write stays applied either way: it is in the leader's log.
			code, offsets := c.FetchOffsets(ctx, "slow", []TopicPartitions{{Topic: "t", Partitions: []int32{0}}}, false)
			require.Zero(t, code)
			require.Equal(t, int64(42), offsets[0].Offset)
		})
	}
}

// TestWriteWaitCancelledByUnload: a write still waiting when the shard is
// unloaded (leadership moved) answers NOT_COORDINATOR.
func TestWriteWaitCancelledByUnload(t *testing.T) {
	ctx := context.Background()
	replicating := make(chan struct{}, 1)
	l := &memLog{recs: map[int32][][2][]byte{}}
	l.replication = func(wctx context.Context, recs []records.Record) error {
		replicating <- struct{}{}
		<-wctx.Done() // never committed: only the shard's context ends the wait
		return wctx.Err()
	}
	c := newTestCoordinator(t, l, 10)
	committed := make(chan []int16, 1)
	go func() {
		_, codes := c.CommitOffsets(ctx, CommitRequest{Version: 8, Group: "g", Generation: -1,
			Offsets: []OffsetCommit{{Topic: "t", Partition: 0, Offset: 1, LeaderEpoch: -1}}})
		committed <- codes
	}()
	<-replicating
	c.Unload(0)
	require.Equal(t, []int16{errcode.NotCoordinator}, <-committed)
}

// TestWriteTimeout: a write that is not committed within WriteTimeout
// (offsets.commit.timeout.ms) answers COORDINATOR_NOT_AVAILABLE, as
// Kafka's CoordinatorRuntime times it out (REQUEST_TIMED_OUT, which
// GroupCoordinatorService hands clients as COORDINATOR_NOT_AVAILABLE): an
// offset commit, the first JoinGroup of a new group (Kafka writes the new
// group's empty metadata) and a SyncGroup (the assignment).
func TestWriteTimeout(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// do runs the operation; it calls stick when the writes from then
		// on must never be committed.
		do func(c *Coordinator, stick func()) int16
	}{
		{"OffsetCommit", func(c *Coordinator, stick func()) int16 {
			stick()
			_, codes := c.CommitOffsets(ctx, CommitRequest{Version: 8, Group: "g", Generation: -1,
				Offsets: []OffsetCommit{{Topic: "t", Partition: 0, Offset: 1, LeaderEpoch: -1}}})
			return codes[0]
		}},
		{"JoinGroup", func(c *Coordinator, stick func()) int16 {
			stick()
			return c.JoinGroup(ctx, 9, "cli", "/h", joinReq("", nil, 10000)).ErrorCode
		}},
		{"SyncGroup", func(c *Coordinator, stick func()) int16 {
			r := c.JoinGroup(ctx, 9, "cli", "/h", joinReq("", nil, 10000))
			require.Equal(t, errcode.MemberIDRequired, r.ErrorCode)
			r = c.JoinGroup(ctx, 9, "cli", "/h", joinReq(r.MemberID, nil, 10000))
			require.Zero(t, r.ErrorCode)
			stick()
			return c.SyncGroup(ctx, 5, &protocol.SyncGroupRequest{GroupID: "g", GenerationID: r.GenerationID, MemberID: r.MemberID,
				Assignments: []protocol.SyncGroupRequestAssignment{{MemberID: r.MemberID, Assignment: []byte("A")}}}).ErrorCode
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stuck atomic.Bool
			l := &memLog{recs: map[int32][][2][]byte{}}
			l.replication = func(wctx context.Context, recs []records.Record) error {
				if !stuck.Load() {
					return nil
				}
				<-wctx.Done() // never committed: only the write timeout ends the wait
				return wctx.Err()
			}
			c := New(Config{
				NumPartitions: 1, MinSessionTimeout: 10 * time.Millisecond, MaxSessionTimeout: time.Minute,
				MaxSize: 10, OffsetMetadataMaxBytes: 10, OffsetsRetention: time.Hour, WriteTimeout: 50 * time.Millisecond,
			}, l, zaptest.NewLogger(t))
			loadTestCoordinator(t, c)
			code := within(t, 10*time.Second, tc.name, func() int16 { return tc.do(c, func() { stuck.Store(true) }) })
			require.Equal(t, errcode.CoordinatorNotAvailable, code)
		})
	}
	c := New(Config{}, &memLog{recs: map[int32][][2][]byte{}}, zaptest.NewLogger(t))
	defer c.Close()
	require.Equal(t, 5*time.Second, c.cfg.WriteTimeout, "offsets.commit.timeout.ms defaults to 5000")
}
