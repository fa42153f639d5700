package server

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spool-broker/spool/internal/spooltest"
)

// fetchOffset is OffsetFetch v8 for one partition: its offset and code.
func (rc *rawConn) fetchOffset(groupID, topic string, partition int32, requireStable bool) (int64, int16) {
	rc.t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.RequireStable = requireStable
	g := kmsg.NewOffsetFetchRequestGroup()
	g.Group = groupID
	t := kmsg.NewOffsetFetchRequestGroupTopic()
	t.Topic, t.Partitions = topic, []int32{partition}
	g.Topics = append(g.Topics, t)
	req.Groups = append(req.Groups, g)
	resp := rc.do(req, 8).(*kmsg.OffsetFetchResponse)
	if code := resp.Groups[0].ErrorCode; code != 0 {
		return -1, code
	}
	p := resp.Groups[0].Topics[0].Partitions[0]
	return p.Offset, p.ErrorCode
}

func (rc *rawConn) txnOffsetCommit(id, groupID string, pid int64, epoch int16, topic string, partition int32, offset int64) int16 {
	rc.t.Helper()
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch, req.Generation = id, groupID, pid, epoch, -1
	t := kmsg.NewTxnOffsetCommitRequestTopic()
	t.Topic = topic
	p := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	p.Partition, p.Offset, p.LeaderEpoch = partition, offset, -1
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	return rc.do(req, 5).(*kmsg.TxnOffsetCommitResponse).Topics[0].Partitions[0].ErrorCode
}

func (rc *rawConn) waitGroupCoordinator(groupID string) {
	rc.t.Helper()
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorType, req.CoordinatorKeys = 0, []string{groupID}
	require.Eventually(rc.t, func() bool {
		if rc.do(req, 4).(*kmsg.FindCoordinatorResponse).Coordinators[0].ErrorCode != 0 {
			return false
		}
		_, code := rc.fetchOffset(groupID, "probe", 0, false)
		return code == 0
	}, 15*time.Second, 50*time.Millisecond)
}

// TestKillBetweenTxnOffsetCommitAndEndTxn SIGKILLs the broker after a
// TxnOffsetCommit and before the transaction ends. The offsets were written
// to __consumer_offsets as a transactional batch: after the restart they are
// still pending (UNSTABLE_OFFSET_COMMIT for require_stable, not visible
// otherwise), and the EndTxn that follows decides them: visible after a
// commit, gone after an abort.
func TestKillBetweenTxnOffsetCommitAndEndTxn(t *testing.T) {
	bin := spooltest.Build(t)
	for _, commit := range []bool{true, false} {
		t.Run(fmt.Sprintf("commit=%v", commit), func(t *testing.T) {
			dir := t.TempDir()
			addr, env := processEnv(t, filepath.Join(dir, "data"))
			logPath := filepath.Join(dir, "spool.log")
			p := startProcess(t, bin, env, addr, logPath)
			createTopic(t, addr, "src", 1, nil)

			rc := dialRaw(t, addr)
			rc.findCoordinator("offs-tx")
			rc.waitGroupCoordinator("offs-g")
			pid, epoch := rc.initProducer("offs-tx")
			require.Zero(t, rc.txnOffsetCommit("offs-tx", "offs-g", pid, epoch, "src", 0, 42))
			_, code := rc.fetchOffset("offs-g", "src", 0, true)
			require.Equal(t, kerr.UnstableOffsetCommit.Code, code)
			off, code := rc.fetchOffset("offs-g", "src", 0, false)
			require.Zero(t, code)
			require.EqualValues(t, -1, off, "not exposed before the marker")

			require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
			_ = p.cmd.Wait()
			p = startProcess(t, bin, env, addr, logPath)

			rc = dialRaw(t, addr)
			rc.waitGroupCoordinator("offs-g")
			_, code = rc.fetchOffset("offs-g", "src", 0, true)
			require.Equal(t, kerr.UnstableOffsetCommit.Code, code, "still pending after the restart")
			off, _ = rc.fetchOffset("offs-g", "src", 0, false)
			require.EqualValues(t, -1, off)

			var end *kmsg.EndTxnResponse
			require.Eventually(t, func() bool {
				end = rc.endTxn(5, "offs-tx", pid, epoch, commit)
				return end.ErrorCode != kerr.CoordinatorLoadInProgress.Code && end.ErrorCode != kerr.NotCoordinator.Code
			}, 15*time.Second, 100*time.Millisecond)
			require.Zero(t, end.ErrorCode)

			want := int64(-1)
			if commit {
				want = 42
			}
			off, code = rc.fetchOffset("offs-g", "src", 0, true)
			require.Zero(t, code)
			require.Equal(t, want, off)

			// And the decision itself survives another crash.
			require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
			_ = p.cmd.Wait()
			startProcess(t, bin, env, addr, logPath)
			rc = dialRaw(t, addr)
			rc.waitGroupCoordinator("offs-g")
			off, code = rc.fetchOffset("offs-g", "src", 0, true)
			require.Zero(t, code)
			require.Equal(t, want, off)
		})
	}
}
