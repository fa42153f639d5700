package controller

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStableStoreFailureHandler: a term or vote that cannot be saved reaches
// the failure handler (the node stops there, before raft would panic), and
// the store keeps its last saved value.
func TestStableStoreFailureHandler(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "meta")
	require.NoError(t, os.Mkdir(dir, 0o755))
	s, err := OpenStableStore(filepath.Join(dir, "raft-stable"))
	require.NoError(t, err)
	require.NoError(t, s.SetUint64([]byte("CurrentTerm"), 3))
	var failed []error
	s.SetFailureHandler(func(err error) { failed = append(failed, err) })
	require.NoError(t, os.RemoveAll(dir)) // the disk under the dir is gone

	err = s.SetUint64([]byte("CurrentTerm"), 4)
	require.Error(t, err)
	require.Len(t, failed, 1)
	require.Equal(t, err, failed[0])
	require.Contains(t, err.Error(), "CurrentTerm")
	term, err := s.GetUint64([]byte("CurrentTerm"))
	require.NoError(t, err)
	require.Equal(t, uint64(3), term, "a failed Set leaves the saved value")
}
