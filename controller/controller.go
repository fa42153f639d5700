package controller

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/spool-broker/spool/protocol"
)

// Voter is one member of the controller quorum.
type Voter struct {
	ID   int32
	Addr string // host:port of its controller listener
}

// ParseVoters parses controller.quorum.voters: "1@host:port,2@host:port".
func ParseVoters(s string) ([]Voter, error) {
	var out []Voter
	seen := map[int32]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		idStr, addr, ok := strings.Cut(part, "@")
		if !ok {
			return nil, fmt.Errorf("controller: voter %q: want id@host:port", part)
		}
		id, err := strconv.ParseInt(idStr, 10, 32)
		if err != nil || id < 0 {
			return nil, fmt.Errorf("controller: voter %q: bad node id", part)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("controller: voter %q: %w", part, err)
		}
		if seen[int32(id)] {
			return nil, fmt.Errorf("controller: voter id %d listed twice", id)
		}
		seen[int32(id)] = true
		out = append(out, Voter{ID: int32(id), Addr: addr})
	}
	return out, nil
}

// Config configures a Controller.
type Config struct {
	NodeID    int32
	ClusterID string
	// Dir holds the raft log, stable store and snapshots.
	Dir string
	// RaftBind is the address the raft transport listens on; empty means
	// this node's address in Voters.
	RaftBind string
	Voters   []Voter
	Logger   *zap.Logger

	// ValidateConfig checks the merged dynamic configs of a resource after
	// an AlterConfigs or CreateTopics; its error is wrapped in
	// ErrInvalidConfig. Nil accepts everything.
	ValidateConfig func(resourceType int8, name string, merged map[string]string) error

	DefaultNumPartitions     int32 // num.partitions; 0 means 1
	DefaultReplicationFactor int16 // default.replication.factor; 0 means 1
	// BootstrapFeatures are written by the first leader of a new cluster;
	// nil means DefaultFeatures.
	BootstrapFeatures map[string]int16
	// BootstrapRecords are written by the first leader of a new cluster in
	// the same batch as BootstrapFeatures: the SCRAM credentials of
	// `spool format --add-scram` (Kafka's bootstrap.checkpoint).
	BootstrapRecords []Record

	// Raft timing; zero values are tuned by quorum size (see doc.go).
	HeartbeatTimeout time.Duration
	ElectionTimeout  time.Duration
	// SnapshotThreshold is the number of log entries between snapshots;
	// zero means raft's default (8192).
	SnapshotThreshold uint64
	// TrailingLogs is how many entries a snapshot leaves in the log; zero
	// means raft's default (10240).
	TrailingLogs uint64
	// ApplyTimeout bounds one raft Apply when ctx has no deadline.
	ApplyTimeout time.Duration

	// Stream carries raft's traffic; nil means a plain TCP listener on
	// RaftBind. The node passes the CONTROLLER listener's raft side, which
	// shares the port with the Kafka controller RPCs.
	Stream raft.StreamLayer
	// SessionTimeout is broker.session.timeout.ms: an unfenced broker
	// that has not heartbeated for this long is fenced. Zero means 9 s.
	SessionTimeout time.Duration
	// UncleanLeaderElection reports whether a topic allows unclean
	// leader election (unclean.leader.election.enable as the topic
	// resolves it in img). Nil means never.
	UncleanLeaderElection func(img *MetadataImage, topic string) bool
	// MinInsyncReplicas is a topic's effective min.insync.replicas (topic
	// config, then broker configs, capped by its replica count as Kafka's
	// getTopicEffectiveMinIsr), for ELR (election.go); nil means 1.
	MinInsyncReplicas func(img *MetadataImage, topic string) int
	// LeaderImbalanceCheckInterval is leader.imbalance.check.interval.seconds
	// when auto.leader.rebalance.enable is true: how often the active
	// controller moves leaderships back to preferred replicas
	// (rebalance.go). Zero disables it.
	LeaderImbalanceCheckInterval time.Duration
	// DelegationTokens is the delegation token setup (tokens.go); a zero
	// value disables tokens.
	DelegationTokens DelegationTokenConfig
	// Now is the clock of broker sessions; nil means time.Now.
	Now func() time.Time
	// Probe tells whether a broker's process is gone after its heartbeat
	// connection closed (liveness.go), usually DialProbe; nil: brokers
	// are fenced only when their sessions expire, as in Kafka.
	Probe ProbeFunc
	// OnMetadataDirFailure is called when the raft term or vote cannot be
	// saved (a full or failing metadata log dir). raft cannot go on
	// without them and panics when the call returns; the node passes a
	// clean stop, as Kafka halts when its metadata log dir fails.
	OnMetadataDirFailure func(error)

	// Dynamic quorum (KIP-853, voters.go).
	//
	// DirectoryID is the directory.id of this node's metadata log dir
	// (meta.properties): with NodeID it is the node's replica key.
	DirectoryID protocol.UUID
	// ListenerName is the controller listener's name (the first of
	// controller.listener.names); "" means CONTROLLER.
	ListenerName string
	// Advertise is this node's controller listener address as other
	// controllers reach it: required when the node is not in Voters (it
	// joins a running quorum with AddRaftVoter); otherwise its Voters
	// entry.
	Advertise string
	// Bootstrap is controller.quorum.bootstrap.servers: where a controller
	// that is not a voter finds the quorum to observe.
	Bootstrap []string
	// DynamicQuorum is set when the voter set comes from
	// controller.quorum.bootstrap.servers rather than
	// controller.quorum.voters: a new cluster then finalizes kraft.version
	// 1, as Kafka does for a quorum formatted with --standalone or
	// --initial-controllers.
	DynamicQuorum bool
	// Dial connects to other controller listeners (nil: plain TCP).
	Dial DialFunc
	// FetchTimeout is controller.quorum.fetch.timeout.ms (zero: 2 s): how
	// recently an observer must have been caught up to become a voter.
	FetchTimeout time.Duration
}

