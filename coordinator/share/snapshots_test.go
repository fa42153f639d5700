package share

import (
	"context"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/internal/spooltest"
	"github.com/spool-broker/spool/protocol/errcode"
)

func TestCombineBatches(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start int64
		lists [][]StateBatch
		want  []StateBatch
	}{
		{"empty", -1, nil, nil},
		{"prune before start", 10, [][]StateBatch{{{5, 8, Archived, 1}, {9, 12, Acknowledged, 1}}}, []StateBatch{{10, 12, Acknowledged, 1}}},
		{"newer delivery wins", -1,
			[][]StateBatch{{{0, 9, Available, 1}}, {{3, 4, Acknowledged, 1}, {6, 6, Available, 2}}},
			[]StateBatch{{0, 2, Available, 1}, {3, 4, Acknowledged, 1}, {5, 5, Available, 1}, {6, 6, Available, 2}, {7, 9, Available, 1}}},
		{"older does not win", -1,
			[][]StateBatch{{{0, 4, Archived, 5}}, {{2, 6, Available, 1}}},
			[]StateBatch{{0, 4, Archived, 5}, {5, 6, Available, 1}}},
		{"overlaps within a list and adjacent runs join", -1,
			[][]StateBatch{{{0, 3, Acknowledged, 1}, {2, 5, Acknowledged, 1}, {6, 7, Acknowledged, 1}}},
			[]StateBatch{{0, 7, Acknowledged, 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, combineBatches(tc.start, tc.lists...))
		})
	}
}

func TestDiffBatches(t *testing.T) {
	prev := []StateBatch{{0, 4, Available, 1}, {8, 9, Acknowledged, 1}}
	next := []StateBatch{{0, 1, Available, 1}, {2, 2, Acknowledged, 1}, {3, 6, Available, 1}, {8, 9, Acknowledged, 1}}
	d := diffBatches(next, prev)
	require.Equal(t, []StateBatch{{2, 2, Acknowledged, 1}, {5, 6, Available, 1}}, d)
	require.Equal(t, next, combineBatches(-1, prev, d))
	require.Empty(t, diffBatches(prev, prev))
}

// stateOf is the share partition state as a store loaded from l's records
// gives it.
func stateOf(t *testing.T, l *memLog, k Key) (State, bool) {
	s := loadedStore(t, l, StoreConfig{})
	st, found, code := s.Read(k)
	require.Zero(t, code)
	return st, found
}

// TestStoreUpdatesBetweenSnapshots: the first write is a ShareSnapshot,
// the next UpdatesPerSnapshot writes are ShareUpdate records carrying only
// what changed, then a snapshot again; replaying the log after every write
// gives the state written. A newer state epoch is a snapshot that replaces
// the state.
func TestStoreUpdatesBetweenSnapshots(t *testing.T) {
	ctx := context.Background()
	l := newMemLog()
	s := loadedStore(t, l, StoreConfig{UpdatesPerSnapshot: 2})
	k := Key{GroupID: "g", TopicID: [16]byte{7}, Partition: 0}
	steps := []struct {
		st   State
		kind int16
		// batches the record carries
		carried []StateBatch
	}{
		{State{StateEpoch: 1, StartOffset: 0, Batches: []StateBatch{{0, 9, Available, 1}}}, keyShareSnapshot,
			[]StateBatch{{0, 9, Available, 1}}},
		{State{StateEpoch: 1, StartOffset: 0, Batches: []StateBatch{{0, 4, Acknowledged, 1}, {5, 9, Available, 1}}}, keyShareUpdate,
			[]StateBatch{{0, 4, Acknowledged, 1}}},
		{State{StateEpoch: 1, StartOffset: 5, Batches: []StateBatch{{5, 10, Available, 1}}}, keyShareUpdate,
			[]StateBatch{{10, 10, Available, 1}}},
		{State{StateEpoch: 1, StartOffset: 5, Batches: []StateBatch{{5, 5, Archived, 2}, {6, 10, Available, 1}}}, keyShareSnapshot,
			[]StateBatch{{5, 5, Archived, 2}, {6, 10, Available, 1}}},
		{State{StateEpoch: 1, StartOffset: 6, Batches: []StateBatch{{6, 10, Available, 1}}}, keyShareUpdate, nil},
		// AlterShareGroupOffsets: a new state epoch replaces the state.
		{State{StateEpoch: 2, StartOffset: 3}, keyShareSnapshot, nil},
	}
	for i, step := range steps {
		require.Zero(t, s.Write(ctx, k, step.st), "step %d", i)
		recs := l.live(0)
		last := recs[len(recs)-1]
		kind, _, _, err := decodeStateKey(last.key)
		require.NoError(t, err)
		require.Equal(t, step.kind, kind, "step %d: record type", i)
		var carried []StateBatch
		if kind == keyShareSnapshot {
			v, err := decodeSnapshotValue(last.value)
			require.NoError(t, err)
			carried = v.State.Batches
		} else {
			v, err := decodeUpdateValue(last.value)
			require.NoError(t, err)
			carried = v.Batches
		}
		require.Equal(t, step.carried, carried, "step %d: batches written", i)
		got, found, _ := s.Read(k)
		require.True(t, found)
		want := step.st
		want.LeaderEpoch = got.LeaderEpoch
		require.Equal(t, want, got, "step %d: state held", i)
		replayed, found := stateOf(t, l, k)
		require.True(t, found)
		require.Equal(t, got, replayed, "step %d: state replayed", i)
	}
	require.Equal(t, errcode.FencedStateEpoch, s.Write(ctx, k, State{StateEpoch: 1, StartOffset: 9}))
}

