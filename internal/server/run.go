package server

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/replication"
	"github.com/spool-broker/spool/storage"
)

// Node is a running Spool process: controller, storage, broker and network
// server, started and stopped together (Kafka's combined mode).
type Node struct {
	log    *zap.Logger
	cfg    *config.Broker
	ctrl   *controller.Controller
	logs   *storage.Manager
	broker *Broker
	server *Server
}

// metadataDirName holds the controller's raft log inside the first log dir.
// It doesn't look like <topic>-<partition>, so storage leaves it alone.
const metadataDirName = "__cluster_metadata"

// Start brings a node up and returns once it serves clients.
func Start(ctx context.Context, cfg *config.Broker, reg prometheus.Registerer, log *zap.Logger) (*Node, error) {
	began := time.Now()
	// Before any log dir is formatted or port opened (the controller binds
	// its listener first): refuse protection Spool does not implement.
	if err := cfg.CheckProtections(); err != nil {
		return nil, err
	}
	if len(cfg.LogDirs) == 0 {
		return nil, errors.New("log.dirs is empty: set log.dirs (or KAFKA_LOG_DIRS) to where data should live")
	}
	clusterID, err := ensureMetaProperties(cfg)
	if err != nil {
		return nil, err
	}
	n := &Node{log: log, cfg: cfg}
	ok := false
	defer func() {
		if !ok {
			n.closeParts()
		}
	}()

	var voters []controller.Voter
	for _, v := range cfg.ControllerQuorumVoters {
		voters = append(voters, controller.Voter{ID: v.ID, Addr: net.JoinHostPort(v.Host, strconv.Itoa(v.Port))})
	}
	raftBind := ""
	for _, l := range cfg.Listeners {
		if slices.Contains(cfg.ControllerListenerNames, l.Name) {
			raftBind = l.Addr()
		}
	}
	metaDir := cfg.MetadataLogDir
	if metaDir == "" {
		metaDir = cfg.LogDirs[0]
	}
	n.ctrl, err = controller.Open(ctx, controller.Config{
		NodeID:                   cfg.NodeID,
		ClusterID:                clusterID,
		Dir:                      filepath.Join(metaDir, metadataDirName),
		RaftBind:                 raftBind,
		Voters:                   voters,
		Logger:                   log.Named("controller"),
		DefaultNumPartitions:     cfg.NumPartitions,
		DefaultReplicationFactor: cfg.DefaultReplicationFactor,
		BootstrapFeatures:        bootstrapFeatures,
		ValidateConfig:           validateResourceConfig,
	})
	if err != nil {
		return nil, fmt.Errorf("start controller: %w", err)
	}

	def := storageConfig(mustSettings(cfg))
	n.logs, err = storage.NewManager(storage.ManagerConfig{
		Dirs:                      cfg.LogDirs,
		Default:                   def,
		RetentionCheckInterval:    time.Duration(cfg.LogRetentionCheckIntervalMs) * time.Millisecond,
		FlushCheckInterval:        flushCheckInterval(cfg.LogFlushSchedulerIntervalMs),
		CheckpointInterval:        time.Duration(cfg.LogFlushCheckpointIntervalMs) * time.Millisecond,
		ProducerIDExpiration:      time.Duration(cfg.ProducerIDExpirationMs) * time.Millisecond,
		ProducerIDExpirationCheck: time.Duration(cfg.ProducerIDExpirationCheckIntervalMs) * time.Millisecond,
		CleanerEnable:             cfg.LogCleanerEnable,
		CleanerBackoff:            time.Duration(cfg.LogCleanerBackoffMs) * time.Millisecond,
		CleanerDedupeBufferSize:   cfg.LogCleanerDedupeBufferSize,

		HighWatermarkCheckpointInterval: time.Duration(cfg.ReplicaHighWatermarkCheckpointIntervalMs) * time.Millisecond,
	}, log.Named("storage"))
	if err != nil {
		return nil, fmt.Errorf("open log dirs: %w", err)
	}

	n.broker = newBroker(cfg, n.ctrl, n.logs, log.Named("broker"))
	n.server = NewServer(n.broker, ServerConfig{
		MaxRequestSize:  cfg.SocketRequestMaxBytes,
		GlobalInflight:  int(cfg.QueuedMaxRequests),
		IdleTimeout:     time.Duration(cfg.ConnectionsMaxIdleMs) * time.Millisecond,
		PerConnInflight: 16,
	}, reg, log.Named("server"))
	n.broker.metrics = n.server.metrics

	var listeners []Listener
	for _, l := range cfg.Listeners {
		if slices.Contains(cfg.ControllerListenerNames, l.Name) {
			continue
		}
		listeners = append(listeners, Listener{Name: l.Name, Addr: l.Addr()})
	}
	if err := n.server.Listen(listeners); err != nil {
		return nil, err
	}
	if err := n.broker.register(ctx, n.server.Addrs(), listeners); err != nil {
		return nil, err
	}
	n.broker.start()
	ok = true
	log.Info("spool is ready", zap.String("cluster_id", clusterID), zap.Int32("node_id", cfg.NodeID),
		zap.Duration("startup", time.Since(began)))
	return n, nil
}

