//go:build unix

package storage

import "syscall"

// dirSpace is the capacity and the bytes available to an unprivileged
// user of the filesystem holding dir.
func dirSpace(dir string) (capacity, available uint64, ok bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, false
	}
	return st.Blocks * uint64(st.Bsize), st.Bavail * uint64(st.Bsize), true
}
