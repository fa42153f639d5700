package sdnotify

import (
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// listen opens a unixgram socket like systemd's notify socket.
func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func read(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	require.NoError(t, err)
	return string(buf[:n])
}

func TestNotify(t *testing.T) {
	for _, tc := range []struct {
		name   string
		socket func(t *testing.T) string
	}{
		{"path", func(t *testing.T) string { return filepath.Join(t.TempDir(), "notify.sock") }},
		{"abstract", func(t *testing.T) string { return "@spool-sdnotify-test-" + t.Name() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock := tc.socket(t)
			c := listen(t, sock)
			t.Setenv("NOTIFY_SOCKET", sock)
			sent, err := Notify(Ready + "\nSTATUS=serving")
			require.NoError(t, err)
			require.True(t, sent)
			require.Equal(t, "READY=1\nSTATUS=serving", read(t, c))
			sent, err = Notify(Stopping)
			require.NoError(t, err)
			require.True(t, sent)
			require.Equal(t, "STOPPING=1", read(t, c))
		})
	}
}

func TestNotifyWithoutSocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	sent, err := Notify(Ready)
	require.NoError(t, err)
	require.False(t, sent)
}

func TestNotifyMissingSocket(t *testing.T) {
	sent, err := NotifySocket(filepath.Join(t.TempDir(), "absent.sock"), Ready)
	require.Error(t, err)
	require.False(t, sent)
}
