package storage

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCleanShutdownFileFormat: the file holds Kafka's JSON, byte for byte
// as CleanShutdownFileHandler writes it, and reads back.
func TestCleanShutdownFileFormat(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, WriteCleanShutdownFile(dir, 4711))
	b, err := os.ReadFile(filepath.Join(dir, CleanShutdownFile))
	require.NoError(t, err)
	require.Equal(t, `{"version":0,"brokerEpoch":4711}`, string(b))
	epoch, err := ReadCleanShutdownFile(dir)
	require.NoError(t, err)
	require.Equal(t, int64(4711), epoch)

	for name, content := range map[string]string{
		"empty (older Spool)":   "",
		"not JSON":              "garbage",
		"no brokerEpoch":        `{"version":0}`,
		"brokerEpoch not a num": `{"version":0,"brokerEpoch":"7"}`,
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, CleanShutdownFile), []byte(content), 0o644))
		epoch, err := ReadCleanShutdownFile(dir)
		require.Error(t, err, name)
		require.Equal(t, NoBrokerEpoch, epoch, name)
	}
	// Kafka reads a later version's brokerEpoch too.
	require.NoError(t, os.WriteFile(filepath.Join(dir, CleanShutdownFile), []byte(`{"version":1,"brokerEpoch":9,"x":1}`), 0o644))
	epoch, err = ReadCleanShutdownFile(dir)
	require.NoError(t, err)
	require.Equal(t, int64(9), epoch)
}

// TestManagerPreviousBrokerEpoch checks Kafka's
// readBrokerEpochFromCleanShutdownFiles rule on a two-dir Manager: the
// epoch set before Close comes back from the next start only if every
// dir's file names it.
func TestManagerPreviousBrokerEpoch(t *testing.T) {
	for _, tc := range []struct {
		name   string
		set    bool                              // SetBrokerEpoch(42) before Close
		tamper func(t *testing.T, dirs []string) // after Close
		want   int64
	}{
		{name: "clean stop", set: true, want: 42},
		{name: "never registered", want: NoBrokerEpoch},
		{name: "crash: no file in one dir", set: true, want: NoBrokerEpoch, tamper: func(t *testing.T, dirs []string) {
			require.NoError(t, os.Remove(filepath.Join(dirs[1], CleanShutdownFile)))
		}},
		{name: "dirs disagree", set: true, want: NoBrokerEpoch, tamper: func(t *testing.T, dirs []string) {
			require.NoError(t, WriteCleanShutdownFile(dirs[0], 41))
		}},
		{name: "older Spool's empty marker", set: true, want: NoBrokerEpoch, tamper: func(t *testing.T, dirs []string) {
			for _, d := range dirs {
				require.NoError(t, os.WriteFile(filepath.Join(d, CleanShutdownFile), nil, 0o644))
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dirs := []string{t.TempDir(), t.TempDir()}
			m := newTestManager(t, dirs)
			require.Equal(t, NoBrokerEpoch, m.PreviousBrokerEpoch(), "a new dir proves nothing")
			l, err := m.GetOrCreateLog(TopicPartition{"t", 0}, nil)
			require.NoError(t, err)
			fill(t, l, 10, 100, constTS)
			if tc.set {
				m.SetBrokerEpoch(42)
			}
			require.NoError(t, m.Close())
			if tc.tamper != nil {
				tc.tamper(t, dirs)
			}

			m2 := newTestManager(t, dirs)
			defer m2.Close()
			require.Equal(t, tc.want, m2.PreviousBrokerEpoch())
			for _, d := range dirs {
				require.NoFileExists(t, filepath.Join(d, CleanShutdownFile), "loading removes the file: a crash from now on is unclean")
			}
			l2, ok := m2.Log(TopicPartition{"t", 0})
			require.True(t, ok)
			require.Equal(t, l.LogEndOffset(), l2.LogEndOffset())
		})
	}
}
