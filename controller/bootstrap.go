package controller

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"

	"github.com/spool-broker/spool/storage"
)

// BootstrapFileName is the file `spool format --add-scram` writes into the
// metadata log dir, next to meta.properties, as kafka-storage.sh writes
// bootstrap.checkpoint: records the first controller leader of a new
// cluster commits together with the initial feature levels. Its layout:
//
//	"SPBS" version:u8=0 len:u32be batch[len] crc32c(batch):u32be
//
// where batch is a record batch as in a raft entry (doc.go). The file is
// read on every start and used only while the cluster has no
// metadata.version, i.e. once.
const BootstrapFileName = "bootstrap.checkpoint"

const (
	bootstrapMagic   = "SPBS"
	bootstrapVersion = 0
)

var errBadBootstrap = errors.New("controller: corrupt bootstrap file")

// WriteBootstrap writes records to the bootstrap file of metadataLogDir,
// atomically and durably (storage.WriteFileDurably).
func WriteBootstrap(metadataLogDir string, records []Record) error {
	batch := EncodeBatch(records)
	out := append([]byte(bootstrapMagic), bootstrapVersion)
	out = binary.BigEndian.AppendUint32(out, uint32(len(batch)))
	out = append(out, batch...)
	out = binary.BigEndian.AppendUint32(out, crc32.Checksum(batch, castagnoli))
	path := filepath.Join(metadataLogDir, BootstrapFileName)
	// 0600: the file may hold SCRAM credentials (--add-scram).
	if err := storage.WriteFileDurably(path, out, 0o600); err != nil {
		return fmt.Errorf("controller: write %s: %w", path, err)
	}
	return nil
}

// ReadBootstrap reads the bootstrap file of metadataLogDir; nil when there
// is none.
func ReadBootstrap(metadataLogDir string) ([]Record, error) {
	path := filepath.Join(metadataLogDir, BootstrapFileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("controller: read %s: %w", path, err)
	}
	if len(b) < 13 || string(b[:4]) != bootstrapMagic || b[4] != bootstrapVersion {
		return nil, fmt.Errorf("%w: %s: bad magic or version", errBadBootstrap, path)
	}
	n := binary.BigEndian.Uint32(b[5:9])
	if uint64(len(b)) != 13+uint64(n) {
		return nil, fmt.Errorf("%w: %s: length", errBadBootstrap, path)
	}
	batch := b[9 : 9+n]
	if crc32.Checksum(batch, castagnoli) != binary.BigEndian.Uint32(b[9+n:]) {
		return nil, fmt.Errorf("%w: %s: checksum mismatch", errBadBootstrap, path)
	}
	recs, err := DecodeBatch(batch)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", errBadBootstrap, path, err)
	}
	return recs, nil
}
