package storage

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime/debug"
	"sort"
	"sync"
	"syscall"
	"unsafe"
)

const (
	offsetIndexEntrySize = 8  // relative offset uint32, position uint32
	timeIndexEntrySize   = 12 // timestamp int64, relative offset uint32
)

// mmapIndex is an index file of fixed-size entries. The file of the active
// segment is preallocated to the configured maximum and memory-mapped; only
// the first entries*entrySize bytes are meaningful. trim shrinks the file to
// exactly those bytes (on roll and close), so a file whose length is a
// multiple of entrySize is a complete index after a clean shutdown.
//
// mmap over pwrite: lookups are binary searches on every fetch and
// ListOffsets, and on a mapping they cost no syscall and no copy; an append
// is an 8- or 12-byte store every IndexIntervalBytes of log. pwrite would
// need either a syscall per probe or a second in-memory copy of the entries.
// Durability comes from fsync of the file (on Linux that writes back dirty
// MAP_SHARED pages too), done when the log is flushed.
//
// mu guards data and entries: the log's appender writes under mu.Lock while
// readers look up under mu.RLock.
type mmapIndex struct {
	path       string
	entrySize  int
	baseOffset int64

	// No file descriptor is kept: like Kafka, an index is mapped and its
	// file closed, so a partition costs one open file (its .log), not three.
	mu         sync.RWMutex
	data       []byte // the mapping; len(data) is the file length
	entries    int
	maxEntries int
	// pendingBytes > 0 defers the preallocation: the index of an active
	// segment with no entries stays an empty, unmapped file until its first
	// entry grows it to pendingBytes and maps it (ensureMappedLocked). A
	// partition that never receives IndexIntervalBytes of data, such as
	// most of 100k idle ones, then costs no mapping (vm.max_map_count is
	// 65530 by default) and no sparse 10 MiB file. maxEntries already
	// counts the deferred size, so roll decisions do not change.
	pendingBytes int
}

// openIndex opens (creating if needed) an index file. Existing entries are
// taken to be the whole file rounded down to entries; callers sanity-check or
// rebuild. When maxBytes > 0 the file is grown to maxBytes (rounded down to a
// multiple of the entry size) for appending.
func openIndex(path string, entrySize int, baseOffset int64, maxBytes int) (*mmapIndex, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("storage: open index: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("storage: stat index: %w", err)
	}
	idx := &mmapIndex{path: path, entrySize: entrySize, baseOffset: baseOffset}
	idx.entries = int(fi.Size()) / entrySize
	size := idx.entries * entrySize
	if idx.entries == 0 && fi.Size() == 0 && maxBytes/entrySize > 0 {
		idx.deferLocked(maxBytes)
		return idx, nil
	}
	if maxBytes > 0 {
		size = max(size, maxBytes/entrySize*entrySize)
	}
	if err := idx.remapFileLocked(f, size); err != nil {
		return nil, err
	}
	return idx, nil
}

// deferLocked makes an index with no entries and no mapping wait for its
// first entry before it grows to maxBytes.
func (x *mmapIndex) deferLocked(maxBytes int) {
	x.pendingBytes = maxBytes / x.entrySize * x.entrySize
	x.maxEntries = x.pendingBytes / x.entrySize
}

// ensureMappedLocked performs a deferred preallocation; mu held for writing.
func (x *mmapIndex) ensureMappedLocked() error {
	if x.pendingBytes == 0 {
		return nil
	}
	return x.remapLocked(x.pendingBytes)
}

// remapLocked resizes the file to size bytes and maps it.
func (x *mmapIndex) remapLocked(size int) error {
	f, err := os.OpenFile(x.path, os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("storage: reopen index: %w", err)
	}
	defer f.Close()
	return x.remapFileLocked(f, size)
}

func (x *mmapIndex) remapFileLocked(f *os.File, size int) error {
	x.pendingBytes = 0
	if x.data != nil {
		if err := syscall.Munmap(x.data); err != nil {
			return fmt.Errorf("storage: munmap %s: %w", x.path, err)
		}
		x.data = nil
	}
	if err := f.Truncate(int64(size)); err != nil {
		return fmt.Errorf("storage: resize %s: %w", x.path, err)
	}
	x.maxEntries = size / x.entrySize
	if size == 0 {
		return nil
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("storage: mmap %s: %w", x.path, err)
	}
	// Index pages are touched one at a time (binary searches, one append
	// position), so turn off the kernel's fault read-around. Without this,
	// the first store into a preallocated (sparse) index makes the kernel
	// read around the faulting page: up to read_ahead_kb*2 of zero-filled
	// page cache (16 MiB where read_ahead_kb is 8192), which took ~4 ms per
	// index on the produce path and, with 1000 fresh partitions, dominated
	// produce p99. With MADV_RANDOM the first store costs ~40 µs.
	if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), syscall.MADV_RANDOM); errno != 0 {
		_ = syscall.Munmap(b)
		return fmt.Errorf("storage: madvise %s: %w", x.path, errno)
	}
	x.data = b
	return nil
}