// TestStoreRandomHistoryReplays: share partitions whose records are
// delivered, released, acknowledged and archived at random, written in
// whole after every change as Spool's share partitions do: after every
// write, a store replaying the log holds what the writer holds.
func TestStoreRandomHistoryReplays(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewSource(42))
	l := newMemLog()
	s := loadedStore(t, l, StoreConfig{UpdatesPerSnapshot: 3})
	keys := []Key{{GroupID: "a", Partition: 0}, {GroupID: "b", Partition: 1}}
	type rec struct {
		state RecordState
		count int16
	}
	parts := make([]map[int64]rec, len(keys))
	starts := make([]int64, len(keys))
	for i := range parts {
		parts[i] = map[int64]rec{}
	}
	for step := 0; step < 200; step++ {
		i := rng.Intn(len(keys))
		recs := parts[i]
		o := starts[i] + int64(rng.Intn(20))
		r := recs[o]
		if r.state == Available {
			switch rng.Intn(3) {
			case 0:
				r.count++ // delivered and released (or timed out)
			case 1:
				r.count = max(r.count, 1)
				r.state = Acknowledged
			case 2:
				r.count = max(r.count, 1)
				r.state = Archived
			}
			recs[o] = r
		}
		for {
			r, ok := recs[starts[i]]
			if !ok || r.state == Available {
				break
			}
			delete(recs, starts[i])
			starts[i]++
		}
		st := State{StateEpoch: 1, StartOffset: starts[i]}
		for off := starts[i]; off < starts[i]+20; off++ {
			if r, ok := recs[off]; ok {
				st.Batches = appendRun(st.Batches, StateBatch{off, off, r.state, r.count})
			}
		}
		require.Zero(t, s.Write(ctx, keys[i], st))
		if step%20 == 19 {
			s.Prune(ctx)
		}
		if step%10 == 9 {
			r := loadedStore(t, l, StoreConfig{UpdatesPerSnapshot: 3})
			for _, k := range keys {
				want, _, _ := s.Read(k)
				got, _, _ := r.Read(k)
				require.Equal(t, want, got, "step %d key %s", step, k.GroupID)
			}
		}
	}
}

