package controller

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
)

func mkLogs(from, to uint64) []*raft.Log {
	var out []*raft.Log
	for i := from; i <= to; i++ {
		out = append(out, &raft.Log{
			Index: i, Term: i/10 + 1, Type: raft.LogCommand,
			Data: []byte{byte(i), byte(i >> 8), 42}, Extensions: nil,
			AppendedAt: time.Unix(0, int64(i)*1000),
		})
	}
	return out
}

func requireRange(t *testing.T, s *LogStore, first, last uint64) {
	t.Helper()
	f, err := s.FirstIndex()
	require.NoError(t, err)
	l, err := s.LastIndex()
	require.NoError(t, err)
	require.Equal(t, [2]uint64{first, last}, [2]uint64{f, l})
	if first == 0 {
		return
	}
	for i := first; i <= last; i++ {
		var got raft.Log
		require.NoError(t, s.GetLog(i, &got))
		require.Equal(t, mkLogs(i, i)[0].Data, got.Data)
		require.Equal(t, i, got.Index)
		require.Equal(t, i/10+1, got.Term)
		require.True(t, got.AppendedAt.Equal(time.Unix(0, int64(i)*1000)))
	}
	var l2 raft.Log
	require.ErrorIs(t, s.GetLog(last+1, &l2), raft.ErrLogNotFound)
	require.ErrorIs(t, s.GetLog(first-1, &l2), raft.ErrLogNotFound)
}

func openSmall(t *testing.T, dir string) *LogStore {
	t.Helper()
	s, err := OpenLogStore(dir)
	require.NoError(t, err)
	s.segmentBytes = 200 // a few entries per segment
	t.Cleanup(func() { s.Close() })
	return s
}

func TestLogStoreBasic(t *testing.T) {
	dir := t.TempDir()
	s := openSmall(t, dir)
	requireRange(t, s, 0, 0)
	require.NoError(t, s.StoreLogs(mkLogs(1, 10)))
	require.NoError(t, s.StoreLog(mkLogs(11, 11)[0]))
	require.NoError(t, s.StoreLogs(mkLogs(12, 40)))
	requireRange(t, s, 1, 40)
	require.Error(t, s.StoreLogs(mkLogs(42, 42)), "gaps are rejected")
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	require.Greater(t, len(segs), 3, "log rolled into several segments")

	require.NoError(t, s.DeleteRange(1, 20)) // compaction
	requireRange(t, s, 21, 40)
	require.NoError(t, s.DeleteRange(35, 40)) // conflicting suffix
	requireRange(t, s, 21, 34)
	require.NoError(t, s.StoreLogs(mkLogs(35, 50)))
	requireRange(t, s, 21, 50)
	require.Error(t, s.DeleteRange(30, 31), "hole in the middle")
	require.NoError(t, s.Close())

	s2 := openSmall(t, dir)
	requireRange(t, s2, 21, 50)

	require.NoError(t, s2.DeleteRange(0, 1000))
	requireRange(t, s2, 0, 0)
	require.NoError(t, s2.StoreLogs(mkLogs(500, 505)), "an empty log takes any start index")
	requireRange(t, s2, 500, 505)
	require.NoError(t, s2.Close())
	s3 := openSmall(t, dir)
	requireRange(t, s3, 500, 505)
}

func lastSegment(t *testing.T, dir string) string {
	segs, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	require.NoError(t, err)
	require.NotEmpty(t, segs)
	return segs[len(segs)-1]
}

func TestLogStoreTornTail(t *testing.T) {
	damage := map[string]func(t *testing.T, path string){
		"half frame": func(t *testing.T, path string) {
			st, _ := os.Stat(path)
			require.NoError(t, os.Truncate(path, st.Size()-5))
		},
		"short header": func(t *testing.T, path string) {
			appendFile(t, path, []byte{0, 0, 1})
		},
		"garbage frame": func(t *testing.T, path string) {
			appendFile(t, path, []byte{0, 0, 0, 30, 1, 2, 3, 4, 5, 6, 7, 8, 9})
		},
		"flipped bit": func(t *testing.T, path string) {
			b, _ := os.ReadFile(path)
			b[len(b)-3] ^= 0x10
			require.NoError(t, os.WriteFile(path, b, 0o644))
		},
		"huge length": func(t *testing.T, path string) {
			appendFile(t, path, []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
		},
	}
	for name, fn := range damage {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := openSmall(t, dir)
			require.NoError(t, s.StoreLogs(mkLogs(1, 9)))
			require.NoError(t, s.StoreLogs(mkLogs(10, 10)))
			require.NoError(t, s.Close())
			fn(t, lastSegment(t, dir))

			s2 := openSmall(t, dir)
			last, _ := s2.LastIndex()
			want := uint64(10)
			if name == "half frame" || name == "flipped bit" {
				want = 9 // the last entry itself was damaged
			}
			require.Equal(t, want, last)
			requireRange(t, s2, 1, want)
			// The log continues cleanly after recovery.
			require.NoError(t, s2.StoreLogs(mkLogs(want+1, 15)))
			require.NoError(t, s2.Close())
			s3 := openSmall(t, dir)
			requireRange(t, s3, 1, 15)
		})
	}
}

func appendFile(t *testing.T, path string, b []byte) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.Write(b)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func TestLogStoreCorruptSealedSegment(t *testing.T) {
	dir := t.TempDir()
	s := openSmall(t, dir)
	require.NoError(t, s.StoreLogs(mkLogs(1, 30)))
	require.NoError(t, s.Close())
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	require.Greater(t, len(segs), 1)
	b, _ := os.ReadFile(segs[0])
	b[12] ^= 0xff
	require.NoError(t, os.WriteFile(segs[0], b, 0o644))
	_, err := OpenLogStore(dir)
	require.ErrorIs(t, err, ErrCorruptLog)
}

func TestStableStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stable")
	s, err := OpenStableStore(path)
	require.NoError(t, err)
	v, err := s.GetUint64([]byte("CurrentTerm"))
	require.NoError(t, err)
	require.Zero(t, v)
	require.NoError(t, s.SetUint64([]byte("CurrentTerm"), 7))
	require.NoError(t, s.Set([]byte("LastVoteCand"), []byte("2")))
	s2, err := OpenStableStore(path)
	require.NoError(t, err)
	v, _ = s2.GetUint64([]byte("CurrentTerm"))
	require.Equal(t, uint64(7), v)
	b, _ := s2.Get([]byte("LastVoteCand"))
	require.Equal(t, []byte("2"), b)
	b, _ = s2.Get([]byte("missing"))
	require.Empty(t, b)

	raw, _ := os.ReadFile(path)
	raw[5] ^= 1
	require.NoError(t, os.WriteFile(path, raw, 0o644))
	_, err = OpenStableStore(path)
	require.ErrorIs(t, err, ErrCorruptLog)
}
