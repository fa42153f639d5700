package controller

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
)

// The metadata log as a Kafka partition, for observers (broker-only nodes):
// the raft log is served as partition 0 of __cluster_metadata with Fetch,
// and raft snapshots with FetchSnapshot, as Kafka's KafkaRaftClient serves
// its log to observers. Only committed entries are served, so an observer
// never has to truncate.
//
//	offset  = raft index (there is no offset 0)
//	epoch   = raft term (the batch's partitionLeaderEpoch)
//	batch   = one raft entry as one v2 record batch of one record:
//	          LogCommand: value = the entry's data (EncodeBatch layout)
//	          any other type (no-op of a new leader, configuration,
//	          barrier): a control batch, key = (version 0, type 2),
//	          value = the raft log type byte; observers skip it
//	HW      = commit index + 1
//	snapshot id = {EndOffset: snapshot index + 1, Epoch: snapshot term};
//	          its bytes are the raft snapshot file (the "SPMI" layout)

// MetadataTopic is the name of the metadata log partition.
const MetadataTopic = "__cluster_metadata"

// MetadataTopicID is Kafka's fixed topic ID of __cluster_metadata
// (Uuid.METADATA_TOPIC_ID, 0 then 1).
var MetadataTopicID = protocol.UUID{15: 1}

// controlLeaderChange is the control record type non-command entries are
// served as (Kafka's LEADER_CHANGE).
const controlLeaderChange = 2

// observerState is what the leader knows of an observer, for DescribeQuorum
// and AddRaftVoter.
type observerState struct {
	dirID        protocol.UUID
	logEndOffset int64
	lastFetch    time.Time
	// leaderEnd is the leader's log end when lastFetch was answered; a
	// later fetch from at least there means the observer was caught up at
	// lastFetch (Kafka's lastCaughtUpTimestamp).
	leaderEnd  int64
	caughtUpAt time.Time
}

// observers tracks the observers that fetched from this node.
type observers struct {
	mu sync.Mutex
	m  map[int32]observerState
}

func (o *observers) saw(id int32, dir protocol.UUID, offset, leaderEnd int64, now time.Time) {
	if id < 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = map[int32]observerState{}
	}
	st := o.m[id]
	if st.dirID != dir {
		st = observerState{}
	}
	if !st.lastFetch.IsZero() && offset >= st.leaderEnd {
		st.caughtUpAt = st.lastFetch
	}
	if offset >= leaderEnd {
		st.caughtUpAt = now
	}
	st.dirID, st.logEndOffset, st.lastFetch, st.leaderEnd = dir, offset, now, leaderEnd
	o.m[id] = st
	for id, st := range o.m {
		if now.Sub(st.lastFetch) > observerSessionTimeout {
			delete(o.m, id)
		}
	}
}

// leaderEndpoint returns the raft leader's id and address, if known.
func (c *Controller) leaderEndpoint() (int32, string, bool) {
	addr, id := c.raft.LeaderWithID()
	if id == "" {
		return -1, "", false
	}
	n, err := strconv.ParseInt(string(id), 10, 32)
	if err != nil {
		return -1, "", false
	}
	return int32(n), string(addr), true
}

// LeaderEndpoint returns the node ID and controller-listener address of the
// raft leader, as far as this member knows (from its observer while it is
// not a voter).
func (c *Controller) LeaderEndpoint() (int32, string, bool) {
	if id, addr, ok := c.leaderEndpoint(); ok {
		return id, addr, true
	}
	if o := c.observer(); o != nil {
		return o.Leader()
	}
	return -1, "", false
}

func splitEndpoint(addr string) (string, int) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 0
	}
	p, _ := strconv.Atoi(port)
	return host, p
}

// term is the current raft term (the metadata log's leader epoch).
func (c *Controller) term() int32 {
	n, _ := strconv.ParseInt(c.raft.Stats()["term"], 10, 64)
	return int32(n)
}

