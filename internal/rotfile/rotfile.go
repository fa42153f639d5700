// Package rotfile is an append-only file that rotates by size, for the
// files Spool writes for people: the audit log (spool.audit.log.file) and
// the process log (SPOOL_LOG_FILE). When a write would grow the file past
// MaxBytes, the file is renamed to <path>.1, older backups shift to .2, ...
// up to MaxBackups (the oldest is dropped), and a new file is started, as
// log4j's RollingFileAppender does for Kafka's server.log.
//
// A File is safe for concurrent use; each Write is appended whole (a line
// is never split across two files).
package rotfile

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
)

// File is a size-rotated append-only file.
type File struct {
	path       string
	maxBytes   int64
	maxBackups int
	mode       os.FileMode

	mu   sync.Mutex
	f    *os.File
	size int64
}

// Open opens (creating or appending to) path with permissions mode.
// maxBytes and maxBackups must be positive.
func Open(path string, maxBytes int64, maxBackups int, mode os.FileMode) (*File, error) {
	if maxBytes <= 0 || maxBackups <= 0 {
		return nil, fmt.Errorf("%s: rotation needs a positive size (%d) and backup count (%d)", path, maxBytes, maxBackups)
	}
	r := &File{path: path, maxBytes: maxBytes, maxBackups: maxBackups, mode: mode}
	if err := r.openLocked(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *File) openLocked() error {
	f, err := os.OpenFile(r.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, r.mode)
	if err != nil {
		return fmt.Errorf("open %s: %w", r.path, err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("stat %s: %w", r.path, err)
	}
	r.f, r.size = f, st.Size()
	return nil
}

// Write appends p, rotating first when p would take the file past
// MaxBytes (a file never holds less than one write).
func (r *File) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return 0, os.ErrClosed
	}
	if r.size > 0 && r.size+int64(len(p)) > r.maxBytes {
		if err := r.rotateLocked(); err != nil {
			return 0, err
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

// rotateLocked shifts <path>.i to <path>.i+1, the file to <path>.1, and
// opens a new file.
func (r *File) rotateLocked() error {
	_ = r.f.Close()
	r.f = nil
	name := func(i int) string { return r.path + "." + strconv.Itoa(i) }
	_ = os.Remove(name(r.maxBackups))
	for i := r.maxBackups - 1; i >= 1; i-- {
		if err := os.Rename(name(i), name(i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := os.Rename(r.path, name(1)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return r.openLocked()
}

// Sync flushes the file to disk.
func (r *File) Sync() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	return r.f.Sync()
}

// Close syncs and closes the file; later writes fail with os.ErrClosed.
func (r *File) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := errors.Join(r.f.Sync(), r.f.Close())
	r.f = nil
	return err
}