// TestStorePrune: the log is pruned to the lowest offset among the share
// partitions' latest snapshots; an idle share partition's old snapshot
// holds it back until SnapshotCold rewrites it; the pruned log replays to
// the same states; a deleted share partition stops holding it back.
func TestStorePrune(t *testing.T) {
	ctx := context.Background()
	l := newMemLog()
	now := time.UnixMilli(1_000_000)
	s := loadedStore(t, l, StoreConfig{UpdatesPerSnapshot: 1, ColdSnapshotInterval: time.Minute})
	s.now = func() time.Time { return now }
	idle := Key{GroupID: "idle"}
	busy := Key{GroupID: "busy"}
	require.Zero(t, s.Write(ctx, idle, State{StateEpoch: 1, StartOffset: 100})) // offset 0: snapshot
	require.Empty(t, s.Prune(ctx), "offset 0 is never pruned to")
	for i := int64(0); i < 6; i++ { // offsets 1..6: snapshot, update, snapshot, update, snapshot, update
		require.Zero(t, s.Write(ctx, busy, State{StateEpoch: 1, StartOffset: i}))
	}
	require.Empty(t, s.Prune(ctx), "idle's snapshot at 0 holds the log")

	now = now.Add(2 * time.Minute)
	// Both last snapshots (idle's at 0, busy's at 5) are older than the
	// interval and records follow them: both are snapshotted again, at 7
	// and 8 in either order.
	s.SnapshotCold(ctx)
	recs := l.live(0)
	require.Len(t, recs, 9, "both share partitions snapshotted again")
	require.Equal(t, map[int32]int64{0: 7}, s.Prune(ctx))
	require.Equal(t, int64(7), l.live(0)[0].offset)
	require.Empty(t, s.Prune(ctx), "already pruned to 7")
	for _, k := range []Key{idle, busy} {
		want, _, _ := s.Read(k)
		got, found := stateOf(t, l, k)
		require.True(t, found)
		require.Equal(t, want, got)
	}

	require.Zero(t, s.Delete(ctx, idle)) // offset 9
	require.Zero(t, s.Write(ctx, busy, State{StateEpoch: 1, StartOffset: 7}))
	require.Zero(t, s.Write(ctx, busy, State{StateEpoch: 1, StartOffset: 8})) // snapshot at 11
	require.Equal(t, map[int32]int64{0: 11}, s.Prune(ctx))
	_, found := stateOf(t, l, idle)
	require.False(t, found)
	got, _ := stateOf(t, l, busy)
	require.Equal(t, int64(8), got.StartOffset)
}

// TestShareStateRecordsAsKafka: every record the share coordinator writes
// (snapshots, updates, tombstones) reads and writes back the same in Kafka
// 4.3.1's ShareCoordinatorRecordSerde.
func TestShareStateRecordsAsKafka(t *testing.T) {
	ctx := context.Background()
	l := newMemLog()
	s := loadedStore(t, l, StoreConfig{UpdatesPerSnapshot: 1})
	k := Key{GroupID: "g", TopicID: [16]byte{1, 2, 3}, Partition: 4}
	require.Zero(t, s.Write(ctx, k, State{StateEpoch: 1, LeaderEpoch: 3, StartOffset: 0, Batches: []StateBatch{{0, 4, Available, 1}}}))
	require.Zero(t, s.Write(ctx, k, State{StateEpoch: 1, LeaderEpoch: -1, StartOffset: 2, Batches: []StateBatch{{2, 3, Acknowledged, 1}, {4, 4, Archived, 5}}}))
	require.Zero(t, s.Write(ctx, k, State{StateEpoch: 1, LeaderEpoch: 4, StartOffset: 5}))
	require.Zero(t, s.Delete(ctx, k))
	var recs [][2][]byte
	for _, r := range l.live(0) {
		recs = append(recs, [2][]byte{r.key, r.value})
	}
	descs := spooltest.RequireKafkaReadsAsWritten(t, spooltest.ShareRecordSerde, recs)
	require.Len(t, descs, 4)
	for i, want := range []string{"ShareSnapshotKey", "ShareUpdateKey", "ShareSnapshotKey", "ShareSnapshotKey"} {
		require.Contains(t, descs[i], want, "record %d", i)
	}
	require.True(t, strings.Contains(descs[1], "stateBatches=[StateBatch(firstOffset=2, lastOffset=3, deliveryState=2, deliveryCount=1)"), descs[1])
}

// TestStoreCompactedTopicSnapshotsOnly: on a __share_group_state that an
// older Spool created compacted, every write is a snapshot (compaction
// keeps one update per share partition, losing the others).
func TestStoreCompactedTopicSnapshotsOnly(t *testing.T) {
	ctx := context.Background()
	l := newMemLog()
	s := loadedStore(t, l, StoreConfig{UpdatesPerSnapshot: 10, Compacted: func() bool { return true }})
	k := Key{GroupID: "g"}
	for i := int64(0); i < 3; i++ {
		require.Zero(t, s.Write(ctx, k, State{StateEpoch: 1, StartOffset: i}))
	}
	for _, r := range l.live(0) {
		kind, _, _, err := decodeStateKey(r.key)
		require.NoError(t, err)
		require.Equal(t, keyShareSnapshot, kind)
	}
}
