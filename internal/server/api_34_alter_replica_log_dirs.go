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
//   - The move runs after the answer, in the background: the partition
//     stops serving on this broker (NOT_LEADER_OR_FOLLOWER meanwhile), its
//     log is flushed, copied to <dir>/<topic>-<partition>.<id>-future,
//     renamed into place and the old copy deleted (storage.MoveLog); then
//     the partition is hosted again with the metadata's state and
//     DescribeLogDirs lists it in its new dir.
//   - Authorization (authz.go): ALTER on the cluster
//     (CLUSTER_AUTHORIZATION_FAILED for every partition).
//
// Where Spool differs from Kafka 4.3:
//   - Kafka copies into a future log while the replica keeps serving and
//     swaps when it has caught up; Spool pauses the replica for the copy,
//     so a large log is unavailable on this broker for as long as copying
//     it takes (its other replicas keep serving; a leader's clients
//     retry). DescribeLogDirs shows no future replica (IsFutureKey).
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
// the current metadata. reconcileMu is held until the log is out of the
// storage map and the partition suspended (a reconcile then skips it:
// ErrLogMoving), not during the copy, and again to host it.
func (b *Broker) moveReplica(tp storage.TopicPartition, dest string) {
	log := b.logger.With(zap.Stringer("partition", tp), zap.String("to", dest))
	b.reconcileMu.Lock()
	locked := true
	unlock := func() {
		if locked {
			locked = false
			b.reconcileMu.Unlock()
		}
	}
	defer unlock()
	if cur, ok := b.logManager.DirOf(tp); !ok || cur == dest {
		return // moved, deleted or failed since it was asked
	}
	_, err := b.logManager.MoveLog(tp, dest, func() {
		b.replicas.Suspend(tp)
		unlock()
	})
	if err != nil && !errors.Is(err, storage.ErrLogNotFound) {
		log.Error("moving a replica to another log dir failed", zap.Error(err))
	}
	if !locked {
		b.reconcileMu.Lock()
		locked = true
	}
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
