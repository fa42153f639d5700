package main

import (
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/internal/spooltest"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeNotifiesAndProbes runs `spool serve` as systemd would for a
// Type=notify unit: it must send READY=1 once clients can connect, answer
// /healthz and /readyz, and send STOPPING=1 and exit 0 on SIGTERM.
func TestServeNotifiesAndProbes(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	require.NoError(t, err)
	defer ln.Close()
	read := func() string {
		require.NoError(t, ln.SetReadDeadline(time.Now().Add(60*time.Second)))
		buf := make([]byte, 4096)
		n, err := ln.Read(buf)
		require.NoError(t, err)
		return string(buf[:n])
	}

	b := spooltest.Start(t, spooltest.Options{HTTP: true, Env: []string{"NOTIFY_SOCKET=" + sock}})
	msg := read()
	require.True(t, strings.HasPrefix(msg, "READY=1\n"), msg)
	c, err := net.DialTimeout("tcp", b.Addr, 5*time.Second)
	require.NoError(t, err, "READY=1 is sent only once clients can connect")
	c.Close()

	code, body := get(t, "http://"+b.HTTPAddr+"/healthz")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok\n", body)
	code, body = get(t, "http://"+b.HTTPAddr+"/readyz")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ready\n", body)
	code, body = get(t, "http://"+b.HTTPAddr+"/metrics")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "go_goroutines")

	require.NoError(t, b.Stop(t), "a clean shutdown exits 0")
	require.True(t, strings.HasPrefix(read(), "STOPPING=1"))
}
