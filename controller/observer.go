package controller

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/spool-broker/spool/internal/kafkarpc"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
	"github.com/spool-broker/spool/protocol/records"
)

// ObserverConfig configures an Observer.
type ObserverConfig struct {
	NodeID int32
	// DirectoryID is the node's metadata log directory ID, sent with each
	// fetch (Kafka's ReplicaDirectoryId) so the leader knows the replica
	// key a controller would join the voters with.
	DirectoryID protocol.UUID
	ClusterID   string
	// Voters is controller.quorum.voters; Bootstrap is
	// controller.quorum.bootstrap.servers (host:port). At least one must
	// be set: the observer asks them who leads.
	Voters    []Voter
	Bootstrap []string
	Logger    *zap.Logger
	// FetchMaxWait is how long the leader may hold a fetch with nothing
	// new (Kafka's observers use 500 ms).
	FetchMaxWait time.Duration
	// FetchTimeout is controller.quorum.fetch.timeout.ms: a fetch that
	// gets no answer for this long makes the observer look for the
	// leader again.
	FetchTimeout time.Duration
	// Dial connects to controller listeners (nil: plain TCP).
	Dial DialFunc

	// fsm, when set, is the fsm to apply to (a controller that is not a
	// voter shares its raft fsm), and startOffset the offset its image
	// already holds.
	fsm         *fsm
	startOffset int64
}

