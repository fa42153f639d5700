// Package sdnotify tells systemd (or any supervisor speaking its protocol)
// about a service's state, for units with Type=notify: one datagram of
// newline-separated VARIABLE=value assignments to the unix socket named by
// $NOTIFY_SOCKET (sd_notify(3)). A name starting with '@' is an abstract
// socket. Without NOTIFY_SOCKET nothing is sent, so the same binary runs
// under systemd, in a container or in a terminal.
//
// It is safe for concurrent use: each call dials its own socket.
package sdnotify

import (
	"fmt"
	"net"
	"os"
)

// States the broker sends (sd_notify(3)).
const (
	Ready    = "READY=1"    // startup finished: systemd starts units ordered after this one
	Stopping = "STOPPING=1" // shutdown began
)

// Notify sends state (e.g. "READY=1\nSTATUS=serving") to $NOTIFY_SOCKET.
// It reports whether a message was sent; false with a nil error means no
// supervisor asked for notifications.
func Notify(state string) (bool, error) {
	return NotifySocket(os.Getenv("NOTIFY_SOCKET"), state)
}

// NotifySocket is Notify with the socket named explicitly ("" sends nothing).
func NotifySocket(socket, state string) (bool, error) {
	if socket == "" {
		return false, nil
	}
	// Go's net package maps a leading '@' to the abstract namespace.
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		return false, fmt.Errorf("sdnotify: dial %s: %w", socket, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return false, fmt.Errorf("sdnotify: write to %s: %w", socket, err)
	}
	return true, nil
}
