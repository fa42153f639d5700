package replication

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spool-broker/spool/storage"
)

// LeaderEndpoint is the broker a follower replicates from, as the follower
// sees it: the three requests Kafka's replica fetcher sends its leader
// (Fetch with a replica id, OffsetForLeaderEpoch to find where to truncate,
// ListOffsets for the leader's log start and end when the follower's offset
// is out of range). A Manager answers them for the partitions it leads;
// InmemNetwork delivers them between Managers of one process with faults;
// a TCP implementation speaking Kafka's wire protocol comes with the
// follower fetcher. Per-partition problems are the partition's Err; an
// error return means the request failed as a whole (unreachable, ctx).
type LeaderEndpoint interface {
	Fetch(ctx context.Context, req *FetchRequest) (*FetchResponse, error)
	OffsetForLeaderEpoch(ctx context.Context, req *OffsetForLeaderEpochRequest) (*OffsetForLeaderEpochResponse, error)
	ListOffsets(ctx context.Context, req *ListOffsetsRequest) (*ListOffsetsResponse, error)
}

// FetchRequest is a follower's Fetch (Kafka's with ReplicaState set).
type FetchRequest struct {
	ReplicaID   int32
	BrokerEpoch int64 // -1: none
	// MaxWait is replica.fetch.wait.max.ms: how long the leader holds the
	// request while it has less than MinBytes (replica.fetch.min.bytes).
	MaxWait  time.Duration
	MinBytes int
	// MaxBytes is replica.fetch.response.max.bytes.
	MaxBytes   int
	Partitions []FetchPartition
	// Changed, when not nil, says that Partitions names the same
	// partitions in the same order as the previous Fetch through this
	// endpoint and only the entries at these indexes may differ from what
	// it sent then, so an endpoint with a fetch session compares only
	// those. nil: any entry may have changed.
	Changed []int
	// Sparse: the caller takes an answer listing only the partitions with
	// news (FetchResponse.Sparse); otherwise it lists every partition.
	Sparse bool
}

// FetchPartition is one partition of a FetchRequest.
type FetchPartition struct {
	TopicPartition storage.TopicPartition
	// TopicID names the topic on the wire (Fetch v13+).
	TopicID            [16]byte
	FetchOffset        int64
	LogStartOffset     int64
	CurrentLeaderEpoch int32 // -1: unchecked
	LastFetchedEpoch   int32 // -1: none
	MaxBytes           int   // replica.fetch.max.bytes
}

// FetchResponse answers a FetchRequest, partitions in request order.
type FetchResponse struct {
	Partitions []FetchPartitionResponse
	// Sparse: Partitions holds only the partitions with news, in no
	// particular order, each naming its request entry (Index); the others
	// are unchanged. Only when the request allowed it.
	Sparse bool
}

// FetchPartitionResponse is one partition's answer.
type FetchPartitionResponse struct {
	TopicPartition   storage.TopicPartition
	Err              error
	HighWatermark    int64
	LastStableOffset int64
	LogStartOffset   int64
	// DivergingEpoch, when set, tells the follower to truncate first.
	DivergingEpoch *EpochEndOffset
	Records        []byte
	// Unchanged: an incremental fetch session's answer left the partition
	// out, as it had no news (no records, the same high watermark, last
	// stable and log start offsets, no error); the other fields are unset.
	Unchanged bool
	// Index is the partition's entry in the request (set in a sparse
	// answer).
	Index int
}

// OffsetForLeaderEpochRequest asks where each epoch ended on the leader.
type OffsetForLeaderEpochRequest struct {
	ReplicaID  int32
	Partitions []OffsetForLeaderEpochPartition
}

// OffsetForLeaderEpochPartition is one partition of the request.
type OffsetForLeaderEpochPartition struct {
	TopicPartition     storage.TopicPartition
	CurrentLeaderEpoch int32
	LeaderEpoch        int32
}

// OffsetForLeaderEpochResponse answers in request order.
type OffsetForLeaderEpochResponse struct {
	Partitions []OffsetForLeaderEpochPartitionResponse
}