// Feature names and the levels a new cluster starts at.
const (
	MetadataVersionFeature    = "metadata.version"
	StreamsVersionFeature     = "streams.version" // KIP-1071; 1 from metadata version 4.2-IV1
	TransactionVersionFeature = "transaction.version"
	GroupVersionFeature       = "group.version"
	ShareVersionFeature       = "share.version"
)

// LatestMetadataVersion is the newest metadata.version this release supports
// and a new cluster finalizes: 30, 4.3-IV0, as Apache Kafka 4.3.1 (4.2-IV1
// brings streams.version 1, 4.3-IV0 cordoned log dirs, KIP-1066).
const LatestMetadataVersion int16 = 30

// DefaultFeatures are the finalized feature levels of a new cluster, those
// of a new Kafka 4.3.1 cluster (its version mapping for 4.3): group.version 1
// lets 4.x clients use KIP-848 consumer groups; transaction.version 2 KIP-890
// transactions; eligible.leader.replicas.version 1 tracks KIP-966's Eligible
// Leader Replicas (on for new clusters since Kafka 4.1); share.version 1
// KIP-932 share groups and streams.version 1 KIP-1071 streams groups (both
// finalized since Kafka 4.2). A cluster bootstrapped before keeps the levels
// its metadata log finalized (kafka-features.sh upgrade raises them).
var DefaultFeatures = map[string]int16{
	MetadataVersionFeature:        LatestMetadataVersion,
	StreamsVersionFeature:         1,
	TransactionVersionFeature:     2,
	GroupVersionFeature:           1,
	EligibleLeaderReplicasFeature: 1,
	ShareVersionFeature:           1,
}

