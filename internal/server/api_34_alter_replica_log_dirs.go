package server

import (
	"context"
	"errors"
	"slices"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/storage"
)

// AlterReplicaLogDirs (key 34): versions 0-2.
//
// Behaviour:
//   - Moves each named replica of this broker to the named log dir
//     (kafka-reassign-partitions.sh with log_dirs), as Kafka's
//     ReplicaManager.alterReplicaLogDirs: a path not in log.dirs is
//     LOG_DIR_NOT_FOUND, a failed dir or a replica on one
//     KAFKA_STORAGE_ERROR; a replica this broker does not hold yet is
//     created in that dir later (NONE); one already there is left alone.
//   - The move runs after the answer, in the background, as Kafka's
//     future replica: the log is copied into
//     <dir>/<topic>-<partition>.<id>-future while the partition keeps
//     serving on this broker (rounds copy what was appended since the
//     last, storage.MoveLog); then the partition stops serving for the
//     last round only (NOT_LEADER_OR_FOLLOWER meanwhile; clients retry):
//     the log is flushed and closed, its last appends and small files
//     copied, the copy renamed into place and the old one deleted; then
//     the partition is hosted again with the metadata's state and
//     DescribeLogDirs lists it in its new dir.
//   - Authorization (authz.go): ALTER on the cluster
//     (CLUSTER_AUTHORIZATION_FAILED for every partition).
//
// Version notes:
//   - v1 is v0 with the response sent before throttling on a quota
//     violation (KIP-219); Spool answers every version at once and then
//     mutes the connection (quotas.go). v2: flexible.
//
// Where Spool differs from Kafka 4.3:
//   - Kafka's future log is a replica fetching from the current one and
//     the swap blocks appends under the partition lock; Spool copies files
//     and the swap takes the partition out of service for the last round
//     (what was appended since the previous one, plus the indexes of the
//     active segment and the producer snapshots; the whole log again only
//     if it was truncated during the copy). DescribeLogDirs shows no
//     future replica (IsFutureKey).
//   - A crash between the rename into place and the deletion of the old
//     copy leaves both, and the broker refuses to start ("found in two
//     log dirs") until one is removed by hand.
//   - v0 is served too (Kafka 4 dropped it).
func (b *Broker) handleAlterReplicaLogDirs(ctx context.Context, rc *reqCtx, req *protocol.AlterReplicaLogDirsRequest) (*protocol.AlterReplicaLogDirsResponse, error) {
	resp := &protocol.AlterReplicaLogDirsResponse{Results: []protocol.AlterReplicaLogDirsResponseAlterReplicaLogDirTopicResult{}}
	authorized := b.authorizeCluster(rc, acl.OpAlter) // authz.go
	type move struct {
		tp   storage.TopicPartition
		dest string
	}
	var moves []move
	byTopic := map[string]int{}
	for _, d := range req.Dirs {
		for _, t := range d.Topics {
			i, ok := byTopic[string(t.Name)]
			if !ok {
				i = len(resp.Results)
				byTopic[string(t.Name)] = i
				resp.Results = append(resp.Results, protocol.AlterReplicaLogDirsResponseAlterReplicaLogDirTopicResult{
					TopicName: t.Name, Partitions: []protocol.AlterReplicaLogDirsResponseAlterReplicaLogDirPartitionResult{}})
			}
			for _, p := range t.Partitions {
				tp := storage.TopicPartition{Topic: string(t.Name), Partition: p}
				code := int16(0)
				switch {
				case !authorized:
					code = errcode.ClusterAuthorizationFailed
				case !slices.Contains(b.cfg.LogDirs, d.Path):
					code = errcode.LogDirNotFound
				case b.logManager.DirOffline(d.Path), b.replicas.Offline(tp):
					code = errcode.KafkaStorageError
				case b.replicas.Partition(tp) == nil:
					if err := b.logManager.SetPreferredDir(tp, d.Path); err != nil {
						code = errcode.LogDirNotFound
					}
				default:
					if cur, ok := b.logManager.DirOf(tp); !ok || cur != d.Path {
						moves = append(moves, move{tp, d.Path})
					}
				}
				resp.Results[i].Partitions = append(resp.Results[i].Partitions,
					protocol.AlterReplicaLogDirsResponseAlterReplicaLogDirPartitionResult{PartitionIndex: p, ErrorCode: code})
			}
		}
	}
	for _, mv := range moves {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.moveReplica(mv.tp, mv.dest)
		}()
	}
	return resp, nil
}

// moveReplica moves tp's log to dest and hosts the partition again with
// the current metadata. The partition serves during the live copy;
// reconcileMu is taken to suspend it once storage took the log out of its
// map (a reconcile then skips it: ErrLogMoving), and again to host it.
func (b *Broker) moveReplica(tp storage.TopicPartition, dest string) {
	log := b.logger.With(zap.Stringer("partition", tp), zap.String("to", dest))
	if cur, ok := b.logManager.DirOf(tp); !ok || cur == dest {
		return // moved, deleted or failed since it was asked
	}
	_, err := b.logManager.MoveLog(tp, dest, func() {
		b.reconcileMu.Lock()
		b.replicas.Suspend(tp)
		b.reconcileMu.Unlock()
	})
	if err != nil && !errors.Is(err, storage.ErrLogNotFound) && !errors.Is(err, storage.ErrLogMoving) {
		log.Error("moving a replica to another log dir failed", zap.Error(err))
	}
	b.reconcileMu.Lock()
	defer b.reconcileMu.Unlock()
	img := b.image.Load()
	t := img.Topic(tp.Topic)
	if t == nil || int(tp.Partition) >= len(t.Partitions) || !slices.Contains(t.Partitions[tp.Partition].Replicas, b.nodeID) {
		return // deleted meanwhile: the next reconcile removes the log
	}
	pi := t.Partitions[tp.Partition]
	p, err := b.openPartition(tp, t.ID, b.topicSettings(img, t.Name))
	if err != nil {
		log.Error("cannot open a moved partition log; the partition stays offline on this broker", zap.Error(err))
		return
	}
	b.replicas.Apply(p, leaderAndISR(pi))
	b.noteReplicaDir(tp, t.ID, pi)
}
