package audit

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func readLines(t *testing.T, path string) []Event {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e Event
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e), sc.Text())
		out = append(out, e)
	}
	require.NoError(t, sc.Err())
	return out
}

func TestLogWritesJSONLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	now := time.Date(2026, 12, 6, 22, 0, 0, 0, time.UTC)
	l, err := Open(Config{File: path, Now: func() time.Time { return now }})
	require.NoError(t, err)
	l.Log(Event{Event: EventAuthorization, Outcome: Denied, Principal: "User:alice", ClientAddress: "10.0.0.7",
		Operation: "WRITE", ResourceType: "TOPIC", ResourceName: "orders"})
	l.Log(Event{Event: EventAuthentication, Outcome: Failure, ClientAddress: "10.0.0.8", Mechanism: "PLAIN"})
	require.NoError(t, l.Close())
	l.Log(Event{Event: EventAuthentication, Outcome: Success}) // after Close: dropped
	require.Equal(t, int64(1), l.Dropped())
	got := readLines(t, path)
	require.Len(t, got, 2)
	require.Equal(t, Event{Time: now, Event: EventAuthorization, Outcome: Denied, Principal: "User:alice", ClientAddress: "10.0.0.7",
		Operation: "WRITE", ResourceType: "TOPIC", ResourceName: "orders"}, got[0])
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NotContains(t, string(raw), `"detail"`, "empty fields are omitted")

	var nilLogger *Logger
	nilLogger.Log(Event{})
	require.False(t, nilLogger.LogsAllowed())
	l, err = Open(Config{})
	require.NoError(t, err)
	require.Nil(t, l)
}

// TestRotation: the file never exceeds MaxBytes (beyond one line), backups
// shift and the oldest is dropped; no line is lost or split across files
// among those kept.
func TestRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	l, err := Open(Config{File: path, MaxBytes: 1000, MaxBackups: 2})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				l.Log(Event{Event: EventAuthorization, Outcome: Denied, Principal: "User:u" + strings.Repeat("x", g), Detail: string(rune('a' + i%26))})
			}
		}()
	}
	wg.Wait()
	require.NoError(t, l.Close())
	require.Zero(t, l.Dropped())
	total := 0
	for _, name := range []string{path, path + ".1", path + ".2"} {
		st, err := os.Stat(name)
		require.NoError(t, err, name)
		require.LessOrEqual(t, st.Size(), int64(1000), name)
		total += len(readLines(t, name))
	}
	_, err = os.Stat(path + ".3")
	require.ErrorIs(t, err, os.ErrNotExist, "at most MaxBackups backups")
	require.Greater(t, total, 0)
	require.Less(t, total, 100, "the oldest lines were rotated away")
}
