package replication

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestChangeFeed: what marks a watched partition in a replica's and a
// consumer's feed (an append only the replica's; a high watermark move,
// DeleteRecords and a leadership change both), that Drain clears the marks
// and signals, and that Unwatch and Close end the subscriptions.
func TestChangeFeed(t *testing.T) {
	n := newTestNode(t, 1, t.TempDir(), NewManualClock(time.Unix(1000, 0)), nil)
	// Follower 2 in the ISR keeps the high watermark where it last read.
	p := n.open(1, LeaderAndISR{Leader: 1, LeaderEpoch: 1, PartitionEpoch: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}})
	replica, consumer := NewChangeFeed(true), NewChangeFeed(false)
	replica.Watch(p)
	consumer.Watch(p)
	replica.Watch(p) // once is enough
	require.Equal(t, 1, replica.Watching())
	require.Empty(t, replica.Drain(nil))

	signalled := func(f *ChangeFeed) bool {
		select {
		case <-f.Changed():
			return true
		default:
			return false
		}
	}
	for _, tc := range []struct {
		name              string
		change            func()
		replica, consumer bool
	}{
		{"append, high watermark held by the follower", func() {
			_, err := p.AppendAsLeader(batch(t, 2), AppendOptions{RequiredAcks: 1})
			require.NoError(t, err)
		}, true, false},
		{"the follower's read moves the high watermark", func() { fetchAs(t, p, 2, 2) }, true, true},
		{"DeleteRecords moves the log start", func() {
			_, err := p.DeleteRecords(1)
			require.NoError(t, err)
		}, true, true},
		{"a new leader epoch", func() {
			n.m.Apply(p, LeaderAndISR{Leader: 1, LeaderEpoch: 2, PartitionEpoch: 2, Replicas: []int32{1, 2}, ISR: []int32{1, 2}})
		}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			replica.Drain(nil)
			consumer.Drain(nil)
			signalled(replica)
			signalled(consumer)
			tc.change()
			for _, f := range []struct {
				feed *ChangeFeed
				want bool
			}{{replica, tc.replica}, {consumer, tc.consumer}} {
				require.Equal(t, f.want, signalled(f.feed))
				if f.want {
					require.Equal(t, []*Partition{p}, f.feed.Drain(nil), "marked once however often it changed")
				} else {
					require.Empty(t, f.feed.Drain(nil))
				}
				require.Empty(t, f.feed.Drain(nil), "drained")
			}
		})
	}

	consumer.Unwatch(p)
	require.Zero(t, consumer.Watching())
	replica.Close()
	replica.Watch(p) // a closed feed watches nothing
	require.Zero(t, replica.Watching())
	_, err := p.AppendAsLeader(batch(t, 1), AppendOptions{RequiredAcks: 1})
	require.NoError(t, err)
	fetchAs(t, p, 2, 3)
	require.Empty(t, consumer.Drain(nil))
	require.Empty(t, replica.Drain(nil))
	p.feeds.mu.Lock()
	require.Empty(t, p.feeds.feeds, "the partition holds no feed")
	p.feeds.mu.Unlock()
}
