package share

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
)

// memLog is an in-memory Log: one record list per partition, with a log
// start offset DeleteRecords moves.
type memLog struct {
	mu    sync.Mutex
	recs  map[int32][]memRecord
	start map[int32]int64
}

type memRecord struct {
	offset     int64
	key, value []byte
}

func newMemLog() *memLog {
	return &memLog{recs: map[int32][]memRecord{}, start: map[int32]int64{}}
}

func (l *memLog) Append(ctx context.Context, p int32, recs []records.Record) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	first := l.endLocked(p)
	for i, r := range recs {
		l.recs[p] = append(l.recs[p], memRecord{first + int64(i), r.Key, r.Value})
	}
	return first, nil
}

func (l *memLog) endLocked(p int32) int64 {
	if n := len(l.recs[p]); n > 0 {
		return l.recs[p][n-1].offset + 1
	}
	return l.start[p]
}

func (l *memLog) Replay(ctx context.Context, p int32, fn func(offset int64, k, v []byte) error) error {
	for _, r := range l.live(p) {
		if err := fn(r.offset, r.key, r.value); err != nil {
			return err
		}
	}
	return nil
}

func (l *memLog) DeleteRecords(ctx context.Context, p int32, offset int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.start[p] = max(l.start[p], offset)
	return nil
}

// live is partition p's records from its log start offset on.
func (l *memLog) live(p int32) []memRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []memRecord
	for _, r := range l.recs[p] {
		if r.offset >= l.start[p] {
			out = append(out, r)
		}
	}
	return out
}

func loadedStore(t *testing.T, l *memLog, cfg StoreConfig) *Store {
	cfg.Partitions = 1
	s := NewStore(cfg, l, zaptest.NewLogger(t))
	t.Cleanup(s.Close)
	s.Load(0, 1)
	require.Eventually(t, func() bool {
		_, _, code := s.Read(Key{GroupID: "x"})
		return code == 0
	}, 5*time.Second, time.Millisecond)
	return s
}

func TestStoreWriteReadReload(t *testing.T) {
	ctx := context.Background()
	l := newMemLog()
	s := loadedStore(t, l, StoreConfig{UpdatesPerSnapshot: 2})
	k := Key{GroupID: "g", TopicID: [16]byte{1, 2}, Partition: 3}
	_, found, code := s.Read(k)
	require.Zero(t, code)
	require.False(t, found)

	st := State{StateEpoch: 2, StartOffset: 10, Batches: []StateBatch{{11, 12, Acknowledged, 1}, {13, 13, Available, 4}}}
	require.Zero(t, s.Write(ctx, k, st))
	require.Equal(t, errcode.FencedStateEpoch, s.Write(ctx, k, State{StateEpoch: 1, StartOffset: 0}))
	got, found, _ := s.Read(k)
	require.True(t, found)
	require.Equal(t, st, got)
	require.Equal(t, []Key{k}, s.Keys("g"))

	// Another store over the same log (a restart) reads it back.
	s2 := loadedStore(t, l, StoreConfig{UpdatesPerSnapshot: 2})
	got, found, _ = s2.Read(k)
	require.True(t, found)
	require.Equal(t, st, got)

	require.Zero(t, s2.Delete(ctx, k))
	s3 := loadedStore(t, l, StoreConfig{UpdatesPerSnapshot: 2})
	_, found, _ = s3.Read(k)
	require.False(t, found)

	s3.Unload(0)
	_, _, code = s3.Read(k)
	require.Equal(t, errcode.NotCoordinator, code)
}

func TestStateRecordRoundTrip(t *testing.T) {
	for _, v := range []snapshotValue{
		{State: State{StartOffset: -1}},
		{SnapshotEpoch: 3, CreateTimestamp: 5, WriteTimestamp: 6,
			State: State{StateEpoch: 7, LeaderEpoch: 3, StartOffset: 1 << 40, Batches: []StateBatch{{1, 1, Archived, 5}, {2, 9, Available, 0}}}},
	} {
		got, err := decodeSnapshotValue(encodeSnapshotValue(v))
		require.NoError(t, err)
		require.Equal(t, v, got)
	}
	u := updateValue{SnapshotEpoch: 2, LeaderEpoch: -1, StartOffset: 9, Batches: []StateBatch{{10, 12, Acknowledged, 1}}}
	gotU, err := decodeUpdateValue(encodeUpdateValue(u))
	require.NoError(t, err)
	require.Equal(t, u, gotU)
	k := Key{GroupID: "grp:with:colons", TopicID: [16]byte{9}, Partition: 42}
	for _, kind := range []int16{keyShareSnapshot, keyShareUpdate} {
		gotKind, got, ok, err := decodeStateKey(encodeStateKey(kind, k))
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, kind, gotKind)
		require.Equal(t, k, got)
	}
	require.Equal(t, "grp:with:colons:CQAAAAAAAAAAAAAAAAAAAA:42", k.CoordinatorKey())
}

func FuzzDecodeStateRecord(f *testing.F) {
	f.Add(encodeStateKey(keyShareSnapshot, Key{GroupID: "g", Partition: 1}),
		encodeSnapshotValue(snapshotValue{State: State{StartOffset: 5, Batches: []StateBatch{{5, 6, Archived, 2}}}}))
	f.Add(encodeStateKey(keyShareUpdate, Key{GroupID: "g", Partition: 1}),
		encodeUpdateValue(updateValue{StartOffset: 5, Batches: []StateBatch{{5, 6, Archived, 2}}}))
	f.Fuzz(func(t *testing.T, k, v []byte) {
		_, _, _, _ = decodeStateKey(k)
		_, _ = decodeSnapshotValue(v)
		_, _ = decodeUpdateValue(v)
	})
}
