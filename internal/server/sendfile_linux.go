package server

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/spool-broker/spool/storage"
)

// maxSendfileChunk is the most one sendfile(2) call moves (Linux's limit).
const maxSendfileChunk = 0x7ffff000

// sendfileConn returns the socket of nc when records can be sent to it with
// sendfile(2): a plain TCP connection. Anything else (a TLS conn, net.Pipe)
// gets nil and the copy path.
func sendfileConn(nc net.Conn) syscall.RawConn {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}

// sendfile sends reg from its segment file to the socket with sendfile(2) at
// an explicit offset (the file's shared offset is never used or moved) and
// returns how many bytes it sent. raw.Write waits for the socket to drain on
// EAGAIN and honours the write deadline. reg must be pinned: that keeps its
// descriptor open, so the number read here names the segment file for the
// whole call.
func sendfile(raw syscall.RawConn, reg storage.Region) (int64, error) {
	fraw, err := reg.File.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("sendfile: %w", err)
	}
	infd := -1
	if err := fraw.Control(func(fd uintptr) { infd = int(fd) }); err != nil {
		return 0, fmt.Errorf("sendfile: %w", err)
	}
	off, left := reg.Pos, int(reg.Size)
	var serr error
	err = raw.Write(func(outfd uintptr) bool {
		for left > 0 {
			n, e := syscall.Sendfile(int(outfd), infd, &off, min(left, maxSendfileChunk))
			if n > 0 {
				left -= n
			}
			switch {
			case e == syscall.EINTR:
			case e == syscall.EAGAIN:
				return false // wait until the socket is writable
			case e == syscall.EINVAL || e == syscall.ENOSYS || e == syscall.EOPNOTSUPP:
				serr = errSendfileUnsupported
				return true
			case e != nil:
				serr = e
				return true
			case n == 0:
				serr = errRecordsTruncated // end of file before the region's end
				return true
			}
		}
		return true
	})
	sent := off - reg.Pos
	if err == nil {
		err = serr
	}
	if err != nil && !errors.Is(err, errRecordsTruncated) && !errors.Is(err, errSendfileUnsupported) {
		return sent, fmt.Errorf("sendfile: %w", err)
	}
	return sent, err
}
