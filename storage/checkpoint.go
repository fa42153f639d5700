package storage

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Names of the per-log-dir files the Manager owns.
const (
	RecoveryPointCheckpointFile  = "recovery-point-offset-checkpoint"
	LogStartOffsetCheckpointFile = "log-start-offset-checkpoint"
	// ReplicationOffsetCheckpointFile holds each partition's high
	// watermark (Kafka's ReplicaManager writes it; here the Manager does,
	// from the values package replication keeps in each Log).
	ReplicationOffsetCheckpointFile = "replication-offset-checkpoint"
	LeaderEpochCheckpointFile       = "leader-epoch-checkpoint"
	CleanShutdownFile               = ".kafka_cleanshutdown"
	checkpointVersion               = 0
)

// TopicPartition names one partition of a topic, as Kafka's
// org.apache.kafka.common.TopicPartition does. It is the one such type:
// replication, the controller (controller.TopicPartition) and the
// transaction coordinator (txn.TopicPartition) use it under their own
// names, as aliases.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (tp TopicPartition) String() string { return tp.Topic + "-" + strconv.Itoa(int(tp.Partition)) }

// writeCheckpointLines writes Kafka's checkpoint layout (version line, count
// line, one line per entry) to path.tmp, fsyncs it, renames it over path and
// fsyncs the directory, so a crash leaves either the old or the new file.
func writeCheckpointLines(path string, lines []string) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d\n%d\n", checkpointVersion, len(lines))
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	if err := WriteFileDurably(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("storage: write checkpoint %s: %w", path, err)
	}
	return nil
}

// WriteFileDurably replaces path with b so that a crash or power loss
// leaves either the old file or the new one, complete: b goes to
// path.tmp, which is fsynced, renamed over path, and the directory is
// fsynced (Kafka's Utils.atomicMoveWithFallback with a flushed parent).
// perm applies to a file the call creates.
func WriteFileDurably(path string, b []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = syncFile(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	return err
}

// WriteMetaProperties writes a log dir's meta.properties as kafka-storage.sh
// format does (version 1: cluster.id, directory.id, node.id), durably: a
// dir whose meta.properties a power loss took would come back with a new
// directory.id, and the controller would keep its replicas on the old,
// unknown dir: offline, and refused in every ISR.
func WriteMetaProperties(dir, clusterID, directoryID string, nodeID int32) error {
	body := fmt.Sprintf("#\n#%s\ncluster.id=%s\ndirectory.id=%s\nnode.id=%d\nversion=1\n",
		time.Now().UTC().Format(time.UnixDate), clusterID, directoryID, nodeID)
	path := filepath.Join(dir, "meta.properties")
	if err := WriteFileDurably(path, []byte(body), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// readCheckpointLines returns the entry lines, each split into fields, after
// checking the version and count. A missing file yields nil lines (an empty
// one, an empty non-nil slice).
func readCheckpointLines(path string, fields int) ([][]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storage: read checkpoint: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		return sc.Text(), true
	}
	bad := func(why string) error { return fmt.Errorf("%w: checkpoint %s: %s", ErrCorrupt, path, why) }
	v, ok := next()
	if !ok || strings.TrimSpace(v) != strconv.Itoa(checkpointVersion) {
		return nil, bad("unsupported version " + strconv.Quote(v))
	}
	c, ok := next()
	n, err := strconv.Atoi(strings.TrimSpace(c))
	if !ok || err != nil || n < 0 {
		return nil, bad("bad count " + strconv.Quote(c))
	}
	out := make([][]string, 0, n)
	for range n {
		l, ok := next()
		if !ok {
			return nil, bad(fmt.Sprintf("expected %d entries, got %d", n, len(out)))
		}
		f := strings.Fields(l)
		if len(f) != fields {
			return nil, bad("malformed line " + strconv.Quote(l))
		}
		out = append(out, f)
	}
	if l, ok := next(); ok && strings.TrimSpace(l) != "" {
		return nil, bad("more entries than the count")
	}
	return out, nil
}

// WriteOffsetCheckpoint writes "topic partition offset" lines, as Kafka's
// recovery-point-offset-checkpoint and log-start-offset-checkpoint files.
func WriteOffsetCheckpoint(path string, offsets map[TopicPartition]int64) error {
	lines := make([]string, 0, len(offsets))
	for tp, off := range offsets {
		lines = append(lines, fmt.Sprintf("%s %d %d", tp.Topic, tp.Partition, off))
	}
	sort.Strings(lines)
	return writeCheckpointLines(path, lines)
}

// ReadOffsetCheckpoint reads a file written by WriteOffsetCheckpoint; a
// missing file is an empty map.
func ReadOffsetCheckpoint(path string) (map[TopicPartition]int64, error) {
	lines, err := readCheckpointLines(path, 3)
	if err != nil {
		return nil, err
	}
	out := make(map[TopicPartition]int64, len(lines))
	for _, f := range lines {
		p, err1 := strconv.ParseInt(f[1], 10, 32)
		off, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%w: checkpoint %s: bad line %q", ErrCorrupt, path, strings.Join(f, " "))
		}
		out[TopicPartition{f[0], int32(p)}] = off
	}
	return out, nil
}

// SyncDir fsyncs directory dir, so that the names created, renamed or
// removed in it survive a power loss (a file's own fsync does not cover
// its directory entry).
func SyncDir(dir string) error { return syncDir(dir) }

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		observeSync(dir)
	}
	return err
}
