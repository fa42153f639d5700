package storage

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOffsetCheckpointFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), RecoveryPointCheckpointFile)
	offsets := map[TopicPartition]int64{{"b-topic", 1}: 42, {"a.topic", 0}: 7, {"a.topic", 10}: 0}
	require.NoError(t, WriteOffsetCheckpoint(path, offsets))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "0\n3\na.topic 0 7\na.topic 10 0\nb-topic 1 42\n", string(data))
	require.NoFileExists(t, path+".tmp")
	got, err := ReadOffsetCheckpoint(path)
	require.NoError(t, err)
	require.Equal(t, offsets, got)

	got, err = ReadOffsetCheckpoint(filepath.Join(t.TempDir(), "missing"))
	require.NoError(t, err)
	require.Empty(t, got)

	for name, bad := range map[string]string{
		"version": "1\n0\n",
		"short":   "0\n2\nt 0 1\n",
		"long":    "0\n1\nt 0 1\nt 1 2\n",
		"fields":  "0\n1\nt 0\n",
		"number":  "0\n1\nt x 1\n",
		"empty":   "",
		"count":   "0\nx\n",
	} {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(path, []byte(bad), 0o644))
			_, err := ReadOffsetCheckpoint(path)
			require.ErrorIs(t, err, ErrCorrupt)
		})
	}
}

// TestWriteMetaProperties: meta.properties as kafka-storage.sh format
// writes it (version 1), replaced whole, with no temporary file left.
func TestWriteMetaProperties(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, WriteMetaProperties(dir, "c1", "d1", 3))
	require.NoError(t, WriteMetaProperties(dir, "c2", "d2", 4))
	b, err := os.ReadFile(filepath.Join(dir, "meta.properties"))
	require.NoError(t, err)
	require.Regexp(t, `^#\n#.+\ncluster.id=c2\ndirectory.id=d2\nnode.id=4\nversion=1\n$`, string(b))
	_, err = os.Stat(filepath.Join(dir, "meta.properties.tmp"))
	require.ErrorIs(t, err, os.ErrNotExist)
	require.Error(t, WriteMetaProperties(filepath.Join(dir, "missing"), "c", "d", 1))
}