func (x *mmapIndex) isFull() bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.entries >= x.maxEntries
}

func (x *mmapIndex) len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.entries
}

// resize grows or shrinks the mapping, never below the live entries.
func (x *mmapIndex) resize(maxBytes int) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.entries == 0 && x.data == nil && maxBytes/x.entrySize > 0 {
		// Nothing mapped and nothing to keep: grow on the first entry. An
		// index trimmed to 0 bytes is an empty file already; a deferred
		// one never grew.
		if x.pendingBytes == 0 {
			if err := x.remapLocked(0); err != nil {
				return err
			}
		}
		x.deferLocked(maxBytes)
		return nil
	}
	return x.remapLocked(max(x.entries*x.entrySize, maxBytes/x.entrySize*x.entrySize))
}

// trim shrinks the file to the live entries.
func (x *mmapIndex) trim() error { return x.resize(0) }

// truncateEntries keeps the first n entries.
func (x *mmapIndex) truncateEntries(n int) {
	x.mu.Lock()
	x.entries = min(x.entries, n)
	x.mu.Unlock()
}

// sync writes the mapping's dirty pages to disk (msync, as Kafka's
// MappedByteBuffer.force).
func (x *mmapIndex) sync() error {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if len(x.data) == 0 {
		return nil
	}
	if _, _, errno := syscall.Syscall(syscall.SYS_MSYNC, uintptr(unsafe.Pointer(&x.data[0])), uintptr(len(x.data)), syscall.MS_SYNC); errno != 0 {
		return fmt.Errorf("storage: sync %s: %w", x.path, errno)
	}
	observeSync(x.path)
	return nil
}

func (x *mmapIndex) close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	var err error
	if x.data != nil {
		err = syscall.Munmap(x.data)
		x.data = nil
	}
	return err
}

// entry returns the bytes of entry i; callers hold mu.
func (x *mmapIndex) entry(i int) []byte { return x.data[i*x.entrySize : (i+1)*x.entrySize] }

// storeEntry runs store, which writes into an index mapping, and turns a
// fault of that write into an error instead of a crash. The kernel raises
// SIGBUS for a store into a page of a shared file mapping it cannot back:
// the index of an active segment is a sparse preallocated file, and on a
// full file system (tmpfs, or ext4 out of blocks) its next page gets no
// block. The error wraps ENOSPC, that usual cause, so the log dir fails as
// full and comes back once space returns (dirrecovery.go); were it an I/O
// error instead, reloading the dir fails and it stays offline.
func storeEntry(store func()) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("fault writing the index mapping (%v): %w", r, syscall.ENOSPC)
		}
	}()
	store()
	return nil
}

// offsetIndex maps a relative offset to the file position of the batch that
// holds it. Entries are added for the last offset of a batch, as Kafka does.
type offsetIndex struct{ *mmapIndex }

type offsetEntry struct {
	offset   int64
	position int64
}

func (x *offsetIndex) relOffset(i int) uint32 { return binary.BigEndian.Uint32(x.entry(i)) }

// append adds (offset, position); offset must exceed the last entry's.
func (x *offsetIndex) append(offset, position int64) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.entries >= x.maxEntries {
		return fmt.Errorf("storage: offset index %s full", x.path)
	}
	if err := x.ensureMappedLocked(); err != nil {
		return err
	}
	if x.entries > 0 && int64(x.relOffset(x.entries-1))+x.baseOffset >= offset {
		return fmt.Errorf("%w: offset index entry %d not above last", ErrCorrupt, offset)
	}
	e := x.entry(x.entries)
	if err := storeEntry(func() {
		binary.BigEndian.PutUint32(e, uint32(offset-x.baseOffset))
		binary.BigEndian.PutUint32(e[4:], uint32(position))
	}); err != nil {
		return fmt.Errorf("storage: offset index %s: %w", x.path, err)
	}
	x.entries++
	return nil
}

// lookup returns the entry with the largest offset <= target, or
// (baseOffset, 0) when there is none.
func (x *offsetIndex) lookup(target int64) offsetEntry {
	x.mu.RLock()
	defer x.mu.RUnlock()
	rel := target - x.baseOffset
	i := sort.Search(x.entries, func(i int) bool { return int64(x.relOffset(i)) > rel }) - 1
	if i < 0 {
		return offsetEntry{offset: x.baseOffset}
	}
	return x.at(i)
}

