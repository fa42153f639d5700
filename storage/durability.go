package storage

import (
	"os"
	"sync/atomic"
)

// fsyncObserver, when set (tests only), hears the path of every file this
// package fsyncs (or msyncs), right after the call returned: the tests'
// power-loss simulation keeps, for each file, what it held at its last
// fsync, and drops whatever was written after it.
var fsyncObserver atomic.Pointer[func(path string)]

// observeSync reports a completed fsync of path to fsyncObserver.
func observeSync(path string) {
	if obs := fsyncObserver.Load(); obs != nil {
		(*obs)(path)
	}
}

// syncFile fsyncs f. Every fsync of a file in this package goes through it
// (see fsyncObserver).
func syncFile(f *os.File) error {
	if err := f.Sync(); err != nil {
		return err
	}
	observeSync(f.Name())
	return nil
}
