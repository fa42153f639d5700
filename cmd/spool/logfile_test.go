package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spool-broker/spool/internal/spooltest"
)

// TestLogFile: SPOOL_LOG_FILE writes the process log as JSON lines to a
// file rotated at SPOOL_LOG_FILE_MAX_BYTES, keeping
// SPOOL_LOG_FILE_MAX_BACKUPS older files, besides stderr.
func TestLogFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "server.log")
	b := spooltest.Start(t, spooltest.Options{Env: []string{
		"SPOOL_LOG_FILE=" + path, "SPOOL_LOG_FILE_MAX_BYTES=4096", "SPOOL_LOG_FILE_MAX_BACKUPS=2",
		"SPOOL_LOG_LEVEL=debug", // every request is logged ("request" logger)
	}})
	// Each request logs a line at debug: create topics until the file has
	// rotated twice.
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	for i := 0; ; i++ {
		_, err := os.Stat(path + ".2")
		if err == nil {
			break
		}
		require.NoError(t, ctx.Err(), "no second rotation after %d topics", i)
		_, err = adm.CreateTopic(ctx, 1, 1, nil, fmt.Sprintf("logged-%d", i))
		require.NoError(t, err, "topic %d", i)
	}
	_, err = os.Stat(path + ".3")
	require.ErrorIs(t, err, os.ErrNotExist, "only 2 backups are kept")
	for _, name := range []string{path, path + ".1", path + ".2"} {
		st, err := os.Stat(name)
		require.NoError(t, err)
		require.LessOrEqual(t, st.Size(), int64(4096), name)
	}
	f, err := os.Open(path + ".1")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	lines := 0
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), "a JSON line: %s", sc.Text())
		require.Contains(t, m, "msg")
		require.Contains(t, m, "level")
		lines++
	}
	require.Positive(t, lines)
}

// TestLoggerEnvRefused: a bad logging variable stops startup with its name.
func TestLoggerEnvRefused(t *testing.T) {
	for env, want := range map[string]string{
		"SPOOL_LOG_LEVEL=chatty":           "SPOOL_LOG_LEVEL",
		"SPOOL_LOG_FORMAT=xml":             "SPOOL_LOG_FORMAT",
		"SPOOL_LOG_FILE_MAX_BYTES=10":      "SPOOL_LOG_FILE_MAX_BYTES",
		"SPOOL_LOG_FILE_MAX_BACKUPS=x":     "SPOOL_LOG_FILE_MAX_BACKUPS",
		"SPOOL_LOG_FILE=/nonexistent/dir/": "SPOOL_LOG_FILE",
	} {
		vars := map[string]string{"SPOOL_LOG_FILE": filepath.Join(t.TempDir(), "s.log")}
		k, v, _ := strings.Cut(env, "=")
		vars[k] = v
		_, _, err := newLogger(func(k string) string { return vars[k] })
		require.ErrorContains(t, err, want, env)
	}
}
