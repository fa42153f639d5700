package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spool-broker/spool/internal/spooltest"
)

// TestKillAfterCreatingPartitions SIGKILLs the broker after it created a
// topic and took writes on some partitions, before anything was flushed:
// leader-epoch-checkpoint is written only by a flush, so none exists yet.
// The restart rebuilds each partition's epochs from its batches and writes
// them; every partition accepts writes again.
func TestKillAfterCreatingPartitions(t *testing.T) {
	bin := spooltest.Build(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	addr, env := processEnv(t, data)
	logPath := filepath.Join(dir, "spool.log")
	p := startProcess(t, bin, env, addr, logPath)
	const parts = 20
	createTopic(t, addr, "fresh", parts, nil)

	adm := kadm.NewClient(newClient(t, addr))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	md, err := adm.Metadata(ctx, "fresh")
	require.NoError(t, err)
	epochs := map[int32]int32{}
	for _, pd := range md.Topics["fresh"].Partitions {
		epochs[pd.Partition] = pd.LeaderEpoch
	}
	require.Len(t, epochs, parts)

	cl := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.LeaderAck()),
		kgo.DisableIdempotentWrite())
	written := map[int32]int{}
	var recs []*kgo.Record
	for part := range int32(parts) {
		if part%3 == 0 {
			continue // some partitions stay empty
		}
		for i := range int(part) {
			recs = append(recs, &kgo.Record{Topic: "fresh", Partition: part, Value: []byte(fmt.Sprint(i))})
		}
		written[part] = int(part)
	}
	require.NoError(t, cl.ProduceSync(ctx, recs...).FirstErr())
	for part := range int32(parts) {
		_, err := os.Stat(filepath.Join(data, fmt.Sprintf("fresh-%d", part), "leader-epoch-checkpoint"))
		require.ErrorIs(t, err, os.ErrNotExist, "partition %d: creating and appending must not write the epoch checkpoint", part)
	}

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	_ = p.cmd.Wait()
	startProcess(t, bin, env, addr, logPath)

	for part := range int32(parts) {
		path := filepath.Join(data, fmt.Sprintf("fresh-%d", part), "leader-epoch-checkpoint")
		if written[part] == 0 {
			continue
		}
		// Recovery rescanned the unflushed batches, found the epoch they
		// were written under, and flushed the rebuilt checkpoint.
		b, err := os.ReadFile(path)
		require.NoError(t, err, "partition %d", part)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		require.GreaterOrEqual(t, len(lines), 3, "partition %d: %q", part, b)
		require.Equal(t, fmt.Sprintf("%d 0", epochs[part]), lines[2], "partition %d: %q", part, b)
	}

	// Every partition takes writes after the restart, after what survived.
	cl2 := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DisableIdempotentWrite())
	for part := range int32(parts) {
		r := &kgo.Record{Topic: "fresh", Partition: part, Value: []byte("after")}
		require.NoError(t, cl2.ProduceSync(ctx, r).FirstErr(), "partition %d", part)
		require.EqualValues(t, written[part], r.Offset, "partition %d", part)
	}
}