// Controller is this node's member of the metadata quorum. Reads (Image,
// Subscribe) work on every member; mutating calls succeed only on the
// leader and return ErrNotController elsewhere.
type Controller struct {
	cfg Config
	// stats are the leader's commit latencies and record rate
	// (raftstats.go), exported as KRaft's raft-metrics.
	stats  *raftStats
	logger *zap.Logger
	raft   *raft.Raft
	fsm    *fsm
	trans  *raft.NetworkTransport
	logs   *LogStore
	snaps  *raft.FileSnapshotStore

	notifyCh chan bool
	ready    atomic.Bool // leader and the FSM has caught up (barrier done)

	// opMu serializes mutating operations so each validates against the
	// image produced by the previous one.
	opMu sync.Mutex
	// sessions are the broker sessions of the active controller
	// (lifecycle.go). Guarded by opMu; replaced on each activation.
	sessions sessions
	// observers are the observers that fetched the metadata log here.
	observers observers
	// voters is the leader's view of the other voters' logs (DescribeQuorum).
	voters voterProgress
	// members is the dynamic-quorum state of voters.go: voter directory
	// IDs, the one voter change under way, and the observer this node
	// runs while it is not a voter.
	members members

	// runCtx is cancelled by Close; goroutines started on demand (broker
	// probes, liveness.go) stop with it.
	runCtx context.Context
	// probing: brokers with a probe running. Guarded by probeMu.
	probeMu sync.Mutex
	probing map[int32]bool

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Open starts the controller: it recovers the raft log and snapshots in
// cfg.Dir, bootstraps the quorum from cfg.Voters on first start, and, when
// this node is the sole voter, returns once it leads with a caught-up image.
func Open(ctx context.Context, cfg Config) (*Controller, error) {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.DefaultNumPartitions <= 0 {
		cfg.DefaultNumPartitions = 1
	}
	if cfg.DefaultReplicationFactor <= 0 {
		cfg.DefaultReplicationFactor = 1
	}
	if cfg.BootstrapFeatures == nil {
		cfg.BootstrapFeatures = DefaultFeatures
	}
	if cfg.ApplyTimeout <= 0 {
		cfg.ApplyTimeout = 10 * time.Second
	}
	if cfg.BootstrapRecords == nil && cfg.Dir != "" {
		// Dir is <metadata log dir>/__cluster_metadata; `spool format`
		// leaves the bootstrap file in the metadata log dir (bootstrap.go).
		recs, err := ReadBootstrap(filepath.Dir(cfg.Dir))
		if err != nil {
			return nil, err
		}
		cfg.BootstrapRecords = recs
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 9 * time.Second
	}
	if cfg.ListenerName == "" {
		cfg.ListenerName = "CONTROLLER"
	}
	if cfg.FetchTimeout <= 0 {
		cfg.FetchTimeout = 2 * time.Second
	}
	var self *Voter
	for i := range cfg.Voters {
		if cfg.Voters[i].ID == cfg.NodeID {
			self = &cfg.Voters[i]
		}
	}
	join := self == nil
	if join {
		// Not a voter: start without a raft configuration and observe the
		// quorum until a voter adds this node (AddRaftVoter).
		if cfg.Advertise == "" || (len(cfg.Bootstrap) == 0 && len(cfg.Voters) == 0) {
			return nil, fmt.Errorf("controller: node %d is not in the voter list and has no controller.quorum.bootstrap.servers to join through", cfg.NodeID)
		}
		self = &Voter{ID: cfg.NodeID, Addr: cfg.Advertise}
	}
	if cfg.RaftBind == "" {
		cfg.RaftBind = self.Addr
	}
	if cfg.Advertise == "" {
		// What UpdateRaftVoter announces: the voter's entry, never the
		// bound address (which may be 0.0.0.0).
		cfg.Advertise = self.Addr
	}
	sole := !join && len(cfg.Voters) == 1
	soleTimed := sole && cfg.HeartbeatTimeout <= 0
	if cfg.HeartbeatTimeout <= 0 {
		// A sole voter has nobody to hear from: it only waits out one
		// heartbeat timeout before electing itself, so keep it short.
		cfg.HeartbeatTimeout = 500 * time.Millisecond
		if sole {
			cfg.HeartbeatTimeout = 50 * time.Millisecond
		}
	}
	if cfg.ElectionTimeout <= 0 {
		cfg.ElectionTimeout = cfg.HeartbeatTimeout
		if sole {
			// Startup is bounded by the heartbeat timeout (follower to
			// candidate); the election itself only has to outlast the
			// fsyncs of the term and self-vote, so give it slack.
			cfg.ElectionTimeout = 4 * cfg.HeartbeatTimeout
		}
	}

	c := &Controller{cfg: cfg, logger: cfg.Logger.With(zap.Int32("node_id", cfg.NodeID)), fsm: newFSM(cfg.ClusterID), stats: newRaftStats(nil)}
	c.members.dirs = map[int32]protocol.UUID{cfg.NodeID: cfg.DirectoryID}
	c.members.announced = -1
	c.members.soleTimed = soleTimed
	if err := c.start(self.Addr, sole, join); err != nil {
		c.closeResources()
		return nil, err
	}
	// A quorum bootstrapped by this node alone may have grown since
	// (AddRaftVoter): then another voter may lead, so do not wait.
	if sole && len(c.voterIDs()) <= 1 {
		if err := c.waitReady(ctx); err != nil {
			c.Close()
			return nil, fmt.Errorf("controller: wait for leadership: %w", err)
		}
	}
	return c, nil
}

func (c *Controller) start(advertise string, sole, join bool) error {
	cfg := c.cfg
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("controller: %w", err)
	}
	hlog := newHCLogger(c.logger.Named("raft"))
	logs, err := OpenLogStore(filepath.Join(cfg.Dir, raftLogDir))
	if err != nil {
		return err
	}
	c.logs = logs
	stable, err := OpenStableStore(filepath.Join(cfg.Dir, raftStableFile))
	if err != nil {
		return err
	}
	stable.SetFailureHandler(cfg.OnMetadataDirFailure)
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, 2, hlog)
	if err != nil {
		return fmt.Errorf("controller: snapshot store: %w", err)
	}
	c.snaps = snaps
	if cfg.Stream != nil {
		c.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
			Stream: cfg.Stream, MaxPool: 3, Timeout: 10 * time.Second, Logger: hlog,
		})
	} else {
		adv, err := net.ResolveTCPAddr("tcp", advertise)
		if err != nil {
			return fmt.Errorf("controller: resolve %s: %w", advertise, err)
		}
		c.trans, err = raft.NewTCPTransportWithLogger(cfg.RaftBind, adv, 3, 10*time.Second, hlog)
		if err != nil {
			return fmt.Errorf("controller: raft transport on %s: %w", cfg.RaftBind, err)
		}
	}

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(strconv.Itoa(int(cfg.NodeID)))
	rc.Logger = hlog
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	// The lease is as long as raft allows: a leader that cannot reach a
	// quorum for a lease steps down, and a short lease makes a busy (or
	// race-detector-slowed) leader step down needlessly.
	rc.LeaderLeaseTimeout = cfg.HeartbeatTimeout
	if sole {
		rc.CommitTimeout = 5 * time.Millisecond
	}
	if cfg.TrailingLogs > 0 {
		rc.TrailingLogs = cfg.TrailingLogs
	}
	if cfg.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = cfg.SnapshotThreshold
	}
	// raft blocks on this channel; the buffer keeps it from stalling
	// while watchLeadership waits on a barrier.
	c.notifyCh = make(chan bool, 16)
	rc.NotifyCh = c.notifyCh
	// A voter removed by RemoveRaftVoter keeps running as an observer
	// (voters.go), as Kafka's controllers do, rather than stopping raft.
	rc.ShutdownOnRemove = false

	has, err := raft.HasExistingState(logs, stable, snaps)
	if err != nil {
		return fmt.Errorf("controller: inspect raft state: %w", err)
	}
	if !has && !join {
		var conf raft.Configuration
		for _, v := range cfg.Voters {
			conf.Servers = append(conf.Servers, raft.Server{
				Suffrage: raft.Voter,
				ID:       raft.ServerID(strconv.Itoa(int(v.ID))),
				Address:  raft.ServerAddress(v.Addr),
			})
		}
		if err := raft.BootstrapCluster(rc, logs, stable, snaps, c.trans, conf); err != nil {
			return fmt.Errorf("controller: bootstrap quorum: %w", err)
		}
	}
	cached, err := raft.NewLogCache(512, logs)
	if err != nil {
		return err
	}
	trans := &progressTransport{NetworkTransport: c.trans, progress: &c.voters}
	c.raft, err = raft.NewRaft(rc, c.fsm, cached, stable, snaps, trans)
	if err == nil {
		trans.raft.Store(c.raft)
	}
	if err != nil {
		return fmt.Errorf("controller: start raft: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.probeMu.Lock()
	c.runCtx, c.cancel = ctx, cancel
	c.probeMu.Unlock()
	c.wg.Add(3)
	go c.watchLeadership(ctx)
	go c.fenceStaleBrokers(ctx)
	go c.runMembership(ctx)
	if c.tokensEnabled() && c.cfg.DelegationTokens.CheckInterval > 0 {
		c.wg.Add(1)
		go c.sweepDelegationTokens(ctx)
	}
	if c.cfg.LeaderImbalanceCheckInterval > 0 {
		c.wg.Add(1)
		go c.balanceLeaders(ctx)
	}
	return nil
}

// watchLeadership follows raft's leadership notifications. On winning, it
// issues a barrier so the image includes everything earlier leaders
// committed, writes the bootstrap features of a new cluster, and only then
// lets mutating calls through.
func (c *Controller) watchLeadership(ctx context.Context) {
	defer c.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case leader := <-c.notifyCh:
			c.ready.Store(false)
			if !leader {
				c.logger.Info("lost controller leadership")
				continue
			}
			start := time.Now()
			if err := c.raft.Barrier(c.cfg.ApplyTimeout).Error(); err != nil {
				c.logger.Warn("leader barrier failed", zap.Error(err))
				continue
			}
			if err := c.bootstrapFeatures(); err != nil {
				c.logger.Warn("write bootstrap features", zap.Error(err))
				continue
			}
			c.opMu.Lock()
			c.activateLocked()
			c.ready.Store(true)
			c.probeAllLocked()
			c.opMu.Unlock()
			c.logger.Info("became active controller", zap.Duration("catch_up", time.Since(start)),
				zap.Uint64("offset", c.Image().Offset()))
		}
	}
}

