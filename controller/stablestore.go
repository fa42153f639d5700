package controller

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"os"
	"slices"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/spool-broker/spool/storage"
)

// StableStore is a raft.StableStore kept in one small file that is rewritten
// atomically (write temp, fsync, rename, fsync dir) on every Set. raft writes
// it only on term changes and votes, so rewriting is cheap.
type StableStore struct {
	path string
	// onFailure, when set, is called with a failed write before Set
	// returns it: raft panics on a term or vote it cannot save, so the
	// node stops itself first (SetFailureHandler).
	onFailure func(error)

	mu sync.Mutex
	kv map[string][]byte
}

var _ raft.StableStore = (*StableStore)(nil)

const stableMagic = "SPST"

// OpenStableStore opens (creating) the stable store file at path.
func OpenStableStore(path string) (*StableStore, error) {
	s := &StableStore{path: path, kv: map[string][]byte{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("controller: stable store: %w", err)
	}
	if len(b) < len(stableMagic)+4 || string(b[:4]) != stableMagic {
		return nil, fmt.Errorf("%w: stable store header", ErrCorruptLog)
	}
	body := b[4 : len(b)-4]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(b[len(b)-4:]) {
		return nil, fmt.Errorf("%w: stable store checksum", ErrCorruptLog)
	}
	r := &reader{b: body}
	for n := r.count(); n > 0; n-- {
		k := r.string()
		s.kv[k] = r.bytes()
	}
	if err := r.complete(); err != nil {
		return nil, fmt.Errorf("%w: stable store: %v", ErrCorruptLog, err)
	}
	return s, nil
}

// SetFailureHandler makes fn the handler of a failed write: raft cannot go
// on without its term and vote on disk (it panics), so the node stops
// itself cleanly in fn instead. Call it before raft starts.
func (s *StableStore) SetFailureHandler(fn func(error)) { s.onFailure = fn }

// Set implements raft.StableStore.
func (s *StableStore) Set(key, val []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, had := s.kv[string(key)]
	s.kv[string(key)] = slices.Clone(val)
	if err := s.writeLocked(); err != nil {
		if had {
			s.kv[string(key)] = old
		} else {
			delete(s.kv, string(key))
		}
		err = fmt.Errorf("controller: saving the raft %s in %s: %w", key, s.path, err)
		if s.onFailure != nil {
			s.onFailure(err)
		}
		return err
	}
	return nil
}

// Get implements raft.StableStore; a missing key yields an empty value.
func (s *StableStore) Get(key []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.kv[string(key)]), nil
}

// SetUint64 implements raft.StableStore.
func (s *StableStore) SetUint64(key []byte, val uint64) error {
	return s.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

// GetUint64 implements raft.StableStore; a missing key yields 0.
func (s *StableStore) GetUint64(key []byte) (uint64, error) {
	v, _ := s.Get(key)
	if len(v) == 0 {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("controller: stable key %q holds %d bytes, not a uint64", key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

func (s *StableStore) writeLocked() error {
	body := appendUvarint(nil, uint64(len(s.kv))+1)
	for _, k := range slices.Sorted(maps.Keys(s.kv)) {
		body = appendString(body, k)
		body = appendBytes(body, s.kv[k])
	}
	out := append([]byte(stableMagic), body...)
	out = binary.BigEndian.AppendUint32(out, crc32.Checksum(body, castagnoli))
	// 0o666 before the umask, as os.Create.
	if err := storage.WriteFileDurably(s.path, out, 0o666); err != nil {
		return fmt.Errorf("controller: stable store: %w", err)
	}
	return nil
}
