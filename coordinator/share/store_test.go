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

// memLog is an in-memory Log: one record list per partition.
type memLog struct {
	mu   sync.Mutex
	recs map[int32][][2][]byte
}

func (l *memLog) Append(ctx context.Context, p int32, recs []records.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range recs {
		l.recs[p] = append(l.recs[p], [2][]byte{r.Key, r.Value})
	}
	return nil
}

func (l *memLog) Replay(ctx context.Context, p int32, fn func(k, v []byte) error) error {
	l.mu.Lock()
	recs := append([][2][]byte{}, l.recs[p]...)
	l.mu.Unlock()
	for _, r := range recs {
		if err := fn(r[0], r[1]); err != nil {
			return err
		}
	}
	return nil
}

func loadedStore(t *testing.T, l *memLog) *Store {
	s := NewStore(1, l, zaptest.NewLogger(t))
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
	l := &memLog{recs: map[int32][][2][]byte{}}
	s := loadedStore(t, l)
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
	s2 := loadedStore(t, l)
	got, found, _ = s2.Read(k)
	require.True(t, found)
	require.Equal(t, st, got)

	require.Zero(t, s2.Delete(ctx, k))
	s3 := loadedStore(t, l)
	_, found, _ = s3.Read(k)
	require.False(t, found)

	s3.Unload(0)
	_, _, code = s3.Read(k)
	require.Equal(t, errcode.NotCoordinator, code)
}

func TestStateRecordRoundTrip(t *testing.T) {
	for _, st := range []State{
		{StartOffset: -1},
		{StateEpoch: 7, LeaderEpoch: 3, StartOffset: 1 << 40, Batches: []StateBatch{{1, 1, Archived, 5}, {2, 9, Available, 0}}},
	} {
		got, err := decodeStateValue(encodeStateValue(st, 123))
		require.NoError(t, err)
		require.Equal(t, st, got)
	}
	k := Key{GroupID: "grp:with:colons", TopicID: [16]byte{9}, Partition: 42}
	got, err := decodeStateKey(encodeStateKey(k))
	require.NoError(t, err)
	require.Equal(t, k, *got)
	require.Equal(t, "grp:with:colons:CQAAAAAAAAAAAAAAAAAAAA:42", k.CoordinatorKey())
}

func FuzzDecodeStateRecord(f *testing.F) {
	f.Add(encodeStateKey(Key{GroupID: "g", Partition: 1}), encodeStateValue(State{StartOffset: 5, Batches: []StateBatch{{5, 6, Archived, 2}}}, 0))
	f.Fuzz(func(t *testing.T, k, v []byte) {
		_, _ = decodeStateKey(k)
		_, _ = decodeStateValue(v)
	})
}