// Addrs are the client listeners' bound addresses.
func (n *Node) Addrs() []net.Addr { return n.server.Addrs() }

// Broker exposes the broker for tests in this package.
func (n *Node) Broker() *Broker { return n.broker }

// Close shuts down in Kafka's order: stop taking requests and finish those
// in flight, stop the broker, flush and close the logs (writing the clean
// shutdown marker), then leave the quorum.
func (n *Node) Close(ctx context.Context) error {
	if n.server != nil {
		n.server.Shutdown(ctx)
	}
	return n.closeParts()
}

func (n *Node) closeParts() error {
	var errs []error
	if n.broker != nil {
		n.broker.stop()
	}
	if n.logs != nil {
		errs = append(errs, n.logs.Close())
	}
	if n.ctrl != nil {
		errs = append(errs, n.ctrl.Close())
	}
	return errors.Join(errs...)
}

// bootstrapFeatures are the feature levels a new cluster finalizes. Only
// what this build implements is turned on: group.version 1 lets 4.x
// clients use KIP-848 consumer groups; transaction.version 2 lets them use
// KIP-890 transactions. A cluster bootstrapped before keeps the level its
// metadata log finalized.
var bootstrapFeatures = map[string]int16{
	controller.MetadataVersionFeature: 27,
	"group.version":                   1,
	transactionVersionFeature:         2,
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

func mustSettings(cfg *config.Broker) config.LogSettings {
	s, _ := cfg.LogConfigForTopic(nil, config.Dynamic{})
	return s
}

// validateResourceConfig is the controller's hook for AlterConfigs and
// CreateTopics: topic configs must be known and valid.
func validateResourceConfig(resourceType int8, name string, merged map[string]string) error {
	if resourceType == controller.ResourceTopic {
		return config.ValidateTopicConfigs(merged)
	}
	return config.ValidateBrokerDynamic(merged)
}

func newBroker(cfg *config.Broker, ctrl *controller.Controller, logs *storage.Manager, log *zap.Logger) *Broker {
	b := &Broker{
		nodeID:        cfg.NodeID,
		cfg:           cfg,
		log:           log,
		ctrl:          ctrl,
		logs:          logs,
		fetchSessions: newFetchSessionCache(1000),
	}
	b.replicas = replication.NewManager(replication.Config{
		NodeID:            cfg.NodeID,
		ReplicaLagTimeMax: time.Duration(cfg.ReplicaLagTimeMaxMs) * time.Millisecond,
		AlterPartition:    localAlterPartition{ctrl},
		Brokers:           b.brokerLookup,
		BrokerEpoch: func() int64 {
			st, _ := b.brokerLookup(b.nodeID)
			return st.Epoch
		},
	}, logs, log.Named("replication"))
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.handlers = b.registerHandlers()
	b.reconcile(ctrl.Image())
	return b
}

// register announces this broker and its advertised endpoints to the
// controller. A listener bound to port 0 advertises the port it got.
func (b *Broker) register(ctx context.Context, bound []net.Addr, ls []Listener) error {
	var eps []controller.Endpoint
	for _, al := range b.cfg.AdvertisedListeners {
		if slices.Contains(b.cfg.ControllerListenerNames, al.Name) {
			continue
		}
		port := al.Port
		for i, l := range ls {
			if l.Name == al.Name && port == 0 {
				if ta, ok := bound[i].(*net.TCPAddr); ok {
					port = ta.Port
				}
			}
		}
		host := al.Host
		if host == "" || host == "0.0.0.0" || host == "::" {
			if h, err := os.Hostname(); err == nil {
				host = h
			}
		}
		eps = append(eps, controller.Endpoint{Name: al.Name, Host: host, Port: uint16(port), SecurityProtocol: securityProtocolCode(al.SecurityProtocol)})
	}
	var inc [16]byte
	_, _ = rand.Read(inc[:])
	var rack *string
	if b.cfg.BrokerRack != "" {
		rack = &b.cfg.BrokerRack
	}
	if _, err := b.ctrl.RegisterBroker(ctx, controller.BrokerRegistration{
		ID: b.nodeID, IncarnationID: inc, Endpoints: eps, Rack: rack,
	}); err != nil {
		return fmt.Errorf("register broker %d with the controller: %w", b.nodeID, err)
	}
	b.syncImage()
	return nil
}

func securityProtocolCode(p string) int16 {
	switch strings.ToUpper(p) {
	case "SSL":
		return 1
	case "SASL_PLAINTEXT":
		return 2
	case "SASL_SSL":
		return 3
	}
	return 0
}

// start follows metadata changes until stop.
func (b *Broker) start() {
	b.replicas.Start()
	ch, cancel := b.ctrl.Subscribe()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer cancel()
		for {
			select {
			case <-b.ctx.Done():
				return
			case img, ok := <-ch:
				if !ok {
					return
				}
				b.reconcile(img)
			}
		}
	}()
}