func (c *Controller) bootstrapFeatures() error {
	if c.Image().Feature(MetadataVersionFeature) != 0 {
		return nil
	}
	var recs []Record
	features := maps.Clone(c.cfg.BootstrapFeatures)
	if c.cfg.DynamicQuorum {
		features[KRaftVersionFeature] = 1
	}
	for _, name := range sortedKeys(features) {
		recs = append(recs, &FeatureLevelRecord{Name: name, FeatureLevel: features[name]})
	}
	recs = append(recs, c.cfg.BootstrapRecords...)
	_, err := c.apply(context.Background(), recs)
	return err
}

// waitReady waits until this node is the active controller.
func (c *Controller) waitReady(ctx context.Context) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for !c.ready.Load() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// beginOp serializes a mutating operation and checks leadership. A node that
// just won an election waits (bounded by ctx) for its catch-up barrier.
func (c *Controller) beginOp(ctx context.Context) (func(), error) {
	if !c.ready.Load() {
		if c.raft.State() != raft.Leader {
			return nil, c.notController()
		}
		wctx, cancel := context.WithTimeout(ctx, c.cfg.ApplyTimeout)
		err := c.waitReady(wctx)
		cancel()
		if err != nil {
			return nil, c.notController()
		}
	}
	c.opMu.Lock()
	if !c.ready.Load() {
		c.opMu.Unlock()
		return nil, c.notController()
	}
	return c.opMu.Unlock, nil
}