// OffsetForLeaderEpochPartitionResponse is one partition's answer: the
// largest epoch not above the one asked and its end offset (-1, -1 when
// the leader has none).
type OffsetForLeaderEpochPartitionResponse struct {
	TopicPartition storage.TopicPartition
	Err            error
	EpochEndOffset
}

// Timestamps of ListOffsets a follower uses.
const (
	LatestTimestamp   = -1 // the log end offset, for a replica
	EarliestTimestamp = -2 // the log start offset
)

// ListOffsetsRequest asks the leader's log start or end offsets.
type ListOffsetsRequest struct {
	ReplicaID  int32
	Partitions []ListOffsetsPartition
}

// ListOffsetsPartition is one partition of the request.
type ListOffsetsPartition struct {
	TopicPartition     storage.TopicPartition
	CurrentLeaderEpoch int32
	Timestamp          int64 // LatestTimestamp or EarliestTimestamp
}

// ListOffsetsResponse answers in request order.
type ListOffsetsResponse struct {
	Partitions []ListOffsetsPartitionResponse
}

// ListOffsetsPartitionResponse is one partition's answer.
type ListOffsetsPartitionResponse struct {
	TopicPartition storage.TopicPartition
	Err            error
	Offset         int64
	LeaderEpoch    int32
}

var _ LeaderEndpoint = (*Manager)(nil)

