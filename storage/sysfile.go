package storage

import (
	"errors"
	"io/fs"
	"slices"
	"syscall"
)

// Files that are opened only to be resized, mapped or listed and closed
// again (an index, a log's directory) are handled with plain descriptors
// rather than os.File: os.OpenFile also registers the descriptor with the
// runtime poller (an epoll_ctl a regular file refuses) and checks and
// resets its blocking mode (fcntl, again for Fd), three to four more system
// calls per file. An idle log's load lists its directory twice or three
// times, and with 100k logs those calls were a large part of a restart.
// Errors are *fs.PathError with the os package's Op names, as before.

// sysOpen opens path with flags (O_CLOEXEC added), retrying on EINTR.
func sysOpen(path string, flags int, perm uint32) (int, error) {
	for {
		fd, err := syscall.Open(path, flags|syscall.O_CLOEXEC, perm)
		if err == nil {
			return fd, nil
		}
		if !errors.Is(err, syscall.EINTR) {
			return -1, &fs.PathError{Op: "open", Path: path, Err: err}
		}
	}
}

// sysTruncate sets the length of the open file fd.
func sysTruncate(fd int, path string, size int64) error {
	for {
		err := syscall.Ftruncate(fd, size)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EINTR) {
			return &fs.PathError{Op: "truncate", Path: path, Err: err}
		}
	}
}

// readDirNames returns the names in dir, sorted (as os.ReadDir sorts its
// entries), without "." and "..".
func readDirNames(dir string) ([]string, error) {
	fd, err := sysOpen(dir, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	buf := make([]byte, 8192)
	var names []string
	for {
		n, err := syscall.ReadDirent(fd, buf)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "readdirent", Path: dir, Err: err}
		}
		if n <= 0 {
			break
		}
		_, _, names = syscall.ParseDirent(buf[:n], -1, names)
	}
	slices.Sort(names)
	return names, nil
}
