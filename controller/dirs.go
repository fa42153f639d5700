package controller

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// Log dirs in the metadata (JBOD, KIP-858), as Kafka's controller keeps
// them since 3.7:
//   - a broker registers the directory.id of each of its log.dirs
//     (BrokerRegistration LogDirs → RegisterBrokerRecord, BrokerImage.LogDirs);
//   - a new replica's directory is UNASSIGNED until its broker places the
//     log and says where (AssignReplicasToDirs → PartitionChangeRecord
//     Directories, PartitionImage.Directories);
//   - a heartbeat naming failed dirs (OfflineLogDirs) drops them from the
//     broker's online dirs and takes the broker out of the ISR and
//     leadership of every partition whose replica on it is in one of them
//     (Kafka's ReplicationControlManager.handleDirectoriesOffline); other
//     ISR members take over. The broker stays registered and unfenced for
//     its other dirs;
//   - Spool only: a failed dir that is online again (a full dir once space
//     returns) comes back when the broker amends its registration (same
//     incarnation, RegisterBroker) with it among its dirs; Kafka has no
//     way back but a restart. See RegisterBroker and returnedDirs.

// DirAssignment places one replica of the calling broker in a log dir.
type DirAssignment struct {
	TopicID   TopicID
	Partition int32
	Dir       DirectoryID
}

