package server

import (
	"context"

	"path/filepath"
	"slices"
	"sort"
	"syscall"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/storage"
)

// DescribeLogDirs (key 35): versions 0-5.
//
// Behaviour:
//   - Lists each of log.dirs with the partitions this broker holds in it
//     (all of them for a null topic list) and their size on disk, and the
//     directory's total and usable bytes from statfs(2) (-1 if unknown).
//   - Authorization (authz.go): DESCRIBE on the cluster
//     (CLUSTER_AUTHORIZATION_FAILED).
//
// Version notes:
//   - v2: flexible. v3: a top-level ErrorCode. v4: TotalBytes and
//     UsableBytes. v5: IsCordoned.
//
// Where Spool differs from Kafka 4.3:
//   - v0 is served (Kafka 4 dropped it).
//   - OffsetLag is always 0 and IsFutureKey false (a move between dirs,
//     api_34_alter_replica_log_dirs.go, has no future replica to show);
//     a failed dir (KIP-858) has ErrorCode KAFKA_STORAGE_ERROR, as in
//     Kafka, and IsCordoned says whether it is in cordoned.log.dirs.

func (b *Broker) handleDescribeLogDirs(ctx context.Context, rc *reqCtx, req *protocol.DescribeLogDirsRequest) (*protocol.DescribeLogDirsResponse, error) {
	resp := &protocol.DescribeLogDirsResponse{}
	if !b.authorizeCluster(rc, acl.OpDescribe) { // authz.go
		resp.ErrorCode, resp.Results = errcode.ClusterAuthorizationFailed, []protocol.DescribeLogDirsResponseDescribeLogDirsResult{}
		return resp, nil
	}
	// A null topic list asks for every partition.
	want := func(storage.TopicPartition) bool { return true }
	if req.Topics != nil {
		asked := map[storage.TopicPartition]bool{}
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				asked[storage.TopicPartition{Topic: string(t.Topic), Partition: p}] = true
			}
		}
		want = func(tp storage.TopicPartition) bool { return asked[tp] }
	}
	byDir := map[string]map[string][]protocol.DescribeLogDirsResponseDescribeLogDirsPartition{}
	for _, l := range b.logManager.Logs() {
		tp := l.TopicPartition()
		if !want(tp) {
			continue
		}
		dir := filepath.Dir(l.Dir())
		if byDir[dir] == nil {
			byDir[dir] = map[string][]protocol.DescribeLogDirsResponseDescribeLogDirsPartition{}
		}
		// Every replica is the leader's own log: no lag.
		byDir[dir][tp.Topic] = append(byDir[dir][tp.Topic], protocol.DescribeLogDirsResponseDescribeLogDirsPartition{
			PartitionIndex: tp.Partition, PartitionSize: l.Size(),
		})
	}
	for _, dir := range b.cfg.LogDirs {
		res := protocol.DescribeLogDirsResponseDescribeLogDirsResult{LogDir: dir, Topics: []protocol.DescribeLogDirsResponseDescribeLogDirsTopic{}, TotalBytes: -1, UsableBytes: -1,
			IsCordoned: b.logManager.Cordoned(dir)}
		if b.logManager.DirOffline(dir) {
			// As Kafka's describeLogDirs: a failed dir is listed with
			// KAFKA_STORAGE_ERROR and nothing else.
			res.ErrorCode = errcode.KafkaStorageError
			resp.Results = append(resp.Results, res)
			continue
		}
		var st syscall.Statfs_t
		if err := syscall.Statfs(dir, &st); err == nil {
			res.TotalBytes = int64(st.Blocks) * int64(st.Bsize)
			res.UsableBytes = int64(st.Bavail) * int64(st.Bsize)
		}
		topics := byDir[filepath.Clean(dir)]
		names := make([]string, 0, len(topics))
		for name := range topics {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			parts := topics[name]
			slices.SortFunc(parts, func(a, b protocol.DescribeLogDirsResponseDescribeLogDirsPartition) int {
				return int(a.PartitionIndex - b.PartitionIndex)
			})
			res.Topics = append(res.Topics, protocol.DescribeLogDirsResponseDescribeLogDirsTopic{Name: protocol.TopicName(name), Partitions: parts})
		}
		resp.Results = append(resp.Results, res)
	}
	return resp, nil
}
