package controller

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/raft"
)

// The files of a metadata directory (doc.go).
const (
	raftLogDir     = "raft-log"
	raftStableFile = "raft-stable"
)

// MarshalText writes a topic ID as Kafka prints UUIDs (URL-safe base64,
// no padding), so a metadata dump names topics as kafka-topics shows them.
func (id TopicID) MarshalText() ([]byte, error) {
	return []byte(base64.RawURLEncoding.EncodeToString(id[:])), nil
}

// MetadataEntry is one entry of a metadata log as DumpMetadataLog reads it:
// the records of a batch, the image of a snapshot (as the records that
// rebuild it), or a raft entry without records.
type MetadataEntry struct {
	Index    uint64         `json:"index"`
	Term     uint64         `json:"term"`
	Kind     string         `json:"kind"` // "snapshot", "records" or the raft entry type
	Records  []DumpedRecord `json:"records,omitempty"`
	Error    string         `json:"error,omitempty"`
	Snapshot string         `json:"snapshot,omitempty"` // the snapshot's directory
}

// DumpedRecord is one record with its type name (Kafka's record names:
// TopicRecord, PartitionChangeRecord, ...).
type DumpedRecord struct {
	Type string `json:"type"`
	Data Record `json:"data"`
}

// DumpMetadataLog reads a node's metadata directory (its
// __cluster_metadata: raft log segments and snapshots) without changing
// it, as kafka-dump-log --cluster-metadata-decoder and kafka-metadata-shell
// read Kafka's: first the newest snapshot, then every log entry after it.
// A damaged frame ends the log (reported as an entry with Error); fn's
// error stops the walk. Safe on a running node's directory: files are only
// read.
func DumpMetadataLog(dir string, fn func(MetadataEntry) error) error {
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("metadata directory: %w (it is __cluster_metadata under metadata.log.dir, or under the first log.dirs entry)", err)
	}
	after := uint64(0)
	snap, meta, err := newestSnapshot(dir)
	if err != nil {
		return err
	}
	if snap != "" {
		f, err := os.Open(filepath.Join(snap, "state.bin"))
		if err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		img, err := readSnapshot(f)
		f.Close()
		e := MetadataEntry{Index: meta.Index, Term: meta.Term, Kind: "snapshot", Snapshot: snap}
		if err != nil {
			e.Error = err.Error()
		} else {
			e.Records = dumped(img.records())
		}
		if err := fn(e); err != nil {
			return err
		}
		after = meta.Index
	}
	names, err := filepath.Glob(filepath.Join(dir, raftLogDir, "*"+segmentSuffix))
	if err != nil {
		return err
	}
	slices.SortFunc(names, func(a, b string) int { return strings.Compare(filepath.Base(a), filepath.Base(b)) })
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		var l raft.Log
		for off := 0; off < len(data); {
			n, err := decodeFrame(data[off:], &l)
			if err != nil {
				return fn(MetadataEntry{Kind: "damaged", Error: fmt.Sprintf("%s offset %d: %v (a torn tail is dropped when the node starts)", filepath.Base(name), off, err)})
			}
			off += n
			if l.Index <= after {
				continue
			}
			e := MetadataEntry{Index: l.Index, Term: l.Term, Kind: strings.TrimPrefix(strings.ToLower(l.Type.String()), "log")}
			if l.Type == raft.LogCommand {
				e.Kind = "records"
				recs, err := DecodeBatch(l.Data)
				if err != nil {
					e.Error = err.Error()
				}
				e.Records = dumped(recs)
			}
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	return nil
}

func dumped(recs []Record) []DumpedRecord {
	out := make([]DumpedRecord, len(recs))
	for i, r := range recs {
		name := fmt.Sprintf("%T", r)
		out[i] = DumpedRecord{Type: name[strings.LastIndexByte(name, '.')+1:], Data: r}
	}
	return out
}

// snapshotMeta is what DumpMetadataLog needs of raft's meta.json.
type snapshotMeta struct {
	Index uint64
	Term  uint64
}

// newestSnapshot finds the snapshot with the highest index under
// dir/snapshots ("" when there is none).
func newestSnapshot(dir string) (string, snapshotMeta, error) {
	var best string
	var bestMeta snapshotMeta
	entries, err := os.ReadDir(filepath.Join(dir, "snapshots"))
	if os.IsNotExist(err) {
		return "", bestMeta, nil
	}
	if err != nil {
		return "", bestMeta, err
	}
	for _, e := range entries {
		if !e.IsDir() || strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		p := filepath.Join(dir, "snapshots", e.Name())
		f, err := os.Open(filepath.Join(p, "meta.json"))
		if err != nil {
			continue
		}
		var m snapshotMeta
		err = json.NewDecoder(io.LimitReader(f, 1<<20)).Decode(&m)
		f.Close()
		if err == nil && (best == "" || m.Index > bestMeta.Index) {
			best, bestMeta = p, m
		}
	}
	return best, bestMeta, nil
}