func (x *offsetIndex) at(i int) offsetEntry {
	e := x.entry(i)
	return offsetEntry{
		offset:   x.baseOffset + int64(binary.BigEndian.Uint32(e)),
		position: int64(binary.BigEndian.Uint32(e[4:])),
	}
}

// last returns the last entry, or (baseOffset, 0) when empty.
func (x *offsetIndex) last() offsetEntry {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.entries == 0 {
		return offsetEntry{offset: x.baseOffset}
	}
	return x.at(x.entries - 1)
}

// truncateTo removes the entries for offsets >= offset.
func (x *offsetIndex) truncateTo(offset int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	rel := offset - x.baseOffset
	x.entries = sort.Search(x.entries, func(i int) bool { return int64(x.relOffset(i)) >= rel })
}

// sanityCheck verifies what a clean shutdown promises: strictly increasing
// offsets at the end and a last position inside the log.
func (x *offsetIndex) sanityCheck(logSize int64) error {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.entries == 0 {
		return nil
	}
	last := x.at(x.entries - 1)
	if last.position >= logSize {
		return fmt.Errorf("%w: offset index %s last position %d beyond log size %d", ErrCorrupt, x.path, last.position, logSize)
	}
	if x.entries > 1 {
		prev := x.at(x.entries - 2)
		if prev.offset >= last.offset || prev.position >= last.position {
			return fmt.Errorf("%w: offset index %s not increasing at its end", ErrCorrupt, x.path)
		}
	}
	return nil
}

// timeIndex maps a timestamp to the offset of the batch that first reached
// it; both columns are non-decreasing.
type timeIndex struct{ *mmapIndex }

type timeEntry struct {
	timestamp int64
	offset    int64
}

func (x *timeIndex) at(i int) timeEntry {
	e := x.entry(i)
	return timeEntry{
		timestamp: int64(binary.BigEndian.Uint64(e)),
		offset:    x.baseOffset + int64(binary.BigEndian.Uint32(e[8:])),
	}
}

// maybeAppend adds (timestamp, offset) if timestamp is above the last entry.
// skipFullCheck lets the final entry on roll/close use a slot the roll
// condition kept free; with no slot left the entry is dropped.
func (x *timeIndex) maybeAppend(timestamp, offset int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.entries >= x.maxEntries {
		return
	}
	if err := x.ensureMappedLocked(); err != nil {
		// The entry is an optimisation of lookups by time; without a
		// mapping (vm.max_map_count reached) the index keeps what it has
		// and lookups scan further.
		return
	}
	if x.entries > 0 {
		if last := x.at(x.entries - 1); timestamp <= last.timestamp || offset < last.offset {
			return
		}
	}
	e := x.entry(x.entries)
	if storeEntry(func() {
		binary.BigEndian.PutUint64(e, uint64(timestamp))
		binary.BigEndian.PutUint32(e[8:], uint32(offset-x.baseOffset))
	}) != nil {
		return // the offset index's next entry reports the fault
	}
	x.entries++
}

// lookup returns the entry with the largest timestamp <= target, or
// (-1, baseOffset) when there is none.
func (x *timeIndex) lookup(target int64) timeEntry {
	x.mu.RLock()
	defer x.mu.RUnlock()
	i := sort.Search(x.entries, func(i int) bool { return x.at(i).timestamp > target }) - 1
	if i < 0 {
		return timeEntry{timestamp: -1, offset: x.baseOffset}
	}
	return x.at(i)
}

func (x *timeIndex) last() (timeEntry, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.entries == 0 {
		return timeEntry{timestamp: -1, offset: x.baseOffset}, false
	}
	return x.at(x.entries - 1), true
}

// truncateTo removes the entries for offsets >= offset.
func (x *timeIndex) truncateTo(offset int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.entries = sort.Search(x.entries, func(i int) bool { return x.at(i).offset >= offset })
}

func (x *timeIndex) sanityCheck(nextOffset int64) error {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.entries == 0 {
		return nil
	}
	first, last := x.at(0), x.at(x.entries-1)
	if last.timestamp < first.timestamp || last.offset >= nextOffset {
		return fmt.Errorf("%w: time index %s inconsistent at its end", ErrCorrupt, x.path)
	}
	if x.entries > 1 {
		if prev := x.at(x.entries - 2); prev.timestamp >= last.timestamp || prev.offset > last.offset {
			return fmt.Errorf("%w: time index %s not increasing at its end", ErrCorrupt, x.path)
		}
	}
	return nil
}