// Fetch answers a follower's fetch for the partitions this broker leads,
// holding it up to MaxWait while fewer than MinBytes are available (Kafka's
// DelayedFetch for followers: it completes when the log grows, on an error,
// or when a partition's state changes).
func (m *Manager) Fetch(ctx context.Context, req *FetchRequest) (*FetchResponse, error) {
	if req.ReplicaID < 0 {
		return nil, fmt.Errorf("replication: fetch without a replica id: %w", ErrInvalidRequest)
	}
	parts := make([]*Partition, len(req.Partitions))
	for i, fp := range req.Partitions {
		parts[i] = m.Partition(fp.TopicPartition)
	}
	deadline := time.Now().Add(req.MaxWait)
	var wake chan struct{}
	for {
		resp, total, anyErr := m.readForFollower(req, parts)
		if total >= req.MinBytes || anyErr || req.MaxWait <= 0 || ctx.Err() != nil {
			return resp, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return resp, nil
		}
		if wake == nil {
			wake = make(chan struct{}, 1)
		}
		for _, p := range parts {
			if p != nil {
				p.WatchFetch(wake, true)
			}
		}
		// Read again: an append between the read and the registration
		// would otherwise wake no one.
		if resp, total, anyErr = m.readForFollower(req, parts); total >= req.MinBytes || anyErr {
			unwatch(parts, wake)
			return resp, nil
		}
		t := time.NewTimer(left)
		select {
		case <-wake:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		unwatch(parts, wake)
	}
}

func unwatch(parts []*Partition, wake chan struct{}) {
	for _, p := range parts {
		if p != nil {
			p.UnwatchFetch(wake, true)
		}
	}
}

// readForFollower reads every partition once; partitions not hosted are
// UNKNOWN_TOPIC_OR_PARTITION (parts has no nil entries then: callers see
// anyErr and return).
func (m *Manager) readForFollower(req *FetchRequest, parts []*Partition) (*FetchResponse, int, bool) {
	resp := &FetchResponse{Partitions: make([]FetchPartitionResponse, len(req.Partitions))}
	total, anyErr := 0, false
	for i, fp := range req.Partitions {
		pr := &resp.Partitions[i]
		*pr = FetchPartitionResponse{TopicPartition: fp.TopicPartition, HighWatermark: -1, LastStableOffset: -1, LogStartOffset: -1}
		p := parts[i]
		if p == nil {
			pr.Err = fmt.Errorf("%s: %w", fp.TopicPartition, ErrUnknownTopicOrPartition)
			anyErr = true
			continue
		}
		limit := min(fp.MaxBytes, req.MaxBytes-total)
		info, err := p.Read(ReadOptions{
			FetchOffset: fp.FetchOffset, MaxBytes: max(limit, 0), MinOneBatch: total == 0,
			ReplicaID: req.ReplicaID, BrokerEpoch: req.BrokerEpoch, LogStartOffset: fp.LogStartOffset,
			CurrentLeaderEpoch: fp.CurrentLeaderEpoch, LastFetchedEpoch: fp.LastFetchedEpoch,
		})
		if err != nil {
			pr.Err = err
			anyErr = true
			if errors.Is(err, storage.ErrOffsetOutOfRange) {
				pr.HighWatermark, pr.LogStartOffset = info.HighWatermark, info.LogStartOffset
			}
			continue
		}
		pr.HighWatermark, pr.LastStableOffset, pr.LogStartOffset = info.HighWatermark, info.LastStableOffset, info.LogStartOffset
		if info.DivergingEpoch != nil {
			pr.DivergingEpoch = info.DivergingEpoch
			anyErr = true // answer at once: the follower must truncate
			continue
		}
		if info.Size > 0 {
			recs, err := info.ReadInto(nil)
			if err != nil {
				// A segment deleted or rewritten under the read: the
				// follower asks again.
				continue
			}
			pr.Records = recs
			total += len(recs)
		}
	}
	return resp, total, anyErr
}

// OffsetForLeaderEpoch answers for the partitions this broker leads.
func (m *Manager) OffsetForLeaderEpoch(ctx context.Context, req *OffsetForLeaderEpochRequest) (*OffsetForLeaderEpochResponse, error) {
	resp := &OffsetForLeaderEpochResponse{Partitions: make([]OffsetForLeaderEpochPartitionResponse, len(req.Partitions))}
	for i, rp := range req.Partitions {
		pr := &resp.Partitions[i]
		pr.TopicPartition, pr.EpochEndOffset = rp.TopicPartition, EpochEndOffset{Epoch: -1, EndOffset: -1}
		p := m.Partition(rp.TopicPartition)
		if p == nil {
			pr.Err = fmt.Errorf("%s: %w", rp.TopicPartition, ErrUnknownTopicOrPartition)
			continue
		}
		pr.EpochEndOffset, pr.Err = p.EndOffsetForEpoch(rp.CurrentLeaderEpoch, rp.LeaderEpoch)
	}
	return resp, nil
}

// ListOffsets answers a replica's ListOffsets: the leader's log start or
// log end offset (a replica is not bounded by the high watermark).
func (m *Manager) ListOffsets(ctx context.Context, req *ListOffsetsRequest) (*ListOffsetsResponse, error) {
	resp := &ListOffsetsResponse{Partitions: make([]ListOffsetsPartitionResponse, len(req.Partitions))}
	for i, rp := range req.Partitions {
		pr := &resp.Partitions[i]
		pr.TopicPartition, pr.Offset, pr.LeaderEpoch = rp.TopicPartition, -1, -1
		p := m.Partition(rp.TopicPartition)
		if p == nil {
			pr.Err = fmt.Errorf("%s: %w", rp.TopicPartition, ErrUnknownTopicOrPartition)
			continue
		}
		pr.Offset, pr.LeaderEpoch, pr.Err = p.listOffset(rp.CurrentLeaderEpoch, rp.Timestamp)
	}
	return resp, nil
}

// listOffset is a replica's ListOffsets for one partition: the log start
// or end offset and the epoch of the batch before it.
func (p *Partition) listOffset(currentLeaderEpoch int32, ts int64) (int64, int32, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if err := p.checkLeaderLocked(currentLeaderEpoch); err != nil {
		return -1, -1, err
	}
	switch ts {
	case LatestTimestamp:
		return p.log.LogEndOffset(), p.leaderEpoch, nil
	case EarliestTimestamp:
		off := p.log.LogStartOffset()
		epoch := int32(-1)
		for _, e := range p.log.LeaderEpochCache().Entries() {
			if e.StartOffset > off {
				break
			}
			epoch = e.Epoch
		}
		return off, epoch, nil
	}
	return -1, -1, fmt.Errorf("%s: timestamp %d: %w", p.tp, ts, ErrInvalidRequest)
}
