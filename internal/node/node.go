package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/spool-broker/spool/auth"
	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/auth/sasl"
	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/internal/audit"
	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/internal/seclink"
	"github.com/spool-broker/spool/internal/telemetry"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/storage"
)

// Node is a running Spool process in one of Kafka's three roles:
// broker,controller (combined), controller only, or broker only.
type Node struct {
	logger *zap.Logger
	cfg    *config.Broker

	ctrlDial *seclink.Dialer        // how this node reaches controller listeners
	ctrlLn   *controllerListener    // controller role
	ctrl     *controller.Controller // controller role
	// live is ctrl for the CONTROLLER listener's connection goroutines,
	// which start before controller.Open returns.
	live       atomic.Pointer[controller.Controller]
	obs        *controller.Observer // broker-only role
	router     *controller.Router   // broker role
	logManager *storage.Manager     // broker role
	broker     Broker               // broker role
	life       *lifecycle           // broker role
	audit      *audit.Logger        // spool.audit.log.file (nil: none); both roles log to it

	ready     chan struct{} // closed once the node serves (see Ready)
	fatal     chan error    // 1-buffered: why the node must stop (see Fatal)
	stopState atomic.Int32  // BrokerState once Close began (metrics.go)
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// metadataDirName holds the controller's raft log inside the metadata log
// dir. It doesn't look like <topic>-<partition>, so storage leaves it alone.
const metadataDirName = "__cluster_metadata"

// Start brings a node up. newBroker builds the broker role
// (server.NewNodeBroker); it is unused on a controller-only node.
//
// Start does not wait for the rest of the cluster: nodes may start in any
// order. A broker binds its client listeners at once but accepts
// connections only after it has registered with the active controller and
// caught up with the metadata log, as Kafka's BrokerServer does; Ready
// tells when the node serves. When the quorum is this node alone, Start
// returns only once the node is ready.
func Start(ctx context.Context, cfg *config.Broker, reg prometheus.Registerer, log *zap.Logger, newBroker NewBrokerFunc) (*Node, error) {
	began := time.Now()
	// Before any log dir is formatted or port opened (the controller binds
	// its listener first): refuse protection Spool does not implement.
	if err := cfg.CheckProtections(); err != nil {
		return nil, err
	}
	if len(cfg.LogDirs) == 0 {
		return nil, errors.New("log.dirs is empty: set log.dirs (or KAFKA_LOG_DIRS) to where data should live")
	}
	isController, isBroker := cfg.HasRole("controller"), cfg.HasRole("broker")
	if !isController && !isBroker {
		return nil, errors.New("process.roles must contain broker, controller or both")
	}
	voters, err := quorumVoters(cfg, isController)
	if err != nil {
		return nil, err
	}
	sole := isController && len(voters) == 1 && voters[0].ID == cfg.NodeID
	clusterID, generated, err := ensureMetaProperties(cfg)
	if err != nil {
		return nil, err
	}
	if generated && !sole {
		return nil, errors.New("a node of a multi-node cluster needs the cluster id: set CLUSTER_ID (KAFKA_CLUSTER_ID) to the same value on every node")
	}
	runCtx, cancel := context.WithCancel(context.Background())
	n := &Node{logger: log, cfg: cfg, ready: make(chan struct{}), fatal: make(chan error, 1), cancel: cancel}
	ok := false
	defer func() {
		if !ok {
			_ = n.Close(context.Background())
		}
	}()

	if n.audit, err = audit.OpenConfig(cfg); err != nil {
		return nil, fmt.Errorf("spool.audit.log.file: %w", err)
	}
	if n.ctrlDial, err = controllerDialer(cfg); err != nil {
		return nil, err
	}
	metaDir := cfg.MetadataLogDir
	if metaDir == "" {
		metaDir = cfg.LogDirs[0]
	}
	var meta controller.Metadata
	if isController {
		if err := n.startController(ctx, clusterID, voters, filepath.Join(metaDir, metadataDirName)); err != nil {
			return nil, err
		}
		meta = n.ctrl
		n.ctrl.Register(reg)
	} else {
		n.obs, err = controller.OpenObserver(controller.ObserverConfig{
			NodeID: cfg.NodeID, ClusterID: clusterID, Voters: voters, Bootstrap: cfg.ControllerQuorumBootstrap,
			Logger: log.Named("metadata"), FetchTimeout: time.Duration(cfg.ControllerQuorumFetchTimeoutMs) * time.Millisecond,
			Dial: n.ctrlDial.DialContext,
		})
		if err != nil {
			return nil, err
		}
		meta = n.obs
	}

	if !isBroker {
		ok = true
		close(n.ready)
		log.Info("spool controller is running", zap.String("cluster_id", clusterID), zap.Int32("node_id", cfg.NodeID),
			zap.Duration("startup", time.Since(began)))
		return n, nil
	}

	n.registerBrokerState(reg)
	n.router = controller.NewRouter(controller.RouterConfig{
		NodeID: cfg.NodeID, Local: n.ctrl, Metadata: meta, Leader: n.leader, Logger: log.Named("forward"),
		Dial: n.ctrlDial.DialContext,
	})
	def, _ := cfg.LogConfigForTopic(nil, config.Dynamic{})
	dirIDs := make([][16]byte, len(cfg.LogDirs))
	var cordoned []string
	for i, d := range cfg.LogDirs {
		dirIDs[i] = metadataDirectoryID(d)
		if cfg.IsCordoned(d) {
			cordoned = append(cordoned, d)
		}
	}
	n.logManager, err = storage.NewManager(storage.ManagerConfig{
		Dirs:                      cfg.LogDirs,
		DirIDs:                    dirIDs,
		Cordoned:                  cordoned,
		Default:                   def.StorageConfig(),
		RetentionCheckInterval:    time.Duration(cfg.LogRetentionCheckIntervalMs) * time.Millisecond,
		FlushCheckInterval:        flushCheckInterval(cfg.LogFlushSchedulerIntervalMs),
		CheckpointInterval:        time.Duration(cfg.LogFlushCheckpointIntervalMs) * time.Millisecond,
		ProducerIDExpiration:      time.Duration(cfg.ProducerIDExpirationMs) * time.Millisecond,
		ProducerIDExpirationCheck: time.Duration(cfg.ProducerIDExpirationCheckIntervalMs) * time.Millisecond,
		CleanerEnable:             cfg.LogCleanerEnable,
		CleanerBackoff:            time.Duration(cfg.LogCleanerBackoffMs) * time.Millisecond,
		CleanerDedupeBufferSize:   cfg.LogCleanerDedupeBufferSize,
		RecoveryThreadsPerDir:     int(cfg.NumRecoveryThreadsPerDataDir),
		FullDirCheckInterval:      time.Duration(cfg.LogDirFullCheckIntervalMs) * time.Millisecond,
		FullDirRecoveryBytes:      cfg.LogDirFullRecoveryBytes,

		HighWatermarkCheckpointInterval: time.Duration(cfg.ReplicaHighWatermarkCheckpointIntervalMs) * time.Millisecond,

		Registerer: reg, // storage and log cleaner metrics (regression: were never registered)
	}, log.Named("storage"))
	if err != nil {
		return nil, fmt.Errorf("open log dirs: %w", err)
	}
	n.broker, err = newBroker(BrokerDeps{Config: cfg, Controller: n.router, LogManager: n.logManager, Registerer: reg, Logger: log, Audit: n.audit})
	if err != nil {
		return nil, err
	}
	if err := n.broker.Listen(); err != nil {
		return nil, err
	}
	var rack *string
	if cfg.BrokerRack != "" {
		rack = &cfg.BrokerRack
	}
	// Only the dirs that loaded are registered (a dir that failed at start
	// is offline, as in Kafka).
	var onlineDirs []controller.DirectoryID
	for i, d := range cfg.LogDirs {
		if !n.logManager.DirOffline(d) {
			onlineDirs = append(onlineDirs, dirIDs[i])
		}
	}
	n.life = newLifecycle(n.router, n.router, meta, controller.BrokerRegistration{ID: cfg.NodeID, ClusterID: clusterID, Rack: rack, Features: controller.SupportedFeatures, LogDirs: onlineDirs,
		PreviousBrokerEpoch: n.logManager.PreviousBrokerEpoch()},
		time.Duration(cfg.BrokerHeartbeatIntervalMs)*time.Millisecond, log.Named("lifecycle"))
	n.life.endpoints = n.broker.Endpoints
	n.life.dirFailureTimeout = time.Duration(cfg.LogDirFailureTimeoutMs) * time.Millisecond
	n.life.cordonedDirs = func() []controller.DirectoryID {
		ids := []controller.DirectoryID{}
		for i, d := range cfg.LogDirs {
			if !n.logManager.DirOffline(d) && n.logManager.Cordoned(d) {
				ids = append(ids, dirIDs[i])
			}
		}
		return ids
	}
	n.life.onFatal = n.fail
	n.logManager.OnDirFailure(func(dir string, tps []storage.TopicPartition) {
		n.logDirFailed(dir, metaDir, dirIDs, tps)
	})
	n.logManager.OnDirOnline(func(dir string, tps []storage.TopicPartition) {
		n.logDirOnline(dir, dirIDs, tps)
	})
	n.life.start()
	n.wg.Add(1)
	go n.becomeReady(runCtx, meta, clusterID, began)

	ok = true
	if sole {
		select {
		case <-n.ready:
		case <-ctx.Done():
			ok = false
			return nil, fmt.Errorf("waiting for the broker to register: %w", ctx.Err())
		}
	}
	return n, nil
}

// becomeReady follows Kafka's BrokerServer start-up: once the controller
// says this broker has caught up with the metadata log (it holds its own
// registration, so everything earlier too), the broker applies that image
// and follows metadata; then it asks to be unfenced. Kafka accepts client
// requests before the broker is unfenced; Spool waits for it, so the first
// requests (which queued in the listen backlog) already find the
// partitions the unfencing gave back a leader.
func (n *Node) becomeReady(ctx context.Context, meta controller.Metadata, clusterID string, began time.Time) {
	defer n.wg.Done()
	select {
	case <-n.life.caughtUp:
	case <-ctx.Done():
		return
	}
	n.broker.Start(meta.Image())
	n.life.setReadyToUnfence()
	select {
	case <-n.life.unfenced:
	case <-ctx.Done():
		return
	}
	n.broker.Serve(meta.Image())
	close(n.ready)
	n.logger.Info("spool is ready", zap.String("cluster_id", clusterID), zap.Int32("node_id", n.cfg.NodeID),
		zap.Int64("broker_epoch", n.life.brokerEpoch()), zap.Duration("startup", time.Since(began)))
}

// startController opens the CONTROLLER listener and this node's quorum
// member, and serves the controller RPCs.
func (n *Node) startController(ctx context.Context, clusterID string, voters []controller.Voter, dir string) error {
	cfg := n.cfg
	self, join := controllerSelf(cfg, voters)
	bind := self.Addr
	for _, l := range cfg.Listeners {
		if len(cfg.ControllerListenerNames) > 0 && l.Name == cfg.ControllerListenerNames[0] {
			bind = l.Addr()
		}
	}
	var err error
	n.ctrlLn, err = listenController(bind, self.Addr, n.logger.Named("controller-listener"))
	if err != nil {
		return err
	}
	if err := n.secureControllerListener(ctx); err != nil {
		return err
	}
	electionTimeout := time.Duration(0) // tuned by quorum size (controller/doc.go)
	if _, set := cfg.Static("controller.quorum.election.timeout.ms"); set {
		electionTimeout = time.Duration(cfg.ControllerQuorumElectionTimeoutMs) * time.Millisecond
	}
	// Serve RPCs (and raft) before Open: a sole voter's Open waits for its
	// own election, and other voters may already be calling.
	var ctrl *controller.Controller
	ctrlReady := make(chan struct{})
	n.ctrlLn.apiVersions = func(hdr *protocol.RequestHeader, req protocol.Request) protocol.Response {
		select {
		case <-ctrlReady:
		case <-n.ctrlLn.ctx.Done():
		}
		if ctrl == nil {
			return protocol.UnsupportedAPIVersionsResponse()
		}
		return ctrl.HandleRPC(n.ctrlLn.ctx, hdr, req)
	}
	n.ctrlLn.start(func(ctx context.Context, nc net.Conn, access controllerAccess) {
		select {
		case <-ctrlReady:
		case <-ctx.Done():
			return
		}
		if ctrl != nil {
			serveControllerRPCs(ctx, nc, ctrl, cfg.SocketRequestMaxBytes, access.adminWrites, n.logger.Named("controller-rpc"))
		}
	})
	validateConfig := func(typ int8, name string, m map[string]string) error {
		return validateResourceConfig(cfg, typ, name, m)
	}
	ctrl, err = controller.Open(ctx, controller.Config{
		NodeID:                       cfg.NodeID,
		ClusterID:                    clusterID,
		Dir:                          dir,
		Stream:                       n.ctrlLn.Raft(),
		Voters:                       voters,
		Logger:                       n.logger.Named("controller"),
		DefaultNumPartitions:         cfg.NumPartitions,
		DefaultReplicationFactor:     cfg.DefaultReplicationFactor,
		BootstrapFeatures:            controller.DefaultFeatures,
		ValidateConfig:               validateConfig,
		HeartbeatTimeout:             electionTimeout,
		ElectionTimeout:              electionTimeout,
		SessionTimeout:               time.Duration(cfg.BrokerSessionTimeoutMs) * time.Millisecond,
		Probe:                        brokerProbe(cfg),
		UncleanLeaderElection:        n.uncleanLeaderElection,
		MinInsyncReplicas:            n.minInsyncReplicas,
		LeaderImbalanceCheckInterval: leaderImbalanceCheckInterval(cfg),
		DirectoryID:                  metadataDirectoryID(filepath.Dir(dir)),
		ListenerName:                 firstOr(cfg.ControllerListenerNames, "CONTROLLER"),
		Advertise:                    joinAddr(self, join),
		Bootstrap:                    cfg.ControllerQuorumBootstrap,
		DynamicQuorum:                len(cfg.ControllerQuorumVoters) == 0,
		Dial:                         n.ctrlDial.DialContext,
		FetchTimeout:                 time.Duration(cfg.ControllerQuorumFetchTimeoutMs) * time.Millisecond,
		DelegationTokens:             delegationTokenConfig(cfg),
		OnMetadataDirFailure:         n.haltOnMetadataDirFailure,
	})
	if err == nil {
		n.live.Store(ctrl)
	}
	close(ctrlReady)
	if err != nil {
		return fmt.Errorf("start controller: %w", err)
	}
	n.ctrl = ctrl
	return nil
}

// uncleanLeaderElection resolves unclean.leader.election.enable for a
// topic: topic config, then dynamic broker configs, then static.
// exit ends the process; tests replace it.
var exit = os.Exit

// haltOnMetadataDirFailure stops the process when the raft term or vote
// cannot be saved in the metadata log dir, as Kafka halts when its metadata
// log dir fails: a voter that may have forgotten its vote must not go on,
// and raft would panic. The log line says what to do next.
func (n *Node) haltOnMetadataDirFailure(err error) {
	n.logger.Error("the metadata log dir failed, so this node stops (as Kafka halts); free space or replace the disk under metadata.log.dir, then start the node again",
		zap.Error(err))
	_ = n.logger.Sync()
	exit(1)
}

func (n *Node) uncleanLeaderElection(img *controller.MetadataImage, topic string) bool {
	s, err := n.cfg.LogConfigForTopic(img.Config(controller.ResourceTopic, topic), config.Dynamic{
		PerBroker:      img.Config(controller.ResourceBroker, strconv.Itoa(int(n.cfg.NodeID))),
		ClusterDefault: img.Config(controller.ResourceBroker, ""),
	})
	return err == nil && s.UncleanLeaderElectionEnable
}

// minInsyncReplicas resolves a topic's effective min.insync.replicas as
// the leaders do: topic config, then dynamic and static broker configs,
// capped by the replica count (Kafka 4.3's effective minimum).
func (n *Node) minInsyncReplicas(img *controller.MetadataImage, topic string) int {
	s, err := n.cfg.LogConfigForTopic(img.Config(controller.ResourceTopic, topic), config.Dynamic{
		PerBroker:      img.Config(controller.ResourceBroker, strconv.Itoa(int(n.cfg.NodeID))),
		ClusterDefault: img.Config(controller.ResourceBroker, ""),
	})
	minISR := 1
	if err == nil {
		minISR = int(s.MinInsyncReplicas)
	}
	if t := img.Topic(topic); t != nil && len(t.Partitions) > 0 {
		minISR = min(minISR, len(t.Partitions[0].Replicas))
	}
	return max(minISR, 1)
}

// leader is where this node believes the active controller is.
func (n *Node) leader() (int32, string, bool) {
	if n.ctrl != nil {
		return n.ctrl.LeaderEndpoint()
	}
	return n.obs.Leader()
}

// controllerSelf is this controller's entry in voters; join reports a
// controller outside the voter set (it joins a dynamic quorum with
// AddRaftVoter), whose entry is its controller listener as advertised.
func controllerSelf(cfg *config.Broker, voters []controller.Voter) (self controller.Voter, join bool) {
	for _, v := range voters {
		if v.ID == cfg.NodeID {
			return v, false
		}
	}
	name := firstOr(cfg.ControllerListenerNames, "CONTROLLER")
	self.ID = cfg.NodeID
	for _, l := range cfg.Listeners {
		if l.Name == name {
			host := l.Host
			if host == "" || host == "0.0.0.0" || host == "::" {
				host = "localhost"
			}
			self.Addr = net.JoinHostPort(host, strconv.Itoa(l.Port))
		}
	}
	for _, l := range cfg.AdvertisedListeners {
		if l.Name == name && l.Host != "" {
			self.Addr = l.Addr()
		}
	}
	return self, true
}

func joinAddr(self controller.Voter, join bool) string {
	if !join {
		return ""
	}
	return self.Addr
}

func firstOr(list []string, def string) string {
	if len(list) > 0 {
		return list[0]
	}
	return def
}

// metadataDirectoryID is the directory.id of the metadata log dir's
// meta.properties (zero when it has none): with node.id, the key Kafka's
// add-controller and remove-controller name a controller by.
func metadataDirectoryID(dir string) protocol.UUID {
	props, err := readProps(filepath.Join(dir, "meta.properties"))
	if err != nil {
		return protocol.UUID{}
	}
	id, err := controller.ParseUUID(props["directory.id"])
	if err != nil {
		return protocol.UUID{}
	}
	return id
}

// quorumVoters resolves the voter set. controller.quorum.voters lists it
// (a static quorum, kraft.version 0). With controller.quorum.bootstrap.servers
// only (a dynamic quorum, kraft.version 1), a broker-only node just asks
// those servers; a controller whose list is its own CONTROLLER listener
// alone bootstraps the quorum as its sole voter (Kafka's format
// --standalone), and any other controller starts outside the voter set and
// observes until `kafka-metadata-quorum.sh add-controller` adds it.
func quorumVoters(cfg *config.Broker, isController bool) ([]controller.Voter, error) {
	var voters []controller.Voter
	for _, v := range cfg.ControllerQuorumVoters {
		voters = append(voters, controller.Voter{ID: v.ID, Addr: net.JoinHostPort(v.Host, strconv.Itoa(v.Port))})
	}
	if len(voters) > 0 || !isController {
		return voters, nil
	}
	for _, l := range cfg.Listeners {
		if len(cfg.ControllerListenerNames) > 0 && l.Name == cfg.ControllerListenerNames[0] &&
			len(cfg.ControllerQuorumBootstrap) == 1 && sameEndpoint(cfg.ControllerQuorumBootstrap[0], l.Addr()) {
			return []controller.Voter{{ID: cfg.NodeID, Addr: cfg.ControllerQuorumBootstrap[0]}}, nil
		}
	}
	if len(cfg.ControllerQuorumBootstrap) > 0 {
		return nil, nil
	}
	return nil, errors.New("a controller needs controller.quorum.voters (id@host:port of every controller) or controller.quorum.bootstrap.servers")
}

func sameEndpoint(a, b string) bool {
	ha, pa, err1 := net.SplitHostPort(a)
	hb, pb, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil || pa != pb {
		return false
	}
	return ha == hb || slices.Contains([]string{"", "0.0.0.0", "::"}, hb)
}

// Fatal receives the reason when the node must stop on its own (a failed
// log dir it could not report, or every log dir failed): the caller
// closes the node and exits, as Kafka's broker shuts down.
func (n *Node) Fatal() <-chan error { return n.fatal }

func (n *Node) fail(err error) {
	select {
	case n.fatal <- err:
	default: // one reason is enough
	}
}

// logDirFailed follows storage taking a log dir offline (KIP-858): the
// broker's partitions there go offline and the heartbeats report the dir
// to the controller. The node stops when the dir holds the metadata log
// or no log dir is left, as Kafka's broker does.
func (n *Node) logDirFailed(dir, metaDir string, ids [][16]byte, tps []storage.TopicPartition) {
	if lf, ok := n.broker.(interface {
		LogDirFailed(string, []storage.TopicPartition)
	}); ok {
		lf.LogDirFailed(dir, tps)
	}
	for i, d := range n.cfg.LogDirs {
		if d == dir {
			n.life.dirFailed(ids[i])
		}
	}
	switch {
	case filepath.Clean(dir) == filepath.Clean(metaDir):
		n.fail(fmt.Errorf("the metadata log dir %s failed", dir))
	case len(n.logManager.OfflineDirs()) == len(n.cfg.LogDirs):
		n.fail(fmt.Errorf("every log dir in %s failed", strings.Join(n.cfg.LogDirs, ",")))
	}
}

// logDirOnline follows a failed log dir coming back (a full dir with space
// again, storage/dirrecovery.go): the broker hosts its partitions again,
// and the registration is amended with the dir, which tells the controller
// its replicas there may rejoin ISRs.
func (n *Node) logDirOnline(dir string, ids [][16]byte, tps []storage.TopicPartition) {
	if lo, ok := n.broker.(interface {
		LogDirOnline(string, []storage.TopicPartition)
	}); ok {
		lo.LogDirOnline(dir, tps)
	}
	var (
		id     controller.DirectoryID
		online []controller.DirectoryID
	)
	for i, d := range n.cfg.LogDirs {
		if d == dir {
			id = ids[i]
		}
		if !n.logManager.DirOffline(d) {
			online = append(online, ids[i])
		}
	}
	n.life.dirOnline(id, online)
}

// Ready is closed once the node serves: a broker has registered, caught up
// and been unfenced; a controller-only node at once.
func (n *Node) Ready() <-chan struct{} { return n.ready }

// Addrs are the client listeners' bound addresses (none on a
// controller-only node).
func (n *Node) Addrs() []net.Addr {
	if n.broker == nil {
		return nil
	}
	return n.broker.Addrs()
}

// Broker is the broker role this node runs, or nil.
func (n *Node) Broker() Broker { return n.broker }

// Controller is this node's quorum member, or nil on a broker-only node.
func (n *Node) Controller() *controller.Controller { return n.ctrl }

// Metadata is this node's copy of the cluster metadata.
func (n *Node) Metadata() controller.Metadata {
	if n.ctrl != nil {
		return n.ctrl
	}
	return n.obs
}

// BrokerEpoch is the broker's registration epoch, or -1.
func (n *Node) BrokerEpoch() int64 {
	if n.life == nil {
		return -1
	}
	return n.life.brokerEpoch()
}

// Close shuts down in Kafka's order: a controlled shutdown first (the
// controller moves this broker's leaderships away; bounded by ctx and the
// session timeout), then stop taking requests and finish those in flight,
// stop heartbeating, stop the broker, flush and close the logs (writing
// the clean shutdown marker), then leave the quorum. A ctx that is already
// done skips the controlled shutdown and the drain.
func (n *Node) Close(ctx context.Context) error {
	n.closeOnce.Do(func() { n.closeErr = n.close(ctx) })
	return n.closeErr
}

func (n *Node) close(ctx context.Context) error {
	if n.life != nil && n.cfg.ControlledShutdownEnable && n.isReady() && ctx.Err() == nil {
		n.stopState.Store(brokerStatePendingCtrlSD)
		n.controlledShutdown(ctx)
	}
	n.stopState.Store(brokerStateShuttingDown)
	n.cancel()
	n.wg.Wait()
	if n.broker != nil {
		n.broker.Shutdown(ctx)
	}
	if n.life != nil {
		n.life.stop()
	}
	var errs []error
	if n.broker != nil {
		n.broker.Close()
	}
	if n.logManager != nil {
		// The clean shutdown files name this incarnation's broker epoch,
		// so the next one can prove the stop was clean (KIP-966).
		n.logManager.SetBrokerEpoch(n.BrokerEpoch())
		errs = append(errs, n.logManager.Close())
	}
	if n.router != nil {
		n.router.Close()
	}
	if n.obs != nil {
		errs = append(errs, n.obs.Close())
	}
	if n.ctrl != nil {
		if ctx.Err() == nil {
			n.ctrl.Resign()
		}
		errs = append(errs, n.ctrl.Close())
	}
	if n.ctrlLn != nil {
		n.ctrlLn.close()
	}
	if err := n.audit.Close(); err != nil {
		errs = append(errs, fmt.Errorf("closing the audit log: %w", err))
	}
	return errors.Join(errs...)
}

func (n *Node) isReady() bool {
	select {
	case <-n.ready:
		return true
	default:
		return false
	}
}

// controlledShutdown asks the controller to move this broker's
// leaderships away and waits until it lets the broker go, at most the
// session timeout (after that the controller would fence it anyway).
func (n *Node) controlledShutdown(ctx context.Context) {
	start := time.Now()
	n.logger.Info("beginning controlled shutdown")
	n.life.beginControlledShutdown()
	limit := time.NewTimer(time.Duration(n.cfg.BrokerSessionTimeoutMs) * time.Millisecond)
	defer limit.Stop()
	select {
	case <-n.life.shutdownDone:
		n.logger.Info("controlled shutdown complete", zap.Duration("took", time.Since(start)))
	case <-limit.C:
		n.logger.Warn("controlled shutdown did not complete within broker.session.timeout.ms; shutting down anyway")
	case <-ctx.Done():
		n.logger.Warn("controlled shutdown interrupted", zap.Error(ctx.Err()))
	}
}

// flushCheckInterval is how often the storage manager checks flush.ms and
// flushes rolled segments: log.flush.scheduler.interval.ms, but at least
// every second (Kafka's default of Long.MAX_VALUE never checks, and Spool
// flushes rolled segments on this pass).
func flushCheckInterval(schedulerMs int64) time.Duration {
	if schedulerMs <= 0 || schedulerMs >= time.Second.Milliseconds() {
		return time.Second
	}
	return time.Duration(schedulerMs) * time.Millisecond
}

// validateResourceConfig is the controller's hook for AlterConfigs and
// CreateTopics: topic configs must be known and valid.
func validateResourceConfig(cfg *config.Broker, resourceType int8, name string, merged map[string]string) error {
	switch resourceType {
	case controller.ResourceTopic:
		return config.ValidateTopicConfigs(merged)
	case controller.ResourceClientMetrics:
		// Kafka answers an unknown key or an interval out of range with
		// INVALID_REQUEST, a bad match pattern with INVALID_CONFIG.
		err := telemetry.ValidateConfig(name, merged)
		if errors.Is(err, telemetry.ErrInvalidRequest) {
			return fmt.Errorf("%w: %s", controller.ErrInvalidRequest, strings.TrimPrefix(err.Error(), telemetry.ErrInvalidRequest.Error()+": "))
		}
		if err != nil {
			return errors.New(strings.TrimPrefix(err.Error(), telemetry.ErrInvalidConfig.Error()+": "))
		}
		return nil
	case controller.ResourceGroup:
		return config.ValidateGroupConfigs(merged, cfg)
	}
	return config.ValidateBrokerDynamic(merged)
}

// controllerDialer is how this node reaches controller listeners: the
// security protocol of controller.listener.names[0], with
// sasl.mechanism.controller.protocol and the listener's own credentials
// (seclink.NewDialer).
func controllerDialer(cfg *config.Broker) (*seclink.Dialer, error) {
	if len(cfg.ControllerListenerNames) == 0 {
		return nil, nil
	}
	name := cfg.ControllerListenerNames[0]
	mech, _ := cfg.Static("sasl.mechanism.controller.protocol")
	if strings.TrimSpace(mech) == "" {
		mech = "GSSAPI" // Kafka's default; CheckProtections refuses it on a SASL controller listener
	}
	d, err := seclink.NewDialer(cfg, name, mech, "spool-node-"+strconv.Itoa(int(cfg.NodeID)))
	if err != nil {
		return nil, fmt.Errorf("controller listener %s (controller.listener.names): %w", name, err)
	}
	return d, nil
}

// secureControllerListener sets up the CONTROLLER listener's own security
// (its ssl.* and sasl.* properties as any listener's; SCRAM credentials
// from this controller's metadata, PLAIN users from its JAAS entry), who
// may use it, and how this voter dials the others.
//
// Who may use it, with an authorizer configured: an authenticated
// principal needs CLUSTER_ACTION on the cluster (super users have it),
// read from the controller's newest ACLs at connect time; an
// unauthenticated connection is served but may not send metadata writes
// (serveControllerRPCs). Without an authorizer every authenticated
// connection is served, as Kafka.
func (n *Node) secureControllerListener(ctx context.Context) error {
	cfg := n.cfg
	name := cfg.ControllerListenerNames[0]
	sec, err := seclink.NewListener(ctx, cfg, name, controllerCredentials{n}, n.logger.Named("controller-listener"))
	if err != nil {
		return fmt.Errorf("controller listener: %w", err)
	}
	n.ctrlLn.sec = sec
	n.ctrlLn.audit, n.ctrlLn.name = n.audit, name
	n.ctrlLn.dial = n.ctrlDial.DialContext
	authz, err := seclink.NewAuthorizer(cfg)
	if err != nil {
		return err
	}
	if authz == nil {
		return nil
	}
	n.ctrlLn.admit = func(p auth.Principal, host string) controllerAccess {
		if p == auth.Anonymous {
			return controllerAccess{allowed: true}
		}
		if c := n.live.Load(); c != nil {
			img := c.Image()
			authz.SetSnapshot(img.ACLs())
			if img.Offset() > 0 {
				authz.CompleteInitialLoad()
			}
		}
		ok := authz.Authorize(p, host, acl.OpClusterAction, acl.ResourceCluster, acl.ClusterName).Result == acl.Allowed
		return controllerAccess{allowed: ok, adminWrites: ok}
	}
	return nil
}

// controllerCredentials are the SCRAM credentials the CONTROLLER listener
// checks: those of this controller's newest metadata image.
type controllerCredentials struct{ n *Node }

func (c controllerCredentials) ScramCredential(m sasl.ScramMechanism, user string) (sasl.ScramCredential, bool) {
	ctrl := c.n.live.Load()
	if ctrl == nil {
		return sasl.ScramCredential{}, false
	}
	return ctrl.Image().ScramCredential(m, user)
}

// delegationTokenConfig is the controller's delegation.token.* setup.
func delegationTokenConfig(cfg *config.Broker) controller.DelegationTokenConfig {
	t := cfg.DelegationTokens()
	return controller.DelegationTokenConfig{SecretKey: t.SecretKey, MaxLifetime: t.MaxLifetime, ExpiryTime: t.ExpiryTime, CheckInterval: t.CheckInterval}
}

// leaderImbalanceCheckInterval is how often the active controller moves
// leaderships back to preferred replicas; zero when
// auto.leader.rebalance.enable is false.
func leaderImbalanceCheckInterval(cfg *config.Broker) time.Duration {
	if !cfg.AutoLeaderRebalanceEnable {
		return 0
	}
	return time.Duration(cfg.LeaderImbalanceCheckIntervalSeconds) * time.Second
}