func (c *Controller) notController() error {
	if id, ok := c.LeaderID(); ok {
		return fmt.Errorf("%w: the leader is node %d", ErrNotController, id)
	}
	return fmt.Errorf("%w: no leader is known", ErrNotController)
}

// apply replicates one batch and waits until it is applied locally.
func (c *Controller) apply(ctx context.Context, records []Record) (uint64, error) {
	if len(records) == 0 {
		return 0, nil
	}
	timeout := c.cfg.ApplyTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
		if timeout <= 0 {
			return 0, ctx.Err()
		}
	}
	proposed := time.Now()
	f := c.raft.Apply(EncodeBatch(records), timeout)
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) || errors.Is(err, raft.ErrRaftShutdown) {
			return 0, fmt.Errorf("%w: %v", ErrNotController, err)
		}
		return 0, fmt.Errorf("controller: apply: %w", err)
	}
	c.stats.committed(len(records), time.Since(proposed)) // raft-metrics (metrics.go)
	if res, ok := f.Response().(applyResult); ok && res.err != nil {
		return 0, res.err
	}
	return f.Index(), nil
}

// WaitApplied waits until this member has applied the metadata log up to
// index (a raft index, counting entries that carry no records).
func (c *Controller) WaitApplied(ctx context.Context, index uint64) error {
	if err := waitIndex(ctx, c.fsm, index, c.appliedIndex); err != nil {
		return err
	}
	// raft counts an entry applied once it is handed to the FSM; wait for
	// the FSM to finish the last command entry up to index as well, so the
	// image includes it when this returns.
	return waitIndex(ctx, c.fsm, c.lastCommandUpTo(index), c.fsm.processed.Load)
}

// lastCommandUpTo is the index of the last command entry at or below index
// the FSM has not processed yet, or 0 when there is none (the entries
// between are no-ops and configuration, or compacted into a snapshot the
// FSM restored).
func (c *Controller) lastCommandUpTo(index uint64) uint64 {
	done := c.fsm.processed.Load()
	for i := index; i > done; i-- {
		var l raft.Log
		if err := c.logs.GetLog(i, &l); err != nil {
			return 0
		}
		if l.Type == raft.LogCommand {
			return i
		}
	}
	return 0
}