// handleFetch serves __cluster_metadata to an observer. It long-polls up
// to MaxWaitMs for entries past the fetch offset to commit.
func (c *Controller) handleFetch(ctx context.Context, r *protocol.FetchRequest) *protocol.FetchResponse {
	resp := &protocol.FetchResponse{}
	if r.ClusterID != nil && *r.ClusterID != c.cfg.ClusterID {
		resp.ErrorCode = errcode.InconsistentClusterID
		return resp
	}
	if len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 || r.Topics[0].Partitions[0].Partition != 0 ||
		(r.Topics[0].TopicID != MetadataTopicID && string(r.Topics[0].Topic) != MetadataTopic) {
		resp.ErrorCode = errcode.InvalidRequest
		return resp
	}
	fp := r.Topics[0].Partitions[0]
	var pd protocol.FetchResponsePartitionData
	pd.Default()
	resp.Responses = []protocol.FetchResponseFetchableTopicResponse{{TopicID: MetadataTopicID, Topic: MetadataTopic}}
	defer func() { resp.Responses[0].Partitions = []protocol.FetchResponsePartitionData{pd} }()

	if c.raft.State() != raft.Leader {
		pd.ErrorCode = errcode.NotLeaderOrFollower
		c.fillLeader(resp, &pd.CurrentLeader)
		return resp
	}
	pd.CurrentLeader = protocol.FetchResponseLeaderIDAndEpoch{LeaderID: protocol.BrokerID(c.cfg.NodeID), LeaderEpoch: c.term()}
	replica := r.ReplicaState.ReplicaID
	if replica < 0 {
		replica = r.ReplicaID
	}
	start := uint64(max(fp.FetchOffset, 1))
	first, err := c.logs.FirstIndex()
	if err != nil {
		pd.ErrorCode = errcode.UnknownServerError
		return resp
	}
	if start < first || first == 0 {
		// Before the oldest retained entry: the observer loads the newest
		// snapshot first.
		if metas, err := c.snaps.List(); err == nil && len(metas) > 0 {
			pd.SnapshotID = protocol.FetchResponseSnapshotID{EndOffset: int64(metas[0].Index) + 1, Epoch: int32(metas[0].Term)}
			pd.HighWatermark = int64(c.raft.CommitIndex()) + 1
			pd.LogStartOffset = int64(first)
			return resp
		}
		if first > start {
			start = first
		}
	}
	c.observers.saw(int32(replica), fp.ReplicaDirectoryID, int64(start), int64(c.raft.CommitIndex())+1, time.Now())

	// Long-poll until something past start is committed.
	deadline := time.Now().Add(time.Duration(max(r.MaxWaitMs, 0)) * time.Millisecond)
	for c.raft.CommitIndex() < start && time.Now().Before(deadline) && c.raft.State() == raft.Leader {
		changed := c.fsm.changed()
		t := time.NewTimer(min(time.Until(deadline), 10*time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return resp
		case <-changed:
			t.Stop()
		case <-t.C:
		}
	}
	commit := c.raft.CommitIndex()
	pd.HighWatermark = int64(commit) + 1
	pd.LastStableOffset = pd.HighWatermark
	pd.LogStartOffset = int64(first)
	maxBytes := int(min(max(fp.PartitionMaxBytes, 1), max(r.MaxBytes, 1)))
	var buf []byte
	for idx := start; idx <= commit && (len(buf) == 0 || len(buf) < maxBytes); idx++ {
		var l raft.Log
		if err := c.logs.GetLog(idx, &l); err != nil {
			break // compacted under us: the next fetch asks for the snapshot
		}
		buf, err = appendEntryBatch(buf, &l)
		if err != nil {
			pd.ErrorCode = errcode.UnknownServerError
			return resp
		}
	}
	pd.Records = buf
	return resp
}

// appendEntryBatch appends a raft entry as a record batch (see the layout
// above).
func appendEntryBatch(dst []byte, l *raft.Log) ([]byte, error) {
	o := records.NewBatchOptions()
	o.BaseOffset = int64(l.Index)
	o.PartitionLeaderEpoch = int32(l.Term)
	rec := records.Record{Timestamp: l.AppendedAt.UnixMilli()}
	if l.AppendedAt.IsZero() {
		rec.Timestamp = 0
	}
	if l.Type == raft.LogCommand {
		rec.Value = l.Data
	} else {
		o.Control = true
		rec.Key = []byte{0, 0, 0, controlLeaderChange}
		rec.Value = []byte{byte(l.Type)}
	}
	return records.AppendBatch(dst, o, []records.Record{rec})
}

// fillLeader sets the leader a non-leader points a fetcher to.
func (c *Controller) fillLeader(resp *protocol.FetchResponse, cur *protocol.FetchResponseLeaderIDAndEpoch) {
	id, addr, ok := c.leaderEndpoint()
	if !ok {
		return
	}
	cur.LeaderID, cur.LeaderEpoch = protocol.BrokerID(id), c.term()
	host, port := splitEndpoint(addr)
	resp.NodeEndpoints = []protocol.FetchResponseNodeEndpoint{{NodeID: protocol.BrokerID(id), Host: host, Port: int32(port)}}
}

// handleFetchSnapshot serves a chunk of a raft snapshot.
func (c *Controller) handleFetchSnapshot(r *protocol.FetchSnapshotRequest) *protocol.FetchSnapshotResponse {
	resp := &protocol.FetchSnapshotResponse{}
	if r.ClusterID != nil && *r.ClusterID != c.cfg.ClusterID {
		resp.ErrorCode = errcode.InconsistentClusterID
		return resp
	}
	if len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 || string(r.Topics[0].Name) != MetadataTopic {
		resp.ErrorCode = errcode.InvalidRequest
		return resp
	}
	rp := r.Topics[0].Partitions[0]
	ps := protocol.FetchSnapshotResponsePartitionSnapshot{Index: rp.Partition, SnapshotID: protocol.FetchSnapshotResponseSnapshotID{EndOffset: rp.SnapshotID.EndOffset, Epoch: rp.SnapshotID.Epoch}}
	ps.CurrentLeader.Default()
	resp.Topics = []protocol.FetchSnapshotResponseTopicSnapshot{{Name: MetadataTopic}}
	defer func() { resp.Topics[0].Partitions = []protocol.FetchSnapshotResponsePartitionSnapshot{ps} }()
	if c.raft.State() != raft.Leader {
		ps.ErrorCode = errcode.NotLeaderOrFollower
		if id, addr, ok := c.leaderEndpoint(); ok {
			ps.CurrentLeader = protocol.FetchSnapshotResponseLeaderIDAndEpoch{LeaderID: protocol.BrokerID(id), LeaderEpoch: c.term()}
			host, port := splitEndpoint(addr)
			resp.NodeEndpoints = []protocol.FetchSnapshotResponseNodeEndpoint{{NodeID: protocol.BrokerID(id), Host: host, Port: uint16(port)}}
		}
		return resp
	}
	ps.CurrentLeader = protocol.FetchSnapshotResponseLeaderIDAndEpoch{LeaderID: protocol.BrokerID(c.cfg.NodeID), LeaderEpoch: c.term()}
	metas, err := c.snaps.List()
	if err != nil {
		ps.ErrorCode = errcode.UnknownServerError
		return resp
	}
	for _, m := range metas {
		if int64(m.Index)+1 != rp.SnapshotID.EndOffset || int32(m.Term) != rp.SnapshotID.Epoch {
			continue
		}
		_, rc, err := c.snaps.Open(m.ID)
		if err != nil {
			break
		}
		defer rc.Close()
		if rp.Position < 0 || rp.Position > m.Size {
			ps.ErrorCode = errcode.PositionOutOfRange
			return resp
		}
		if _, err := io.CopyN(io.Discard, rc, rp.Position); err != nil {
			ps.ErrorCode = errcode.UnknownServerError
			return resp
		}
		n := min(int64(max(r.MaxBytes, 1)), m.Size-rp.Position)
		chunk := make([]byte, n)
		if _, err := io.ReadFull(rc, chunk); err != nil {
			ps.ErrorCode = errcode.UnknownServerError
			return resp
		}
		ps.Size, ps.Position, ps.UnalignedRecords = m.Size, rp.Position, chunk
		return resp
	}
	ps.ErrorCode = errcode.SnapshotNotFound
	return resp
}

// describeQuorumRequest asks about the metadata partition.
func describeQuorumRequest() *protocol.DescribeQuorumRequest {
	return &protocol.DescribeQuorumRequest{Topics: []protocol.DescribeQuorumRequestTopicData{{
		TopicName: MetadataTopic, Partitions: []protocol.DescribeQuorumRequestPartitionData{{PartitionIndex: 0}},
	}}}
}

// DescribeQuorum implements Client: this member's answer (NOT_LEADER_OR_FOLLOWER
// in the partition unless it leads).
func (c *Controller) DescribeQuorum(ctx context.Context) (*protocol.DescribeQuorumResponse, error) {
	return c.handleDescribeQuorum(describeQuorumRequest()), nil
}

// handleDescribeQuorum describes the metadata quorum from the leader's view.
func (c *Controller) handleDescribeQuorum(r *protocol.DescribeQuorumRequest) *protocol.DescribeQuorumResponse {
	resp := &protocol.DescribeQuorumResponse{}
	pd := protocol.DescribeQuorumResponsePartitionData{PartitionIndex: 0, LeaderID: -1, LeaderEpoch: c.term(), HighWatermark: -1}
	resp.Topics = []protocol.DescribeQuorumResponseTopicData{{TopicName: MetadataTopic}}
	defer func() { resp.Topics[0].Partitions = []protocol.DescribeQuorumResponsePartitionData{pd} }()
	if c.raft.State() != raft.Leader {
		pd.ErrorCode = errcode.NotLeaderOrFollower
		msg := errcode.Message(errcode.NotLeaderOrFollower)
		pd.ErrorMessage = &msg
		if id, _, ok := c.leaderEndpoint(); ok {
			pd.LeaderID = protocol.BrokerID(id)
		}
		return resp
	}
	pd.LeaderID = protocol.BrokerID(c.cfg.NodeID)
	pd.HighWatermark = int64(c.raft.CommitIndex()) + 1
	now := time.Now().UnixMilli()
	var voterIDs []int32
	// A static quorum (kraft.version 0, controller.quorum.voters) has no
	// directory IDs in its voter set, and Kafka describes its voters with
	// none, even the ones it could know.
	staticVoters := c.Image().Feature(KRaftVersionFeature) == 0
	servers, _ := c.raftServers()
	for _, s := range servers {
		id, err := strconv.ParseInt(string(s.ID), 10, 32)
		if err != nil || s.Suffrage != raft.Voter {
			continue
		}
		voterIDs = append(voterIDs, int32(id))
		var dir protocol.UUID
		if !staticVoters {
			dir, _ = c.members.dir(int32(id))
		}
		st := protocol.DescribeQuorumResponseReplicaState{ReplicaID: protocol.BrokerID(id), ReplicaDirectoryID: dir, LogEndOffset: -1, LastFetchTimestamp: -1, LastCaughtUpTimestamp: -1}
		if int32(id) == c.cfg.NodeID {
			st.LogEndOffset = int64(c.raft.LastIndex()) + 1
			st.LastFetchTimestamp, st.LastCaughtUpTimestamp = now, now
		} else if v, ok := c.voters.get(s.ID); ok {
			st.LogEndOffset = int64(v.lastLog) + 1
			st.LastFetchTimestamp = v.lastFetch.UnixMilli()
			if !v.caughtUpAt.IsZero() {
				st.LastCaughtUpTimestamp = v.caughtUpAt.UnixMilli()
			}
		}
		pd.CurrentVoters = append(pd.CurrentVoters, st)
		host, port := splitEndpoint(string(s.Address))
		resp.Nodes = append(resp.Nodes, protocol.DescribeQuorumResponseNode{
			NodeID: protocol.BrokerID(id), Listeners: []protocol.DescribeQuorumResponseListener{{Name: c.cfg.ListenerName, Host: host, Port: uint16(port)}},
		})
	}
	c.observers.mu.Lock()
	for _, id := range sortedKeys(c.observers.m) {
		o := c.observers.m[id]
		if slices.Contains(voterIDs, id) || time.Since(o.lastFetch) > observerSessionTimeout {
			continue
		}
		st := protocol.DescribeQuorumResponseReplicaState{
			ReplicaID: protocol.BrokerID(id), ReplicaDirectoryID: o.dirID, LogEndOffset: o.logEndOffset, LastFetchTimestamp: o.lastFetch.UnixMilli(), LastCaughtUpTimestamp: -1,
		}
		if !o.caughtUpAt.IsZero() {
			st.LastCaughtUpTimestamp = o.caughtUpAt.UnixMilli()
		}
		pd.Observers = append(pd.Observers, st)
	}
	c.observers.mu.Unlock()
	if pd.CurrentVoters == nil {
		pd.CurrentVoters = []protocol.DescribeQuorumResponseReplicaState{}
	}
	if pd.Observers == nil {
		pd.Observers = []protocol.DescribeQuorumResponseReplicaState{}
	}
	return resp
}

// errNotLeaderFetch is returned by an observer fetch that found no leader.
var errNotLeaderFetch = fmt.Errorf("%w: the metadata leader moved", ErrNotController)