// AssignReplicasToDirs records where broker brokerID placed its replicas
// and returns one error per assignment (nil: recorded); the error return
// is for the whole request. A replica placed in a dir the broker does not
// have online leaves the ISR and leadership, as a failed dir's do.
func (c *Controller) AssignReplicasToDirs(ctx context.Context, brokerID int32, brokerEpoch int64, as []DirAssignment) ([]error, error) {
	done, err := c.beginOp(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	img := c.Image()
	b := img.brokers[brokerID]
	switch {
	case b == nil:
		return nil, fmt.Errorf("%w: Broker %d is not currently registered", ErrBrokerIDNotRegistered, brokerID)
	case b.Epoch != brokerEpoch:
		return nil, fmt.Errorf("%w: Expected broker epoch %d, but got broker epoch %d", ErrStaleBrokerEpoch, b.Epoch, brokerEpoch)
	}
	errs := make([]error, len(as))
	var (
		records  []Record
		offline  = map[TopicPartition]bool{}
		assigned = map[TopicID]map[int32][]DirectoryID{} // this request's changes so far
	)
	for i, a := range as {
		t := img.topicsByID[a.TopicID]
		if t == nil {
			errs[i] = fmt.Errorf("%w: topic id %s", ErrUnknownTopicID, uuidString(protocol.UUID(a.TopicID)))
			continue
		}
		if a.Partition < 0 || int(a.Partition) >= len(t.Partitions) {
			errs[i] = fmt.Errorf("%w: %s-%d", ErrUnknownPartition, t.Name, a.Partition)
			continue
		}
		p := t.Partitions[a.Partition]
		idx := slices.Index(p.Replicas, brokerID)
		if idx < 0 {
			errs[i] = fmt.Errorf("%w: broker %d is not a replica of %s-%d", ErrNotLeaderOrFollower, brokerID, t.Name, a.Partition)
			continue
		}
		if !b.HasOnlineDir(a.Dir) {
			offline[TopicPartition{Topic: t.Name, Partition: a.Partition}] = true
		}
		dirs := assigned[a.TopicID][a.Partition]
		if dirs == nil {
			dirs = make([]DirectoryID, len(p.Replicas))
			copy(dirs, p.Directories)
		}
		if dirs[idx] == a.Dir {
			continue
		}
		dirs[idx] = a.Dir
		if assigned[a.TopicID] == nil {
			assigned[a.TopicID] = map[int32][]DirectoryID{}
		}
		assigned[a.TopicID][a.Partition] = dirs
	}
	for id, parts := range assigned {
		for _, partition := range slices.Sorted(maps.Keys(parts)) {
			records = append(records, &PartitionChangeRecord{
				PartitionID: partition, TopicID: id, Leader: NoLeaderChange, Directories: parts[partition],
			})
		}
	}
	if _, err := c.apply(ctx, records); err != nil {
		return nil, err
	}
	if len(offline) > 0 {
		img = c.Image()
		hit := map[*PartitionImage]bool{}
		for tp := range offline {
			if t := img.topics[tp.Topic]; t != nil && int(tp.Partition) < len(t.Partitions) {
				hit[t.Partitions[tp.Partition]] = true
			}
		}
		moves := leadershipChanges(img, brokerID, -1, func(p *PartitionImage) bool { return hit[p] }, c.policyFor(img))
		if _, err := c.apply(ctx, moves); err != nil {
			return nil, err
		}
	}
	if len(records) > 0 {
		c.logger.Info("replicas assigned to log dirs", zap.Int32("broker_id", brokerID), zap.Int("partitions", len(records)))
	}
	return errs, nil
}

// offlineDirRecords is Kafka's handleDirectoriesOffline: the records that
// drop the dirs of reported that broker b still has online, and move b out
// of the ISR and leadership of the partitions whose replica on b is in one
// of them. Nil when none is new.
func offlineDirRecords(img *MetadataImage, b *BrokerImage, reported []DirectoryID, pol electionPolicy) []Record {
	var failed []DirectoryID
	for _, d := range reported {
		if slices.Contains(b.LogDirs, d) && !slices.Contains(failed, d) {
			failed = append(failed, d)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	records := leadershipChanges(img, b.ID, -1, func(p *PartitionImage) bool {
		return slices.Contains(failed, p.Directory(b.ID)) && slices.Contains(p.Replicas, b.ID)
	}, pol)
	online := make([]DirectoryID, 0, len(b.LogDirs))
	for _, d := range b.LogDirs {
		if !slices.Contains(failed, d) {
			online = append(online, d)
		}
	}
	return append(records, &BrokerRegistrationChangeRecord{BrokerID: b.ID, BrokerEpoch: b.Epoch, LogDirs: online})
}

// AssignReplicasToDirs over the wire (key 73).

func assignReplicasToDirsRequest(brokerID int32, brokerEpoch int64, as []DirAssignment) *protocol.AssignReplicasToDirsRequest {
	req := &protocol.AssignReplicasToDirsRequest{BrokerID: protocol.BrokerID(brokerID), BrokerEpoch: brokerEpoch}
	for _, a := range as {
		di := slices.IndexFunc(req.Directories, func(d protocol.AssignReplicasToDirsRequestDirectoryData) bool { return d.ID == protocol.UUID(a.Dir) })
		if di < 0 {
			req.Directories = append(req.Directories, protocol.AssignReplicasToDirsRequestDirectoryData{ID: protocol.UUID(a.Dir)})
			di = len(req.Directories) - 1
		}
		d := &req.Directories[di]
		ti := slices.IndexFunc(d.Topics, func(t protocol.AssignReplicasToDirsRequestTopicData) bool {
			return t.TopicID == protocol.UUID(a.TopicID)
		})
		if ti < 0 {
			d.Topics = append(d.Topics, protocol.AssignReplicasToDirsRequestTopicData{TopicID: protocol.UUID(a.TopicID)})
			ti = len(d.Topics) - 1
		}
		d.Topics[ti].Partitions = append(d.Topics[ti].Partitions, protocol.AssignReplicasToDirsRequestPartitionData{PartitionIndex: a.Partition})
	}
	return req
}

// assignmentsFromRequest flattens a request in its order.
func assignmentsFromRequest(r *protocol.AssignReplicasToDirsRequest) []DirAssignment {
	var out []DirAssignment
	for _, d := range r.Directories {
		for _, t := range d.Topics {
			for _, p := range t.Partitions {
				out = append(out, DirAssignment{TopicID: TopicID(t.TopicID), Partition: p.PartitionIndex, Dir: DirectoryID(d.ID)})
			}
		}
	}
	return out
}

// assignReplicasToDirsResponse answers req with errs (in
// assignmentsFromRequest order) or the request-wide err.
func assignReplicasToDirsResponse(req *protocol.AssignReplicasToDirsRequest, errs []error, err error) *protocol.AssignReplicasToDirsResponse {
	resp := &protocol.AssignReplicasToDirsResponse{Directories: []protocol.AssignReplicasToDirsResponseDirectoryData{}}
	if err != nil {
		resp.ErrorCode, _ = ErrorCode(err)
		return resp
	}
	i := 0
	for _, d := range req.Directories {
		rd := protocol.AssignReplicasToDirsResponseDirectoryData{ID: d.ID, Topics: []protocol.AssignReplicasToDirsResponseTopicData{}}
		for _, t := range d.Topics {
			rt := protocol.AssignReplicasToDirsResponseTopicData{TopicID: t.TopicID, Partitions: []protocol.AssignReplicasToDirsResponsePartitionData{}}
			for _, p := range t.Partitions {
				code, _ := ErrorCode(errs[i])
				i++
				rt.Partitions = append(rt.Partitions, protocol.AssignReplicasToDirsResponsePartitionData{PartitionIndex: p.PartitionIndex, ErrorCode: code})
			}
			rd.Topics = append(rd.Topics, rt)
		}
		resp.Directories = append(resp.Directories, rd)
	}
	return resp
}

// assignResults reads a response back into one error per assignment.
func assignResults(as []DirAssignment, resp *protocol.AssignReplicasToDirsResponse) ([]error, error) {
	if err := CodeError(resp.ErrorCode, nil); err != nil {
		return nil, err
	}
	type key struct {
		dir   protocol.UUID
		topic protocol.UUID
		part  int32
	}
	codes := map[key]int16{}
	for _, d := range resp.Directories {
		for _, t := range d.Topics {
			for _, p := range t.Partitions {
				codes[key{d.ID, t.TopicID, p.PartitionIndex}] = p.ErrorCode
			}
		}
	}
	errs := make([]error, len(as))
	for i, a := range as {
		code, ok := codes[key{protocol.UUID(a.Dir), protocol.UUID(a.TopicID), a.Partition}]
		if !ok {
			code = errcode.UnknownServerError
		}
		errs[i] = CodeError(code, nil)
	}
	return errs, nil
}
