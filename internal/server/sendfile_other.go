//go:build !linux

package server

import (
	"net"
	"syscall"

	"github.com/spool-broker/spool/storage"
)

// sendfileConn: records are sent with sendfile(2) only on Linux; elsewhere
// the writer copies them.
func sendfileConn(net.Conn) syscall.RawConn { return nil }

func sendfile(syscall.RawConn, storage.Region) (int64, error) { return 0, errSendfileUnsupported }