func (b *Broker) stop() {
	b.cancel()
	b.wg.Wait()
	b.replicas.Close()
}

// ensureMetaProperties reads or writes meta.properties in every log dir, as
// Kafka's storage format step does, and returns the cluster id. A dir that
// belongs to another cluster or node is refused.
func ensureMetaProperties(cfg *config.Broker) (string, error) {
	clusterID := cfg.ClusterID
	var found []string
	for _, dir := range cfg.LogDirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", fmt.Errorf("create log dir %s: %w", dir, err)
		}
		props, err := readProps(filepath.Join(dir, "meta.properties"))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("read %s: %w", filepath.Join(dir, "meta.properties"), err)
		}
		id := props["cluster.id"]
		if clusterID != "" && id != "" && id != clusterID {
			return "", fmt.Errorf("log dir %s belongs to cluster %s, not %s: point log.dirs elsewhere or unset CLUSTER_ID", dir, id, clusterID)
		}
		if nid := props["node.id"]; nid != "" && nid != strconv.Itoa(int(cfg.NodeID)) {
			return "", fmt.Errorf("log dir %s belongs to node %s, not %d: point log.dirs elsewhere or fix node.id", dir, nid, cfg.NodeID)
		}
		if id != "" {
			clusterID = id
			found = append(found, dir)
		}
	}
	if clusterID == "" {
		var u [16]byte
		_, _ = rand.Read(u[:])
		clusterID = base64.RawURLEncoding.EncodeToString(u[:])
	}
	for _, dir := range cfg.LogDirs {
		if slices.Contains(found, dir) {
			continue
		}
		var u [16]byte
		_, _ = rand.Read(u[:])
		body := fmt.Sprintf("#\n#%s\ncluster.id=%s\ndirectory.id=%s\nnode.id=%d\nversion=1\n",
			time.Now().UTC().Format(time.UnixDate), clusterID, base64.RawURLEncoding.EncodeToString(u[:]), cfg.NodeID)
		path := filepath.Join(dir, "meta.properties")
		if err := os.WriteFile(path+".tmp", []byte(body), 0o644); err != nil {
			return "", fmt.Errorf("write %s: %w", path, err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			return "", fmt.Errorf("write %s: %w", path, err)
		}
	}
	return clusterID, nil
}

func readProps(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, sc.Err()
}