// waitIndex waits until applied() reaches index. Command entries wake it
// through the fsm; others (a new leader's no-op) are seen by polling.
func waitIndex(ctx context.Context, f *fsm, index uint64, applied func() uint64) error {
	for applied() < index {
		changed := f.changed()
		t := time.NewTimer(5 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-changed:
			t.Stop()
		case <-t.C:
		}
	}
	return nil
}

// Image returns the current metadata image. It never blocks.
func (c *Controller) Image() *MetadataImage { return c.fsm.image.Load() }

// Subscribe returns a channel that always holds the newest image: a new
// image replaces an unread older one, so a slow reader skips intermediate
// images and must diff against what it last saw. The channel receives the
// current image at once. Call the returned func to unsubscribe.
func (c *Controller) Subscribe() (<-chan *MetadataImage, func()) { return c.fsm.subscribe() }

// IsActive reports whether this node is the active (leading, caught-up)
// controller.
func (c *Controller) IsActive() bool { return c.ready.Load() }

// LeaderID returns the node ID of the current raft leader, if known (from
// the observer while this node is not a voter).
func (c *Controller) LeaderID() (int32, bool) {
	_, id := c.raft.LeaderWithID()
	if id == "" {
		if o := c.observer(); o != nil {
			if lid, _, ok := o.Leader(); ok {
				return lid, true
			}
		}
		return -1, false
	}
	n, err := strconv.ParseInt(string(id), 10, 32)
	if err != nil {
		return -1, false
	}
	return int32(n), true
}

// Snapshot forces a raft snapshot of the image, which lets raft compact the
// log.
func (c *Controller) Snapshot() error {
	if err := c.raft.Snapshot().Error(); err != nil {
		return fmt.Errorf("controller: snapshot: %w", err)
	}
	return nil
}

// Resign hands raft leadership to another voter before this one shuts
// down, so the quorum does not wait out an election timeout (Kafka's
// controller resigns on shutdown too). It does nothing on a follower or a
// sole voter.
func (c *Controller) Resign() {
	if c.raft == nil || c.raft.State() != raft.Leader || len(c.voterIDs()) < 2 {
		return
	}
	c.ready.Store(false)
	start := time.Now()
	if err := c.raft.LeadershipTransfer().Error(); err != nil {
		c.logger.Warn("could not hand over controller leadership", zap.Error(err))
		return
	}
	c.logger.Info("handed over controller leadership", zap.Duration("took", time.Since(start)))
}

// Close leaves the quorum process-wise (other voters see a dead peer), stops
// raft and waits for the controller's goroutines.
func (c *Controller) Close() error {
	c.closeOnce.Do(func() {
		c.ready.Store(false)
		var errs []error
		if c.raft != nil {
			errs = append(errs, c.raft.Shutdown().Error())
		}
		c.probeMu.Lock() // no probe starts after this (startProbe)
		if c.cancel != nil {
			c.cancel()
		}
		c.probeMu.Unlock()
		c.wg.Wait()
		c.closeMembers()
		errs = append(errs, c.closeResources())
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}

func (c *Controller) closeResources() error {
	var errs []error
	if c.trans != nil {
		errs = append(errs, c.trans.Close())
	}
	if c.logs != nil {
		errs = append(errs, c.logs.Close())
	}
	return errors.Join(errs...)
}

// newHCLogger routes raft's hclog output into zap.
func newHCLogger(log *zap.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:            "raft",
		Level:           hclog.Info,
		Output:          &zapWriter{logger: log},
		DisableTime:     true,
		IncludeLocation: false,
	})
}

// zapWriter turns hclog's text lines ("[WARN]  raft: msg: k=v") into zap
// entries at the matching level.
type zapWriter struct {
	logger *zap.Logger
}

func (w *zapWriter) Write(p []byte) (int, error) {
	sc := bufio.NewScanner(bytes.NewReader(p))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "[ERROR]"):
			w.logger.Error(strings.TrimSpace(line[7:]))
		case strings.HasPrefix(line, "[WARN]"):
			w.logger.Warn(strings.TrimSpace(line[6:]))
		case strings.HasPrefix(line, "[INFO]"):
			w.logger.Info(strings.TrimSpace(line[6:]))
		default:
			w.logger.Debug(line)
		}
	}
	return len(p), nil
}