// Observer follows the metadata log without voting, as a Kafka broker-only
// node does: it fetches committed entries of __cluster_metadata from the
// quorum leader with Fetch (FetchSnapshot first when it is behind the
// leader's oldest retained entry) and applies them to its own fsm, the same
// code the voters run. It keeps nothing on disk: on start it loads the
// metadata from the leader (see doc.go). Image and Subscribe are safe for
// concurrent use; one goroutine fetches.
type Observer struct {
	cfg    ObserverConfig
	logger *zap.Logger
	fsm    *fsm
	rpc    *kafkarpc.Client

	mu         sync.Mutex // guards leaderID, leaderAddr, epoch
	leaderID   int32
	leaderAddr string
	epoch      int32
	// applied is the offset of the last entry applied (records or not).
	applied atomic.Uint64

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// OpenObserver starts following the metadata log.
func OpenObserver(cfg ObserverConfig) (*Observer, error) {
	if len(cfg.Voters) == 0 && len(cfg.Bootstrap) == 0 {
		return nil, errors.New("controller: an observer needs controller.quorum.voters or controller.quorum.bootstrap.servers")
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.FetchMaxWait <= 0 {
		cfg.FetchMaxWait = 500 * time.Millisecond
	}
	if cfg.FetchTimeout <= 0 {
		cfg.FetchTimeout = 2 * time.Second
	}
	o := &Observer{
		cfg: cfg, logger: cfg.Logger.With(zap.Int32("node_id", cfg.NodeID)), fsm: cfg.fsm,
		rpc: kafkarpc.NewDialing("spool-observer-"+strconv.Itoa(int(cfg.NodeID)), cfg.Dial), leaderID: -1, epoch: -1,
	}
	if o.fsm == nil {
		o.fsm = newFSM(cfg.ClusterID)
	}
	ctx, cancel := context.WithCancel(context.Background())
	o.cancel = cancel
	o.wg.Add(1)
	go o.run(ctx)
	return o, nil
}

// Image returns the newest applied image. It never blocks.
func (o *Observer) Image() *MetadataImage { return o.fsm.image.Load() }

// Subscribe is Controller.Subscribe for the observer's image.
func (o *Observer) Subscribe() (<-chan *MetadataImage, func()) { return o.fsm.subscribe() }

// WaitApplied waits until the observer has applied the metadata log up to
// index.
func (o *Observer) WaitApplied(ctx context.Context, index uint64) error {
	return waitIndex(ctx, o.fsm, index, o.applied.Load)
}

// Leader returns the quorum leader's node ID and controller-listener
// address as last learned from a fetch.
func (o *Observer) Leader() (int32, string, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.leaderID, o.leaderAddr, o.leaderAddr != ""
}

// Close stops fetching.
func (o *Observer) Close() error {
	o.cancel()
	o.wg.Wait()
	o.rpc.Close()
	return nil
}

// candidates are the addresses to ask when no leader is known.
func (o *Observer) candidates() []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range o.cfg.Voters {
		if !seen[v.Addr] {
			seen[v.Addr] = true
			out = append(out, v.Addr)
		}
	}
	for _, a := range o.cfg.Bootstrap {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

func (o *Observer) setLeader(id int32, addr string, epoch int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if addr != o.leaderAddr {
		o.logger.Info("following metadata leader", zap.Int32("leader_id", id), zap.String("addr", addr), zap.Int32("epoch", epoch))
	}
	o.leaderID, o.leaderAddr, o.epoch = id, addr, epoch
}

func (o *Observer) forgetLeader() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.leaderID, o.leaderAddr = -1, ""
}

// leaderAddrFor resolves where a leader named in a response listens: the
// endpoint the response gave, else its voters entry.
func (o *Observer) leaderAddrFor(id int32, endpoints []protocol.FetchResponseNodeEndpoint) string {
	for _, e := range endpoints {
		if int32(e.NodeID) == id {
			return net.JoinHostPort(e.Host, strconv.Itoa(int(e.Port)))
		}
	}
	for _, v := range o.cfg.Voters {
		if v.ID == id {
			return v.Addr
		}
	}
	return ""
}

// run fetches until Close.
func (o *Observer) run(ctx context.Context) {
	defer o.wg.Done()
	fetchOffset := max(o.cfg.startOffset, 1)
	next := 0 // round-robin index into candidates
	// Looking for the leader goes round the candidates quickly (Kafka's
	// controller.quorum.retry.backoff.ms is 20 ms): brokers must find a
	// new leader well within their session timeout.
	backoff := 10 * time.Millisecond
	wait := func() bool {
		t := time.NewTimer(backoff)
		defer t.Stop()
		backoff = min(backoff*2, 100*time.Millisecond)
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	for ctx.Err() == nil {
		leaderID, addr, ok := o.Leader()
		if !ok {
			cands := o.candidates()
			addr = cands[next%len(cands)]
			next++
		}
		off, err := o.fetchOnce(ctx, leaderID, addr, fetchOffset)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			o.logger.Debug("metadata fetch failed", zap.String("addr", addr), zap.Error(err))
			if !errors.Is(err, errNotLeaderFetch) || !o.known() {
				if !wait() {
					return
				}
			}
			continue
		}
		backoff = 10 * time.Millisecond
		fetchOffset = off
		if off > 0 {
			o.applied.Store(uint64(off - 1))
		}
	}
}

func (o *Observer) known() bool {
	_, _, ok := o.Leader()
	return ok
}

// fetchOnce sends one Fetch to addr and applies what comes back; it returns
// the next fetch offset.
func (o *Observer) fetchOnce(ctx context.Context, leaderID int32, addr string, offset int64) (int64, error) {
	o.mu.Lock()
	epoch := o.epoch
	o.mu.Unlock()
	clusterID := o.cfg.ClusterID
	req := &protocol.FetchRequest{
		ReplicaID: -1, ReplicaState: protocol.FetchRequestReplicaState{ReplicaID: protocol.BrokerID(o.cfg.NodeID), ReplicaEpoch: -1},
		MaxWaitMs: int32(o.cfg.FetchMaxWait.Milliseconds()), MinBytes: 1, MaxBytes: 8 << 20, SessionEpoch: -1,
		Topics: []protocol.FetchRequestFetchTopic{{TopicID: MetadataTopicID, Topic: MetadataTopic, Partitions: []protocol.FetchRequestFetchPartition{{
			Partition: 0, CurrentLeaderEpoch: epoch, FetchOffset: offset, LastFetchedEpoch: -1, LogStartOffset: -1,
			PartitionMaxBytes: 8 << 20, HighWatermark: -1, ReplicaDirectoryID: o.cfg.DirectoryID,
		}}}},
	}
	if clusterID != "" {
		req.ClusterID = &clusterID
	}
	fctx, cancel := context.WithTimeout(ctx, o.cfg.FetchTimeout+o.cfg.FetchMaxWait)
	defer cancel()
	r, err := o.rpc.Call(fctx, addr, req)
	if err != nil {
		o.forgetLeader()
		return offset, err
	}
	resp := r.(*protocol.FetchResponse)
	if resp.ErrorCode != 0 {
		o.forgetLeader()
		return offset, fmt.Errorf("fetch from %s: %w", addr, CodeError(resp.ErrorCode, nil))
	}
	if len(resp.Responses) != 1 || len(resp.Responses[0].Partitions) != 1 {
		o.forgetLeader()
		return offset, fmt.Errorf("fetch from %s: malformed response", addr)
	}
	pd := resp.Responses[0].Partitions[0]
	switch pd.ErrorCode {
	case 0:
	case errcode.NotLeaderOrFollower, errcode.FencedLeaderEpoch, errcode.UnknownLeaderEpoch:
		id := int32(pd.CurrentLeader.LeaderID)
		if a := o.leaderAddrFor(id, resp.NodeEndpoints); id >= 0 && a != "" && a != addr {
			o.setLeader(id, a, pd.CurrentLeader.LeaderEpoch)
		} else {
			o.forgetLeader()
		}
		return offset, errNotLeaderFetch
	default:
		o.forgetLeader()
		return offset, fmt.Errorf("fetch from %s: %s", addr, errcode.Name(pd.ErrorCode))
	}
	o.setLeader(int32(pd.CurrentLeader.LeaderID), addr, pd.CurrentLeader.LeaderEpoch)
	if pd.SnapshotID.EndOffset >= 0 && pd.SnapshotID.Epoch >= 0 {
		return o.loadSnapshot(ctx, addr, pd.SnapshotID.EndOffset, pd.SnapshotID.Epoch)
	}
	next := offset
	for batch, err := range records.Batches(pd.Records) {
		if err != nil {
			return next, fmt.Errorf("fetch from %s: %w", addr, err)
		}
		h, err := records.ParseHeader(batch)
		if err != nil {
			return next, fmt.Errorf("fetch from %s: %w", addr, err)
		}
		if h.BaseOffset != next && next != offset {
			return next, fmt.Errorf("fetch from %s: offset %d after %d", addr, h.BaseOffset, next-1)
		}
		if !h.IsControl() {
			err = records.ForEachRecord(batch, 64<<20, func(rec *records.Record) error {
				data := append([]byte(nil), rec.Value...)
				if res, ok := o.fsm.Apply(&raft.Log{Index: uint64(h.BaseOffset), Term: uint64(h.PartitionLeaderEpoch), Type: raft.LogCommand, Data: data}).(applyResult); ok && res.err != nil {
					// The voters reached the same verdict: the batch
					// changed nothing anywhere.
					o.logger.Debug("metadata batch did not apply", zap.Int64("offset", h.BaseOffset), zap.Error(res.err))
				}
				return nil
			})
			if err != nil {
				return next, fmt.Errorf("fetch from %s: %w", addr, err)
			}
		}
		next = h.LastOffset() + 1
	}
	return next, nil
}

// loadSnapshot fetches the leader's snapshot and restores the fsm from it;
// it returns the offset to fetch from next.
func (o *Observer) loadSnapshot(ctx context.Context, addr string, endOffset int64, epoch int32) (int64, error) {
	clusterID := o.cfg.ClusterID
	var buf []byte
	for {
		req := &protocol.FetchSnapshotRequest{
			ReplicaID: protocol.BrokerID(o.cfg.NodeID), MaxBytes: 8 << 20,
			Topics: []protocol.FetchSnapshotRequestTopicSnapshot{{Name: MetadataTopic, Partitions: []protocol.FetchSnapshotRequestPartitionSnapshot{{
				Partition: 0, CurrentLeaderEpoch: epoch, SnapshotID: protocol.FetchSnapshotRequestSnapshotID{EndOffset: endOffset, Epoch: epoch},
				Position: int64(len(buf)),
			}}}},
		}
		if clusterID != "" {
			req.ClusterID = &clusterID
		}
		fctx, cancel := context.WithTimeout(ctx, o.cfg.FetchTimeout)
		r, err := o.rpc.Call(fctx, addr, req)
		cancel()
		if err != nil {
			o.forgetLeader()
			return 1, err
		}
		resp := r.(*protocol.FetchSnapshotResponse)
		if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			o.forgetLeader()
			return 1, fmt.Errorf("fetch snapshot from %s: %s", addr, errcode.Name(resp.ErrorCode))
		}
		ps := resp.Topics[0].Partitions[0]
		if ps.ErrorCode != 0 {
			o.forgetLeader()
			return 1, fmt.Errorf("fetch snapshot from %s: %s", addr, errcode.Name(ps.ErrorCode))
		}
		if ps.Position != int64(len(buf)) {
			return 1, fmt.Errorf("fetch snapshot from %s: chunk at %d, want %d", addr, ps.Position, len(buf))
		}
		buf = append(buf, ps.UnalignedRecords...)
		if int64(len(buf)) >= ps.Size {
			break
		}
		if len(ps.UnalignedRecords) == 0 {
			return 1, fmt.Errorf("fetch snapshot from %s: empty chunk at %d of %d", addr, len(buf), ps.Size)
		}
	}
	if err := o.fsm.Restore(io.NopCloser(bytes.NewReader(buf))); err != nil {
		return 1, err
	}
	o.logger.Info("loaded metadata snapshot", zap.Int64("end_offset", endOffset), zap.Int("bytes", len(buf)))
	return endOffset, nil
}
