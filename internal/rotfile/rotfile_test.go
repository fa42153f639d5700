package rotfile

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.log")
	f, err := Open(path, 100, 2, 0o600)
	require.NoError(t, err)
	line := []byte(strings.Repeat("x", 39) + "\n") // 40 bytes: two fit, a third rotates
	for range 7 {
		n, err := f.Write(line)
		require.NoError(t, err)
		require.Equal(t, len(line), n)
	}
	require.NoError(t, f.Close())
	size := func(name string) int {
		b, err := os.ReadFile(name)
		require.NoError(t, err)
		require.Zero(t, len(b)%len(line), "%s holds whole lines", name)
		return len(b)
	}
	// 7 writes: [1 2] [3 4] [5 6] [7] → the oldest pair dropped (2 backups).
	require.Equal(t, 40, size(path))
	require.Equal(t, 80, size(path+".1"))
	require.Equal(t, 80, size(path+".2"))
	_, err = os.Stat(path + ".3")
	require.ErrorIs(t, err, os.ErrNotExist)

	_, err = f.Write(line)
	require.ErrorIs(t, err, os.ErrClosed)
}

func TestReopenAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.log")
	require.NoError(t, os.WriteFile(path, []byte("before\n"), 0o600))
	f, err := Open(path, 1<<20, 1, 0o600)
	require.NoError(t, err)
	_, err = f.Write([]byte("after\n"))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.Equal([]byte("before\nafter\n"), b))
}

func TestOversizedWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.log")
	f, err := Open(path, 10, 1, 0o600)
	require.NoError(t, err)
	defer f.Close()
	big := []byte(strings.Repeat("y", 25))
	for range 2 {
		_, err = f.Write(big) // larger than the limit: alone in its file
		require.NoError(t, err)
	}
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.EqualValues(t, 25, st.Size())
}

func TestOpenRefusesBadLimits(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "a.log"), 0, 1, 0o600)
	require.Error(t, err)
}
